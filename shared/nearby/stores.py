"""Stores: the shopper's nearby search, the merchant's stores, and the store of a pickup.

Stores are kept in GCJ-02 (what ``wx.getLocation({type: "gcj02"})`` gives; WGS-84 input is
converted), each with its geohash. Every store write bumps the stores' version, so that warm
instances rebuild their search index (``shared.nearby.spatial``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import Field

from shared.core.common import Input, PageInput, new_id, page_of
from shared.core.context import Context
from shared.core.errors import not_found
from shared.nearby import geo
from shared.nearby.hours import is_open
from shared.nearby.spatial import bump_stores_version, store_index

DEFAULT_RADIUS_M = 3000
MAX_RADIUS_M = 50_000
# opening hours as "HH:MM-HH:MM" (24:00 closes at midnight)
HOURS_PATTERN = r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"


# ---- inputs --------------------------------------------------------------------------------

class Point(Input):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class NearbyStoresInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    open_now: bool = False


class UpsertStoreInput(Input):
    store_id: Optional[str] = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=50)
    address: str = Field(min_length=1, max_length=200)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coord_system: Literal["gcj02", "wgs84"] = "gcj02"
    phone: str = Field(default="", max_length=32)
    hours: str = Field(default="00:00-24:00", pattern=HOURS_PATTERN)
    tags: list[str] = Field(default_factory=list, max_length=10)
    active: bool = True


class StoreIdInput(Input):
    store_id: str = Field(min_length=1, max_length=64)


class ListStoresInput(PageInput):
    active: Optional[bool] = None


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

def nearby_stores(ctx: Context, req: NearbyStoresInput) -> dict[str, Any]:
    index = store_index(ctx.db)
    total, page = index.nearest(req.lat, req.lng, req.radius_m, req.skip, req.page_size,
                                open_at=ctx.now if req.open_now else None)
    items = [store_view(index.view(s), d, ctx.now) for d, s in page]
    return page_of(items, total, req)


# ---- merchant actions ----------------------------------------------------------------------

def upsert_store(ctx: Context, req: UpsertStoreInput) -> dict[str, Any]:
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


def merchant_list_stores(ctx: Context, req: ListStoresInput) -> dict[str, Any]:
    query = {} if req.active is None else {"active": req.active}
    docs = ctx.db.stores.find(query).sort([("name", 1), ("_id", 1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([store_view(d, now=ctx.now) for d in docs],
                   ctx.db.stores.count_documents(query), req)


# ---- pickup --------------------------------------------------------------------------------

def pickup_store(db: Any, store_id: str) -> dict[str, Any]:
    """The active store a self-pickup order is collected at (placing an order checks it)."""
    store = db.stores.find_one({"_id": store_id, "active": True})
    if store is None:
        raise not_found("store")
    return store
