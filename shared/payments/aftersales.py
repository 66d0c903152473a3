"""After-sales (售后): refund only, or return and refund, reviewed by the merchant.

States: ``pending_review -> refunding -> refunded`` (refund only, approved);
``pending_review -> awaiting_return -> return_shipped -> refunding -> refunded`` (return);
``pending_review -> rejected``; ``pending_review | awaiting_return -> cancelled`` (by the
shopper); ``refunding -> refund_failed`` when WeChat Pay refuses the refund.
The amount and quantities are reserved on the order when the request is made, so two
requests (or two approvals) can never refund more than was paid.

An instance can die between any two writes. A request is recorded first (``requesting``),
then reserves under its own id, then opens for review; a retry with the same ``request_id``,
or ``reconcile_after_sales`` (run by ``pay_reconcile``), finishes it. A withdrawal or a
rejection marks the reservation ``release_due`` with the move; an approval that died before
its refund was recorded is sent by approving again or by the same reconciler.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, StringConstraints

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.orders.lifecycle import Shipment
from shared.orders.placement import MAX_LINES, OrderLineInput
from shared.payments import refunds
from shared.storage.uploads import verify_uploads

AfterSaleStatus = Literal["requesting", "pending_review", "awaiting_return", "return_shipped",
                          "refunding", "refunded", "rejected", "cancelled", "refund_failed"]
WITHDRAWABLE = ["pending_review", "awaiting_return"]


class RequestAfterSaleInput(Input):
    order_id: str = Field(min_length=1, max_length=64)
    type: Literal["refund_only", "return_refund"]
    items: Optional[list[OrderLineInput]] = Field(default=None, min_length=1,
                                                  max_length=MAX_LINES)
    reason: str = Field(min_length=1, max_length=200)
    # upload keys (or their file_url) from get_upload_url, purpose after_sale
    images: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        default_factory=list, max_length=9)
    request_id: Optional[str] = Field(default=None, min_length=8, max_length=64,
                                      pattern=r"^[A-Za-z0-9_.:-]+$",
                                      description="a retry with it makes one after-sale")


class AfterSaleIdInput(Input):
    after_sale_id: str = Field(min_length=1, max_length=64)


class ListAfterSalesInput(PageInput):
    status: Optional[AfterSaleStatus] = None


class MerchantListAfterSalesInput(ListAfterSalesInput):
    order_id: Optional[str] = Field(default=None, max_length=64)


class ReturnShipmentInput(AfterSaleIdInput, Shipment):
    pass


class ReviewAfterSaleInput(AfterSaleIdInput):
    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=200)


def after_sale_view(doc: dict[str, Any], merchant: bool = False) -> dict[str, Any]:
    view = {"id": doc["_id"], "order_id": doc["order_id"], "type": doc["type"],
            "status": doc["status"], "items": doc["lines"], "amount": doc["amount"],
            "reason": doc["reason"], "images": doc.get("images", []),
            "merchant_note": doc.get("merchant_note", ""),
            "return_shipment": doc.get("return_shipment"), "refund_id": doc.get("refund_id"),
            "failure": doc.get("failure"), "created_at": iso(doc["created_at"]),
            "updated_at": iso(doc.get("updated_at"))}
    if merchant:
        view["user_id"] = doc["user_id"]
    return view


# ---- the shopper's side --------------------------------------------------------------------

def _check_window(ctx: Context, order: dict[str, Any], kind: str) -> None:
    if order["status"] not in ("paid", "shipped", "completed"):
        raise ShopError("INVALID_STATE", f"an order that is {order['status']} has no after-sale",
                        {"status": order["status"]})
    if order.get("hold_shipping"):
        # a group-buy seat is refunded by its team's outcome, not by an after-sale
        raise ShopError("INVALID_STATE", "the order waits for its group-buy team",
                        {"status": order["status"], "hold_shipping": True})
    if kind == "return_refund" and order["status"] == "paid":
        raise ShopError("INVALID_STATE", "nothing was shipped to return; ask for a refund only",
                        {"status": order["status"]})
    if order["status"] == "completed":
        closes = order["completed_at"] + timedelta(days=ctx.settings.RETURN_WINDOW_DAYS)
        if ctx.now > closes:
            raise ShopError("INVALID_STATE", "the after-sale window of this order has closed",
                            {"closed_at": iso(closes)})


def _requested_lines(order: dict[str, Any], req: RequestAfterSaleInput) -> list[dict[str, Any]]:
    remaining = {line["sku_id"]: line.get("refundable_qty", 0) for line in order["items"]}
    if not req.items:
        return [{"sku_id": s, "quantity": q} for s, q in remaining.items() if q > 0]
    merged: dict[str, int] = {}
    for line in req.items:
        if line.sku_id not in remaining:
            raise ShopError("VALIDATION_ERROR", "that product is not in the order",
                            {"fields": [{"field": "items.sku_id", "message": line.sku_id,
                                         "type": "not_in_order"}]})
        merged[line.sku_id] = merged.get(line.sku_id, 0) + line.quantity
    return [{"sku_id": s, "quantity": q} for s, q in merged.items()]


def _amount(order: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    """Fen to give back: the lines' share of what was paid; the whole remainder when all of it."""
    asked = {l["sku_id"]: l["quantity"] for l in lines}
    everything = all(asked.get(line["sku_id"], 0) == line.get("refundable_qty", 0)
                     for line in order["items"])
    return order.get("refundable", 0) if everything else refunds.line_amounts(order, lines)


