"""The data and the queries of scripts/bench_nearby.

Data (fixed seed): stores in six Chinese cities, most of them gathered around business
districts (陆家嘴, 国贸, 天河城 ...), the rest spread over the suburbs, a few sharing a
building; about 3% inactive. They are inserted straight into the database with insert_many,
with the fields ``merchant_upsert_store`` writes, then the stores' version is bumped. Deals
(2,000 by default, about 2% for all stores, the rest for a few stores of one city; some
expired, some not yet on, some inactive, with and without a daily quantity, some partly sold
today) are inserted the same way, shaped like ``merchant_create_deal``'s (a few are made
through it and their fields compared).

Queries: random points, most in the dense districts, some in the suburbs, a few in the
countryside; radii mostly the default 3 km, some 500 m, 10 km and 50 km; mostly page 1.
"""
from __future__ import annotations

import math
import os
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from benchkit import BenchFailure

SEED = 20240606

# city, centre (GCJ-02), share of the stores, business districts (dense), suburb radius km
CITIES: list[tuple[str, float, float, float, list[tuple[str, float, float]], float]] = [
    ("上海市", 31.2304, 121.4737, 0.25, [
        ("陆家嘴", 31.2397, 121.4998), ("人民广场", 31.2323, 121.4692),
        ("徐家汇", 31.1950, 121.4376), ("静安寺", 31.2235, 121.4452),
        ("五角场", 31.3005, 121.5142), ("虹桥", 31.1942, 121.3189)], 35.0),
    ("北京市", 39.9042, 116.4074, 0.22, [
        ("国贸", 39.9087, 116.4605), ("西单", 39.9075, 116.3744),
        ("中关村", 39.9834, 116.3164), ("三里屯", 39.9368, 116.4552),
        ("望京", 39.9963, 116.4704)], 35.0),
    ("广州市", 23.1291, 113.2644, 0.15, [
        ("天河城", 23.1322, 113.3268), ("北京路", 23.1255, 113.2686),
        ("珠江新城", 23.1200, 113.3228), ("上下九", 23.1168, 113.2478)], 30.0),
    ("深圳市", 22.5431, 114.0579, 0.15, [
        ("福田中心区", 22.5375, 114.0577), ("华强北", 22.5445, 114.0858),
        ("南山科技园", 22.5405, 113.9534), ("东门", 22.5464, 114.1202)], 30.0),
    ("杭州市", 30.2741, 120.1551, 0.12, [
        ("武林广场", 30.2720, 120.1619), ("湖滨", 30.2590, 120.1680),
        ("钱江新城", 30.2456, 120.2106)], 25.0),
    ("成都市", 30.5728, 104.0668, 0.11, [
        ("春熙路", 30.6552, 104.0811), ("天府广场", 30.6574, 104.0657),
        ("高新区", 30.5786, 104.0636)], 25.0),
]
DISTRICT_SHARE = 0.65        # of a city's stores, around its business districts
DISTRICT_SIGMA_KM = 1.5      # spread of a district (gaussian)
SHARED_BUILDING = 0.005      # stores at exactly another store's coordinates (ties by id)
INACTIVE_SHARE = 0.03
RADII = [(3000, 0.60), (500, 0.15), (10_000, 0.15), (50_000, 0.10)]
HOURS = ["00:00-24:00", "09:00-22:00", "08:00-21:00", "10:00-02:00", "07:00-23:00"]
TAGS = ["自提", "24小时", "外卖", "停车", "会员"]
ROADS = ["南京路", "淮海路", "中山路", "人民路", "解放路", "建设路", "和平路", "长江路"]
BRANDS = ["好邻居", "便利蜂", "全家", "罗森", "美宜佳", "见福"]
CATEGORIES = [f"cat_bench_{n}" for n in range(1, 7)]


def offset(lat: float, lng: float, north_km: float, east_km: float) -> tuple[float, float]:
    return (lat + north_km / 111.195,
            lng + east_km / (111.195 * math.cos(math.radians(lat))))


