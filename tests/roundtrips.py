"""Counting database round trips per action (issue 14).

On a real MongoDB every operation is a network round trip, so the count of operations an
action makes is what a shopper waits for. ``count_round_trips()`` wraps this warm instance's
database handle (``shared.core.db``'s cached one, whatever it is: the embedded wrapper or
pymongo's ``Database``) so that:

- one outermost collection call is one round trip (``find_one`` that pymongo runs as a
  ``find`` inside counts once; ``insert_one``, ``count_documents``, ``aggregate`` ... once);
- a cursor (``find``) counts once, when it is first read: a page is one batch, and the
  ``getMore`` of a large result is ignored (the lists counted here are small pages);
- a database command (``db.command``) counts once.

Building a cursor (``sort``/``skip``/``limit``) costs nothing: nothing is sent until it is read.
Used by tests/unit/test_round_trips.py and printed by ``make bench`` (scripts/benches/trips.py).
"""
from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

# cursor methods that build the query and return the cursor itself: no round trip
_BUILDERS = {"sort", "skip", "limit", "batch_size", "hint", "max_time_ms", "collation",
             "comment", "allow_disk_use", "where", "min", "max", "clone"}


# database-level calls (anything else named on the database is a collection)
_DATABASE_CALLS = {"command", "list_collection_names", "list_collections", "create_collection",
                   "drop_collection", "aggregate", "validate_collection"}


class RoundTrips:
    """The operations seen, in order: ``(collection, method)``."""

    def __init__(self) -> None:
        self.ops: list[tuple[str, str]] = []
        # (collection, method, filter, sort) of each operation: what the index check runs
        self.queries: list[tuple[str, str, Any, Any]] = []
        self.paused = False

    @property
    def count(self) -> int:
        return len(self.ops)

    def add(self, collection: str, method: str, filter: Any = None, sort: Any = None) -> None:
        if not self.paused:
            self.ops.append((collection, method))
            self.queries.append((collection, method, filter, sort))

    def reset(self) -> None:
        self.ops.clear()
        self.queries.clear()

    def describe(self) -> str:
        return ", ".join(f"{c}.{m}" for c, m in self.ops)


_IDLE = RoundTrips()
_IDLE.paused = True


class _Cursor:
    def __init__(self, cursor: Any, trips: RoundTrips, collection: str, filter: Any) -> None:
        self._cursor, self._trips, self._collection = cursor, trips, collection
        self._read = False
        self._filter, self._sort = filter, None

    def _first_read(self) -> None:
        if not self._read:
            self._read = True
            self._trips.add(self._collection, "find", self._filter, self._sort)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cursor, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name not in _BUILDERS:
                self._first_read()
            elif name == "sort":
                self._sort = args[0] if args else kwargs.get("key_or_list")
            result = attr(*args, **kwargs)
            return self if result is self._cursor else result
        return call

    def __iter__(self) -> Iterator[dict]:
        self._first_read()
        return iter(self._cursor)

    def __next__(self) -> dict:
        self._first_read()
        return next(self._cursor)


class _Collection:
    def __init__(self, collection: Any, trips: RoundTrips, name: str) -> None:
        self._collection, self._trips, self._name = collection, trips, name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            filter = args[0] if args else kwargs.get("filter")
            if name == "find":
                return _Cursor(attr(*args, **kwargs), self._trips, self._name, filter)
            if name == "with_options":
                return _Collection(attr(*args, **kwargs), self._trips, self._name)
            self._trips.add(self._name, name, filter, kwargs.get("sort"))
            return attr(*args, **kwargs)
        return call


