"""What happens elsewhere when an order is paid, cancelled, refunded in part or fully refunded.

Orders know nothing of campaigns; campaigns mark their orders (``group``, ``bargain_id``,
``attribution``) and hear about them here. Each hook is idempotent: it is called once per
transition, but a reconciler may repeat a transition's aftermath.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any


def paid(db: Any, order: dict[str, Any], now: datetime) -> None:
    if order.get("group"):
        from shared.social.groupbuy import on_order_paid
        on_order_paid(db, order, now)
    from shared.social.referral import on_order_paid as referral_paid
    referral_paid(db, order, now)
    from shared.marketing.campaigns import record_paid_order  # last_order_at, total_spent: audiences
    record_paid_order(db, order, now)
    from shared.loyalty.members import on_order_paid as members_paid  # growth, level, points earned
    members_paid(db, order, now)


def cancelled(db: Any, order: dict[str, Any], now: datetime) -> None:
    if order.get("group"):
        from shared.social.groupbuy import on_order_cancelled
        on_order_cancelled(db, order, now)
    if order.get("bargain_id"):
        from shared.social.bargain import on_order_cancelled as bargain_cancelled
        bargain_cancelled(db, order, now)


def refund_succeeded(db: Any, order: dict[str, Any], refund: dict[str, Any],
                     now: datetime) -> None:
    """Every refund that lands, partial or not; ``order`` as it was right after its amount
    was added to ``refunded_amount``. Once per refund record."""
    from shared.loyalty.members import on_refund_succeeded  # growth and points, in proportion
    on_refund_succeeded(db, order, refund, now)


def refunded(db: Any, order: dict[str, Any], now: datetime) -> None:
    if order.get("group"):
        from shared.social.groupbuy import on_order_refunded as group_refunded
        group_refunded(db, order, now)
    from shared.social.referral import on_order_refunded
    on_order_refunded(db, order, now)
