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

No transactions, and two orders placed at once must not both pass a limit, so what is counted
lives in counter documents of ``purchase_counts``, each moved by one conditional update that
checks every limit it holds and names the order as a holder (``holders: {order_id: [[field,
units], ...]}``): ``unpaid:<user>`` (``orders``, ``skus.<sku>``: the shopper's unpaid orders
and their units per SKU), ``day:<user>:<product>:<day>`` and ``campaign:<user>:<product>:<name>``
(``units``). Giving back removes the holder with its units in one conditional update, so it
happens once whoever asks (a cancel, the timeout, a repeated event); a counter nobody holds is
deleted. The order records what it counts in (``purchase_counts``) when it is inserted, before
anything is taken, so its end gives back exactly that. Unpaid counts are given back when the
order is paid or released; purchase counts (per day, per campaign) only when it is released: a
paid order was bought. When a counter is full, holders whose order is over are dropped before
the shopper is refused, so an event lost to a crash cannot lock a shopper out for good.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pymongo.errors import DuplicateKeyError

from shared.core.context import Context, Database
from shared.core.errors import ShopError
from shared.core.events import OrderEvent

SHANGHAI = timezone(timedelta(hours=8))
# a day's counter outlives its day by this much (a TTL index drops it on a real server)
DAY_COUNTER_TTL = timedelta(days=2)
UNPAID = ("reserving", "pending_payment")   # holders of unpaid counts while in these states
RELEASED = ("cancelled", "failed")          # holders of purchase counts until these
_SAFE_FIELD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

CODES = ("PURCHASE_LIMIT", "TOO_MANY_UNPAID")
Kind = Literal["per_order", "per_shopper_per_day", "per_shopper_per_campaign",
               "unpaid_units", "unpaid_orders"]
Entry = dict[str, Any]


# ---- what an order counts in ---------------------------------------------------------------

def local_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def sku_field(sku_id: str) -> str:
    """The counter field of a SKU: its id, unless the merchant chose one a field name cannot be
    (a '.', a '$'); then a digest, marked by a '~' no plain id has."""
    if _SAFE_FIELD.match(sku_id):
        return f"skus.{sku_id}"
    return "skus.~" + hashlib.sha256(sku_id.encode()).hexdigest()[:32]


def _entry(key: str, field: str, kind: Kind, units: int, limit: int,
           line: dict[str, Any]) -> Entry:
    return {"key": key, "field": field, "kind": kind, "units": units, "limit": limit,
            "unpaid": kind in ("unpaid_units", "unpaid_orders"), "sku_id": line["sku_id"],
            "product_id": line["product_id"], "title": line["title"]}


def check(ctx: Context, lines: list[dict[str, Any]],
          purchase_limits: dict[str, dict[str, Any]]) -> list[Entry]:
    """What an order of ``lines`` counts in, given its products' purchase limits (product ->
    limit, read with the lines); raises PURCHASE_LIMIT for a per-order limit, before anything
    is written. The counters are not read here: taking the counts (``take``) decides, by one
    conditional update per counter, and refuses a full one (a read first would cost every
    order a round trip to spare only the refused ones)."""
    user_id, settings = ctx.shopper_id, ctx.settings
    first: dict[str, dict[str, Any]] = {}   # product -> its first line, named in a refusal
    units: dict[str, int] = {}
    for line in lines:
        first.setdefault(line["product_id"], line)
        units[line["product_id"]] = units.get(line["product_id"], 0) + line["quantity"]
    entries: list[Entry] = []
    for product_id in sorted(units):
        limit = purchase_limits.get(product_id)
        if not limit:
            continue
        line, n = first[product_id], units[product_id]
        if limit.get("per_order") and n > limit["per_order"]:
            raise refusal(_entry("", "", "per_order", n, limit["per_order"], line), 0)
        if limit.get("per_shopper_per_day"):
            entries.append(_entry(f"day:{user_id}:{product_id}:{local_day(ctx.now)}", "units",
                                  "per_shopper_per_day", n, limit["per_shopper_per_day"], line))
        if limit.get("per_shopper_per_campaign"):
            entries.append(_entry(f"campaign:{user_id}:{product_id}:{limit.get('campaign', '')}",
                                  "units", "per_shopper_per_campaign", n,
                                  limit["per_shopper_per_campaign"], line))
    unpaid = f"unpaid:{user_id}"
    for line in lines:
        entries.append(_entry(unpaid, sku_field(line["sku_id"]), "unpaid_units",
                              line["quantity"], settings.MAX_UNPAID_UNITS_PER_SKU, line))
    entries.append(_entry(unpaid, "orders", "unpaid_orders", 1, settings.MAX_UNPAID_ORDERS,
                          lines[0]))
    for entry in entries:
        if entry["units"] > entry["limit"]:  # over the limit on its own: no counter holds it
            raise refusal(entry, 0)
    return entries


def check_counters(db: Database, entries: list[Entry]) -> None:
    """Refuse as ``take`` would, reading the counters (one read for all): the price before
    paying (``preview_order``) writes nothing."""
    groups = _by_counter(entries)
    if not groups:
        return
    counters = {c["_id"]: c for c in db.purchase_counts.find(
        {"_id": {"$in": sorted(groups)}}, {"holders": 0})}
    for key, group in groups.items():
        over = _first_over(group, counters.get(key))
        if over is not None:
            raise refusal(over, _value(counters.get(key), over["field"]))


def _by_counter(entries: list[Entry]) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry["key"], []).append(entry)
    return groups


def _value(counter: Any, field: str) -> int:
    for part in field.split("."):
        counter = (counter or {}).get(part)
    return int(counter or 0)


def _first_over(group: list[Entry], counter: Any) -> Any:
    """The first limit of the group that the order would pass, or None."""
    return next((e for e in group if _value(counter, e["field"]) + e["units"] > e["limit"]),
                None)


