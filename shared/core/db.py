"""The database handle: one MongoClient per warm instance, and the index declarations.

``MONGODB_URI`` unset means the embedded database: mongomock in memory. mongomock is not
thread-safe (200 threads racing a conditional ``$inc`` sold 59 of 50 units), so every
operation on it goes through one lock, which gives the per-operation atomicity a real server
gives. Code never sees the difference: it gets a ``Database``-like object either way.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

from pymongo.errors import DuplicateKeyError

from shared.core.config import get_settings

# collection -> list of (keys, options). Created idempotently by ensure_indexes(): by
# scripts/deploy and `shopctl db migrate` on a real server, on first use for the embedded one.
INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    "users": [([("openid", 1)], {"unique": True}), ([("nearby.cell", 1)], {"sparse": True}),
              ([("community.community_id", 1)], {"sparse": True}),
              ([("invited_by", 1)], {"sparse": True}),
              ([("invited_via_share", 1), ("invited_at", 1)], {"sparse": True}),
              ([("growth", -1)], {}), ([("member_level", 1), ("growth", -1)], {}),
              ([("tags", 1)], {})],   # a tag's users, a campaign's audience by tag
    "categories": [([("sort", 1)], {})],
    # list_products: on sale, with or without a category and a keyword's first token, then
    # each sort (price_desc reads price_asc's backwards); the page and its total, one index
    "products": [([("status", 1), *prefix, *sort], {})
                 for prefix in ([], [("category_id", 1)], [("tokens", 1)],
                                [("category_id", 1), ("tokens", 1)])
                 for sort in ([("created_at", -1), ("_id", -1)], [("price_min", 1), ("_id", 1)],
                              [("sales", -1), ("_id", -1)])],
    "skus": [([("product_id", 1)], {})],
    "addresses": [([("user_id", 1), ("created_at", 1)], {})],
    "cart_items": [([("user_id", 1), ("sku_id", 1)], {"unique": True}),
                   ([("added_at", 1)], {})],
    "orders": [
        ([("user_id", 1), ("request_id", 1)], {"unique": True}),
        # list_orders and merchant_list_orders (status: one, or each visible one merged)
        ([("user_id", 1), ("status", 1), ("created_at", -1), ("_id", -1)], {}),
        ([("status", 1), ("pay_deadline", 1)], {}),
        ([("status", 1), ("created_at", -1), ("_id", -1)], {}),
        # pay_reconcile: only orders WeChat Pay was asked to take a payment for, unsettled
        ([("status", 1), ("payment.settled", 1), ("created_at", 1)],
         {"partialFilterExpression": {"payment.prepay_id": {"$exists": True}}}),
        # repairs: lines still locked, by the order's status
        ([("items.stock", 1), ("status", 1)], {}),
        ([("pickup.code", 1)], {"sparse": True}),
        ([("attribution.share_id", 1), ("paid_at", 1)], {"sparse": True}),
        ([("group.team_id", 1)], {"sparse": True}),
        ([("events_due.at", 1)], {"sparse": True}),   # the order_events timer
        ([("paid_at", 1)], {"sparse": True}),   # forecasts and restock advice: paid per day
        ([("source.room_id", 1), ("status", 1)], {"sparse": True}),   # merchant_live_report
        ([("community.community_id", 1), ("paid_at", 1)], {"sparse": True}),  # leaders' boards
    ],
    "coupons": [([("created_at", -1)], {})],
    "user_coupons": [([("user_id", 1), ("status", 1)], {}),
                     ([("coupon_id", 1)], {}),
                     ([("status", 1), ("valid_to", 1)], {})],  # expiry reminders
    "coupon_claims": [],
    "rate_limits": [([("expires_at", 1)], {"expireAfterSeconds": 0})],  # TTL on a server
    "stock_adjustments": [([("sku_id", 1), ("at", -1)], {})],
    "refunds": [([("status", 1), ("updated_at", 1)], {}), ([("order_id", 1)], {}),
                ([("events_due.at", 1)], {"sparse": True})],   # effects a death left owed
    "after_sales": [([("user_id", 1), ("status", 1), ("created_at", -1)], {}),
                    ([("status", 1), ("created_at", -1)], {}),
                    ([("order_id", 1)], {}),
                    # reservations a cancel or a rejection still owes back
                    ([("release_due", 1), ("updated_at", 1)], {"sparse": True})],
    "uploads": [([("user_id", 1), ("created_at", -1)], {})],
    "stores": [([("active", 1)], {}), ([("geohash", 1)], {})],
    "deals": [([("active", 1), ("ends_at", 1)], {}), ([("store_ids", 1)], {})],
    "deal_daily": [([("deal_id", 1)], {})],
    "outbox": [([("status", 1), ("created_at", 1)], {}),
               ([("user_id", 1), ("purpose", 1)], {}),
               ([("status", 1), ("next_attempt_at", 1)], {}),  # the sender's claim
               # merchant_list_outbox: everything, or by purpose, status or user
               *[([*prefix, ("created_at", -1), ("_id", 1)], {})
                 for prefix in ([], [("purpose", 1)], [("status", 1)], [("user_id", 1)])]],
    "nearby_campaigns": [([("created_at", -1)], {})],
    # referral and fission (shared.social.referral); a share is reused per sharer, target and
    # channel
    "shares": [([("code", 1)], {"unique": True}),
               ([("sharer_id", 1), ("target", 1), ("target_id", 1), ("channel", 1)],
                {"unique": True}),
               ([("target_id", 1), ("created_at", 1)], {}),
               ([("created_at", 1)], {})],
    "share_opens": [([("share_id", 1), ("at", 1)], {}), ([("at", 1)], {})],
    "referral_rewards": [([("inviter_id", 1), ("created_at", -1)], {})],
    # points and growth ledgers (shared.loyalty.points): the repair finds unapplied entries, the
    # expiry open lots; members are listed by level and growth
    "points_ledger": [([("user_id", 1), ("created_at", -1)], {}),
                      ([("applied", 1), ("lease_until", 1)], {}),
                      ([("expiry_open", 1), ("created_at", 1)], {"sparse": True})],
    "growth_ledger": [([("user_id", 1), ("created_at", -1)], {}),
                      ([("applied", 1), ("lease_until", 1)], {})],
    # bargains and assists: a unique active_key (campaign:user) while one per user holds
    # ... and the running ones, ending soonest first, for shoppers (list_bargains/list_assists)
    "bargain_campaigns": [([("created_at", -1)], {}),
                          ([("active", 1), ("ends_at", 1)], {})],
    "bargains": [([("active_key", 1)], {"unique": True, "sparse": True}),
                 ([("status", 1), ("expires_at", 1)], {}),
                 ([("status", 1), ("buying_at", 1)], {})],
    "assist_campaigns": [([("created_at", -1)], {}),
                         ([("active", 1), ("ends_at", 1)], {})],
    "assists": [([("active_key", 1)], {"unique": True, "sparse": True}),
                ([("status", 1), ("expires_at", 1)], {}),
                ([("reward_status", 1), ("completed_at", 1)], {})],
    "group_buys": [([("status", 1), ("ends_at", 1)], {})],
    "teams": [([("campaign_id", 1), ("status", 1), ("expires_at", 1)], {}),
              ([("status", 1), ("expires_at", 1)], {})],
    "group_buy_quota": [],
    # purchase limits and unpaid ceilings (shared.orders.limits): counters by key; a day's
    # counter carries expires_at, so a server drops it once the day is long over
    "purchase_counts": [([("expires_at", 1)], {"expireAfterSeconds": 0})],
    "campaigns": [([("status", 1), ("send_at", 1)], {}), ([("created_at", -1)], {})],
    "jobs": [([("status", 1)], {})],
    "job_batches": [([("job_id", 1), ("status", 1), ("dispatched_at", 1)], {}),
                    ([("status", 1), ("lease_until", 1)], {}),
                    ([("status", 1), ("dispatched_at", 1)], {})],  # pending, not yet sent
    "subscriptions": [([("user_id", 1), ("template_id", 1)], {})],
    # insight (shared.insight): one document per event, a client event's _id is
    # <device>:<event id> (a retry inserts nothing); expires_at drops it on a server (TTL),
    # the insight_rollup timer deletes by ts on the embedded database
    "events": [([("user_id", 1), ("ts", 1)], {}), ([("name", 1), ("ts", 1)], {}),
               ([("device_id", 1), ("user_id", 1)], {}), ([("ts", 1)], {}),
               ([("expires_at", 1)], {"expireAfterSeconds": 0}),
               # the rollups' watermarks; profiles read a user's events past the watermark
               ([("received_at", 1), ("_id", 1)], {}), ([("user_at", 1), ("_id", 1)], {}),
               ([("user_id", 1), ("user_at", 1)], {})],
    "device_links": [([("device_id", 1), ("linked_at", -1)], {}), ([("user_id", 1)], {})],
    "product_daily": [([("product_id", 1), ("day", 1)], {}), ([("buyers", 1)], {})],
    "user_daily": [([("user_id", 1), ("day", 1)], {})],
    "tags": [],
    "insight_state": [],
    # A/B tests (shared.insight.experiments): experiments by key (_id), listed newest first;
    # exposures one per "<key>:<subject>" (_id), read by key for the report
    "experiments": [([("created_at", -1), ("_id", 1)], {})],
    "experiment_exposures": [([("key", 1), ("exposed_at", 1)], {})],
    # traceability (shared.trace): a batch per (SKU, batch number), found by its code; events
    # append-only, one per (batch, seq) even when two appends race; the anchor timer finds
    # the days not anchored yet
    "trace_batches": [([("code", 1)], {"unique": True}),
                      ([("sku_id", 1), ("batch_no", 1)], {"unique": True}),
                      ([("created_at", -1), ("_id", -1)], {}),
                      ([("sku_id", 1), ("created_at", -1), ("_id", -1)], {})],
    "trace_events": [([("batch_id", 1), ("seq", 1)], {"unique": True}),
                     ([("batch_id", 1), ("request_id", 1)], {"sparse": True}),
                     ([("day", 1), ("batch_id", 1), ("seq", 1)], {}),
                     ([("unanchored", 1), ("day", 1)], {"sparse": True})],
    "trace_anchors": [([("status", 1)], {})],
    "trace_keys": [],
    # forecasting (shared.forecast): by _id only (product, SKU, "revenue")
    "restock_settings": [],
    "restock_advice": [],
    "forecasts": [],
    # the assistant (shared.assistant): conversations by owner (erasure), the merchant's queue
    # by status, and their retention (TTL on a server; the assistant_purge timer everywhere)
    "assistant_sessions": [([("user_id", 1)], {}),
                           ([("status", 1), ("handoff_at", 1), ("_id", 1)], {}),
                           ([("status", 1), ("last_message_at", -1), ("_id", 1)], {}),
                           ([("last_message_at", -1), ("_id", 1)], {}),
                           ([("openid", 1), ("last_message_at", -1)], {"sparse": True}),
                           ([("expires_at", 1)], {"expireAfterSeconds": 0})],
    "assistant_faq": [],
    "assistant_synonyms": [],
    # WeChat pushes by MsgId (the _id), pending ones for the assistant_inbox timer
    "assistant_inbox": [([("status", 1), ("received_at", 1)], {}),
                        ([("status", 1), ("lease_until", 1)], {}),
                        ([("received_at", 1)], {})],
    # live commerce and community selling (shared.live)
    "live_rooms": [([("source", 1), ("external_id", 1)], {"unique": True}),
                   ([("starts_at", -1), ("_id", -1)], {}), ([("ends_at", 1)], {})],
    "live_reminders": [([("status", 1), ("remind_at", 1)], {}), ([("room_id", 1)], {})],
    "communities": [([("leader_user_id", 1), ("created_at", 1)], {})],
    "community_members": [([("community_id", 1), ("joined_at", -1)], {}),
                          ([("user_id", 1), ("joined_at", -1)], {})],
    "community_prices": [([("sku_id", 1), ("community_id", 1)], {})],
    "commissions": [([("status", 1), ("checked_at", 1)], {}),
                    ([("leader_user_id", 1), ("status", 1), ("available_at", 1)], {}),
                    ([("leader_user_id", 1), ("created_at", -1)], {}),
                    ([("created_at", -1), ("_id", 1)], {}),
                    ([("settlement_id", 1)], {"sparse": True})],
    "commission_settlements": [([("leader_user_id", 1), ("status", 1)], {})],
    "group_shares": [([("community_id", 1), ("opens", -1)], {})],
}

_lock = threading.RLock()
_client: Any = None
_db: Any = None
# counts the embedded database's writes, so the dev gateway's snapshot saves only after changes
_writes = 0
WRITES = frozenset({"insert_one", "insert_many", "update_one", "update_many", "replace_one",
                    "delete_one", "delete_many", "find_one_and_update", "find_one_and_replace",
                    "find_one_and_delete", "bulk_write", "drop", "rename", "drop_collection"})


class _LockedCursor:
    """A mongomock cursor whose results are computed under the embedded lock."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cursor, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with _lock:
                result = attr(*args, **kwargs)
            return self if result is self._cursor else result
        return call

    def __iter__(self) -> Iterator[dict]:
        with _lock:
            compute = getattr(self._cursor, "_compute_results", None)
            if compute is None:
                rows = list(self._cursor)
            else:
                # mongomock's __next__ copies the remaining results at every document, so a
                # plain read is quadratic (100k stores: 19.6 s); take the results once instead
                emitted = getattr(self._cursor, "_emitted", 0)
                rows = list(compute(with_limit_and_skip=True)[emitted:])
                self._cursor._emitted = emitted + len(rows)
        return iter(rows)


