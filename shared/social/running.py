"""What a shopper can join now (issue 21): the running bargain and assist campaigns, listed
for the mini-program's campaign page and for a product page looking for its bargain.

Running means started, not ended, not stopped by the merchant and not sold out (a bargain's
``sold`` below its ``stock_limit``, an assist's ``rewarded`` below its ``reward_limit``): the
same test as ``campaign_status`` == "running", asked of the database so that a page's total
counts only what can be joined. The views name no merchant-only figures (stock, counts)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import Field

from shared.core.common import PageInput, iso, page_of
from shared.core.context import Context


class ListRunningInput(PageInput):
    product_id: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                      description="only this product's campaigns")


def _running(now: datetime, used: str, limit: str) -> dict[str, Any]:
    return {"active": True, "starts_at": {"$lte": now}, "ends_at": {"$gt": now},
            "$expr": {"$lt": [f"${used}", f"${limit}"]}}


# ending soonest first: what a shopper should not miss
_ORDER = [("ends_at", 1), ("_id", 1)]


def list_bargains(ctx: Context, req: ListRunningInput) -> dict[str, Any]:
    """Running bargain campaigns, each with its product's title, image and price."""
    query = _running(ctx.now, "sold", "stock_limit")
    if req.product_id:
        query["product_id"] = req.product_id
    docs = ctx.db.bargain_campaigns.find(query).sort(_ORDER).skip(req.skip).limit(req.page_size)
    items = [{"id": d["_id"], "sku_id": d["sku_id"], "product_id": d["product_id"],
              "title": d.get("title", ""), "image": d.get("image", ""),
              "price": d["original_price"], "start_price": d["start_price"],
              "floor_price": d["floor_price"], "helpers_needed": d["helpers_needed"],
              "ttl_minutes": d["ttl_minutes"], "ends_at": iso(d["ends_at"])} for d in docs]
    return page_of(items, ctx.db.bargain_campaigns.count_documents(query), req)


def list_assists(ctx: Context, req: ListRunningInput) -> dict[str, Any]:
    """Running assist campaigns, each with its reward (a gift's product title, image and
    price; a coupon's name)."""
    query = _running(ctx.now, "rewarded", "reward_limit")
    if req.product_id:
        query["reward.product_id"] = req.product_id  # a gift of this product
    docs = ctx.db.assist_campaigns.find(query).sort(_ORDER).skip(req.skip).limit(req.page_size)
    items = [{"id": d["_id"], "reward": d["reward"],
              "product_id": d["reward"].get("product_id"),
              "title": d["reward"].get("title", ""), "image": d["reward"].get("image", ""),
              "price": d["reward"].get("price"), "assists_needed": d["assists_needed"],
              "new_users_only": d["new_users_only"], "ttl_minutes": d["ttl_minutes"],
              "ends_at": iso(d["ends_at"])} for d in docs]
    return page_of(items, ctx.db.assist_campaigns.count_documents(query), req)
