"""Fixed-window rate limits kept in the database, so they hold across warm instances."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import ShopError


def hit(db: Any, key: str, limit: int, now: datetime, window_seconds: int = 60) -> None:
    """Count one hit of ``key``; RATE_LIMITED once more than ``limit`` fall in one window."""
    window = int(now.timestamp()) // window_seconds
    doc_id = f"{key}:{window}"
    result = db.rate_limits.find_one_and_update(
        {"_id": doc_id},
        {"$inc": {"hits": 1},
         "$setOnInsert": {"expires_at": now + timedelta(seconds=2 * window_seconds)}},
        upsert=True, return_document=True, projection={"hits": 1})
    hits = (result or {}).get("hits", 1)
    if hits > limit:
        raise ShopError("RATE_LIMITED", details={"retry_after_seconds": window_seconds})
