"""The live-player plugin's room list (小程序直播): ``POST /wxa/business/getliveinfo``.

One API answers two questions: ``{"start", "limit"}`` pages the rooms (``room_info``: name,
roomid, cover_img, live_status, start_time, end_time, anchor_name, goods), and
``{"action": "get_replay", "room_id", "start", "limit"}`` a room's replays (``live_replay``:
media_url, create_time, expire_time). ``live_status``: 101 live, 102 not started, 103 ended,
104 banned, 105 paused, 106 abnormal, 107 expired. errcode 1 and 9410000 mean "no rooms";
268489001 (系统维护阶段) is what accounts without the plugin get since it takes no new ones.
"""
from __future__ import annotations

from typing import Any

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event
from shared.wechat.token import INVALID_TOKEN_ERRCODES, get_access_token

logger = get_logger("shop.wechat")

PATH = "/wxa/business/getliveinfo"
EMPTY_ERRCODES = (1, 9410000)
NO_PLUGIN_ERRCODE = 268489001
PAGE = 100  # WeChat's advice: at most 100 a call


class PluginUnavailable(Exception):
    """This account has no live-player plugin (errcode 268489001)."""


def _post(db: Any, settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    from shared.wechat.server import call_json
    token = None
    for attempt in range(2):
        token = get_access_token(db, settings, force_refresh=attempt > 0, failed_token=token)
        answer = call_json(settings, "POST", PATH, "getliveinfo",
                           params={"access_token": token}, json=body)
        errcode = answer.get("errcode") or 0
        if errcode in INVALID_TOKEN_ERRCODES and attempt == 0:
            continue
        if errcode in EMPTY_ERRCODES:
            return {"room_info": [], "live_replay": [], "total": 0}
        if errcode == NO_PLUGIN_ERRCODE:
            raise PluginUnavailable(answer.get("errmsg") or "no live-player plugin")
        if errcode:
            log_event(logger, "getliveinfo refused", errcode=errcode, errmsg=answer.get("errmsg"))
            raise ShopError("UPSTREAM_ERROR", f"WeChat refused getliveinfo ({errcode})",
                            {"errcode": errcode})
        return answer
    raise ShopError("UPSTREAM_ERROR", "WeChat refused the access token")


def list_rooms(db: Any, settings: Settings, max_pages: int = 10) -> list[dict[str, Any]]:
    """Every room of the account (newest first, as WeChat sorts them), at most max_pages."""
    rooms: list[dict[str, Any]] = []
    for page in range(max_pages):
        answer = _post(db, settings, {"start": page * PAGE, "limit": PAGE})
        batch = [r for r in answer.get("room_info") or [] if isinstance(r, dict)]
        rooms.extend(batch)
        total = int(answer.get("total") or 0)
        if len(batch) < PAGE or len(rooms) >= total:
            break
    return rooms


def replay_urls(db: Any, settings: Settings, room_id: int) -> list[str]:
    """The replay videos of an ended room (one per recorded segment), oldest first."""
    answer = _post(db, settings, {"action": "get_replay", "room_id": room_id, "start": 0,
                                  "limit": PAGE})
    return [str(r["media_url"]) for r in answer.get("live_replay") or []
            if isinstance(r, dict) and r.get("media_url")]
