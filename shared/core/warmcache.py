"""What a warm instance keeps between calls for a few seconds: shop settings, experiments, hot
searches. Each entry remembers the database handle it was read from, so a new database (a
test's, a reset) never sees another's values; a TTL of 0 reads every time.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Optional, TypeVar

V = TypeVar("V")


class WarmCache(Generic[V]):
    """key -> (database handle, monotonic expiry, value), filled by ``load`` when stale."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, float, V]] = {}
        self._lock = threading.Lock()

    def get(self, db: Any, key: str, ttl: float, load: Callable[[], V]) -> V:
        now = time.monotonic()
        cached = self._entries.get(key)
        if ttl > 0 and cached is not None and cached[0] is db and cached[1] > now:
            return cached[2]
        value = load()
        if ttl > 0:
            with self._lock:
                self._entries[key] = (db, now + ttl, value)
        return value

    def forget(self, key: Optional[str] = None) -> None:
        """Drop one entry (a write this instance made), or all of them."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
