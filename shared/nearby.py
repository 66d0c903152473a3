"""Nearby: stores, 附近精选 / 今日特惠 deals by location, pickup, and location consent.

Search: a warm instance keeps an in-memory geohash-cell index of the active stores, rebuilt
when the stores' version (bumped by every store write) changes. A query covers the circle
with a few cells, measures the exact haversine distance of the candidates in them, and so
returns exactly what a scan of every store would, in the same order, without database geo
operators (mongomock has none). The index also keeps what a store's view shows, so a page of
results reads nothing more. The active deals are kept the same way, by store, rebuilt when the
deals' version changes: every store write must bump the stores' version and every deal write
the deals' version (``bump_stores_version`` / ``bump_deals_version``), or warm instances keep
answering from what they knew.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Optional, Union

from pydantic import AwareDatetime, Field, model_validator

from shared import geo
from shared.common import Input, PageInput, iso, new_id, page_of
from shared.errors import ShopError, not_found

SHANGHAI = timezone(timedelta(hours=8))
DEFAULT_RADIUS_M = 3000
MAX_RADIUS_M = 50_000
INDEX_PRECISIONS = range(3, 8)
CONSENT_PRECISION = 5  # a cell of about 4.9 km x 4.9 km: where, not exactly where
STORES_VERSION = "stores_version"
DEALS_VERSION = "deals_version"


# ---- inputs --------------------------------------------------------------------------------

class Point(Input):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class NearbyStoresInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    open_now: bool = False


class NearbyDealsInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    kind: Optional[Literal["featured", "today_special"]] = None
    category_id: Optional[str] = Field(default=None, max_length=64)


class UpsertStoreInput(Input):
    store_id: Optional[str] = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=50)
    address: str = Field(min_length=1, max_length=200)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coord_system: Literal["gcj02", "wgs84"] = "gcj02"
    phone: str = Field(default="", max_length=32)
    hours: str = Field(default="00:00-24:00", pattern=r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
    tags: list[str] = Field(default_factory=list, max_length=10)
    active: bool = True


class StoreIdInput(Input):
    store_id: str = Field(min_length=1, max_length=64)


class ListStoresInput(PageInput):
    active: Optional[bool] = None


class CreateDealInput(Input):
    store_ids: Union[Literal["all"], list[str]] = Field(min_length=1)
    sku_id: str = Field(min_length=1, max_length=64)
    deal_price: int = Field(ge=1, le=100_000_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    daily_quantity: Optional[int] = Field(default=None, ge=1, le=1_000_000)
    kind: Literal["featured", "today_special"]

    @model_validator(mode="after")
    def ends_after_start(self) -> "CreateDealInput":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if isinstance(self.store_ids, list) and len(self.store_ids) > 1000:
            raise ValueError("at most 1000 stores, or 'all'")
        return self


class ListDealsInput(PageInput):
    store_id: Optional[str] = Field(default=None, max_length=64)


class LocationConsentInput(Input):
    enabled: bool
    lat: Optional[float] = Field(default=None, ge=-90, le=90)
    lng: Optional[float] = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def location_when_enabled(self) -> "LocationConsentInput":
        if self.enabled and (self.lat is None or self.lng is None):
            raise ValueError("lat and lng are needed to opt in")
        return self


class NearbyCampaignInput(Input):
    store_id: str = Field(min_length=1, max_length=64)
    radius_m: int = Field(ge=100, le=MAX_RADIUS_M)
    deal_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=100)


class VerifyPickupInput(Input):
    code: str = Field(pattern=r"^\d{8}$")


# ---- the in-memory cell index --------------------------------------------------------------

# what a store's view shows besides its position, kept in the index so that a page of
# results needs no database read (the index is exactly as fresh as its version check)
_VIEW_FIELDS = {"name": 1, "address": 1, "lat": 1, "lng": 1, "phone": 1, "hours": 1,
                "tags": 1, "active": 1}


@dataclass
class StoreIndex:
    version: Any = None
    stores: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    # precision -> cell -> (lat in radians, its cosine, lng, store id) of the stores in it:
    # the half of the haversine that depends on the store alone is worked out at build time
    cells: dict[int, dict[str, list[tuple[float, float, float, str]]]] = \
        field(default_factory=dict)
    views: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def within(self, lat: float, lng: float, radius_m: float) -> list[tuple[float, str]]:
        """(distance_m, store_id) of every store within the radius, nearest first."""
        precision, cells = geo.covering_cells(lat, lng, radius_m, INDEX_PRECISIONS)
        by_cell = self.cells.get(precision, {})
        # geo.haversine_m inlined, operation for operation, so the distances are the same
        # floats a scan calling it computes (same order, same ties, same radius edge)
        radians, sin, asin, sqrt = math.radians, math.sin, math.asin, math.sqrt
        p1 = radians(lat)
        cos_p1 = math.cos(p1)
        diameter = 2 * geo.EARTH_RADIUS_M
        # the box the cells were chosen to cover encloses the circle: a candidate outside it
        # is out of reach, known for two comparisons instead of a haversine
        lat_min, lat_max, lng_min, lng_max = geo.bounding_box(lat, lng, radius_m)
        p_min, p_max = radians(lat_min), radians(lat_max)
        if lng_min < -180 or lng_max > 180:  # across the antimeridian: no cheap test
            lng_min, lng_max = -math.inf, math.inf
        found = []
        for cell in cells:
            for p2, cos_p2, s_lng, store_id in by_cell.get(cell, ()):
                if p2 < p_min or p2 > p_max or s_lng < lng_min or s_lng > lng_max:
                    continue
                a = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos_p2 * sin(radians(s_lng - lng) / 2) ** 2
                distance = diameter * asin(min(1.0, sqrt(a)))
                if distance <= radius_m:
                    found.append((distance, store_id))
        found.sort()
        return found

    def view(self, store_id: str) -> dict[str, Any]:
        """The store's document as store_view reads it."""
        name, address, phone, hours, tags, active = self.views[store_id]
        lat, lng, _ = self.stores[store_id]
        return {"_id": store_id, "name": name, "address": address, "lat": lat, "lng": lng,
                "phone": phone, "hours": hours, "tags": list(tags), "active": active}


