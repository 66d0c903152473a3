"""Giving money back through WeChat Pay: refund records, the refund notify, reconciliation.

What may still be refunded lives on the order: ``refundable`` (fen) and each line's
``refundable_qty``, set when the order is paid. A refund reserves from them with one
conditional update, so concurrent requests can never refund more than was paid; a failed
refund gives its reservation back. A refund record (``_id`` = out_refund_no) moves
``requested -> processing -> succeeded | failed`` by conditional updates, so a duplicate
notify, a replay or the reconciler finds nothing left to do.

An instance can die after any write, so each step is safe to repeat:
- a reservation is recorded on the order as a hold (``refund_holds``: its key, amount and
  lines) in the same update that takes it, and a hold is given back by the update that
  removes it: a retried reservation or release changes nothing twice;
- the transition that closes a refund also records its effects as due on the record
  (``events_due``, as orders do); each effect is keyed (the order lists the refunds it counted
  in ``refunds_counted``, a restocked line leaves its key on the SKU) and the entry goes once
  all are done. ``pay_reconcile`` (``reconcile_refunds``) finishes what a dead instance left.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.config import get_settings
from shared.core.context import Context
from shared.core.errors import NotifyRejected, ShopError
from shared.core.events import OrderEvent, owe, publish
from shared.core.log import get_logger, log_event
from shared.orders.aftermath import deliver_due
from shared.payments.notify import accept_notify, pay_client

logger = get_logger("shop.refunds")

OPEN = ["requested", "processing"]
REFUNDABLE_STATUSES = ["paid", "shipped", "completed", "refunding"]


def line_amounts(order: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    """What the shopper paid for these lines: their share of the order's discounted total."""
    by_sku = {line["sku_id"]: line for line in order["items"]}
    goods = sum(by_sku[l["sku_id"]]["price"] * l["quantity"] for l in lines)
    return goods * order["total"] // max(order["goods_total"], 1)


HOLDS = "refund_holds"       # on the order: what each request or refund reserved
COUNTED = "refunds_counted"  # on the order: the succeeded refunds its refunded_amount counts
RESTOCKED = "refund_restocks"  # on a SKU and its product: the refund lines put back, until done
DUE = "events_due"           # on a refund: the outcome whose effects are not all done yet


def leftover_key(key: str) -> str:
    return f"{key}:leftover"


def reserve(db: Any, order: dict[str, Any], amount: int, lines: list[dict[str, Any]],
            key: str) -> bool:
    """Take ``amount`` and the lines' quantities from what the order can still refund, under
    ``key`` (the after-sale or refund that holds them); True also when ``key`` holds them
    already (a retry)."""
    query: dict[str, Any] = {"_id": order["_id"], "status": {"$in": REFUNDABLE_STATUSES},
                             "refundable": {"$gte": amount}, f"{HOLDS}.id": {"$ne": key}}
    change: dict[str, int] = {"refundable": -amount}
    index = {line["sku_id"]: i for i, line in enumerate(order["items"])}
    for line in lines:
        i = index[line["sku_id"]]
        query[f"items.{i}.refundable_qty"] = {"$gte": line["quantity"]}
        change[f"items.{i}.refundable_qty"] = -line["quantity"]
    hold = {"id": key, "amount": amount, "lines": lines}
    if db.orders.update_one(query, {"$inc": change, "$push": {HOLDS: hold}}).modified_count:
        return True
    return db.orders.find_one({"_id": order["_id"], f"{HOLDS}.id": key}, {"_id": 1}) is not None


def take_leftover(db: Any, order_id: str, key: str) -> int:
    """Fen left over once every unit is reserved (line shares round down): the reservation
    that took the last units takes them too, so the refunds add up to what was paid, also
    when requests raced on a stale view of the order. Under its own hold, so a retry takes
    nothing twice; the fen ``key`` holds as leftover (taken now or before)."""
    order = db.orders.find_one({"_id": order_id},
                               {"refundable": 1, "items.refundable_qty": 1, HOLDS: 1})
    taken_before = [h["amount"] for h in order.get(HOLDS) or [] if h["id"] == leftover_key(key)]
    if taken_before:
        return taken_before[0]
    leftover = order.get("refundable", 0)
    if leftover <= 0 or any(line.get("refundable_qty", 0) for line in order["items"]):
        return 0
    query = {"_id": order_id, "refundable": leftover, f"{HOLDS}.id": key,
             **{f"items.{i}.refundable_qty": 0 for i in range(len(order["items"]))}}
    taken = db.orders.update_one(query, {"$inc": {"refundable": -leftover}, "$push": {
        HOLDS: {"id": leftover_key(key), "amount": leftover, "lines": []}}})
    return leftover if taken.modified_count == 1 else 0


