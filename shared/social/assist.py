"""Friend assist (好友助力): enough friends press "help" and the starter gets a reward.

An assist is ``active`` while friends help, ``completed`` once ``assists_needed`` of them did,
or ``expired``. The help that completes it moves it to ``completed`` by a conditional update,
so exactly one call grants the reward; the grant takes one of the campaign's ``reward_limit``
conditionally, then delivers the reward under an id derived from the assist (the user coupon's
id, the gift order's request_id), so that finishing a grant again never gives a second reward.

One assist per user per campaign: ``active_key`` is given up only when an assist expires, so
starting again on a completed one answers with it (and its reward).
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field

from shared.core.common import Input, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.social.bargain import (
    CampaignWindow,
    ListCampaignsInput,
    campaign_status,
    check_running,
    count_daily_help,
    expire_due,
    expiry,
    load_helper,
    open_once,
    refuse,
)

__all__ = ["ListCampaignsInput"]

STALE_GRANT = timedelta(minutes=5)


class CouponReward(Input):
    kind: Literal["coupon"]
    coupon_id: str = Field(min_length=1, max_length=64, description="a coupon template")


class GiftReward(Input):
    kind: Literal["gift"]
    sku_id: str = Field(min_length=1, max_length=64)


class CreateAssistInput(CampaignWindow):
    reward: Annotated[Union[CouponReward, GiftReward], Field(discriminator="kind")]
    assists_needed: int = Field(ge=1, le=100)
    new_users_only: bool = False
    reward_limit: int = Field(ge=1, le=1_000_000, description="rewards granted at most")


class StartAssistInput(Input):
    campaign_id: str = Field(min_length=1, max_length=64)
    address_id: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                      description="where a gift reward is sent")


class AssistIdInput(Input):
    assist_id: str = Field(min_length=1, max_length=64)


# ---- views ----------------------------------------------------------------------------------

def campaign_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"id": doc["_id"], "reward": doc["reward"], "assists_needed": doc["assists_needed"],
            "new_users_only": doc["new_users_only"], "ttl_minutes": doc["ttl_minutes"],
            "reward_limit": doc["reward_limit"], "rewarded": doc["rewarded"],
            "status": campaign_status(doc, now, doc["rewarded"] >= doc["reward_limit"]),
            "starts_at": iso(doc["starts_at"]), "ends_at": iso(doc["ends_at"]),
            "created_at": iso(doc["created_at"])}


def assist_view(doc: dict[str, Any], viewer_id: Optional[str], now: datetime) -> dict[str, Any]:
    """The public view friends open to help: nicknames and avatars, nobody's id."""
    status = doc["status"]
    if status == "active" and doc["expires_at"] <= now:
        status = "expired"
    is_mine = doc["user_id"] == viewer_id
    view = {"id": doc["_id"], "campaign_id": doc["campaign_id"], "status": status,
            "assists_needed": doc["assists_needed"], "help_count": doc["help_count"],
            "helps": [{"nickname": h["nickname"], "avatar": h["avatar"]} for h in doc["helps"]],
            "reward": doc["reward"], "new_users_only": doc["new_users_only"],
            "expires_at": iso(doc["expires_at"]),
            "reward_granted": bool(doc.get("reward_granted")),
            "reward_status": doc.get("reward_status"), "is_mine": is_mine,
            "helped_by_me": any(h["user_id"] == viewer_id for h in doc["helps"])}
    if is_mine:  # which coupon or order it became is the starter's business only
        view["reward_result"] = doc.get("reward_result")
    return view


# ---- merchant -------------------------------------------------------------------------------

