"""The insight_rollup timer: daily rollups per product and per user, incremental by watermark,
safe to run twice and after a death between its writes; retention (issue 15)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest

from tests.conftest import call, merchant, new_address, new_category, new_product, new_shopper
from tests.faults import die_after_write, run_timer
from tests.helpers import Clock, deliver_owed_events


@pytest.fixture(autouse=True)
def fresh_links() -> Iterator[None]:
    from shared.insight.tracking import forget_links
    forget_links()
    yield


def send(device: str, events: list[tuple[str, str, dict[str, Any]]], now: datetime,
         token: Any = None) -> None:
    answer = call("track_events", {"device_id": device, "sent_at": now.isoformat(), "events": [
        {"event_id": event_id, "name": name, "ts": now.isoformat(), "props": props}
        for event_id, name, props in events]}, token)
    assert answer.ok, answer.body


def views(product_id: str, prefix: str, n: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [(f"{prefix}{i}", "product_view", {"product_id": product_id}) for i in range(n)]


def product_row(db: Any, product_id: str, now: datetime) -> dict[str, Any]:
    from shared.insight.rollups import product_daily
    rows = product_daily(db, product_id, "2000-01-01", "2100-01-01")
    return {row["day"]: row for row in rows}.get(now.strftime("%Y-%m-%d"), {})


def paid_order(shopper: Any, sku_id: str, quantity: int, request_id: str) -> str:
    address = new_address(shopper)
    order = shopper.call("place_order", {
        "request_id": f"req-rollup-{request_id}", "address_id": address,
        "items": [{"sku_id": sku_id, "quantity": quantity}]})
    assert merchant("merchant_mark_paid", {"order_id": order.data["id"]}).ok
    deliver_owed_events()
    return str(order.data["id"])


def test_product_rollups_count_views_carts_orders_and_buyers(db: Any, clock: Clock) -> None:
    product = new_product(price=1000)
    sku = product["skus"][0]["id"]
    alice, bob = new_shopper(), new_shopper()
    send("d1", views(product["id"], "v", 3) + [("c1", "add_to_cart",
                                                 {"product_id": product["id"]})], clock.now)
    send("d2", views(product["id"], "v", 2), clock.now, alice.token)
    paid_order(alice, sku, 2, "r1")
    paid_order(alice, sku, 1, "r2")
    paid_order(bob, sku, 1, "r3")
    clock.advance(minutes=2)

    result = run_timer("insight_rollup")

    row = product_row(db, product["id"], clock.now)
    assert (row["views"], row["carts"], row["orders"], row["units"]) == (5, 1, 3, 4)
    assert row["buyers"] == 2 and row["amount"] == 4000
    assert result["product_daily"]["events"] > 0


def test_the_rollup_is_incremental_and_running_it_twice_changes_nothing(
        db: Any, clock: Clock) -> None:
    product = new_product()
    send("d1", views(product["id"], "a", 4), clock.now)
    clock.advance(minutes=2)
    run_timer("insight_rollup")
    run_timer("insight_rollup")
    assert product_row(db, product["id"], clock.now)["views"] == 4

    send("d1", views(product["id"], "b", 3), clock.now)
    clock.advance(minutes=2)
    again = run_timer("insight_rollup")
    run_timer("insight_rollup")

    assert product_row(db, product["id"], clock.now)["views"] == 7
    assert again["product_daily"]["events"] == 3


def test_events_within_the_lag_wait_for_the_next_run(db: Any, clock: Clock) -> None:
    product = new_product()
    send("d1", views(product["id"], "a", 2), clock.now)

    run_timer("insight_rollup")
    assert product_row(db, product["id"], clock.now) == {}

    clock.advance(seconds=61)
    run_timer("insight_rollup")
    assert product_row(db, product["id"], clock.now)["views"] == 2


def test_a_run_is_bounded_and_the_next_run_goes_on(db: Any, clock: Clock,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import get_settings
    from shared.insight.rollups import roll_up
    product = new_product()
    for n in range(3):
        send("d1", views(product["id"], f"b{n}-", 50), clock.now)
    clock.advance(minutes=2)
    settings = get_settings().model_copy(update={"INSIGHT_ROLLUP_BATCH_SIZE": 40})

    first = roll_up(db, settings, clock.now, max_batches=2)
    assert first["product_daily"]["events"] == 80
    assert product_row(db, product["id"], clock.now)["views"] == 80
    roll_up(db, settings, clock.now, max_batches=2)
    roll_up(db, settings, clock.now, max_batches=2)
    assert product_row(db, product["id"], clock.now)["views"] == 150


@pytest.mark.parametrize("k", range(1, 6))
def test_a_death_after_any_write_of_a_run_counts_nothing_twice(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    category = new_category("口红")
    product = new_product(category_id=category)
    shopper = new_shopper()
    send("d1", views(product["id"], "v", 3), clock.now, shopper.token)
    send("d2", views(product["id"], "w", 2), clock.now)
    clock.advance(minutes=2)

    with die_after_write(faulty_db, k, for_good=True) as fault:
        run_timer_unchecked("insight_rollup")
    assert fault.died
    clock.advance(minutes=6)    # the dead run's lease runs out
    run_timer("insight_rollup")
    run_timer("insight_rollup")

    assert product_row(db, product["id"], clock.now)["views"] == 5
    rows = list(db.user_daily.find({"user_id": shopper.user_id}))
    assert len(rows) == 1 and rows[0]["client"]["v"] == {category: 3}


def run_timer_unchecked(name: str) -> None:
    from shared.core.dispatch import run_timer as dispatch_timer
    dispatch_timer(name)


def test_merged_events_count_for_their_user_once(db: Any, clock: Clock) -> None:
    category = new_category("眼影")
    product = new_product(category_id=category)
    send("ph", views(product["id"], "anon", 4), clock.now)
    clock.advance(minutes=2)
    run_timer("insight_rollup")          # rolled while anonymous: products only
    shopper = new_shopper()

    send("ph", views(product["id"], "mine", 1), clock.now, shopper.token)   # the merge
    clock.advance(minutes=2)
    run_timer("insight_rollup")
    run_timer("insight_rollup")

    rows = list(db.user_daily.find({"user_id": shopper.user_id}))
    assert sum(row["client"]["v"][category] for row in rows) == 5
    assert product_row(db, product["id"], clock.now)["views"] == 5


def test_events_past_the_retention_are_deleted_by_the_timer(db: Any, clock: Clock) -> None:
    send("d1", [("old", "page_view", {})], clock.now)
    clock.advance(days=45)
    send("d1", [("new", "page_view", {})], clock.now)
    clock.advance(days=46)

    result = run_timer("insight_rollup")

    assert result["expired"] == 1
    assert [e["_id"] for e in db.events.find({})] == ["d1:new"]


def test_events_carry_the_expiry_a_servers_ttl_index_uses(db: Any, clock: Clock) -> None:
    from shared.core.db import INDEXES
    send("d1", [("e", "page_view", {})], clock.now)

    assert db.events.find_one({})["expires_at"] == clock.now + timedelta(days=90)
    assert ([("expires_at", 1)], {"expireAfterSeconds": 0}) in INDEXES["events"]


def test_the_timer_runs_from_its_timer_event(db: Any, clock: Clock) -> None:
    from shared.core.runtime import serve
    product = new_product()
    send("d1", views(product["id"], "t", 2), clock.now)
    clock.advance(minutes=2)

    answer = serve("insight_rollup", {"Type": "Timer", "TriggerName": "insight_rollup",
                                      "Time": clock.now.isoformat(), "Message": ""}, None)

    assert answer["ok"] and answer["data"]["product_daily"]["events"] == 2
    assert product_row(db, product["id"], clock.now)["views"] == 2


def test_a_view_of_a_product_the_catalog_lacks_counts_for_the_category_the_client_named(
        db: Any, clock: Clock) -> None:
    shopper = new_shopper()
    send("d1", [("v1", "product_view", {"product_id": "prd_gone", "category_id": "cat_lip"}),
                ("v2", "product_view", {"product_id": "prd_gone", "category_id": "a.b"})],
         clock.now, shopper.token)
    clock.advance(minutes=2)
    run_timer("insight_rollup")

    row = db.user_daily.find_one({"user_id": shopper.user_id})
    assert row["client"]["v"] == {"cat_lip": 1}
