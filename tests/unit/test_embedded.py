"""The embedded database's shortcuts (shared/core/embedded.py): mongomock's answers, without
its whole-collection scans on the hot paths (issue 14, the flash-sale and notify benches)."""
from __future__ import annotations

from typing import Any, Iterator

import mongomock
import pytest
from pymongo.errors import DuplicateKeyError


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many documents mongomock's generic filter engine looks at."""
    import mongomock.collection as collection_module
    seen = [0]
    real = collection_module.filter_applies

    def counting(*args: Any, **kwargs: Any) -> bool:
        seen[0] += 1
        return bool(real(*args, **kwargs))
    monkeypatch.setattr(collection_module, "filter_applies", counting)
    yield seen


def _orders(db: Any, n: int) -> None:
    db.orders.insert_many([{"_id": f"ord_{i:04d}", "user_id": f"u{i % 7}",
                            "request_id": f"req-{i:04d}", "status": "pending_payment",
                            "tags": ["a", f"t{i % 3}"]} for i in range(n)])


def test_an_update_that_writes_no_unique_key_does_not_scan_the_collection(db, scans) -> None:
    _orders(db, 200)
    scans[0] = 0

    db.orders.update_one({"_id": "ord_0100"}, {"$set": {"status": "paid"}})

    assert scans[0] == 0
    assert db.orders.find_one({"_id": "ord_0100"})["status"] == "paid"


def test_an_explained_refusal_finds_its_order_without_the_filter_engine(db, scans) -> None:
    _orders(db, 200)
    scans[0] = 0

    found = db.orders.find_one({"user_id": "u3", "request_id": "req-0150"})

    assert found["_id"] == "ord_0150" and scans[0] == 0


@pytest.mark.parametrize("query", [
    {"user_id": "u3"}, {"user_id": "u3", "request_id": "req-0003"}, {"tags": "t1"},
    {"missing": None}, {"user_id": "nobody"}, {"status": "pending_payment", "tags": "a"}])
def test_plain_equalities_find_what_the_filter_engine_finds(db, query) -> None:
    _orders(db, 30)
    db.orders.insert_one({"_id": "odd", "user_id": None, "request_id": "x", "tags": []})
    engine = sorted(d["_id"] for d in db.orders.find({"$and": [query]}))  # the generic path
    assert sorted(d["_id"] for d in db.orders.find(query)) == engine


def test_a_duplicate_key_is_still_refused_by_insert_and_by_update(db) -> None:
    _orders(db, 20)
    with pytest.raises(DuplicateKeyError):
        db.orders.insert_one({"_id": "ord_new", "user_id": "u1", "request_id": "req-0001"})
    assert db.orders.find_one({"_id": "ord_new"}) is None

    with pytest.raises(DuplicateKeyError):  # an update that writes a unique key is checked
        db.orders.update_one({"_id": "ord_0002"}, {"$set": {"user_id": "u1",
                                                            "request_id": "req-0001"}})
    assert db.orders.find_one({"_id": "ord_0002"})["user_id"] == "u2"  # rolled back
    with pytest.raises(DuplicateKeyError):  # and so is a replacement
        db.orders.replace_one({"_id": "ord_0002"}, {"user_id": "u1", "request_id": "req-0001"})


def test_an_aggregate_answers_as_mongomocks_own_does(db) -> None:
    db.products.insert_many([{"_id": "p1", "title": "苹果"}, {"_id": "p2", "title": "梨"}])
    db.skus.insert_many([{"_id": f"s{i}", "product_id": f"p{1 + i % 2}", "price": i,
                          "locks": [f"o{j}" for j in range(50)]} for i in range(10)])
    db.addresses.insert_one({"_id": "adr_1", "user_id": "u1"})
    pipeline = [{"$match": {"_id": {"$in": ["s1", "s2", "s9", "nope"]}}},
                {"$project": {"product_id": 1, "price": 1}},
                {"$lookup": {"from": "products", "localField": "product_id",
                             "foreignField": "_id", "as": "product"}},
                {"$addFields": {"_alongside_id": {"$literal": "adr_1"}}},
                {"$lookup": {"from": "addresses", "localField": "_alongside_id",
                             "foreignField": "_id", "as": "alongside"}}]
    raw = db._database.skus  # mongomock's own collection, behind the embedded lock
    theirs = mongomock.aggregate.process_pipeline(list(raw.find()), raw.database, pipeline,
                                                  None)

    ours = list(db.skus.aggregate(pipeline))

    assert sorted(ours, key=lambda d: d["_id"]) == sorted(theirs, key=lambda d: d["_id"])
    assert all("locks" not in doc for doc in ours) and len(ours) == 3


def test_documents_read_or_rolled_back_are_copies_of_their_own(db) -> None:
    from datetime import datetime, timezone
    at = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
    db.users.insert_one({"_id": "u1", "openid": "o1", "nested": {"list": [{"a": 1}], "at": at}})
    db.users.insert_one({"_id": "u2", "openid": "o2"})

    read = db.users.find_one({"_id": "u1"})
    read["nested"]["list"][0]["a"] = 99
    with pytest.raises(DuplicateKeyError):  # rolled back to the snapshot taken before
        db.users.update_one({"_id": "u2"}, {"$set": {"openid": "o1", "x": [1]}})

    again = db.users.find_one({"_id": "u1"})
    assert again["nested"] == {"list": [{"a": 1}], "at": at}
    assert db.users.find_one({"_id": "u2"}) == {"_id": "u2", "openid": "o2"}
