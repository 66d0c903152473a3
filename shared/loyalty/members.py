"""Members: levels by growth, points earned and spent, the daily sign-in, the merchant's view.

Growth is what a shopper has paid, in fen, net of refunds. It moves through the growth ledger
(``shared.loyalty.points.GROWTH``): one entry per paid order (``paid:<order>``) and one per refund
(``refund:<refund>``), so a repeated hook adds nothing. The level is the highest whose
``min_growth`` the growth reaches, among the levels the merchant set (``shop_settings``
``_id: "member_levels"``; ``DEFAULT_LEVELS`` until then). A level's ``discount_percent``
comes off the catalog-priced goods of its members' orders (``level_discount`` on the order;
campaign and deal prices get none). ``users.member_level`` follows the growth for campaign
audiences; a user without one is at the lowest level.

Points (``shared.loyalty.points``; 1 point = 1 fen, so 100 points = ¥1):

========================  ==========================  =====================================
ref                       reason                      when
========================  ==========================  =====================================
earn:<order>              order_paid        (+)       paid: POINTS_PER_YUAN per yuan paid
refund:<refund>           order_refunded    (-)       the refunded share of what it earned
checkout:<order>          checkout          (-)       ``place_order {points}``
checkout_return:<order>   checkout_returned (+)       the order is cancelled or never placed
refund_return:<refund>    refund_returned   (+)       the refunded share of what it spent
sign_in:<user>:<date>     sign_in           (+)       ``sign_in``, once per Shanghai day
expire:<lot>              expired           (-)       unspent remainder past validity
adjust:<request_id>       the merchant's text (±)     ``merchant_adjust_points``
========================  ==========================  =====================================
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from pydantic import Field, model_validator

from shared.core.common import Input, NoInput, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.core.log import get_logger, log_event
from shared.core.shopsettings import save_shop_setting
from shared.loyalty.levels import (
    DEFAULT_LEVELS,
    LEVELS_SETTING,
    checkout_level,
    current_levels,
    level_for,
    level_view,
    next_level,
)

__all__ = ["DEFAULT_LEVELS", "NoInput", "PageInput", "checkout_level"]

logger = get_logger("shop.members")

SHANGHAI = timezone(timedelta(hours=8))
# the expiry timer looks at this many rounds of TIMER_BATCH_SIZE users per run
EXPIRY_ROUNDS = 20


# ---- inputs --------------------------------------------------------------------------------

class MemberLevelInput(Input):
    name: str = Field(min_length=1, max_length=20, pattern=r"^[\w-]+$")
    min_growth: int = Field(ge=0, le=10**12, description="fen paid, net of refunds")
    discount_percent: int = Field(default=0, ge=0, le=50)


class MemberLevelsInput(Input):
    levels: list[MemberLevelInput] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def ladder(self) -> "MemberLevelsInput":
        self.levels.sort(key=lambda level: level.min_growth)
        if self.levels[0].min_growth != 0:
            raise ValueError("the lowest level starts at min_growth 0")
        thresholds = [level.min_growth for level in self.levels]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("two levels have the same min_growth")
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("two levels have the same name")
        return self


class ListMembersInput(PageInput):
    level: Optional[str] = Field(default=None, min_length=1, max_length=20)


class AdjustPointsInput(Input):
    user_id: str = Field(min_length=1, max_length=64)
    points: int = Field(ge=-10_000_000, le=10_000_000, description="signed; never below zero")
    reason: str = Field(min_length=1, max_length=100)
    request_id: Optional[str] = Field(default=None, min_length=8, max_length=64,
                                      pattern=r"^[A-Za-z0-9_.:-]+$",
                                      description="a retry with it adjusts once")

    @model_validator(mode="after")
    def moves(self) -> "AdjustPointsInput":
        if self.points == 0:
            raise ValueError("points must not be 0")
        return self


# ---- levels --------------------------------------------------------------------------------

def refresh_level(db: Any, user_id: str) -> None:
    """users.member_level from users.growth. Set only while growth is still what was read:
    of racing updates, the one after the last change of growth is the one that lands."""
    user = db.users.find_one({"_id": user_id}, {"growth": 1, "member_level": 1})
    if user is None:
        return
    name = level_for(current_levels(db), user.get("growth", 0))["name"]
    if user.get("member_level") != name:
        db.users.update_one({"_id": user_id, "growth": user.get("growth")},
                            {"$set": {"member_level": name}})


def set_member_levels(ctx: Context, req: MemberLevelsInput) -> dict[str, Any]:
    levels = [level.model_dump() for level in req.levels]
    save_shop_setting(ctx.db, LEVELS_SETTING, {"levels": levels, "updated_at": ctx.now})
    # members move to the new ladder now, one range of growth per level
    moved = 0
    for index, level in enumerate(levels):
        growth: dict[str, Any] = {"$gte": level["min_growth"]}
        if index + 1 < len(levels):
            growth["$lt"] = levels[index + 1]["min_growth"]
        moved += ctx.db.users.update_many(
            {"growth": growth, "member_level": {"$ne": level["name"]}},
            {"$set": {"member_level": level["name"]}}).modified_count
    # users who never paid have no growth and no member_level: the lowest level
    log_event(logger, "member levels set", levels=len(levels), members_moved=moved)
    return {"levels": [level_view(level) for level in levels], "members_moved": moved}


# ---- subscribers to order events ---------------------------------------------------

def on_order_paid(db: Any, event: OrderEvent) -> None:
    """Growth and points for a paid order, once per order."""
    order = event.order
    try:
        _count_paid_order(db, order, event.now)
    except Exception:  # loyalty bookkeeping never stands in the way of taking a payment
        logger.exception("members not updated for paid order %s", order.get("_id"))


def _count_paid_order(db: Any, order: dict[str, Any], now: datetime) -> None:
    from shared.core.config import get_settings
    from shared.loyalty.points import GROWTH, POINTS, record
    total = order.get("total", 0)
    if total <= 0:
        return  # a gift pays nothing and earns nothing
    user_id, order_id = order["user_id"], order["_id"]
    record(db, GROWTH, user_id, total, "order_paid", f"paid:{order_id}", now,
           fields={"order_id": order_id})
    refresh_level(db, user_id)  # also after a repeat, which may finish a cut-short first call
    earned = total * get_settings().POINTS_PER_YUAN // 100
    if earned > 0:
        record(db, POINTS, user_id, earned, "order_paid", f"earn:{order_id}", now,
               fields={"order_id": order_id})


def on_refund_succeeded(db: Any, event: OrderEvent) -> None:
    """A refund landed (partial or the last one): growth, earned and spent points follow.
    ``event.order`` is the order as it was right after this refund's amount was added."""
    refund = event.refund or {}
    try:
        _count_refund(db, event.order, refund, event.now)
    except Exception:
        logger.exception("members not updated for refund %s", refund.get("_id"))


