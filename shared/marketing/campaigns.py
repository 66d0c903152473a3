"""Merchant campaigns: one subscribe message (and maybe a coupon) to an audience, at a set time.

A campaign is created ``scheduled``. The ``campaign_dispatch`` timer moves it to ``sending``
once its ``send_at`` has come (one conditional update, so two timer runs cannot both start
it) and starts a fan-out job with the campaign's id over the users its audience filter
matches; each batch queues one outbox message per subscribed user under the key
(campaign, campaign id, user) and grants the coupon under a user coupon id made of the
campaign and the user, so a batch run twice gives nobody anything twice. The campaign is
``done`` when its job is. Stats attribute to the campaign the orders its messaged users paid
within 7 days after their message was sent.

The audience filter reads ``users.last_order_at`` and ``users.total_spent``, which
:func:`on_order_paid` keeps up to date from the ``order_paid`` event.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from pydantic import AwareDatetime, Field, field_validator, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.core.log import get_logger, log_event

__all__ = ["PageInput"]

logger = get_logger("shop.campaigns")

PURPOSE = "campaign"
ATTRIBUTION_WINDOW = timedelta(days=7)
LOWEST_LEVEL = "normal"  # a user without users.member_level is at the lowest level
# a campaign stuck in "sending" with no planned job (a crash between the two) is started
# again after this long; a plan in progress is never that slow
PLAN_LEASE = timedelta(minutes=5)
DATA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")  # thing1, time2, character_string3


# ---- inputs --------------------------------------------------------------------------------

def _in_range(moment: Optional[datetime], name: str) -> Optional[datetime]:
    return None if moment is None else _utc_in_range(moment, name)


def _utc_in_range(moment: datetime, name: str) -> datetime:
    # year 1 or 9999 with an offset overflows when converted to UTC (a 500)
    if not 2000 <= moment.year <= 2100:
        raise ValueError(f"{name} must fall in the years 2000-2100")
    return moment.astimezone(timezone.utc)


class AudienceInput(Input):
    """Who gets the message; every filter given must hold (tags and levels: any of them)."""
    tags: Optional[list[str]] = Field(default=None, min_length=1, max_length=20)
    tag: Optional[str] = Field(default=None, min_length=1, max_length=32,
                               description="the users of this rule tag (merchant_upsert_tag)")
    member_levels: Optional[list[str]] = Field(default=None, min_length=1, max_length=20)
    last_order_before: Optional[AwareDatetime] = Field(
        default=None, description="last paid order earlier than this (never ordered: no)")
    last_order_after: Optional[AwareDatetime] = Field(
        default=None, description="last paid order at or after this")
    min_total_spent: Optional[int] = Field(default=None, ge=0, le=10**12,
                                           description="fen paid in all, at least")
    subscribed_template: str = Field(min_length=1, max_length=128)

    @field_validator("tag")
    @classmethod
    def tag_name(cls, value: Optional[str]) -> Optional[str]:
        return value.strip() if value is not None else None

    @field_validator("tags", "member_levels")
    @classmethod
    def short_names(cls, values: Optional[list[str]]) -> Optional[list[str]]:
        if values is not None and not all(1 <= len(v.strip()) <= 32 for v in values):
            raise ValueError("each name must have 1-32 characters")
        return sorted({v.strip() for v in values}) if values is not None else None

    @model_validator(mode="after")
    def consistent(self) -> "AudienceInput":
        self.last_order_before = _in_range(self.last_order_before, "last_order_before")
        self.last_order_after = _in_range(self.last_order_after, "last_order_after")
        if (self.last_order_before and self.last_order_after
                and self.last_order_after >= self.last_order_before):
            raise ValueError("last_order_after must be earlier than last_order_before")
        return self


DataValue = Union[str, int, float, dict[str, str]]


class CreateCampaignInput(Input):
    name: str = Field(min_length=1, max_length=50)
    audience: AudienceInput
    template_id: str = Field(min_length=1, max_length=128)
    page: str = Field(min_length=1, max_length=256, description="mini-program page opened")
    data: dict[str, DataValue] = Field(max_length=20, description="template fields")
    coupon_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    send_at: AwareDatetime
    # a retried create with the same request_id returns the first campaign, never a second
    request_id: Optional[str] = Field(default=None, min_length=1, max_length=64)

    @field_validator("data")
    @classmethod
    def template_fields(cls, data: dict[str, DataValue]) -> dict[str, DataValue]:
        for key, value in data.items():
            if not DATA_KEY.match(key):
                raise ValueError(f"{key!r} is not a template field name such as thing1")
            text = value.get("value") if isinstance(value, dict) else str(value)
            if text is None or (isinstance(value, dict) and set(value) != {"value"}):
                raise ValueError(f"{key}: give a value or {{\"value\": ...}}")
            if len(text) > 200:
                raise ValueError(f"{key}: at most 200 characters")
        return data

    @model_validator(mode="after")
    def consistent(self) -> "CreateCampaignInput":
        self.send_at = _utc_in_range(self.send_at, "send_at")
        # sending consumes one of the user's subscriptions to template_id, so an audience
        # subscribed to another template would be skipped to the last user
        if self.audience.subscribed_template != self.template_id:
            raise ValueError("audience.subscribed_template must be the template_id sent")
        return self


class CampaignIdInput(Input):
    campaign_id: str = Field(min_length=1, max_length=64)


# ---- views ---------------------------------------------------------------------------------

def _audience_view(audience: dict[str, Any]) -> dict[str, Any]:
    return {"tags": audience.get("tags"), **({"tag": audience["tag"]} if audience.get("tag")
                                             else {}),
            "member_levels": audience.get("member_levels"),
            "last_order_before": iso(audience.get("last_order_before")),
            "last_order_after": iso(audience.get("last_order_after")),
            "min_total_spent": audience.get("min_total_spent"),
            "subscribed_template": audience["subscribed_template"]}


def campaign_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc["name"], "status": doc["status"],
            "audience": _audience_view(doc["audience"]), "template_id": doc["template_id"],
            "page": doc["page"], "data": doc.get("data") or {}, "coupon_id": doc.get("coupon_id"),
            "send_at": iso(doc["send_at"]), "created_at": iso(doc["created_at"]),
            "started_at": iso(doc.get("started_at")), "done_at": iso(doc.get("done_at"))}


# ---- the audience --------------------------------------------------------------------------

def population(audience: dict[str, Any]) -> dict[str, Any]:
    """The users query of an audience; the subscription is checked per user when sending."""
    query: dict[str, Any] = {}
    if audience.get("tags"):
        query["tags"] = {"$in": audience["tags"]}
    if audience.get("tag"):   # a rule tag of insight: users.tags holds it too
        query.setdefault("tags", {})["$all"] = [audience["tag"]]
    if audience.get("member_levels"):
        levels: list[Any] = list(audience["member_levels"])
        if LOWEST_LEVEL in levels:
            levels.append(None)  # $in null also matches users with no member_level at all
        query["member_level"] = {"$in": levels}
    last_order: dict[str, Any] = {}
    if audience.get("last_order_before"):
        last_order["$lt"] = audience["last_order_before"]
    if audience.get("last_order_after"):
        last_order["$gte"] = audience["last_order_after"]
    if last_order:
        query["last_order_at"] = last_order
    if audience.get("min_total_spent"):
        query["total_spent"] = {"$gte": audience["min_total_spent"]}
    return query


def on_order_paid(db: Any, event: OrderEvent) -> None:
    """The buyer's last_order_at and total_spent, counted once per order."""
    order, now = event.order, event.now
    try:
        _count_spent(db, order, now)
    except Exception:  # audience bookkeeping never stands in the way of taking a payment
        logger.exception("user totals not updated for order %s", order.get("_id"))


