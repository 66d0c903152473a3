"""A value built from the database and kept by a warm instance until the data it was built
from changes, as told by version documents in ``meta``.

Every write to that data must bump its version (``bump_version``), or warm instances keep
answering from what they knew. A version is a counter with a random token: a counter alone
repeats when the database starts over (wiped and seeded again, or a fresh test database at a
reused ``id()``), and a warm instance would then keep serving the old value as if nothing had
changed. The database's ``id()`` is part of the key for the same reason.

Reading the versions is itself a round trip per query, so a warm instance keeps what it read
for ``NEARBY_VERSIONS_CACHE_SECONDS`` (a second): another instance's write shows within that,
a write made here at once (``bump_version`` forgets what this instance read).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Optional, Sequence, TypeVar

from shared.core.common import new_id
from shared.core.config import get_settings

T = TypeVar("T")


# names -> (the database handle, monotonic expiry, the versions read)
_read: dict[tuple[str, ...], tuple[Any, float, tuple[Any, ...]]] = {}


def read_versions(db: Any, names: Sequence[str]) -> tuple[Any, ...]:
    """The versions of these names (0 for a name never bumped): as read by this instance less
    than ``NEARBY_VERSIONS_CACHE_SECONDS`` ago, else in one read."""
    key = tuple(names)
    ttl = get_settings().NEARBY_VERSIONS_CACHE_SECONDS
    now = time.monotonic()
    cached = _read.get(key)
    if ttl > 0 and cached is not None and cached[0] is db and cached[1] > now:
        return cached[2]
    versions = _read_now(db, key)
    if ttl > 0:
        _read[key] = (db, now + ttl, versions)
    return versions


def _read_now(db: Any, names: Sequence[str]) -> tuple[Any, ...]:
    if len(names) == 1:
        doc = db.meta.find_one({"_id": names[0]})
        return ((doc["v"], doc.get("token")) if doc else 0,)
    found = {d["_id"]: (d["v"], d.get("token"))
             for d in db.meta.find({"_id": {"$in": list(names)}})}
    return tuple(found.get(name, 0) for name in names)


def bump_version(db: Any, name: str, token_prefix: str) -> None:
    db.meta.update_one({"_id": name},
                       {"$inc": {"v": 1}, "$set": {"token": new_id(token_prefix)}}, upsert=True)
    _read.clear()


class VersionedIndex(Generic[T]):
    """``build(db)``, kept while the versions of ``names`` (and the database) stay the same."""

    def __init__(self, names: Sequence[str], build: Callable[[Any], T]) -> None:
        self.names = tuple(names)
        self._build = build
        # (version, value), replaced as one: a reader never pairs a version with another value
        self._current: Optional[tuple[tuple[Any, ...], T]] = None
        self._lock = threading.Lock()

    def get(self, db: Any, versions: Optional[Sequence[Any]] = None) -> T:
        """The value for the database as it is now (``versions``: those of ``names`` already
        read, in that order; else they are read here)."""
        read = read_versions(db, self.names) if versions is None else tuple(versions)
        version = (id(db), *read)
        current = self._current
        if current is not None and current[0] == version:
            return current[1]
        with self._lock:
            current = self._current
            if current is None or current[0] != version:
                current = (version, self._build(db))
                self._current = current
        return current[1]