def _share(whole: int, before: int, after: int, total: int) -> int:
    """The part of ``whole`` that the refunded amount moving from before to after stands for;
    the parts of successive refunds add up to ``whole`` exactly once all is refunded."""
    return whole * after // total - whole * before // total


def _count_refund(db: Any, order: dict[str, Any], refund: dict[str, Any],
                  now: datetime) -> None:
    from shared.loyalty.points import GROWTH, POINTS, checkout_ref, record
    total = order.get("total", 0)
    if total <= 0:
        return
    user_id, order_id, refund_id = order["user_id"], order["_id"], refund["_id"]
    # the order as it was right after this refund's amount was added: each refund owns the
    # slice [before, after) of the refunded amount, so concurrent refunds share exactly
    after = min(order.get("refunded_amount", 0), total)
    before = max(min(after - refund["amount"], total), 0)
    fields = {"order_id": order_id, "refund_id": refund_id}
    # an order paid after it was cancelled was never counted, so nothing comes off
    if after > before and db.growth_ledger.find_one({"_id": f"paid:{order_id}"}, {"_id": 1}):
        record(db, GROWTH, user_id, -(after - before), "order_refunded", f"refund:{refund_id}",
               now, clamp=True, fields=fields)
        refresh_level(db, user_id)
    earn = db.points_ledger.find_one({"_id": f"earn:{order_id}", "applied": {"$ne": False}},
                                     {"points": 1})
    taken = _share(earn["points"], before, after, total) if earn else 0
    if taken > 0:
        record(db, POINTS, user_id, -taken, "order_refunded", f"refund:{refund_id}", now,
               clamp=True, fields=fields)
    spent = db.points_ledger.find_one({"_id": checkout_ref(order_id),
                                       "applied": {"$ne": False}}, {"points": 1})
    if spent and not db.points_ledger.find_one({"_id": f"checkout_return:{order_id}"},
                                               {"_id": 1}):
        back = _share(-spent["points"], before, after, total)
        if back > 0:
            record(db, POINTS, user_id, back, "refund_returned", f"refund_return:{refund_id}",
                   now, fields=fields)


