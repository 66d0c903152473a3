"""Timer reco_train (nightly): the model learnt from the shop's paid orders and product views.

Reads the paid orders of the TRAIN_DAYS up to the latest (at most MAX_ORDERS, the newest),
the `product_view` events of the tracking collection `events` when it exists (fields user_id,
name, ts, props.product_id; written by the tracking area, read here by the collection only),
and the products on sale (their category and search tokens for content similarity), then
publishes a new versioned artefact (shared.reco.artefacts). Running it twice, or two at once,
publishes two versions of the same model; the pointer only moves forward.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Iterator

from shared.core.context import Context
from shared.reco.artefacts import publish
from shared.reco.content import content_neighbours
from shared.reco.model import Purchase, train

PAID_STATUSES = ["paid", "shipped", "completed", "refunding", "refunded"]
# constants, not settings: the gateway's environment (every setting) is at SCF's 4 KB limit
TRAIN_DAYS = 365
MAX_ORDERS = 200_000
MAX_VIEWS = 1_000_000


def _purchases(ctx: Context) -> Iterator[Purchase]:
    # the year before the latest paid order: a shop that has been quiet (or a history imported
    # with shopctl import online-retail) still has something to learn from
    latest = next(iter(ctx.db.orders.find({"status": {"$in": PAID_STATUSES}}, {"created_at": 1})
                       .sort([("created_at", -1)]).limit(1)), None)
    if latest is None:
        return
    since = min(ctx.now, latest["created_at"]) - timedelta(days=TRAIN_DAYS)
    cursor = (ctx.db.orders.find(
        {"status": {"$in": PAID_STATUSES}, "created_at": {"$gte": since}},
        {"user_id": 1, "items.product_id": 1, "paid_at": 1, "created_at": 1})
        .sort([("created_at", -1)]).limit(MAX_ORDERS))
    for order in cursor:
        when = order.get("paid_at") or order["created_at"]
        for line in order.get("items", []):
            yield Purchase(order["user_id"], line["product_id"], when)


def _views(ctx: Context) -> Iterator[Purchase]:
    if "events" not in ctx.db.list_collection_names():
        return
    since = ctx.now - timedelta(days=TRAIN_DAYS)
    cursor = (ctx.db.events.find({"name": "product_view", "ts": {"$gte": since}},
                                 {"user_id": 1, "ts": 1, "props.product_id": 1})
              .sort([("ts", -1)]).limit(MAX_VIEWS))
    for event in cursor:
        product_id = (event.get("props") or {}).get("product_id")
        if event.get("user_id") and isinstance(product_id, str) and event.get("ts"):
            yield Purchase(event["user_id"], product_id, event["ts"])


def train_now(ctx: Context) -> dict[str, Any]:
    """Timer reco_train: learn, publish, and say what was learnt."""
    purchases = list(_purchases(ctx))
    views = list(_views(ctx))
    products = {d["_id"]: d for d in ctx.db.products.find(
        {"status": "on_sale"}, {"category_id": 1, "tokens": 1})}
    version = f"{ctx.now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    model = train(purchases, ctx.now, version=version, extra_items=products, views=views)
    categories = [str((products.get(item) or {}).get("category_id") or "") for item in model.items]
    tokens = [(products.get(item) or {}).get("tokens") or [] for item in model.items]
    model.content, model.content_weights = content_neighbours(categories, tokens,
                                                              model.popularity)
    key = publish(ctx, model)
    return {"version": version, "key": key, "items": len(model.items),
            "purchases": len(purchases), "views": len(views)}
