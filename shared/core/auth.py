"""Signed user tokens and the merchant credential.

A token is ``v1.<payload>.<signature>``: payload is base64url JSON ``{"uid", "iat", "exp",
"tv"}``, signature is HMAC-SHA256 over ``v1.<payload>`` with ``TOKEN_SECRET``. ``tv`` is the
user's ``token_version`` when the token was issued: blocking a user or deleting the account
moves the version on, which revokes every token issued before (``check_token_version``).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, NamedTuple, Optional

from shared.core.config import get_settings
from shared.core.errors import ShopError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(message: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


class Claims(NamedTuple):
    user_id: str
    version: int


def issue_token(user_id: str, now: Optional[float] = None, version: int = 0) -> str:
    settings = get_settings()
    issued = int(now if now is not None else time.time())
    payload = _b64(json.dumps({"uid": user_id, "iat": issued,
                               "exp": issued + settings.TOKEN_TTL_SECONDS, "tv": version},
                              separators=(",", ":")).encode())
    head = f"v1.{payload}"
    return f"{head}.{_sign(head, settings.TOKEN_SECRET)}"


def verify_token(token: str, now: Optional[float] = None) -> str:
    """The user id in a valid token; UNAUTHENTICATED for a forged, broken or expired one.
    Signature and expiry only: ``check_token_version`` says whether it was revoked since."""
    return verify_claims(token, now).user_id


def verify_claims(token: str, now: Optional[float] = None) -> Claims:
    """The claims of a validly signed, unexpired token; UNAUTHENTICATED otherwise."""
    if not token or not token.isascii():
        # a header can carry any latin-1 byte; compare_digest refuses non-ASCII text
        raise ShopError("UNAUTHENTICATED", "invalid token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise ShopError("UNAUTHENTICATED", "invalid token")
    head = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(head, get_settings().TOKEN_SECRET), parts[2]):
        raise ShopError("UNAUTHENTICATED", "invalid token")
    try:
        claims = json.loads(_unb64(parts[1]))
        user_id, expires = str(claims["uid"]), int(claims["exp"])
        version = int(claims.get("tv", 0))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ShopError("UNAUTHENTICATED", "invalid token") from None
    if expires <= (now if now is not None else time.time()):
        raise ShopError("UNAUTHENTICATED", "token expired", {"reason": "expired"})
    return Claims(user_id, version)


def check_token_version(user: Optional[dict[str, Any]], claims: Claims) -> None:
    """A token issued before its user's last revocation (block, account deletion) is dead;
    so is a token of a user who is gone or blocked."""
    if user is None or user.get("deleted_at") is not None:
        raise ShopError("UNAUTHENTICATED", "invalid token", {"reason": "revoked"})
    if int(user.get("token_version") or 0) != claims.version:
        raise ShopError("UNAUTHENTICATED", "token revoked", {"reason": "revoked"})
    if user.get("blocked"):
        raise ShopError("ACCOUNT_BLOCKED")


def is_merchant_token(token: Optional[str]) -> bool:
    return token is not None and bool(token) and hmac.compare_digest(
        token.encode("utf-8", "surrogatepass"), get_settings().MERCHANT_TOKEN.encode())
