"""Orders after placement: views, paid, cancelled and released, shipped, received, repaired.

No transactions: every step is a conditional update on the current state, so a duplicate or
late call finds nothing to change. Stock per SKU is ``stock`` (for sale), ``locked`` (held by
unpaid orders) and ``sold``; their sum changes only when the merchant restocks.

Each order line records where its units are (``stock``: none -> locked -> sold | released),
and a line moves by a conditional update on the order before the SKU is touched, so a unit is
never released or sold twice. A crash between the two steps errs on the safe side: units stay
locked (never oversold) and ``repair_placements`` (timer order_timeout) cleans up what it can.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import Field
from pymongo import ReturnDocument

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.context import Context, Database
from shared.core.errors import ShopError, not_found
from shared.core.events import owe
from shared.orders.aftermath import deliver_due, finish_paid, move_lines

__all__ = ["move_lines"]

STALE_PLACEMENT = timedelta(minutes=10)   # the timer gives up a placement this old
# a retry of the same request gives up a placement this old: its instance is dead (a function
# times out long before)
PLACEMENT_DEADLINE = timedelta(seconds=60)
VISIBLE_STATUSES = ["pending_payment", "paid", "shipped", "completed", "cancelled",
                    "refunding", "refunded"]
# what an order can be once paid (the reconcilers' repairs look for locked lines among these)
PAID_STATUSES = ["paid", "shipped", "completed", "refunding", "refunded"]
OrderStatus = Literal["pending_payment", "paid", "shipped", "completed", "cancelled",
                      "refunding", "refunded"]


class OrderIdInput(Input):
    order_id: str = Field(min_length=1, max_length=64)


class ListOrdersInput(PageInput):
    status: Optional[OrderStatus] = None


class MerchantListOrdersInput(ListOrdersInput):
    user_id: Optional[str] = Field(default=None, max_length=64)


class Shipment(Input):
    """A parcel on its way: to the shopper (shipping) or back to the shop (a return)."""
    carrier: str = Field(min_length=1, max_length=32)
    tracking_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class LineBatch(Input):
    """The trace batch (shared.trace) the units of one order line were taken from."""
    sku_id: str = Field(min_length=1, max_length=64)
    batch_id: str = Field(min_length=1, max_length=64)


class ShipOrderInput(OrderIdInput, Shipment):
    # optional: each line's batch, so that the shopper's order links to its trace
    batches: Optional[list[LineBatch]] = Field(default=None, max_length=100)


# ---- views ---------------------------------------------------------------------------------

def order_view(doc: dict[str, Any], merchant: bool = False) -> dict[str, Any]:
    view = {
        "id": doc["_id"], "status": doc["status"],
        "items": [{**{k: line.get(k) for k in ("sku_id", "product_id", "title", "specs",
                                               "image", "price", "quantity", "subtotal")},
                   "trace": line.get("trace")}   # {batch_id, code, batch_no} once shipped
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
        "source": doc.get("source"), "community": doc.get("community"),
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


def settle_paid(db: Database, order_id: str, now: datetime, payment_fields: dict[str, Any],
                read: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    """pending_payment -> paid exactly once: units sold, refundable set, order_paid owed.

    The same update records ``order_paid`` as due; its subscribers run after the answer
    (``shared.orders.aftermath``), except the few that must run inside the transition.
    None when the order was not pending payment (a duplicate, or cancelled meanwhile).

    ``read``: the order as the caller read it, which spares a round trip when it was pending
    payment then: its total and lines were final (placement's confirm set them with that
    status, and nothing changes them while it holds)."""
    order = read if read is not None and read.get("status") == "pending_payment" else \
        db.orders.find_one({"_id": order_id}, {"items.quantity": 1, "total": 1})
    if order is None:
        return None
    paid = db.orders.find_one_and_update(
        {"_id": order_id, "status": "pending_payment"},
        {"$set": {**payment_fields, "status": "paid", "paid_at": now,
                  "refundable": order["total"],
                  **{f"items.{i}.refundable_qty": line["quantity"]
                     for i, line in enumerate(order["items"])}},
         "$push": owe(now, "order_paid")},
        return_document=ReturnDocument.AFTER)
    if paid is not None:
        finish_paid(db, paid, now)
    return paid


def deliver_owed(db: Database, order_id: str) -> list[str]:
    """Deliver now what an order still owes (a notify retried after a death); the names."""
    order = db.orders.find_one({"_id": order_id, "events_due.0": {"$exists": True}})
    return deliver_due(db, order) if order is not None else []


def _transition(db: Database, query: dict[str, Any], status_from: str, changes: dict[str, Any],
                push: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    update: dict[str, Any] = {"$set": changes}
    if push:
        update["$push"] = push
    return db.orders.find_one_and_update({**query, "status": status_from}, update,
                                         return_document=ReturnDocument.AFTER)


def owned_order(db: Database, user_id: str, order_id: str) -> dict[str, Any]:
    doc = db.orders.find_one({"_id": order_id, "user_id": user_id,
                              "status": {"$in": VISIBLE_STATUSES}})
    if doc is None:
        raise not_found("order")
    return doc


def refuse(doc: dict[str, Any], wanted: str) -> ShopError:
    return ShopError("INVALID_STATE", f"the order is {doc['status']}, it cannot be {wanted}",
                     {"status": doc["status"]})


def cancel(db: Database, order_id: str, now: datetime, reason: str,
           extra_query: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    """Cancel an unpaid order and release what it holds; None if it was not unpaid."""
    doc = _transition(db, {"_id": order_id, **(extra_query or {})}, "pending_payment",
                      {"status": "cancelled", "cancelled_at": now, "cancel_reason": reason},
                      owe(now, "order_released", "order_cancelled"))
    if doc is not None:
        # units and coupon back, then what other areas held (order_released), then the
        # campaigns (order_cancelled); owed until done, so the order_events timer finishes it
        deliver_due(db, doc)
    return doc


# ---- shopper actions -----------------------------------------------------------------------

def get_order(ctx: Context, req: OrderIdInput) -> dict[str, Any]:
    return order_view(owned_order(ctx.db, ctx.shopper_id, req.order_id))


def _list_orders(ctx: Context, req: ListOrdersInput, query: dict[str, Any],
                 merchant: bool) -> dict[str, Any]:
    query["status"] = req.status or {"$in": VISIBLE_STATUSES}
    docs = ctx.db.orders.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([order_view(d, merchant) for d in docs],
                   ctx.db.orders.count_documents(query), req)


def list_orders(ctx: Context, req: ListOrdersInput) -> dict[str, Any]:
    return _list_orders(ctx, req, {"user_id": ctx.user_id}, merchant=False)


def confirm_receipt(ctx: Context, req: OrderIdInput) -> dict[str, Any]:
    doc = owned_order(ctx.db, ctx.shopper_id, req.order_id)
    done = _transition(ctx.db, {"_id": doc["_id"], "user_id": ctx.user_id}, "shipped",
                       {"status": "completed", "completed_at": ctx.now})
    if done is not None:
        return order_view(done)
    doc = owned_order(ctx.db, ctx.shopper_id, req.order_id)
    if doc["status"] == "completed":
        return order_view(doc)
    raise refuse(doc, "received")


# ---- merchant actions ----------------------------------------------------------------------

def _any(db: Database, order_id: str) -> dict[str, Any]:
    doc = db.orders.find_one({"_id": order_id, "status": {"$in": VISIBLE_STATUSES}})
    if doc is None:
        raise not_found("order")
    return doc


def merchant_list_orders(ctx: Context, req: MerchantListOrdersInput) -> dict[str, Any]:
    query = {"user_id": req.user_id} if req.user_id else {}
    return _list_orders(ctx, req, query, merchant=True)


def merchant_get_order(ctx: Context, req: OrderIdInput) -> dict[str, Any]:
    return order_view(_any(ctx.db, req.order_id), merchant=True)


def _line_traces(ctx: Context, order_id: str, batches: list[LineBatch]) -> dict[str, Any]:
    """The ``items.<i>.trace`` fields the shipment sets: each batch checked to exist and to be
    of its line's SKU."""
    from shared.trace.lines import traces_of
    doc = _any(ctx.db, order_id)
    lines = {line["sku_id"]: index for index, line in enumerate(doc["items"])}
    found = traces_of(ctx.db, [b.batch_id for b in batches])
    fields: dict[str, Any] = {}
    for position, given in enumerate(batches):
        trace = found.get(given.batch_id)
        problem = ("not a line of this order" if given.sku_id not in lines else
                   "no such trace batch" if trace is None else
                   "the batch is of another SKU" if trace["sku_id"] != given.sku_id else None)
        if problem or trace is None:
            raise ShopError("VALIDATION_ERROR", f"batches[{position}]: {problem}",
                            {"fields": [{"field": f"batches.{position}", "type": "invalid",
                                         "message": problem}]})
        fields[f"items.{lines[given.sku_id]}.trace"] = {
            k: trace[k] for k in ("batch_id", "code", "batch_no")}
    return fields


