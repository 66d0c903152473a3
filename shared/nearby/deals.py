"""Deals: 附近精选 / 今日特惠 by location, the merchant's deals, and a deal in an order.

A deal's ``daily_quantity`` is counted per Asia/Shanghai day (``local_day``) with one
conditional update; order placement takes units from it (``take_daily_quantity``) and gives
them back when the order does not go through (``give_back_daily_quantity``). Every deal write
bumps the deals' version, so that warm instances rebuild their deal index
(``shared.nearby.spatial``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional, Union

from pydantic import AwareDatetime, Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.nearby.hours import SHANGHAI, is_open
from shared.nearby.spatial import (
    bump_deals_version,
    deal_index,
    read_stores_and_deals_versions,
    store_index,
)
from shared.nearby.stores import DEFAULT_RADIUS_M, MAX_RADIUS_M, Point, store_view

# ---- inputs --------------------------------------------------------------------------------

class NearbyDealsInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    kind: Optional[Literal["featured", "today_special"]] = None
    category_id: Optional[str] = Field(default=None, max_length=64)


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


# ---- views ---------------------------------------------------------------------------------

def deal_view(deal: dict[str, Any]) -> dict[str, Any]:
    return {"id": deal["_id"], "kind": deal["kind"], "sku_id": deal["sku_id"],
            "product": {"id": deal["product_id"], "title": deal["title"],
                        "image": deal.get("image", ""), "category_id": deal.get("category_id")},
            "deal_price": deal["deal_price"], "original_price": deal["original_price"],
            "daily_quantity": deal.get("daily_quantity"),
            "store_ids": "all" if deal.get("all_stores") else list(deal["store_ids"]),
            "starts_at": iso(deal["starts_at"]), "ends_at": iso(deal["ends_at"])}


def local_day(now: datetime) -> str:
    """The day a daily quantity counts (Asia/Shanghai), as ``YYYYMMDD``."""
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def _sold_today(db: Any, deal_ids: list[str], day: str) -> dict[str, int]:
    if not deal_ids:
        return {}
    keys = [f"{deal_id}:{day}" for deal_id in deal_ids]
    return {d["deal_id"]: d["sold"] for d in db.deal_daily.find({"_id": {"$in": keys}})}


# ---- shopper actions -----------------------------------------------------------------------

def nearby_deals(ctx: Context, req: NearbyDealsInput) -> dict[str, Any]:
    """Each live deal once, at its nearest store in reach; nearest first, then deepest discount."""
    versions = read_stores_and_deals_versions(ctx.db)
    index = store_index(ctx.db, versions[0])
    deals = deal_index(ctx.db, versions)
    total, page = deals.page(index, req.lat, req.lng, req.radius_m, ctx.now, req.kind,
                             req.category_id, req.skip, req.page_size)
    # only the counters the page shows: a deal with no daily quantity has none to read
    sold = _sold_today(ctx.db, [r[2] for r in page if r[4].get("daily_quantity") is not None],
                       local_day(ctx.now))
    items = []
    views = deals.views
    open_now: dict[str, bool] = {}  # by opening hours: a page's stores share a few
    for distance, _, deal_id, store_id, deal in page:
        remaining = None if deal.get("daily_quantity") is None else \
            max(0, deal["daily_quantity"] - sold.get(deal_id, 0))
        view = views.get(deal_id) or views.setdefault(deal_id, deal_view(deal))
        store = views.get(store_id) or views.setdefault(store_id,
                                                        store_view(index.view(store_id)))
        hours = store["hours"]
        is_open_now = open_now.get(hours)
        if is_open_now is None:
            is_open_now = open_now[hours] = is_open(hours, ctx.now)
        metres = round(distance, 1)
        items.append({**view, "distance_m": metres,
                      "store": {**store, "open_now": is_open_now, "distance_m": metres},
                      "remaining_today": remaining})
    return page_of(items, total, req)


# ---- merchant actions ----------------------------------------------------------------------

def create_deal(ctx: Context, req: CreateDealInput) -> dict[str, Any]:
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


def merchant_list_deals(ctx: Context, req: ListDealsInput) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if req.store_id:
        query["$or"] = [{"all_stores": True}, {"store_ids": req.store_id}]
    docs = ctx.db.deals.find(query).sort([("created_at", -1), ("_id", -1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([deal_view(d) for d in docs], ctx.db.deals.count_documents(query), req)


# ---- deals in orders -----------------------------------------------------------------------

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


def day_key(deal_id: str, now: datetime) -> str:
    """The daily counter an order placed ``now`` counts against."""
    return f"{deal_id}:{local_day(now)}"


def check_daily_quantity(db: Any, deal: dict[str, Any], quantity: int, now: datetime) -> None:
    """Refuse as ``take_daily_quantity`` would, reading today's counter (the preview)."""
    limit = deal.get("daily_quantity")
    if limit is None:
        return
    if quantity > limit:
        raise ShopError("OUT_OF_STOCK", "more than the deal sells in a day",
                        {"deal_id": deal["_id"], "available": limit})
    sold = (db.deal_daily.find_one({"_id": day_key(deal["_id"], now)}, {"sold": 1})
            or {}).get("sold", 0)
    if sold + quantity > limit:
        raise ShopError("OUT_OF_STOCK", "the deal is sold out for today",
                        {"deal_id": deal["_id"], "available": max(0, limit - sold)})


