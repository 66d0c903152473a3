"""Marketing timers: the abandoned-cart reminder and the birthday coupon.

Both plan their population through :func:`shared.messaging.fanout.start_job` under a job id of
their run (the UTC hour, the Shanghai day), so a timer that fires twice plans and sends nothing new.
Each batch does the per-user checks and queues outbox messages under idempotency keys; the
``outbox_send`` timer delivers them (quiet hours, one-time subscriptions, retries), so these
timers never send anything themselves.

Users without a one-time subscription to the template are not queued: they are counted as
``not_subscribed`` in the batch ledger (``job_batches.counts``, summed by ``job_summary``).
Queueing them would only have the sender skip them, and the outbox key would then hold the
occasion, so a shopper who accepts the template an hour later could never be reminded.

Batches read carts, orders, reminders and subscriptions by ranges of ``user_id`` (a batch is
an ``_id`` range of users), one query per collection and batch, never one per user.

The WeChat templates must have the keywords these messages fill: the cart reminder
``thing1`` (the product, at most 20 characters) and ``number2`` (lines in the cart); the
birthday message ``thing1`` (the coupon's name) and ``date2`` (the day it expires).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.common import iso
from shared.core.context import Context
from shared.core.log import get_logger, log_event

logger = get_logger("shop.marketing")

SHANGHAI = timezone(timedelta(hours=8))
CART_PURPOSE = "cart_reminder"
CART_PAGE = "pages/cart/cart"
# a shopper gets at most one cart reminder in this long, and a cart still abandoned after it
# may be reminded once more (the occasion counts these periods from the cart's oldest line)
REMIND_AGAIN_AFTER = timedelta(days=7)
BIRTHDAY_PURPOSE = "birthday"
BIRTHDAY_PAGE = "pages/coupons/index"
THING_MAX = 20  # WeChat's limit for a "thing" keyword


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _thing(text: str) -> str:
    return text if len(text) <= THING_MAX else text[:THING_MAX - 1] + "…"


# ---- timer: cart_reminder (hourly) ---------------------------------------------------------

def cart_reminder(ctx: Context) -> dict[str, Any]:
    """Remind shoppers of carts left for ``CART_REMINDER_DELAY_SECONDS``; one job per hour."""
    from shared.messaging import fanout
    settings = ctx.settings
    if not settings.CART_REMINDER_TEMPLATE_ID:
        return {"status": "disabled", "reason": "CART_REMINDER_TEMPLATE_ID is not set"}
    hour = ctx.now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    job_id = f"{CART_PURPOSE}:{hour:%Y-%m-%dT%H}"
    at = ctx.now.astimezone(timezone.utc).replace(microsecond=0)
    cutoff = at - timedelta(seconds=settings.CART_REMINDER_DELAY_SECONDS)
    if ctx.db.jobs.find_one({"_id": job_id}, {"_id": 1}) is None and \
            ctx.db.cart_items.find_one({"added_at": {"$lte": cutoff}}, {"_id": 1}) is None:
        return {"job_id": job_id, "status": "nothing_due"}  # no cart is old enough: no plan
    # every batch, even one retried hours later, judges the carts as of this run's time
    params = {"at": at, "delay_seconds": settings.CART_REMINDER_DELAY_SECONDS,
              "template_id": settings.CART_REMINDER_TEMPLATE_ID}
    return fanout.start_job(ctx, "cart_reminder", job_id, {}, params)


def cart_occasion(oldest: datetime, at: datetime) -> str:
    """The cart (its oldest forgotten line) and which 7-day period since then this is."""
    period = int((at - oldest) // REMIND_AGAIN_AFTER)
    return f"cart@{iso(oldest)}#{period}"


def cart_reminder_batch(ctx: Context, job: dict[str, Any], user_ids: list[str]) -> dict[str, int]:
    """One batch: a reminder for each user whose cart qualifies, under the cart's key.

    A user qualifies with cart lines added at or before the cutoff and after their latest
    order (lines older than an order were seen when ordering), no cart reminder queued in
    the last 7 days, and a one-time subscription to the template.
    """
    from shared.messaging.outbox import enqueue
    db = ctx.db
    params = job["params"]
    at = _utc(params["at"])
    cutoff = at - timedelta(seconds=params["delay_seconds"])
    counts = {"users": len(user_ids), "queued": 0, "ordered_since": 0, "reminded_recently": 0,
              "not_subscribed": 0}
    if not user_ids:
        return counts
    members = set(user_ids)
    low, high = min(user_ids), max(user_ids)
    in_range = {"$gte": low, "$lte": high}

    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in db.cart_items.find({"user_id": in_range},
                                   {"user_id": 1, "sku_id": 1, "added_at": 1}):
        if line["user_id"] in members:
            lines[line["user_id"]].append({**line, "added_at": _utc(line["added_at"])})
    candidates = {u: ls for u, ls in lines.items() if any(l["added_at"] <= cutoff for l in ls)}
    counts["with_old_cart"] = len(candidates)
    if not candidates:
        return counts

    earliest = min(l["added_at"] for ls in candidates.values() for l in ls)
    last_order: dict[str, datetime] = {}
    for order in db.orders.find({"user_id": in_range, "created_at": {"$gte": earliest}},
                                {"user_id": 1, "created_at": 1}):
        user_id, placed = order["user_id"], _utc(order["created_at"])
        if user_id in candidates:
            last_order[user_id] = max(placed, last_order.get(user_id, placed))
    # user -> the job of their reminder of the last 7 days
    reminded = {m["user_id"]: m.get("job_id") for m in db.outbox.find(
        {"user_id": in_range, "purpose": CART_PURPOSE,
         "created_at": {"$gt": at - REMIND_AGAIN_AFTER}}, {"user_id": 1, "job_id": 1})}
    subscribed = {s["user_id"] for s in db.subscriptions.find(
        {"user_id": in_range, "template_id": params["template_id"], "remaining": {"$gt": 0}},
        {"user_id": 1})}

    due: dict[str, dict[str, Any]] = {}
    for user_id in sorted(candidates):
        ordered = last_order.get(user_id)
        forgotten = sorted((l for l in candidates[user_id] if l["added_at"] <= cutoff
                            and (ordered is None or l["added_at"] > ordered)),
                           key=lambda l: (l["added_at"], l["sku_id"]))
        if not forgotten:
            counts["ordered_since"] += 1
        elif reminded.get(user_id) == job["_id"]:
            counts["queued"] += 1  # a batch run again: queued by its first run
        elif user_id in reminded:
            counts["reminded_recently"] += 1
        elif user_id not in subscribed:
            counts["not_subscribed"] += 1
        else:
            due[user_id] = forgotten[0]

    titles = _product_titles(db, sorted({line["sku_id"] for line in due.values()}))
    for user_id, first in due.items():
        queued = enqueue(db, user_id, CART_PURPOSE, cart_occasion(first["added_at"], at),
                         ctx.now, template_id=params["template_id"], page=CART_PAGE,
                         data={"thing1": _thing(titles.get(first["sku_id"]) or "购物车商品"),
                               "number2": len(lines[user_id])},
                         job_id=job["_id"])
        counts["queued" if queued else "reminded_recently"] += 1
    return counts


def _product_titles(db: Any, sku_ids: list[str]) -> dict[str, str]:
    """sku id -> its product's title."""
    if not sku_ids:
        return {}
    product_of = {s["_id"]: s.get("product_id") for s in db.skus.find(
        {"_id": {"$in": sku_ids}}, {"product_id": 1})}
    titles = {p["_id"]: p.get("title") or "" for p in db.products.find(
        {"_id": {"$in": sorted({p for p in product_of.values() if p})}}, {"title": 1})}
    return {sku: titles.get(product, "") for sku, product in product_of.items()}