def held(db: Any, order_id: str, key: str) -> int:
    """Fen ``key`` holds on the order (its reservation and any leftover it took)."""
    order = db.orders.find_one({"_id": order_id}, {HOLDS: 1}) or {}
    return sum(h["amount"] for h in order.get(HOLDS) or []
               if h["id"] in (key, leftover_key(key)))


def release(db: Any, order_id: str, key: str) -> bool:
    """Give what ``key`` holds back (the refund failed, the request was withdrawn or refused),
    once: the update that gives it back removes the hold."""
    order = db.orders.find_one({"_id": order_id, f"{HOLDS}.id": key},
                               {"items.sku_id": 1, HOLDS: 1})
    if order is None:
        return False
    keys = [key, leftover_key(key)]
    holds = [h for h in order.get(HOLDS) or [] if h["id"] in keys]
    index = {line["sku_id"]: i for i, line in enumerate(order["items"])}
    change: dict[str, int] = {"refundable": sum(h["amount"] for h in holds)}
    for hold in holds:
        for line in hold["lines"]:
            field_ = f"items.{index[line['sku_id']]}.refundable_qty"
            change[field_] = change.get(field_, 0) + line["quantity"]
    return db.orders.update_one(
        {"_id": order_id, f"{HOLDS}.id": key},
        {"$inc": change, "$pull": {HOLDS: {"id": {"$in": keys}}}}).modified_count == 1


def refund_view(doc: dict[str, Any]) -> dict[str, Any]:
    from shared.core.common import iso
    return {"id": doc["_id"], "order_id": doc["order_id"], "amount": doc["amount"],
            "status": doc["status"], "reason": doc.get("reason", ""),
            "after_sale_id": doc.get("after_sale_id"), "created_at": iso(doc["created_at"]),
            "finished_at": iso(doc.get("finished_at")), "failure": doc.get("failure")}


def start_refund(db: Any, order: dict[str, Any], *, amount: int, reason: str, refund_id: str,
                 lines: list[dict[str, Any]], restock: bool, now: datetime,
                 after_sale_id: Optional[str] = None, reserved: bool = False,
                 completes_order: bool = False) -> dict[str, Any]:
    """Record a refund and ask WeChat Pay for it; idempotent by ``refund_id``.

    ``completes_order``: nothing is left to refund after this one, so the order shows
    ``refunding`` until it lands."""
    record = {"_id": refund_id, "order_id": order["_id"], "user_id": order["user_id"],
              "after_sale_id": after_sale_id, "amount": amount, "order_total": order["total"],
              "reason": reason, "lines": lines, "restock": restock, "reserved": reserved,
              "status": "requested", "order_status_before": order["status"],
              "created_at": now, "updated_at": now}
    try:
        db.refunds.insert_one(record)
    except DuplicateKeyError:
        record = db.refunds.find_one({"_id": refund_id})
        if record["status"] not in OPEN:
            return refund_view(record)
    if completes_order and order["status"] in ("paid", "shipped", "completed"):
        db.orders.update_one({"_id": order["_id"], "status": order["status"]},
                             {"$set": {"status": "refunding",
                                       "status_before_refund": order["status"]}})
    _send(db, record, now)
    return refund_view(db.refunds.find_one({"_id": refund_id}))


def _send(db: Any, record: dict[str, Any], now: datetime) -> None:
    from shared.wechat.pay import WxPayError
    try:
        answer = pay_client(get_settings()).refund(
            out_trade_no=record["order_id"], out_refund_no=record["_id"],
            refund=record["amount"], total=record["order_total"], reason=record["reason"])
    except WxPayError as exc:
        if exc.status == 0 or exc.status >= 500:
            return  # WeChat Pay is unwell: stays "requested" and the reconciler sends it again
        finish(db, record["_id"], "failed", now, failure=f"{exc.code}: {exc.message}")
        return
    apply_refund_status(db, record["_id"], answer, now)


