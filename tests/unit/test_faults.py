"""The fault-injection harness itself (tests/faults.py): it counts every write, kills the flow
right after write k with what no ``except Exception`` catches, and its invariants see what a
crash leaves behind."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.faults import (
    InstanceDied,
    check_coupons,
    check_points,
    check_refunds,
    check_stock,
    count_writes,
    crash_points,
    die_after_write,
    run_timers,
    stock_totals,
)


def every_write_once(db: Any) -> None:
    col = db.things
    col.insert_one({"_id": 1, "n": 0})
    col.insert_many([{"_id": 2, "n": 0}, {"_id": 3, "n": 0}])
    col.update_one({"_id": 1}, {"$inc": {"n": 1}})
    col.update_many({}, {"$inc": {"n": 1}})
    col.replace_one({"_id": 2}, {"n": 5})
    col.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
    col.find_one_and_replace({"_id": 3}, {"n": 7})
    col.find_one_and_delete({"_id": 3})
    col.delete_one({"_id": 2})
    db["things"].delete_many({})


def test_every_write_method_counts_once_and_reads_not_at_all(faulty_db: Any) -> None:
    assert count_writes(faulty_db, lambda: every_write_once(faulty_db)) == 10
    assert count_writes(faulty_db, lambda: (faulty_db.things.find_one({}),
                                            list(faulty_db.things.find({})),
                                            faulty_db.things.count_documents({}))) == 0


def test_the_instance_dies_right_after_write_k_and_no_later_write_happens(
        faulty_db: Any) -> None:
    for k in range(1, 4):
        faulty_db.things.delete_many({})
        with die_after_write(faulty_db, k) as fault:
            for n in range(5):
                faulty_db.things.insert_one({"_id": n})
        assert fault.died and fault.writes == k
        assert fault.operation == "things.insert_one"
        assert sorted(d["_id"] for d in faulty_db.things.find({})) == list(range(k))


def test_except_exception_cannot_catch_the_death(faulty_db: Any) -> None:
    caught = []
    with pytest.raises(InstanceDied):
        faulty_db.arm(1)
        try:
            faulty_db.things.insert_one({"_id": 1})
        except Exception as exc:  # what the shop's code does; the death goes through
            caught.append(exc)
    faulty_db.disarm()
    assert caught == []


def test_a_flow_shorter_than_k_finishes_and_says_so(faulty_db: Any) -> None:
    with die_after_write(faulty_db, 3) as fault:
        faulty_db.things.insert_one({"_id": 1})
    assert not fault.died and fault.writes == 1
    faulty_db.things.insert_one({"_id": 2})  # disarmed after the block: lives


def test_a_failed_write_is_not_a_point_to_die_after(faulty_db: Any) -> None:
    from pymongo.errors import DuplicateKeyError
    faulty_db.things.insert_one({"_id": 1})

    def collide() -> None:
        try:
            faulty_db.things.insert_one({"_id": 1})
        except DuplicateKeyError:
            pass
    assert count_writes(faulty_db, collide) == 0


def test_a_death_inside_an_action_reaches_the_test_not_the_envelope(faulty_db: Any) -> None:
    shopper = new_shopper()
    product = new_product(stock=5)
    payload = {"request_id": "req-die-0001", "items": [
        {"sku_id": product["skus"][0]["id"], "quantity": 1}], "address_id": new_address(shopper)}
    with die_after_write(faulty_db, 1) as fault:
        shopper.call("place_order", payload)
        pytest.fail("the action went on after its instance died")
    assert fault.died and fault.operation == "orders.insert_one"


def test_crash_points_count_a_whole_place_order(faulty_db: Any) -> None:
    shopper = new_shopper()
    product = new_product(stock=5)
    payload = {"request_id": "req-count-001", "items": [
        {"sku_id": product["skus"][0]["id"], "quantity": 1}], "address_id": new_address(shopper)}
    points = crash_points(faulty_db, lambda: shopper.call("place_order", payload).data)
    assert len(points) >= 3  # the order, the stock, the order's state at least


# ---- the invariants see what a crash leaves ----------------------------------------------------

def placed(shopper: Any, sku_id: str, **extra: Any) -> dict[str, Any]:
    return shopper.call("place_order", {"request_id": f"req-{sku_id}-{len(extra)}-x",
                                        "items": [{"sku_id": sku_id, "quantity": 2}],
                                        "address_id": new_address(shopper), **extra}).data


def test_check_stock_sees_units_locked_by_no_order_and_a_changed_total(db: Any) -> None:
    shopper = new_shopper()
    sku_id = new_product(stock=10)["skus"][0]["id"]
    before = stock_totals(db)
    order = placed(shopper, sku_id)
    check_stock(db, before)
    db.orders.update_one({"_id": order["id"]}, {"$set": {"status": "cancelled"}})
    with pytest.raises(AssertionError):
        check_stock(db, before)   # cancelled, its units still locked
    db.orders.update_one({"_id": order["id"]}, {"$set": {"status": "pending_payment"}})
    db.skus.update_one({"_id": sku_id}, {"$inc": {"stock": -1}})
    with pytest.raises(AssertionError, match="changed"):
        check_stock(db, before)


def test_check_coupons_sees_a_coupon_kept_by_a_cancelled_order(db: Any) -> None:
    shopper = new_shopper()
    sku_id = new_product(stock=10)["skus"][0]["id"]
    template = merchant("merchant_create_coupon", {
        "name": "满减", "kind": "fixed", "amount": 100, "threshold": 0, "total": 10,
        "per_user_limit": 1, "valid_days": 7}).data
    coupon = shopper.call("claim_coupon", {"coupon_id": template["id"]}).data
    order = placed(shopper, sku_id, coupon_id=coupon["id"])
    check_coupons(db)
    db.orders.update_one({"_id": order["id"]}, {"$set": {"status": "cancelled"}})
    with pytest.raises(AssertionError, match="still used"):
        check_coupons(db)


def test_check_points_sees_a_balance_off_its_ledger_and_a_paid_order_never_counted(
        db: Any, clock: Any) -> None:
    shopper = new_shopper()
    sku_id = new_product(price=10000, stock=10)["skus"][0]["id"]
    order = placed(shopper, sku_id)
    assert merchant("merchant_mark_paid", {"order_id": order["id"]}).ok
    run_timers(clock)   # whatever runs after the payment has run
    check_points(db)
    db.users.update_one({"_id": shopper.user_id}, {"$inc": {"points": 5}})
    with pytest.raises(AssertionError, match="ledger"):
        check_points(db)
    db.users.update_one({"_id": shopper.user_id}, {"$inc": {"points": -5}})
    db.growth_ledger.delete_one({"_id": f"paid:{order['id']}"})
    with pytest.raises(AssertionError):
        check_points(db)


def test_check_refunds_sees_a_succeeded_refund_the_order_never_counted(db: Any) -> None:
    db.orders.insert_one({"_id": "ord_x", "total": 100, "refunded_amount": 0, "items": [],
                          "status": "refunding"})
    db.refunds.insert_one({"_id": "ref_x", "order_id": "ord_x", "amount": 100,
                           "status": "succeeded"})
    with pytest.raises(AssertionError, match="refunded_amount"):
        check_refunds(db)
    db.orders.update_one({"_id": "ord_x"}, {"$set": {"refunded_amount": 100}})
    check_refunds(db)
