"""The one WSGI app: the dev gateway serves it, and HTTP events (Function URL, custom domain,
API Gateway) reach it via serverless-wsgi.

Routes: ``GET /healthz``, ``POST /api/<action>``, the WeChat Pay notifies. A path may carry a
prefix before ``/api/`` (an API Gateway stage or base path); it is ignored. The ``gateway``
function serves every route; any other function serves its own route only, also at ``/`` (the
root of its own Function URL).
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from shared.core.actions import NOTIFY_ROUTES, PUSH_ROUTES
from shared.core.dispatch import (
    Credentials,
    Outcome,
    dispatch,
    error_outcome,
    new_request_id,
    to_json,
    unexpected_error,
)
from shared.core.errors import NotifyRejected, ShopError
from shared.core.log import get_logger

logger = get_logger("shop.http")

MAX_BODY_BYTES = 1 << 20
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ACTION_PATH = re.compile(r"(?:^|/)api/([^/]*)/?$")

StartResponse = Callable[..., Any]

# the one function that serves every route (behind its Function URL); see scripts/deployment
GATEWAY_FUNCTION = "gateway"


# WeChat Pay's notify protocol: 204 when accepted (or applied before), a FAIL body otherwise,
# and WeChat Pay sends the notify again later
NOTIFY_STATUS: dict[str, int] = {"unverified": 401, "malformed": 400, "mismatch": 400,
                                 "unknown": 404}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


def _envelope_response(outcome: Outcome) -> Response:
    return Response(outcome.status, to_json(outcome.envelope).encode("utf-8"))


def _respond(start_response: StartResponse, response: Response,
             request_id: str) -> Iterable[bytes]:
    body = response.body
    start_response(f"{response.status} {_reason(response.status)}", [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(body))),
        ("X-Request-Id", request_id),
        ("Cache-Control", "no-store"),
    ])
    return [body]


def _reason(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _bearer(environ: dict[str, Any]) -> Optional[str]:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _ip(address: str) -> Optional[Any]:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _is_trusted(address: str, trusted: tuple[Any, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in trusted)


def _client_ip(environ: dict[str, Any]) -> Optional[str]:
    """The caller's address: the socket's peer (API Gateway's sourceIp arrives as REMOTE_ADDR).

    X-Forwarded-For is the client's to forge, so it counts only when the peer is one of
    TRUSTED_PROXIES; then the client is the nearest hop that is not a trusted proxy."""
    from shared.core.config import get_settings
    peer = str(environ.get("REMOTE_ADDR") or "").strip() or None
    trusted = get_settings().trusted_proxies
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop, trusted):
            return hop if _ip(hop) is not None else peer
    return peer


def _request_id(environ: dict[str, Any]) -> str:
    candidate = environ.get("HTTP_X_REQUEST_ID", "")
    if not candidate:
        event = environ.get("serverless.event") or {}
        candidate = str((event.get("requestContext") or {}).get("requestId") or "")
    return candidate if _REQUEST_ID.match(candidate) else new_request_id()


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ShopError("BAD_REQUEST", "invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise ShopError("PAYLOAD_TOO_LARGE", details={"max_bytes": MAX_BODY_BYTES})
    if length > 0:
        raw = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated"):
        # a chunked body: the server ends the stream, so read to the end, up to the limit
        raw = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ShopError("PAYLOAD_TOO_LARGE", details={"max_bytes": MAX_BODY_BYTES})
    else:
        raw = b""
    return raw


def _read_json_body(environ: dict[str, Any]) -> Any:
    raw = _read_body(environ)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ShopError("BAD_REQUEST", "the body is not valid JSON") from None
    except RecursionError:  # "[" * 100_000: the parser gives up before the body ends
        raise ShopError("BAD_REQUEST", "the body is nested too deeply") from None


def _healthz() -> Outcome:
    from shared.core.config import get_settings
    from shared.core.db import is_embedded, ping
    settings = get_settings()
    ping()
    return Outcome(200, {"ok": True, "data": {
        "status": "ready", "env": settings.SHOP_ENV,
        "database": "embedded" if is_embedded() else "mongodb"}})


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _notify(name: str, environ: dict[str, Any]) -> Response:
    """A WeChat Pay notify: the domain accepts it or says why not; the answer is WeChat Pay's
    protocol, 204 or ``{"code": "FAIL", "message"}``."""
    from importlib import import_module
    _, module, handler = NOTIFY_ROUTES[name]
    try:
        getattr(import_module(module), handler)(_headers(environ), _read_body(environ))
    except NotifyRejected as exc:
        fail = {"code": "FAIL", "message": exc.message}
        return Response(NOTIFY_STATUS[exc.reason], to_json(fail).encode("utf-8"))
    return Response(204, b"")


def _push(name: str, method: str, environ: dict[str, Any]) -> Response:
    """WeChat's message push (PUSH_ROUTES): the query and the body to the domain, its answer
    (``echostr``, ``success``, a reply message) as it gave it."""
    from importlib import import_module
    from urllib.parse import parse_qsl
    _, module, handler = NOTIFY_ROUTES[name]
    query = dict(parse_qsl(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True))
    body = _read_body(environ) if method == "POST" else b""
    status, content_type, answer = getattr(import_module(module), handler)(method, query, body)
    return Response(status, answer, content_type)


def _check_bound(environ: dict[str, Any], name: str) -> None:
    bound = (environ.get("serverless.event") or {}).get("shopAction")
    if bound and bound != name:
        # an API Gateway route bound to one function must not reach another function's action
        raise ShopError("UNKNOWN_ACTION", f"this function serves {bound!r} only")


def _route(environ: dict[str, Any], request_id: str) -> Response:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "") or "/"
    if path.rstrip("/").endswith("/healthz"):
        if method not in ("GET", "HEAD"):
            raise ShopError("METHOD_NOT_ALLOWED")
        return _envelope_response(_healthz())
    for name, (route, _, _) in NOTIFY_ROUTES.items():
        if path.rstrip("/").endswith(route):
            if name in PUSH_ROUTES and method in ("GET", "POST"):
                _check_bound(environ, name)
                return _push(name, method, environ)
            if method != "POST":
                raise ShopError("METHOD_NOT_ALLOWED")
            _check_bound(environ, name)
            return _notify(name, environ)
    match = _ACTION_PATH.search(path)
    if match is None:
        raise ShopError("NOT_FOUND", f"no route {path[:100]}", {"path": path[:100]})
    if method != "POST":
        raise ShopError("METHOD_NOT_ALLOWED", "use POST with a JSON body")
    action = match.group(1)
    _check_bound(environ, action)
    creds = Credentials(bearer=_bearer(environ), client_ip=_client_ip(environ))
    return _envelope_response(dispatch(action, _read_json_body(environ), creds, request_id))


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    request_id = _request_id(environ)
    try:
        response = _route(environ, request_id)
    except ShopError as exc:
        response = _envelope_response(error_outcome(exc))
    except Exception as exc:
        response = _envelope_response(
            error_outcome(unexpected_error(exc, "the HTTP layer", request_id)))
    return _respond(start_response, response, request_id)


# ---- HTTP events: Function URL, custom domain, API Gateway ---------------------------------

def _own_path(action: str) -> str:
    return NOTIFY_ROUTES[action][0] if action in NOTIFY_ROUTES else f"/api/{action}"


def normalise_gateway_event(action: str, event: dict[str, Any]) -> dict[str, Any]:
    """An SCF HTTP event in the shape serverless-wsgi reads (API Gateway v1).

    A Function URL (or custom domain) event is an API Gateway event without ``requestContext``,
    ``isBase64Encoded`` and ``queryStringParameters``; the client's address comes in the
    ``x-scf-remote-addr`` header, which SCF sets, instead of ``requestContext.sourceIp``.
    """
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body")
    if body is None:
        body = ""
    elif not isinstance(body, str):
        body = json.dumps(body)
    context = event.get("requestContext")
    if isinstance(context, dict):
        source_ip = str(context.get("sourceIp") or "")
    else:
        context, source_ip = {}, headers.get("x-scf-remote-addr", "")
    query = event.get("queryString") or event.get("queryStringParameters") or {}
    path = event["path"]
    bound = None if action == GATEWAY_FUNCTION else action
    if bound and path.strip() in ("", "/"):
        path = _own_path(bound)  # the root of a function's own Function URL is its route
    return {
        "httpMethod": event["httpMethod"].upper(),
        "path": path,
        "headers": headers,
        "queryStringParameters": {str(k): str(v) for k, v in query.items()}
        if isinstance(query, dict) else {},
        "body": body,
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
        "requestContext": {"requestId": context.get("requestId"),
                           "stage": context.get("stage"),
                           "identity": {"sourceIp": source_ip}},
        "shopAction": bound,
    }


def serve_gateway_event(action: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
    import serverless_wsgi
    try:
        normalised = normalise_gateway_event(action, event)
        response = serverless_wsgi.handle_request(app, normalised, context)
    except Exception:
        # a body that is not valid base64, headers that are not a mapping, ...
        logger.exception("unreadable HTTP event")
        outcome = error_outcome(ShopError("BAD_REQUEST", "unreadable request"))
        return {"isBase64Encoded": False, "statusCode": outcome.status,
                "headers": {"Content-Type": "application/json; charset=utf-8"},
                "body": to_json(outcome.envelope)}
    return {"isBase64Encoded": bool(response.get("isBase64Encoded", False)),
            "statusCode": response["statusCode"],
            "headers": response.get("headers", {}),
            "body": response.get("body", "")}


# ---- the WeChat Pay sandbox's way in (dev and tests) ---------------------------------------

def deliver_in_process(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST a notify straight into the app, no network (the sandbox's notifies to the shop's
    default ``https://shop.invalid/...`` URLs); the HTTP status the app answered."""
    from urllib.parse import urlsplit

    from werkzeug.test import Client
    return Client(app).post(urlsplit(url).path, data=body, headers=headers).status_code
