"""Demo data for the dev gateway: categories, 30 products with SKUs and images, stores, a coupon.

Fixed ids make seeding idempotent: running it again changes nothing a shopper made.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from shared.demo.faq import seed_faq

CATEGORIES = [
    ("cat_fruit", "水果生鲜", 10),
    ("cat_snack", "休闲零食", 20),
    ("cat_tea", "茶饮冲调", 30),
    ("cat_home", "家居日用", 40),
]

# (category, title, subtitle, [(specs, price in fen, stock)])
PRODUCTS: list[tuple[str, str, str, list[tuple[dict[str, str], int, int]]]] = [
    ("cat_fruit", "赣南脐橙", "果园直发 甜度13+", [({"规格": "5斤装"}, 3990, 200), ({"规格": "10斤装"}, 6990, 120)]),
    ("cat_fruit", "丹东红颜草莓", "现摘现发 冷链到家", [({"规格": "2斤"}, 8900, 60)]),
    ("cat_fruit", "海南金煌芒", "大果 香甜多汁", [({"规格": "5斤"}, 4590, 150)]),
    ("cat_fruit", "阳光玫瑰青提", "无籽脆甜", [({"规格": "2串"}, 5990, 80), ({"规格": "4串"}, 10990, 40)]),
    ("cat_fruit", "烟台红富士苹果", "脆甜多汁 产地直供", [({"规格": "8个装"}, 3290, 300)]),
    ("cat_fruit", "云南蓝莓", "大果 125g×4盒", [({"规格": "4盒"}, 6900, 90)]),
    ("cat_fruit", "泰国金枕榴莲", "整果 3-4斤", [({"规格": "1个"}, 15900, 30)]),
    ("cat_fruit", "新疆阿克苏冰糖心苹果", "冰糖心 脆甜", [({"规格": "5斤"}, 4990, 160)]),
    ("cat_snack", "每日坚果", "7种坚果果干 独立小包", [({"口味": "原味", "规格": "30袋"}, 8990, 500), ({"口味": "原味", "规格": "15袋"}, 4990, 400)]),
    ("cat_snack", "手撕牛肉干", "内蒙古风干 高蛋白", [({"口味": "原味"}, 5900, 200), ({"口味": "香辣"}, 5900, 200)]),
    ("cat_snack", "芝士夹心饼干", "酥脆可口 办公室零食", [({"规格": "500g"}, 1990, 600)]),
    ("cat_snack", "海苔脆片", "儿童零食 非油炸", [({"规格": "10包"}, 2490, 350)]),
    ("cat_snack", "黑巧克力 85%", "进口可可 低糖", [({"规格": "100g×3"}, 3990, 240)]),
    ("cat_snack", "蛋黄酥", "流心咸蛋黄 6枚", [({"规格": "6枚"}, 2990, 180)]),
    ("cat_snack", "原味薯片", "大包装 家庭分享", [({"规格": "150g×4"}, 2590, 420)]),
    ("cat_snack", "猪肉脯", "靖江特产 蜜汁", [({"规格": "500g"}, 4490, 150)]),
    ("cat_tea", "西湖龙井", "明前特级 250g", [({"等级": "特级"}, 29800, 50), ({"等级": "一级"}, 16800, 80)]),
    ("cat_tea", "云南普洱熟茶饼", "勐海 357g", [({"年份": "2019"}, 12800, 60)]),
    ("cat_tea", "挂耳咖啡", "中深烘焙 10g×20包", [({"风味": "经典"}, 5900, 300), ({"风味": "果香"}, 6500, 200)]),
    ("cat_tea", "冻干柠檬片", "泡水 独立包装", [({"规格": "30包"}, 2990, 400)]),
    ("cat_tea", "红枣枸杞茶", "养生茶 便携装", [({"规格": "20包"}, 3590, 260)]),
    ("cat_tea", "燕麦奶", "咖啡大师 1L×6", [({"规格": "6盒"}, 8900, 120)]),
    ("cat_tea", "武夷山大红袍", "岩茶 礼盒装", [({"规格": "250g"}, 19800, 40)]),
    ("cat_home", "竹纤维抽纸", "4层加厚 24包", [({"规格": "24包"}, 4990, 500)]),
    ("cat_home", "洗衣凝珠", "持久留香 52颗", [({"香型": "樱花"}, 3990, 300), ({"香型": "海洋"}, 3990, 300)]),
    ("cat_home", "不锈钢保温杯", "316不锈钢 500ml", [({"颜色": "白"}, 8900, 150), ({"颜色": "黑"}, 8900, 150), ({"颜色": "绿"}, 8900, 100)]),
    ("cat_home", "厨房湿巾", "去油污 80抽×3", [({"规格": "3包"}, 2290, 300)]),
    ("cat_home", "乳胶枕", "泰国天然乳胶", [({"规格": "标准款"}, 15900, 70)]),
    ("cat_home", "香薰蜡烛", "大豆蜡 无烟", [({"香型": "雪松"}, 6900, 90), ({"香型": "白茶"}, 6900, 90)]),
    ("cat_home", "收纳箱", "可折叠 3个装", [({"尺寸": "大号"}, 7900, 120), ({"尺寸": "中号"}, 5900, 160)]),
]
# 限购 of the scarce ones (see README, Fair stock)
PURCHASE_LIMITS: dict[str, dict[str, int]] = {
    "prd_007": {"per_order": 2, "per_shopper_per_day": 2},           # 榴莲, 30 in stock
    "prd_017": {"per_shopper_per_campaign": 3},                      # 龙井 特级
}

# (id, name, address, lng, lat) in GCJ-02 around Shanghai's Lujiazui
STORES = [
    ("sto_lujiazui", "陆家嘴旗舰店", "上海市浦东新区陆家嘴环路1000号", 121.50245, 31.23959),
    ("sto_century", "世纪大道店", "上海市浦东新区世纪大道1192号", 121.52520, 31.22880),
    ("sto_bund", "外滩店", "上海市黄浦区中山东一路18号", 121.49135, 31.24098),
    ("sto_people", "人民广场店", "上海市黄浦区南京西路2号", 121.47370, 31.23290),
    ("sto_xujiahui", "徐家汇店", "上海市徐汇区虹桥路1号", 121.43727, 31.19497),
]

DISTRICTS = ["陆家嘴", "世纪大道", "东昌路", "浦东南路", "张杨路", "源深路", "商城路", "峨山路", "潍坊路"]


def generated_stores(count: int = 45) -> list[tuple[str, str, str, float, float]]:
    """Stores spread over ~4 km around Lujiazui, the same every time (a fixed seed)."""
    import random
    rng = random.Random(20261125)
    stores = []
    for n in range(1, count + 1):
        district = DISTRICTS[n % len(DISTRICTS)]
        lng = 121.5025 + rng.uniform(-0.04, 0.04)
        lat = 31.2380 + rng.uniform(-0.035, 0.035)
        stores.append((f"sto_{n:03d}", f"{district}{n}号店", f"上海市浦东新区{district}{100 + n}号",
                       round(lng, 6), round(lat, 6)))
    return stores


# (id, sku, deal price in fen, kind, stores: "all" or indexes into the store list, daily quantity)
# (deal id, sku, price, kind, stores: "all" or indexes into the stores, daily quantity)
DEALS: list[tuple[str, str, int, str, Union[str, list[int]], Optional[int]]] = [
    ("deal_001", "sku_001_1", 2990, "today_special", "all", 50),
    ("deal_002", "sku_002_1", 6900, "featured", [0, 1, 2], 20),
    ("deal_003", "sku_009_1", 6990, "featured", "all", None),
    ("deal_004", "sku_011_1", 1290, "today_special", [3, 4, 5, 6], 100),
    ("deal_005", "sku_017_2", 12800, "featured", [0, 7], 10),
    ("deal_006", "sku_019_1", 3990, "today_special", [8, 9, 10, 11, 12], 60),
    ("deal_007", "sku_024_1", 3590, "featured", "all", None),
    ("deal_008", "sku_026_1", 5900, "today_special", [13, 14, 15], 30),
    ("deal_009", "sku_005_1", 2490, "today_special", [16, 17, 18, 19, 20], 80),
    ("deal_010", "sku_013_1", 2990, "featured", [21, 22, 23], 40),
]

COLORS = ["#f97316", "#ef4444", "#22c55e", "#0ea5e9", "#a855f7", "#eab308"]


def image_url(media_base: str, index: int) -> str:
    return f"{media_base.rstrip('/')}/p{index:03d}.svg"


def placeholder_svg(name: str) -> str:
    """A small coloured square with the product number: dev images that need no download."""
    digits = "".join(c for c in name if c.isdigit()) or "0"
    color = COLORS[int(digits) % len(COLORS)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600">'
            f'<rect width="600" height="600" fill="{color}"/>'
            f'<text x="300" y="330" font-size="96" text-anchor="middle" fill="#fff">'
            f'#{digits}</text></svg>')


def seed(db: Any, media_base: str = "http://127.0.0.1:8080/media",
         now: datetime | None = None) -> dict[str, int]:
    from shared.catalog.products import index_tokens
    now = now or datetime.now(timezone.utc)
    for cat_id, name, sort in CATEGORIES:
        db.categories.update_one({"_id": cat_id}, {"$setOnInsert": {
            "name": name, "sort": sort, "icon": "", "created_at": now}}, upsert=True)
    for index, (cat_id, title, subtitle, skus) in enumerate(PRODUCTS, start=1):
        product_id = f"prd_{index:03d}"
        created = now - timedelta(hours=index)
        for n, (specs, price, stock) in enumerate(skus, start=1):
            db.skus.update_one({"_id": f"sku_{index:03d}_{n}"}, {"$setOnInsert": {
                "product_id": product_id, "specs": specs, "price": price, "stock": stock,
                "locked": 0, "sold": 0, "image": None, "active": True, "created_at": created}},
                upsert=True)
        prices = [price for _, price, _ in skus]
        db.products.update_one({"_id": product_id}, {"$setOnInsert": {
            "title": title, "subtitle": subtitle, "category_id": cat_id,
            "images": [image_url(media_base, index)],
            "description": f"{title}：{subtitle}。", "status": "on_sale",
            "price_min": min(prices), "price_max": max(prices), "sales": (index * 37) % 500,
            "tokens": index_tokens(f"{title} {subtitle}"),
            "purchase_limit": PURCHASE_LIMITS.get(product_id), "created_at": created}},
            upsert=True)
    from shared.catalog.products import bump_catalog_version
    bump_catalog_version(db)
    seed_faq(db, now)
    from shared.nearby.geo import encode
    from shared.nearby.spatial import bump_deals_version, bump_stores_version
    stores = STORES + generated_stores()
    for n, (store_id, name, address, lng, lat) in enumerate(stores):
        db.stores.update_one({"_id": store_id}, {"$setOnInsert": {
            "name": name, "address": address, "lng": lng, "lat": lat, "coord_system": "gcj02",
            "geohash": encode(lat, lng, 9), "phone": "021-60000000",
            "hours": "00:00-24:00" if n % 7 == 0 else "09:00-22:00",
            "tags": ["自提"] + (["24小时"] if n % 7 == 0 else []), "active": True,
            "created_at": now}}, upsert=True)
    _seed_deals(db, [s[0] for s in stores], now)
    # after both writes, so no warm index is built from stores without their deals
    bump_stores_version(db)
    bump_deals_version(db)
    db.coupons.update_one({"_id": "cpn_welcome"}, {"$setOnInsert": {
        "name": "新人满99减10", "kind": "fixed", "amount": 1000, "percent": None, "cap": None,
        "threshold": 9900, "total": 10000, "claimed": 0, "remaining": 10000,
        "per_user_limit": 1, "valid_days": 30, "valid_from": None, "valid_to": None,
        "status": "active", "created_at": now}}, upsert=True)
    campaigns = _seed_social(db, now)
    # the mini-program's home page runs this A/B test: a grid of cards, or one row each
    db.experiments.update_one({"_id": "home_layout"}, {"$setOnInsert": {
        "metric": "order_paid", "variants": [{"name": "grid", "weight": 1},
                                             {"name": "list", "weight": 1}],
        "starts_at": None, "ends_at": None, "created_at": now}}, upsert=True)
    return {"categories": len(CATEGORIES), "products": len(PRODUCTS),
            "skus": sum(len(p[3]) for p in PRODUCTS), "stores": len(stores),
            "deals": len(DEALS), "coupons": 1, "social_campaigns": campaigns,
            "experiments": 1}


def _seed_social(db: Any, now: datetime) -> int:
    """One group-buy, one bargain and one friend assist, made the way a merchant makes them."""
    if db.group_buys.count_documents({}, limit=1):
        return 0
    from shared.core.config import get_settings
    from shared.core.context import Context
    from shared.social import assist, bargain, groupbuy
    ctx = Context(db=db, settings=get_settings(), now=now, request_id="seed")
    window = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=30)}
    groupbuy.create_group_buy(ctx, groupbuy.CreateGroupBuyInput(
        product_id="prd_003", sku_prices=[{"sku_id": "sku_003_1", "group_price": 3590}],
        team_size=2, team_ttl_minutes=60, stock_limit=500, per_user_limit=5, **window))
    bargain.create_bargain(ctx, bargain.CreateBargainInput(
        sku_id="sku_017_2", start_price=16800, floor_price=9900, helpers_needed=5,
        ttl_minutes=24 * 60, stock_limit=100, **window))
    assist.create_assist(ctx, assist.CreateAssistInput(
        reward={"kind": "coupon", "coupon_id": "cpn_welcome"}, assists_needed=3,
        ttl_minutes=24 * 60, reward_limit=1000, **window))
    return 3


def _seed_deals(db: Any, store_ids: list[str], now: datetime) -> None:
    for deal_id, sku_id, price, kind, where, daily in DEALS:
        sku = db.skus.find_one({"_id": sku_id})
        product = db.products.find_one({"_id": sku["product_id"]})
        db.deals.update_one({"_id": deal_id}, {"$setOnInsert": {
            "all_stores": where == "all",
            "store_ids": [] if isinstance(where, str) else [store_ids[i] for i in where],
            "sku_id": sku_id, "product_id": product["_id"], "title": product["title"],
            "image": (product.get("images") or [""])[0], "category_id": product["category_id"],
            "deal_price": price, "original_price": sku["price"],
            "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=30),
            "daily_quantity": daily, "kind": kind, "active": True, "created_at": now}},
            upsert=True)
