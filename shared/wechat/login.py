"""code2Session: trade a ``wx.login`` code for the user's openid and session_key.

With ``WX_APPID``/``WX_SECRET`` set, calls ``GET /sns/jscode2session`` at ``WECHAT_API_BASE``.
Without them (dev and test only), the sandbox accepts ``dev:<name>`` codes: the same name is
always the same user.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Optional

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event

logger = get_logger("shop.wechat")

_DEV_CODE = re.compile(r"^dev:([A-Za-z0-9_.-]{1,32})$")

# WeChat errcode -> our error code
_ERRCODES = {40029: "INVALID_CODE", 40163: "INVALID_CODE", 45011: "RATE_LIMITED",
             40226: "USER_BLOCKED"}


@dataclass(frozen=True)
class WxSession:
    openid: str
    session_key: str
    unionid: Optional[str] = None
    dev_name: Optional[str] = None


def code_to_session(settings: Settings, code: str) -> WxSession:
    if settings.uses_wechat_sandbox:
        if settings.is_production:
            raise ShopError("CONFIG_ERROR", "the login sandbox is refused in production")
        return sandbox_session(code, settings.TOKEN_SECRET)
    return _jscode2session(settings, code)


def sandbox_session(code: str, secret: str) -> WxSession:
    match = _DEV_CODE.match(code)
    if not match:
        raise ShopError("INVALID_CODE", "sandbox login accepts codes of the form dev:<name>")
    name = match.group(1)
    digest = hashlib.sha256(f"openid:{name}".encode()).hexdigest()
    # as WeChat's: base64 of 16 bytes, so that open data (a group's share) decrypts with it
    session_key = base64.b64encode(
        hashlib.sha256(f"{secret}:{name}".encode()).digest()[:16]).decode()
    return WxSession(openid=f"dev_{digest[:26]}", session_key=session_key, dev_name=name)


def _jscode2session(settings: Settings, code: str) -> WxSession:
    from shared.wechat.server import call_json
    body = call_json(settings, "GET", "/sns/jscode2session", "jscode2session", params={
        "appid": settings.WX_APPID, "secret": settings.WX_SECRET, "js_code": code,
        "grant_type": "authorization_code"})
    errcode = body.get("errcode") or 0
    if errcode:
        log_event(logger, "jscode2session refused", errcode=errcode, errmsg=body.get("errmsg"))
        code_name = _ERRCODES.get(errcode, "UPSTREAM_ERROR")
        raise ShopError(code_name, f"WeChat login failed ({errcode})", {"errcode": errcode})
    if not body.get("openid") or not body.get("session_key"):
        raise ShopError("UPSTREAM_ERROR", "WeChat answered without an openid")
    return WxSession(openid=str(body["openid"]), session_key=str(body["session_key"]),
                     unionid=body.get("unionid"))