def _count_spent(db: Any, order: dict[str, Any], now: datetime) -> None:
    """Three steps a crash may cut anywhere, each safe to repeat: the user's totals move with
    the order's id pushed onto ``spent_pending`` (so they move once), the order is marked
    counted, and the id leaves the pending list."""
    order_id, user_id = order["_id"], order["user_id"]
    if db.orders.find_one({"_id": order_id, "spent_counted": True}, {"_id": 1}):
        db.users.update_one({"_id": user_id, "spent_pending": order_id},
                            {"$pull": {"spent_pending": order_id}})
        return
    db.users.update_one({"_id": user_id, "spent_pending": {"$ne": order_id}},
                        {"$max": {"last_order_at": order.get("paid_at") or now},
                         "$inc": {"total_spent": order.get("total", 0)},
                         "$push": {"spent_pending": order_id}})
    db.orders.update_one({"_id": order_id}, {"$set": {"spent_counted": True}})
    db.users.update_one({"_id": user_id}, {"$pull": {"spent_pending": order_id}})


# ---- merchant actions ----------------------------------------------------------------------

def create_campaign(ctx: Context, req: CreateCampaignInput) -> dict[str, Any]:
    if req.coupon_id:
        coupon = ctx.db.coupons.find_one({"_id": req.coupon_id}, {"valid_to": 1})
        if coupon is None:
            raise not_found("coupon")
        if coupon.get("valid_to") and coupon["valid_to"] <= req.send_at:
            raise ShopError("INVALID_STATE", "the coupon expires before the campaign is sent",
                            {"coupon_valid_to": iso(coupon["valid_to"])})
    if req.audience.tag and ctx.db.tags.find_one({"_id": req.audience.tag}, {"_id": 1}) is None:
        raise not_found("tag")
    campaign_id = new_id("cmp")
    if req.request_id:
        campaign_id = "cmp_" + hashlib.sha256(req.request_id.encode()).hexdigest()[:20]
    doc = {"_id": campaign_id, "name": req.name, "status": "scheduled",
           "audience": req.audience.model_dump(), "template_id": req.template_id,
           "page": req.page, "data": req.data, "coupon_id": req.coupon_id,
           "send_at": req.send_at, "created_at": ctx.now}
    try:
        ctx.db.campaigns.insert_one(doc)
    except DuplicateKeyError:
        doc = ctx.db.campaigns.find_one({"_id": campaign_id})
    return campaign_view(doc)


