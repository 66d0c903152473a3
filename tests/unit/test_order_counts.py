"""order_counts (issue 21): the Me page's 待付款/待发货/待收货/售后 counts, the caller's own."""
from __future__ import annotations

from typing import Any

from tests.conftest import Shopper, merchant, new_address, new_product, new_shopper
from tests.roundtrips import count_round_trips

_rids = iter(range(1, 1_000_000))


def place(shopper: Shopper, address: str, sku: str) -> str:
    return str(shopper.call("place_order", {
        "request_id": f"req-oc-{next(_rids):06d}", "address_id": address,
        "items": [{"sku_id": sku, "quantity": 1}]}).data["id"])


def test_each_shortcut_counts_the_callers_orders_in_its_state(db: Any) -> None:
    alice, bob = new_shopper(), new_shopper()
    sku = new_product()["skus"][0]["id"]
    address, bob_address = new_address(alice), new_address(bob)
    orders = [place(alice, address, sku) for _ in range(5)]
    place(bob, bob_address, sku)   # someone else's never counts
    for order_id in orders[1:]:
        assert merchant("merchant_mark_paid", {"order_id": order_id}).ok
    for order_id in orders[3:]:
        assert merchant("merchant_ship_order", {"order_id": order_id, "carrier": "SF",
                                                "tracking_no": "SF100"}).ok
    assert alice.call("cancel_order", {"order_id": orders[0]}).ok   # cancelled: nowhere
    orders.append(place(alice, address, sku))
    assert alice.call("request_after_sale", {"order_id": orders[1], "type": "refund_only",
                                             "reason": "不想要了"}).ok

    counts = alice.call("order_counts").data

    assert counts == {"pending_payment": 1, "to_ship": 2, "to_receive": 2, "after_sale": 1}


def test_a_new_shopper_has_zeros_and_anonymous_callers_are_refused(db: Any) -> None:
    from tests.conftest import call
    assert new_shopper().call("order_counts").data == {
        "pending_payment": 0, "to_ship": 0, "to_receive": 0, "after_sale": 0}
    assert call("order_counts").status == 401


def test_it_costs_three_round_trips(db: Any) -> None:
    alice = new_shopper()
    alice.call("order_counts")
    with count_round_trips() as trips:
        assert alice.call("order_counts").ok
    assert trips.count == 3, trips.describe()   # the token, the orders' aggregate, after-sales