_index = StoreIndex()
_index_lock = threading.Lock()


def _stores_version(db: Any) -> Any:
    doc = db.meta.find_one({"_id": STORES_VERSION})
    return (doc["v"], doc.get("token")) if doc else 0


def bump_stores_version(db: Any) -> None:
    # a random token with the counter: a counter alone repeats when the database starts over
    # (wiped and seeded again, or a fresh test database at a reused id()), and a warm
    # instance would then keep serving the old stores as if nothing had changed
    db.meta.update_one({"_id": STORES_VERSION},
                       {"$inc": {"v": 1}, "$set": {"token": new_id("stv")}}, upsert=True)


def store_index(db: Any) -> StoreIndex:
    """The cell index of this warm instance, rebuilt when a store changed anywhere."""
    global _index
    version = (id(db), _stores_version(db))
    if _index.version == version:
        return _index
    with _index_lock:
        if _index.version != version:
            fresh = StoreIndex(version=version, cells={p: {} for p in INDEX_PRECISIONS})
            for doc in db.stores.find({"active": True}, _VIEW_FIELDS):
                store_id, lat, lng = doc["_id"], doc["lat"], doc["lng"]
                fresh.stores[store_id] = (lat, lng, doc.get("hours", ""))
                fresh.views[store_id] = (doc["name"], doc["address"], doc.get("phone", ""),
                                         doc.get("hours", ""), tuple(doc.get("tags", [])),
                                         doc.get("active", True))
                p2 = math.radians(lat)
                point = (p2, math.cos(p2), lng, store_id)
                full = geo.encode(lat, lng, max(INDEX_PRECISIONS))
                for precision in INDEX_PRECISIONS:
                    fresh.cells[precision].setdefault(full[:precision], []).append(point)
            _index = fresh
    return _index


@dataclass
class DealIndex:
    """The active deals of this warm instance, by the store they run at."""
    version: Any = None
    everywhere: list[dict[str, Any]] = field(default_factory=list)  # for all stores
    by_store: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


