"""Subscribe messages: what shoppers accepted, the outbox, and the sender that drains it.

Every message goes into the outbox under a key (purpose, occasion, user), so whatever runs
twice, nobody gets the same message twice. The sender claims a message with a lease before
sending, consumes one of the user's one-time subscriptions for its template (none left: the
message is skipped, never sent), respects quiet hours, retries transient WeChat errors with
backoff, and gives up (dead letter) after ``OUTBOX_MAX_ATTEMPTS``.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Optional

from pydantic import Field
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.context import Context
from shared.core.log import get_logger, log_event

logger = get_logger("shop.messages")

SHANGHAI = timezone(timedelta(hours=8))
LEASE = timedelta(seconds=120)
Purpose = Literal["cart_reminder", "birthday", "campaign", "nearby_campaign", "coupon_expiry",
                  "order", "group_buy", "restock",
                  "live_reminder"]


class RecordSubscriptionInput(Input):
    template_ids: list[str] = Field(min_length=1, max_length=10)
    results: dict[str, Literal["accept", "reject", "ban", "filter"]]


class ListOutboxInput(PageInput):
    purpose: Optional[str] = Field(default=None, max_length=32)
    user_id: Optional[str] = Field(default=None, max_length=64)
    status: Optional[str] = Field(default=None, max_length=16)


# ---- subscriptions -------------------------------------------------------------------------

def record_subscription(ctx: Context, req: RecordSubscriptionInput) -> dict[str, Any]:
    """Each "accept" in wx.requestSubscribeMessage's answer is one message we may send."""
    accepted = [t for t in req.template_ids if req.results.get(t) == "accept"]
    for template_id in accepted:
        ctx.db.subscriptions.update_one(
            {"_id": f"{ctx.user_id}:{template_id}"},
            {"$inc": {"remaining": 1}, "$set": {"updated_at": ctx.now},
             "$setOnInsert": {"user_id": ctx.user_id, "template_id": template_id}},
            upsert=True)
    remaining = {d["template_id"]: d["remaining"] for d in ctx.db.subscriptions.find(
        {"user_id": ctx.user_id, "template_id": {"$in": req.template_ids}})}
    return {"accepted": accepted, "remaining": remaining}


def has_subscription(db: Any, user_id: str, template_id: Optional[str]) -> bool:
    if not template_id:
        return False
    doc = db.subscriptions.find_one({"_id": f"{user_id}:{template_id}"}, {"remaining": 1})
    return bool(doc and doc["remaining"] > 0)


def _consume(db: Any, user_id: str, template_id: str) -> bool:
    taken = db.subscriptions.update_one({"_id": f"{user_id}:{template_id}",
                                         "remaining": {"$gt": 0}}, {"$inc": {"remaining": -1}})
    return taken.modified_count == 1


def _give_back(db: Any, user_id: str, template_id: str) -> None:
    db.subscriptions.update_one({"_id": f"{user_id}:{template_id}"}, {"$inc": {"remaining": 1}})


# ---- the outbox ----------------------------------------------------------------------------

def outbox_key(purpose: str, occasion: str, user_id: str) -> str:
    return f"{purpose}:{occasion}:{user_id}"


def enqueue(db: Any, user_id: str, purpose: str, occasion: str, now: datetime, *,
            template_id: Optional[str] = None, page: str = "",
            data: Optional[dict[str, Any]] = None, job_id: Optional[str] = None) -> bool:
    """Queue one message; False when this (purpose, occasion, user) was queued before."""
    try:
        db.outbox.insert_one({"_id": outbox_key(purpose, occasion, user_id), "user_id": user_id,
                              "purpose": purpose, "occasion": occasion, "status": "queued",
                              "template_id": template_id, "page": page, "data": data or {},
                              "job_id": job_id, "attempts": 0, "next_attempt_at": now,
                              "created_at": now})
        return True
    except DuplicateKeyError:
        return False


def outbox_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "user_id": doc["user_id"], "purpose": doc["purpose"],
            "occasion": doc.get("occasion"), "status": doc["status"],
            "template_id": doc.get("template_id"), "page": doc.get("page", ""),
            "reason": doc.get("reason"), "attempts": doc.get("attempts", 0),
            "created_at": iso(doc["created_at"]), "sent_at": iso(doc.get("sent_at"))}


