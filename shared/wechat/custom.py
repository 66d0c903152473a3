"""客服消息: ``POST /cgi-bin/message/custom/send?access_token=...`` (text to a shopper who wrote
to the shop within WeChat's window: 48 hours after their message, at most 5 messages)."""
from __future__ import annotations

from typing import Any

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event
from shared.wechat.token import INVALID_TOKEN_ERRCODES, get_access_token

logger = get_logger("shop.wechat")

# 45015: past the 48-hour window; 45047: over the messages allowed in it
WINDOW_ERRCODES = (45015, 45047)


def send_text(db: Any, settings: Settings, openid: str, text: str) -> str:
    """``sent``, ``window_closed``, or a reason to retry (``errcode:<n>``, ``unreachable``)."""
    import requests
    payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
    token = None
    for attempt in range(2):
        try:
            token = get_access_token(db, settings, force_refresh=attempt > 0, failed_token=token)
            response = requests.post(
                settings.WECHAT_API_BASE.rstrip("/") + "/cgi-bin/message/custom/send",
                params={"access_token": token},
                data=_json(payload), headers={"Content-Type": "application/json"},
                timeout=settings.WECHAT_TIMEOUT_SECONDS)
            body = response.json()
        except ShopError:
            return "unreachable"
        except (requests.RequestException, ValueError) as exc:
            log_event(logger, "custom send unreachable", error=type(exc).__name__)
            return "unreachable"
        if not isinstance(body, dict):
            return "unexpected_answer"
        errcode = body.get("errcode") or 0
        if errcode in INVALID_TOKEN_ERRCODES and attempt == 0:
            continue
        if errcode == 0:
            return "sent"
        log_event(logger, "custom send refused", errcode=errcode, errmsg=body.get("errmsg"))
        return "window_closed" if errcode in WINDOW_ERRCODES else f"errcode:{errcode}"
    return "errcode:token"


def _json(payload: dict[str, Any]) -> bytes:
    # WeChat shows \\uXXXX escapes literally in some clients: send the characters themselves
    import json
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