_deal_index = DealIndex()
_deal_index_lock = threading.Lock()


def bump_deals_version(db: Any) -> None:
    db.meta.update_one({"_id": DEALS_VERSION},
                       {"$inc": {"v": 1}, "$set": {"token": new_id("dlv")}}, upsert=True)


def deal_index(db: Any) -> DealIndex:
    """The deals index, rebuilt when a deal changed anywhere; whether a deal is on now (and
    matches the kind and category asked for) is decided per query."""
    global _deal_index
    versions = {d["_id"]: (d["v"], d.get("token"))
                for d in db.meta.find({"_id": {"$in": [STORES_VERSION, DEALS_VERSION]}})}
    # the stores' version too: the demo data writes its deals after bumping only that one
    version = (id(db), versions.get(STORES_VERSION, 0), versions.get(DEALS_VERSION, 0))
    if _deal_index.version == version:
        return _deal_index
    with _deal_index_lock:
        if _deal_index.version != version:
            fresh = DealIndex(version=version)
            for deal in db.deals.find({"active": True}):
                if not (isinstance(deal.get("starts_at"), datetime)
                        and isinstance(deal.get("ends_at"), datetime)):
                    continue  # never on: a query for it by time would not match it either
                if deal.get("all_stores"):
                    fresh.everywhere.append(deal)
                    continue
                for store_id in set(deal.get("store_ids") or ()):
                    fresh.by_store.setdefault(store_id, []).append(deal)
            _deal_index = fresh
    return _deal_index


def is_open(hours: str, now: datetime) -> bool:
    """Whether ``HH:MM-HH:MM`` (Asia/Shanghai, may cross midnight) includes ``now``."""
    try:
        start, end = hours.split("-")
        minute = now.astimezone(SHANGHAI)
        current = minute.hour * 60 + minute.minute
        opens = int(start[:2]) * 60 + int(start[3:])
        closes = int(end[:2]) * 60 + int(end[3:])
    except (ValueError, IndexError):
        return False
    if opens <= closes:
        return opens <= current < closes
    return current >= opens or current < closes


# ---- views ---------------------------------------------------------------------------------

def store_view(doc: dict[str, Any], distance: Optional[float] = None,
               now: Optional[datetime] = None) -> dict[str, Any]:
    view = {"id": doc["_id"], "name": doc["name"], "address": doc["address"],
            "lat": doc["lat"], "lng": doc["lng"], "phone": doc.get("phone", ""),
            "hours": doc.get("hours", ""), "tags": doc.get("tags", []),
            "active": doc.get("active", True)}
    if now is not None:
        view["open_now"] = is_open(view["hours"], now)
    if distance is not None:
        view["distance_m"] = round(distance, 1)
    return view


# ---- shopper actions -----------------------------------------------------------------------

def nearby_stores(ctx: Any, req: NearbyStoresInput) -> dict[str, Any]:
    index = store_index(ctx.db)
    found = index.within(req.lat, req.lng, req.radius_m)
    if req.open_now:
        found = [(d, s) for d, s in found if is_open(index.stores[s][2], ctx.now)]
    page = found[req.skip:req.skip + req.page_size]
    items = [store_view(index.view(s), d, ctx.now) for d, s in page]
    return page_of(items, len(found), req)


def local_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def _sold_today(db: Any, deal_ids: list[str], day: str) -> dict[str, int]:
    if not deal_ids:
        return {}
    keys = [f"{deal_id}:{day}" for deal_id in deal_ids]
    return {d["deal_id"]: d["sold"] for d in db.deal_daily.find({"_id": {"$in": keys}})}


