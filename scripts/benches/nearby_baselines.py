"""The baselines of scripts/bench_nearby: the brute force, every store (and deal) checked on
every query, from a list in memory (``BruteForce``: the baseline of measures 1 and 2) or read
from the database each time (``DatabaseScan``):

3. The same two brute forces reading every store (and deal) from the database on every
   query, on a few queries: what the naive implementation costs. On the embedded database
   most of that is mongomock's cursor, which copies its remaining results at every document
   it yields (reading 100,000 documents takes ~20 s, O(n^2)).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable

from benchkit import BenchFailure

STORE_FIELDS = {"name": 1, "address": 1, "lat": 1, "lng": 1, "phone": 1, "hours": 1,
                "tags": 1, "active": 1}


class BruteForce:
    """Every store (and deal) checked on every query, from memory or from the database.

    The distance is geo.haversine_m's formula inlined (the same arithmetic, so the same
    floats): the honest scan, without a function call per store."""

    def __init__(self, stores: list[dict[str, Any]], deals: list[dict[str, Any]],
                 sold: dict[str, int]) -> None:
        self.stores = self.store_tuples(stores)
        self.deals = deals
        self.sold = sold

    @staticmethod
    def store_tuples(docs: Any) -> list[tuple[Any, ...]]:
        return [(d["_id"], d["lat"], d["lng"], d) for d in docs if d.get("active", True)]

    @staticmethod
    def scan(stores: list[tuple[Any, ...]], lat: float, lng: float,
             radius_m: float) -> list[tuple[float, str, dict[str, Any]]]:
        from shared.nearby.geo import EARTH_RADIUS_M
        radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
        p1 = radians(lat)
        cos_p1 = cos(p1)
        found = []
        for store_id, s_lat, s_lng, doc in stores:
            p2 = radians(s_lat)
            a = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos(p2) * sin(radians(s_lng - lng) / 2) ** 2
            distance = 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))
            if distance <= radius_m:
                found.append((distance, store_id, doc))
        found.sort(key=lambda r: (r[0], r[1]))
        return found

    @staticmethod
    def stores_page(found: list[tuple[float, str, dict[str, Any]]], query: dict[str, Any],
                    now: datetime) -> dict[str, Any]:
        from shared.nearby.stores import store_view
        size = query.get("page_size", 20)
        skip = (query.get("page", 1) - 1) * size
        page = found[skip:skip + size]
        # the views as ours builds them (the same work), compared by the raw rows' ids
        return {"items": [store_view(doc, distance, now) for distance, _, doc in page],
                "total": len(found), "ids": [store_id for _, store_id, _ in page],
                "distances": [distance for distance, _, _ in page]}

    def nearby_stores(self, query: dict[str, Any]) -> dict[str, Any]:
        found = self.scan(self.stores, query["lat"], query["lng"], query["radius_m"])
        return self.stores_page(found, query, datetime.now(timezone.utc))

    @staticmethod
    def deals_page(found: list[tuple[float, str, dict[str, Any]]], deals: Any,
                   sold_of: Callable[[list[str], str], dict[str, int]], query: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
        from shared.nearby.deals import deal_view, local_day
        from shared.nearby.stores import store_view
        distance_of = {store_id: (distance, doc) for distance, store_id, doc in found}
        nearest = (found[0][0], found[0][1]) if found else None
        kind, category = query.get("kind"), query.get("category_id")
        rows = []
        for deal in deals:
            if not deal.get("active") or not deal["starts_at"] <= now < deal["ends_at"]:
                continue
            if (kind and deal["kind"] != kind) or (category and deal["category_id"] != category):
                continue
            if deal.get("all_stores"):
                best = nearest
            else:
                best = min(((distance_of[s][0], s) for s in deal["store_ids"]
                            if s in distance_of), default=None)
            if best is None:
                continue
            discount = 1 - deal["deal_price"] / max(deal["original_price"], 1)
            rows.append((best[0], -discount, deal["_id"], best[1], deal))
        rows.sort(key=lambda r: r[:3])
        size = query.get("page_size", 20)
        skip = (query.get("page", 1) - 1) * size
        page = rows[skip:skip + size]
        sold = sold_of([r[2] for r in page], local_day(now))
        items, keys = [], []
        for distance, _, deal_id, store_id, deal in page:
            limit = deal.get("daily_quantity")
            remaining = None if limit is None else max(0, limit - sold.get(deal_id, 0))
            items.append({**deal_view(deal), "distance_m": round(distance, 1),
                          "store": store_view(distance_of[store_id][1], distance, now),
                          "remaining_today": remaining})
            keys.append((deal_id, store_id, remaining))
        return {"items": items, "total": len(rows), "keys": keys,
                "distances": [r[0] for r in page]}

    def nearby_deals(self, query: dict[str, Any]) -> dict[str, Any]:
        found = self.scan(self.stores, query["lat"], query["lng"], query["radius_m"])

        def sold_of(deal_ids: list[str], day: str) -> dict[str, int]:
            return {d: self.sold[f"{d}:{day}"] for d in deal_ids if f"{d}:{day}" in self.sold}
        return self.deals_page(found, self.deals, sold_of, query, datetime.now(timezone.utc))


def check_reference_distance(brute: BruteForce, queries: list[dict[str, Any]]) -> None:
    """The inlined distance is geo.haversine_m's, float for float (else the brute force would
    not be the reference the tests use)."""
    from shared.nearby.geo import haversine_m
    sample = brute.stores[:2000]
    for query in queries[:5]:
        for distance, store_id, doc in brute.scan(sample, query["lat"], query["lng"], 1e9):
            if distance != haversine_m(query["lat"], query["lng"], doc["lat"], doc["lng"]):
                raise BenchFailure(f"the brute force's distance to {store_id} is not "
                                   "geo.haversine_m's: update BruteForce.scan")


class DatabaseScan:
    """The brute force reading every store (and every deal) from the database each time."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def nearby_stores(self, query: dict[str, Any]) -> dict[str, Any]:
        stores = BruteForce.store_tuples(self.db.stores.find({"active": True}, STORE_FIELDS))
        found = BruteForce.scan(stores, query["lat"], query["lng"], query["radius_m"])
        return BruteForce.stores_page(found, query, datetime.now(timezone.utc))

    def nearby_deals(self, query: dict[str, Any]) -> dict[str, Any]:
        stores = BruteForce.store_tuples(self.db.stores.find({"active": True}, STORE_FIELDS))
        found = BruteForce.scan(stores, query["lat"], query["lng"], query["radius_m"])

        def sold_of(deal_ids: list[str], day: str) -> dict[str, int]:
            keys = [f"{d}:{day}" for d in deal_ids]
            return {d["deal_id"]: d["sold"]
                    for d in self.db.deal_daily.find({"_id": {"$in": keys}})}
        return BruteForce.deals_page(found, self.db.deals.find({}), sold_of, query,
                                     datetime.now(timezone.utc))