def generate_stores(rng: random.Random, count: int, now: datetime) -> list[dict[str, Any]]:
    from shared.nearby import geo
    weights = [c[3] for c in CITIES]
    stores: list[dict[str, Any]] = []
    for n in range(count):
        city, c_lat, c_lng, _, districts, suburb_km = rng.choices(CITIES, weights)[0]
        if stores and rng.random() < SHARED_BUILDING:
            other = stores[rng.randrange(len(stores))]  # a store in the same building
            lat, lng, area = other["lat"], other["lng"], "同楼"
        elif rng.random() < DISTRICT_SHARE:
            area, d_lat, d_lng = rng.choice(districts)
            lat, lng = offset(d_lat, d_lng, rng.gauss(0, DISTRICT_SIGMA_KM),
                              rng.gauss(0, DISTRICT_SIGMA_KM))
        else:
            area = "郊区"
            radius, angle = suburb_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            lat, lng = offset(c_lat, c_lng, radius * math.sin(angle), radius * math.cos(angle))
        hours = HOURS[0] if n % 7 == 0 else rng.choice(HOURS)
        stores.append({
            "_id": f"sto_bench_{n:06d}", "name": f"{rng.choice(BRANDS)}{area}{n}号店",
            "address": f"{city}{rng.choice(ROADS)}{rng.randint(1, 2000)}号",
            "lat": lat, "lng": lng, "coord_system": "gcj02",
            "geohash": geo.encode(lat, lng, 9), "phone": f"021-{rng.randint(0, 99999999):08d}",
            "hours": hours, "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
            "active": rng.random() >= INACTIVE_SHARE, "created_at": now, "updated_at": now})
    return stores


