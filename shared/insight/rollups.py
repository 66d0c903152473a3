"""Daily rollups of the events, kept up to date by the ``insight_rollup`` timer.

Two rollups, each following its own watermark (``insight_state``), in chunks of
``INSIGHT_ROLLUP_BATCH_SIZE`` events read in the order of (time, ``_id``):

- per product and UTC day (``product_daily``): views, add-to-carts, paid orders, units, paid
  fen and the buyers (a set, so a buyer counts once a day), following ``received_at``;
- per user and UTC day (``user_daily``): what the profile is made of, following ``user_at``
  (when an event got its user: on arrival, or when login moved a device's anonymous events to
  the user, so merged events are counted once, for their user). Client parts (``client``: views
  and add-to-carts per category, counts per event name and Beijing hour) are apart from the
  server's facts (``server``: items ordered per category, orders, fen paid and refunded), so
  turning tracking off forgets the one and keeps the other.

Safe to run twice, or concurrently: a run takes a lease on the watermark; every rollup document
a chunk touches records the chunk's id in the same update (``chunks``, the last few), so a
chunk re-applied after a death between its writes and the watermark's move changes nothing.
Events newer than a minute (``LAG``) wait for the next run: a slower request may
still be inserting events stamped a moment earlier. Reads that must be fresh (profiles, tags)
add the events past the watermark themselves (``tail_rows``).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.context import Context, Database
from shared.core.db import insert_once

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
BEIJING = timezone(timedelta(hours=8))
LEASE = timedelta(minutes=5)
MAX_BATCHES = 40            # chunks a run: 200,000 events at the default chunk size
# events newer than this wait for the next run: a slower request may still be inserting
# events stamped a moment earlier than the newest one seen
LAG = timedelta(seconds=60)
KEEP_CHUNKS = 8
Rows = dict[str, dict[str, Any]]   # rollup document id -> {"$inc": ..., ...} being built


def day_of(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d")


def _product_of(event: dict[str, Any]) -> Optional[str]:
    product = (event.get("props") or {}).get("product_id")
    return product if isinstance(product, str) else None


def categories_for(db: Database, events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """product id -> category id of every product the events name (one read)."""
    ids: set[str] = set()
    for event in events:
        product = _product_of(event)
        if product:
            ids.add(product)
        for item in (event.get("props") or {}).get("items") or []:
            if item.get("product_id") and not item.get("category_id"):
                ids.add(item["product_id"])
    if not ids:
        return {}
    return {doc["_id"]: doc["category_id"] for doc in
            db.products.find({"_id": {"$in": sorted(ids)}}, {"category_id": 1})
            if doc.get("category_id")}


def _safe_key(value: Any) -> Optional[str]:
    """A client's id as a field name of a rollup row, or None (a dot would nest it)."""
    if isinstance(value, str) and value and "." not in value and not value.startswith("$"):
        return value
    return None


def _bump(rows: Rows, key: str, field: str, by: int = 1) -> None:
    inc = rows[key].setdefault("$inc", {})
    inc[field] = inc.get(field, 0) + by


def product_rows(events: list[dict[str, Any]]) -> Rows:
    rows: Rows = defaultdict(dict)
    for event in events:
        name, day = event["name"], day_of(event["ts"])
        if name in ("product_view", "add_to_cart"):
            product = _product_of(event)
            if product:
                key = f"{product}:{day}"
                rows[key]["$setOnInsert"] = {"product_id": product, "day": day}
                _bump(rows, key, "views" if name == "product_view" else "carts")
        elif name == "order_paid":
            for item in (event.get("props") or {}).get("items") or []:
                if not item.get("product_id"):
                    continue
                key = f"{item['product_id']}:{day}"
                rows[key]["$setOnInsert"] = {"product_id": item["product_id"], "day": day}
                _bump(rows, key, "orders")
                _bump(rows, key, "units", int(item.get("quantity", 0)))
                _bump(rows, key, "amount", int(item.get("amount", 0)))
                if event.get("user_id"):
                    rows[key].setdefault("$addToSet", {"buyers": {"$each": []}})
                    each = rows[key]["$addToSet"]["buyers"]["$each"]
                    if event["user_id"] not in each:
                        each.append(event["user_id"])
    return rows


