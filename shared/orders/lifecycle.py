"""Orders: place (reserving stock), cancel, pay (dev stand-in), ship, receive, time out.

No transactions: every step is a conditional update on the current state, so a duplicate or
late call finds nothing to change. Stock per SKU is ``stock`` (for sale), ``locked`` (held by
unpaid orders) and ``sold``; their sum changes only when the merchant restocks.

Each order line records where its units are (``stock``: none -> locked -> sold | released),
and a line moves by a conditional update on the order before the SKU is touched, so a unit is
never released or sold twice. A crash between the two steps errs on the safe side: units stay
locked (never oversold) and the reconciler in ``cancel_expired_orders`` cleans up what it can.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from shared.orders import coupons

from shared.nearby import service as nearby

from shared.loyalty import points
from shared.accounts.addresses import SNAPSHOT_FIELDS, find_owned
from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.errors import ShopError, not_found

MAX_LINES = 50
STALE_PLACEMENT = timedelta(minutes=10)
VISIBLE_STATUSES = ["pending_payment", "paid", "shipped", "completed", "cancelled",
                    "refunding", "refunded"]
OrderStatus = Literal["pending_payment", "paid", "shipped", "completed", "cancelled",
                      "refunding", "refunded"]


class OrderLineInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=999)


class PlaceOrderInput(Input):
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    items: Optional[list[OrderLineInput]] = Field(default=None, min_length=1,
                                                  max_length=MAX_LINES)
    from_cart: bool = False
    address_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    coupon_id: Optional[str] = Field(default=None, max_length=64)
    deal_id: Optional[str] = Field(default=None, max_length=64)
    store_id: Optional[str] = Field(default=None, max_length=64,
                                    description="self-pickup (自提) at this store")
    note: str = Field(default="", max_length=200)
    points: Optional[int] = Field(default=None, ge=0, le=100_000_000,
                                  description="points to pay with: 100 points = ¥1, at most "
                                              "POINTS_MAX_SHARE_PERCENT of the total")

    @model_validator(mode="after")
    def one_source(self) -> "PlaceOrderInput":
        if bool(self.items) == self.from_cart:
            raise ValueError("give either items or from_cart: true")
        if not self.address_id and not self.store_id:
            raise ValueError("give address_id for delivery, or store_id for self-pickup")
        return self


class OrderIdInput(Input):
    order_id: str = Field(min_length=1, max_length=64)


class ListOrdersInput(PageInput):
    status: Optional[OrderStatus] = None


class MerchantListOrdersInput(ListOrdersInput):
    user_id: Optional[str] = Field(default=None, max_length=64)


class ShipOrderInput(OrderIdInput):
    carrier: str = Field(min_length=1, max_length=32)
    tracking_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


# ---- views ---------------------------------------------------------------------------------

def order_view(doc: dict[str, Any], merchant: bool = False) -> dict[str, Any]:
    view = {
        "id": doc["_id"], "status": doc["status"],
        "items": [{k: line.get(k) for k in ("sku_id", "product_id", "title", "specs", "image",
                                            "price", "quantity", "subtotal")}
                  for line in doc["items"]],
        "goods_total": doc["goods_total"], "discount": doc.get("discount", 0),
        "level_discount": doc.get("level_discount", 0), "member_level": doc.get("member_level"),
        "points_used": doc.get("points_used", 0), "points_discount": doc.get("points_used", 0),
        "shipping_fee": doc.get("shipping_fee", 0), "total": doc["total"],
        "coupon_id": doc.get("coupon_id"), "address": doc.get("address"),
        "note": doc.get("note", ""), "deal_id": (doc.get("deal") or {}).get("deal_id"),
        "pickup": _pickup_view(doc.get("pickup")),
        "pay_deadline": iso(doc["pay_deadline"]), "created_at": iso(doc["created_at"]),
        "paid_at": iso(doc.get("paid_at")), "shipped_at": iso(doc.get("shipped_at")),
        "completed_at": iso(doc.get("completed_at")), "cancelled_at": iso(doc.get("cancelled_at")),
        "cancel_reason": doc.get("cancel_reason"), "shipment": doc.get("shipment"),
        "refunded_amount": doc.get("refunded_amount", 0),
        "refundable": doc.get("refundable", 0), "refunded_at": iso(doc.get("refunded_at")),
        "transaction_id": (doc.get("payment") or {}).get("transaction_id"),
        "request_id": doc["request_id"],
        "hold_shipping": bool(doc.get("hold_shipping")),
        "group": doc.get("group"), "bargain_id": doc.get("bargain_id"),
        "gift": bool(doc.get("gift")),
    }
    if merchant:
        view["user_id"] = doc["user_id"]
    return view


def _pickup_view(pickup: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not pickup:
        return None
    return {"store_id": pickup["store_id"], "store_name": pickup["store_name"],
            "store_address": pickup["store_address"], "code": pickup["code"],
            "picked_up_at": iso(pickup.get("picked_up_at"))}


# ---- placing -------------------------------------------------------------------------------

def _requested_lines(ctx: Any, req: PlaceOrderInput) -> list[tuple[str, int]]:
    if req.from_cart:
        rows = [(c["sku_id"], c["quantity"]) for c in ctx.db.cart_items.find(
            {"user_id": ctx.user_id, "selected": True}).sort([("added_at", 1), ("_id", 1)])]
        if not rows:
            raise ShopError("VALIDATION_ERROR", "no selected lines in the cart",
                            {"fields": [{"field": "from_cart", "message": "the cart is empty",
                                         "type": "empty_cart"}]})
    else:
        rows = [(line.sku_id, line.quantity) for line in req.items or []]
    merged: dict[str, int] = {}
    for sku_id, quantity in rows:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    if len(merged) > MAX_LINES:
        raise ShopError("LIMIT_EXCEEDED", f"at most {MAX_LINES} lines in an order")
    return list(merged.items())


def _priced_lines(db: Any, lines: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Order lines priced from the catalog; the client never says what anything costs."""
    skus = {s["_id"]: s for s in db.skus.find({"_id": {"$in": [s for s, _ in lines]}},
                                              {"product_id": 1, "specs": 1, "price": 1,
                                               "image": 1, "active": 1})}
    products = {p["_id"]: p for p in db.products.find(
        {"_id": {"$in": sorted({s["product_id"] for s in skus.values()})}},
        {"title": 1, "images": 1, "status": 1})}
    priced = []
    for sku_id, quantity in lines:
        sku = skus.get(sku_id)
        if sku is None or not sku.get("active", True):
            raise ShopError("NOT_FOUND", "sku not found", {"resource": "sku", "sku_id": sku_id})
        product = products.get(sku["product_id"])
        if product is None or product["status"] != "on_sale":
            raise ShopError("PRODUCT_UNAVAILABLE", details={"sku_id": sku_id})
        priced.append({"sku_id": sku_id, "product_id": sku["product_id"],
                       "title": product["title"], "specs": sku.get("specs", {}),
                       "image": sku.get("image") or (product.get("images") or [""])[0],
                       "price": sku["price"], "quantity": quantity,
                       "subtotal": sku["price"] * quantity, "stock": "none"})
    return priced


