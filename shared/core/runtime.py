"""The entry point of every cloud function: which event came, and how to answer it.

``serve(action, event, context)`` is what every ``functions/<action>/index.py`` calls. It
accepts a CloudBase callFunction event, an HTTP event (Function URL or API Gateway), a timer
event or an async invoke from another function, and hands the call to ``dispatch``.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from shared.core.actions import INTERNAL_FUNCTIONS
from shared.core.dispatch import Credentials, dispatch, run_internal, run_timer, to_json
from shared.core.errors import ShopError
from shared.core.log import get_logger

logger = get_logger("shop.runtime")


# ---- event adapters ---------------------------------------------------------------------

def _context_request_id(context: Any) -> Optional[str]:
    if isinstance(context, dict):
        value = context.get("request_id") or context.get("requestId")
    else:
        value = getattr(context, "request_id", None) or getattr(context, "aws_request_id", None)
    return str(value)[:64] if value else None


def is_gateway_event(event: Any) -> bool:
    return (isinstance(event, dict) and isinstance(event.get("httpMethod"), str)
            and isinstance(event.get("path"), str) and "requestContext" in event)


def is_timer_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("Type") == "Timer"


def _jsonable(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(to_json(envelope))


def serve_call(action: str, event: Any, context: Any) -> dict[str, Any]:
    """A callFunction event: the caller's data, plus CloudBase's ``userInfo``."""
    payload: Any = event
    creds = Credentials()
    if isinstance(event, dict):
        payload = {k: v for k, v in event.items() if k not in ("userInfo", "_token")}
        user_info = event.get("userInfo")
        if isinstance(user_info, dict) and isinstance(user_info.get("openId"), str):
            creds.cloudbase_openid = user_info["openId"] or None
        if isinstance(event.get("_token"), str):
            creds.bearer = event["_token"]
    elif event is None:
        payload = {}
    return _jsonable(dispatch(action, payload, creds, _context_request_id(context)).envelope)


def serve_timer(action: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _jsonable(run_timer(action, _context_request_id(context)).envelope)


def serve(action: str, event: Any, context: Any = None) -> dict[str, Any]:
    """The entry point of every cloud function."""
    try:
        if (isinstance(event, dict) and event.get("_invoke") == action
                and action in INTERNAL_FUNCTIONS):
            return _jsonable(run_internal(action, event, _context_request_id(context)).envelope)
        if is_gateway_event(event):
            from shared.core.http import serve_gateway_event
            return serve_gateway_event(action, event, context)
        if is_timer_event(event):
            return serve_timer(action, event, context)
        return serve_call(action, event, context)
    except Exception:  # the adapters must never let a broken event escape as a crash
        logger.exception("event adapter failed for %s", action)
        return {"ok": False, "error": ShopError("INTERNAL").to_dict()}
