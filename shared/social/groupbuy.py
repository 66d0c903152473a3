"""Group-buy (拼团): a leader opens a team at the group price, friends join, the team succeeds
when every seat is paid, or fails at its deadline and every paid member is refunded.

Seats: a team document holds ``held`` (seats taken by orders, paid or not) and ``paid``.
A seat is taken by one conditional update (``held < team_size`` and the user not already
seated), so more orders than seats can never exist; an unpaid order gives its seat back
when it is cancelled (pay deadline), and a payment that lands after its seat is gone is
refunded automatically. Paid orders wait (``hold_shipping``) until their team succeeds.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import AwareDatetime, Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.core.log import get_logger, log_event
from shared.social.groupbuy_holds import give_back, hold_key, take_campaign_stock, take_user_quota

logger = get_logger("shop.groupbuy")

TeamStatus = Literal["opening", "forming", "succeeded", "failed"]


# ---- inputs --------------------------------------------------------------------------------

class SkuPriceInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    group_price: int = Field(ge=1, le=100_000_000)


class CreateGroupBuyInput(Input):
    product_id: str = Field(min_length=1, max_length=64)
    sku_prices: list[SkuPriceInput] = Field(min_length=1, max_length=100)
    team_size: int = Field(ge=2, le=50)
    team_ttl_minutes: int = Field(ge=5, le=7 * 24 * 60)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    stock_limit: Optional[int] = Field(default=None, ge=1, le=10_000_000)
    per_user_limit: Optional[int] = Field(default=None, ge=1, le=1000)
    auto_fill: bool = False

    @model_validator(mode="after")
    def ends_after_start(self) -> "CreateGroupBuyInput":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ListGroupBuysInput(PageInput):
    status: Optional[Literal["active", "ended"]] = None


class CampaignIdInput(Input):
    campaign_id: str = Field(min_length=1, max_length=64)


class StartGroupBuyInput(Input):
    campaign_id: str = Field(min_length=1, max_length=64)
    sku_id: str = Field(min_length=1, max_length=64)
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    address_id: str = Field(min_length=1, max_length=64)


class JoinGroupBuyInput(Input):
    team_id: str = Field(min_length=1, max_length=64)
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    address_id: str = Field(min_length=1, max_length=64)
    sku_id: Optional[str] = Field(default=None, max_length=64,
                                  description="defaults to the leader's SKU")


class TeamIdInput(Input):
    team_id: str = Field(min_length=1, max_length=64)


# ---- views ---------------------------------------------------------------------------------

def campaign_view(doc: dict[str, Any], skus: Optional[list[dict[str, Any]]] = None) \
        -> dict[str, Any]:
    view = {"id": doc["_id"], "product": {"id": doc["product_id"], "title": doc["title"],
                                          "image": doc.get("image", "")},
            "sku_prices": [{"sku_id": s, "group_price": p} for s, p in doc["sku_prices"].items()],
            "team_size": doc["team_size"], "team_ttl_minutes": doc["team_ttl_minutes"],
            "starts_at": iso(doc["starts_at"]), "ends_at": iso(doc["ends_at"]),
            "stock_limit": doc.get("stock_limit"), "remaining": doc.get("remaining"),
            "per_user_limit": doc.get("per_user_limit"), "auto_fill": doc.get("auto_fill", False),
            "status": doc["status"], "teams_succeeded": doc.get("teams_succeeded", 0)}
    if skus is not None:
        view["skus"] = [{"sku_id": s["_id"], "specs": s.get("specs", {}), "price": s["price"],
                         "group_price": doc["sku_prices"][s["_id"]], "stock": s["stock"]}
                        for s in skus]
    return view


def team_view(doc: dict[str, Any], viewer_id: Optional[str] = None) -> dict[str, Any]:
    """The public view of a team: paid members' nickname and avatar, nothing else personal;
    ``in_team`` says whether the caller holds a seat (leader or member: no 参团 for them)."""
    return {"in_team": viewer_id is not None and any(s["user_id"] == viewer_id
                                                     for s in doc["seats"]),
            "id": doc["_id"], "campaign_id": doc["campaign_id"], "status": doc["status"],
            "team_size": doc["team_size"],
            "members": [{"nickname": s["nickname"], "avatar": s["avatar"],
                         "is_leader": i == 0} for i, s in enumerate(doc["seats"]) if s["paid"]],
            "seats_left": max(0, doc["team_size"] - doc["held"]),
            "expires_at": iso(doc.get("expires_at")), "auto_filled": doc.get("auto_filled", False)}


# ---- merchant ------------------------------------------------------------------------------

def create_group_buy(ctx: Context, req: CreateGroupBuyInput) -> dict[str, Any]:
    product = ctx.db.products.find_one({"_id": req.product_id})
    if product is None:
        raise not_found("product")
    prices = {p.sku_id: p.group_price for p in req.sku_prices}
    skus = {s["_id"]: s for s in ctx.db.skus.find({"_id": {"$in": list(prices)},
                                                   "product_id": req.product_id, "active": True})}
    for sku_id, price in prices.items():
        if sku_id not in skus:
            raise ShopError("NOT_FOUND", "sku not found in this product",
                            {"resource": "sku", "sku_id": sku_id})
        if price >= skus[sku_id]["price"]:
            raise ShopError("VALIDATION_ERROR", "a group price must be below the SKU's price",
                            {"fields": [{"field": "sku_prices.group_price", "message": sku_id,
                                         "type": "not_a_discount"}]})
    doc = {"_id": new_id("gbc"), "product_id": product["_id"], "title": product["title"],
           "image": (product.get("images") or [""])[0], "sku_prices": prices,
           "team_size": req.team_size, "team_ttl_minutes": req.team_ttl_minutes,
           "starts_at": req.starts_at, "ends_at": req.ends_at, "stock_limit": req.stock_limit,
           "remaining": req.stock_limit, "per_user_limit": req.per_user_limit,
           "auto_fill": req.auto_fill, "status": "active", "teams_succeeded": 0,
           "created_at": ctx.now}
    ctx.db.group_buys.insert_one(doc)
    return campaign_view(doc)


def merchant_list_group_buys(ctx: Context, req: ListGroupBuysInput) -> dict[str, Any]:
    query = {"status": req.status} if req.status else {}
    docs = ctx.db.group_buys.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([campaign_view(d) for d in docs], ctx.db.group_buys.count_documents(query),
                   req)


def end_group_buy(ctx: Context, req: CampaignIdInput) -> dict[str, Any]:
    """No new teams or joins; teams already forming run to their deadline."""
    from pymongo import ReturnDocument
    doc = ctx.db.group_buys.find_one_and_update(
        {"_id": req.campaign_id}, {"$set": {"status": "ended", "ended_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    if doc is None:
        raise not_found("group-buy")
    return campaign_view(doc)


# ---- shopper -------------------------------------------------------------------------------

def _live_query(now: datetime) -> dict[str, Any]:
    return {"status": "active", "starts_at": {"$lte": now}, "ends_at": {"$gt": now}}


def list_group_buys(ctx: Context, req: ListGroupBuysInput) -> dict[str, Any]:
    query = _live_query(ctx.now)
    docs = ctx.db.group_buys.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([campaign_view(d) for d in docs], ctx.db.group_buys.count_documents(query),
                   req)


def get_group_buy(ctx: Context, req: CampaignIdInput) -> dict[str, Any]:
    doc = ctx.db.group_buys.find_one({"_id": req.campaign_id})
    if doc is None:
        raise not_found("group-buy")
    skus = list(ctx.db.skus.find({"_id": {"$in": list(doc["sku_prices"])}}))
    view = campaign_view(doc, skus)
    joinable = ctx.db.teams.find({"campaign_id": doc["_id"], "status": "forming",
                                  "expires_at": {"$gt": ctx.now}}) \
        .sort([("expires_at", 1)]).limit(10)
    view["teams"] = [team_view(t, ctx.user_id) for t in joinable
                     if t["held"] < t["team_size"]]
    return view


def _live_campaign(ctx: Context, campaign_id: str) -> dict[str, Any]:
    doc = ctx.db.group_buys.find_one({"_id": campaign_id})
    if doc is None:
        raise not_found("group-buy")
    if doc["status"] != "active" or not doc["starts_at"] <= ctx.now < doc["ends_at"]:
        raise ShopError("INVALID_STATE", "this group-buy is not on", {"status": doc["status"]})
    return doc


def _existing(ctx: Context, request_id: str) -> Optional[dict[str, Any]]:
    from shared.orders.lifecycle import order_view
    from shared.orders.placement import find_by_request
    order = find_by_request(ctx.db, ctx.shopper_id, request_id)
    if order is None or not order.get("group") or order["status"] == "failed":
        return None  # (a failed one: a placement that died, placed afresh by the retry)
    # the call that placed it may have died before noting it on its seat
    _note_on_seat(ctx.db, order)
    team = ctx.db.teams.find_one({"_id": order["group"]["team_id"]})
    return {"order": order_view(order), "team": team_view(team, ctx.user_id)}


def _note_on_seat(db: Any, order: dict[str, Any]) -> None:
    db.teams.update_one({"_id": order["group"]["team_id"], "seats": {"$elemMatch": {
        "user_id": order["user_id"], "order_id": None}}},
        {"$set": {"seats.$.order_id": order["_id"]}})


def _place_group_order(ctx: Context, campaign: dict[str, Any], team_id: str, sku_id: str,
                       request_id: str, address_id: str, role: str) -> dict[str, Any]:
    """The member's order at the group price; campaign quotas are given back if it fails."""
    from shared.checkout.placing import OrderLineInput, PlaceOrderInput, Special, place_order
    if sku_id not in campaign["sku_prices"]:
        raise ShopError("VALIDATION_ERROR", "that SKU is not in this group-buy",
                        {"fields": [{"field": "sku_id", "message": sku_id,
                                     "type": "not_in_campaign"}]})
    hold = hold_key(ctx.user_id or "", request_id)
    quota_key = take_user_quota(ctx, campaign, hold)
    stock_taken = False
    try:
        stock_taken = take_campaign_stock(ctx, campaign, hold)
        request = PlaceOrderInput(request_id=request_id, address_id=address_id,
                                  items=[OrderLineInput(sku_id=sku_id, quantity=1)])
        special = Special(prices={sku_id: campaign["sku_prices"][sku_id]}, hold_shipping=True,
                          fields={"group": {"campaign_id": campaign["_id"], "team_id": team_id,
                                            "role": role, "quota_key": quota_key,
                                            "stock_taken": stock_taken, "hold": hold}})
        return place_order(ctx, request, special)
    except BaseException:
        give_back(ctx.db, campaign["_id"], quota_key, stock_taken, hold)
        raise