def merchant_list_outbox(ctx: Context, req: ListOutboxInput) -> dict[str, Any]:
    query = {k: v for k, v in (("purpose", req.purpose), ("user_id", req.user_id),
                               ("status", req.status)) if v}
    docs = ctx.db.outbox.find(query).sort([("created_at", -1), ("_id", 1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([outbox_view(d) for d in docs], ctx.db.outbox.count_documents(query), req)


# ---- quiet hours ---------------------------------------------------------------------------

def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def quiet_until(quiet_hours: str, now: datetime) -> Optional[datetime]:
    """When quiet hours (``HH:MM-HH:MM`` Asia/Shanghai) end, if ``now`` is inside them."""
    if not quiet_hours or quiet_hours == "off":
        return None
    start, end = (_minutes(part) for part in quiet_hours.split("-"))
    local = now.astimezone(SHANGHAI)
    current = local.hour * 60 + local.minute
    inside = start <= current < end if start <= end else (current >= start or current < end)
    if not inside:
        return None
    ends = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(timezone.utc)


# ---- the sender ----------------------------------------------------------------------------

def _claim(db: Any, now: datetime) -> Optional[dict[str, Any]]:
    from pymongo import ReturnDocument
    return db.outbox.find_one_and_update(
        {"status": {"$in": ["queued", "sending"]}, "next_attempt_at": {"$lte": now}},
        {"$set": {"status": "sending", "next_attempt_at": now + LEASE}},
        sort=[("next_attempt_at", 1)], return_document=ReturnDocument.AFTER)


def _finish(db: Any, message: dict[str, Any], status: str, now: datetime,
            reason: Optional[str] = None, **extra: Any) -> None:
    db.outbox.update_one({"_id": message["_id"], "status": "sending"},
                         {"$set": {"status": status, "reason": reason, "finished_at": now,
                                   **({"sent_at": now} if status == "sent" else {}), **extra}})


def _retry_later(db: Any, message: dict[str, Any], now: datetime, reason: str,
                 max_attempts: int) -> str:
    attempts = message.get("attempts", 0) + 1
    if attempts >= max_attempts:
        _finish(db, message, "dead", now, reason, attempts=attempts)
        return "dead"
    backoff = timedelta(seconds=30 * 2 ** (attempts - 1))
    db.outbox.update_one({"_id": message["_id"], "status": "sending"},
                         {"$set": {"status": "queued", "reason": reason, "attempts": attempts,
                                   "next_attempt_at": now + backoff}})
    return "retry"


def send_one(ctx: Context, message: dict[str, Any]) -> str:
    """Deliver one claimed message; the outcome: sent, skipped, retry, deferred or dead."""
    db, settings, now = ctx.db, ctx.settings, ctx.now
    resume = quiet_until(settings.QUIET_HOURS, now)
    if resume is not None:
        db.outbox.update_one({"_id": message["_id"], "status": "sending"},
                             {"$set": {"status": "queued", "next_attempt_at": resume,
                                       "reason": "quiet_hours"}})
        return "deferred"
    template_id = message.get("template_id")
    if not template_id or not _consume(db, message["user_id"], template_id):
        _finish(db, message, "skipped", now, "no_subscription")
        return "skipped"
    if settings.uses_wechat_sandbox:
        _finish(db, message, "sent", now, None, delivery="recorded")  # dev: the record is it
        return "sent"
    from shared.wechat.subscribe import send_subscribe_message
    result = send_subscribe_message(db, settings, message)
    if result == "sent":
        _finish(db, message, "sent", now, None, delivery="wechat")
    elif result == "refused":
        _finish(db, message, "skipped", now, "user_refused")
    else:
        _give_back(db, message["user_id"], template_id)
        return _retry_later(db, message, now, result, settings.OUTBOX_MAX_ATTEMPTS)
    return "sent" if result == "sent" else "skipped"


def drain_outbox(ctx: Context) -> dict[str, int]:
    """Timer outbox_send: send what is due, at most a batch per run."""
    counts: dict[str, int] = {}
    for _ in range(ctx.settings.OUTBOX_BATCH_SIZE):
        message = _claim(ctx.db, ctx.now)
        if message is None:
            break
        outcome = send_one(ctx, message)
        counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        log_event(logger, "outbox drained", **counts)
    return counts