# ---- shopper actions -----------------------------------------------------------------------

def get_membership(ctx: Context, req: NoInput) -> dict[str, Any]:
    user = ctx.db.users.find_one({"_id": ctx.user_id}, {"growth": 1, "points": 1})
    if user is None:
        raise not_found("user")
    growth = max(user.get("growth", 0), 0)
    levels = current_levels(ctx.db)
    level = level_for(levels, growth)
    return {"level": level["name"], "discount_percent": level.get("discount_percent", 0),
            "growth": growth, "points": user.get("points", 0),
            "next_level": next_level(levels, growth)}


def _entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {"points": entry["points"], "reason": entry["reason"],
            "kind": entry.get("kind") or entry["reason"], "order_id": entry.get("order_id"),
            "created_at": iso(entry["created_at"])}


def list_points_ledger(ctx: Context, req: PageInput) -> dict[str, Any]:
    """The caller's entries, newest first (in-flight ones, and clamped to nothing, left out)."""
    query = {"user_id": ctx.user_id, "applied": {"$ne": False}, "points": {"$ne": 0}}
    docs = ctx.db.points_ledger.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    page = page_of([_entry_view(d) for d in docs], ctx.db.points_ledger.count_documents(query),
                   req)
    user = ctx.db.users.find_one({"_id": ctx.user_id}, {"points": 1}) or {}
    return {**page, "balance": user.get("points", 0)}


def sign_in(ctx: Context, req: NoInput) -> dict[str, Any]:
    """SIGN_IN_POINTS once per Asia/Shanghai day; the second call that day is a 409."""
    from shared.loyalty.points import POINTS, balance, record
    day = ctx.now.astimezone(SHANGHAI).date().isoformat()
    granted = ctx.settings.SIGN_IN_POINTS
    done = record(ctx.db, POINTS, ctx.shopper_id, granted, "sign_in",
                  f"sign_in:{ctx.user_id}:{day}", ctx.now)
    if done is None:
        raise ShopError("CONFLICT", "already signed in today", {"date": day})
    return {"date": day, "points_granted": granted, "points": balance(ctx.db, ctx.shopper_id)}


# ---- merchant actions ----------------------------------------------------------------------

