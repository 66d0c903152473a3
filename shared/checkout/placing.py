"""Checkout: an order's terms gathered from the areas that own them, then placed.

``place_order`` is the shopper's action; campaigns (group-buy, bargain, assist) call it with
their own prices (``special``). The member's level (loyalty), a deal's price and the pickup
store (nearby) and the delivery address (accounts) are looked up here and handed to
order placement as values; a deal's daily unit and spent points are handed over as holds.
"""
from __future__ import annotations

import secrets
from typing import Any, Optional

from shared.accounts.addresses import SNAPSHOT_FIELDS, check_owned
from shared.core.context import Context, Database
from shared.core.records import record
from shared.loyalty.levels import checkout_level
from shared.orders.placement import (
    Alongside,
    DealPrice,
    Hold,
    MemberLevel,
    OrderLineInput,
    OrderTermsInput,
    PlaceOrderInput,
    Special,
    Terms,
)
from shared.orders.placement import place_order as place
from shared.orders.placement import preview_order as preview

__all__ = ["OrderLineInput", "PlaceOrderInput", "PreviewOrderInput", "Special", "place_order",
           "preview_order"]


class PreviewOrderInput(OrderTermsInput):
    """``place_order``'s input without ``request_id`` (refused here, like any unknown field)."""


@record
class DealUnitHold:
    """Units counted against the deal's quantity for today (Asia/Shanghai)."""
    deal: dict[str, Any]
    after_stock: bool = False

    def take(self, db: Database, order: dict[str, Any]) -> None:
        from shared.nearby.deals import take_daily_quantity
        take_daily_quantity(db, self.deal, order["deal"]["quantity"], order["created_at"],
                            order["_id"])

    def give_back(self, db: Database, order: dict[str, Any]) -> None:
        from shared.nearby.deals import give_back_daily_quantity
        give_back_daily_quantity(db, order["deal"]["day_key"], order["deal"]["quantity"],
                                 order["_id"])

    def check(self, db: Database, order: dict[str, Any]) -> None:
        from shared.nearby.deals import check_daily_quantity
        check_daily_quantity(db, self.deal, order["deal"]["quantity"], order["created_at"])


@record
class PointsHold:
    """Points paying for part of the order (1 point = 1 fen off)."""
    after_stock: bool = True
    balance: int = 0  # the shopper's, as the call read it (judged by the preview only)

    def take(self, db: Database, order: dict[str, Any]) -> None:
        from shared.loyalty.points import spend_for_order
        spend_for_order(db, order["user_id"], order["_id"], order["points_used"],
                               order["created_at"])

    def give_back(self, db: Database, order: dict[str, Any]) -> None:
        from shared.loyalty.points import give_back_for_order
        give_back_for_order(db, order["_id"])

    def check(self, db: Database, order: dict[str, Any]) -> None:
        from shared.loyalty.points import check_for_order
        check_for_order(self.balance, order["points_used"])


def place_order(ctx: Context, req: PlaceOrderInput,
                special: Optional[Special] = None) -> dict[str, Any]:
    """The shopper's order: catalog prices, or a campaign's ``special`` ones."""

    def terms_for(lines: list[dict[str, Any]], address: Optional[dict[str, Any]]) -> Terms:
        return _terms(ctx, req, lines, address, special)

    # the delivery address comes with the SKUs, in the same round trip
    address = None if req.store_id else Alongside("addresses", req.address_id or "")
    return place(ctx, req, terms_for, address)


def preview_order(ctx: Context, req: OrderTermsInput,
                  special: Optional[Special] = None) -> dict[str, Any]:
    """The price before paying: what `place_order` would charge for the same input, each
    discount a row, writing nothing."""
    # a campaign may pass its ``special`` prices, as it does to place_order

    def terms_for(lines: list[dict[str, Any]], address: Optional[dict[str, Any]]) -> Terms:
        return _terms(ctx, req, lines, address, special)

    address = None if req.store_id else Alongside("addresses", req.address_id or "")
    return preview(ctx, req, terms_for, address)


def _terms(ctx: Context, req: OrderTermsInput, lines: list[dict[str, Any]],
           address: Optional[dict[str, Any]], special: Optional[Special]) -> Terms:
    holds: list[Hold] = []
    deal = None
    if req.deal_id:
        from shared.nearby.deals import day_key, deal_for_order  # nearby loads only for a deal
        doc = deal_for_order(ctx.db, req.deal_id, [l["sku_id"] for l in lines],
                                          req.store_id, ctx.now)
        deal = DealPrice(deal_id=doc["_id"], sku_id=doc["sku_id"], price=doc["deal_price"],
                         daily_quantity=doc.get("daily_quantity"),
                         day_key=day_key(doc["_id"], ctx.now))
        holds.append(DealUnitHold(doc))
    pickup, snapshot = _fulfilment(ctx, req, address)
    level = checkout_level(ctx.db, ctx.shopper_id, ctx.shopper())
    if req.points:
        from shared.loyalty.points import POINTS  # loyalty's points load only when used
        holds.append(PointsHold(balance=int(ctx.shopper().get(POINTS.field, 0))))
    community, member_prices = _community(ctx, lines, special)
    return Terms(level=MemberLevel(level["name"], level["discount_percent"]), special=special,
                 deal=deal, pickup=pickup, address=snapshot, holds=holds,
                 member_prices=member_prices, community=community,
                 source=_source(ctx, req))


def _community(ctx: Context, lines: list[dict[str, Any]], special: Optional[Special]) \
        -> tuple[Optional[dict[str, Any]], dict[str, int]]:
    """A community member's order: its community record and member prices (one read, for
    members only; a campaign's own prices stand)."""
    if not ctx.shopper().get("community"):
        return None, {}
    from shared.live.community import checkout_terms  # live loads only for members
    own = [l for l in lines if not (special and l["sku_id"] in special.prices)]
    return checkout_terms(ctx.db, ctx.shopper(), own)


def _source(ctx: Context, req: OrderTermsInput) -> Optional[dict[str, Any]]:
    if req.source is None:
        return None
    from shared.live.rooms import order_source  # live loads only for a live order
    return order_source(ctx.db, req.source.room_id, req.source.share_openid)


def _fulfilment(ctx: Context, req: OrderTermsInput, address: Optional[dict[str, Any]]) \
        -> tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """(pickup, address): self-pickup at a store with a fresh 8-digit code, or delivery to
    ``address`` (read with the SKUs: the shopper's own, or not found)."""
    if req.store_id:
        from shared.nearby.stores import pickup_store
        store = pickup_store(ctx.db, req.store_id)
        return {"store_id": store["_id"], "store_name": store["name"],
                "store_address": store["address"],
                "code": f"{secrets.randbelow(10 ** 8):08d}"}, None
    owned = check_owned(address, ctx.shopper_id)
    return None, {f: owned.get(f, "") for f in SNAPSHOT_FIELDS}
