"""Nothing lost when an instance dies (issue 12, section 3): placement and cancel.

Each flow runs once for every crash point k: the instance dies right after the flow's k-th
database write (tests/faults.py), then the shopper retries the same request and/or the timers
run with the clock moved past every timeout; the invariants must hold: stock + locked + sold
unchanged and locked equal to the units of live unpaid orders, the coupon used by at most one
live order and available again once its order ended unpaid, points equal to their ledger and
spent points back, the deal's daily units counted only for live orders.

The order placed here uses everything placement takes: two lines, a coupon, points, a nearby
deal with a daily quantity, self-pickup at the deal's store.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Shopper, merchant, new_product, new_shopper
from tests.faults import (
    check_all,
    check_coupons,
    check_deal_units,
    check_points,
    check_stock,
    count_writes,
    die_after_write,
    recover,
    run_timer,
    stock_totals,
)
from tests.helpers import Clock
from tests.unit.test_nearby import new_deal, store_at

# more than any flow below writes (test_the_crash_points_cover_every_write checks it)
MAX_WRITES = 30
POINTS = 500


@dataclass
class Shop:
    shopper: Shopper
    payload: dict[str, Any]
    coupon_id: str
    skus: list[str]


@pytest.fixture
def shop(db: Any, clock: Clock) -> Shop:
    shopper = new_shopper()
    product = new_product(price=2000, stock=10, skus=2)
    skus = [s["id"] for s in product["skus"]]
    store = store_at(0, 100)
    deal = new_deal(skus[0], [store["id"]], 1500, daily_quantity=5)
    template = merchant("merchant_create_coupon", {
        "name": "减5元", "kind": "fixed", "amount": 500, "threshold": 0, "total": 10,
        "per_user_limit": 1, "valid_days": 7}).data
    coupon = shopper.call("claim_coupon", {"coupon_id": template["id"]}).data
    merchant("merchant_adjust_points", {"user_id": shopper.user_id, "points": POINTS,
                                        "reason": "开业赠送"}).data
    payload = {"request_id": "crash-place-0001",
               "items": [{"sku_id": skus[0], "quantity": 2}, {"sku_id": skus[1], "quantity": 1}],
               "store_id": store["id"], "deal_id": deal["id"], "coupon_id": coupon["id"],
               "points": 300}
    return Shop(shopper, payload, coupon["id"], skus)


def place(shop: Shop) -> Any:
    return shop.shopper.call("place_order", shop.payload)


def assert_all_back(db: Any, shop: Shop) -> None:
    """Nothing is held any more: every order ended unpaid, all it took is back."""
    for sku_id in shop.skus:
        sku = db.skus.find_one({"_id": sku_id})
        assert (sku["stock"], sku["locked"], sku.get("sold", 0)) == (10, 0, 0), sku
    assert db.user_coupons.find_one({"_id": shop.coupon_id})["status"] == "available"
    assert db.users.find_one({"_id": shop.shopper.user_id})["points"] == POINTS
    assert all(c["sold"] == 0 for c in db.deal_daily.find({}))


def check_live(db: Any, before: dict[str, int]) -> None:
    """The invariants that hold while an order may still be live (before the timers)."""
    check_stock(db, before)
    check_coupons(db)
    check_points(db)
    check_deal_units(db)


def test_the_crash_points_cover_every_write(faulty_db: Any, shop: Shop) -> None:
    placing = count_writes(faulty_db, lambda: place(shop).data)
    order_id = faulty_db.orders.find_one({"request_id": shop.payload["request_id"]})["_id"]
    cancelling = count_writes(faulty_db, lambda: shop.shopper.call(
        "cancel_order", {"order_id": order_id}).data)
    assert 0 < placing <= MAX_WRITES and 0 < cancelling <= MAX_WRITES, (placing, cancelling)


# ---- place_order ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_placement_that_died_is_placed_by_the_retry_and_undone_by_the_timers(
        faulty_db: Any, clock: Clock, shop: Shop, k: int) -> None:
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        place(shop)
    if not fault.died:
        pytest.skip(f"place_order writes fewer than {k} times")

    clock.advance(minutes=3)    # the shopper retries a while later: the first call is dead
    again = place(shop)

    assert again.ok, again.body
    assert again.data["status"] == "pending_payment"
    assert faulty_db.orders.count_documents({"status": "pending_payment"}) == 1
    check_live(faulty_db, before)
    recover(clock)              # unpaid past its deadline: cancelled, everything back
    check_all(faulty_db, before)
    assert_all_back(faulty_db, shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_placement_that_died_and_was_never_retried_is_undone_by_the_timers(
        faulty_db: Any, clock: Clock, shop: Shop, k: int) -> None:
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        place(shop)
    if not fault.died:
        pytest.skip(f"place_order writes fewer than {k} times")

    recover(clock)

    check_all(faulty_db, before)
    assert_all_back(faulty_db, shop)


def test_a_retry_within_the_deadline_does_not_take_over_a_live_placement(
        faulty_db: Any, clock: Clock, shop: Shop) -> None:
    with die_after_write(faulty_db, 3) as fault:
        place(shop)
    assert fault.died
    clock.advance(seconds=1)  # maybe still placing: the retry waits, then says so

    assert place(shop).code == "CONFLICT"
    assert faulty_db.orders.find_one({"request_id": shop.payload["request_id"]})["status"] \
        == "reserving"


# ---- cancel: the shopper's, and the order_timeout timer's ------------------------------------

@pytest.fixture
def placed(shop: Shop) -> dict[str, Any]:
    return place(shop).data


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_cancel_that_died_is_finished_by_the_retry_or_the_timers(
        faulty_db: Any, clock: Clock, shop: Shop, placed: dict[str, Any], k: int) -> None:
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        shop.shopper.call("cancel_order", {"order_id": placed["id"]})
    if not fault.died:
        pytest.skip(f"cancel_order writes fewer than {k} times")

    again = shop.shopper.call("cancel_order", {"order_id": placed["id"]})

    assert again.ok and again.data["status"] == "cancelled", again.body
    recover(clock)
    check_all(faulty_db, before)
    assert_all_back(faulty_db, shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_timeout_cancel_that_died_is_finished_by_the_next_runs(
        faulty_db: Any, clock: Clock, shop: Shop, placed: dict[str, Any], k: int) -> None:
    before = stock_totals(faulty_db)
    clock.advance(timedelta(minutes=16))   # past the deadline to pay
    with die_after_write(faulty_db, k) as fault:
        run_timer("order_timeout")
    if not fault.died:
        pytest.skip(f"order_timeout writes fewer than {k} times")

    recover(clock)

    assert faulty_db.orders.find_one({"_id": placed["id"]})["status"] == "cancelled"
    check_all(faulty_db, before)
    assert_all_back(faulty_db, shop)