def _seat(ctx: Context, request_id: str) -> dict[str, Any]:
    user = ctx.shopper()
    return {"user_id": ctx.user_id, "order_id": None, "paid": False,
            "nickname": user.get("nickname") or "微信用户", "avatar": user.get("avatar_url", ""),
            "joined_at": ctx.now, "request_id": request_id}


def start_group_buy(ctx: Context, req: StartGroupBuyInput) -> dict[str, Any]:
    """Open a team: the leader's order at the group price; the team forms once it is paid."""
    done = _existing(ctx, req.request_id)
    if done:
        return done
    campaign = _live_campaign(ctx, req.campaign_id)
    # the team's id follows from the request, so a retried start cannot open a second team
    team_id = "team_" + hashlib.sha256(f"{ctx.user_id}:{req.request_id}".encode()).hexdigest()[:20]
    team = {"_id": team_id, "campaign_id": campaign["_id"], "leader_id": ctx.user_id,
            "sku_id": req.sku_id, "team_size": campaign["team_size"], "status": "opening",
            "seats": [_seat(ctx, req.request_id)], "held": 1, "paid": 0, "expires_at": None,
            "created_at": ctx.now}
    try:
        ctx.db.teams.insert_one(team)
    except DuplicateKeyError:
        # a retry of this start: the team is there already, and its order decides below
        log_event(logger, "team start retried", team_id=team_id)
    try:
        order = _place_group_order(ctx, campaign, team_id, req.sku_id, req.request_id,
                                   req.address_id, "leader")
    except BaseException:
        ctx.db.teams.delete_one({"_id": team_id, "status": "opening", "seats.order_id": None})
        raise
    return {"order": order, "team": team_view(_seat_order(ctx, team_id, order), ctx.user_id)}


