"""The facts the server knows, recorded as events: orders placed, paid, refunded, shares opened.

Clients never send these names (a 422); the subscribers of the domain events (SUBSCRIBERS in
shared.core.actions) and social's ``track_share_open`` write them here. Each has an ``_id`` made
of the fact (``srv:<name>:<key>``), so a second delivery of the same event inserts nothing.
Server facts are kept whatever the shopper's tracking consent: they are the shop's own records.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from shared.core.config import get_settings
from shared.core.context import Database
from shared.core.db import insert_once
from shared.core.events import OrderEvent
from shared.core.log import get_logger
from shared.insight.tracking import expiry

logger = get_logger("shop.insight")


def record_fact(db: Database, name: str, key: str, user_id: Optional[str], ts: datetime,
                props: dict[str, Any], now: Optional[datetime] = None,
                device_id: Optional[str] = None, page: Optional[str] = None) -> bool:
    """Record one server fact once (its ``_id`` is ``srv:<name>:<key>``); True if new."""
    return insert_once(db.events, {
        "_id": f"srv:{name}:{key}", "device_id": device_id, "user_id": user_id, "name": name,
        "ts": ts, "received_at": now or ts, "page": page, "props": props, "source": "server",
        "user_at": now or ts, "expires_at": expiry(get_settings(), ts)})


def _items(db: Optional[Database], order: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's lines as a fact's items; with ``db``, each line's category is looked up
    (one read), without it left None for the rollup to fill."""
    lines = order.get("items") or []
    product_ids = sorted({line["product_id"] for line in lines if line.get("product_id")})
    categories = {} if db is None else {
        doc["_id"]: doc.get("category_id") for doc in
        db.products.find({"_id": {"$in": product_ids}}, {"category_id": 1})}
    return [{"product_id": line.get("product_id"), "sku_id": line.get("sku_id"),
             "category_id": categories.get(line.get("product_id")),
             "quantity": int(line.get("quantity", 0)),
             "amount": int(line.get("subtotal", line.get("price", 0) * line.get("quantity", 0)))}
            for line in lines]


def _safely(name: str, order: dict[str, Any], record: Any) -> None:
    # tracking never stands in the way of an order's own aftermath
    try:
        record()
    except Exception:
        logger.exception("%s not recorded for order %s", name, order.get("_id"))


def on_order_placed(db: Database, event: OrderEvent) -> None:
    """Heard after place_order's answer (owed by its confirming write): one write (the fact),
    no category read (the rollup finds the categories of what it counts)."""
    order = event.order
    _safely("order_placed", order, lambda: record_fact(
        db, "order_placed", order["_id"], order.get("user_id"),
        order.get("created_at") or event.now,
        {"order_id": order["_id"], "amount": int(order.get("total", 0)),
         "items": _items(None, order)}, event.now))


def on_order_paid(db: Database, event: OrderEvent) -> None:
    order = event.order
    _safely("order_paid", order, lambda: record_fact(
        db, "order_paid", order["_id"], order.get("user_id"), order.get("paid_at") or event.now,
        {"order_id": order["_id"], "amount": int(order.get("total", 0)),
         "items": _items(db, order)}, event.now))


def on_order_refunded(db: Database, event: OrderEvent) -> None:
    order = event.order
    amount = int(order.get("refunded_amount") or order.get("total", 0))
    _safely("order_refunded", order, lambda: record_fact(
        db, "order_refunded", order["_id"], order.get("user_id"),
        order.get("refunded_at") or event.now, {"order_id": order["_id"], "amount": amount},
        event.now))


def record_share_open(db: Database, share: dict[str, Any], user_id: str, now: datetime,
                      first_touch: bool) -> bool:
    """A shopper opened someone's share (social's track_share_open); once per share, user and
    second."""
    key = f"{share['_id']}:{user_id}:{int(now.timestamp())}"
    return record_fact(db, "share_opened", key, user_id, now, {
        "share_id": share["_id"], "sharer_id": share.get("sharer_id"),
        "target": share.get("target"), "target_id": share.get("target_id"),
        "first_touch": first_touch}, now)