def _request_id(ctx: Context, req: RequestAfterSaleInput) -> str:
    """The after-sale's id; it follows from the request_id, so a retry finds what it made."""
    if not req.request_id:
        return new_id("afs")
    digest = hashlib.sha256(f"{ctx.user_id}:{req.request_id}".encode()).hexdigest()[:20]
    return f"afs_{digest}"


def _refused(order: dict[str, Any]) -> ShopError:
    return ShopError("REFUND_EXCEEDS_PAID", "these items are already refunded or requested",
                     {"refundable": order.get("refundable", 0)})


def request_after_sale(ctx: Context, req: RequestAfterSaleInput) -> dict[str, Any]:
    from pymongo.errors import DuplicateKeyError
    after_sale_id = _request_id(ctx, req)
    doc = ctx.db.after_sales.find_one({"_id": after_sale_id, "user_id": ctx.user_id})
    if doc is None:
        order = ctx.db.orders.find_one({"_id": req.order_id, "user_id": ctx.user_id})
        if order is None or order["status"] in ("reserving", "failed"):
            raise not_found("order")
        _check_window(ctx, order, req.type)
        lines = _requested_lines(order, req)
        amount = _amount(order, lines)
        if not lines or amount <= 0 or order.get("refundable", 0) < amount:
            raise _refused(order)
        image_keys = verify_uploads(ctx, req.images, "after_sale")
        titles = {line["sku_id"]: line["title"] for line in order["items"]}
        doc = {"_id": after_sale_id, "user_id": ctx.user_id, "order_id": order["_id"],
               "type": req.type, "status": "requesting", "amount": amount,
               "reason": req.reason, "lines": [{**l, "title": titles[l["sku_id"]]} for l in lines],
               "images": req.images, "image_keys": image_keys, "created_at": ctx.now,
               "updated_at": ctx.now}
        try:
            ctx.db.after_sales.insert_one(doc)
        except DuplicateKeyError:  # the same request, concurrently
            doc = _owned(ctx, after_sale_id)
    if doc["order_id"] != req.order_id:
        raise ShopError("CONFLICT", "this request_id was used for another after-sale")
    if doc["status"] == "requesting":
        done = _complete_request(ctx.db, doc, ctx.now)
        if done is None:
            raise _refused(ctx.db.orders.find_one({"_id": doc["order_id"]}) or {})
        doc = done
    return after_sale_view(doc)


def _complete_request(db: Any, doc: dict[str, Any], now: datetime) -> Optional[dict[str, Any]]:
    """Reserve what a recorded request asks for and open it for review; each step is keyed by
    the after-sale's id, so finishing it again (a retry, the reconciler) takes nothing twice.
    None, and the request is gone, when what it asks for was taken meanwhile."""
    from pymongo import ReturnDocument
    order = db.orders.find_one({"_id": doc["order_id"]})
    lines = [{"sku_id": l["sku_id"], "quantity": l["quantity"]} for l in doc["lines"]]
    if order is None or not refunds.reserve(db, order, doc["amount"], lines, doc["_id"]):
        db.after_sales.delete_one({"_id": doc["_id"], "status": "requesting"})
        return None
    refunds.take_leftover(db, doc["order_id"], doc["_id"])
    amount = refunds.held(db, doc["order_id"], doc["_id"])
    opened = db.after_sales.find_one_and_update(
        {"_id": doc["_id"], "status": "requesting"},
        {"$set": {"status": "pending_review", "amount": amount, "updated_at": now}},
        return_document=ReturnDocument.AFTER)
    return opened or db.after_sales.find_one({"_id": doc["_id"]})