def _reserve_lines(db: Any, order: dict[str, Any], reserved: list[int]) -> None:
    """Take each line's units from stock into locked, noting each in ``reserved``."""
    last = len(order["items"]) - 1
    for index, line in enumerate(order["items"]):
        taken = db.skus.update_one(
            {"_id": line["sku_id"], "active": True, "stock": {"$gte": line["quantity"]}},
            {"$inc": {"stock": -line["quantity"], "locked": line["quantity"]}})
        if taken.modified_count == 0:
            sku = db.skus.find_one({"_id": line["sku_id"]}, {"stock": 1}) or {"stock": 0}
            raise ShopError("OUT_OF_STOCK", f"only {sku['stock']} left of {line['title']}",
                            {"sku_id": line["sku_id"], "available": sku["stock"],
                             "requested": line["quantity"]})
        reserved.append(index)
        if index != last:  # the last line is marked together with the order's first state
            db.orders.update_one({"_id": order["_id"]},
                                 {"$set": {f"items.{index}.stock": "locked"}})


def _undo_placement(db: Any, order: dict[str, Any], reserved: list[int]) -> None:
    for index in reserved:
        line = order["items"][index]
        db.skus.update_one({"_id": line["sku_id"]},
                           {"$inc": {"stock": line["quantity"], "locked": -line["quantity"]}})
    if order.get("coupon_id"):
        coupons.return_from_order(db, order["coupon_id"], order["_id"])
    if (order.get("deal") or {}).get("day_key"):
        nearby.give_back_daily_quantity(db, order["deal"]["day_key"], order["deal"]["quantity"])
    if order.get("points_used"):
        points.give_back_for_order(db, order["_id"])
    db.orders.delete_one({"_id": order["_id"], "status": "reserving"})