def ship_order(ctx: Context, req: ShipOrderInput) -> dict[str, Any]:
    """Ship a paid order (carrier and tracking number), optionally naming each line's trace
    batch: the shopper's order then links every such line to its trace."""
    shipment = {"carrier": req.carrier, "tracking_no": req.tracking_no}
    traces = _line_traces(ctx, req.order_id, req.batches) if req.batches else {}
    # a group-buy order waits for its team: hold_shipping is cleared when the team succeeds
    done = _transition(ctx.db, {"_id": req.order_id, "hold_shipping": {"$ne": True}}, "paid",
                       {"status": "shipped", "shipped_at": ctx.now, "shipment": shipment,
                        **traces})
    if done is not None:
        return order_view(done, merchant=True)
    doc = _any(ctx.db, req.order_id)
    if doc["status"] == "shipped" and doc.get("shipment") == shipment and all(
            doc["items"][int(path.split(".")[1])].get("trace") == trace
            for path, trace in traces.items()):
        return order_view(doc, merchant=True)
    if doc["status"] == "paid" and doc.get("hold_shipping"):
        raise ShopError("INVALID_STATE", "the order waits for its group-buy team to fill",
                        {"status": "paid", "hold_shipping": True})
    raise refuse(doc, "shipped")


def mark_paid(ctx: Context, req: OrderIdInput) -> dict[str, Any]:
    """Dev/test stand-in for a payment notify: pending_payment -> paid, units sold."""
    doc = _any(ctx.db, req.order_id)
    done = settle_paid(ctx.db, req.order_id, ctx.now, {"payment.method": "dev"}, doc)
    if done is not None:
        return order_view(done, merchant=True)
    doc = _any(ctx.db, req.order_id)
    if doc["status"] == "paid":
        deliver_owed(ctx.db, req.order_id)  # a retry after a death finishes the aftermath
        return order_view(doc, merchant=True)
    raise refuse(doc, "paid")