def _seat_order(ctx: Context, team_id: str, order: dict[str, Any]) -> dict[str, Any]:
    """The caller's seat points at its order; the team as it is now. (Two round trips: one
    find_one_and_update with the positional ``$`` sets the wrong seat on mongomock.)"""
    ctx.db.teams.update_one({"_id": team_id, "seats.user_id": ctx.user_id},
                            {"$set": {"seats.$.order_id": order["id"]}})
    return ctx.db.teams.find_one({"_id": team_id})


def _join_refusal(ctx: Context, team_id: str) -> ShopError:
    team = ctx.db.teams.find_one({"_id": team_id})
    if team is None:
        return not_found("team")
    if team["status"] == "opening":
        return team_not_open(team)
    if any(s["user_id"] == ctx.user_id for s in team["seats"]):
        return ShopError("CONFLICT", "you are already in this team", {"reason": "already_joined"})
    if team["status"] != "forming" or team["expires_at"] <= ctx.now:
        return ShopError("INVALID_STATE", f"the team is {team['status']}",
                         {"status": team["status"]})
    return ShopError("TEAM_FULL", details={"team_size": team["team_size"]})


def join_group_buy(ctx: Context, req: JoinGroupBuyInput) -> dict[str, Any]:
    """Take a seat in a forming team and place the order that holds it."""
    done = _existing(ctx, req.request_id)
    if done:
        return done
    team = ctx.db.teams.find_one({"_id": req.team_id})
    if team is None:
        raise not_found("team")
    if team["status"] == "opening":
        raise team_not_open(team)
    campaign = _live_campaign(ctx, team["campaign_id"])
    seated = ctx.db.teams.update_one(
        {"_id": team["_id"], "status": "forming", "expires_at": {"$gt": ctx.now},
         "held": {"$lt": team["team_size"]}, "seats.user_id": {"$ne": ctx.user_id}},
        {"$inc": {"held": 1}, "$push": {"seats": _seat(ctx, req.request_id)}})
    if seated.modified_count == 0 and not ctx.db.teams.find_one(
            {"_id": team["_id"], "seats": {"$elemMatch": {
                "user_id": ctx.user_id, "request_id": req.request_id, "order_id": None}}}):
        raise _join_refusal(ctx, team["_id"])   # (else: this request's seat, from a retry)
    try:
        order = _place_group_order(ctx, campaign, team["_id"], req.sku_id or team["sku_id"],
                                   req.request_id, req.address_id, "member")
    except BaseException:
        ctx.db.teams.update_one({"_id": team["_id"], "seats.user_id": ctx.user_id,
                                 "seats.order_id": None},
                                {"$pull": {"seats": {"user_id": ctx.user_id}},
                                 "$inc": {"held": -1}})
        raise
    return {"order": order, "team": team_view(_seat_order(ctx, team["_id"], order), ctx.user_id)}