def _wait_for_placement(db: Any, user_id: str, request_id: str) -> Optional[dict[str, Any]]:
    """The order a concurrent call with this request_id is placing, once it settles."""
    for _ in range(60):
        doc = db.orders.find_one({"user_id": user_id, "request_id": request_id})
        if doc is None or doc["status"] != "reserving":
            return doc
        time.sleep(0.05)
    raise ShopError("CONFLICT", "this order is still being placed; retry in a moment")


@dataclass
class Special:
    """An order that a campaign places (group-buy, bargain, gift) rather than the catalog."""
    prices: dict[str, int]                  # sku_id -> the campaign's unit price
    fields: dict[str, Any]                  # stored on the order: group, bargain, gift, ...
    hold_shipping: bool = False             # paid, but not to ship until the campaign says so


def place_order(ctx: Any, req: PlaceOrderInput,
                special: Optional[Special] = None) -> dict[str, Any]:
    from shared.core.db import duplicate_key_error
    for _ in range(3):
        existing = _wait_for_placement(ctx.db, ctx.user_id, req.request_id)
        if existing is not None:
            return order_view(existing)
        try:
            return _place(ctx, req, special)
        except duplicate_key_error():
            continue  # a retry of the same request won the race: answer with its order
    raise ShopError("CONFLICT", "this order is still being placed; retry in a moment")


def find_by_request(db: Any, user_id: str, request_id: str) -> Optional[dict[str, Any]]:
    return db.orders.find_one({"user_id": user_id, "request_id": request_id,
                               "status": {"$ne": "reserving"}})


def _apply_deal(ctx: Any, req: PlaceOrderInput, lines: list[dict[str, Any]]) \
        -> Optional[dict[str, Any]]:
    """Price the deal's SKU at the deal price; the daily quantity is taken later."""
    if not req.deal_id:
        return None
    deal = nearby.deal_for_order(ctx.db, req.deal_id, [l["sku_id"] for l in lines],
                                 req.store_id, ctx.now)
    line = next(l for l in lines if l["sku_id"] == deal["sku_id"])
    line.update(price=deal["deal_price"], subtotal=deal["deal_price"] * line["quantity"])
    return {"deal_id": deal["_id"], "quantity": line["quantity"], "day_key": None,
            "daily_quantity": deal.get("daily_quantity"), "doc": deal}


def _fulfilment(ctx: Any, req: PlaceOrderInput) -> dict[str, Any]:
    if req.store_id:
        store = nearby.pickup_store(ctx.db, req.store_id)
        return {"address": None, "pickup": {
            "store_id": store["_id"], "store_name": store["name"],
            "store_address": store["address"], "code": f"{secrets.randbelow(10 ** 8):08d}"}}
    address = find_owned(ctx.db, ctx.user_id, req.address_id or "")
    return {"address": {f: address.get(f, "") for f in SNAPSHOT_FIELDS}, "pickup": None}