class _LockedCollection:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            global _writes
            with _lock:
                if name in WRITES:
                    _writes += 1
                result = attr(*args, **kwargs)
                if name == "find":
                    return _LockedCursor(result)
                if name == "aggregate":
                    return iter(list(result))
            return result
        return call


class _LockedDatabase:
    def __init__(self, database: Any) -> None:
        self._database = database
        self.name = database.name

    def __getitem__(self, name: str) -> _LockedCollection:
        return _LockedCollection(self._database[name])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not hasattr(type(self._database), name):
            return _LockedCollection(self._database[name])
        attr = getattr(self._database, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            global _writes
            with _lock:
                if name in WRITES:
                    _writes += 1
                return attr(*args, **kwargs)
        return call


def _connect() -> Any:
    settings = get_settings()
    if settings.MONGODB_URI:
        from pymongo import MongoClient

        # our timeouts are defaults: options written in the URI win (keywords would override)
        uri_options = settings.MONGODB_URI.lower()
        timeouts: dict[str, Any] = {
            name: 5000 for name in ("serverSelectionTimeoutMS", "connectTimeoutMS")
            if name.lower() not in uri_options}
        client: Any = MongoClient(settings.MONGODB_URI, tz_aware=True, appname="shop-backend",
                                  **timeouts)
        return client, client[settings.MONGODB_DB]
    import mongomock

    from shared.core.embedded import speed_up
    _lookup_ids_directly(mongomock)
    speed_up(mongomock)
    client = mongomock.MongoClient(tz_aware=True)
    return client, _LockedDatabase(client[settings.MONGODB_DB])


def _lookup_ids_directly(mongomock: Any) -> None:
    """mongomock scans every document of a collection for each query, even ``{"_id": x}``
    (100k stores: a find_one by id costs a full scan); a query that names its ids (one, or
    ``$in``) reads just those, as a server reads its ``_id`` index."""
    collection = mongomock.collection.Collection
    scan = collection._iter_documents
    if getattr(scan, "by_id", False):
        return
    filter_applies = mongomock.filtering.filter_applies

    def iter_documents(self: Any, filter: Any) -> Iterator[dict]:
        wanted = filter.get("_id") if isinstance(filter, dict) else None
        ids = [wanted] if isinstance(wanted, (str, int)) else \
            wanted.get("$in") if isinstance(wanted, dict) and len(wanted) == 1 else None
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
            return scan(self, filter)
        store = self._store
        # the store expires TTL documents at each access: once here, not twice per id
        store._remove_expired_documents()
        held = store._documents
        docs = [held[i] for i in dict.fromkeys(ids) if i in held]
        if len(filter) == 1:
            return iter(docs)
        return (doc for doc in docs if filter_applies(filter, doc))
    iter_documents.by_id = True  # type: ignore[attr-defined]
    collection._iter_documents = iter_documents


def get_db() -> Any:
    """The database of this warm instance; the client is created once and reused."""
    global _client, _db
    if _db is None:
        with _lock:
            if _db is None:
                _client, _db = _connect()
                if is_embedded():
                    # a real server gets its indexes once, at deploy time (scripts/deploy,
                    # shopctl db migrate): a cold instance must not send ~70 createIndex
                    ensure_indexes(_db)
    return _db


def is_embedded() -> bool:
    return not get_settings().MONGODB_URI


def index_options(options: dict[str, Any], embedded: bool) -> dict[str, Any]:
    """An index's options for this database. The embedded one gets no TTL: mongomock scans the
    whole collection for expired documents at every insert into a collection with a TTL index
    (10,000 tracked events: each insert read them all), and the code checks expiry itself
    (``expires_at``; the insight_rollup timer deletes old events)."""
    if embedded and "expireAfterSeconds" in options:
        return {name: value for name, value in options.items() if name != "expireAfterSeconds"}
    return options


def ensure_indexes(db: Any) -> int:
    """Create every declared index (an existing one is a no-op); how many are declared."""
    embedded = is_embedded()
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            db[collection].create_index(keys, **index_options(options, embedded))
    return sum(len(indexes) for indexes in INDEXES.values())


def reset_db(drop: bool = False) -> None:
    """Forget the cached handle (tests, settings changes); optionally drop the database first."""
    global _client, _db
    with _lock:
        if drop and _client is not None and _db is not None:
            _client.drop_database(_db.name)
        if _client is not None and not isinstance(_db, _LockedDatabase):
            _client.close()
        _client, _db = None, None


def embedded_writes() -> int:
    """How many writes the embedded database has taken in this process (the snapshot's clock)."""
    return _writes


def dump_embedded() -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """Every document of the embedded database, copied under its lock so no write lands halfway
    through, with the write count the copy reflects."""
    db = get_db()
    if not isinstance(db, _LockedDatabase):
        raise RuntimeError("only the embedded database is dumped")
    raw = db._database
    with _lock:
        return _writes, {name: list(raw[name].find())
                         for name in sorted(raw.list_collection_names())}


def restore_embedded(collections: dict[str, list[dict[str, Any]]]) -> int:
    """Replace the embedded database's documents with ``collections``; the declared indexes are
    made again. Returns the number of documents restored."""
    db = get_db()
    if not isinstance(db, _LockedDatabase):
        raise RuntimeError("only the embedded database is restored")
    raw = db._database
    with _lock:
        for name in raw.list_collection_names():
            raw.drop_collection(name)
        for name, docs in collections.items():
            if docs:
                raw[name].insert_many(docs)
        ensure_indexes(db)
    return sum(len(docs) for docs in collections.values())


def ping() -> bool:
    db = get_db()
    if isinstance(db, _LockedDatabase):
        return True
    db.command("ping")
    return True


def unreachable_message(exc: BaseException) -> str:
    """One line for a person when MongoDB cannot be reached: where, and what to do; the
    URI's credentials and options are left out."""
    import re
    uri = get_settings().MONGODB_URI or ""
    where = re.sub(r"//[^@/]*@", "//", uri).split("?")[0]
    return (f"cannot reach MongoDB at {where} ({type(exc).__name__}); start it, fix "
            "MONGODB_URI, or unset MONGODB_URI for the embedded database")


def insert_once(collection: Any, doc: dict[str, Any]) -> bool:
    """Insert a document whose ``_id`` makes it happen once; False if it was there already."""
    try:
        collection.insert_one(doc)
        return True
    except DuplicateKeyError:
        return False