def nearby_deals(ctx: Any, req: NearbyDealsInput) -> dict[str, Any]:
    """Each live deal once, at its nearest store in reach; nearest first, then deepest discount."""
    index = store_index(ctx.db)
    deals = deal_index(ctx.db)
    found = index.within(req.lat, req.lng, req.radius_m)
    now, kind, category_id = ctx.now, req.kind, req.category_id

    def row(distance: float, store_id: str, deal: dict[str, Any]) -> Optional[tuple[Any, ...]]:
        if not deal["starts_at"] <= now < deal["ends_at"] \
                or (kind and deal.get("kind") != kind) \
                or (category_id and deal.get("category_id") != category_id):
            return None
        discount = 1 - deal["deal_price"] / max(deal["original_price"], 1)
        return distance, -discount, deal["_id"], store_id, deal

    candidates = [row(*found[0], deal) for deal in deals.everywhere] if found else []
    seen: set[str] = set()
    for distance, store_id in found:
        # nearest first (ties by store id): a deal's first store here is its nearest in reach
        for deal in deals.by_store.get(store_id, ()):
            if deal["_id"] not in seen:
                seen.add(deal["_id"])
                candidates.append(row(distance, store_id, deal))
    rows = [r for r in candidates if r is not None]
    rows.sort(key=lambda r: r[:3])
    page = rows[req.skip:req.skip + req.page_size]
    # only the counters the page shows: a deal with no daily quantity has none to read
    sold = _sold_today(ctx.db, [r[2] for r in page if r[4].get("daily_quantity") is not None],
                       local_day(ctx.now))
    items = []
    for distance, _, deal_id, store_id, deal in page:
        remaining = None if deal.get("daily_quantity") is None else \
            max(0, deal["daily_quantity"] - sold.get(deal_id, 0))
        items.append({**deal_view(deal), "distance_m": round(distance, 1),
                      "store": store_view(index.view(store_id), distance, ctx.now),
                      "remaining_today": remaining})
    return page_of(items, len(rows), req)


def deal_view(deal: dict[str, Any]) -> dict[str, Any]:
    return {"id": deal["_id"], "kind": deal["kind"], "sku_id": deal["sku_id"],
            "product": {"id": deal["product_id"], "title": deal["title"],
                        "image": deal.get("image", ""), "category_id": deal.get("category_id")},
            "deal_price": deal["deal_price"], "original_price": deal["original_price"],
            "daily_quantity": deal.get("daily_quantity"),
            "store_ids": "all" if deal.get("all_stores") else list(deal["store_ids"]),
            "starts_at": iso(deal["starts_at"]), "ends_at": iso(deal["ends_at"])}


def set_location_consent(ctx: Any, req: LocationConsentInput) -> dict[str, Any]:
    """Opt in to nearby offers (only a ~5 km cell is kept) or withdraw (nothing is kept)."""
    if req.enabled:
        cell = geo.encode(req.lat, req.lng, CONSENT_PRECISION)  # type: ignore[arg-type]
        ctx.db.users.update_one({"_id": ctx.user_id}, {"$set": {
            "nearby": {"enabled": True, "cell": cell, "updated_at": ctx.now}}})
        return {"enabled": True, "cell": cell}
    ctx.db.users.update_one({"_id": ctx.user_id}, {"$unset": {"nearby": ""}})
    return {"enabled": False, "cell": None}


# ---- merchant actions ----------------------------------------------------------------------

def upsert_store(ctx: Any, req: UpsertStoreInput) -> dict[str, Any]:
    lat, lng = req.lat, req.lng
    if req.coord_system == "wgs84":
        lat, lng = geo.wgs84_to_gcj02(lat, lng)
    store_id = req.store_id or new_id("sto")
    fields = {"name": req.name, "address": req.address, "lat": lat, "lng": lng,
              "coord_system": "gcj02", "geohash": geo.encode(lat, lng, 9), "phone": req.phone,
              "hours": req.hours, "tags": req.tags, "active": req.active, "updated_at": ctx.now}
    ctx.db.stores.update_one({"_id": store_id},
                             {"$set": fields, "$setOnInsert": {"created_at": ctx.now}},
                             upsert=True)
    bump_stores_version(ctx.db)
    return store_view({"_id": store_id, **fields}, now=ctx.now)


