"""The merchant's shop settings (collection ``shop_settings``, one document per setting) as a
warm instance reads them: each document is kept for ``SHOP_SETTINGS_CACHE_SECONDS``.

They are read on hot paths (member levels price every order) and change rarely, so a read per
call was a round trip for nothing. A write through ``save_shop_setting`` takes effect at once
on the instance that made it; other warm instances see it within the TTL (0 turns the cache
off).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

from shared.core.config import get_settings

# setting id -> (the database handle it was read from, monotonic expiry, the document); the
# handle is kept (not its id()) so that a new database (tests, a reset) never sees old values
_cache: dict[str, tuple[Any, float, Optional[dict[str, Any]]]] = {}
_lock = threading.Lock()


def shop_setting(db: Any, setting_id: str) -> Optional[dict[str, Any]]:
    """The setting's document (None if never set), from this instance's cache while fresh."""
    ttl = get_settings().SHOP_SETTINGS_CACHE_SECONDS
    now = time.monotonic()
    cached = _cache.get(setting_id)
    if ttl > 0 and cached is not None and cached[0] is db and cached[1] > now:
        return cached[2]
    doc = db.shop_settings.find_one({"_id": setting_id})
    if ttl > 0:
        with _lock:
            _cache[setting_id] = (db, now + ttl, doc)
    return doc


def save_shop_setting(db: Any, setting_id: str, fields: dict[str, Any]) -> None:
    """Set fields of a setting (created if new); this instance reads the new value at once."""
    db.shop_settings.update_one({"_id": setting_id}, {"$set": fields}, upsert=True)
    forget_shop_settings(setting_id)


def forget_shop_settings(setting_id: Optional[str] = None) -> None:
    """Drop one cached setting, or all of them."""
    with _lock:
        if setting_id is None:
            _cache.clear()
        else:
            _cache.pop(setting_id, None)