class _Database:
    def __init__(self, database: Any, trips: RoundTrips) -> None:
        self._database, self._trips = database, trips
        self.name = database.name

    def __getitem__(self, name: str) -> _Collection:
        return _Collection(self._database[name], self._trips, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "get_collection":
            return lambda collection, **kw: self[collection]
        if name in _DATABASE_CALLS:
            attr = getattr(self._database, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                self._trips.add("$db", name)
                return attr(*args, **kwargs)
            return call
        return self[name]

    @property
    def inner(self) -> Any:
        return self._database


@contextmanager
def count_round_trips() -> Iterator[RoundTrips]:
    """Count every database operation of this warm instance while the block runs.

    The counting handle stays installed after the block (counting nothing) until the database
    is reset, so that what a warm instance keeps per handle (shop settings, the nearby
    indexes) stays warm from one counted call to the next, as it does in production."""
    from shared.core import db as db_module
    current = db_module.get_db()
    proxy = current if isinstance(current, _Database) else _Database(current, RoundTrips())
    db_module._db = proxy
    trips = RoundTrips()
    proxy._trips = trips
    try:
        yield trips
    finally:
        proxy._trips = _IDLE


def stop_counting() -> None:
    """Put the real database handle back (the bench, between its measures)."""
    from shared.core import db as db_module
    if isinstance(db_module._db, _Database):
        db_module._db = db_module._db.inner


# ---- the scenarios: each action, on a warm instance, through the real dispatcher ------------

# scenario -> budget (round trips on a warm instance)
BUDGETS: dict[str, int] = {
    "list_products": 2,              # the page, its total
    "list_products_filtered": 2,     # category, keyword, another sort: the same two
    "get_product": 2,                # the product, its SKUs
    # a signed-in shopper (the mini-program sends its token): the token's user read too, which
    # also tells a community member (issue 19), whose member prices cost one read more
    "get_product_signed_in": 3,
    # one line, paid later: token, SKUs with their products and the delivery address (one
    # aggregate), the order, the shopper's fair-stock counter (issue 12, one conditional
    # update), the units, confirm
    "place_order": 6,
    "place_order_sold_out": 3,       # refused before anything is written
    # issue 21, the price before paying (nothing written): token, SKUs with their products and
    # the delivery address (one aggregate), the shopper's fair-stock counters (one read)
    "preview_order": 3,
    "paid_transition": 5,            # mark_paid or a notify: read, paid, units, sales, lines marked
    # a shopper's token costs one read of its user (the version a block or a deletion moves
    # on, issue 12); the call keeps that document, so no later step reads the user again
    # token, read, transition (owing its events), per line: units back, the line marked; the
    # owed events settled (what a crash after the transition leaves is finished by a timer)
    "cancel_order": 7,               # ... and the fair-stock counter given back
    "list_orders": 3,                # token, the page, its total
    "nearby_deals": 1,               # today's counters of the page (versions cached a second)
    # token, the seat (4), the order (5: SKUs with the address, insert, counter, units,
    # confirm), the seat's order (2)
    "join_group_buy": 12,
    # issue 15: a batch of tracked events is one insert_many; with a token, the token's read
    "track_events_anonymous": 1,
    "track_events": 2,
    # A/B tests (issue 15), at home-page load; the experiment is cached per warm instance
    "get_experiment_variant": 2,            # a user's repeat call: token, the exposures read
    "get_experiment_variant_anonymous": 1,  # a device: the insert that logs it (or fails)
    # the first call with a token from a device seen before: token, read, the user's
    # exposure, the device linked to the user
    "get_experiment_variant_login": 4,
    "get_trace": 4,                  # the batch, its events, their days' anchors, the product
    # issue 16: token, the shopper's paid orders, their cart, the candidates, their SKUs; the
    # model's version is read once a minute (RECO_MODEL_CHECK_SECONDS)
    "recommend_for_user": 5,
    "recommend_for_user_anonymous": 2,   # the candidates, their SKUs
    # issue 21: the search page's hot words, kept per warm instance ~5 minutes (a cold count:
    # the searches' aggregate and the best sellers, tests/unit/test_hot_searches.py)
    "hot_searches": 0,
    "order_counts": 3,               # the Me page: token, the orders' aggregate, after-sales
}
# counted by this module on main before issue 14 (the issue, counting its own way, had
# place_order 11, refused 12, paid 19); actions added since have none
BEFORE: dict[str, int] = {"list_products": 2, "list_products_filtered": 2, "get_product": 2,
                          "place_order": 10, "place_order_sold_out": 11, "paid_transition": 19,
                          "cancel_order": 4, "list_orders": 2, "nearby_deals": 2,
                          "join_group_buy": 17,
                          # new in issue 15: the same calls reading the experiment each time
                          "get_experiment_variant": 3, "get_experiment_variant_anonymous": 2,
                          "get_experiment_variant_login": 5,
                          # new with issue 16: no count before it, its own
                          "recommend_for_user": 5, "recommend_for_user_anonymous": 2}


MERCHANT_TOKEN = "test-merchant-token-0123456789"  # as tests/conftest.py sets it
SHANGHAI_CENTRE = (31.2397, 121.4998)


def _call(action: str, payload: dict[str, Any], token: Optional[str]) -> dict[str, Any]:
    from shared.core.dispatch import Credentials, dispatch
    return dispatch(action, payload, Credentials(bearer=token)).envelope


def _ok(action: str, payload: dict[str, Any], token: Optional[str]) -> Any:
    envelope = _call(action, payload, token)
    if not envelope["ok"]:
        raise AssertionError(f"{action}: {envelope['error']}")
    return envelope["data"]


_ids = itertools.count(1)


def _rid() -> str:
    return f"req-rt-{next(_ids):06d}"


@dataclass
class Measured:
    """One counted call: the action, its round trips and what they were, its answer."""
    action: str
    trips: int
    ops: str
    ok: bool
    code: Optional[str]


class World:
    """A small shop made through its own actions: a product, shoppers with addresses, a
    group-buy campaign with an open team, stores and a deal."""

    def __init__(self) -> None:
        self.merchant = os.environ.get("MERCHANT_TOKEN", MERCHANT_TOKEN)
        cat = _ok("merchant_upsert_category", {"name": "水果"}, self.merchant)["id"]
        self.category_id = cat
        products = [self._product(f"苹果{n}", 1000 + n, 1000, cat) for n in range(25)]
        self.product = products[0]
        self.sku_id = self.product["skus"][0]["id"]
        self.sold_out = self._product("限量苹果", 900, 1, cat)
        self.shoppers = [self._shopper(f"rt{n}") for n in range(6)]

    def _product(self, title: str, price: int, stock: int, cat: str) -> dict[str, Any]:
        return _ok("merchant_upsert_product", {
            "title": title, "category_id": cat, "images": ["https://img.test/1.png"],
            "skus": [{"specs": {"规格": "1号"}, "price": price, "stock": stock}]},
            self.merchant)

    def _shopper(self, name: str) -> tuple[str, str]:
        token = _ok("login", {"code": f"dev:{name}"}, None)["token"]
        address = _ok("add_address", {
            "name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
            "district": "浦东新区", "detail": "世纪大道100号"}, token)["id"]
        return token, address

    def order(self, shopper: int = 0, sku_id: Optional[str] = None,
              quantity: int = 1) -> dict[str, Any]:
        token, address = self.shoppers[shopper]
        return {"request_id": _rid(), "address_id": address,
                "items": [{"sku_id": sku_id or self.sku_id, "quantity": quantity}]}

    def place(self, shopper: int = 0) -> str:
        """An order placed and its order_placed event heard, as the async invoke after the
        answer does in production (so a later count does not include it)."""
        from shared.core.common import utcnow
        from shared.core.db import get_db
        from shared.orders.aftermath import deliver_due_before
        order_id = str(_ok("place_order", self.order(shopper), self.shoppers[shopper][0])["id"])
        deliver_due_before(get_db(), utcnow(), batch=1000)
        return order_id


def _preview(world: World) -> dict[str, Any]:
    """place_order's input less its request_id: what checkout asks before paying."""
    return {k: v for k, v in world.order().items() if k != "request_id"}


def measure(action: str, payload: dict[str, Any], token: Optional[str]) -> Measured:
    with count_round_trips() as trips:
        envelope = _call(action, payload, token)
    return Measured(action, trips.count, trips.describe(), bool(envelope["ok"]),
                    None if envelope["ok"] else envelope["error"]["code"])


def _nearby(world: World) -> Measured:
    from datetime import datetime, timedelta, timezone
    lat, lng = SHANGHAI_CENTRE
    stores = [_ok("merchant_upsert_store", {
        "name": f"便利店{n}", "address": "上海市浦东新区世纪大道1号",
        "lat": lat + n * 0.001, "lng": lng}, world.merchant)["id"] for n in range(5)]
    now = datetime.now(timezone.utc)
    for n, product_id in enumerate(("today_special", "featured")):
        _ok("merchant_create_deal", {
            "store_ids": stores, "sku_id": world.sku_id, "deal_price": 500 + n,
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(), "kind": product_id,
            "daily_quantity": 50}, world.merchant)
    query = {"lat": lat, "lng": lng, "radius_m": 3000}
    measure("nearby_deals", query, None)  # builds the indexes of this warm instance
    return measure("nearby_deals", query, None)


def _group_join(world: World) -> Measured:
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    campaign = _ok("merchant_create_group_buy", {
        "product_id": world.product["id"],
        "sku_prices": [{"sku_id": world.sku_id, "group_price": 800}],
        "team_size": 4, "team_ttl_minutes": 60,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat()}, world.merchant)
    leader, leader_address = world.shoppers[1]
    started = _ok("start_group_buy", {"campaign_id": campaign["id"], "sku_id": world.sku_id,
                                      "request_id": _rid(), "address_id": leader_address},
                  leader)
    _ok("sandbox_pay", {"order_id": started["order"]["id"]}, leader)
    team_id = started["team"]["id"]

    def join(shopper: int) -> tuple[dict[str, Any], str]:
        token, address = world.shoppers[shopper]
        return {"team_id": team_id, "request_id": _rid(), "address_id": address}, token
    measure("join_group_buy", *join(2))  # the warm-up join
    return measure("join_group_buy", *join(3))


def _events(device: str, count: int) -> Callable[[], dict[str, Any]]:
    """A fresh batch of tracked events of one device each time it is called."""
    def batch() -> dict[str, Any]:
        from datetime import datetime, timezone
        now = datetime.now(timezone.utc).isoformat()
        return {"device_id": device, "sent_at": now, "events": [
            {"event_id": f"ev{next(_ids)}", "name": "product_view", "ts": now,
             "props": {"product_id": "prd_001"}} for _ in range(count)]}
    return batch


def _experiments(world: World) -> dict[str, Callable[[], Measured]]:
    """get_experiment_variant on a running experiment: a device, a user, a login."""
    created: list[bool] = []

    def ensure() -> None:
        if not created:
            _ok("merchant_create_experiment", {
                "key": "home_layout", "metric": "order_paid",
                "variants": [{"name": "grid", "weight": 1}, {"name": "list", "weight": 1}]},
                world.merchant)
            created.append(True)

    def ask(device: Optional[str], token: Optional[str]) -> Measured:
        payload = {"key": "home_layout", **({"device_id": device} if device else {})}
        return measure("get_experiment_variant", payload, token)

    def anonymous() -> Measured:
        ensure()
        ask("device-rt-000001", None)
        return ask("device-rt-000001", None)

    def user() -> Measured:
        ensure()
        ask(None, world.shoppers[4][0])
        return ask(None, world.shoppers[4][0])

    def login() -> Measured:
        ensure()
        ask(None, world.shoppers[5][0])         # warm: this instance has the experiment
        ask("device-rt-000002", None)           # the device, before its shopper logs in
        return ask("device-rt-000002", world.shoppers[3][0])
    return {"get_experiment_variant": user, "get_experiment_variant_anonymous": anonymous,
            "get_experiment_variant_login": login}


def _trace(world: World) -> Measured:
    from shared.core.common import utcnow
    from shared.core.db import get_db
    from shared.trace.anchor import day_of
    from shared.trace.anchoring import anchor_day
    codes = []
    for n in range(2):
        batch = _ok("merchant_create_trace_batch", {
            "sku_id": world.sku_id, "batch_no": f"RT-{n}", "origin": "山东烟台",
            "produced_at": "2026-11-01T00:00:00Z"}, world.merchant)
        for step in ("commissioning", "inspecting", "packing", "shipping"):
            _ok("merchant_append_trace_event", {
                "batch_id": batch["batch_id"], "biz_step": step, "read_point": "仓库A",
                "event_time": "2026-11-02T09:00:00Z", "data": {"boxes": 12}}, world.merchant)
        codes.append(batch["code"])
    anchor_day(get_db(), day_of(utcnow()), utcnow())  # the events show their proofs too
    measure("get_trace", {"code": codes[0]}, None)
    return measure("get_trace", {"code": codes[1]}, None)


def _reco(world: World, token: Optional[str]) -> Measured:
    """recommend_for_user on a trained model (reco_train after a paid order), warm."""
    measure("merchant_mark_paid", {"order_id": world.place()}, world.merchant)
    _ok("dev_run_timer", {"name": "reco_train"}, world.merchant)
    measure("recommend_for_user", {"context": "home"}, token)
    return measure("recommend_for_user", {"context": "home", "page": 2, "page_size": 5}, token)


def run_scenarios(only: Optional[str] = None) -> dict[str, Measured]:
    """Each counted action (or ``only`` that one) on a fresh shop of this process's database:
    scenario name -> Measured."""
    world = World()
    shopper = world.shoppers[0][0]
    page = {"page": 1, "page_size": 20}
    filtered = {**page, "category_id": world.category_id, "keyword": "苹果"}

    def warm_then_count(action: str, warm: Any, payload: Any,
                        token: Optional[str]) -> Callable[[], Measured]:
        def run() -> Measured:
            measure(action, warm() if callable(warm) else warm, token)
            return measure(action, payload() if callable(payload) else payload, token)
        return run

    def paid() -> Measured:
        measure("merchant_mark_paid", {"order_id": world.place()}, world.merchant)
        return measure("merchant_mark_paid", {"order_id": world.place()}, world.merchant)

    def sold_out() -> Measured:
        measure("place_order", world.order(), shopper)
        return measure("place_order", world.order(sku_id=world.sold_out["skus"][0]["id"],
                                                  quantity=2), shopper)

    runs: dict[str, Callable[[], Measured]] = {
        "list_products": warm_then_count("list_products", page, page, None),
        "list_products_filtered": warm_then_count("list_products", filtered,
                                                  {**filtered, "sort": "price_asc"}, None),
        "get_product": warm_then_count("get_product", {"product_id": world.sold_out["id"]},
                                       {"product_id": world.product["id"]}, None),
        "get_product_signed_in": warm_then_count(
            "get_product", {"product_id": world.sold_out["id"]},
            {"product_id": world.product["id"]}, shopper),
        "place_order": warm_then_count("place_order", world.order, world.order, shopper),
        "place_order_sold_out": sold_out,
        "preview_order": warm_then_count("preview_order", lambda: _preview(world),
                                         lambda: _preview(world), shopper),
        "paid_transition": paid,
        "cancel_order": warm_then_count("cancel_order", lambda: {"order_id": world.place()},
                                        lambda: {"order_id": world.place()}, shopper),
        "list_orders": warm_then_count("list_orders", page, page, shopper),
        "nearby_deals": lambda: _nearby(world),
        "join_group_buy": lambda: _group_join(world),
        "track_events_anonymous": warm_then_count("track_events", _events("anon", 20),
                                                  _events("anon", 20), None),
        "track_events": warm_then_count("track_events", _events("phone", 20),
                                        _events("phone", 20), shopper),
        **_experiments(world),
        "get_trace": lambda: _trace(world),
        "recommend_for_user": lambda: _reco(world, shopper),
        "recommend_for_user_anonymous": lambda: _reco(world, None),
        "hot_searches": warm_then_count("hot_searches", {}, {"limit": 5}, None),
        "order_counts": warm_then_count("order_counts", {}, {}, shopper),
    }
    return {name: run() for name, run in runs.items() if only in (None, name)}