def _reward_snapshot(db: Any, reward: Union[CouponReward, GiftReward],
                     now: datetime) -> dict[str, Any]:
    """What the reward is, as shoppers see it; refuses a template or SKU that cannot be given."""
    if isinstance(reward, CouponReward):
        template = db.coupons.find_one({"_id": reward.coupon_id, "status": "active"})
        if template is None or (template.get("valid_to") and template["valid_to"] <= now):
            raise not_found("coupon")
        return {"kind": "coupon", "coupon_id": template["_id"], "title": template["name"]}
    sku = db.skus.find_one({"_id": reward.sku_id, "active": True}, {"product_id": 1, "image": 1,
                                                                    "price": 1})
    if sku is None:
        raise not_found("sku")
    product = db.products.find_one({"_id": sku["product_id"]}, {"title": 1, "images": 1}) or {}
    return {"kind": "gift", "sku_id": reward.sku_id, "product_id": sku["product_id"],
            "title": product.get("title", ""),
            "image": sku.get("image") or (product.get("images") or [""])[0],
            "price": sku["price"]}


def create_assist(ctx: Context, req: CreateAssistInput) -> dict[str, Any]:
    doc = {"_id": new_id("asc"), **req.model_dump(exclude={"reward"}),
           "reward": _reward_snapshot(ctx.db, req.reward, ctx.now), "rewarded": 0,
           "active": True, "created_at": ctx.now}
    ctx.db.assist_campaigns.insert_one(doc)
    return campaign_view(doc, ctx.now)


def merchant_list_assists(ctx: Context, req: ListCampaignsInput) -> dict[str, Any]:
    docs = ctx.db.assist_campaigns.find({}).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([campaign_view(d, ctx.now) for d in docs],
                   ctx.db.assist_campaigns.count_documents({}), req)


# ---- shopper --------------------------------------------------------------------------------

def _gift_address(ctx: Context, campaign: dict[str, Any], address_id: Optional[str]) \
        -> Optional[str]:
    from shared.accounts.addresses import find_owned
    if campaign["reward"]["kind"] != "gift":
        return None
    if not address_id:
        raise ShopError("VALIDATION_ERROR", "a gift reward needs address_id",
                        {"fields": [{"field": "address_id", "message": "required for a gift",
                                     "type": "missing"}]})
    return find_owned(ctx.db, ctx.shopper_id, address_id)["_id"]


def start_assist(ctx: Context, req: StartAssistInput) -> dict[str, Any]:
    """Open the caller's assist on a campaign, or answer with the one they already have."""
    campaign = ctx.db.assist_campaigns.find_one({"_id": req.campaign_id})
    if campaign is None:
        raise not_found("assist campaign")
    check_running(campaign, ctx.now)
    if campaign["rewarded"] >= campaign["reward_limit"]:
        raise refuse("LIMIT_EXCEEDED", "every reward of this campaign is given", "rewards_gone")
    doc = {"_id": new_id("ast"), "campaign_id": campaign["_id"], "user_id": ctx.user_id,
           "address_id": _gift_address(ctx, campaign, req.address_id),
           "reward": campaign["reward"], "assists_needed": campaign["assists_needed"],
           "new_users_only": campaign["new_users_only"], "help_count": 0, "helps": [],
           "status": "active", "active_key": f"{campaign['_id']}:{ctx.user_id}",
           "reward_granted": False, "reward_status": None,
           "expires_at": expiry(campaign, ctx.now), "created_at": ctx.now}
    return assist_view(open_once(ctx.db.assists, doc, ctx.now), ctx.user_id, ctx.now)


def _find(db: Any, assist_id: str) -> dict[str, Any]:
    assist = db.assists.find_one({"_id": assist_id})
    if assist is None:
        raise not_found("assist")
    return assist


def _check_assistable(assist: dict[str, Any], helper_id: str, now: datetime) -> None:
    if assist["user_id"] == helper_id:
        raise refuse("FORBIDDEN", "you cannot help your own assist", "self_help")
    if any(h["user_id"] == helper_id for h in assist["helps"]):
        raise refuse("INVALID_STATE", "you have already helped this assist", "already_helped")
    if assist["status"] == "expired" or assist["expires_at"] <= now:
        raise refuse("INVALID_STATE", "the assist has expired", "expired")
    if assist["status"] != "active" or assist["help_count"] >= assist["assists_needed"]:
        raise refuse("INVALID_STATE", "the assist already has all the help it needs",
                     "completed")


