"""One call of the shop, whatever brought it: resolve the caller, validate, run, wrap.

``dispatch`` runs an action, ``run_timer`` a timer, ``run_internal`` an async invoke; each
answers an ``Outcome`` and never raises. The event adapters (``runtime``) and the WSGI app
(``http``) both sit on top of this module.
"""
from __future__ import annotations

import importlib
import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any, Optional

from shared.core.actions import ACTIONS, IDENTITY_RESOLVER, INTERNAL_FUNCTIONS, TIMERS, Action
from shared.core.common import iso, utcnow
from shared.core.config import ConfigError, Settings, get_settings
from shared.core.context import Context
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event, request_id_var
from shared.core.records import record
from shared.core.validation import validation_error, with_chinese_fields

logger = get_logger("shop.runtime")


@record
class Credentials:
    """What a call brings to prove who makes it; nothing here is trusted until checked."""
    bearer: Optional[str] = None
    cloudbase_openid: Optional[str] = None
    client_ip: Optional[str] = None


@record
class Outcome:
    status: int
    envelope: dict[str, Any]


def new_request_id() -> str:
    return uuid.uuid4().hex


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def error_outcome(error: ShopError) -> Outcome:
    return Outcome(error.status, {"ok": False, "error": with_chinese_fields(error).to_dict()})


# no input of the shop nests deeper than a few levels; a deeper one is hostile, and would
# reach recursive code (validation, BSON, logs) that a few thousand levels crash
MAX_INPUT_DEPTH = 32


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest more than ``limit`` deep (walked without
    recursion, so a 100k-deep value is measured, not a crash)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _load(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _identified(creds: Credentials, settings: Settings) -> bool:
    return bool(creds.bearer or (creds.cloudbase_openid and settings.TRUST_CLOUDBASE_IDENTITY))


def _resolve_user(action: Action, creds: Credentials, ctx: Context) -> None:
    from shared.core.auth import check_token_version, verify_claims
    if creds.cloudbase_openid and ctx.settings.TRUST_CLOUDBASE_IDENTITY:
        ctx.user_id = _load(*IDENTITY_RESOLVER)(ctx.db, creds.cloudbase_openid, ctx.now)
        return
    if not creds.bearer:
        raise ShopError("UNAUTHENTICATED", "missing token")
    claims = verify_claims(creds.bearer)
    # the one read a token costs: its user's version, so a block or a deletion revokes it;
    # the whole document, kept as the call's ``shopper()``, so no step reads it again
    user = ctx.db.users.find_one({"_id": claims.user_id})
    check_token_version(user, claims)
    ctx.user_id = claims.user_id
    ctx.remember_shopper(user or {})


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


def _is_merchant_call(creds: Credentials) -> bool:
    from shared.core.auth import is_merchant_token
    return bool(creds.bearer) and is_merchant_token(creds.bearer or "")


def _make_context(request_id: str, creds: Credentials) -> Context:
    from shared.core.db import get_db
    settings = get_settings()
    openid = creds.cloudbase_openid if settings.TRUST_CLOUDBASE_IDENTITY else None
    return Context(db=get_db(), settings=settings, now=utcnow(), request_id=request_id,
                   client_ip=creds.client_ip, caller_openid=openid)


def dispatch(action_name: str, payload: Any, creds: Credentials,
             request_id: Optional[str] = None) -> Outcome:
    """Run one action for one caller and wrap the result; never raises."""
    request_id = request_id or new_request_id()
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    outcome = _dispatch(action_name, payload, creds, request_id)
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    log_event(logger, "action", action=action_name, status=outcome.status,
              ok=outcome.envelope["ok"], duration_ms=duration_ms,
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
        if nesting_exceeds(payload, MAX_INPUT_DEPTH):
            raise ShopError("BAD_REQUEST", "the input is nested too deeply",
                            {"max_depth": MAX_INPUT_DEPTH})
        settings = get_settings()
        if action.auth in ("merchant", "dev"):
            _check_merchant(action, creds, settings)
        if action.auth == "dev_user" and not settings.is_dev_or_test:
            raise ShopError("FORBIDDEN", "this action exists in dev and test only")
        ctx = _make_context(request_id, creds)
        if action.auth == "user_or_merchant" and _is_merchant_call(creds):
            ctx.is_merchant = True
        elif action.auth in ("user", "dev_user", "user_or_merchant") or (
                action.auth == "user_optional" and _identified(creds, settings)):
            _resolve_user(action, creds, ctx)
        request = _load(action.module, action.input_model).model_validate(payload)
        data = _load(action.module, action.function)(ctx, request)
        return Outcome(200, {"ok": True, "data": data})
    except ShopError as exc:
        return error_outcome(exc)
    except ValidationError as exc:
        return error_outcome(validation_error(exc))
    except Exception as exc:
        return error_outcome(unexpected_error(exc, f"action {action_name}", request_id))


def unexpected_error(exc: Exception, where: str, request_id: str) -> ShopError:
    """Map what no domain code raised on purpose; the stack trace goes to the log only."""
    from pymongo.errors import ConfigurationError, ConnectionFailure
    if isinstance(exc, ConfigError):
        log_event(logger, "configuration refused", logging.ERROR, reason=str(exc))
        return ShopError("CONFIG_ERROR")
    if isinstance(exc, ConfigurationError):  # MONGODB_URI unusable (syntax, SRV lookup)
        log_event(logger, "database configuration refused", logging.ERROR, where=where,
                  error=type(exc).__name__)
        return ShopError("CONFIG_ERROR", details={"request_id": request_id})
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


def run_internal(name: str, event: dict[str, Any], request_id: Optional[str] = None) -> Outcome:
    """An async invoke from another function (fan-out batches); the handler checks its HMAC."""
    request_id = request_id or new_request_id()
    try:
        module, function = INTERNAL_FUNCTIONS[name]
        ctx = _make_context(request_id, Credentials())
        return Outcome(200, {"ok": True, "data": _load(module, function)(ctx, event)})
    except ShopError as exc:
        return error_outcome(exc)
    except Exception as exc:
        return error_outcome(unexpected_error(exc, f"function {name}", request_id))
