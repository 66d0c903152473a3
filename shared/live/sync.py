"""Timer ``live_sync``: the live-player plugin's rooms, status, goods and replays, from WeChat.

Runs only when the shop has the plugin (``LIVE_PLUGIN``); an account WeChat answers
268489001 (no plugin: it takes no new accounts) is reported, not an error. A goods entry's
``url`` is the mini-program page it opens; a ``product_id`` or ``id`` in its query names the
product, so the room lists the shop's own products too. Replays are asked for once a room
has ended and has none yet. Safe to run twice: each room is one upsert by its roomid.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import parse_qs, urlparse

from shared.core.context import Context
from shared.core.log import get_logger, log_event
from shared.live.rooms import ENDED_CODES, save_room

logger = get_logger("shop.live")


def _moment(seconds: Any) -> Optional[datetime]:
    try:
        return datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _product_id(url: str) -> Optional[str]:
    query = parse_qs(urlparse(url or "").query)
    for key in ("product_id", "id"):
        if query.get(key):
            return query[key][0]
    return None


def _goods(room: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": str(g.get("name", "")), "price": int(g.get("price") or 0),
             "url": str(g.get("url", "")), "cover_img": str(g.get("cover_img", "")),
             "product_id": _product_id(str(g.get("url", "")))}
            for g in room.get("goods") or [] if isinstance(g, dict)]


def live_sync(ctx: Context) -> dict[str, Any]:
    """Timer live_sync: the plugin's rooms, status, goods and replays (LIVE_PLUGIN only)."""
    from shared.wechat.live import PluginUnavailable, list_rooms, replay_urls
    settings, db, now = ctx.settings, ctx.db, ctx.now
    if not settings.LIVE_PLUGIN or settings.uses_wechat_sandbox:
        # no plugin, or no WeChat to ask (dev and tests without WX_APPID/WX_SECRET)
        return {"skipped": "LIVE_PLUGIN is off or WeChat is not configured (channels rooms "
                           "are entered by hand)"}
    try:
        rooms = list_rooms(db, settings)
    except PluginUnavailable as exc:
        log_event(logger, "live plugin unavailable", errmsg=str(exc))
        return {"unavailable": True, "rooms": 0}
    linked = [g["product_id"] for r in rooms for g in _goods(r) if g["product_id"]]
    known = {p["_id"] for p in db.products.find({"_id": {"$in": linked}}, {"_id": 1})}
    counts = {"rooms": 0, "replays": 0, "invalid": 0}
    for room in rooms:
        starts, ends = _moment(room.get("start_time")), _moment(room.get("end_time"))
        if room.get("roomid") is None or starts is None or ends is None:
            counts["invalid"] += 1
            continue
        goods = _goods(room)
        fields: dict[str, Any] = {
            "title": str(room.get("name") or "")[:64], "anchor_name": str(
                room.get("anchor_name") or "")[:32], "cover": str(room.get("cover_img") or ""),
            "starts_at": starts, "ends_at": ends, "live_status": room.get("live_status"),
            "goods": goods, "synced_at": now,
            "product_ids": list(dict.fromkeys(g["product_id"] for g in goods
                                              if g["product_id"] in known))}
        doc = save_room(db, "plugin", str(room["roomid"]), fields, now)
        counts["rooms"] += 1
        if fields["live_status"] in ENDED_CODES and not doc.get("replay_url"):
            urls = replay_urls(db, settings, int(room["roomid"]))
            if urls:
                db.live_rooms.update_one({"_id": doc["_id"]},
                                         {"$set": {"replay_url": urls[-1], "replay_urls": urls}})
                counts["replays"] += 1
    log_event(logger, "live rooms synced", **counts)
    return counts
