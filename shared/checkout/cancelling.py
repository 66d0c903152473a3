"""Cancelling an unpaid order: WeChat Pay is closed first, so a payment cannot land after.

The shopper's ``cancel_order`` and the ``order_timeout`` timer both ask payments to settle
with WeChat Pay, then cancel through orders (which releases stock, coupon and holds).
"""
from __future__ import annotations

from typing import Any

from shared.core.context import Context
from shared.orders.lifecycle import (
    OrderIdInput,
    cancel,
    order_view,
    owned_order,
    refuse,
    repair_placements,
)
from shared.payments.pay import settle_before_cancel

__all__ = ["OrderIdInput", "cancel_expired_orders", "cancel_order"]


def cancel_order(ctx: Context, req: OrderIdInput) -> dict[str, Any]:
    doc = owned_order(ctx.db, ctx.shopper_id, req.order_id)
    if doc["status"] == "pending_payment" and settle_before_cancel(ctx, doc) == "paid":
        raise refuse(owned_order(ctx.db, ctx.shopper_id, req.order_id), "cancelled")
    # "unknown" (WeChat Pay unreachable) still cancels: a late payment is refunded in full
    cancelled = cancel(ctx.db, doc["_id"], ctx.now, "user", {"user_id": ctx.user_id})
    if cancelled is not None:
        return order_view(cancelled)
    doc = owned_order(ctx.db, ctx.shopper_id, req.order_id)
    if doc["status"] == "cancelled":
        return order_view(doc)  # cancelling twice is the same as once
    raise refuse(doc, "cancelled")


def _cancel_expired(ctx: Context, order_id: str) -> bool:
    """Cancel one expired order, unless WeChat Pay took (or may have taken) its payment."""
    order = ctx.db.orders.find_one({"_id": order_id, "status": "pending_payment"})
    if order is None or settle_before_cancel(ctx, order) != "closed":
        return False  # paid meanwhile, or WeChat Pay cannot say: the next run asks again
    return cancel(ctx.db, order_id, ctx.now, "timeout",
                  {"pay_deadline": {"$lte": ctx.now}}) is not None


def cancel_expired_orders(ctx: Context) -> dict[str, Any]:
    """Timer order_timeout: cancel unpaid orders past their deadline, then repair placements
    and cancels a crash cut short."""
    batch = ctx.settings.TIMER_BATCH_SIZE
    expired = [d["_id"] for d in ctx.db.orders.find(
        {"status": "pending_payment", "pay_deadline": {"$lte": ctx.now}}, {"_id": 1})
        .sort([("pay_deadline", 1)]).limit(batch)]
    cancelled = sum(1 for order_id in expired if _cancel_expired(ctx, order_id))
    repairs = repair_placements(ctx)
    return {"cancelled": cancelled, **repairs, "more": len(expired) == batch}