def user_rows(events: list[dict[str, Any]], categories: dict[str, str]) -> Rows:
    rows: Rows = defaultdict(dict)
    for event in events:
        user = event.get("user_id")
        if not user:
            continue
        name, day = event["name"], day_of(event["ts"])
        key = f"{user}:{day}"
        rows[key]["$setOnInsert"] = {"user_id": user, "day": day}
        props = event.get("props") or {}
        if event.get("source") == "server":
            _bump(rows, key, f"server.n.{name}")
            if name == "order_paid":
                _bump(rows, key, "server.orders")
                _bump(rows, key, "server.paid", int(props.get("amount", 0)))
                rows[key].setdefault("$max", {})["server.last_order_at"] = event["ts"]
                for item in props.get("items") or []:
                    category = item.get("category_id") or categories.get(item.get("product_id"))
                    if category:
                        _bump(rows, key, f"server.o.{category}")
            elif name == "order_refunded":
                _bump(rows, key, "server.refunded", int(props.get("amount", 0)))
            continue
        _bump(rows, key, f"client.n.{name}")
        _bump(rows, key, f"client.h.{event['ts'].astimezone(BEIJING).hour}")
        if name in ("product_view", "add_to_cart"):
            # the catalog's category; the client's only for a product the catalog lacks
            category = categories.get(_product_of(event) or "") or _safe_key(
                props.get("category_id"))
            if category:
                _bump(rows, key, f"client.{'v' if name == 'product_view' else 'c'}.{category}")
    return rows


def apply_rows(db: Database, collection: str, rows: Rows, chunk: str) -> int:
    """Apply a chunk's increments, each document once per chunk; how many documents moved."""
    moved = 0
    for key, update in rows.items():
        update = {**update, "$push": {"chunks": {"$each": [chunk], "$slice": -KEEP_CHUNKS}}}
        if _apply_once(db[collection], key, chunk, update):
            moved += 1
    return moved


def _apply_once(collection: Any, key: str, chunk: str, update: dict[str, Any]) -> bool:
    """Add one chunk's counts to a row unless the row has that chunk already (a run repeated
    after a death): then the filter misses, the upsert's insert meets the existing _id, and
    the duplicate key is the answer "already counted"."""
    try:
        collection.update_one({"_id": key, "chunks": {"$ne": chunk}}, update, upsert=True)
        return True
    except DuplicateKeyError:
        return False


# ---- watermarks ----------------------------------------------------------------------------

class Follower:
    """One rollup: the collection it writes, the event field it follows, how rows are built."""

    def __init__(self, state: str, collection: str, field: str,
                 build: Callable[[Database, list[dict[str, Any]]], Rows]) -> None:
        self.state, self.collection, self.field, self.build = state, collection, field, build


def _build_products(db: Database, events: list[dict[str, Any]]) -> Rows:
    return product_rows(events)


def _build_users(db: Database, events: list[dict[str, Any]]) -> Rows:
    return user_rows(events, categories_for(db, events))


FOLLOWERS = (Follower("rollup_products", "product_daily", "received_at", _build_products),
             Follower("rollup_users", "user_daily", "user_at", _build_users))
FIELDS = {"_id": 1, "user_id": 1, "name": 1, "ts": 1, "props": 1, "source": 1}


def watermark(db: Database, state: str) -> tuple[datetime, str]:
    doc = db.insight_state.find_one({"_id": state}) or {}
    return doc.get("at") or EPOCH, doc.get("id") or ""


def after(field: str, mark: tuple[datetime, str]) -> dict[str, Any]:
    """The events past a watermark, in its order."""
    at, last_id = mark
    return {"$or": [{field: {"$gt": at}}, {field: at, "_id": {"$gt": last_id}}]}


def _take_lease(db: Database, state: str, now: datetime) -> bool:
    insert_once(db.insight_state, {"_id": state, "at": EPOCH, "id": "", "lease_until": EPOCH})
    return db.insight_state.update_one(
        {"_id": state, "lease_until": {"$lte": now}},
        {"$set": {"lease_until": now + LEASE}}).modified_count == 1