def team_not_open(team: dict[str, Any]) -> ShopError:
    # the leader shared the team before paying: it exists (get_team shows it) but takes no
    # members until the leader's payment opens it, so "try again later" and not "not found"
    return ShopError("TEAM_NOT_OPEN", "the team opens once its leader has paid",
                     {"team_id": team["_id"], "status": team["status"]})


def get_team(ctx: Context, req: TeamIdInput) -> dict[str, Any]:
    """A team, "opening" too (its leader has not paid yet) so that a shared link shows it."""
    team = ctx.db.teams.find_one({"_id": req.team_id})
    if team is None:
        raise not_found("team")
    return team_view(team, ctx.user_id)


# ---- order events --------------------------------------------------------------------------

def on_order_paid(db: Any, event: OrderEvent) -> None:
    """A group order was paid: the leader opens the team, a member fills a seat."""
    order, now = event.order, event.now
    if not order.get("group"):
        return
    group = order["group"]
    team = db.teams.find_one({"_id": group["team_id"]})
    if team is None:
        return
    if group["role"] == "leader":
        campaign = db.group_buys.find_one({"_id": team["campaign_id"]})
        opened = db.teams.update_one(
            {"_id": team["_id"], "status": "opening", "seats.order_id": order["_id"]},
            {"$set": {"status": "forming", "seats.$.paid": True,
                      "expires_at": now + timedelta(minutes=campaign["team_ttl_minutes"])},
             "$inc": {"paid": 1}})
        if opened.modified_count == 0 and not _seat_paid(db, team["_id"], order["_id"]):
            _refund_lost_seat(db, order, now, "the team could not open")
        return
    filled = db.teams.update_one(
        {"_id": team["_id"], "status": "forming",
         "seats": {"$elemMatch": {"order_id": order["_id"], "paid": False}}},
        {"$set": {"seats.$.paid": True}, "$inc": {"paid": 1}})
    if filled.modified_count == 0 and not _seat_paid(db, team["_id"], order["_id"]):
        _refund_lost_seat(db, order, now, "the seat was gone when the payment came")
        return
    _succeed_if_full(db, team["_id"], team["team_size"], now)


