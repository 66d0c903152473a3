"""Fair stock: the purchase limits (限购) a merchant sets per product, and the shop's ceilings on
what one shopper may hold in unpaid orders.

A product's ``purchase_limit`` (merchant fields set with the product, see
``shared.catalog.products.PurchaseLimitInput``; each optional, in units of the product, its
SKUs together):
- ``per_order``: in one order;
- ``per_shopper_per_day``: ordered by one shopper per Asia/Shanghai day;
- ``per_shopper_per_campaign``: ordered by one shopper during the campaign the merchant names
  in ``campaign`` (e.g. "双11"; a new name starts counting afresh; unnamed: the product's life).
The ceilings are settings: ``MAX_UNPAID_UNITS_PER_SKU`` (units of one SKU in a shopper's unpaid
orders) and ``MAX_UNPAID_ORDERS`` (a shopper's open unpaid orders).

No transactions, and two orders placed at once must not both pass a limit, so each thing
counted is a counter document in ``purchase_counts``: ``{_id: key, user_id, units, holders:
{order_id: units}}``, taken by one conditional update (``units <= limit - n``) that also names
the order as a holder. Giving back removes the holder with its units in one conditional update,
so it happens once whoever asks (a cancel, the timeout, a repeated event). The order records
the counters it counts in (``purchase_counts``) when it is inserted, before any is taken, so the
order's end gives back exactly what it took. Unpaid counters are given back when the order is
paid or released; purchase counters (per day, per campaign) only when it is released: a paid
order was bought. When a counter is full, holders whose order is over are dropped before the
shopper is refused, so an event lost to a crash cannot lock a shopper out for good.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pymongo.errors import DuplicateKeyError

from shared.core.context import Context, Database
from shared.core.errors import ShopError
from shared.core.events import OrderEvent

SHANGHAI = timezone(timedelta(hours=8))
# a day's counter outlives its day by this much (a TTL index drops it on a real server)
DAY_COUNTER_TTL = timedelta(days=2)
UNPAID = ("reserving", "pending_payment")   # holders of unpaid counters while in these states
RELEASED = ("cancelled", "failed")          # holders of purchase counters until these

CODES = ("PURCHASE_LIMIT", "TOO_MANY_UNPAID")
Kind = Literal["per_order", "per_shopper_per_day", "per_shopper_per_campaign",
               "unpaid_units", "unpaid_orders"]


# ---- what an order counts in ---------------------------------------------------------------

def local_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def _entry(key: str, kind: Kind, units: int, limit: int, line: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "kind": kind, "units": units, "limit": limit,
            "unpaid": kind in ("unpaid_units", "unpaid_orders"), "sku_id": line["sku_id"],
            "product_id": line["product_id"], "title": line["title"]}


def check(ctx: Context, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The counters an order of ``lines`` counts in, once every limit was found to have room;
    raises PURCHASE_LIMIT or TOO_MANY_UNPAID before anything is written. Taking the counters
    (``take``) decides for good: two orders may both pass this check."""
    db, user_id, settings = ctx.db, ctx.shopper_id, ctx.settings
    first: dict[str, dict[str, Any]] = {}   # product -> its first line, named in a refusal
    units: dict[str, int] = {}
    for line in lines:
        first.setdefault(line["product_id"], line)
        units[line["product_id"]] = units.get(line["product_id"], 0) + line["quantity"]
    limits = {p["_id"]: p["purchase_limit"] for p in db.products.find(
        {"_id": {"$in": sorted(units)}, "purchase_limit": {"$ne": None}}, {"purchase_limit": 1})}
    entries: list[dict[str, Any]] = []
    for product_id, limit in limits.items():
        line, n = first[product_id], units[product_id]
        if limit.get("per_order") and n > limit["per_order"]:
            raise refusal(_entry("", "per_order", n, limit["per_order"], line), 0)
        if limit.get("per_shopper_per_day"):
            entries.append(_entry(f"day:{user_id}:{product_id}:{local_day(ctx.now)}",
                                  "per_shopper_per_day", n, limit["per_shopper_per_day"], line))
        if limit.get("per_shopper_per_campaign"):
            entries.append(_entry(f"campaign:{user_id}:{product_id}:{limit.get('campaign', '')}",
                                  "per_shopper_per_campaign", n,
                                  limit["per_shopper_per_campaign"], line))
    for line in lines:
        entries.append(_entry(f"unpaid:{user_id}:{line['sku_id']}", "unpaid_units",
                              line["quantity"], settings.MAX_UNPAID_UNITS_PER_SKU, line))
    entries.append(_entry(f"unpaid_orders:{user_id}", "unpaid_orders", 1,
                          settings.MAX_UNPAID_ORDERS, lines[0]))
    held = {c["_id"]: c.get("units", 0) for c in db.purchase_counts.find(
        {"_id": {"$in": [e["key"] for e in entries]}}, {"units": 1})}
    for entry in entries:
        if entry["units"] > entry["limit"] - held.get(entry["key"], 0):
            already = _units_after_pruning(db, entry)
            if entry["units"] > entry["limit"] - already:
                raise refusal(entry, already)
    return entries


