"""The merchant's shop settings (collection ``shop_settings``, one document per setting) as a
warm instance reads them: each document is kept for ``SHOP_SETTINGS_CACHE_SECONDS``.

They are read on hot paths (member levels price every order) and change rarely, so a read per
call was a round trip for nothing. A write through ``save_shop_setting`` takes effect at once
on the instance that made it; other warm instances see it within the TTL (0 turns the cache
off).
"""
from __future__ import annotations

from typing import Any, Optional

from shared.core.config import get_settings
from shared.core.warmcache import WarmCache

_cache: WarmCache[Optional[dict[str, Any]]] = WarmCache()


def shop_setting(db: Any, setting_id: str) -> Optional[dict[str, Any]]:
    """The setting's document (None if never set), from this instance's cache while fresh."""
    return _cache.get(db, setting_id, get_settings().SHOP_SETTINGS_CACHE_SECONDS,
                      lambda: db.shop_settings.find_one({"_id": setting_id}))


def save_shop_setting(db: Any, setting_id: str, fields: dict[str, Any]) -> None:
    """Set fields of a setting (created if new); this instance reads the new value at once."""
    db.shop_settings.update_one({"_id": setting_id}, {"$set": fields}, upsert=True)
    forget_shop_settings(setting_id)


def forget_shop_settings(setting_id: Optional[str] = None) -> None:
    """Drop one cached setting, or all of them."""
    _cache.forget(setting_id)