def follow(db: Database, follower: Follower, now: datetime, batch: int,
           max_batches: int, lag: timedelta) -> dict[str, int]:
    """Roll up to ``max_batches`` chunks past the follower's watermark."""
    if not _take_lease(db, follower.state, now):
        return {"events": 0, "rows": 0, "busy": 1}
    cutoff = now - lag
    events_seen = rows_moved = 0
    try:
        for _ in range(max_batches):
            mark = watermark(db, follower.state)
            query = {**after(follower.field, mark), follower.field: {"$lte": cutoff}}
            chunk_events = list(db.events.find(query, {**FIELDS, follower.field: 1})
                                .sort([(follower.field, 1), ("_id", 1)]).limit(batch))
            if not chunk_events:
                break
            chunk = f"{mark[0].isoformat()}|{mark[1]}"
            rows_moved += apply_rows(db, follower.collection,
                                     follower.build(db, chunk_events), chunk)
            last = chunk_events[-1]
            db.insight_state.update_one({"_id": follower.state}, {"$set": {
                "at": last[follower.field], "id": last["_id"], "updated_at": now}})
            events_seen += len(chunk_events)
            if len(chunk_events) < batch:
                break
    finally:
        db.insight_state.update_one({"_id": follower.state}, {"$set": {"lease_until": EPOCH}})
    return {"events": events_seen, "rows": rows_moved, "busy": 0}


def expire_events(db: Database, settings: Any, now: datetime) -> int:
    """Events older than the retention (a real server's TTL index does it too; the embedded
    database's does nothing)."""
    cutoff = now - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    return int(db.events.delete_many({"ts": {"$lt": cutoff}}).deleted_count)


def roll_up(db: Database, settings: Any, now: datetime,
            max_batches: int = MAX_BATCHES) -> dict[str, Any]:
    result: dict[str, Any] = {"expired": expire_events(db, settings, now)}
    for follower in FOLLOWERS:
        result[follower.collection] = follow(db, follower, now, settings.INSIGHT_ROLLUP_BATCH_SIZE,
                                             max_batches, LAG)
    return result


def insight_rollup(ctx: Context) -> dict[str, Any]:
    """Every 5 minutes: delete events past EVENTS_RETENTION_DAYS, then roll the new events up
    per product and per user and day (bounded per run, safe to run twice)."""
    return roll_up(ctx.db, ctx.settings, ctx.now)


# ---- reading -------------------------------------------------------------------------------

def tail_rows(db: Database, user_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """user id -> the rows (as documents) of their events the rollup has not reached yet."""
    mark = watermark(db, "rollup_users")
    events = list(db.events.find({"user_id": {"$in": user_ids}, **after("user_at", mark)},
                                 FIELDS))
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for update in user_rows(events, categories_for(db, events)).values():
        found[update["$setOnInsert"]["user_id"]].append(as_document(update))
    return found


def as_document(update: dict[str, Any]) -> dict[str, Any]:
    """A row being built, as the document its first application would make."""
    doc: dict[str, Any] = dict(update.get("$setOnInsert") or {})
    for dotted, value in {**update.get("$inc", {}), **update.get("$max", {})}.items():
        target = doc
        *path, leaf = dotted.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[leaf] = value
    return doc


def user_daily(db: Database, user_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """user id -> their daily rows, the rolled-up ones and the tail past the watermark."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in db.user_daily.find({"user_id": {"$in": user_ids}}, {"chunks": 0}):
        rows[doc["user_id"]].append(doc)
    for user, tail in tail_rows(db, user_ids).items():
        rows[user].extend(tail)
    return rows


def product_daily(db: Database, product_id: str, first_day: str,
                  last_day: str) -> list[dict[str, Any]]:
    """A product's rows from ``first_day`` to ``last_day`` (YYYY-MM-DD), buyers counted."""
    found = db.product_daily.find({"product_id": product_id,
                                   "day": {"$gte": first_day, "$lte": last_day}},
                                  {"chunks": 0}).sort("day", 1)
    return [{"day": doc["day"], "views": doc.get("views", 0), "carts": doc.get("carts", 0),
             "orders": doc.get("orders", 0), "units": doc.get("units", 0),
             "amount": doc.get("amount", 0), "buyers": len(doc.get("buyers") or [])}
            for doc in found]


def forget_client_rollups(db: Database, user_id: str) -> None:
    db.user_daily.update_many({"user_id": user_id}, {"$unset": {"client": ""}})


def erase_user_rollups(db: Database, user_id: str) -> None:
    db.user_daily.delete_many({"user_id": user_id})
    db.product_daily.update_many({"buyers": user_id}, {"$pull": {"buyers": user_id}})
