"""A shopper's standing with the shop: blocked by the merchant, or the account erased.

Both revoke every token the shopper holds: the user's ``token_version`` moves on, and a token
carries the version it was issued at (``shared.core.auth``). A blocked shopper cannot log in
again (ACCOUNT_BLOCKED) until unblocked; an erased account keeps its id (orders, ledgers and
the merchant's books point at it) but no longer names a person, and its openid is unlinked,
so the same WeChat user logging in again gets a fresh account.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.core.common import Input
from shared.core.context import Context, Database
from shared.core.errors import not_found

ERASED_NICKNAME = "已注销用户"
# what the user document keeps of a person: nothing that names, reaches or locates them
PERSONAL_FIELDS = ("unionid", "phone", "birthday", "session_key", "nearby", "avatar_url",
                   "last_share")


class BlockUserInput(Input):
    user_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200)


class UserIdInput(Input):
    user_id: str = Field(min_length=1, max_length=64)


def block_user(ctx: Context, req: BlockUserInput) -> dict[str, Any]:
    """Block a shopper: every token dies now, and login answers ACCOUNT_BLOCKED."""
    done = ctx.db.users.update_one(
        {"_id": req.user_id, "deleted_at": None},
        {"$set": {"blocked": {"reason": req.reason, "at": ctx.now}, "updated_at": ctx.now},
         "$inc": {"token_version": 1}})
    if done.matched_count == 0:
        raise not_found("user")
    return {"user_id": req.user_id, "blocked": True, "reason": req.reason}


def unblock_user(ctx: Context, req: UserIdInput) -> dict[str, Any]:
    """Let a blocked shopper log in again (the tokens revoked by the block stay dead)."""
    done = ctx.db.users.update_one({"_id": req.user_id, "deleted_at": None},
                                   {"$unset": {"blocked": ""}, "$set": {"updated_at": ctx.now}})
    if done.matched_count == 0:
        raise not_found("user")
    return {"user_id": req.user_id, "blocked": False}


def erase_personal_data(db: Database, user_id: str) -> None:
    """What the accounts area holds of a person beside the user document: the addresses."""
    db.addresses.delete_many({"user_id": user_id})


def erase_user(db: Database, user_id: str, now: datetime) -> None:
    """The user document stops naming a person; its openid is unlinked and every token
    revoked. The last write of an erasure: until it lands, the shopper's token still works
    and a retried delete_account finishes the job."""
    db.users.update_one(
        {"_id": user_id},
        {"$set": {"openid": f"erased:{user_id}", "nickname": ERASED_NICKNAME,
                  "deleted_at": now, "updated_at": now},
         "$unset": {field: "" for field in PERSONAL_FIELDS},
         "$inc": {"token_version": 1}})