# ---- timer: birthday_coupons (daily, 09:00 Asia/Shanghai) ----------------------------------

def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday_days(today: date) -> list[str]:
    """The ``MM-DD`` birthdays celebrated on ``today``: 29 Feb ones on 28 Feb in common years."""
    days = [f"{today:%m-%d}"]
    if (today.month, today.day) == (2, 28) and not is_leap(today.year):
        days.append("02-29")
    return days


def birthday_population(today: date) -> dict[str, Any]:
    """Users whose ``birthday`` (``YYYY-MM-DD``) falls on ``today``."""
    return {"birthday": {"$regex": "^\\d{4}-(" + "|".join(birthday_days(today)) + ")$"}}


def birthday_coupon_id(year: int, user_id: str) -> str:
    """One birthday coupon per user and year: the id itself refuses a second grant."""
    return f"ucp_birthday_{year}_{user_id}"


def _claimable(template: Optional[dict[str, Any]], now: datetime) -> bool:
    return template is not None and template.get("status") == "active" and (
        template.get("valid_to") is None or _utc(template["valid_to"]) > now)


def birthday_coupons(ctx: Context) -> dict[str, Any]:
    """Give today's birthday shoppers the merchant's birthday coupon and a message."""
    from shared.messaging import fanout
    settings = ctx.settings
    coupon_id = settings.BIRTHDAY_COUPON_ID
    if not coupon_id:
        return {"status": "disabled", "reason": "BIRTHDAY_COUPON_ID is not set"}
    today = ctx.now.astimezone(SHANGHAI).date()
    job_id = f"{BIRTHDAY_PURPOSE}:{today.isoformat()}"
    if ctx.db.jobs.find_one({"_id": job_id}, {"_id": 1}) is None and \
            not _claimable(ctx.db.coupons.find_one({"_id": coupon_id}), ctx.now):
        log_event(logger, "birthday coupon unavailable", coupon_id=coupon_id)
        return {"job_id": job_id, "status": "skipped", "reason": "coupon_unavailable"}
    params = {"date": today.isoformat(), "year": today.year, "coupon_id": coupon_id,
              "template_id": settings.BIRTHDAY_TEMPLATE_ID}
    return fanout.start_job(ctx, "birthday", job_id, birthday_population(today), params)


