"""What one group-buy join (or start) takes from its campaign: a unit of the campaign's
``stock_limit`` and one of the buyer's ``per_user_limit`` purchases.

Each is taken under the request's key (``hold_key``: user and request_id), noted on the
document it comes from (``group_buys.stock_holds``, ``group_buy_quota.holds``) by the same
update, and given back by the update that removes the key: a retry after a death, or a
repair, takes and gives back each thing at most once.
"""
from __future__ import annotations

from typing import Any, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.context import Context
from shared.core.errors import ShopError


def hold_key(user_id: str, request_id: str) -> str:
    """What one join (or start) takes from the campaign is noted under this key, so a retry
    or a repair takes and gives back each thing at most once."""
    return f"{user_id}:{request_id}"


def take_user_quota(ctx: Context, campaign: dict[str, Any], hold: str) -> Optional[str]:
    """Count one purchase against per_user_limit, atomically, once per ``hold``; the
    counter's id."""
    if not campaign.get("per_user_limit"):
        return None
    key = f"{campaign['_id']}:{ctx.user_id}"
    if ctx.db.group_buy_quota.find_one({"_id": key, "holds": hold}, {"_id": 1}):
        return key  # a retry: this request counted already
    try:
        ctx.db.group_buy_quota.update_one(
            {"_id": key, "count": {"$lt": campaign["per_user_limit"]}, "holds": {"$ne": hold}},
            {"$inc": {"count": 1}, "$push": {"holds": hold}}, upsert=True)
    except DuplicateKeyError:
        raise ShopError("LIMIT_EXCEEDED", "you have bought this group-buy the most times allowed",
                        {"per_user_limit": campaign["per_user_limit"]}) from None
    return key


def take_campaign_stock(ctx: Context, campaign: dict[str, Any], hold: str) -> bool:
    if campaign.get("stock_limit") is None:
        return False
    taken = ctx.db.group_buys.update_one(
        {"_id": campaign["_id"], "remaining": {"$gt": 0}, "stock_holds": {"$ne": hold}},
        {"$inc": {"remaining": -1}, "$push": {"stock_holds": hold}})
    if taken.modified_count == 0 and not ctx.db.group_buys.find_one(
            {"_id": campaign["_id"], "stock_holds": hold}, {"_id": 1}):
        raise ShopError("OUT_OF_STOCK", "this group-buy is sold out")
    return True


def give_back(db: Any, campaign_id: str, quota_key: Optional[str], stock_taken: bool,
               hold: Optional[str] = None) -> None:
    """Give back what ``hold`` took; keyed, so repeating it gives nothing twice. (Orders
    placed before holds were keyed have none: given back as they were taken.)"""
    if hold is None:
        if quota_key:
            db.group_buy_quota.update_one({"_id": quota_key}, {"$inc": {"count": -1}})
        if stock_taken:
            db.group_buys.update_one({"_id": campaign_id}, {"$inc": {"remaining": 1}})
        return
    if quota_key:
        db.group_buy_quota.update_one({"_id": quota_key, "holds": hold},
                                      {"$inc": {"count": -1}, "$pull": {"holds": hold}})
    if stock_taken:
        db.group_buys.update_one({"_id": campaign_id, "stock_holds": hold},
                                 {"$inc": {"remaining": 1}, "$pull": {"stock_holds": hold}})