def _apply_special(special: Optional[Special], lines: list[dict[str, Any]]) -> None:
    for line in lines:
        if special and line["sku_id"] in special.prices:
            line.update(price=special.prices[line["sku_id"]],
                        subtotal=special.prices[line["sku_id"]] * line["quantity"])


def _member_prices(ctx: Any, req: PlaceOrderInput, order: dict[str, Any],
                   member_goods: int, level: dict[str, Any]) -> None:
    """The level discount on the catalog-priced goods, then the cap on points; at least one
    fen is always left to pay (the points themselves are taken last, see _place)."""
    off = member_goods * level["discount_percent"] // 100
    order["level_discount"] = max(0, min(off, order["total"] - 1))
    order["total"] -= order["level_discount"]
    if req.points:
        cap = order["total"] * ctx.settings.POINTS_MAX_SHARE_PERCENT // 100
        if req.points > cap:
            raise ShopError("LIMIT_EXCEEDED", f"at most {cap} points can pay for this order",
                            {"max_points": cap, "requested": req.points})


def _place(ctx: Any, req: PlaceOrderInput, special: Optional[Special] = None) -> dict[str, Any]:
    from shared.loyalty.members import checkout_level
    db = ctx.db
    lines = _priced_lines(db, _requested_lines(ctx, req))
    _apply_special(special, lines)
    deal = _apply_deal(ctx, req, lines)
    fulfilment = _fulfilment(ctx, req)
    goods_total = sum(line["subtotal"] for line in lines)
    # the member's level discount is for catalog prices; campaign and deal prices are final
    campaign_priced = set(special.prices if special else ()) | \
        ({deal["doc"]["sku_id"]} if deal else set())
    member_goods = sum(l["subtotal"] for l in lines if l["sku_id"] not in campaign_priced)
    level = checkout_level(db, ctx.user_id)
    # coupon_id is written before the coupon is bound, so that if the instance dies after
    # binding it, the reconciler knows which coupon to give back (the return is conditional
    # on the coupon being bound to this order, so naming one that never was is harmless)
    order = {"_id": new_id("ord"), "user_id": ctx.user_id, "request_id": req.request_id,
             "status": "reserving", "items": lines, "goods_total": goods_total, "discount": 0,
             "shipping_fee": 0, "total": goods_total, "coupon_id": req.coupon_id,
             "member_level": level["name"], "level_discount": 0,
             # like coupon_id, written before the points are taken (see _undo_placement)
             "points_used": req.points or 0,
             **fulfilment, "note": req.note, "created_at": ctx.now,
             "deal": {k: v for k, v in deal.items() if k != "doc"} if deal else None,
             "pay_deadline": ctx.now + timedelta(seconds=ctx.settings.ORDER_PAY_TIMEOUT_SECONDS),
             **(special.fields if special else {}),
             "hold_shipping": bool(special and special.hold_shipping),
             "attribution": _attribution(ctx)}
    db.orders.insert_one(order)  # the unique (user_id, request_id) makes a retry collide here
    reserved: list[int] = []
    try:
        if req.coupon_id:
            discount = coupons.use_for_order(db, ctx.user_id, req.coupon_id, order["_id"],
                                             goods_total, ctx.now, lines)
            order.update(coupon_id=req.coupon_id, discount=discount,
                         total=goods_total - discount)
        _member_prices(ctx, req, order, member_goods, level)
        if deal:
            order["deal"]["day_key"] = nearby.take_daily_quantity(db, deal["doc"],
                                                                  deal["quantity"], ctx.now)
        _reserve_lines(db, order, reserved)
        if req.points:
            # last, so that a line out of stock does not write a spend and its return
            points.spend_for_order(db, ctx.user_id, order["_id"], req.points, ctx.now)
            order["total"] -= req.points
    except BaseException:
        _undo_placement(db, order, reserved)
        raise
    for line in order["items"]:
        line["stock"] = "locked"
    db.orders.update_one({"_id": order["_id"], "status": "reserving"},
                         {"$set": {"status": "pending_payment", "items": order["items"],
                                   "coupon_id": order["coupon_id"], "discount": order["discount"],
                                   "level_discount": order["level_discount"],
                                   "total": order["total"], "deal": order["deal"]}})
    order["status"] = "pending_payment"
    if req.from_cart:
        db.cart_items.delete_many({"user_id": ctx.user_id,
                                   "sku_id": {"$in": [line["sku_id"] for line in lines]}})
    if order["total"] == 0:
        # a gift: nothing to pay, so it is paid now
        return order_view(settle_paid(db, order["_id"], ctx.now, {"payment.method": "free"}))
    return order_view(order)