def insert_catalog(db: Any, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """Minimal products and SKUs: the fields create_deal reads (and place_order would)."""
    for n, cat in enumerate(CATEGORIES, start=1):
        db.categories.insert_one({"_id": cat, "name": f"特惠{n}", "sort": n, "icon": "",
                                  "created_at": now})
    products, skus = [], []
    for n in range(60):
        product_id = f"prd_bench_{n:03d}"
        products.append({"_id": product_id, "title": f"今日特惠商品{n}",
                         "subtitle": "", "category_id": CATEGORIES[n % len(CATEGORIES)],
                         "images": [f"https://img.test/deal{n}.png"], "status": "on_sale",
                         "created_at": now})
        skus.append({"_id": f"sku_bench_{n:03d}", "product_id": product_id,
                     "specs": {"规格": "标准"}, "price": rng.randrange(990, 19_900, 10),
                     "stock": 100_000, "locked": 0, "sold": 0, "image": None, "active": True,
                     "created_at": now})
    db.products.insert_many(products)
    db.skus.insert_many(skus)
    return [{**sku, "product": product} for sku, product in zip(skus, products)]


def generate_deals(rng: random.Random, count: int, stores: list[dict[str, Any]],
                   skus: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Documents as ``create_deal`` writes them (checked against real ones in make_real_deals)."""
    by_city: dict[str, list[str]] = {}
    for store in stores:
        by_city.setdefault(store["address"][:3], []).append(store["_id"])
    cities = list(by_city)
    deals = []
    for n in range(count):
        sku = rng.choice(skus)
        product = sku["product"]
        all_stores = rng.random() < 0.02
        city_stores = by_city[rng.choice(cities)]
        store_ids = [] if all_stores else sorted(set(
            rng.sample(city_stores, min(len(city_stores), rng.choice([1, 1, 2, 3, 5, 8, 20])))))
        roll = rng.random()
        if roll < 0.05:    # over
            starts, ends = now - timedelta(days=10), now - timedelta(hours=rng.uniform(1, 48))
        elif roll < 0.10:  # not yet on
            starts, ends = now + timedelta(hours=rng.uniform(1, 48)), now + timedelta(days=10)
        else:
            starts = now - timedelta(hours=rng.uniform(1, 120))
            ends = now + timedelta(hours=rng.uniform(2, 720))
        price = sku["price"]
        deals.append({
            "_id": f"deal_bench_{n:05d}", "all_stores": all_stores, "store_ids": store_ids,
            "sku_id": sku["_id"], "product_id": product["_id"], "title": product["title"],
            "image": sku.get("image") or (product.get("images") or [""])[0],
            "category_id": product["category_id"],
            "deal_price": rng.randrange(max(1, price // 5), price),
            "original_price": price, "starts_at": starts, "ends_at": ends,
            "daily_quantity": None if rng.random() < 0.4 else rng.choice([10, 50, 100, 500]),
            "kind": rng.choice(["featured", "today_special"]),
            "active": rng.random() >= 0.03, "created_at": now})
    return deals


def make_real_deals(stores: list[dict[str, Any]], skus: list[dict[str, Any]],
                    sample: dict[str, Any], rng: random.Random) -> list[str]:
    """A few deals through merchant_create_deal; their documents have the generated shape."""
    from shared.core.db import get_db
    from shared.core.dispatch import Credentials, dispatch
    db = get_db()
    made = []
    active = [s["_id"] for s in stores if s["active"]]
    for n in range(3):
        sku = skus[n]
        now = datetime.now(timezone.utc)
        outcome = dispatch("merchant_create_deal", {
            "store_ids": "all" if n == 0 else rng.sample(active, min(len(active), 3)),
            "sku_id": sku["_id"], "deal_price": sku["price"] - 100,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "daily_quantity": None if n == 1 else 30,
            "kind": "featured" if n % 2 else "today_special"},
            Credentials(bearer=os.environ["MERCHANT_TOKEN"]))
        if not outcome.envelope["ok"]:
            raise BenchFailure(f"merchant_create_deal failed: {outcome.envelope}")
        made.append(outcome.envelope["data"]["id"])
    for deal_id in made:
        doc = db.deals.find_one({"_id": deal_id})
        if set(doc) != set(sample):
            raise BenchFailure("generated deals are not shaped like create_deal's: "
                               f"{sorted(set(doc) ^ set(sample))}")
    return made


def insert_data(db: Any, store_count: int, deal_count: int, seed: int) \
        -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int], dict[str, Any]]:
    from shared.nearby.deals import local_day
    from shared.nearby.spatial import bump_deals_version, bump_stores_version
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    stores = generate_stores(rng, store_count, now)
    generated = time.perf_counter()
    for start in range(0, len(stores), 10_000):
        # copies: the documents kept for the brute force stay exactly as generated
        db.stores.insert_many([dict(s) for s in stores[start:start + 10_000]])
    inserted = time.perf_counter()
    skus = insert_catalog(db, rng, now)
    deals = generate_deals(rng, deal_count, stores, skus, now)
    if deals:
        db.deals.insert_many([dict(d) for d in deals])
    day = local_day(now)
    sold: dict[str, int] = {}
    for deal in deals:
        if deal["daily_quantity"] is not None and rng.random() < 0.4:
            sold[f"{deal['_id']}:{day}"] = rng.randint(0, deal["daily_quantity"])
    if sold:
        db.deal_daily.insert_many([{"_id": key, "deal_id": key.split(":")[0], "sold": value}
                                   for key, value in sold.items()])
    real = make_real_deals(stores, skus, deals[0] if deals else {}, rng) if deals else []
    for doc in db.deals.find({"_id": {"$in": real}}):
        deals.append(doc)
    # written straight to the database: say so, as merchant_upsert_store / create_deal do
    bump_stores_version(db)
    bump_deals_version(db)
    timing = {"generate_s": generated - started, "insert_stores_s": inserted - generated,
              "stores_per_s_inserted": len(stores) / max(inserted - generated, 1e-9),
              "deals_and_catalog_s": time.perf_counter() - inserted}
    return stores, deals, sold, timing


def generate_queries(rng: random.Random, count: int) -> list[dict[str, Any]]:
    weights = [c[3] for c in CITIES]
    radii, radius_weights = zip(*RADII)
    queries = []
    for _ in range(count):
        _, c_lat, c_lng, _, districts, suburb_km = rng.choices(CITIES, weights)[0]
        roll = rng.random()
        if roll < 0.80:
            _, d_lat, d_lng = rng.choice(districts)
            lat, lng = offset(d_lat, d_lng, rng.gauss(0, DISTRICT_SIGMA_KM),
                              rng.gauss(0, DISTRICT_SIGMA_KM))
        elif roll < 0.95:
            radius, angle = suburb_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            lat, lng = offset(c_lat, c_lng, radius * math.sin(angle), radius * math.cos(angle))
        else:  # the countryside: few stores or none
            lat, lng = rng.uniform(25.0, 42.0), rng.uniform(100.0, 118.0)
        query: dict[str, Any] = {"lat": round(lat, 6), "lng": round(lng, 6),
                                 "radius_m": rng.choices(radii, radius_weights)[0]}
        if rng.random() < 0.10:
            query["page"] = rng.choice([2, 3])
        queries.append(query)
    return queries


def deal_filters(rng: random.Random, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for query in queries:
        query = dict(query)
        roll = rng.random()
        if roll < 0.15:
            query["kind"] = "featured"
        elif roll < 0.30:
            query["kind"] = "today_special"
        elif roll < 0.40:
            query["category_id"] = rng.choice(CATEGORIES)
        out.append(query)
    return out