def _check_new_user(assist: dict[str, Any], helper: dict[str, Any]) -> None:
    """new_users_only: only accounts made after the assist started may help (拉新)."""
    created = helper["created_at"]
    if assist["new_users_only"] and (created is None or created <= assist["created_at"]):
        raise refuse("FORBIDDEN", "only new users can help this assist", "not_a_new_user")


def _add_help(db: Any, assist: dict[str, Any], helper: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    """One help, by one conditional update: never past assists_needed, never twice."""
    from pymongo import ReturnDocument
    entry = {k: helper[k] for k in ("user_id", "nickname", "avatar")}
    updated = db.assists.find_one_and_update(
        {"_id": assist["_id"], "status": "active", "expires_at": {"$gt": now},
         "help_count": {"$lt": assist["assists_needed"]},
         "helps.user_id": {"$ne": helper["user_id"]}},
        {"$inc": {"help_count": 1}, "$push": {"helps": {**entry, "at": now}}},
        return_document=ReturnDocument.AFTER)
    if updated is None:  # it changed since it was read: say why
        _check_assistable(_find(db, assist["_id"]), helper["user_id"], now)
        raise ShopError("CONFLICT", "the assist changed; retry")
    return updated


def help_assist(ctx: Context, req: AssistIdInput) -> dict[str, Any]:
    assist = _find(ctx.db, req.assist_id)
    _check_assistable(assist, ctx.shopper_id, ctx.now)
    helper = load_helper(ctx.db, ctx.shopper_id)
    _check_new_user(assist, helper)
    count_daily_help(ctx.db, "assist", ctx.shopper_id, ctx.settings.ASSIST_DAILY_HELP_LIMIT,
                     ctx.now)
    updated = _add_help(ctx.db, assist, helper, ctx.now)
    if updated["help_count"] == updated["assists_needed"]:
        updated = _complete(ctx, updated)
    return assist_view(updated, ctx.user_id, ctx.now)


def get_assist(ctx: Context, req: AssistIdInput) -> dict[str, Any]:
    return assist_view(_find(ctx.db, req.assist_id), ctx.user_id, ctx.now)


# ---- the reward -----------------------------------------------------------------------------

def _complete(ctx: Context, assist: dict[str, Any]) -> dict[str, Any]:
    """active -> completed exactly once; the call that moves it grants the reward."""
    from pymongo import ReturnDocument
    completed = ctx.db.assists.find_one_and_update(
        {"_id": assist["_id"], "status": "active", "help_count": assist["assists_needed"]},
        {"$set": {"status": "completed", "completed_at": ctx.now,
                  "reward_status": "granting"}},
        return_document=ReturnDocument.AFTER)
    if completed is None:
        return _find(ctx.db, assist["_id"])
    return _grant(ctx, completed)


def _take_reward_unit(db: Any, assist: dict[str, Any]) -> bool:
    """One of the campaign's reward_limit, taken once per assist (a resumed grant keeps it)."""
    if assist.get("reward_unit"):
        return True
    campaign = db.assist_campaigns.find_one({"_id": assist["campaign_id"]}, {"reward_limit": 1})
    taken = db.assist_campaigns.update_one(
        {"_id": assist["campaign_id"], "rewarded": {"$lt": campaign["reward_limit"]}},
        {"$inc": {"rewarded": 1}})
    if taken.modified_count == 0:
        return False
    db.assists.update_one({"_id": assist["_id"]}, {"$set": {"reward_unit": True}})
    return True


def _give_coupon(ctx: Context, assist: dict[str, Any]) -> dict[str, Any]:
    """A user coupon into the starter's wallet, as claim_coupon makes one, minus the per-user
    limit; its id comes from the assist, so a resumed grant finds it instead of adding one."""
    from shared.core.db import insert_once
    from shared.orders.coupons import TERMS
    user_coupon_id = f"ucp_{assist['_id']}"
    if ctx.db.user_coupons.find_one({"_id": user_coupon_id}, {"_id": 1}):
        return {"user_coupon_id": user_coupon_id}
    template = ctx.db.coupons.find_one({"_id": assist["reward"]["coupon_id"]})
    if template is None or (template.get("valid_to") and template["valid_to"] <= ctx.now):
        raise ShopError("COUPON_UNAVAILABLE", "the coupon can no longer be given")
    taken = ctx.db.coupons.update_one(
        {"_id": template["_id"], "status": "active", "remaining": {"$gt": 0}},
        {"$inc": {"claimed": 1, "remaining": -1}})
    if taken.modified_count == 0:
        raise ShopError("COUPON_SOLD_OUT")
    if template.get("valid_days"):
        valid_from, valid_to = ctx.now, ctx.now + timedelta(days=template["valid_days"])
    else:
        valid_from, valid_to = template["valid_from"], template["valid_to"]
    # a resumed grant may race this one: the coupon's _id makes it land once
    insert_once(ctx.db.user_coupons, {
        "_id": user_coupon_id, "user_id": assist["user_id"], "coupon_id": template["_id"],
        **{k: template.get(k) for k in TERMS}, "status": "available", "order_id": None,
        "valid_from": valid_from, "valid_to": valid_to, "claimed_at": ctx.now,
        "assist_id": assist["_id"]})
    return {"user_coupon_id": user_coupon_id}


def _give_gift(ctx: Context, assist: dict[str, Any]) -> dict[str, Any]:
    """A zero-price order placed for the starter; free, so it is paid at once."""
    from shared.checkout.placing import PlaceOrderInput, Special, place_order
    starter = copy.copy(ctx)
    starter.user_id = assist["user_id"]
    sku_id = assist["reward"]["sku_id"]
    order = place_order(starter, PlaceOrderInput(
        request_id=f"assist:{assist['_id']}", address_id=assist["address_id"],
        items=[{"sku_id": sku_id, "quantity": 1}]),
        Special(prices={sku_id: 0}, fields={"gift": True, "assist_id": assist["_id"]}))
    return {"order_id": order["id"]}


def _finish_grant(ctx: Context, assist: dict[str, Any], status: str,
                  result: dict[str, Any]) -> dict[str, Any]:
    from pymongo import ReturnDocument
    done = ctx.db.assists.find_one_and_update(
        {"_id": assist["_id"], "reward_status": "granting"},
        {"$set": {"reward_status": status, "reward_granted": status == "granted",
                  "reward_result": result, "granted_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    return done or _find(ctx.db, assist["_id"])


def _grant(ctx: Context, assist: dict[str, Any]) -> dict[str, Any]:
    """The reward of a completed assist: never over the campaign's limit, never twice."""
    if not _take_reward_unit(ctx.db, assist):
        return _finish_grant(ctx, assist, "unavailable", {"reason": "reward_limit"})
    give = _give_coupon if assist["reward"]["kind"] == "coupon" else _give_gift
    try:
        result = give(ctx, assist)
    except ShopError as exc:  # sold out, off sale, the address deleted: the unit goes back
        ctx.db.assist_campaigns.update_one({"_id": assist["campaign_id"], "rewarded": {"$gt": 0}},
                                           {"$inc": {"rewarded": -1}})
        return _finish_grant(ctx, assist, "failed", {"reason": exc.code})
    return _finish_grant(ctx, assist, "granted", result)


def expire_assists(ctx: Context) -> dict[str, Any]:
    """Timer work: assists past their time expire; grants a crash cut short are finished."""
    batch = ctx.settings.TIMER_BATCH_SIZE
    expired, more = expire_due(ctx.db.assists, ctx.now, batch)
    stale = list(ctx.db.assists.find({"reward_status": "granting",
                                      "completed_at": {"$lte": ctx.now - STALE_GRANT}})
                 .limit(batch))
    for assist in stale:
        _grant(ctx, assist)
    return {"expired": expired, "grants_finished": len(stale), "more": more}