def take_daily_quantity(db: Any, deal: dict[str, Any], quantity: int, now: datetime,
                        order_id: Optional[str] = None) -> str:
    """Count an order's units against today's quantity (Asia/Shanghai day) atomically; the
    day key. The counter notes the order (``holds``) in the same update, until the order is
    paid or gives the units back, so that a give-back after a crash returns what was taken
    and nothing else, once."""
    limit = deal.get("daily_quantity")
    key = day_key(deal["_id"], now)
    update: dict[str, Any] = {"$inc": {"sold": quantity},
                              "$setOnInsert": {"deal_id": deal["_id"]}}
    if order_id is not None:
        update["$push"] = {"holds": order_id}
    if limit is None:
        db.deal_daily.update_one({"_id": key}, update, upsert=True)
        return key
    if quantity > limit:
        raise ShopError("OUT_OF_STOCK", "more than the deal sells in a day",
                        {"deal_id": deal["_id"], "available": limit})
    query = {"_id": key, "sold": {"$lte": limit - quantity}}
    try:
        # full: the filter misses, the upsert collides on _id and is refused
        db.deal_daily.update_one(query, update, upsert=True)
    except DuplicateKeyError:
        # or not full: a concurrent first order of the day created the counter between our
        # match and our insert (a server does not retry an upsert whose filter is more than
        # the _id); the counter exists now, so a plain conditional update decides
        if db.deal_daily.update_one(query, update).modified_count == 0:
            sold = (db.deal_daily.find_one({"_id": key}) or {}).get("sold", 0)
            raise ShopError("OUT_OF_STOCK", "the deal is sold out for today",
                            {"deal_id": deal["_id"], "available": max(0, limit - sold)}) \
                from None
    return key


def give_back_daily_quantity(db: Any, key: str, quantity: int,
                             order_id: Optional[str] = None) -> bool:
    """The order's units back to the day's quantity, if the counter holds them for it (an
    order-less take, without ``order_id``, is given back unconditionally)."""
    if order_id is None:
        return db.deal_daily.update_one({"_id": key},
                                        {"$inc": {"sold": -quantity}}).modified_count == 1
    return db.deal_daily.update_one({"_id": key, "holds": order_id},
                                    {"$inc": {"sold": -quantity},
                                     "$pull": {"holds": order_id}}).modified_count == 1


def on_order_released(db: Any, event: OrderEvent) -> None:
    """An unpaid deal order was cancelled (or its placement given up): today's units come
    back, once (only while the counter holds them for this order)."""
    deal = event.order.get("deal") or {}
    if deal.get("day_key"):
        give_back_daily_quantity(db, deal["day_key"], deal["quantity"], event.order["_id"])


def on_order_paid(db: Any, event: OrderEvent) -> None:
    """A deal order was paid: its units are sold for good, the counter forgets the order (so
    that it lists only the unpaid orders it holds units for)."""
    deal = event.order.get("deal") or {}
    if deal.get("day_key"):
        db.deal_daily.update_one({"_id": deal["day_key"], "holds": event.order["_id"]},
                                 {"$pull": {"holds": event.order["_id"]}})
