"""Every hot query has an index (issue 14): the queries are recorded while the actions and
timers run through the real dispatcher (tests/roundtrips.py), then each one's filter and sort
is checked against the declared indexes (``shared.core.db.INDEXES``) by a small planner:

- the equality fields (a value, ``$eq``, ``$in`` - a server scans each value and merges them
  in sort order - or ``$all``, the first token of a keyword) come first, in any order;
- then the sort keys, all in the index's direction or all reversed (a sort that ends in ``_id``
  needs an index that does too);
- then the range fields (``$gte``, ``$lte``, ``$ne``, ``$exists``...), or, with no sort, the
  first range field right after the equalities;
- a partial index serves only queries that state its filter; a sparse one only queries that
  name its first key.

A list's ``total`` (``count_documents`` with the page's filter) must be served by the same index
with every filtered field in it, so the count reads index keys only. With TEST_MONGODB_URI set,
each recorded query is also explained on that server: no collection scan, no in-memory sort.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

from shared.core.db import INDEXES
from tests.roundtrips import World, _ok, count_round_trips

CHECKED = {"find", "find_one", "count_documents", "find_one_and_update", "find_one_and_delete",
           "update_one", "update_many", "delete_one", "delete_many"}
Index = tuple[list[tuple[str, int]], dict[str, Any]]


# ---- the planner ---------------------------------------------------------------------------

def _is_equality(condition: Any) -> bool:
    if not isinstance(condition, dict) or not any(k.startswith("$") for k in condition):
        return True
    return set(condition) <= {"$eq", "$in", "$all"} and len(condition) == 1


def branches(filter: dict[str, Any]) -> list[dict[str, Any]]:
    """The filter as plain conjunctions: each ``$or`` branch with the rest, ``$and`` merged."""
    plain = {k: v for k, v in filter.items() if k not in ("$or", "$and")}
    out = [plain]
    for part in filter.get("$and", []):
        out = [{**b, **p} for b in out for p in branches(part)]
    if "$or" in filter:
        out = [{**b, **p} for b in out for branch in filter["$or"] for p in branches(branch)]
    return out


def _partial_applies(options: dict[str, Any], filter: dict[str, Any]) -> bool:
    partial = options.get("partialFilterExpression")
    return partial is None or all(filter.get(k) == v for k, v in partial.items())


def serves(index: Index, filter: dict[str, Any], sort: Optional[list[tuple[str, int]]],
           count: bool = False) -> bool:
    """Whether this index serves the query: equality prefix, then sort keys, then range."""
    keys, options = index
    if not _partial_applies(options, filter):
        return False
    if options.get("sparse") and keys[0][0] not in filter:
        return False
    equal = {f for f, c in filter.items() if _is_equality(c)}
    ranged = [f for f in filter if f not in equal]
    fields = [f for f, _ in keys]
    if set(fields[:len(equal)]) != equal:
        return False
    rest = keys[len(equal):]
    wanted = [(f, d) for f, d in (sort or []) if f not in equal]
    if wanted:
        head = rest[:len(wanted)]
        if [f for f, _ in head] != [f for f, _ in wanted]:
            return False
        same = all(d == hd for (_, d), (_, hd) in zip(wanted, head))
        reverse = all(d == -hd for (_, d), (_, hd) in zip(wanted, head))
        if not (same or reverse):
            return False
        rest = rest[len(wanted):]
    elif not equal and not (ranged and rest and rest[0][0] in ranged):
        return False  # nothing bounds the scan
    if count:
        # the total from index keys alone: every filtered field is in the index
        # ($all's further tokens are checked on the documents: a keyword's hits only)
        return set(filter) <= set(fields)
    return True


def index_for(collection: str, filter: dict[str, Any], sort: Any, count: bool = False) \
        -> Optional[list[Index]]:
    """The index of each branch of the filter (a server plans each ``$or`` branch apart);
    None if some branch has none."""
    declared: list[Index] = [([("_id", 1)], {}), *INDEXES.get(collection, [])]
    if count and not filter:
        return [declared[0]]  # a count of everything: any index has every document
    found = []
    for branch in branches(filter):
        index = next((i for i in declared if serves(i, branch, sort, count)), None)
        if index is None:
            return None
        found.append(index)
    return found


def _by_id(filter: Any) -> bool:
    return isinstance(filter, dict) and "_id" in filter and _is_equality(filter["_id"])


def test_the_planner_wants_equality_then_sort_then_range() -> None:
    index: Index = ([("user_id", 1), ("created_at", -1), ("_id", -1), ("status", 1)], {})
    sort = [("created_at", -1), ("_id", -1)]
    assert serves(index, {"user_id": "u", "status": {"$ne": "x"}}, sort)
    assert serves(index, {"user_id": "u"}, [("created_at", 1), ("_id", 1)])  # reversed
    assert not serves(index, {"user_id": "u"}, [("created_at", -1), ("_id", 1)])  # mixed
    assert not serves(index, {"user_id": "u"}, [("created_at", -1)] + [("title", 1)])
    assert not serves(index, {"status": "paid"}, sort)  # no equality prefix
    assert not serves(([("created_at", -1)], {}), {}, sort)  # the sort must end in _id too
    assert serves(index, {"user_id": "u", "status": {"$ne": "a"}}, sort, count=True)
    assert not serves(index, {"user_id": "u", "title": "t"}, sort, count=True)
    assert not serves(([("a", 1)], {"partialFilterExpression": {"p": {"$exists": True}}}),
                      {"a": 1}, None)


# ---- the hot queries, recorded -------------------------------------------------------------

def _list_products(world: World) -> None:
    for sort in ("newest", "price_asc", "price_desc", "sales"):
        for extra in ({}, {"category_id": world.category_id}, {"keyword": "苹果"},
                      {"category_id": world.category_id, "keyword": "红 苹果"}):
            _ok("list_products", {"sort": sort, "page_size": 5, **extra}, None)


def _orders(world: World) -> None:
    token = world.shoppers[0][0]
    world.place()
    for status in (None, "pending_payment"):
        payload = {"status": status} if status else {}
        _ok("list_orders", payload, token)
        _ok("merchant_list_orders", payload, world.merchant)
        user_id = _ok("get_profile", {}, token)["id"]
        _ok("merchant_list_orders", {**payload, "user_id": user_id}, world.merchant)


def _timers(world: World) -> None:
    for timer in ("pay_reconcile", "order_timeout", "outbox_send", "campaign_dispatch"):
        _ok("dev_run_timer", {"name": timer}, world.merchant)


def _fan_out(world: World) -> None:
    now = datetime.now(timezone.utc)
    _ok("merchant_create_campaign", {
        "name": "上新", "audience": {"subscribed_template": "tmpl-new"}, "template_id": "tmpl-new",
        "page": "pages/index/index", "data": {"thing1": "新品"},
        "send_at": (now - timedelta(minutes=1)).isoformat()}, world.merchant)
    _ok("dev_run_timer", {"name": "campaign_dispatch"}, world.merchant)
    _ok("merchant_list_outbox", {}, world.merchant)
    _ok("merchant_list_outbox", {"purpose": "campaign"}, world.merchant)
    _ok("dev_run_timer", {"name": "outbox_send"}, world.merchant)


def _trace(world: World) -> None:
    from shared.core.common import utcnow
    from shared.core.db import get_db
    from shared.trace.anchor import day_of
    from shared.trace.anchoring import anchor_day
    batch = _ok("merchant_create_trace_batch", {
        "sku_id": world.sku_id, "batch_no": "IX-1", "origin": "烟台",
        "produced_at": "2026-11-01T00:00:00Z"}, world.merchant)
    for n in range(3):
        _ok("merchant_append_trace_event", {
            "batch_id": batch["batch_id"], "biz_step": "inspecting", "read_point": "仓库A",
            "event_time": "2026-11-02T09:00:00Z", "request_id": f"ix-{n}"}, world.merchant)
    _ok("dev_run_timer", {"name": "trace_anchor"}, world.merchant)
    anchor_day(get_db(), day_of(utcnow()), utcnow())
    _ok("get_trace", {"code": batch["code"]}, None)
    _ok("merchant_list_trace_batches", {}, world.merchant)
    _ok("merchant_list_trace_batches", {"sku_id": world.sku_id}, world.merchant)


def _reco(world: World) -> None:
    token = world.shoppers[0][0]
    _ok("merchant_mark_paid", {"order_id": world.place()}, world.merchant)
    _ok("dev_run_timer", {"name": "reco_train"}, world.merchant)
    from shared.core.db import get_db  # a cart line (cart_add's own listing is not this test's)
    user_id = _ok("get_profile", {}, token)["id"]
    get_db().cart_items.insert_one({"_id": f"{user_id}:{world.sku_id}", "user_id": user_id,
                                    "sku_id": world.sku_id, "quantity": 1})
    for context in ("home", "cart", "order_done"):
        _ok("recommend_for_user", {"context": context}, token)
    _ok("recommend_for_user", {"context": "product", "product_id": world.product["id"]}, None)
    _ok("similar_products", {"product_id": world.product["id"]}, None)
    _ok("bought_together", {"product_id": world.product["id"]}, None)


# which recorded queries are checked: the hot paths of the issue (users in a fan-out batch
# are read by the campaign's own audience filter within an _id range: served by _id)
SCENARIOS = {"list_products": _list_products, "orders": _orders, "timers": _timers,
             "fan_out": _fan_out, "trace": _trace, "reco": _reco}
SKIP = {("fan_out", "users")}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_hot_query_is_served_by_a_declared_index(db: Any, pay_sandbox: Any,
                                                       scenario: str) -> None:
    world = World()
    with count_round_trips() as trips:
        SCENARIOS[scenario](world)
    unserved = []
    checked = 0
    for collection, method, filter, sort in trips.queries:
        if method not in CHECKED or (scenario, collection) in SKIP or _by_id(filter):
            continue
        checked += 1
        count = method == "count_documents"
        if index_for(collection, filter or {}, sort, count) is None:
            unserved.append((collection, method, filter, sort))
    assert checked > 0
    assert unserved == [], "\n".join(map(repr, unserved))


@pytest.mark.skipif(not os.environ.get("TEST_MONGODB_URI"), reason="needs a real server")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_hot_query_is_an_index_scan_on_a_real_server(db: Any, pay_sandbox: Any,
                                                           scenario: str) -> None:
    world = World()
    with count_round_trips() as trips:
        SCENARIOS[scenario](world)
    bad = []
    for collection, method, filter, sort in trips.queries:
        if method not in ("find", "find_one", "count_documents") or \
                (scenario, collection) in SKIP:
            continue
        if method == "count_documents":
            plan = db.command("explain", {"count": collection, "query": filter or {}})
        else:
            cursor = db[collection].find(filter or {})
            plan = (cursor.sort(sort) if sort else cursor).explain()
        stages = str(plan.get("queryPlanner", {}).get("winningPlan"))
        if "COLLSCAN" in stages or "'SORT'" in stages:
            bad.append((collection, method, filter, sort, stages[:300]))
    assert bad == []
