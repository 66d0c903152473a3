"""One call to WeChat's server API that answers JSON (jscode2session, stable_token, ...).

Unreachable WeChat, or an answer that is not a JSON object, is UPSTREAM_ERROR; the errcode
inside the answer is the caller's to judge, since each API has its own meanings.
"""
from __future__ import annotations

from typing import Any

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event

logger = get_logger("shop.wechat")


def call_json(settings: Settings, method: str, path: str, what: str, **kwargs: Any) \
        -> dict[str, Any]:
    import requests
    url = settings.WECHAT_API_BASE.rstrip("/") + path
    try:
        response = requests.request(method, url, timeout=settings.WECHAT_TIMEOUT_SECONDS,
                                    **kwargs)
        body: Any = response.json()
    except (requests.RequestException, ValueError) as exc:
        log_event(logger, f"{what} unreachable", error=type(exc).__name__)
        raise ShopError("UPSTREAM_ERROR", f"WeChat ({what}) is unavailable") from None
    if not isinstance(body, dict):
        raise ShopError("UPSTREAM_ERROR", "unexpected answer from WeChat")
    return body