def apply_refund_status(db: Any, refund_id: str, refund: dict[str, Any], now: datetime) -> None:
    status = refund.get("status") or refund.get("refund_status")
    if status == "SUCCESS":
        finish(db, refund_id, "succeeded", now, wx_refund_id=refund.get("refund_id"))
    elif status in ("CLOSED", "ABNORMAL"):
        finish(db, refund_id, "failed", now, wx_refund_id=refund.get("refund_id"),
               failure=status)
    elif status == "PROCESSING":
        db.refunds.update_one({"_id": refund_id, "status": "requested"},
                              {"$set": {"status": "processing", "updated_at": now,
                                        "wx_refund_id": refund.get("refund_id")}})


def finish(db: Any, refund_id: str, outcome: str, now: datetime,
           wx_refund_id: Optional[str] = None, failure: Optional[str] = None) -> bool:
    """Close a refund once: its effects on the order, stock, coupon and after-sale follow.
    They are recorded as due in the same update, so a death before they are all done leaves
    them for ``reconcile_refunds`` (``apply_outcome``) instead of losing them."""
    from pymongo import ReturnDocument
    record = db.refunds.find_one_and_update(
        {"_id": refund_id, "status": {"$in": OPEN}},
        {"$set": {"status": outcome, "finished_at": now, "updated_at": now,
                  "wx_refund_id": wx_refund_id, "failure": failure},
         "$push": {DUE: {"name": f"refund_{outcome}", "at": now}}},
        return_document=ReturnDocument.AFTER)
    if record is None:
        return False
    apply_outcome(db, record, now)
    log_event(logger, "refund finished", refund_id=refund_id, outcome=outcome)
    return True


def apply_outcome(db: Any, record: dict[str, Any], now: datetime) -> None:
    """The effects of a closed refund, each at most once however often this runs; then the
    refund owes nothing more."""
    if record["status"] == "succeeded":
        order = _refunded(db, record, now)
        publish(db, OrderEvent("refund_succeeded", order, now, refund=record))
    else:
        _failed(db, record)
        order = db.orders.find_one({"_id": record["order_id"]}) or {"_id": record["order_id"]}
        publish(db, OrderEvent("refund_failed", order, now, refund=record))
    db.refunds.update_one({"_id": record["_id"]}, {"$unset": {DUE: ""}})
    if record["status"] == "succeeded" and record["restock"]:
        # the keys only guarded against restocking twice while the effects were due
        for i, line in enumerate(record["lines"]):
            key = f"{record['_id']}/{i}"
            sku = db.skus.find_one_and_update({"_id": line["sku_id"]},
                                              {"$pull": {RESTOCKED: key}}, {"product_id": 1})
            if sku:
                db.products.update_one({"_id": sku["product_id"]}, {"$pull": {RESTOCKED: key}})


def _count_on_order(db: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Add the refund's amount to the order once; the order with ``refunded_amount`` as it
    was right after this refund's amount was added (what members' slices are computed on)."""
    db.orders.update_one({"_id": record["order_id"], f"{COUNTED}.id": {"$ne": record["_id"]}},
                         {"$inc": {"refunded_amount": record["amount"]},
                          "$push": {COUNTED: {"id": record["_id"], "amount": record["amount"]}}})
    order = db.orders.find_one({"_id": record["order_id"]})
    # the refunds counted after this one come off (refunds counted before the list existed
    # are in refunded_amount, and before this one)
    counted = order.get(COUNTED) or []
    ids = [c["id"] for c in counted]
    later = sum(c["amount"] for c in counted[ids.index(record["_id"]) + 1:])
    return {**order, "refunded_amount": order.get("refunded_amount", 0) - later}


def _restock(db: Any, record: dict[str, Any]) -> None:
    """Each line back on the shelf once: its key goes on the SKU (and product) with the units."""
    for i, line in enumerate(record["lines"]):
        key, quantity = f"{record['_id']}/{i}", line["quantity"]
        sku = db.skus.find_one({"_id": line["sku_id"]}, {"product_id": 1})
        db.skus.update_one({"_id": line["sku_id"], RESTOCKED: {"$ne": key}},
                           {"$inc": {"stock": quantity, "sold": -quantity},
                            "$push": {RESTOCKED: key}})
        if sku:
            db.products.update_one({"_id": sku["product_id"], RESTOCKED: {"$ne": key}},
                                   {"$inc": {"sales": -quantity}, "$push": {RESTOCKED: key}})


def _refunded(db: Any, record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The refund's amount, stock and coupon; the order as right after its amount was added."""
    from pymongo import ReturnDocument
    order = _count_on_order(db, record)
    if record["restock"]:
        _restock(db, record)
    current = db.orders.find_one({"_id": order["_id"]}, {"refunded_amount": 1, "total": 1})
    if current["refunded_amount"] >= current["total"]:
        # order_refunded is owed from this write on: its aftermath (the coupon back, then the
        # subscribers) is delivered now, or by the order_events timer if the instance dies
        refunded = db.orders.find_one_and_update(
            {"_id": order["_id"], "status": {"$in": REFUNDABLE_STATUSES}},
            {"$set": {"status": "refunded", "refunded_at": now},
             "$push": owe(now, "order_refunded")}, return_document=ReturnDocument.AFTER)
        if refunded is not None:
            deliver_due(db, refunded)
    else:
        _leave_refunding(db, record)
    return order


