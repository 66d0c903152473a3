"""Fixed-window rate limits kept in the database, so they hold across warm instances."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import ShopError


def _window_id(key: str, now: datetime, window_seconds: int) -> str:
    return f"{key}:{int(now.timestamp()) // window_seconds}"


def _limited(window_seconds: int) -> ShopError:
    return ShopError("RATE_LIMITED", details={"retry_after_seconds": window_seconds})


def hit(db: Any, key: str, limit: int, now: datetime, window_seconds: int = 60) -> None:
    """Count one hit of ``key``; RATE_LIMITED once more than ``limit`` fall in one window."""
    if record(db, key, now, window_seconds) > limit:
        raise _limited(window_seconds)


def record(db: Any, key: str, now: datetime, window_seconds: int = 60) -> int:
    """Count one hit of ``key`` in the current window; the window's hits so far."""
    result = db.rate_limits.find_one_and_update(
        {"_id": _window_id(key, now, window_seconds)},
        {"$inc": {"hits": 1},
         "$setOnInsert": {"expires_at": now + timedelta(seconds=2 * window_seconds)}},
        upsert=True, return_document=True, projection={"hits": 1})
    return int((result or {}).get("hits", 1))


def check(db: Any, key: str, limit: int, now: datetime, window_seconds: int = 60) -> None:
    """RATE_LIMITED if ``key`` has ``limit`` hits in the current window already; counts none
    (for limits on failures: only a failure is recorded, a success costs nothing)."""
    doc = db.rate_limits.find_one({"_id": _window_id(key, now, window_seconds)}, {"hits": 1})
    if doc is not None and int(doc.get("hits", 0)) >= limit:
        raise _limited(window_seconds)