def refusal(entry: Entry, already: int) -> ShopError:
    kind, limit, title, n = entry["kind"], entry["limit"], entry["title"], entry["units"]
    details = {"kind": kind, "limit": limit, "already": already, "requested": n,
               # "sku" as the contract names it; "sku_id" as OUT_OF_STOCK does
               "sku": entry["sku_id"], "sku_id": entry["sku_id"],
               "product_id": entry["product_id"]}
    if kind == "unpaid_orders":
        details.update(sku=None, sku_id=None, product_id=None)
        return ShopError("TOO_MANY_UNPAID", f"{already} unpaid orders already (at most {limit})",
                         details, message_zh=f"您有{already}个待支付订单，请先支付或取消后再下单")
    if kind == "unpaid_units":
        zh = f"「{title}」一次最多下单{limit}件" if not already else \
            f"「{title}」待支付订单中已有{already}件，最多{limit}件，请先支付或取消"
        return ShopError("TOO_MANY_UNPAID", f"at most {limit} of {title} in unpaid orders "
                                            f"({already} already)", details, message_zh=zh)
    if kind == "per_order":
        zh = f"「{title}」每单限购{limit}件"
    elif kind == "per_shopper_per_day":
        zh = f"「{title}」每人每天限购{limit}件，今天已购{already}件"
    else:
        zh = f"「{title}」活动期间每人限购{limit}件，已购{already}件"
    return ShopError("PURCHASE_LIMIT", f"at most {limit} of {title} ({kind}; {already} already)",
                     details, message_zh=zh)


# ---- taking and giving back ----------------------------------------------------------------

def take(db: Database, order: dict[str, Any]) -> None:
    """Count the order in each of its counters, or in none: refused when one is full."""
    for key, group in _by_counter(order.get("purchase_counts") or []).items():
        if _take(db, order, key, group):
            continue
        if _first_over(group, _after_pruning(db, key, group[0]["unpaid"])) is None and \
                _take(db, order, key, group):
            continue
        give_back(db, order)
        counter = db.purchase_counts.find_one({"_id": key}, {"holders": 0})
        over = _first_over(group, counter) or group[0]  # or a race took the room and left
        raise refusal(over, _value(counter, over["field"]))


def _take(db: Database, order: dict[str, Any], key: str, group: list[Entry]) -> bool:
    # "not greater than": a count not there yet is zero
    query: dict[str, Any] = {"_id": key, **{e["field"]: {"$not": {"$gt": e["limit"] - e["units"]}}
                                            for e in group}}
    on_insert: dict[str, Any] = {"user_id": order["user_id"]}
    if group[0]["kind"] == "per_shopper_per_day":
        on_insert["expires_at"] = order["created_at"] + DAY_COUNTER_TTL
    update = {"$inc": {e["field"]: e["units"] for e in group},
              "$set": {f"holders.{order['_id']}": [[e["field"], e["units"]] for e in group]},
              "$setOnInsert": on_insert}
    try:
        # a missing counter is made by the upsert; a full one misses the filter and the upsert
        # collides on _id, refused
        result = db.purchase_counts.update_one(query, update, upsert=True)
        return bool(result.modified_count or result.upserted_id is not None)
    except DuplicateKeyError:
        # or a concurrent first order made the counter between our match and our insert: the
        # counter exists now, so the plain conditional update decides
        return db.purchase_counts.update_one(query, update).modified_count == 1


def _give_back_holder(db: Database, key: str, order_id: str, counts: list[list[Any]]) -> None:
    given = db.purchase_counts.update_one(
        {"_id": key, f"holders.{order_id}": {"$exists": True}},
        {"$inc": {field: -units for field, units in counts},
         "$unset": {f"holders.{order_id}": ""}})
    if given.modified_count and not key.startswith("unpaid:"):
        # nobody holds it any more: gone (a take meanwhile made it held, or makes it anew);
        # a shopper's one unpaid counter stays, at zero, to spare each cancel a round trip
        db.purchase_counts.delete_one({"_id": key, "holders": {}})


def give_back(db: Database, order: dict[str, Any], unpaid_only: bool = False) -> None:
    """Give back what the order holds (only its unpaid counts when ``unpaid_only``); once."""
    for key, group in _by_counter(order.get("purchase_counts") or []).items():
        if group[0]["unpaid"] or not unpaid_only:
            _give_back_holder(db, key, order["_id"], [[e["field"], e["units"]] for e in group])


def _after_pruning(db: Database, key: str, unpaid: bool) -> Any:
    """The counter once the holders whose order is over gave theirs back (a paid or released
    order whose event was lost to a crash); None when nobody holds it."""
    counter = db.purchase_counts.find_one({"_id": key})
    if counter is None:
        return None
    holders: dict[str, list[list[Any]]] = counter.get("holders") or {}
    statuses = {o["_id"]: o["status"] for o in db.orders.find(
        {"_id": {"$in": sorted(holders)}}, {"status": 1})}
    over = [order_id for order_id in holders
            if (statuses.get(order_id) not in UNPAID if unpaid
                else statuses.get(order_id) in (None, *RELEASED))]
    for order_id in over:
        _give_back_holder(db, key, order_id, holders[order_id])
    return db.purchase_counts.find_one({"_id": key}) if over else counter


# ---- events --------------------------------------------------------------------------------

def on_order_paid(db: Database, event: OrderEvent) -> None:
    """Paid: the order no longer holds anything unpaid; what it bought keeps counting."""
    give_back(db, event.order, unpaid_only=True)


def on_order_released(db: Database, event: OrderEvent) -> None:
    """An unpaid order was cancelled (or its placement cut short): it counts no more."""
    give_back(db, event.order)
