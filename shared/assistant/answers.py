"""The assistant's answers, one per intent, each built only from the shop's own facts: the
index (products, FAQ), live stock and campaigns, and the caller's own orders (never another's:
every order query carries the caller's id, and an anonymous caller gets none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional

from shared.assistant.index import AssistantIndex, ProductEntry
from shared.assistant.intent import Reading
from shared.assistant.text import Filters
from shared.core.context import Context
from shared.orders.lifecycle import VISIBLE_STATUSES

RELATIVE_CUTOFF = 0.35     # products scoring under this share of the best one are not shown
SHOWN = 3
STATUS_ZH = {"pending_payment": "待付款", "paid": "已付款，待发货", "shipped": "已发货",
             "completed": "已完成", "cancelled": "已取消", "refunding": "退款中",
             "refunded": "已退款"}
SPECIFIC_AFTER_SALE = re.compile(r"多久|几天|什么时候|到账|破损|坏|烂|质量|漏|发错|错发|少发|变质|"
                                 r"不新鲜")
AFTER_SALE_PAGE = "/packages/order/pages/aftersale/aftersale?order_id={order_id}"
SUGGESTIONS: dict[str, list[str]] = {
    "product_search": ["还有别的颜色吗", "有什么优惠", "推荐几款热销的"],
    "product_question": ["有什么优惠", "怎么退货", "多久发货"],
    "order_status": ["怎么退货", "多久能到", "转人工"],
    "after_sale": ["我的订单到哪了", "退款多久到账", "转人工"],
    "promotion": ["推荐几款热销的", "运费怎么算", "积分怎么用"],
    "recommend": ["有什么优惠", "100元以内的零食", "运费怎么算"],
    "faq": ["我的订单到哪了", "有什么优惠", "转人工"],
    "handoff": ["我的订单到哪了", "怎么退货"],
    "other": ["有什么优惠", "我的订单到哪了", "怎么退货", "转人工"],
}


@dataclass
class Answer:
    intent: str
    answer: str
    products: list[dict[str, Any]] = field(default_factory=list)
    faq_id: Optional[str] = None
    orders: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False
    context_product: Optional[str] = None
    # what the answer was built from: the LLM may phrase these and nothing else
    facts: list[str] = field(default_factory=list)


def yuan(fen: int) -> str:
    text = f"{fen / 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}元"


def card(entry: ProductEntry, filters: Optional[Filters] = None) -> dict[str, Any]:
    """A product card; its price the lowest of the SKUs within the price asked for."""
    fitting = [p for p in entry.prices if filters is None or _price_fits(p, filters)]
    return {"id": entry.id, "title": entry.title, "price": min(fitting or [entry.price]),
            "image": entry.image}


def _price_fits(price: int, filters: Filters) -> bool:
    return (filters.price_max is None or price <= filters.price_max) and \
        (filters.price_min is None or price >= filters.price_min)


def _price_text(entry: ProductEntry) -> str:
    if entry.price == entry.price_max:
        return yuan(entry.price)
    return f"{yuan(entry.price)}起"


def _passes(entry: ProductEntry, filters: Filters) -> bool:
    if not any(_price_fits(p, filters) for p in entry.prices or [entry.price]):
        return False
    if filters.category_id and entry.category_id != filters.category_id:
        return False
    return all(any(s in v for v in entry.spec_values) for s in filters.specs)


def search(index: AssistantIndex, reading: Reading, filters: Filters,
           has_terms: bool) -> Answer:
    ranked = [(e, s) for e, s in reading.products]
    if ranked:
        best = ranked[0][1]
        ranked = [(e, s) for e, s in ranked if s >= best * RELATIVE_CUTOFF]
    matches = [e for e, _ in ranked if _passes(e, filters)]
    if not has_terms and not filters.is_empty:
        # only a price, colour or category was said: everything that fits, cheapest first
        matches = sorted((e for e in index.products if _passes(e, filters)),
                         key=lambda e: e.price)
    if matches:
        shown = [card(e, filters) for e in matches[:SHOWN]]
        facts = [f"{c['title']} {yuan(c['price'])}" for c in shown]
        return Answer("product_search", f"为您找到{len(matches)}款：{'；'.join(facts)}。"
                      "点击卡片查看详情。", shown, context_product=shown[0]["id"], facts=facts)
    if ranked:
        near = [e for e, _ in ranked[:SHOWN]]
        return Answer("product_search", "没有完全符合条件的商品，看看这些相近的："
                      + "；".join(f"{e.title} {_price_text(e)}" for e in near) + "。",
                      [card(e) for e in near], context_product=near[0].id,
                      facts=[f"{e.title} {_price_text(e)}" for e in near])
    return Answer("product_search",
                  "抱歉，店里暂时没有找到符合的商品，换个说法试试，或转人工帮您看看。")


def product_question(ctx: Context, entry: ProductEntry, filters: Filters, text: str) -> Answer:
    skus = list(ctx.db.skus.find({"product_id": entry.id, "active": True},
                                 {"specs": 1, "price": 1, "stock": 1}).sort([("price", 1)]))
    in_stock = [s for s in skus if s.get("stock", 0) > 0]
    specs = ["/".join((s.get("specs") or {}).values()) or "默认" for s in skus]
    facts = [f"{entry.title} {'/'.join(specs)} " + "、".join(
        f"{'/'.join((s.get('specs') or {}).values())} {yuan(s['price'])} "
        f"{'有货' if s.get('stock', 0) > 0 else '缺货'}" for s in skus)]
    if filters.specs:
        wanted = [s for s in skus if all(any(f in v for v in (s.get("specs") or {}).values())
                                         for f in filters.specs)]
        if not wanted:
            answer = (f"{entry.title}没有{'、'.join(filters.specs)}色款，现有："
                      f"{'、'.join(specs)}。")
        else:
            sku = wanted[0]
            state = "有货" if sku.get("stock", 0) > 0 else "暂时缺货"
            answer = (f"{entry.title}（{'/'.join((sku.get('specs') or {}).values())}）"
                      f"{yuan(sku['price'])}，{state}。")
    elif any(word in text for word in ("货", "库存", "卖完", "售罄", "还有")):
        answer = (f"{entry.title}目前有货，{len(in_stock)}个规格可选。" if in_stock
                  else f"{entry.title}暂时缺货，补货后可以再来看看。")
    else:
        prices = sorted({s["price"] for s in skus}) or [entry.price]
        price = yuan(prices[0]) if len(prices) == 1 else f"{yuan(prices[0])}-{yuan(prices[-1])}"
        answer = (f"{entry.title}：{price}，规格：{'、'.join(specs)}，"
                  f"{'有货' if in_stock else '暂时缺货'}。")
    return Answer("product_question", answer, [card(entry)], context_product=entry.id,
                  facts=facts)


def _order_line(doc: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"id": doc["_id"], "status": doc["status"]}
    shipment = doc.get("shipment") or {}
    if doc["status"] in ("shipped", "completed") and shipment.get("tracking_no"):
        line.update(tracking_no=shipment["tracking_no"], carrier=shipment.get("carrier"))
    return line


def _own_orders(ctx: Context, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    # the caller's id is in every query: no other shopper's order can come back
    return list(ctx.db.orders.find({"user_id": ctx.shopper_id, **query},
                                   {"status": 1, "shipment": 1, "items.title": 1,
                                    "created_at": 1, "completed_at": 1, "hold_shipping": 1})
                .sort([("created_at", -1), ("_id", -1)]).limit(limit))


def order_status(ctx: Context) -> Answer:
    if ctx.user_id is None:
        return Answer("order_status", "请先登录，登录后我可以帮您查询订单和物流。")
    docs = _own_orders(ctx, {"status": {"$in": VISIBLE_STATUSES}}, 3)
    if not docs:
        return Answer("order_status", "您还没有订单哦，去逛逛吧。")
    parts = []
    for doc in docs:
        title = ((doc.get("items") or [{}])[0]).get("title", "")
        text = f"{title}：{STATUS_ZH.get(doc['status'], doc['status'])}"
        shipment = doc.get("shipment") or {}
        if doc["status"] in ("shipped", "completed") and shipment.get("tracking_no"):
            text += f"（{shipment.get('carrier', '')} {shipment['tracking_no']}）"
        parts.append(text)
    return Answer("order_status", "您最近的订单：" + "；".join(parts) + "。",
                  orders=[_order_line(d) for d in docs], facts=parts)


def after_sale(ctx: Context, index: AssistantIndex, reading: Reading, text: str) -> Answer:
    # the FAQ the question matches when it asks when the money comes or about damage; else
    # the shop's return policy (its FAQ about 退货)
    faq = reading.faq if reading.faq_strength >= 0.3 else None
    if faq is None or not SPECIFIC_AFTER_SALE.search(text):
        policy = [f for f in index.faqs if "退货" in f.question or "退货" in f.keywords]
        faq = policy[0] if policy else faq
    answer = faq.answer if faq else "签收后可在订单详情点「申请售后」。"
    orders: list[dict[str, Any]] = []
    if ctx.user_id is not None:
        closes = ctx.now - timedelta(days=ctx.settings.RETURN_WINDOW_DAYS)
        for doc in _own_orders(ctx, {"status": {"$in": ["paid", "shipped", "completed"]}}, 10):
            if doc.get("hold_shipping"):
                continue
            if doc["status"] == "completed" and (doc.get("completed_at") or ctx.now) < closes:
                continue
            orders.append({**_order_line(doc),
                           "page": AFTER_SALE_PAGE.format(order_id=doc["_id"])})
        if orders:
            answer += f" 您有{len(orders)}个订单还可以申请售后，点击订单即可发起。"
    return Answer("after_sale", answer, faq_id=faq.id if faq else None, orders=orders[:3],
                  facts=[answer])


def promotion(ctx: Context, index: AssistantIndex, location: Optional[tuple[float, float]]) \
        -> Answer:
    now = ctx.now
    coupons = list(ctx.db.coupons.find(
        {"status": "active", "remaining": {"$gt": 0}},
        {"name": 1, "valid_to": 1}).sort([("created_at", -1)]).limit(5))
    coupons = [c for c in coupons if c.get("valid_to") is None or c["valid_to"] > now]
    live = {"status": "active", "starts_at": {"$lte": now}, "ends_at": {"$gt": now}}
    groups = list(ctx.db.group_buys.find(live, {"product_id": 1, "sku_prices": 1}).limit(3))
    bargains = list(ctx.db.bargain_campaigns.find(live, {"product_id": 1, "title": 1,
                                                         "floor_price": 1}).limit(3))
    parts, products = [], []
    if coupons:
        parts.append("可领优惠券：" + "、".join(c["name"] for c in coupons))
    for group in groups:
        entry = index.product(group.get("product_id", ""))
        if entry:
            price = min((group.get("sku_prices") or {}).values(), default=entry.price)
            parts.append(f"{entry.title}拼团价{yuan(price)}")
            products.append(card(entry))
    for bargain in bargains:
        entry = index.product(bargain.get("product_id", ""))
        if entry:
            parts.append(f"{entry.title}砍价最低{yuan(bargain['floor_price'])}")
            products.append(card(entry))
    if location is not None:
        from shared.nearby.deals import NearbyDealsInput, nearby_deals
        deals = nearby_deals(ctx, NearbyDealsInput(lat=location[0], lng=location[1],
                                                   page_size=3))["items"]
        for deal in deals:
            parts.append(f"附近门店特价：{deal['title']} {yuan(deal['deal_price'])}")
    if not parts:
        return Answer("promotion", "目前没有进行中的优惠活动，可以关注店铺，有活动第一时间通知您。")
    return Answer("promotion", "；".join(parts) + "。", products[:SHOWN], facts=parts)


def recommend(ctx: Context, index: AssistantIndex, filters: Filters) -> Answer:
    """A signed-in shopper gets the recommendation model's 猜你喜欢 (shared.reco), within the
    question's filters; anyone else, or a model with nothing that fits, the best sellers."""
    entries = _for_you(ctx, index, filters) if ctx.user_id is not None else []
    heading = "根据您买过和看过的，推荐"
    if not entries:
        entries = _best_sellers(ctx, index, filters)
        heading = "店里卖得最好的"
    if not entries:
        return Answer("recommend", "暂时没有可推荐的商品。")
    lines = "；".join(f"{e.title} {_price_text(e)}" for e in entries)
    return Answer("recommend", f"{heading}：{lines}。", [card(e) for e in entries],
                  context_product=entries[0].id, facts=lines.split("；"))


def _for_you(ctx: Context, index: AssistantIndex, filters: Filters) -> list[ProductEntry]:
    from shared.reco.serving import RecommendInput, recommend_for_user
    answer = recommend_for_user(ctx, RecommendInput(context="home", page_size=SHOWN * 5))
    if answer["model_version"] in ("none", "popular"):
        return []   # no model yet (or the A/B control): the best sellers below say it plainly
    found = (index.product(item["product"]["id"]) for item in answer["items"])
    return [e for e in found if e is not None and _passes(e, filters)][:SHOWN]


def _best_sellers(ctx: Context, index: AssistantIndex, filters: Filters) -> list[ProductEntry]:
    query: dict[str, Any] = {"status": "on_sale"}
    if filters.category_id:
        query["category_id"] = filters.category_id
    docs = list(ctx.db.products.find(query, {"_id": 1}).sort([("sales", -1), ("_id", 1)])
                .limit(SHOWN * 3))
    return [e for e in (index.product(d["_id"]) for d in docs)
            if e is not None and _passes(e, filters)][:SHOWN]
