"""subscribeMessage.send: ``POST /cgi-bin/message/subscribe/send?access_token=...``."""
from __future__ import annotations

from typing import Any

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event
from shared.wechat.token import INVALID_TOKEN_ERRCODES, get_access_token

logger = get_logger("shop.wechat")

REFUSED_ERRCODES = (43101,)  # the user has no subscription left, or refused
# everything else non-zero is retried with backoff (-1 busy, 45009 over the daily limit, ...)


def _template_data(data: dict[str, Any]) -> dict[str, Any]:
    """WeChat wants ``{"thing1": {"value": "..."}}``; accept plain values too."""
    return {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}


def send_subscribe_message(db: Any, settings: Settings, message: dict[str, Any]) -> str:
    """``sent``, ``refused``, or a reason to retry (``errcode:<n>``, ``unreachable``)."""
    import requests
    user = db.users.find_one({"_id": message["user_id"]}, {"openid": 1})
    if user is None:
        return "refused"
    payload = {"touser": user["openid"], "template_id": message["template_id"],
               "page": message.get("page") or "pages/index/index",
               "data": _template_data(message.get("data") or {}),
               "miniprogram_state": "formal", "lang": "zh_CN"}
    token = None
    for attempt in range(2):
        try:
            token = get_access_token(db, settings, force_refresh=attempt > 0, failed_token=token)
            response = requests.post(
                settings.WECHAT_API_BASE.rstrip("/") + "/cgi-bin/message/subscribe/send",
                params={"access_token": token}, json=payload,
                timeout=settings.WECHAT_TIMEOUT_SECONDS)
            body = response.json()
        except ShopError:
            return "unreachable"
        except (requests.RequestException, ValueError) as exc:
            log_event(logger, "subscribe send unreachable", error=type(exc).__name__)
            return "unreachable"
        if not isinstance(body, dict):  # "null" or a list is no answer: retry, never "sent"
            log_event(logger, "subscribe send unexpected answer", kind=type(body).__name__)
            return "unexpected_answer"
        errcode = body.get("errcode") or 0
        if errcode in INVALID_TOKEN_ERRCODES and attempt == 0:
            continue  # refresh the token once and try again
        if errcode == 0:
            return "sent"
        log_event(logger, "subscribe send refused", errcode=errcode, errmsg=body.get("errmsg"))
        return "refused" if errcode in REFUSED_ERRCODES else f"errcode:{errcode}"
    return "errcode:token"