def _seat_paid(db: Any, team_id: str, order_id: str) -> bool:
    """The order's seat is marked paid already: this order_paid is a repeat, not a payment
    for a seat that is gone. (Without this check a repeated event found nothing to mark and
    refunded a leader or member whose payment the team had counted.)"""
    return db.teams.find_one({"_id": team_id, "seats": {"$elemMatch": {
        "order_id": order_id, "paid": True}}}, {"_id": 1}) is not None


def _succeed_if_full(db: Any, team_id: str, team_size: int, now: datetime) -> None:
    succeeded = db.teams.update_one({"_id": team_id, "status": "forming", "paid": team_size},
                                    {"$set": {"status": "succeeded", "finished_at": now}})
    if succeeded.modified_count:
        _release_for_shipping(db, db.teams.find_one({"_id": team_id}), now)


def _release_for_shipping(db: Any, team: dict[str, Any], now: datetime) -> None:
    from shared.orders.lifecycle import cancel
    db.orders.update_many({"group.team_id": team["_id"], "status": "paid"},
                          {"$set": {"hold_shipping": False}})
    db.group_buys.update_one({"_id": team["campaign_id"]}, {"$inc": {"teams_succeeded": 1}})
    for seat in team["seats"]:
        if not seat["paid"] and seat["order_id"]:
            cancel(db, seat["order_id"], now, "team_finished")
    log_event(logger, "team succeeded", team_id=team["_id"])


def on_order_cancelled(db: Any, event: OrderEvent) -> None:
    """An unpaid group order was cancelled: its seat and the campaign's quotas come back."""
    order, now = event.order, event.now
    if not order.get("group"):
        return
    group = order["group"]
    # once per order, under the mark on_order_refunded uses too: the mark first, then the
    # give-back, so a repeated order_cancelled cannot return the unit and the quota again
    _give_back_once(db, order)
    if group["role"] == "leader":
        db.teams.update_one({"_id": group["team_id"], "status": "opening"},
                            {"$set": {"status": "failed", "finished_at": now,
                                      "settled": True}})
        return
    db.teams.update_one({"_id": group["team_id"], "status": "forming",
                         "seats": {"$elemMatch": {"order_id": order["_id"], "paid": False}}},
                        {"$pull": {"seats": {"order_id": order["_id"]}}, "$inc": {"held": -1}})


