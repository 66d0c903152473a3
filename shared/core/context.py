"""What a domain function gets besides its input: the database, the caller, the time."""
from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def shopper_id(self) -> str:
        """The caller of a user action; the runtime resolves it before the action runs."""
        if self.user_id is None:
            raise RuntimeError("a user action ran without a resolved caller")
        return self.user_id
