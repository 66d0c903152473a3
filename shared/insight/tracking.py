"""埋点: what shoppers do in the mini-program, stored once per event however often it is sent.

One document per event in ``events``; a client event's ``_id`` is ``<device_id>:<event_id>``,
so a batch the mini-program retries (same ids) inserts nothing twice: ``insert_many`` with
``ordered=False`` stores the new ones and the unique ``_id`` refuses the rest, counted as
duplicates. A client's clock is corrected by ``now - sent_at`` (its clock's offset at sending).

Who did it: ``device_id`` is the mini-program's own id kept in its storage; ``user_id`` is set
when the call brings a token. The first call of a device with a user's token links the two
(``device_links``, one document per pair) and moves the device's anonymous events to the user
(``user_at`` marks when an event got its user, which is what the per-user rollup follows).

Consent: ``set_tracking_consent {enabled: false}`` keeps only the server's own facts: the
shopper's client events are deleted, and later ones are dropped (answered ``accepted: 0``,
``dropped: n``, ``tracking: false``, so the mini-program stops sending).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import AwareDatetime, Field, model_validator
from pymongo.errors import BulkWriteError

from shared.core.common import Input
from shared.core.context import Context, Database
from shared.core.db import insert_once
from shared.insight.schemas import ID, checked_props

MAX_EVENTS_PER_CALL = 50
DUPLICATE_KEY = 11000


# ---- inputs --------------------------------------------------------------------------------

class TrackedEvent(Input):
    event_id: str = Field(pattern=ID, description="unique per device; a retry sends the same")
    name: str = Field(min_length=1, max_length=48)
    ts: AwareDatetime = Field(description="when it happened, by the client's clock")
    page: Optional[str] = Field(default=None, max_length=256)
    props: Optional[dict[str, Any]] = None

    @model_validator(mode="after")
    def known_props(self) -> "TrackedEvent":
        self.props = checked_props(self.name, self.props)
        return self


class TrackEventsInput(Input):
    device_id: str = Field(pattern=ID)
    sent_at: AwareDatetime = Field(description="when the batch was sent, by the client's clock")
    events: list[TrackedEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_CALL)


class TrackingConsentInput(Input):
    enabled: bool


# ---- recording -----------------------------------------------------------------------------

def client_event_id(device_id: str, event_id: str) -> str:
    return f"{device_id}:{event_id}"


def expiry(settings: Any, ts: datetime) -> datetime:
    """When a real server's TTL index drops the event (the embedded database: insight_rollup)."""
    return ts + timedelta(days=settings.EVENTS_RETENTION_DAYS)


def tracking_allowed(user: Optional[dict[str, Any]]) -> bool:
    """Whether a shopper's client events may be kept: yes unless they turned tracking off."""
    consent = (user or {}).get("tracking_consent") or {}
    return consent.get("enabled", True) is not False


