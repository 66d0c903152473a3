"""The server API's access token, from ``POST /cgi-bin/stable_token``, cached in the database.

Every instance reads the one cached token, so a fleet of warm functions shares it rather than
each fetching its own. A token is used until shortly before it expires. When WeChat says a
token is invalid or expired (errcode 40001/42001), the caller asks once more with
``force_refresh=True``: if another instance already replaced that token, the new one is used;
otherwise WeChat is asked in its force-refresh mode (which it rate-limits, hence once).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from shared.core.common import utcnow
from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event

logger = get_logger("shop.wechat")

# renew this long before WeChat's expiry, so a token is never sent in its last moments
EXPIRY_MARGIN = timedelta(minutes=5)
# errcodes that mean "this access token is no good": refresh once and retry
INVALID_TOKEN_ERRCODES = (40001, 42001)


def _cache_id(settings: Settings) -> str:
    return f"access_token:{settings.WX_APPID}"


def get_access_token(db: Any, settings: Settings, force_refresh: bool = False,
                     failed_token: Optional[str] = None) -> str:
    """A valid access token; ``force_refresh`` after WeChat refused ``failed_token``."""
    now = utcnow()
    cached = db.wechat_tokens.find_one({"_id": _cache_id(settings)})
    if cached and cached["expires_at"] > now + EXPIRY_MARGIN:
        if not force_refresh or (failed_token and cached["token"] != failed_token):
            return str(cached["token"])
    token, expires_in = _stable_token(settings, force_refresh)
    db.wechat_tokens.update_one(
        {"_id": _cache_id(settings)},
        {"$set": {"token": token, "expires_at": now + timedelta(seconds=expires_in),
                  "fetched_at": now}}, upsert=True)
    return token


def _stable_token(settings: Settings, force_refresh: bool) -> tuple[str, int]:
    from shared.wechat.server import call_json
    body = call_json(settings, "POST", "/cgi-bin/stable_token", "stable_token", json={
        "grant_type": "client_credential", "appid": settings.WX_APPID,
        "secret": settings.WX_SECRET, "force_refresh": force_refresh})
    errcode = body.get("errcode") or 0
    if errcode or not body.get("access_token"):
        log_event(logger, "stable_token refused", errcode=errcode, errmsg=body.get("errmsg"))
        raise ShopError("UPSTREAM_ERROR", f"WeChat refused an access token ({errcode})",
                        {"errcode": errcode})
    try:
        expires_in = int(body.get("expires_in") or 7200)
    except (TypeError, ValueError):
        expires_in = 7200
    return str(body["access_token"]), expires_in
