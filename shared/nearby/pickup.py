"""Self-pickup (自提): the merchant verifies the shopper's 8-digit code at the store.

An order placed with ``{deal_id, store_id}`` carries the code; verifying it completes the
paid order.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import ShopError, not_found


class VerifyPickupInput(Input):
    code: str = Field(pattern=r"^\d{8}$")


def verify_pickup(ctx: Context, req: VerifyPickupInput) -> dict[str, Any]:
    """The merchant scans the shopper's code at the store: the paid order is collected."""
    from pymongo import ReturnDocument

    from shared.orders.lifecycle import order_view
    order = ctx.db.orders.find_one_and_update(
        {"pickup.code": req.code, "status": "paid"},
        {"$set": {"status": "completed", "completed_at": ctx.now, "pickup.picked_up_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    if order is None:
        known = ctx.db.orders.find_one({"pickup.code": req.code}, {"status": 1})
        if known is None:
            raise not_found("pickup code")
        raise ShopError("INVALID_STATE", f"the order is {known['status']}",
                        {"status": known["status"]})
    return order_view(order, merchant=True)