def refusal(entry: dict[str, Any], already: int) -> ShopError:
    kind, limit, title, n = entry["kind"], entry["limit"], entry["title"], entry["units"]
    details = {"kind": kind, "limit": limit, "already": already, "requested": n,
               # "sku" as the contract names it; "sku_id" as OUT_OF_STOCK does
               "sku": entry["sku_id"], "sku_id": entry["sku_id"],
               "product_id": entry["product_id"]}
    if kind == "unpaid_orders":
        details.update(sku=None, sku_id=None, product_id=None)
        return ShopError("TOO_MANY_UNPAID", f"{already} unpaid orders already (at most {limit})",
                         details, f"您有{already}个待支付订单，请先支付或取消后再下单")
    if kind == "unpaid_units":
        zh = f"「{title}」一次最多下单{limit}件" if not already else \
            f"「{title}」待支付订单中已有{already}件，最多{limit}件，请先支付或取消"
        return ShopError("TOO_MANY_UNPAID", f"at most {limit} of {title} in unpaid orders "
                                            f"({already} already)", details, zh)
    if kind == "per_order":
        zh = f"「{title}」每单限购{limit}件"
    elif kind == "per_shopper_per_day":
        zh = f"「{title}」每人每天限购{limit}件，今天已购{already}件"
    else:
        zh = f"「{title}」活动期间每人限购{limit}件，已购{already}件"
    return ShopError("PURCHASE_LIMIT", f"at most {limit} of {title} ({kind}; {already} already)",
                     details, zh)


# ---- taking and giving back ----------------------------------------------------------------

def take(db: Database, order: dict[str, Any]) -> None:
    """Count the order in each of its counters, or in none: refused when one is full."""
    for entry in order.get("purchase_counts") or []:
        if _take(db, order, entry):
            continue
        already = _units_after_pruning(db, entry)
        if already + entry["units"] <= entry["limit"] and _take(db, order, entry):
            continue
        give_back(db, order)
        raise refusal(entry, already)


def _take(db: Database, order: dict[str, Any], entry: dict[str, Any]) -> bool:
    query = {"_id": entry["key"], "units": {"$lte": entry["limit"] - entry["units"]}}
    on_insert: dict[str, Any] = {"user_id": order["user_id"]}
    if entry["kind"] == "per_shopper_per_day":
        on_insert["expires_at"] = order["created_at"] + DAY_COUNTER_TTL
    update = {"$inc": {"units": entry["units"]},
              "$set": {f"holders.{order['_id']}": entry["units"]}, "$setOnInsert": on_insert}
    try:
        # a missing counter is made by the upsert; a full one misses the filter and the upsert
        # collides on _id, refused
        result = db.purchase_counts.update_one(query, update, upsert=True)
        return bool(result.modified_count or result.upserted_id is not None)
    except DuplicateKeyError:
        # or a concurrent first order made the counter between our match and our insert: the
        # counter exists now, so the plain conditional update decides
        return db.purchase_counts.update_one(query, update).modified_count == 1


def _give_back_one(db: Database, key: str, order_id: str, units: int) -> None:
    db.purchase_counts.update_one({"_id": key, f"holders.{order_id}": {"$exists": True}},
                                  {"$inc": {"units": -units},
                                   "$unset": {f"holders.{order_id}": ""}})


def give_back(db: Database, order: dict[str, Any], unpaid_only: bool = False) -> None:
    """Give back what the order holds (only its unpaid counters when ``unpaid_only``); once."""
    for entry in order.get("purchase_counts") or []:
        if entry["unpaid"] or not unpaid_only:
            _give_back_one(db, entry["key"], order["_id"], entry["units"])


def _units_after_pruning(db: Database, entry: dict[str, Any]) -> int:
    """The counter's units once the holders whose order is over gave theirs back (a paid or
    released order whose event was lost to a crash)."""
    counter = db.purchase_counts.find_one({"_id": entry["key"]}, {"units": 1, "holders": 1})
    if counter is None:
        return 0
    holders: dict[str, int] = counter.get("holders") or {}
    statuses = {o["_id"]: o["status"] for o in db.orders.find(
        {"_id": {"$in": sorted(holders)}}, {"status": 1})}
    pruned = 0
    for order_id, units in holders.items():
        status = statuses.get(order_id)
        over = status not in UNPAID if entry["unpaid"] else status is None or status in RELEASED
        if over:
            _give_back_one(db, entry["key"], order_id, units)
            pruned += units
    return int(counter.get("units", 0)) - pruned


# ---- events --------------------------------------------------------------------------------

def on_order_paid(db: Database, event: OrderEvent) -> None:
    """Paid: the order no longer holds anything unpaid; what it bought keeps counting."""
    give_back(db, event.order, unpaid_only=True)


def on_order_released(db: Database, event: OrderEvent) -> None:
    """An unpaid order was cancelled (or its placement cut short): it counts no more."""
    give_back(db, event.order)
