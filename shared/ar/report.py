"""How AR try-on sells: shoppers who tried a product on against those who only viewed it.

Read from the tracking events (collection ``events``: ``name`` ``try_on`` or ``product_view``,
``ts``, ``user_id`` or only ``device_id``, ``props.product_id``), written by the tracking area;
this module reads the collection and never imports that code. A shopper is their user id, or
their device when they never logged in (such a shopper cannot be matched to an order, so
counts as not buying). A shopper converts when they paid an order with the product placed at
or after their first event on it, within the window.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from shared.core.common import Input, iso
from shared.core.context import Context
from shared.orders.lifecycle import PAID_STATUSES

DEFAULT_DAYS = 30
MAX_EVENTS = 200_000   # the report reads at most this many events of the window


class ArReportInput(Input):
    model_config = ConfigDict(populate_by_name=True)

    product_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    from_: Optional[AwareDatetime] = Field(default=None, alias="from",
                                           description="start; unset: 30 days before `to`")
    to: Optional[AwareDatetime] = Field(default=None, description="end, exclusive; unset: now")

    @model_validator(mode="after")
    def _ordered(self) -> "ArReportInput":
        if self.from_ and self.to and self.from_ >= self.to:
            raise ValueError("from must come before to")
        return self


def _group(shoppers: set[str], buyers: set[str]) -> dict[str, Any]:
    bought = len(shoppers & buyers)
    return {"shoppers": len(shoppers), "buyers": bought,
            "conversion": round(bought / len(shoppers), 4) if shoppers else None}


def _first_seen(ctx: Context, query: dict[str, Any]) -> tuple[dict, dict]:
    """(product -> shopper -> first event time), for views and for try-ons."""
    seen: dict[str, dict[str, dict[str, datetime]]] = {"try_on": {}, "product_view": {}}
    cursor = ctx.db.events.find(query, {"name": 1, "ts": 1, "user_id": 1, "device_id": 1,
                                        "props.product_id": 1}).limit(MAX_EVENTS)
    for event in cursor:
        product = (event.get("props") or {}).get("product_id")
        who = event.get("user_id") or (f"device:{event['device_id']}"
                                       if event.get("device_id") else None)
        if not product or not who or not isinstance(event.get("ts"), datetime):
            continue
        first = seen[event["name"]].setdefault(product, {})
        if who not in first or event["ts"] < first[who]:
            first[who] = event["ts"]
    return seen["try_on"], seen["product_view"]


def _buyers(ctx: Context, products: list[str], users: set[str], end: datetime,
            first: dict[str, dict[str, datetime]]) -> dict[str, set[str]]:
    """product -> the shoppers who paid for it after their first event on it."""
    bought: dict[str, set[str]] = {p: set() for p in products}
    if not products or not users:
        return bought
    orders = ctx.db.orders.find({"user_id": {"$in": sorted(users)},
                                 "items.product_id": {"$in": products},
                                 "status": {"$in": PAID_STATUSES}, "created_at": {"$lt": end}},
                                {"user_id": 1, "created_at": 1, "items.product_id": 1})
    for order in orders:
        for line in order["items"]:
            since = first.get(line["product_id"], {}).get(order["user_id"])
            if since is not None and order["created_at"] >= since:
                bought[line["product_id"]].add(order["user_id"])
    return bought


def ar_report(ctx: Context, req: ArReportInput) -> dict[str, Any]:
    """Conversion of shoppers who tried a product on in AR against those who viewed it
    without trying, per product and overall, in a window (default the last 30 days)."""
    end = req.to or ctx.now
    start = req.from_ or end - timedelta(days=DEFAULT_DAYS)
    query: dict[str, Any] = {"name": {"$in": ["try_on", "product_view"]},
                             "ts": {"$gte": start, "$lt": end}}
    if req.product_id:
        query["props.product_id"] = req.product_id
    tried, viewed = _first_seen(ctx, query)
    products = sorted(set(tried) | set(viewed))
    first: dict[str, dict[str, datetime]] = {}
    for product in products:
        merged = dict(viewed.get(product, {}))
        for who, at in tried.get(product, {}).items():
            merged[who] = min(at, merged.get(who, at))
        first[product] = merged
    users = {who for per in first.values() for who in per if not who.startswith("device:")}
    bought = _buyers(ctx, products, users, end, first)
    titles = {p["_id"]: p.get("title") for p in
              ctx.db.products.find({"_id": {"$in": products}}, {"title": 1})}
    rows, all_tried, all_viewed, all_buyers = [], set(), set(), set()
    for product in products:
        tried_set = set(tried.get(product, {}))
        viewed_only = set(viewed.get(product, {})) - tried_set
        rows.append({"product_id": product, "title": titles.get(product),
                     "tried": _group(tried_set, bought[product]),
                     "viewed_only": _group(viewed_only, bought[product])})
        all_tried |= {f"{product}|{w}" for w in tried_set}
        all_viewed |= {f"{product}|{w}" for w in viewed_only}
        all_buyers |= {f"{product}|{w}" for w in bought[product]}
    overall_tried, overall_viewed = _group(all_tried, all_buyers), _group(all_viewed, all_buyers)
    lift = None
    if overall_tried["conversion"] is not None and overall_viewed["conversion"]:
        lift = round(overall_tried["conversion"] / overall_viewed["conversion"], 4)
    return {"product_id": req.product_id, "from": iso(start), "to": iso(end),
            "tried": overall_tried, "viewed_only": overall_viewed, "lift": lift,
            "products": rows}