def birthday_batch(ctx: Context, job: dict[str, Any], user_ids: list[str]) -> dict[str, int]:
    """One batch: this year's coupon for each user (once), then a message if subscribed."""
    from shared.messaging.outbox import enqueue, outbox_key
    db, now = ctx.db, ctx.now
    params = job["params"]
    year, template_id = params["year"], params.get("template_id")
    counts = {"users": len(user_ids), "granted": 0, "already_granted": 0, "sold_out": 0,
              "coupon_unavailable": 0, "queued": 0, "not_subscribed": 0}
    if not user_ids:
        return counts
    template = db.coupons.find_one({"_id": params["coupon_id"]})
    ids = {u: birthday_coupon_id(year, u) for u in user_ids}
    held = {d["_id"]: d for d in db.user_coupons.find({"_id": {"$in": sorted(ids.values())}},
                                                       {"valid_to": 1, "name": 1})}
    holders: dict[str, dict[str, Any]] = {}
    for user_id in user_ids:
        coupon = held.get(ids[user_id])
        if coupon is not None:
            counts["already_granted"] += 1
        elif not _claimable(template, now):
            counts["coupon_unavailable"] += 1
        else:
            coupon = _grant(db, template, ids[user_id], user_id, now)
            counts["granted" if coupon else "sold_out"] += 1
        if coupon is not None:
            holders[user_id] = coupon
    if not template_id or not holders:
        return counts
    # birthdays are sparse in a batch's _id range: look the holders up by id, not by range
    subscribed = {s["user_id"] for s in db.subscriptions.find(
        {"_id": {"$in": [f"{u}:{template_id}" for u in sorted(holders)]},
         "remaining": {"$gt": 0}}, {"user_id": 1})}
    queued_before = {m["user_id"] for m in db.outbox.find(
        {"_id": {"$in": [outbox_key(BIRTHDAY_PURPOSE, str(year), u) for u in sorted(holders)]}},
        {"user_id": 1})}
    for user_id, coupon in holders.items():
        if user_id not in subscribed and user_id not in queued_before:
            counts["not_subscribed"] += 1
            continue
        expires = _utc(coupon["valid_to"]).astimezone(SHANGHAI).date()
        enqueue(db, user_id, BIRTHDAY_PURPOSE, str(year), now, template_id=template_id,
                page=BIRTHDAY_PAGE, job_id=job["_id"],
                data={"thing1": _thing(coupon.get("name") or "生日券"),
                      "date2": f"{expires.year}年{expires.month}月{expires.day}日"})
        counts["queued"] += 1
    return counts


def _grant(db: Any, template: dict[str, Any], user_coupon_id: str, user_id: str,
           now: datetime) -> Optional[dict[str, Any]]:
    """Take one of the template's remaining coupons and give it under ``user_coupon_id``.

    Unlike ``claim_coupon`` there is no per-user limit: the id makes it one per year. The
    stock is taken first, so a crash between the two steps can cost one unit, never give
    a coupon the stock did not count.
    """
    from shared.orders.coupons import TERMS
    taken = db.coupons.update_one({"_id": template["_id"], "remaining": {"$gt": 0}},
                                  {"$inc": {"claimed": 1, "remaining": -1}})
    if taken.modified_count == 0:
        return None
    if template.get("valid_days"):
        valid_from, valid_to = now, now + timedelta(days=template["valid_days"])
    else:
        valid_from, valid_to = template["valid_from"], template["valid_to"]
    doc = {"_id": user_coupon_id, "user_id": user_id, "coupon_id": template["_id"],
           **{k: template.get(k) for k in TERMS}, "status": "available", "order_id": None,
           "valid_from": valid_from, "valid_to": valid_to, "claimed_at": now,
           "source": BIRTHDAY_PURPOSE}
    try:
        db.user_coupons.insert_one(doc)
    except DuplicateKeyError:  # a concurrent run of the same batch gave it first
        db.coupons.update_one({"_id": template["_id"]},
                              {"$inc": {"claimed": -1, "remaining": 1}})
        return db.user_coupons.find_one({"_id": user_coupon_id}, {"valid_to": 1, "name": 1})
    return doc
