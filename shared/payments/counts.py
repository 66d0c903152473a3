"""The Me page's order shortcuts: how many of the shopper's orders wait on each step.

待付款 (pending_payment), 待发货 (paid, a group-buy order waiting for its team too), 待收货
(shipped), and 售后 (after-sales still being handled). One aggregate over the shopper's orders
in those states (the ``(user_id, status, ...)`` index) and one count of open after-sales.
"""
from __future__ import annotations

from shared.core.common import NoInput
from shared.core.context import Context

__all__ = ["NoInput"]

# order status -> the shortcut it counts in
SHORTCUTS = {"pending_payment": "pending_payment", "paid": "to_ship", "shipped": "to_receive"}
# after-sales not yet settled either way (refunded, rejected, cancelled, failed are done)
OPEN_AFTER_SALES = ["requesting", "pending_review", "awaiting_return", "return_shipped",
                    "refunding"]


def order_counts(ctx: Context, req: NoInput) -> dict[str, int]:
    """{pending_payment, to_ship, to_receive, after_sale}: counts of the caller's own."""
    counts = {"pending_payment": 0, "to_ship": 0, "to_receive": 0, "after_sale": 0}
    rows = ctx.db.orders.aggregate([
        {"$match": {"user_id": ctx.user_id, "status": {"$in": list(SHORTCUTS)}}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}}])
    for row in rows:
        counts[SHORTCUTS[row["_id"]]] += int(row["n"])
    counts["after_sale"] = ctx.db.after_sales.count_documents(
        {"user_id": ctx.user_id, "status": {"$in": OPEN_AFTER_SALES}})
    return counts