def _owned(ctx: Context, after_sale_id: str) -> dict[str, Any]:
    doc = ctx.db.after_sales.find_one({"_id": after_sale_id, "user_id": ctx.user_id})
    if doc is None:
        raise not_found("after-sale")
    return doc


def get_after_sale(ctx: Context, req: AfterSaleIdInput) -> dict[str, Any]:
    return after_sale_view(_owned(ctx, req.after_sale_id))


def _list(ctx: Context, query: dict[str, Any], req: ListAfterSalesInput,
          merchant: bool) -> dict[str, Any]:
    if req.status:
        query["status"] = req.status
    docs = ctx.db.after_sales.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([after_sale_view(d, merchant) for d in docs],
                   ctx.db.after_sales.count_documents(query), req)


def list_after_sales(ctx: Context, req: ListAfterSalesInput) -> dict[str, Any]:
    return _list(ctx, {"user_id": ctx.user_id}, req, merchant=False)


def _move(ctx: Context, query: dict[str, Any], from_status: Any, changes: dict[str, Any]) \
        -> Optional[dict[str, Any]]:
    from pymongo import ReturnDocument
    wanted = {"$in": from_status} if isinstance(from_status, list) else from_status
    return ctx.db.after_sales.find_one_and_update(
        {**query, "status": wanted}, {"$set": {**changes, "updated_at": ctx.now}},
        return_document=ReturnDocument.AFTER)


def _refuse(doc: dict[str, Any], wanted: str) -> ShopError:
    return ShopError("INVALID_STATE", f"the after-sale is {doc['status']}, it cannot be {wanted}",
                     {"status": doc["status"]})


def cancel_after_sale(ctx: Context, req: AfterSaleIdInput) -> dict[str, Any]:
    doc = _owned(ctx, req.after_sale_id)
    moved = _move(ctx, {"_id": doc["_id"], "user_id": ctx.user_id}, WITHDRAWABLE,
                  {"status": "cancelled", "release_due": True})
    if moved is None:
        doc = _owned(ctx, req.after_sale_id)
        if doc["status"] == "cancelled":
            _release(ctx.db, doc)  # a retry after a death: nothing if it was given back
            return after_sale_view(doc)
        raise _refuse(doc, "cancelled")
    _release(ctx.db, moved)
    return after_sale_view(moved)


def _release(db: Any, doc: dict[str, Any]) -> None:
    """Give a withdrawn or rejected request's reservation back (once, keyed by its id)."""
    refunds.release(db, doc["order_id"], doc["_id"])
    db.after_sales.update_one({"_id": doc["_id"]}, {"$unset": {"release_due": ""}})


def submit_return_shipment(ctx: Context, req: ReturnShipmentInput) -> dict[str, Any]:
    doc = _owned(ctx, req.after_sale_id)
    shipment = {"carrier": req.carrier, "tracking_no": req.tracking_no, "at": iso(ctx.now)}
    moved = _move(ctx, {"_id": doc["_id"], "user_id": ctx.user_id}, "awaiting_return",
                  {"status": "return_shipped", "return_shipment": shipment})
    if moved is None:
        raise _refuse(_owned(ctx, req.after_sale_id), "shipped back")
    return after_sale_view(moved)


# ---- the merchant's side -------------------------------------------------------------------

def _any(ctx: Context, after_sale_id: str) -> dict[str, Any]:
    doc = ctx.db.after_sales.find_one({"_id": after_sale_id})
    if doc is None:
        raise not_found("after-sale")
    return doc


def merchant_list_after_sales(ctx: Context, req: MerchantListAfterSalesInput) -> dict[str, Any]:
    query = {"order_id": req.order_id} if req.order_id else {}
    return _list(ctx, query, req, merchant=True)


def merchant_get_after_sale(ctx: Context, req: AfterSaleIdInput) -> dict[str, Any]:
    return after_sale_view(_any(ctx, req.after_sale_id), merchant=True)