def merchant_list_stores(ctx: Any, req: ListStoresInput) -> dict[str, Any]:
    query = {} if req.active is None else {"active": req.active}
    docs = ctx.db.stores.find(query).sort([("name", 1), ("_id", 1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([store_view(d, now=ctx.now) for d in docs],
                   ctx.db.stores.count_documents(query), req)


def create_deal(ctx: Any, req: CreateDealInput) -> dict[str, Any]:
    sku = ctx.db.skus.find_one({"_id": req.sku_id, "active": True})
    if sku is None:
        raise not_found("sku")
    if req.deal_price >= sku["price"]:
        raise ShopError("VALIDATION_ERROR", "a deal must cost less than the SKU's price",
                        {"fields": [{"field": "deal_price", "message": "not below the price",
                                     "type": "not_a_discount"}]})
    all_stores = req.store_ids == "all"
    store_ids = [] if all_stores else sorted(set(req.store_ids))
    if store_ids:
        known = {s["_id"] for s in ctx.db.stores.find({"_id": {"$in": store_ids}}, {"_id": 1})}
        missing = [s for s in store_ids if s not in known]
        if missing:
            raise ShopError("NOT_FOUND", "store not found", {"resource": "store",
                                                             "store_ids": missing[:20]})
    product = ctx.db.products.find_one({"_id": sku["product_id"]},
                                       {"title": 1, "images": 1, "category_id": 1})
    deal = {"_id": new_id("deal"), "all_stores": all_stores, "store_ids": store_ids,
            "sku_id": req.sku_id, "product_id": sku["product_id"], "title": product["title"],
            "image": sku.get("image") or (product.get("images") or [""])[0],
            "category_id": product["category_id"], "deal_price": req.deal_price,
            "original_price": sku["price"], "starts_at": req.starts_at, "ends_at": req.ends_at,
            "daily_quantity": req.daily_quantity, "kind": req.kind, "active": True,
            "created_at": ctx.now}
    ctx.db.deals.insert_one(deal)
    bump_deals_version(ctx.db)
    return deal_view(deal)


def merchant_list_deals(ctx: Any, req: ListDealsInput) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if req.store_id:
        query["$or"] = [{"all_stores": True}, {"store_ids": req.store_id}]
    docs = ctx.db.deals.find(query).sort([("created_at", -1), ("_id", -1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([deal_view(d) for d in docs], ctx.db.deals.count_documents(query), req)


def _cells_in_reach(lat: float, lng: float, radius_m: int) -> list[str]:
    """Consent cells any part of which may lie within the radius of the store."""
    _, cells = geo.covering_cells(lat, lng, radius_m, [CONSENT_PRECISION])
    height, width = geo._CELL_DEGREES[CONSENT_PRECISION]
    half_diagonal = geo.haversine_m(0, 0, height / 2, width / 2)
    reach = []
    for cell in cells:
        c_lat, c_lng = cell_center(cell)
        if geo.haversine_m(lat, lng, c_lat, c_lng) <= radius_m + half_diagonal:
            reach.append(cell)
    return sorted(reach)


def cell_center(cell: str) -> tuple[float, float]:
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in cell:
        bits = geo._BASE32.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bit else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2


def nearby_campaign(ctx: Any, req: NearbyCampaignInput) -> dict[str, Any]:
    """Queue one subscribe message per opted-in user in reach of the store, once per campaign."""
    store = ctx.db.stores.find_one({"_id": req.store_id})
    if store is None:
        raise not_found("store")
    deal = ctx.db.deals.find_one({"_id": req.deal_id})
    if deal is None:
        raise not_found("deal")
    campaign_id = new_id("ncp")
    cells = _cells_in_reach(store["lat"], store["lng"], req.radius_m)
    queued = 0
    for user in ctx.db.users.find({"nearby.enabled": True, "nearby.cell": {"$in": cells}},
                                  {"_id": 1}):
        queued += enqueue_message(ctx.db, user["_id"], "nearby_campaign", campaign_id, ctx.now,
                                  {"message": req.message, "store_id": store["_id"],
                                   "deal_id": deal["_id"],
                                   "page": f"packages/nearby/store?id={store['_id']}"})
    ctx.db.nearby_campaigns.insert_one({"_id": campaign_id, "store_id": store["_id"],
                                        "deal_id": deal["_id"], "radius_m": req.radius_m,
                                        "message": req.message, "cells": cells,
                                        "queued": queued, "created_at": ctx.now})
    return {"campaign_id": campaign_id, "queued": queued, "cells": len(cells)}


def enqueue_message(db: Any, user_id: str, purpose: str, occasion: str, now: datetime,
                    data: dict[str, Any]) -> int:
    """Put one message in the outbox; the key (purpose, occasion, user) makes it once only."""
    from shared.messages import enqueue
    return int(enqueue(db, user_id, purpose, occasion, now, data=data, page=data.get("page", "")))


# ---- deals in orders, and pickup -----------------------------------------------------------

def deal_for_order(db: Any, deal_id: str, sku_ids: list[str], store_id: Optional[str],
                   now: datetime) -> dict[str, Any]:
    deal = db.deals.find_one({"_id": deal_id, "active": True})
    if deal is None:
        raise not_found("deal")
    if not deal["starts_at"] <= now < deal["ends_at"]:
        raise ShopError("INVALID_STATE", "the deal is not on now", {"deal_id": deal_id})
    if deal["sku_id"] not in sku_ids:
        raise ShopError("VALIDATION_ERROR", "the deal's SKU is not in the order",
                        {"fields": [{"field": "deal_id", "message": "SKU not ordered",
                                     "type": "deal_sku_missing"}]})
    if store_id and not deal.get("all_stores") and store_id not in deal["store_ids"]:
        raise ShopError("VALIDATION_ERROR", "the deal does not run at that store",
                        {"fields": [{"field": "store_id", "message": "not in the deal",
                                     "type": "deal_store"}]})
    return deal


def take_daily_quantity(db: Any, deal: dict[str, Any], quantity: int, now: datetime) -> str:
    """Count units against today's quantity (Asia/Shanghai day) atomically; the day key."""
    from shared.db import duplicate_key_error
    day = local_day(now)
    limit = deal.get("daily_quantity")
    key = f"{deal['_id']}:{day}"
    if limit is None:
        db.deal_daily.update_one({"_id": key}, {"$inc": {"sold": quantity},
                                                "$setOnInsert": {"deal_id": deal["_id"]}},
                                 upsert=True)
        return key
    if quantity > limit:
        raise ShopError("OUT_OF_STOCK", "more than the deal sells in a day",
                        {"deal_id": deal["_id"], "available": limit})
    query = {"_id": key, "sold": {"$lte": limit - quantity}}
    update = {"$inc": {"sold": quantity}, "$setOnInsert": {"deal_id": deal["_id"]}}
    try:
        # full: the filter misses, the upsert collides on _id and is refused
        db.deal_daily.update_one(query, update, upsert=True)
    except duplicate_key_error():
        # or not full: a concurrent first order of the day created the counter between our
        # match and our insert (a server does not retry an upsert whose filter is more than
        # the _id); the counter exists now, so a plain conditional update decides
        if db.deal_daily.update_one(query, update).modified_count == 0:
            sold = (db.deal_daily.find_one({"_id": key}) or {}).get("sold", 0)
            raise ShopError("OUT_OF_STOCK", "the deal is sold out for today",
                            {"deal_id": deal["_id"], "available": max(0, limit - sold)}) \
                from None
    return key


def give_back_daily_quantity(db: Any, key: str, quantity: int) -> None:
    db.deal_daily.update_one({"_id": key}, {"$inc": {"sold": -quantity}})


def pickup_store(db: Any, store_id: str) -> dict[str, Any]:
    store = db.stores.find_one({"_id": store_id, "active": True})
    if store is None:
        raise not_found("store")
    return store


def verify_pickup(ctx: Any, req: VerifyPickupInput) -> dict[str, Any]:
    """The merchant scans the shopper's code at the store: the paid order is collected."""
    from pymongo import ReturnDocument
    from shared.orders import order_view
    order = ctx.db.orders.find_one_and_update(
        {"pickup.code": req.code, "status": "paid"},
        {"$set": {"status": "completed", "completed_at": ctx.now, "pickup.picked_up_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    if order is None:
        known = ctx.db.orders.find_one({"pickup.code": req.code}, {"status": 1})
        if known is None:
            raise not_found("pickup code")
        raise ShopError("INVALID_STATE", f"the order is {known['status']}",
                        {"status": known["status"]})
    return order_view(order, merchant=True)
