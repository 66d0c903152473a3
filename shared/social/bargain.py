"""Bargains (砍价): friends cut the price of one SKU, help by help, down to the floor.

The cuts are drawn when a bargain starts (:func:`allocate_cuts`) and kept on it, hidden. Help
number k applies cut k by one conditional update keyed on ``help_count == k``, so concurrent
helps land one at a time, in order, and exactly ``helpers_needed`` of them reach the floor.

A bargain is ``active`` -> ``buying`` (its owner is placing the order) -> ``bought``, or
``expired``. ``active_key`` (campaign:user, unique where present) is held while the bargain is
active or being bought: one running bargain per user per campaign.

The pieces every friend campaign needs (the campaign window, the daily help count, the
helper's public snapshot, opening one per user) live here too; ``assist`` uses them.
"""
from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import AwareDatetime, Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.core.ratelimit import hit

STALE_BUYING = timedelta(minutes=10)
CHINA_OFFSET = timedelta(hours=8)
_system_random = random.SystemRandom()  # the cuts to come must not be guessable


# ---- what every friend campaign shares ------------------------------------------------------

class CampaignWindow(Input):
    ttl_minutes: int = Field(ge=5, le=7 * 24 * 60, description="how long one bargain/assist runs")
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def window_in_order(self) -> "CampaignWindow":
        # year 1 or 9999 with an offset overflows when converted to UTC (a 500)
        if any(not 2000 <= moment.year <= 2100 for moment in (self.starts_at, self.ends_at)):
            raise ValueError("starts_at and ends_at must fall in the years 2000-2100")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ListCampaignsInput(PageInput):
    pass


def refuse(code: str, message: str, reason: str, **details: Any) -> ShopError:
    """An error whose ``details.reason`` tells the mini-program which case it is."""
    return ShopError(code, message, {"reason": reason, **details})


def check_running(campaign: dict[str, Any], now: datetime) -> None:
    if now < campaign["starts_at"]:
        raise refuse("INVALID_STATE", "the campaign has not started", "not_started",
                     starts_at=iso(campaign["starts_at"]))
    if now >= campaign["ends_at"] or not campaign.get("active", True):
        raise refuse("INVALID_STATE", "the campaign has ended", "ended")


def campaign_status(campaign: dict[str, Any], now: datetime, is_sold_out: bool) -> str:
    if now < campaign["starts_at"]:
        return "scheduled"
    if now >= campaign["ends_at"] or not campaign.get("active", True):
        return "ended"
    return "sold_out" if is_sold_out else "running"


def expiry(campaign: dict[str, Any], now: datetime) -> datetime:
    """A bargain or assist ends with its campaign at the latest."""
    return min(now + timedelta(minutes=campaign["ttl_minutes"]), campaign["ends_at"])


def count_daily_help(db: Any, kind: str, user_id: str, limit: int, now: datetime) -> None:
    """One more help by this user today, or RATE_LIMITED past the daily limit.

    The day is the shopper's: midnight to midnight in China (UTC+8). ``hit`` aligns its
    windows to the epoch, so it is handed a clock shifted by 8 hours."""
    hit(db, f"{kind}_help:{user_id}", limit, now + CHINA_OFFSET, window_seconds=24 * 3600)


def load_helper(db: Any, user_id: str) -> dict[str, Any]:
    """What a helper shows of themself (nickname, avatar), and when their account began."""
    from shared.accounts.users import DEFAULT_NICKNAME
    user = db.users.find_one({"_id": user_id}, {"nickname": 1, "avatar_url": 1,
                                                "created_at": 1}) or {}
    return {"user_id": user_id, "nickname": user.get("nickname") or DEFAULT_NICKNAME,
            "avatar": user.get("avatar_url") or "", "created_at": user.get("created_at")}


