"""What a domain function gets besides its input: the database, the caller, the time."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from shared.core.config import Settings

# pymongo's Database, or the embedded database's locked wrapper that behaves like one
Database = Any


@dataclass
class Context:
    db: Database
    settings: Settings
    now: datetime
    request_id: str
    user_id: Optional[str] = None
    client_ip: Optional[str] = None
    # the CloudBase openid of the caller, only where that identity is trusted (login counts
    # its failures per caller)
    caller_openid: Optional[str] = None
    # the call came with the merchant credential (auth user_or_merchant)
    is_merchant: bool = False
    # the caller's user document, read at most once per call (``shopper``)
    _shopper: Optional[dict[str, Any]] = field(default=None, repr=False)

    @property
    def shopper_id(self) -> str:
        """The caller of a user action; the runtime resolves it before the action runs."""
        if self.user_id is None:
            raise RuntimeError("a user action ran without a resolved caller")
        return self.user_id

    def shopper(self) -> dict[str, Any]:
        """The caller's user document, read once per call: several steps of one action (the
        member level, the share that brought them, their seat in a team) need a field of it,
        and each read is a round trip. Read it only for fields the call itself does not
        change."""
        if self._shopper is None:
            self._shopper = self.db.users.find_one({"_id": self.shopper_id}) or {}
        return self._shopper

    def remember_shopper(self, user: dict[str, Any]) -> None:
        """The runtime read the caller to check their token: the call's steps reuse it."""
        self._shopper = user
