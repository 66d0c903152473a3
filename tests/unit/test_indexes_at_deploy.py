"""Indexes are created at deploy time on a real server (scripts/deploy, shopctl db migrate),
never by a cold function; the embedded database still creates its own."""
from __future__ import annotations

from typing import Any

import mongomock
import pytest


def test_a_cold_instance_on_a_real_server_creates_no_index(monkeypatch: pytest.MonkeyPatch):
    import shared.core.db as db_module
    from shared.core.config import reset_settings
    calls: list[Any] = []
    real = mongomock.MongoClient(tz_aware=True)["shop_cold"]

    class Counting:
        """A database whose collections count create_index calls."""
        def __getitem__(self, name: str) -> Any:
            collection = real[name]

            class Collection:
                def __getattr__(self, attr: str) -> Any:
                    return getattr(collection, attr)

                def create_index(self, *args: Any, **kwargs: Any) -> Any:
                    calls.append(args)
                    return collection.create_index(*args, **kwargs)
            return Collection()
    database = Counting()
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    monkeypatch.setattr(db_module, "_connect", lambda: (None, database))
    reset_settings()
    db_module.reset_db()
    db_module.get_db()
    assert calls == []
    db_module.ensure_indexes(database)  # what the deploy step runs
    assert len(calls) == sum(len(i) for i in db_module.INDEXES.values())
    db_module.reset_db()


def test_the_embedded_database_creates_its_own_indexes(db: Any):
    unique = [info for info in db.orders.index_information().values() if info.get("unique")]
    assert [info["key"] for info in unique] == [[("user_id", 1), ("request_id", 1)]]