def _issue_refund(db: Any, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Ask WeChat Pay to refund an approved after-sale; its id is the out_refund_no, so
    asking again (a retry, the reconciler) never makes a second refund."""
    order = db.orders.find_one({"_id": doc["order_id"]})
    refund = refunds.start_refund(
        db, order, amount=doc["amount"], reason=doc["reason"], refund_id=doc["_id"],
        lines=[{"sku_id": l["sku_id"], "quantity": l["quantity"]} for l in doc["lines"]],
        restock=order.get("shipped_at") is None, now=now, after_sale_id=doc["_id"],
        reserved=True, completes_order=order.get("refundable", 0) == 0)
    db.after_sales.update_one({"_id": doc["_id"]}, {"$set": {"refund_id": refund["id"]}})
    return after_sale_view(db.after_sales.find_one({"_id": doc["_id"]}), merchant=True)


def _refund_lost(ctx: Context, doc: dict[str, Any]) -> bool:
    """Approved (or received back) by a call that died before its refund was recorded: the
    merchant's next press sends it. Within the grace period the first call may still be at
    work, so a concurrent press is refused as before (the reconciler's grace, too)."""
    grace = timedelta(seconds=ctx.settings.PAY_RECONCILE_AFTER_SECONDS)
    return doc["status"] == "refunding" and not doc.get("refund_id") \
        and doc["updated_at"] <= ctx.now - grace


def review_after_sale(ctx: Context, req: ReviewAfterSaleInput) -> dict[str, Any]:
    doc = _any(ctx, req.after_sale_id)
    if req.decision == "reject":
        moved = _move(ctx, {"_id": doc["_id"]}, "pending_review",
                      {"status": "rejected", "merchant_note": req.note, "release_due": True})
        if moved is None:
            raise _refuse(_any(ctx, req.after_sale_id), "rejected")
        _release(ctx.db, moved)
        return after_sale_view(moved, merchant=True)
    next_status = "refunding" if doc["type"] == "refund_only" else "awaiting_return"
    moved = _move(ctx, {"_id": doc["_id"]}, "pending_review",
                  {"status": next_status, "merchant_note": req.note})
    if moved is None:
        current = _any(ctx, req.after_sale_id)
        if _refund_lost(ctx, current):
            return _issue_refund(ctx.db, current, ctx.now)
        raise _refuse(current, "approved")
    if next_status == "refunding":
        return _issue_refund(ctx.db, moved, ctx.now)
    return after_sale_view(moved, merchant=True)


def confirm_return_received(ctx: Context, req: AfterSaleIdInput) -> dict[str, Any]:
    moved = _move(ctx, {"_id": req.after_sale_id}, "return_shipped", {"status": "refunding"})
    if moved is None:
        current = _any(ctx, req.after_sale_id)
        if _refund_lost(ctx, current):
            return _issue_refund(ctx.db, current, ctx.now)
        raise _refuse(current, "received back")
    return _issue_refund(ctx.db, moved, ctx.now)


def on_refund_finished(db: Any, event: OrderEvent) -> None:
    """An after-sale's refund landed or failed (refund_succeeded / refund_failed)."""
    refund, now = event.refund or {}, event.now
    if not refund.get("after_sale_id"):
        return
    succeeded = refund["status"] == "succeeded"
    db.after_sales.update_one(
        {"_id": refund["after_sale_id"], "status": "refunding"},
        {"$set": {"status": "refunded" if succeeded else "refund_failed",
                  "failure": None if succeeded else refund.get("failure"), "updated_at": now}})


def reconcile_after_sales(ctx: Context) -> dict[str, int]:
    """Run by pay_reconcile: finish what an instance that died left of an after-sale (a
    request never opened, a reservation never given back, an approval whose refund was never
    recorded), once the caller has had ``PAY_RECONCILE_AFTER_SECONDS`` to do it itself."""
    db, batch = ctx.db, ctx.settings.TIMER_BATCH_SIZE
    since = ctx.now - timedelta(seconds=ctx.settings.PAY_RECONCILE_AFTER_SECONDS)
    counts = {"requests_finished": 0, "reservations_released": 0, "refunds_sent": 0}
    for doc in db.after_sales.find({"status": "requesting", "updated_at": {"$lte": since}}) \
            .limit(batch):
        _complete_request(db, doc, ctx.now)
        counts["requests_finished"] += 1
    for doc in db.after_sales.find({"release_due": True, "updated_at": {"$lte": since}}) \
            .limit(batch):
        _release(db, doc)
        counts["reservations_released"] += 1
    for doc in db.after_sales.find({"status": "refunding", "refund_id": {"$exists": False},
                                    "updated_at": {"$lte": since}}).limit(batch):
        _issue_refund(db, doc, ctx.now)
        counts["refunds_sent"] += 1
    return counts
