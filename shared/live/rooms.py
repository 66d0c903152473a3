"""Live rooms (直播间): what the merchant enters or the plugin sync brings, what shoppers list,
their start reminders, and the ``source`` that ties an order to a room.

Two sources: ``plugin`` rooms (the live-player plugin, 小程序直播) are pulled from WeChat by
the ``live_sync`` timer (shared.live.sync) with their status code; ``channels`` rooms (视频号
live, which the mini-program shows with ``wx.getChannelsLiveInfo``) are entered by the
merchant. A room is unique per (source, external_id), so a sync after a manual entry updates
the same room.

Status: a plugin room's code says it (101 live, 105 paused: live; 102: upcoming; 103, 104,
106, 107: ended); without a code the times say it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context, Database
from shared.core.errors import ShopError, not_found
from shared.core.log import get_logger, log_event

logger = get_logger("shop.live")

LIVE_CODES = (101, 105)
UPCOMING_CODES = (102,)
ENDED_CODES = (103, 104, 106, 107)
REMINDER_PURPOSE = "live_reminder"
REMINDER_LEAD = timedelta(minutes=10)  # the start reminder goes this long before starts_at
RoomStatus = Literal["upcoming", "live", "ended"]


class UpsertLiveRoomInput(Input):
    room_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    source: Literal["plugin", "channels"]
    external_id: str = Field(min_length=1, max_length=128,
                             description="the plugin's roomid, or the channels finderUserName"
                                         "/feedId the mini-program opens")
    title: str = Field(min_length=1, max_length=64)
    anchor_name: str = Field(default="", max_length=32)
    cover: str = Field(default="", max_length=512)
    starts_at: datetime
    ends_at: datetime
    product_ids: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def ends_after_start(self) -> "UpsertLiveRoomInput":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ListLiveRoomsInput(PageInput):
    status: Optional[RoomStatus] = None


class LiveRoomIdInput(Input):
    room_id: str = Field(min_length=1, max_length=64)


# ---- views ---------------------------------------------------------------------------------

def room_status(doc: dict[str, Any], now: datetime) -> RoomStatus:
    code = doc.get("live_status")
    if code in LIVE_CODES:
        return "live"
    if code in ENDED_CODES:
        return "ended"
    if now >= doc["ends_at"]:
        return "ended"
    return "live" if now >= doc["starts_at"] and code not in UPCOMING_CODES else "upcoming"


def status_filter(status: RoomStatus, now: datetime) -> dict[str, Any]:
    """The rooms of one status, as a query (the inverse of room_status)."""
    untold = {"live_status": {"$nin": [*LIVE_CODES, *ENDED_CODES]}}
    if status == "upcoming":
        return {**untold, "ends_at": {"$gt": now},
                "$or": [{"starts_at": {"$gt": now}}, {"live_status": {"$in": UPCOMING_CODES}}]}
    if status == "live":
        return {"$or": [{"live_status": {"$in": LIVE_CODES}},
                        {"live_status": {"$nin": [*LIVE_CODES, *ENDED_CODES, *UPCOMING_CODES]},
                         "starts_at": {"$lte": now}, "ends_at": {"$gt": now}}]}
    return {"$or": [{"live_status": {"$in": ENDED_CODES}},
                    {"live_status": {"$nin": LIVE_CODES}, "ends_at": {"$lte": now}}]}


def _products(db: Database, ids: list[str]) -> list[dict[str, Any]]:
    from shared.catalog.products import product_summary
    found = {p["_id"]: p for p in db.products.find({"_id": {"$in": ids}, "status": "on_sale"},
                                                   {"tokens": 0})}
    return [product_summary(found[i]) for i in ids if i in found]


def _subscribers(db: Database, room_ids: list[str]) -> dict[str, int]:
    """Shoppers waiting for each room's start (counted, not a counter a crash could skew)."""
    return {row["_id"]: row["n"] for row in db.live_reminders.aggregate([
        {"$match": {"room_id": {"$in": room_ids}}},
        {"$group": {"_id": "$room_id", "n": {"$sum": 1}}}])} if room_ids else {}