def insert_new(db: Database, docs: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert what is not there yet: (inserted, duplicates by ``_id``)."""
    if not docs:
        return 0, 0
    try:
        db.events.insert_many(docs, ordered=False)
        return len(docs), 0
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return int(exc.details.get("nInserted", len(docs) - len(errors))), len(errors)


def track_events(ctx: Context, req: TrackEventsInput) -> dict[str, Any]:
    """Store a batch of tracked events once per (device, event id); a token links the device
    to its user (their anonymous events become theirs). Answers accepted and duplicates."""
    if ctx.user_id is not None and not tracking_allowed(ctx.shopper()):
        return {"accepted": 0, "duplicates": 0, "dropped": len(req.events), "tracking": False}
    # the client's clock may be off by anything; its offset at sending corrects every event
    offset = ctx.now - req.sent_at
    docs = []
    for event in req.events:
        ts = min(event.ts + offset, ctx.now)
        doc: dict[str, Any] = {
            "_id": client_event_id(req.device_id, event.event_id), "device_id": req.device_id,
            "user_id": ctx.user_id, "name": event.name, "ts": ts, "received_at": ctx.now,
            "page": event.page, "props": event.props or {}, "source": "client",
            "expires_at": expiry(ctx.settings, ts)}
        if ctx.user_id is not None:
            doc["user_at"] = ctx.now
        docs.append(doc)
    accepted, duplicates = insert_new(ctx.db, docs)
    if ctx.user_id is not None:
        link_device(ctx.db, req.device_id, ctx.user_id, ctx.now)
    return {"accepted": accepted, "duplicates": duplicates, "tracking": True}


# ---- devices and users ---------------------------------------------------------------------

# device:user pairs this warm instance has linked already: a tracked batch of a logged-in
# shopper costs no link write after the first
_linked: set[str] = set()
_LINKED_MAX = 50_000


def link_device(db: Database, device_id: str, user_id: str, now: datetime) -> bool:
    """Link a device to the user who logged in on it; the first time, the device's anonymous
    events become the user's. True when this call linked them.

    The link is written first and the move after: a death between the two leaves the events
    anonymous, and the move runs again on the next link attempt of any instance (the insert
    refuses, ``moved`` is still false on the link)."""
    key = f"{device_id}:{user_id}"
    if key in _linked:
        return False
    linked = insert_once(db.device_links, {"_id": key, "device_id": device_id,
                                           "user_id": user_id, "linked_at": now,
                                           "moved": False})
    if not linked and db.device_links.find_one({"_id": key, "moved": False}, {"_id": 1}) is None:
        _remember(key)
        return False
    if tracking_allowed(db.users.find_one({"_id": user_id}, {"tracking_consent": 1})):
        db.events.update_many({"device_id": device_id, "user_id": None},
                              {"$set": {"user_id": user_id, "user_at": now}})
    else:  # tracking off: what the device collected before login is not kept either
        db.events.delete_many({"device_id": device_id, "user_id": None, "source": "client"})
    db.device_links.update_one({"_id": key}, {"$set": {"moved": True}})
    _remember(key)
    return linked


def _remember(key: str) -> None:
    if len(_linked) >= _LINKED_MAX:
        _linked.clear()
    _linked.add(key)


def forget_links() -> None:
    """Tests start each warm instance afresh."""
    _linked.clear()


def user_for_device(db: Database, device_id: str) -> Optional[str]:
    """The user who last logged in on a device (None: never), for those who key by device
    before login and by user after (A/B assignment)."""
    link = db.device_links.find_one({"device_id": device_id}, {"user_id": 1},
                                    sort=[("linked_at", -1)])
    return None if link is None else str(link["user_id"])


# ---- consent and erasure -------------------------------------------------------------------

def set_tracking_consent(ctx: Context, req: TrackingConsentInput) -> dict[str, Any]:
    """Turn tracking off (the shopper's client events are deleted, later ones dropped; the
    server's own facts stay) or on again."""
    user_id = ctx.shopper_id
    ctx.db.users.update_one({"_id": user_id}, {"$set": {"tracking_consent": {
        "enabled": req.enabled, "updated_at": ctx.now}}})
    deleted = 0
    if not req.enabled:
        deleted = forget_client_events(ctx.db, user_id)
    return {"enabled": req.enabled, "deleted_events": deleted}


def forget_client_events(db: Database, user_id: str) -> int:
    """Tracking turned off: the shopper's client events go, and what the rollups learnt from
    them; the server's facts (orders, refunds, shares opened) stay."""
    from shared.insight.rollups import forget_client_rollups
    done = db.events.delete_many({"user_id": user_id, "source": "client"})
    forget_client_rollups(db, user_id)
    return int(done.deleted_count)


def erase_user(db: Database, user_id: str) -> None:
    """delete_account: every event of the shopper, of their devices before login, their links
    and rollups (named in ERASERS, shared.core.actions; repeatable)."""
    from shared.insight.rollups import erase_user_rollups
    devices = [link["device_id"] for link in
               db.device_links.find({"user_id": user_id}, {"device_id": 1})]
    if devices:
        db.events.delete_many({"device_id": {"$in": devices}, "user_id": None})
    db.events.delete_many({"user_id": user_id})
    erase_user_rollups(db, user_id)
    db.device_links.delete_many({"user_id": user_id})
    db.users.update_one({"_id": user_id}, {"$unset": {"tags": "", "tracking_consent": ""}})
