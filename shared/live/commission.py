"""Leaders' commission: a ledger of one entry per paid member order, settled by the merchant.

=============  ==============================================================================
status         meaning
=============  ==============================================================================
pending        the order is paid (``order_paid``): commission_percent of the paid goods
               amount (the total after every discount, without freight)
available      the order was received and its after-sale window (RETURN_WINDOW_DAYS) passed
               (timer ``commission_release``)
paid           settled by ``merchant_settle_commissions`` (one settlement, exactly once)
reversed       refunded wholly before it was paid
=============  ==============================================================================

Refunds (``refund_succeeded``, partial ones too) take back the refunded share of the
commission, once per refund: each refund owns the slice [before, after) of the refunded
amount, so the slices add up to the whole commission exactly when all is refunded (as the
loyalty ledger does). A refund after the entry was paid adds a ``clawback`` entry (negative,
available at once) that the next settlement nets. A leader's own orders earn nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import Field

from shared.core.common import PageInput, iso, page_of
from shared.core.context import Context, Database
from shared.core.db import insert_once
from shared.core.events import OrderEvent
from shared.core.log import get_logger, log_event

logger = get_logger("shop.live")

Status = Literal["pending", "available", "paid", "reversed"]


class ListCommissionsInput(PageInput):
    leader_user_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    status: Optional[Status] = None


def entry_id(order_id: str) -> str:
    return f"comm:{order_id}"


def paid_goods(order: dict[str, Any]) -> int:
    """What the shopper paid for the goods: the total after discounts, without freight."""
    return max(0, order.get("total", 0) - order.get("shipping_fee", 0))


def net(doc: dict[str, Any]) -> int:
    return int(doc["amount"]) - int(doc.get("reversed", 0))


def entry_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "kind": doc.get("kind", "order"),
            "leader_user_id": doc["leader_user_id"], "community_id": doc.get("community_id"),
            "order_id": doc.get("order_id"), "buyer_user_id": doc.get("buyer_user_id"),
            "base": doc.get("base", 0), "percent": doc.get("percent", 0),
            "amount": doc["amount"], "reversed": doc.get("reversed", 0), "net": net(doc),
            "status": doc["status"], "created_at": iso(doc.get("created_at")),
            "available_at": iso(doc.get("available_at")), "paid_at": iso(doc.get("paid_at")),
            "settlement_id": doc.get("settlement_id")}


# ---- order events --------------------------------------------------------------------------

def on_order_paid(db: Database, event: OrderEvent) -> None:
    """A member's paid order: its pending commission, once per order (the entry's id)."""
    order = event.order
    community = order.get("community")
    if not community:
        return
    _count_group_order(db, order, community)
    if order["user_id"] == community["leader_user_id"]:
        return  # a leader's own orders earn nothing
    doc = db.communities.find_one({"_id": community["community_id"]},
                                  {"commission_percent": 1})
    percent = int((doc or {}).get("commission_percent", 0))
    base = paid_goods(order)
    amount = base * percent // 100
    if amount <= 0:
        return
    # a second delivery of the event finds the entry there and earns nothing twice
    insert_once(db.commissions, {
        "_id": entry_id(order["_id"]), "kind": "order",
        "leader_user_id": community["leader_user_id"],
        "community_id": community["community_id"], "order_id": order["_id"],
        "buyer_user_id": order["user_id"], "order_total": order.get("total", 0),
        "base": base, "percent": percent, "amount": amount, "reversed": 0, "refunds": [],
        "status": "pending", "created_at": event.now, "checked_at": event.now})


def _count_group_order(db: Database, order: dict[str, Any], community: dict[str, Any]) -> None:
    """The order counts for the group chat whose share brought the buyer: one mark per order
    (the dashboard counts the marks, so a repeated delivery counts nothing twice)."""
    if not community.get("open_gid"):
        return
    insert_once(db.group_share_orders, {
        "_id": order["_id"], "community_id": community["community_id"],
        "group_id": f"{community['community_id']}:{community['open_gid']}",
        "amount": order.get("total", 0), "at": order.get("paid_at")})


def _slice(whole: int, before: int, after: int, total: int) -> int:
    return whole * after // total - whole * before // total


def on_refund_succeeded(db: Database, event: OrderEvent) -> None:
    """A refund landed: the refunded share of the commission comes back, once per refund."""
    order, refund = event.order, event.refund or {}
    doc = db.commissions.find_one({"_id": entry_id(order["_id"])})
    total = order.get("total", 0)
    if doc is None or total <= 0 or not refund.get("_id"):
        return
    if refund["_id"] in doc.get("refunds", []):
        return
    after = min(order.get("refunded_amount", 0), total)
    before = max(min(after - refund.get("amount", 0), total), 0)
    share = _slice(doc["amount"], before, after, total)
    if doc["status"] == "paid":
        _claw_back(db, doc, refund["_id"], share, event.now)
    moved = db.commissions.update_one(
        {"_id": doc["_id"], "refunds": {"$ne": refund["_id"]}},
        {"$push": {"refunds": refund["_id"]}, "$inc": {"reversed": share}})
    if not moved.modified_count:
        return
    now_doc = db.commissions.find_one({"_id": doc["_id"]}, {"status": 1, "amount": 1,
                                                            "reversed": 1})
    if now_doc is None:
        return
    if now_doc["status"] == "paid" and doc["status"] != "paid":
        # settled between our read and the reversal: the reversal is owed as a clawback
        _claw_back(db, doc, refund["_id"], share, event.now)
    elif now_doc["status"] in ("pending", "available") and \
            now_doc.get("reversed", 0) >= now_doc["amount"]:
        db.commissions.update_one({"_id": doc["_id"], "status": now_doc["status"]},
                                  {"$set": {"status": "reversed", "reversed_at": event.now}})


def _claw_back(db: Database, doc: dict[str, Any], refund_id: str, share: int,
               now: datetime) -> None:
    if share <= 0:
        return
    insert_once(db.commissions, {
        "_id": f"claw:{refund_id}", "kind": "clawback",
        "leader_user_id": doc["leader_user_id"], "community_id": doc.get("community_id"),
        "order_id": doc.get("order_id"), "buyer_user_id": doc.get("buyer_user_id"),
        "amount": -share, "reversed": 0, "status": "available", "created_at": now,
        "available_at": now})


# ---- the release timer -----------------------------------------------------------------------

def release_commissions(ctx: Context) -> dict[str, int]:
    """Timer commission_release: pending entries whose order was received and whose
    after-sale window has passed (no refund under way) become available. Looks at the entries
    checked longest ago, a batch a run, so every pending entry comes round."""
    db, now = ctx.db, ctx.now
    window = timedelta(days=ctx.settings.RETURN_WINDOW_DAYS)
    pending = list(db.commissions.find({"status": "pending"}, {"order_id": 1})
                   .sort([("checked_at", 1)]).limit(ctx.settings.TIMER_BATCH_SIZE))
    orders = {o["_id"]: o for o in db.orders.find(
        {"_id": {"$in": [p["order_id"] for p in pending]}},
        {"status": 1, "completed_at": 1, "refund_holds": 1})}
    released = 0
    for entry in pending:
        order = orders.get(entry["order_id"]) or {}
        completed = order.get("completed_at")
        if completed is not None and completed <= now - window and not order.get("refund_holds"):
            moved = db.commissions.update_one({"_id": entry["_id"], "status": "pending"},
                                              {"$set": {"status": "available",
                                                        "available_at": now}})
            released += moved.modified_count
        else:
            db.commissions.update_one({"_id": entry["_id"]}, {"$set": {"checked_at": now}})
    if released:
        log_event(logger, "commissions available", released=released)
    return {"checked": len(pending), "released": released}


# ---- the merchant's list ---------------------------------------------------------------------

def merchant_list_commissions(ctx: Context, req: ListCommissionsInput) -> dict[str, Any]:
    """Commission entries, newest first, with net totals by status."""
    query = {k: v for k, v in (("leader_user_id", req.leader_user_id),
                               ("status", req.status)) if v}
    docs = ctx.db.commissions.find(query).sort([("created_at", -1), ("_id", 1)]) \
        .skip(req.skip).limit(req.page_size)
    result = page_of([entry_view(d) for d in docs], ctx.db.commissions.count_documents(query),
                     req)
    result["totals"] = totals(ctx.db, query)
    return result


def totals(db: Database, query: dict[str, Any]) -> dict[str, int]:
    """Net fen by status."""
    sums = {"pending": 0, "available": 0, "paid": 0, "reversed": 0}
    for row in db.commissions.aggregate([
            {"$match": query},
            {"$group": {"_id": "$status", "amount": {"$sum": "$amount"},
                        "reversed": {"$sum": "$reversed"}}}]):
        sums[row["_id"]] = int(row["amount"]) - int(row["reversed"])
    return sums