def open_once(collection: Any, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Insert ``doc`` unless its ``active_key`` is held; answer with whichever holds it."""
    for _ in range(3):
        current = collection.find_one({"active_key": doc["active_key"]})
        if current is not None and not _retire_if_expired(collection, current, now):
            return current
        try:
            collection.insert_one(doc)
            return doc
        except DuplicateKeyError:
            continue  # a concurrent start by the same user won: answer with theirs
    raise ShopError("CONFLICT", "it is being started; retry in a moment")


def _retire_if_expired(collection: Any, doc: dict[str, Any], now: datetime) -> bool:
    """Expire an active one past its time (the timer may not have run yet); True if gone."""
    if doc["status"] != "active" or doc["expires_at"] > now:
        return False
    collection.update_one({"_id": doc["_id"], "status": "active", "expires_at": {"$lte": now}},
                          {"$set": {"status": "expired"}, "$unset": {"active_key": ""}})
    return True


def expire_due(collection: Any, now: datetime, batch: int) -> tuple[int, bool]:
    """Mark active ones past their time expired, at most ``batch``; (count, more to do)."""
    due = [d["_id"] for d in collection.find({"status": "active", "expires_at": {"$lte": now}},
                                             {"_id": 1}).limit(batch)]
    expired = sum(collection.update_one(
        {"_id": doc_id, "status": "active", "expires_at": {"$lte": now}},
        {"$set": {"status": "expired"}, "$unset": {"active_key": ""}}).modified_count
        for doc_id in due)
    return expired, len(due) == batch


# ---- the cuts -------------------------------------------------------------------------------

def allocate_cuts(total: int, count: int, rng: Optional[random.Random] = None) -> list[int]:
    """``count`` positive cuts summing exactly to ``total``, biggest first.

    ``count - 1`` distinct cut points in 1..total-1 split the range: every split is equally
    likely. Biggest first is friendlier: the first friends see the price fall fast."""
    if count < 1 or total < count:
        raise ValueError("need total >= count >= 1 so that every cut is at least 1 fen")
    points = sorted((rng or _system_random).sample(range(1, total), count - 1))
    cuts = [high - low for low, high in zip([0, *points], [*points, total])]
    return sorted(cuts, reverse=True)


# ---- inputs ---------------------------------------------------------------------------------

class CreateBargainInput(CampaignWindow):
    sku_id: str = Field(min_length=1, max_length=64)
    start_price: int = Field(ge=1, le=100_000_000, description="fen")
    floor_price: int = Field(ge=0, le=100_000_000, description="fen; 0 means free at the end")
    helpers_needed: int = Field(ge=1, le=100)
    stock_limit: int = Field(ge=1, le=1_000_000, description="bargain orders at most")

    @model_validator(mode="after")
    def every_cut_at_least_one_fen(self) -> "CreateBargainInput":
        if self.start_price - self.floor_price < self.helpers_needed:
            raise ValueError("start_price - floor_price must be at least helpers_needed "
                             "(every cut is at least 1 fen)")
        return self


class StartBargainInput(Input):
    campaign_id: str = Field(min_length=1, max_length=64)


class BargainIdInput(Input):
    bargain_id: str = Field(min_length=1, max_length=64)


class BuyBargainInput(BargainIdInput):
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    address_id: str = Field(min_length=1, max_length=64)


# ---- views ----------------------------------------------------------------------------------

CAMPAIGN_FIELDS = ("sku_id", "product_id", "title", "image", "original_price", "start_price",
                   "floor_price", "helpers_needed", "ttl_minutes", "stock_limit", "sold")


def campaign_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: doc.get(k) for k in CAMPAIGN_FIELDS},
            "status": campaign_status(doc, now, doc["sold"] >= doc["stock_limit"]),
            "starts_at": iso(doc["starts_at"]), "ends_at": iso(doc["ends_at"]),
            "created_at": iso(doc["created_at"])}


def bargain_view(doc: dict[str, Any], viewer_id: Optional[str], now: datetime) -> dict[str, Any]:
    """The public view friends open to help: no one's id, no cuts still to come."""
    status = "active" if doc["status"] == "buying" else doc["status"]
    if status == "active" and doc["expires_at"] <= now:
        status = "expired"
    is_mine = doc["user_id"] == viewer_id
    view = {"id": doc["_id"], "campaign_id": doc["campaign_id"], "sku_id": doc["sku_id"],
            "title": doc.get("title"), "image": doc.get("image"), "status": status,
            "start_price": doc["start_price"], "floor_price": doc["floor_price"],
            "current_price": doc["current_price"], "helpers_needed": doc["helpers_needed"],
            "help_count": doc["help_count"],
            "helps": [{"nickname": h["nickname"], "avatar": h["avatar"], "cut": h["cut"]}
                      for h in doc["helps"]],
            "expires_at": iso(doc["expires_at"]), "is_mine": is_mine,
            "helped_by_me": any(h["user_id"] == viewer_id for h in doc["helps"])}
    if is_mine:
        view["order_id"] = doc.get("order_id")
    return view


# ---- merchant -------------------------------------------------------------------------------

def create_bargain(ctx: Context, req: CreateBargainInput) -> dict[str, Any]:
    sku = ctx.db.skus.find_one({"_id": req.sku_id, "active": True},
                               {"product_id": 1, "price": 1, "image": 1})
    if sku is None:
        raise not_found("sku")
    if req.start_price > sku["price"]:
        raise ShopError("VALIDATION_ERROR", "start_price cannot exceed the SKU's price",
                        {"fields": [{"field": "start_price", "message": "above the price",
                                     "type": "above_price"}]})
    product = ctx.db.products.find_one({"_id": sku["product_id"]}, {"title": 1, "images": 1}) \
        or {}
    doc = {"_id": new_id("bgc"), **req.model_dump(), "product_id": sku["product_id"],
           "title": product.get("title", ""),
           "image": sku.get("image") or (product.get("images") or [""])[0],
           "original_price": sku["price"], "sold": 0, "active": True, "created_at": ctx.now}
    ctx.db.bargain_campaigns.insert_one(doc)
    return campaign_view(doc, ctx.now)


def merchant_list_bargains(ctx: Context, req: ListCampaignsInput) -> dict[str, Any]:
    docs = ctx.db.bargain_campaigns.find({}).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([campaign_view(d, ctx.now) for d in docs],
                   ctx.db.bargain_campaigns.count_documents({}), req)


# ---- shopper: start, help, view ---------------------------------------------------------------

def _campaign(db: Any, campaign_id: str) -> dict[str, Any]:
    campaign = db.bargain_campaigns.find_one({"_id": campaign_id})
    if campaign is None:
        raise not_found("bargain campaign")
    return campaign


def start_bargain(ctx: Context, req: StartBargainInput) -> dict[str, Any]:
    """Open the caller's bargain on a campaign, or answer with the one already running."""
    campaign = _campaign(ctx.db, req.campaign_id)
    check_running(campaign, ctx.now)
    if campaign["sold"] >= campaign["stock_limit"]:
        raise refuse("OUT_OF_STOCK", "the bargain campaign is sold out", "sold_out")
    doc = {"_id": new_id("brg"), "campaign_id": campaign["_id"], "user_id": ctx.user_id,
           "sku_id": campaign["sku_id"], "title": campaign["title"], "image": campaign["image"],
           "start_price": campaign["start_price"], "floor_price": campaign["floor_price"],
           "current_price": campaign["start_price"],
           "helpers_needed": campaign["helpers_needed"],
           "cuts": allocate_cuts(campaign["start_price"] - campaign["floor_price"],
                                 campaign["helpers_needed"]),
           "help_count": 0, "helps": [], "status": "active",
           "active_key": f"{campaign['_id']}:{ctx.user_id}",
           "expires_at": expiry(campaign, ctx.now), "created_at": ctx.now}
    return bargain_view(open_once(ctx.db.bargains, doc, ctx.now), ctx.user_id, ctx.now)


def _find(db: Any, bargain_id: str) -> dict[str, Any]:
    bargain = db.bargains.find_one({"_id": bargain_id})
    if bargain is None:
        raise not_found("bargain")
    return bargain


def _check_helpable(bargain: dict[str, Any], helper_id: str, now: datetime) -> None:
    if bargain["status"] == "expired" or bargain["expires_at"] <= now:
        raise refuse("INVALID_STATE", "the bargain has expired", "expired")
    if any(h["user_id"] == helper_id for h in bargain["helps"]):
        raise refuse("INVALID_STATE", "you have already cut this bargain", "already_helped")
    if bargain["status"] != "active":  # being bought, bought, or closed by a cancellation
        raise refuse("INVALID_STATE", "the bargain can no longer be cut", bargain["status"])
    if bargain["help_count"] >= bargain["helpers_needed"]:
        raise refuse("INVALID_STATE", "the bargain is already at its floor price", "at_floor")


def _apply_next_cut(db: Any, bargain: dict[str, Any], helper: dict[str, Any],
                    now: datetime) -> tuple[dict[str, Any], int]:
    """Apply cut number ``help_count``; on a lost race, re-read and take the next one.

    A race is lost only when another help landed first (or the state moved on, which the
    check then reports), so at most ``helpers_needed`` retries can ever be needed."""
    from pymongo import ReturnDocument
    entry = {k: helper[k] for k in ("user_id", "nickname", "avatar")}
    for attempt in itertools.count():
        if attempt:
            bargain = _find(db, bargain["_id"])
            _check_helpable(bargain, helper["user_id"], now)
        if attempt > bargain["helpers_needed"] + 1:
            break
        count = bargain["help_count"]
        cut = bargain["cuts"][count]
        updated = db.bargains.find_one_and_update(
            {"_id": bargain["_id"], "status": "active", "help_count": count,
             "expires_at": {"$gt": now}, "helps.user_id": {"$ne": helper["user_id"]},
             # redundant with the cuts' sum; a guard in case a document was edited by hand
             "current_price": {"$gte": bargain["floor_price"] + cut}},
            {"$inc": {"help_count": 1, "current_price": -cut},
             "$push": {"helps": {**entry, "cut": cut, "at": now}}},
            return_document=ReturnDocument.AFTER)
        if updated is not None:
            return updated, cut
    raise ShopError("CONFLICT", "too many friends are cutting at once; retry in a moment")


def help_bargain(ctx: Context, req: BargainIdInput) -> dict[str, Any]:
    """A friend's cut (once each); the starter may make one cut of their own, too."""
    bargain = _find(ctx.db, req.bargain_id)
    _check_helpable(bargain, ctx.shopper_id, ctx.now)
    if ctx.user_id != bargain["user_id"]:  # the starter's own cut is not a help to a friend
        count_daily_help(ctx.db, "bargain", ctx.shopper_id,
                         ctx.settings.BARGAIN_DAILY_HELP_LIMIT, ctx.now)
    updated, cut = _apply_next_cut(ctx.db, bargain, load_helper(ctx.db, ctx.shopper_id), ctx.now)
    return {**bargain_view(updated, ctx.user_id, ctx.now), "cut": cut}


def get_bargain(ctx: Context, req: BargainIdInput) -> dict[str, Any]:
    return bargain_view(_find(ctx.db, req.bargain_id), ctx.user_id, ctx.now)


# ---- shopper: buy ---------------------------------------------------------------------------

def _claim_for_buying(ctx: Context, bargain: dict[str, Any], request_id: str) -> dict[str, Any]:
    """active -> buying for one buy call; the price is frozen from here (helps need active)."""
    from pymongo import ReturnDocument
    claimed = ctx.db.bargains.find_one_and_update(
        {"_id": bargain["_id"], "user_id": ctx.user_id, "status": "active",
         "expires_at": {"$gt": ctx.now}},
        {"$set": {"status": "buying", "buy_request_id": request_id, "buying_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    if claimed is not None:
        return claimed
    current = _find(ctx.db, bargain["_id"])
    if current["status"] == "bought":
        raise refuse("INVALID_STATE", "this bargain is already bought", "bought",
                     order_id=current.get("order_id"))
    if current["status"] == "buying":
        raise ShopError("CONFLICT", "this bargain is being bought; retry in a moment")
    raise refuse("INVALID_STATE", "the bargain has expired", "expired")


def _take_unit(db: Any, bargain: dict[str, Any]) -> None:
    """One of the campaign's ``stock_limit`` bargain orders, taken atomically and once per
    bargain: the campaign lists the bargains holding a unit (``buyers``), so a buy retried
    after a death never takes a second one."""
    campaign = db.bargain_campaigns.find_one({"_id": bargain["campaign_id"]}, {"stock_limit": 1})
    taken = db.bargain_campaigns.update_one(
        {"_id": bargain["campaign_id"], "sold": {"$lt": campaign["stock_limit"]},
         "buyers": {"$ne": bargain["_id"]}},
        {"$inc": {"sold": 1}, "$push": {"buyers": bargain["_id"]}})
    if taken.modified_count == 0 and not db.bargain_campaigns.find_one(
            {"_id": bargain["campaign_id"], "buyers": bargain["_id"]}, {"_id": 1}):
        raise refuse("OUT_OF_STOCK", "the bargain campaign is sold out", "sold_out")
    # noted so that a reconciler knows whether a half-done buy holds a unit to give back
    db.bargains.update_one({"_id": bargain["_id"]}, {"$set": {"unit_taken": True}})
    bargain["unit_taken"] = True


def _give_back_unit(db: Any, campaign_id: str, bargain_id: str) -> None:
    """The bargain's unit back, once (only a bargain the campaign lists holds one)."""
    db.bargain_campaigns.update_one({"_id": campaign_id, "buyers": bargain_id},
                                    {"$inc": {"sold": -1}, "$pull": {"buyers": bargain_id}})


def _release_claim(db: Any, bargain: dict[str, Any], request_id: Optional[str]) -> None:
    """buying -> active again after a failed placement; the unit goes back if one was taken
    (first, keyed: a death before the bargain reopens leaves it buying, and the repeat gives
    nothing twice)."""
    query = {"_id": bargain["_id"], "status": "buying", "buy_request_id": request_id}
    if db.bargains.find_one(query, {"_id": 1}) is None:
        return
    _give_back_unit(db, bargain["campaign_id"], bargain["_id"])
    db.bargains.update_one(query, {"$set": {"status": "active"}, "$unset": {
        "buy_request_id": "", "buying_at": "", "unit_taken": ""}})


def _finish_buy(db: Any, bargain_id: str, request_id: str, order_id: str,
                now: datetime) -> None:
    db.bargains.update_one(
        {"_id": bargain_id, "status": "buying", "buy_request_id": request_id},
        {"$set": {"status": "bought", "order_id": order_id, "bought_at": now},
         "$unset": {"active_key": ""}})


def _place_bargain_order(ctx: Context, bargain: dict[str, Any],
                         req: BuyBargainInput) -> dict[str, Any]:
    from shared.checkout.placing import PlaceOrderInput, Special, place_order
    order_input = PlaceOrderInput(request_id=req.request_id, address_id=req.address_id,
                                  items=[{"sku_id": bargain["sku_id"], "quantity": 1}])
    special = Special(prices={bargain["sku_id"]: bargain["current_price"]},
                      fields={"bargain_id": bargain["_id"]})
    return place_order(ctx, order_input, special)


def buy_bargain(ctx: Context, req: BuyBargainInput) -> dict[str, Any]:
    """The owner buys at the current price (the floor when fully cut), once per bargain."""
    from shared.orders.lifecycle import order_view
    from shared.orders.placement import find_by_request
    bargain = ctx.db.bargains.find_one({"_id": req.bargain_id, "user_id": ctx.user_id})
    if bargain is None:
        raise not_found("bargain")
    placed = find_by_request(ctx.db, ctx.shopper_id, req.request_id)
    if placed is not None and placed["status"] != "failed":  # a retry: the order it made
        if placed.get("bargain_id") != bargain["_id"]:
            raise ShopError("CONFLICT", "this request_id was used for another order")
        _finish_buy(ctx.db, bargain["_id"], req.request_id, placed["_id"], ctx.now)
        return order_view(placed)
    if bargain["status"] == "buying" and bargain.get("buy_request_id") == req.request_id:
        claimed = bargain  # a retry of a buy whose instance died: carry on where it stopped
    else:
        claimed = _claim_for_buying(ctx, bargain, req.request_id)
    try:
        _take_unit(ctx.db, claimed)
        order = _place_bargain_order(ctx, claimed, req)
    except BaseException:
        _release_claim(ctx.db, claimed, req.request_id)
        raise
    _finish_buy(ctx.db, claimed["_id"], req.request_id, order["id"], ctx.now)
    return order


# ---- order events and the timer ---------------------------------------------------------------

def on_order_cancelled(db: Any, event: OrderEvent) -> None:
    """An unpaid bargain order was cancelled: the campaign gets its unit back and the bargain
    can be bought again until it expires (or is closed, if its owner started another)."""
    order = event.order
    if not order.get("bargain_id"):
        return
    bargain = db.bargains.find_one({"_id": order.get("bargain_id")}, {"campaign_id": 1})
    if bargain is None:
        return
    query = {"_id": bargain["_id"], "status": "bought", "order_id": order["_id"]}
    if db.bargains.find_one(query, {"_id": 1}) is None:
        return
    # the unit first (keyed), then the bargain reopens: a repeat after a death in between
    # finds it still bought and gives nothing twice
    _give_back_unit(db, bargain["campaign_id"], bargain["_id"])
    unset = {"order_id": "", "buy_request_id": "", "buying_at": "", "unit_taken": ""}
    try:
        db.bargains.update_one(query, {
            "$set": {"status": "active", "active_key": f"{bargain['campaign_id']}:"
                                                      f"{order['user_id']}"},
            "$unset": unset})
    except DuplicateKeyError:
        db.bargains.update_one(query, {"$set": {"status": "closed"}, "$unset": unset})


def _repair_buying(db: Any, bargain: dict[str, Any], now: datetime) -> bool:
    """A buy that stopped half-way (the instance died): finish it, or undo it."""
    order = db.orders.find_one({"user_id": bargain["user_id"],
                                "request_id": bargain.get("buy_request_id"),
                                "bargain_id": bargain["_id"],
                                "status": {"$nin": ["reserving", "failed", "cancelled"]}},
                               {"_id": 1})
    if order is not None:
        _finish_buy(db, bargain["_id"], bargain["buy_request_id"], order["_id"], now)
        return True
    if db.orders.find_one({"bargain_id": bargain["_id"], "status": "reserving"}, {"_id": 1}):
        return False  # the order reconciler settles its placement first
    _release_claim(db, bargain, bargain.get("buy_request_id"))
    return True


def expire_bargains(ctx: Context) -> dict[str, Any]:
    """Timer work: bargains past their time expire; buys a crash cut short are repaired."""
    batch = ctx.settings.TIMER_BATCH_SIZE
    expired, more = expire_due(ctx.db.bargains, ctx.now, batch)
    stale = ctx.db.bargains.find({"status": "buying",
                                  "buying_at": {"$lte": ctx.now - STALE_BUYING}}).limit(batch)
    repaired = sum(1 for doc in stale if _repair_buying(ctx.db, doc, ctx.now))
    return {"expired": expired, "repaired": repaired, "more": more}