def on_order_refunded(db: Any, event: OrderEvent) -> None:
    """A group order refunded in full because its team failed (or its seat was gone): it
    bought nothing, so the campaign's unit and the buyer's per-user quota come back, once.
    (A cancelled order gave them back when it was cancelled; an after-sale refund of a
    successful team's order is a purchase undone later, not a team that failed.)"""
    order = event.order
    if not order.get("group"):
        return
    if db.refunds.find_one({"_id": f"{order['_id']}-gb", "status": "succeeded"},
                           {"_id": 1}) is None:
        return
    _give_back_once(db, order)


def _give_back_once(db: Any, order: dict[str, Any]) -> None:
    """The order's campaign unit and quota back, once. Keyed holds are given back first and
    then marked (a death in between: the repeat gives nothing twice); an order without a key
    is claimed by the mark first, as before."""
    group = order["group"]
    if group.get("hold"):
        give_back(db, group["campaign_id"], group.get("quota_key"),
                   group.get("stock_taken", False), group["hold"])
        db.orders.update_one({"_id": order["_id"]}, {"$set": {"group.given_back": True}})
        return
    claimed = db.orders.update_one({"_id": order["_id"], "group.given_back": {"$ne": True}},
                                   {"$set": {"group.given_back": True}})
    if claimed.modified_count:
        give_back(db, group["campaign_id"], group.get("quota_key"),
                   group.get("stock_taken", False))


def _refund_lost_seat(db: Any, order: dict[str, Any], now: datetime, why: str) -> None:
    log_event(logger, "group order refunded", order_id=order["_id"], reason=why)
    refund_whole_order(db, order["_id"], now, "拼团未成功，自动退款")


def refund_whole_order(db: Any, order_id: str, now: datetime, reason: str) -> None:
    """Refund everything still refundable on a paid, unshipped order; once per order. Safe to
    run again after a death at any point: the reservation is held under the refund's id, so a
    rerun finds it (or the refund record) and sends that refund, never a second one."""
    from shared.payments import refunds
    refund_id = f"{order_id}-gb"
    record = db.refunds.find_one({"_id": refund_id})
    order = db.orders.find_one({"_id": order_id})
    if record is not None:
        refunds.start_refund(db, order, amount=record["amount"], reason=reason,
                             refund_id=refund_id, lines=record["lines"], restock=True, now=now,
                             reserved=True)
        return
    hold = next((h for h in order.get(refunds.HOLDS) or [] if h["id"] == refund_id), None)
    if hold is None:
        lines = [{"sku_id": l["sku_id"], "quantity": l.get("refundable_qty", 0)}
                 for l in order["items"] if l.get("refundable_qty", 0) > 0]
        amount = order.get("refundable", 0)
        if amount <= 0 or not refunds.reserve(db, order, amount, lines, refund_id):
            return
        hold = {"amount": amount, "lines": lines}
        order = db.orders.find_one({"_id": order_id})
    refunds.start_refund(db, order, amount=hold["amount"], reason=reason, refund_id=refund_id,
                         lines=hold["lines"], restock=True, now=now, reserved=True,
                         completes_order=True)


# ---- timer: group_buy_expire ---------------------------------------------------------------

def expire_teams(ctx: Context) -> dict[str, Any]:
    """Teams past their deadline succeed (auto_fill, one short) or fail and refund everyone."""
    db, batch = ctx.db, ctx.settings.TIMER_BATCH_SIZE
    counts = {"succeeded": 0, "failed": 0, "refunds": 0}
    for team in db.teams.find({"status": "forming", "expires_at": {"$lte": ctx.now}}) \
            .limit(batch):
        campaign = db.group_buys.find_one({"_id": team["campaign_id"]}, {"auto_fill": 1})
        if campaign.get("auto_fill") and team["paid"] >= team["team_size"] - 1:
            filled = db.teams.update_one(
                {"_id": team["_id"], "status": "forming", "paid": team["paid"]},
                {"$set": {"status": "succeeded", "auto_filled": True, "finished_at": ctx.now}})
            if filled.modified_count:
                _release_for_shipping(db, db.teams.find_one({"_id": team["_id"]}), ctx.now)
                counts["succeeded"] += 1
            continue
        failed = db.teams.update_one({"_id": team["_id"], "status": "forming"},
                                     {"$set": {"status": "failed", "finished_at": ctx.now}})
        counts["failed"] += failed.modified_count
    # settle failed teams: refund the paid, cancel the unpaid; repeated until settled
    for team in db.teams.find({"status": "failed", "settled": {"$ne": True}}).limit(batch):
        counts["refunds"] += _settle_failed(db, team, ctx.now)
    counts["seats_repaired"] = _repair_seats(ctx)
    counts.update(_expire_bargains(ctx))
    return counts


