"""Where the embedded database (mongomock) spends time a server would not, made cheap.

mongomock answers as a server does but works by scanning: measured on the flash-sale bench
(400 buyers, 200 units, ``make bench``), its scans made most of a placement's time, and
they grow with the data, so a dev shop got slower the longer it ran:

- every insert and every update of a collection with a unique index (orders: user_id +
  request_id) counted the documents holding the same key with the generic filter engine,
  over the whole collection (mongomock.collection.Collection._ensure_uniques); here an
  update whose operators write no field of a unique index is not checked (its keys are as
  they were), and otherwise a plain loop compares the keys (the same equality: a missing
  field is None, an array holds the value among its elements); anything else (dotted keys,
  partial indexes, a document value) keeps mongomock's own check;
- a query of plain equalities (``{"user_id": u, "request_id": r}``: the explained refusal of
  a sold-out buyer) ran the generic filter engine on every document; here a plain loop;
- ``aggregate`` copied every document of the collection before its first ``$match``
  (placing an order copied every SKU with its locks); here a pipeline that starts with a
  ``$match`` reads through ``find`` with that filter, which reads ids directly
  (``shared.core.db._lookup_ids_directly``), and copies only the fields of an inclusion
  ``$project`` that follows it.

- every update deep-copied the document (the snapshot it rolls back to) and every read
  copied its result field by field with the generic ``copy`` machinery; documents are
  dicts, lists and immutable values, copied here by a plain recursion (anything else still
  goes through ``copy``).

All keep mongomock's answers: tests/unit/test_embedded.py compares them with the originals.
"""
from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

_SCALARS = (str, int, float)


def speed_up(mongomock: Any) -> None:
    """Install them, once per process (after ``_lookup_ids_directly``, which they wrap)."""
    collection = mongomock.collection.Collection
    if getattr(collection, "_shop_speed_up", False):
        return
    _check_uniques_with_a_loop(collection)
    _compare_equalities_with_a_loop(collection)
    _copy_documents_plainly(mongomock.collection)
    _match_before_copying(collection, mongomock.aggregate.process_pipeline)
    collection._shop_speed_up = True


def _holds(value: Any, wanted: Any) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)


def _writes_no_unique_key(self: Any, document: Any, upsert: bool) -> bool:
    """An update of operators only, none of them on a field of a unique index: the keys it
    leaves as they were cannot have become duplicates."""
    if upsert or not isinstance(document, dict) or not document:
        return False
    keys = {key.split(".")[0] for index in self._store.indexes.values() if index.get("unique")
            for key, _ in index["key"]}
    return all(op.startswith("$") and isinstance(fields, dict) and
               not any(field.split(".")[0] in keys for field in fields)
               for op, fields in document.items())


def _check_uniques_with_a_loop(collection: Any) -> None:
    generic = collection._ensure_uniques
    update = collection._update
    skipping = threading.local()

    def update_keeping_keys(self: Any, spec: Any, document: Any, upsert: bool = False,
                            *args: Any, **kwargs: Any) -> Any:
        skipping.on = _writes_no_unique_key(self, document, upsert)
        try:
            return update(self, spec, document, upsert, *args, **kwargs)
        finally:
            skipping.on = False

    def ensure_uniques(self: Any, new_data: dict[str, Any]) -> None:
        if getattr(skipping, "on", False):
            return
        indexes = [index for index in self._store.indexes.values() if index.get("unique")]
        if not indexes:
            return
        simple = all(index.get("partialFilterExpression") is None and
                     all("." not in key for key, _ in index["key"]) for index in indexes)
        keyed = [[(key, new_data.get(key)) for key, _ in index["key"]] for index in indexes]
        if not simple or any(value is not None and (not isinstance(value, _SCALARS) or
                                                    isinstance(value, bool))
                             for pairs in keyed for _, value in pairs):
            generic(self, new_data)
            return
        documents = list(self._store.documents)
        for index, pairs in zip(indexes, keyed):
            if index.get("sparse") and all(value is None for _, value in pairs):
                continue
            # new_data is in the store already: a second holder of its key is a duplicate
            holders = 0
            for doc in documents:
                if all(_holds(doc.get(key), value) for key, value in pairs):
                    holders += 1
                    if holders > 1:
                        raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)

    collection._ensure_uniques = ensure_uniques
    collection._update = update_keeping_keys


def _match_before_copying(collection: Any, process_pipeline: Any) -> None:
    def aggregate(self: Any, pipeline: list[dict[str, Any]], session: Any = None,
                  **unused: Any) -> Any:
        first = pipeline[0] if pipeline else {}
        if len(first) == 1 and isinstance(first.get("$match"), dict):
            rest, fields = pipeline[1:], None
            then = rest[0].get("$project") if rest and len(rest[0]) == 1 else None
            if isinstance(then, dict) and then and all(v in (1, True) for v in then.values()):
                rest, fields = rest[1:], then  # an inclusion: only those fields are copied
            docs = list(self.find(first["$match"], fields))
            return process_pipeline(docs, self.database, rest, session)
        return process_pipeline(list(self.find()), self.database, pipeline, session)

    collection.aggregate = aggregate


def _plain_equalities(filter: Any) -> bool:
    return isinstance(filter, dict) and bool(filter) and all(
        isinstance(key, str) and not key.startswith("$") and "." not in key and
        isinstance(value, _SCALARS) and not isinstance(value, bool)
        for key, value in filter.items())


def _compare_equalities_with_a_loop(collection: Any) -> None:
    by_id = collection._iter_documents

    def iter_documents(self: Any, filter: Any) -> Any:
        if "_id" in (filter or {}) or not _plain_equalities(filter):
            return by_id(self, filter)
        pairs = list(filter.items())
        return (doc for doc in list(self._store.documents)
                if all(_holds(doc.get(key), value) for key, value in pairs))

    iter_documents.by_id = True  # type: ignore[attr-defined]
    collection._iter_documents = iter_documents


_IMMUTABLE = (str, int, float, bool, type(None), datetime, bytes)


def _clone(value: Any) -> Any:
    """A deep copy of a document: what copy.deepcopy gives, without its memo and dispatch."""
    kind = type(value)
    if kind is dict:
        return {key: _clone(item) for key, item in value.items()}
    if kind is list:
        return [_clone(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


class _DocumentCopies:
    """mongomock.collection's ``copy`` module, with deepcopy made plain for documents."""
    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return _clone(value) if memo is None else copy.deepcopy(value, memo)


def _copy_documents_plainly(module: Any) -> None:
    module.copy = _DocumentCopies

    def copy_field(obj: Any, container: Any) -> Any:
        kind = type(obj)
        if kind is list or isinstance(obj, list):
            return [copy_field(item, container) for item in obj]
        if isinstance(obj, dict):
            new = container()
            for key, value in obj.items():
                new[key] = copy_field(value, container)
            return new
        return obj if kind in _IMMUTABLE else copy.copy(obj)

    module._copy_field = copy_field