def _failed(db: Any, record: dict[str, Any]) -> None:
    if record.get("reserved"):
        release(db, record["order_id"], record["_id"])  # its after-sale's key, or its own
    _leave_refunding(db, record)


def _leave_refunding(db: Any, record: dict[str, Any]) -> None:
    """Not all was refunded: the order leaves ``refunding`` once none of its refunds is still
    open (a partial refund landing or failing while the one that completes the order is with
    WeChat Pay must not show the order as merely paid)."""
    if db.refunds.count_documents({"order_id": record["order_id"], "status": {"$in": OPEN}}):
        return
    order = db.orders.find_one({"_id": record["order_id"], "status": "refunding"},
                               {"status_before_refund": 1})
    if order is None:
        return
    before = order.get("status_before_refund") or record["order_status_before"]
    db.orders.update_one({"_id": order["_id"], "status": "refunding"},
                         {"$set": {"status": "paid" if before == "refunding" else before}})


# ---- the refund notify ---------------------------------------------------------------------

def accept_refund_notify(headers: dict[str, str], body: bytes) -> None:
    """POST /pay/refund-notify: the same verification as the pay notify."""
    accept_notify(headers, body, "refund", lambda event: event.startswith("REFUND."),
                  _apply_notified_refund)


def _apply_notified_refund(db: Any, config: Any, refund: dict[str, Any], now: datetime) -> None:
    if refund.get("mchid") != config.mchid:
        raise NotifyRejected("mismatch", "mchid does not match")
    record = db.refunds.find_one({"_id": str(refund.get("out_refund_no") or "")})
    if record is None:
        raise NotifyRejected("unknown", "unknown out_refund_no")
    if (refund.get("amount") or {}).get("refund") != record["amount"] \
            or refund.get("out_trade_no") != record["order_id"]:
        raise NotifyRejected("mismatch", "refund does not match the record")
    apply_refund_status(db, record["_id"], refund, now)


def reconcile_refunds(ctx: Context) -> dict[str, int]:
    """Send again refunds WeChat Pay never took, and ask about those whose notify is late."""
    from shared.wechat.pay import WxPayError
    since = ctx.now - timedelta(seconds=ctx.settings.PAY_RECONCILE_AFTER_SECONDS)
    counts = {"refunds_checked": 0, "refunds_finished": 0, "refunds_completed": 0}
    client = pay_client(get_settings())
    # closed refunds whose effects a dead instance left half done
    for record in ctx.db.refunds.find({f"{DUE}.at": {"$lte": since}}) \
            .limit(ctx.settings.TIMER_BATCH_SIZE):
        apply_outcome(ctx.db, record, ctx.now)
        counts["refunds_completed"] += 1
    for record in ctx.db.refunds.find({"status": {"$in": OPEN}, "updated_at": {"$lte": since}}) \
            .limit(ctx.settings.TIMER_BATCH_SIZE):
        counts["refunds_checked"] += 1
        if record["status"] == "requested":
            _send(ctx.db, record, ctx.now)
        else:
            try:
                apply_refund_status(ctx.db, record["_id"], client.query_refund(record["_id"]),
                                    ctx.now)
            except WxPayError:
                continue
        finished = ctx.db.refunds.find_one({"_id": record["_id"]}, {"status": 1})
        counts["refunds_finished"] += finished["status"] not in OPEN
    return counts


def refundable_or_refuse(order: dict[str, Any]) -> None:
    if order["status"] not in REFUNDABLE_STATUSES or not order.get("refundable"):
        raise ShopError("REFUND_EXCEEDS_PAID", "nothing left to refund on this order",
                        {"refundable": order.get("refundable", 0)})
