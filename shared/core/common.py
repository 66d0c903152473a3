"""Small pieces every domain module uses: ids, the clock, paging and the strict base model."""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timezone
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

# every date an input may carry: a year like 1 or 9999 passes ISO 8601 but overflows the
# arithmetic, the database and the mini-program's dates further on
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def new_id(prefix: str) -> str:
    """A string id that says what it names, e.g. ``ord_3f2a...``; random, so not guessable."""
    return f"{prefix}_{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: Optional[datetime]) -> Optional[str]:
    """A UTC datetime as ISO 8601 with a Z; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class Input(BaseModel):
    """Base of every action's input: unknown fields are rejected, strings are stripped, and
    every datetime falls between 1970 and 2100."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _datetimes_in_range(cls, value: Any) -> Any:
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, datetime):
                aware = item if item.tzinfo is not None else item.replace(tzinfo=timezone.utc)
                if not EARLIEST <= aware <= LATEST:
                    raise ValueError("dates must fall between 1970 and 2100")
        return value


class PageInput(Input):
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=20, ge=1, le=100)

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size


def page_of(items: list[Any], total: int, page: PageInput) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page.page, "page_size": page.page_size,
            "pages": math.ceil(total / page.page_size) if total else 0}


class NoInput(Input):
    """The input of an action that takes none: ``{}``."""