def _attribution(ctx: Any) -> Optional[dict[str, Any]]:
    """The share that last brought this shopper here (within 7 days), for fission reports."""
    user = ctx.db.users.find_one({"_id": ctx.user_id}, {"last_share": 1})
    touch = (user or {}).get("last_share")
    if not touch or touch["at"] < ctx.now - timedelta(days=7):
        return None
    return {"share_id": touch["share_id"], "sharer_id": touch["sharer_id"]}


def settle_paid(db: Any, order_id: str, now: datetime,
                payment_fields: dict[str, Any]) -> Optional[dict[str, Any]]:
    """pending_payment -> paid exactly once: units sold, refundable set, campaigns told.

    None when the order was not pending payment (a duplicate, or cancelled meanwhile)."""
    from pymongo import ReturnDocument
    from shared.core import events as order_events
    order = db.orders.find_one({"_id": order_id}, {"items.quantity": 1, "total": 1})
    if order is None:
        return None
    paid = db.orders.find_one_and_update(
        {"_id": order_id, "status": "pending_payment"},
        {"$set": {**payment_fields, "status": "paid", "paid_at": now,
                  "refundable": order["total"],
                  **{f"items.{i}.refundable_qty": line["quantity"]
                     for i, line in enumerate(order["items"])}}},
        return_document=ReturnDocument.AFTER)
    if paid is not None:
        _move_lines(db, paid, "sold")
        order_events.paid(db, paid, now)
    return paid


# ---- moving units between stock, locked and sold -------------------------------------------

def _move_lines(db: Any, order: dict[str, Any], to: str) -> int:
    """Release (to="released") or sell (to="sold") every locked line of the order, once."""
    moved = 0
    for index, line in enumerate(order["items"]):
        claimed = db.orders.update_one({"_id": order["_id"], f"items.{index}.stock": "locked"},
                                       {"$set": {f"items.{index}.stock": to}})
        if claimed.modified_count == 0:
            continue
        quantity = line["quantity"]
        if to == "released":
            db.skus.update_one({"_id": line["sku_id"]},
                               {"$inc": {"stock": quantity, "locked": -quantity}})
        else:
            db.skus.update_one({"_id": line["sku_id"]},
                               {"$inc": {"locked": -quantity, "sold": quantity}})
            db.products.update_one({"_id": line["product_id"]}, {"$inc": {"sales": quantity}})
        moved += 1
    return moved


def release_order(db: Any, order: dict[str, Any]) -> None:
    """Give a cancelled order's units back to stock, its coupon to the wallet, its points."""
    _move_lines(db, order, "released")
    if order.get("coupon_id"):
        coupons.return_from_order(db, order["coupon_id"], order["_id"])
    if order.get("points_used"):
        points.give_back_for_order(db, order["_id"])
    if (order.get("deal") or {}).get("day_key"):
        nearby.give_back_daily_quantity(db, order["deal"]["day_key"], order["deal"]["quantity"])


