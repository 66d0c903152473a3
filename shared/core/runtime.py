"""How a call flows: event adapters, caller resolution, validation, the envelope, error mapping.

``serve(action, event, context)`` is what every ``functions/<action>/index.py`` calls. It
accepts a CloudBase callFunction event, a Tencent API Gateway event or a timer event.
"""
from __future__ import annotations

import importlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from shared.core.actions import ACTIONS, TIMERS, Action
from shared.core.common import iso, utcnow
from shared.core.config import ConfigError, Settings, get_settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event, request_id_var

logger = get_logger("shop.runtime")


@dataclass
class Credentials:
    """What a call brings to prove who makes it; nothing here is trusted until checked."""
    bearer: Optional[str] = None
    cloudbase_openid: Optional[str] = None
    client_ip: Optional[str] = None


@dataclass
class Context:
    """What a domain function gets besides its input: the database, the caller, the time."""
    db: Any
    settings: Settings
    now: datetime
    request_id: str
    user_id: Optional[str] = None
    client_ip: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    status: int
    envelope: Optional[dict[str, Any]]  # None: an empty body (a notify's 204)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def error_outcome(error: ShopError) -> Outcome:
    return Outcome(error.status, {"ok": False, "error": error.to_dict()})


def _validation_error(exc: Any) -> ShopError:
    fields = [{"field": ".".join(str(p) for p in err["loc"]) or "body",
               "message": err["msg"], "type": err["type"]} for err in exc.errors()]
    return ShopError("VALIDATION_ERROR", "invalid input: " + ", ".join(f["field"] for f in fields),
                     {"fields": fields})


def _load(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _resolve_user(action: Action, creds: Credentials, ctx: Context) -> None:
    from shared.core.auth import verify_token
    if creds.cloudbase_openid and ctx.settings.TRUST_CLOUDBASE_IDENTITY:
        from shared.accounts.users import ensure_user_for_openid
        ctx.user_id = ensure_user_for_openid(ctx.db, creds.cloudbase_openid, ctx.now)
        return
    if not creds.bearer:
        raise ShopError("UNAUTHENTICATED", "missing token")
    ctx.user_id = verify_token(creds.bearer)


def _check_merchant(action: Action, creds: Credentials, settings: Settings) -> None:
    from shared.core.auth import is_merchant_token, verify_token
    if not creds.bearer:
        raise ShopError("UNAUTHENTICATED", "merchant credential required")
    if not is_merchant_token(creds.bearer):
        try:
            verify_token(creds.bearer)
        except ShopError:
            raise ShopError("UNAUTHENTICATED", "invalid merchant credential") from None
        raise ShopError("FORBIDDEN", "merchant credential required")
    if action.auth == "dev" and not settings.is_dev_or_test:
        raise ShopError("FORBIDDEN", "this action exists in dev and test only")


def _make_context(request_id: str, creds: Credentials) -> Context:
    from shared.core.db import get_db
    return Context(db=get_db(), settings=get_settings(), now=utcnow(),
                   request_id=request_id, client_ip=creds.client_ip)


def dispatch(action_name: str, payload: Any, creds: Credentials,
             request_id: Optional[str] = None) -> Outcome:
    """Run one action for one caller and wrap the result; never raises."""
    request_id = request_id or new_request_id()
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    outcome = _dispatch(action_name, payload, creds, request_id)
    log_event(logger, "action", action=action_name, status=outcome.status,
              ok=outcome.envelope["ok"], duration_ms=round((time.perf_counter() - started) * 1000, 2),
              error=None if outcome.envelope["ok"] else outcome.envelope["error"]["code"])
    request_id_var.reset(token)
    return outcome


def _dispatch(action_name: str, payload: Any, creds: Credentials, request_id: str) -> Outcome:
    from pydantic import ValidationError
    try:
        action = ACTIONS.get(action_name)
        if action is None:
            raise ShopError("UNKNOWN_ACTION", f"unknown action {action_name!r}",
                            {"action": str(action_name)[:64]})
        if not isinstance(payload, dict):
            raise ShopError("BAD_REQUEST", "the body must be a JSON object")
        settings = get_settings()
        if action.auth in ("merchant", "dev"):
            _check_merchant(action, creds, settings)
        if action.auth == "dev_user" and not settings.is_dev_or_test:
            raise ShopError("FORBIDDEN", "this action exists in dev and test only")
        ctx = _make_context(request_id, creds)
        if action.auth in ("user", "dev_user"):
            _resolve_user(action, creds, ctx)
        request = _load(action.module, action.input_model).model_validate(payload)
        data = _load(action.module, action.function)(ctx, request)
        return Outcome(200, {"ok": True, "data": data})
    except ShopError as exc:
        return error_outcome(exc)
    except ValidationError as exc:
        return error_outcome(_validation_error(exc))
    except Exception as exc:
        return error_outcome(unexpected_error(exc, f"action {action_name}", request_id))


def unexpected_error(exc: Exception, where: str, request_id: str) -> ShopError:
    """Map what no domain code raised on purpose; the stack trace goes to the log only."""
    from pymongo.errors import ConnectionFailure
    if isinstance(exc, ConfigError):
        log_event(logger, "configuration refused", logging.ERROR, reason=str(exc))
        return ShopError("CONFIG_ERROR")
    if isinstance(exc, ConnectionFailure):
        log_event(logger, "database unreachable", logging.ERROR, where=where,
                  error=type(exc).__name__)
        return ShopError("UNAVAILABLE", details={"request_id": request_id})
    logger.exception("unhandled error in %s", where)
    return ShopError("INTERNAL", details={"request_id": request_id})


def run_timer(name: str, request_id: Optional[str] = None) -> Outcome:
    """Run one timer function now; used by timer events, the dev gateway and dev_run_timer."""
    request_id = request_id or new_request_id()
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        if name not in TIMERS:
            raise ShopError("UNKNOWN_ACTION", f"unknown timer {name!r}")
        module, function = TIMERS[name]
        ctx = _make_context(request_id, Credentials())
        outcome = Outcome(200, {"ok": True, "data": _load(module, function)(ctx)})
    except ShopError as exc:
        outcome = error_outcome(exc)
    except Exception as exc:
        outcome = error_outcome(unexpected_error(exc, f"timer {name}", request_id))
    log_event(logger, "timer", timer=name, status=outcome.status,
              duration_ms=round((time.perf_counter() - started) * 1000, 2),
              result=outcome.envelope.get("data"))
    request_id_var.reset(token)
    return outcome


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


def run_internal(name: str, event: dict[str, Any], request_id: Optional[str] = None) -> Outcome:
    """An async invoke from another function (fan-out batches); the handler checks its HMAC."""
    from shared.core.actions import INTERNAL_FUNCTIONS
    request_id = request_id or new_request_id()
    try:
        module, function = INTERNAL_FUNCTIONS[name]
        ctx = _make_context(request_id, Credentials())
        return Outcome(200, {"ok": True, "data": _load(module, function)(ctx, event)})
    except ShopError as exc:
        return error_outcome(exc)
    except Exception as exc:
        return error_outcome(unexpected_error(exc, f"function {name}", request_id))


def serve(action: str, event: Any, context: Any = None) -> dict[str, Any]:
    """The entry point of every cloud function."""
    try:
        if isinstance(event, dict) and event.get("_invoke") == action:
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
