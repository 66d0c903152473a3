"""Signed user tokens and the merchant credential.

A token is ``v1.<payload>.<signature>``: payload is base64url JSON ``{"uid", "iat", "exp"}``,
signature is HMAC-SHA256 over ``v1.<payload>`` with ``TOKEN_SECRET``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Optional

from shared.core.config import get_settings
from shared.core.errors import ShopError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(message: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def issue_token(user_id: str, now: Optional[float] = None) -> str:
    settings = get_settings()
    issued = int(now if now is not None else time.time())
    payload = _b64(json.dumps({"uid": user_id, "iat": issued,
                               "exp": issued + settings.TOKEN_TTL_SECONDS},
                              separators=(",", ":")).encode())
    head = f"v1.{payload}"
    return f"{head}.{_sign(head, settings.TOKEN_SECRET)}"


def verify_token(token: str, now: Optional[float] = None) -> str:
    """The user id in a valid token; UNAUTHENTICATED for a forged, broken or expired one."""
    parts = token.split(".") if token else []
    if len(parts) != 3 or parts[0] != "v1":
        raise ShopError("UNAUTHENTICATED", "invalid token")
    head = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(head, get_settings().TOKEN_SECRET), parts[2]):
        raise ShopError("UNAUTHENTICATED", "invalid token")
    try:
        claims = json.loads(_unb64(parts[1]))
        user_id, expires = str(claims["uid"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise ShopError("UNAUTHENTICATED", "invalid token") from None
    if expires <= (now if now is not None else time.time()):
        raise ShopError("UNAUTHENTICATED", "token expired", {"reason": "expired"})
    return user_id


def is_merchant_token(token: Optional[str]) -> bool:
    return token is not None and bool(token) and hmac.compare_digest(
        token.encode(), get_settings().MERCHANT_TOKEN.encode())