def _transition(db: Any, query: dict[str, Any], status_from: str, changes: dict[str, Any]) \
        -> Optional[dict[str, Any]]:
    from pymongo import ReturnDocument
    return db.orders.find_one_and_update({**query, "status": status_from}, {"$set": changes},
                                         return_document=ReturnDocument.AFTER)


def _owned(db: Any, user_id: str, order_id: str) -> dict[str, Any]:
    doc = db.orders.find_one({"_id": order_id, "user_id": user_id,
                              "status": {"$in": VISIBLE_STATUSES}})
    if doc is None:
        raise not_found("order")
    return doc


def _refuse(doc: dict[str, Any], wanted: str) -> ShopError:
    return ShopError("INVALID_STATE", f"the order is {doc['status']}, it cannot be {wanted}",
                     {"status": doc["status"]})


def cancel(db: Any, order_id: str, now: datetime, reason: str,
           extra_query: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    """Cancel an unpaid order and release what it holds; None if it was not unpaid."""
    from shared.core import events as order_events
    doc = _transition(db, {"_id": order_id, **(extra_query or {})}, "pending_payment",
                      {"status": "cancelled", "cancelled_at": now, "cancel_reason": reason})
    if doc is not None:
        release_order(db, doc)
        order_events.cancelled(db, doc, now)
    return doc


# ---- shopper actions -----------------------------------------------------------------------

def get_order(ctx: Any, req: OrderIdInput) -> dict[str, Any]:
    return order_view(_owned(ctx.db, ctx.user_id, req.order_id))


def _list_orders(ctx: Any, req: ListOrdersInput, query: dict[str, Any],
                 merchant: bool) -> dict[str, Any]:
    query["status"] = req.status or {"$in": VISIBLE_STATUSES}
    docs = ctx.db.orders.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([order_view(d, merchant) for d in docs],
                   ctx.db.orders.count_documents(query), req)


def list_orders(ctx: Any, req: ListOrdersInput) -> dict[str, Any]:
    return _list_orders(ctx, req, {"user_id": ctx.user_id}, merchant=False)


def cancel_order(ctx: Any, req: OrderIdInput) -> dict[str, Any]:
    from shared.payments.pay import settle_before_cancel
    doc = _owned(ctx.db, ctx.user_id, req.order_id)
    if doc["status"] == "pending_payment" and settle_before_cancel(ctx, doc) == "paid":
        raise _refuse(_owned(ctx.db, ctx.user_id, req.order_id), "cancelled")
    # "unknown" (WeChat Pay unreachable) still cancels: a late payment is refunded in full
    cancelled = cancel(ctx.db, doc["_id"], ctx.now, "user", {"user_id": ctx.user_id})
    if cancelled is not None:
        return order_view(cancelled)
    doc = _owned(ctx.db, ctx.user_id, req.order_id)
    if doc["status"] == "cancelled":
        return order_view(doc)  # cancelling twice is the same as once
    raise _refuse(doc, "cancelled")


def confirm_receipt(ctx: Any, req: OrderIdInput) -> dict[str, Any]:
    doc = _owned(ctx.db, ctx.user_id, req.order_id)
    done = _transition(ctx.db, {"_id": doc["_id"], "user_id": ctx.user_id}, "shipped",
                       {"status": "completed", "completed_at": ctx.now})
    if done is not None:
        return order_view(done)
    doc = _owned(ctx.db, ctx.user_id, req.order_id)
    if doc["status"] == "completed":
        return order_view(doc)
    raise _refuse(doc, "received")


# ---- merchant actions ----------------------------------------------------------------------

def _any(db: Any, order_id: str) -> dict[str, Any]:
    doc = db.orders.find_one({"_id": order_id, "status": {"$in": VISIBLE_STATUSES}})
    if doc is None:
        raise not_found("order")
    return doc


def merchant_list_orders(ctx: Any, req: MerchantListOrdersInput) -> dict[str, Any]:
    query = {"user_id": req.user_id} if req.user_id else {}
    return _list_orders(ctx, req, query, merchant=True)


def merchant_get_order(ctx: Any, req: OrderIdInput) -> dict[str, Any]:
    return order_view(_any(ctx.db, req.order_id), merchant=True)


def ship_order(ctx: Any, req: ShipOrderInput) -> dict[str, Any]:
    shipment = {"carrier": req.carrier, "tracking_no": req.tracking_no}
    # a group-buy order waits for its team: hold_shipping is cleared when the team succeeds
    done = _transition(ctx.db, {"_id": req.order_id, "hold_shipping": {"$ne": True}}, "paid",
                       {"status": "shipped", "shipped_at": ctx.now, "shipment": shipment})
    if done is not None:
        return order_view(done, merchant=True)
    doc = _any(ctx.db, req.order_id)
    if doc["status"] == "shipped" and doc.get("shipment") == shipment:
        return order_view(doc, merchant=True)
    if doc["status"] == "paid" and doc.get("hold_shipping"):
        raise ShopError("INVALID_STATE", "the order waits for its group-buy team to fill",
                        {"status": "paid", "hold_shipping": True})
    raise _refuse(doc, "shipped")


def mark_paid(ctx: Any, req: OrderIdInput) -> dict[str, Any]:
    """Dev/test stand-in for a payment notify: pending_payment -> paid, units sold."""
    _any(ctx.db, req.order_id)
    done = settle_paid(ctx.db, req.order_id, ctx.now, {"payment.method": "dev"})
    if done is not None:
        return order_view(done, merchant=True)
    doc = _any(ctx.db, req.order_id)
    if doc["status"] == "paid":
        return order_view(doc, merchant=True)
    raise _refuse(doc, "paid")


# ---- timer: order_timeout ------------------------------------------------------------------

def _cancel_expired(ctx: Any, order_id: str) -> bool:
    """Cancel one expired order, unless WeChat Pay took (or may have taken) its payment."""
    from shared.payments.pay import settle_before_cancel
    order = ctx.db.orders.find_one({"_id": order_id, "status": "pending_payment"})
    if order is None or settle_before_cancel(ctx, order) != "closed":
        return False  # paid meanwhile, or WeChat Pay cannot say: the next run asks again
    return cancel(ctx.db, order_id, ctx.now, "timeout",
                  {"pay_deadline": {"$lte": ctx.now}}) is not None


def cancel_expired_orders(ctx: Any) -> dict[str, int]:
    """Cancel unpaid orders past their deadline; repair placements and cancels a crash cut."""
    db, batch = ctx.db, ctx.settings.TIMER_BATCH_SIZE
    expired = [d["_id"] for d in db.orders.find(
        {"status": "pending_payment", "pay_deadline": {"$lte": ctx.now}}, {"_id": 1})
        .sort([("pay_deadline", 1)]).limit(batch)]
    cancelled = sum(1 for order_id in expired if _cancel_expired(ctx, order_id))
    abandoned = 0
    for doc in db.orders.find({"status": "reserving",
                               "created_at": {"$lte": ctx.now - STALE_PLACEMENT}}).limit(batch):
        stale = _transition(db, {"_id": doc["_id"]}, "reserving",
                            {"status": "failed", "cancelled_at": ctx.now,
                             "cancel_reason": "placement_interrupted"})
        if stale is not None:
            release_order(db, stale)
            abandoned += 1
    repaired = 0
    for doc in db.orders.find({"status": {"$in": ["cancelled", "failed"]},
                               "items.stock": "locked"}).limit(batch):
        repaired += 1 if _move_lines(db, doc, "released") else 0
    return {"cancelled": cancelled, "abandoned": abandoned, "repaired": repaired,
            "more": len(expired) == batch}