def merchant_list_members(ctx: Context, req: ListMembersInput) -> dict[str, Any]:
    """Members by growth, highest first, maybe of one level; with the levels themselves."""
    levels = current_levels(ctx.db)
    lowest = levels[0]["name"]
    query: dict[str, Any] = {}
    if req.level:
        query["member_level"] = {"$in": [req.level, None]} if req.level == lowest else req.level
    docs = ctx.db.users.find(query, {"nickname": 1, "member_level": 1, "growth": 1, "points": 1,
                                     "total_spent": 1, "last_order_at": 1, "created_at": 1}) \
        .sort([("growth", -1), ("_id", 1)]).skip(req.skip).limit(req.page_size)
    items = [{"user_id": d["_id"], "nickname": d.get("nickname") or "",
              "level": d.get("member_level") or lowest, "growth": d.get("growth", 0),
              "points": d.get("points", 0), "total_spent": d.get("total_spent", 0),
              "last_order_at": iso(d.get("last_order_at")), "created_at": iso(d.get("created_at"))}
             for d in docs]
    return {**page_of(items, ctx.db.users.count_documents(query), req),
            "levels": [level_view(level) for level in levels]}


def adjust_points(ctx: Context, req: AdjustPointsInput) -> dict[str, Any]:
    """A ledger entry with the merchant's reason; a deduction never takes the balance below 0."""
    from shared.loyalty.points import POINTS, NotEnough, balance, record
    if ctx.db.users.find_one({"_id": req.user_id}, {"_id": 1}) is None:
        raise not_found("user")
    ref = f"adjust:{req.request_id or new_id('adj')}"
    try:
        entry = record(ctx.db, POINTS, req.user_id, req.points, req.reason, ref, ctx.now,
                       fields={"kind": "adjust"})
    except NotEnough as exc:
        raise ShopError("CONFLICT", "the balance cannot go below zero",
                        {"points": exc.balance, "requested": req.points}) from None
    if entry is None:  # the same request_id again: the first answer, if it was this one
        entry = ctx.db.points_ledger.find_one({"_id": ref})
        if entry is None or (entry["user_id"], entry["points"]) != (req.user_id, req.points):
            raise ShopError("CONFLICT", "this request_id was used for another adjustment")
    log_event(logger, "points adjusted", user_id=req.user_id, points=req.points)
    return {"user_id": req.user_id, "points": balance(ctx.db, req.user_id),
            "entry": _entry_view(entry)}


# ---- timer: points_expiry (daily) ----------------------------------------------------------

def expire_points(ctx: Context) -> dict[str, Any]:
    """Repair cut-short ledger writes, expire old unspent points, remind expiring coupons."""
    from shared.loyalty.points import GROWTH, POINTS, expire_user, repair
    from shared.orders.coupons import remind_expiring
    db, settings, batch = ctx.db, ctx.settings, ctx.settings.TIMER_BATCH_SIZE
    points_fixed, _ = repair(db, POINTS, batch)
    growth_fixed, grown = repair(db, GROWTH, batch)
    for user_id in grown:
        refresh_level(db, user_id)
    cutoff = ctx.now - timedelta(days=settings.POINTS_VALIDITY_DAYS)
    seen: set[str] = set()
    expired_entries = expired_points = 0
    more = False
    for _ in range(EXPIRY_ROUNDS):
        due = {d["user_id"] for d in db.points_ledger.find(
            {"expiry_open": True, "created_at": {"$lt": cutoff}}, {"user_id": 1})
            .sort([("created_at", 1)]).limit(batch)} - seen
        if not due:
            break
        for user_id in sorted(due):
            entries, points = expire_user(db, user_id, cutoff, ctx.now)
            expired_entries += entries
            expired_points += points
        seen |= due
    else:
        more = True
    reminders = remind_expiring(db, ctx.now, settings.COUPON_EXPIRY_REMIND_DAYS,
                                settings.COUPON_EXPIRY_TEMPLATE_ID, batch)
    return {"points_repaired": points_fixed["repaired"], "points_dropped": points_fixed["dropped"],
            "growth_repaired": growth_fixed["repaired"], "expired_users": len(seen),
            "expired_entries": expired_entries, "expired_points": expired_points,
            "more": more or reminders["coupon_reminders_more"],
            "coupon_reminders": reminders["coupon_reminders"]}
