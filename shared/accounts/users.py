"""Shoppers: login with WeChat, and their profile."""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Any, Optional

from pydantic import Field, field_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, NoInput, iso, new_id
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.ratelimit import check, hit, record

__all__ = ["NoInput"]

PHONE = re.compile(r"^1[3-9]\d{9}$")
DEFAULT_NICKNAME = "微信用户"
# failed exchanges of one code a minute: a code is single-use, so a few tries are retries
CODE_FAILURE_LIMIT = 3


class LoginInput(Input):
    code: str = Field(min_length=1, max_length=128)


class UpdateProfileInput(Input):
    nickname: Optional[str] = Field(default=None, min_length=1, max_length=32)
    avatar_url: Optional[str] = Field(default=None, max_length=512,
                                      pattern=r"^(https?|cloud)://\S+$")
    phone: Optional[str] = Field(default=None, pattern=PHONE.pattern)
    birthday: Optional[date] = None

    @field_validator("birthday")
    @classmethod
    def not_in_future(cls, value: Optional[date]) -> Optional[date]:
        if value is not None and (value > date.today() or value.year < 1900):
            raise ValueError("birthday must be a past date")
        return value


def user_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "nickname": doc.get("nickname") or DEFAULT_NICKNAME,
        "avatar_url": doc.get("avatar_url") or "",
        "phone": doc.get("phone"),
        "birthday": doc.get("birthday"),
        "created_at": iso(doc.get("created_at")),
    }


def _upsert_user(db: Any, openid: str, now: datetime, on_insert: dict[str, Any],
                 on_login: dict[str, Any]) -> dict[str, Any]:
    from pymongo import ReturnDocument
    update = {"$setOnInsert": {"_id": new_id("usr"), "openid": openid, "created_at": now,
                               **on_insert},
              "$set": {"updated_at": now, **on_login}}
    try:
        return db.users.find_one_and_update({"openid": openid}, update, upsert=True,
                                            return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        # two first logins raced on the unique openid: the other one created the user
        return db.users.find_one_and_update({"openid": openid}, {"$set": update["$set"]},
                                            return_document=ReturnDocument.AFTER)


def _failure_limits(ctx: Context, code: str) -> list[tuple[str, int]]:
    """The buckets a failed code exchange counts in: the code, and the caller (its trusted
    CloudBase openid, else its IP). A caller with neither shares no bucket with anyone."""
    digest = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    limits = [(f"login_fail:code:{digest}", CODE_FAILURE_LIMIT)]
    caller = (f"openid:{ctx.caller_openid}" if ctx.caller_openid
              else f"ip:{ctx.client_ip}" if ctx.client_ip else None)
    if caller:
        limits.append((f"login_fail:{caller}", ctx.settings.LOGIN_FAILURES_PER_MINUTE))
    return limits


def login(ctx: Context, req: LoginInput) -> dict[str, Any]:
    """Trade a wx.login code for a token. Successful logins are bounded only per IP (sized
    for carrier NAT) and by WeChat's own 45011; failures per caller and per code."""
    from shared.core.auth import issue_token
    from shared.wechat.login import code_to_session
    if ctx.client_ip:
        hit(ctx.db, f"login:ip:{ctx.client_ip}", ctx.settings.LOGIN_PER_IP_PER_MINUTE, ctx.now)
    failure_limits = _failure_limits(ctx, req.code)
    for key, limit in failure_limits:
        check(ctx.db, key, limit, ctx.now)
    try:
        session = code_to_session(ctx.settings, req.code)
    except ShopError as exc:
        if exc.code == "INVALID_CODE":
            for key, _ in failure_limits:
                record(ctx.db, key, ctx.now)
        raise
    on_insert: dict[str, Any] = {"nickname": session.dev_name or DEFAULT_NICKNAME,
                                 "avatar_url": ""}
    on_login: dict[str, Any] = {"session_key": session.session_key, "last_login_at": ctx.now}
    if session.unionid:
        on_login["unionid"] = session.unionid
    user = _upsert_user(ctx.db, session.openid, ctx.now, on_insert, on_login)
    if user.get("blocked"):
        raise ShopError("ACCOUNT_BLOCKED")
    return {"token": issue_token(user["_id"], version=int(user.get("token_version") or 0)),
            "expires_in": ctx.settings.TOKEN_TTL_SECONDS, "user": user_view(user)}


def ensure_user_for_openid(db: Any, openid: str, now: datetime) -> str:
    """The user id of a CloudBase caller, creating the user on first sight."""
    found = db.users.find_one({"openid": openid}, {"_id": 1, "blocked": 1})
    if found:
        if found.get("blocked"):
            raise ShopError("ACCOUNT_BLOCKED")
        return found["_id"]
    user = _upsert_user(db, openid, now, {"nickname": DEFAULT_NICKNAME, "avatar_url": ""}, {})
    return user["_id"]


def get_profile(ctx: Context, req: NoInput) -> dict[str, Any]:
    user = ctx.db.users.find_one({"_id": ctx.user_id}, {"session_key": 0})
    if user is None:
        raise not_found("user")
    return user_view(user)


def update_profile(ctx: Context, req: UpdateProfileInput) -> dict[str, Any]:
    from pymongo import ReturnDocument
    changes = req.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise ShopError("VALIDATION_ERROR", "fields cannot be null",
                        {"fields": [{"field": k, "message": "cannot be null", "type": "null"}
                                    for k, v in changes.items() if v is None]})
    if "birthday" in changes:
        changes["birthday"] = changes["birthday"].isoformat()
    changes["updated_at"] = ctx.now
    user = ctx.db.users.find_one_and_update({"_id": ctx.user_id}, {"$set": changes},
                                            projection={"session_key": 0},
                                            return_document=ReturnDocument.AFTER)
    if user is None:
        raise not_found("user")
    return user_view(user)
