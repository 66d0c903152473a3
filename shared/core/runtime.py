"""The entry point of every cloud function: which event came, and how to answer it.

``serve(action, event, context)`` is what every ``functions/<action>/index.py`` calls. It
accepts a CloudBase callFunction event, an HTTP event (a Function URL, an SCF custom domain, or
the API Gateway of older deployments), a timer event or an async invoke from another function,
and hands the call to ``dispatch``.

A call that carries a client identity (CloudBase's ``userInfo`` in the event, or ``WX_OPENID``
in the context's environment) is a client call, whatever else its data says: a mini-program
must never start a timer or pass for another function's invoke by adding ``"Type": "Timer"`` or
``"_invoke"`` to what it sends.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from shared.core.actions import INTERNAL_FUNCTIONS
from shared.core.dispatch import Credentials, dispatch, run_internal, run_timer, to_json
from shared.core.errors import ShopError
from shared.core.log import get_logger

logger = get_logger("shop.runtime")

# SCF's timer trigger sends "Timer"; CloudBase's timer trigger has been seen sending "timer"
TIMER_TYPES = ("Timer", "timer")


# ---- event adapters ---------------------------------------------------------------------

def _context_request_id(context: Any) -> Optional[str]:
    if isinstance(context, dict):
        value = context.get("request_id") or context.get("requestId")
    else:
        value = getattr(context, "request_id", None) or getattr(context, "aws_request_id", None)
    return str(value)[:64] if value else None


def context_environment(context: Any) -> dict[str, str]:
    """The per-call environment CloudBase hands a function in its context.

    Non-Node runtimes get the caller's identity there, not in ``os.environ`` (which a warm
    instance shares between calls, so it could hold the previous caller). Two shapes, read as
    @cloudbase/node-sdk reads them: ``environment``, a JSON object (current platform), or
    ``environ``, ``"KEY=value;KEY=value"`` (older platform).
    """
    if isinstance(context, dict):
        environment, environ = context.get("environment"), context.get("environ")
    else:
        environment = getattr(context, "environment", None)
        environ = getattr(context, "environ", None)
    if isinstance(environment, str) and environment.strip():
        try:
            environment = json.loads(environment)
        except ValueError:
            environment = None
    if isinstance(environment, dict):
        return {str(k): v for k, v in environment.items() if isinstance(v, str)}
    found: dict[str, str] = {}
    if isinstance(environ, str):
        for part in environ.split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip():
                found[key.strip()] = value
    return found


def client_openid(event: Any, context: Any) -> Optional[str]:
    """The CloudBase caller's openid: the context's ``WX_OPENID``, else ``userInfo.openId``."""
    openid = context_environment(context).get("WX_OPENID")
    if openid:
        return openid
    user_info = event.get("userInfo") if isinstance(event, dict) else None
    if isinstance(user_info, dict) and isinstance(user_info.get("openId"), str):
        return user_info["openId"] or None
    return None


def carries_client_identity(event: Any, context: Any) -> bool:
    """True for a call CloudBase made on behalf of a mini-program user."""
    if isinstance(event, dict) and "userInfo" in event:
        return True
    return bool(context_environment(context).get("WX_OPENID"))


def is_gateway_event(event: Any) -> bool:
    """An HTTP request: an API Gateway event (with ``requestContext``) or a Function URL /
    custom domain event (the same fields without ``requestContext``, and ``headers``)."""
    if not (isinstance(event, dict) and isinstance(event.get("httpMethod"), str)
            and isinstance(event.get("path"), str)):
        return False
    return "requestContext" in event or isinstance(event.get("headers"), dict)


def is_timer_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("Type") in TIMER_TYPES


def _jsonable(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(to_json(envelope))


def serve_call(action: str, event: Any, context: Any) -> dict[str, Any]:
    """A callFunction event: the caller's data, plus CloudBase's identity."""
    payload: Any = event
    creds = Credentials(cloudbase_openid=client_openid(event, context))
    if isinstance(event, dict):
        payload = {k: v for k, v in event.items() if k not in ("userInfo", "_token")}
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
        if is_gateway_event(event):
            from shared.core.http import serve_gateway_event
            return serve_gateway_event(action, event, context)
        if carries_client_identity(event, context):
            return serve_call(action, event, context)
        if (isinstance(event, dict) and event.get("_invoke") == action
                and action in INTERNAL_FUNCTIONS):
            return _jsonable(run_internal(action, event, _context_request_id(context)).envelope)
        if is_timer_event(event):
            return serve_timer(action, event, context)
        return serve_call(action, event, context)
    except Exception:  # the adapters must never let a broken event escape as a crash
        logger.exception("event adapter failed for %s", action)
        return {"ok": False, "error": ShopError("INTERNAL").to_dict()}
