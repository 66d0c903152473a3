"""The warm instance's short-lived cache (shop settings, experiments, hot searches)."""
from __future__ import annotations

from shared.core.warmcache import WarmCache


def test_a_fresh_entry_is_served_without_loading_and_a_new_database_loads_again() -> None:
    cache: WarmCache[int] = WarmCache()
    loads: list[str] = []
    db_a, db_b = object(), object()

    def load(name: str) -> int:
        loads.append(name)
        return len(loads)

    assert cache.get(db_a, "k", 60, lambda: load("a")) == 1
    assert cache.get(db_a, "k", 60, lambda: load("a again")) == 1   # fresh: no load
    assert cache.get(db_b, "k", 60, lambda: load("b")) == 2         # another database
    cache.forget("k")
    assert cache.get(db_b, "k", 60, lambda: load("after forget")) == 3
    assert cache.get(db_b, "k", 0, lambda: load("ttl 0")) == 4      # 0: always read
    assert loads == ["a", "b", "after forget", "ttl 0"]