def room_view(doc: dict[str, Any], now: datetime,
              products: Optional[list[dict[str, Any]]] = None) -> dict[str, Any]:
    return {"id": doc["_id"], "source": doc["source"], "external_id": doc["external_id"],
            "title": doc["title"], "anchor_name": doc.get("anchor_name", ""),
            "cover": doc.get("cover", ""), "starts_at": iso(doc["starts_at"]),
            "ends_at": iso(doc["ends_at"]), "status": room_status(doc, now),
            "live_status": doc.get("live_status"), "product_ids": doc.get("product_ids", []),
            "products": products if products is not None else [],
            "goods": doc.get("goods", []), "replay_url": doc.get("replay_url"),
            "subscribers": doc.get("subscribers", 0)}


# ---- the merchant --------------------------------------------------------------------------

def save_room(db: Database, source: str, external_id: str, fields: dict[str, Any],
              now: datetime, room_id: Optional[str] = None) -> dict[str, Any]:
    """Create or update the room of (source, external_id); moves the reminders of its
    shoppers when the start moves."""
    from pymongo import ReturnDocument
    query = {"_id": room_id} if room_id else {"source": source, "external_id": external_id}
    update = {"$set": {**fields, "source": source, "external_id": external_id,
                       "updated_at": now},
              "$setOnInsert": {"created_at": now,
                               **({} if room_id else {"_id": new_id("room")})}}
    try:
        doc = db.live_rooms.find_one_and_update(query, update, upsert=not room_id,
                                                return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        raise ShopError("CONFLICT", "another room has this source and external_id",
                        {"source": source, "external_id": external_id}) from None
    if doc is None:
        raise not_found("live_room")
    if "starts_at" in fields:
        db.live_reminders.update_many(
            {"room_id": doc["_id"], "status": "waiting"},
            {"$set": {"remind_at": fields["starts_at"] - _lead(),
                      "starts_at": fields["starts_at"]}})
    return doc


def _lead() -> timedelta:
    return REMINDER_LEAD


def upsert_live_room(ctx: Context, req: UpsertLiveRoomInput) -> dict[str, Any]:
    """Enter or update a room (a channels room; a plugin room the sync also updates)."""
    missing = set(req.product_ids) - {p["_id"] for p in ctx.db.products.find(
        {"_id": {"$in": req.product_ids}}, {"_id": 1})}
    if missing:
        raise ShopError("VALIDATION_ERROR", "unknown products",
                        {"fields": [{"field": "product_ids", "message": ", ".join(sorted(missing)),
                                     "type": "unknown_product"}]})
    fields = req.model_dump(exclude={"room_id", "source", "external_id"})
    doc = save_room(ctx.db, req.source, req.external_id, fields, ctx.now, req.room_id)
    log_event(logger, "live room saved", room_id=doc["_id"], source=req.source)
    return room_view(doc, ctx.now, _products(ctx.db, doc.get("product_ids", [])))


# ---- shoppers ------------------------------------------------------------------------------

def list_live_rooms(ctx: Context, req: ListLiveRoomsInput) -> dict[str, Any]:
    """Rooms by status (upcoming: the next first; else the latest first), with products."""
    query = status_filter(req.status, ctx.now) if req.status else {}
    # upcoming: the next first; otherwise the latest first
    order = 1 if req.status == "upcoming" else -1
    docs = list(ctx.db.live_rooms.find(query).sort([("starts_at", order), ("_id", order)])
                .skip(req.skip).limit(req.page_size))
    ids = list(dict.fromkeys(i for d in docs for i in d.get("product_ids", [])))
    products = {p["id"]: p for p in _products(ctx.db, ids)} if ids else {}
    counts = _subscribers(ctx.db, [d["_id"] for d in docs])
    items = [room_view({**d, "subscribers": counts.get(d["_id"], 0)}, ctx.now,
                       [products[i] for i in d.get("product_ids", []) if i in products])
             for d in docs]
    return page_of(items, ctx.db.live_rooms.count_documents(query), req)


def get_live_room(ctx: Context, req: LiveRoomIdInput) -> dict[str, Any]:
    """A room with its products, replay URL and (for a caller with a token) subscribed."""
    doc = ctx.db.live_rooms.find_one({"_id": req.room_id})
    if doc is None:
        raise not_found("live_room")
    doc["subscribers"] = _subscribers(ctx.db, [doc["_id"]]).get(doc["_id"], 0)
    view = room_view(doc, ctx.now, _products(ctx.db, doc.get("product_ids", [])))
    if ctx.user_id:
        view["subscribed"] = ctx.db.live_reminders.find_one(
            {"_id": f"{doc['_id']}:{ctx.user_id}"}, {"_id": 1}) is not None
    return view


def subscribe_live_room(ctx: Context, req: LiveRoomIdInput) -> dict[str, Any]:
    """A start reminder for this shopper, sent once, 10 minutes before the start (through
    the outbox, which spends one of their subscribe-message grants)."""
    from shared.messaging.outbox import has_subscription
    room = ctx.db.live_rooms.find_one({"_id": req.room_id})
    if room is None:
        raise not_found("live_room")
    if room_status(room, ctx.now) == "ended":
        raise ShopError("INVALID_STATE", "the live has ended", {"status": "ended"},
                        message_zh="直播已结束，无法预约提醒")
    try:
        ctx.db.live_reminders.insert_one({
            "_id": f"{room['_id']}:{ctx.shopper_id}", "room_id": room["_id"],
            "user_id": ctx.shopper_id, "status": "waiting", "starts_at": room["starts_at"],
            "remind_at": room["starts_at"] - _lead(), "created_at": ctx.now})
        created = True
    except DuplicateKeyError:
        created = False  # subscribed before: still one reminder
    template = ctx.settings.LIVE_TEMPLATE_ID
    return {"room_id": room["_id"], "subscribed": True, "new": created,
            "remind_at": iso(room["starts_at"] - _lead()), "template_id": template,
            "has_grant": has_subscription(ctx.db, ctx.shopper_id, template)}


def send_live_reminders(ctx: Context) -> dict[str, int]:
    """Timer live_reminders: queue the start reminder of every shopper whose room starts
    within the lead time, once per (room, shopper): the outbox key is that pair, and the
    reminder is marked queued after. A room that started already gets none."""
    from shared.messaging.outbox import enqueue
    db, now = ctx.db, ctx.now
    counts = {"queued": 0, "late": 0}
    due = list(db.live_reminders.find({"status": "waiting", "remind_at": {"$lte": now}})
               .sort([("remind_at", 1)]).limit(ctx.settings.TIMER_BATCH_SIZE))
    rooms = {r["_id"]: r for r in db.live_rooms.find(
        {"_id": {"$in": list({d["room_id"] for d in due})}},
        {"title": 1, "anchor_name": 1, "starts_at": 1, "ends_at": 1, "live_status": 1})}
    for reminder in due:
        room = rooms.get(reminder["room_id"])
        if room is None or room["starts_at"] <= now or room_status(room, now) == "ended":
            db.live_reminders.update_one({"_id": reminder["_id"], "status": "waiting"},
                                         {"$set": {"status": "late", "done_at": now}})
            counts["late"] += 1
            continue
        enqueue(db, reminder["user_id"], REMINDER_PURPOSE, room["_id"], now,
                template_id=ctx.settings.LIVE_TEMPLATE_ID,
                page=f"pages/live/room?id={room['_id']}",
                data={"thing1": room["title"][:20], "thing2": (room.get("anchor_name") or "")[:20],
                      "time3": iso(room["starts_at"])})
        db.live_reminders.update_one({"_id": reminder["_id"], "status": "waiting"},
                                     {"$set": {"status": "queued", "done_at": now}})
        counts["queued"] += 1
    if any(counts.values()):
        log_event(logger, "live reminders", **counts)
    return counts


# ---- orders from a room ----------------------------------------------------------------------

def order_source(db: Database, room_id: str, share_openid: Optional[str]) -> dict[str, Any]:
    """The ``source`` an order keeps: the room must exist (one read, for live orders only)."""
    room = db.live_rooms.find_one({"_id": room_id}, {"source": 1})
    if room is None:
        raise ShopError("NOT_FOUND", "live room not found", {"resource": "live_room"},
                        message_zh="直播间不存在")
    return {"type": "live", "room_id": room["_id"], "room_source": room["source"],
            "share_openid": share_openid}