def _settle_failed(db: Any, team: dict[str, Any], now: datetime) -> int:
    from shared.orders.lifecycle import cancel
    refunded = 0
    for seat in team["seats"]:
        if not seat["order_id"]:
            continue
        order = db.orders.find_one({"_id": seat["order_id"]}, {"status": 1})
        if order and order["status"] == "pending_payment":
            cancel(db, seat["order_id"], now, "team_failed")
        elif order and order["status"] in ("paid", "refunding"):
            refund_whole_order(db, seat["order_id"], now, "拼团未成功，自动退款")
            refunded += 1
    db.teams.update_one({"_id": team["_id"]}, {"$set": {"settled": True}})
    return refunded


def _repair_seats(ctx: Context) -> int:
    """Seats a join (or start) took whose call died before noting its order: the order is
    noted if it was placed; if it never was (or its placement was given up), the seat and
    what the request took from the campaign are given back. Only seats older than the pay
    reconcile delay, so a live call is never second-guessed."""
    from shared.orders.placement import find_by_request
    db, since = ctx.db, ctx.now - timedelta(seconds=ctx.settings.PAY_RECONCILE_AFTER_SECONDS)
    repaired = 0
    for team in db.teams.find({"status": {"$in": ["opening", "forming"]}, "seats": {
            "$elemMatch": {"order_id": None, "joined_at": {"$lte": since}}}}) \
            .limit(ctx.settings.TIMER_BATCH_SIZE):
        for seat in team["seats"]:
            if seat["order_id"] or seat["joined_at"] > since or not seat.get("request_id"):
                continue
            order = find_by_request(db, seat["user_id"], seat["request_id"])
            if order is not None and order["status"] not in ("failed", "cancelled"):
                _note_on_seat(db, order)
            elif db.orders.find_one({"user_id": seat["user_id"], "request_id":
                                     seat["request_id"], "status": "reserving"}, {"_id": 1}):
                continue  # its placement is settled first (the order reconciler)
            else:
                _free_seat(db, team, seat)
            repaired += 1
    return repaired


def _free_seat(db: Any, team: dict[str, Any], seat: dict[str, Any]) -> None:
    hold = hold_key(seat["user_id"], seat["request_id"])
    campaign = db.group_buys.find_one({"_id": team["campaign_id"]}) or {}
    quota_key = f"{team['campaign_id']}:{seat['user_id']}" \
        if campaign.get("per_user_limit") else None
    give_back(db, team["campaign_id"], quota_key, campaign.get("stock_limit") is not None, hold)
    if team["leader_id"] == seat["user_id"] and team["status"] == "opening":
        db.teams.delete_one({"_id": team["_id"], "status": "opening", "seats.order_id": None})
        return
    db.teams.update_one({"_id": team["_id"], "seats": {"$elemMatch": {
        "user_id": seat["user_id"], "order_id": None}}},
        {"$pull": {"seats": {"user_id": seat["user_id"], "order_id": None}},
         "$inc": {"held": -1}})


def _expire_bargains(ctx: Context) -> dict[str, int]:
    """The same timer also closes bargains and friend assists past their deadline."""
    from shared.social.assist import expire_assists
    from shared.social.bargain import expire_bargains
    bargains = expire_bargains(ctx)
    assists = expire_assists(ctx)
    return {"bargains_expired": bargains.get("expired", 0),
            "assists_expired": assists.get("expired", 0)}