def merchant_list_campaigns(ctx: Context, req: PageInput) -> dict[str, Any]:
    docs = ctx.db.campaigns.find({}).sort([("created_at", -1), ("_id", -1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([campaign_view(d) for d in docs], ctx.db.campaigns.count_documents({}), req)


def _outbox_range(campaign_id: str) -> dict[str, Any]:
    """The campaign's outbox messages by their key prefix: a range of the _id index."""
    from shared.messaging.outbox import outbox_key
    prefix = outbox_key(PURPOSE, campaign_id, "")
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}


def campaign_stats(ctx: Context, req: CampaignIdInput) -> dict[str, Any]:
    """Audience, what the outbox did with each message, and the orders that followed."""
    db = ctx.db
    campaign = db.campaigns.find_one({"_id": req.campaign_id})
    if campaign is None:
        raise not_found("campaign")
    batches = list(db.job_batches.find({"job_id": campaign["_id"]},
                                       {"status": 1, "planned": 1, "counts": 1}))
    job = db.jobs.find_one({"_id": campaign["_id"]}, {"status": 1})
    skipped: dict[str, int] = {}
    for batch in batches:
        counts = batch.get("counts") or {}
        if counts.get("not_subscribed"):
            skipped["not_subscribed"] = skipped.get("not_subscribed", 0) + counts["not_subscribed"]

    statuses: dict[str, int] = {}
    sent_at: dict[str, datetime] = {}
    for message in db.outbox.find({"_id": _outbox_range(campaign["_id"])},
                                  {"user_id": 1, "status": 1, "reason": 1, "sent_at": 1}):
        status = message["status"]
        statuses[status] = statuses.get(status, 0) + 1
        if status == "skipped":
            reason = message.get("reason") or "unknown"
            skipped[reason] = skipped.get(reason, 0) + 1
        elif status == "sent" and message.get("sent_at"):
            sent_at[message["user_id"]] = message["sent_at"]

    orders, buyers, revenue, refunds = _attributed_orders(db, sent_at)
    planned = job is not None and job["status"] != "planning"
    return {"campaign_id": campaign["_id"], "name": campaign["name"],
            "status": campaign["status"], "send_at": iso(campaign["send_at"]),
            "audience": (sum(b.get("planned", 0) for b in batches) if planned
                         else db.users.count_documents(population(campaign["audience"]))),
            "audience_is_estimate": not planned,
            "queued": sum(statuses.values()),
            "pending": statuses.get("queued", 0) + statuses.get("sending", 0),
            "sent": statuses.get("sent", 0), "skipped": skipped,
            "failed": statuses.get("dead", 0),
            "coupons_granted": db.user_coupons.count_documents(
                {"coupon_id": campaign["coupon_id"], "campaign_id": campaign["_id"]})
            if campaign.get("coupon_id") else 0,
            "orders": orders, "buyers": buyers, "revenue": revenue, "refunds": refunds,
            "attribution_days": ATTRIBUTION_WINDOW.days,
            "job": None if job is None else {
                "status": job["status"], "batches": len(batches),
                "batches_done": sum(1 for b in batches if b["status"] == "done"),
                "batches_failed": sum(1 for b in batches if b["status"] == "failed")}}


def _attributed_orders(db: Any, sent_at: dict[str, datetime]) -> tuple[int, int, int, int]:
    """(orders, buyers, revenue net of refunds, refunds) paid by each messaged user within
    the window after their own message was sent."""
    orders = revenue = refunds = 0
    buyers: set[str] = set()
    if not sent_at:
        return 0, 0, 0, 0
    earliest = min(sent_at.values())
    latest = max(sent_at.values()) + ATTRIBUTION_WINDOW
    users = sorted(sent_at)
    for start in range(0, len(users), 1000):
        chunk = users[start:start + 1000]
        for order in db.orders.find(
                {"user_id": {"$in": chunk}, "paid_at": {"$gte": earliest, "$lte": latest}},
                {"user_id": 1, "paid_at": 1, "total": 1, "refunded_amount": 1}):
            sent = sent_at[order["user_id"]]
            if sent <= order["paid_at"] <= sent + ATTRIBUTION_WINDOW:
                orders += 1
                buyers.add(order["user_id"])
                refunded = order.get("refunded_amount", 0) or 0
                revenue += order["total"] - refunded
                refunds += refunded
    return orders, len(buyers), revenue, refunds


# ---- the fan-out batch ---------------------------------------------------------------------

def _user_coupon_id(campaign_id: str, user_id: str) -> str:
    return f"ucp_{campaign_id}_{user_id}"


def _grant_coupon(db: Any, template: dict[str, Any], campaign_id: str, user_id: str,
                  now: datetime) -> bool:
    """The campaign's coupon to one user; the id makes it once per user and campaign."""
    from shared.orders.coupons import TERMS, validity
    valid_from, valid_to = validity(template, now)
    try:
        db.user_coupons.insert_one({
            "_id": _user_coupon_id(campaign_id, user_id), "user_id": user_id,
            "coupon_id": template["_id"], **{k: template.get(k) for k in TERMS},
            "status": "available", "order_id": None, "valid_from": valid_from,
            "valid_to": valid_to, "claimed_at": now, "campaign_id": campaign_id})
        return True
    except DuplicateKeyError:
        return False


def campaign_batch(ctx: Context, job: dict[str, Any], user_ids: list[str]) -> dict[str, int]:
    """One batch of a campaign: coupon and message for each subscribed user, once each."""
    from shared.messaging.outbox import enqueue, has_subscription, outbox_key
    db = ctx.db
    campaign = db.campaigns.find_one({"_id": job["_id"]})
    template = None
    if campaign.get("coupon_id"):
        template = db.coupons.find_one({"_id": campaign["coupon_id"]})
    keys = {outbox_key(PURPOSE, campaign["_id"], u): u for u in user_ids}
    # a batch run again finds its users queued; their subscription may be spent by now
    queued_before = {keys[m["_id"]] for m in db.outbox.find({"_id": {"$in": list(keys)}},
                                                           {"_id": 1})}
    counts = {"users": len(user_ids), "queued": 0, "not_subscribed": 0, "coupons": 0}
    for user_id in user_ids:
        if user_id not in queued_before and not has_subscription(
                db, user_id, campaign["audience"]["subscribed_template"]):
            counts["not_subscribed"] += 1
            continue
        if template is not None:
            # granted before the message is queued, so no message announces a missing coupon
            _grant_coupon(db, template, campaign["_id"], user_id, ctx.now)
            counts["coupons"] += 1
        enqueue(db, user_id, PURPOSE, campaign["_id"], ctx.now,
                template_id=campaign["template_id"], page=campaign["page"],
                data=campaign.get("data") or {}, job_id=job["_id"])
        counts["queued"] += 1
    return counts


# ---- timer: campaign_dispatch --------------------------------------------------------------

def _start(ctx: Context, campaign: dict[str, Any]) -> None:
    """Plan and run the campaign's job; a failure waits for a later run (see PLAN_LEASE)."""
    from shared.messaging import fanout
    try:
        fanout.start_job(ctx, "campaign", campaign["_id"], population(campaign["audience"]),
                         {"campaign_id": campaign["_id"]})
    except Exception:  # one campaign that cannot start must not hold back the others
        logger.exception("campaign %s did not start", campaign["_id"])


def dispatch_campaigns(ctx: Context) -> dict[str, Any]:
    """Every minute: start campaigns whose time has come, rerun failed or stalled batches of
    any job, and close campaigns whose job is done."""
    from pymongo import ReturnDocument

    from shared.messaging import fanout
    db, now = ctx.db, ctx.now
    redispatched = fanout.dispatch(ctx)
    started = []
    due = db.campaigns.find({"status": "scheduled", "send_at": {"$lte": now}}, {"_id": 1}) \
        .sort([("send_at", 1)]).limit(ctx.settings.TIMER_BATCH_SIZE)
    for candidate in list(due):
        campaign = db.campaigns.find_one_and_update(
            {"_id": candidate["_id"], "status": "scheduled"},
            {"$set": {"status": "sending", "started_at": now}},
            return_document=ReturnDocument.AFTER)
        if campaign is None:
            continue  # another run started it
        started.append(campaign["_id"])
        _start(ctx, campaign)
        log_event(logger, "campaign started", campaign_id=campaign["_id"])
    finished = []
    for campaign in list(db.campaigns.find({"status": "sending"})):
        job = db.jobs.find_one({"_id": campaign["_id"]}, {"status": 1})
        if job is None or job["status"] == "planning":
            if campaign["_id"] not in started and campaign["started_at"] <= now - PLAN_LEASE:
                _start(ctx, campaign)  # the run that moved it to sending died before planning
            continue
        if job["status"] == "running":
            # closes a job whose last batch finished in a run that died before closing it
            fanout.finish_job_if_done(ctx, campaign["_id"])
            job = db.jobs.find_one({"_id": campaign["_id"]}, {"status": 1})
        if job["status"] == "done" and db.campaigns.update_one(
                {"_id": campaign["_id"], "status": "sending"},
                {"$set": {"status": "done", "done_at": now}}).modified_count:
            finished.append(campaign["_id"])
            log_event(logger, "campaign done", campaign_id=campaign["_id"])
    return {"started": started, "done": finished, "batches_redispatched": redispatched}