# ---- repairs (the order_timeout timer) ----------------------------------------------------

def abandon_placement(db: Database, order_id: str, now: datetime) -> Optional[dict[str, Any]]:
    """reserving -> failed for a placement whose instance died; what it took comes back
    (``order_released``, owed until delivered). None if it was no longer reserving."""
    stale = _transition(db, {"_id": order_id}, "reserving",
                        {"status": "failed", "cancelled_at": now,
                         "cancel_reason": "placement_interrupted"},
                        owe(now, "order_released"))
    if stale is not None:
        deliver_due(db, stale)
        return db.orders.find_one({"_id": order_id})
    return None


def repair_placements(ctx: Context) -> dict[str, int]:
    """Give up placements a crash cut short (their units, coupon and holds come back through
    ``order_released``), and release locked lines of ended orders that a crash left behind."""
    db, batch = ctx.db, ctx.settings.TIMER_BATCH_SIZE
    abandoned = 0
    for doc in db.orders.find({"status": "reserving",
                               "created_at": {"$lte": ctx.now - STALE_PLACEMENT}}).limit(batch):
        if abandon_placement(db, doc["_id"], ctx.now) is not None:
            abandoned += 1
    repaired = 0
    for doc in db.orders.find({"status": {"$in": ["cancelled", "failed"]},
                               "items.stock": "locked"}).limit(batch):
        repaired += 1 if move_lines(db, doc, "released") else 0
    return {"abandoned": abandoned, "repaired": repaired}
