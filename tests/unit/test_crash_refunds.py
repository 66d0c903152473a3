"""Nothing lost when an instance dies (issue 12, section 3): after-sale request, approval and
the refund finish. For every crash point k the flow is killed right after its write k
(tests/faults.py), then retried (same request) and the timers run with the clock moved on;
the invariants of the issue must hold, and the money must end where the shopper asked.

MAX_WRITES bounds each flow; ``test_every_crash_point_is_covered`` fails if a flow grows past
it, so the parametrisation always covers every write.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Optional

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.faults import (
    check_all,
    count_writes,
    die_after_write,
    run_timers,
    stock_totals,
)

MAX_WRITES = 50
_ids = itertools.count(1)


class Shop:
    """One paid order (a coupon and points spent on it) of two units, ready for after-sales."""

    def __init__(self, db: Any, quantity: int = 2) -> None:
        self.db = db
        self.shopper = new_shopper()
        self.address_id = new_address(self.shopper)
        product = new_product(price=1000, stock=10)
        self.sku_id = product["skus"][0]["id"]
        self.stock_before = stock_totals(db)
        assert merchant("merchant_adjust_points", {"user_id": self.shopper.user_id,
                                                   "points": 500, "reason": "gift"}).ok
        template = merchant("merchant_create_coupon", {
            "name": "满减", "kind": "fixed", "amount": 100, "threshold": 0, "total": 10,
            "per_user_limit": 1, "valid_days": 7}).data
        coupon = self.shopper.call("claim_coupon", {"coupon_id": template["id"]}).data
        order = self.shopper.call("place_order", {
            "request_id": f"req-crash-{next(_ids):05d}", "address_id": self.address_id,
            "items": [{"sku_id": self.sku_id, "quantity": quantity}],
            "coupon_id": coupon["id"], "points": 100}).data
        paid = self.shopper.call("sandbox_pay", {"order_id": order["id"]}).data
        assert paid["order"]["status"] == "paid", paid
        self.order_id = order["id"]

    def ask(self, request_id: Optional[str] = None, quantity: Optional[int] = None) -> Any:
        payload: dict[str, Any] = {"order_id": self.order_id, "type": "refund_only",
                                   "reason": "不想要了"}
        if quantity is not None:
            payload["items"] = [{"sku_id": self.sku_id, "quantity": quantity}]
        if request_id is not None:
            payload["request_id"] = request_id
        return self.shopper.call("request_after_sale", payload)

    def after_sales(self) -> list[dict[str, Any]]:
        return list(self.db.after_sales.find({"order_id": self.order_id}))

    def order(self) -> dict[str, Any]:
        return self.db.orders.find_one({"_id": self.order_id})


def approve(after_sale_id: str) -> Any:
    return merchant("merchant_review_after_sale", {"after_sale_id": after_sale_id,
                                                   "decision": "approve", "note": "同意"})


def check_reservations(db: Any) -> None:
    """What an order may still refund plus what its after-sales and refunds hold (or took)
    is what was paid: no amount reserved by nothing, none reserved twice."""
    held_statuses = ("requesting", "pending_review", "awaiting_return", "return_shipped",
                     "refunding", "refunded")
    for order in db.orders.find({"paid_at": {"$ne": None}, "refundable": {"$exists": True}}):
        held = sum(a["amount"] for a in db.after_sales.find(
            {"order_id": order["_id"], "status": {"$in": list(held_statuses)}}))
        held += sum(r["amount"] for r in db.refunds.find(
            {"order_id": order["_id"], "reserved": True, "after_sale_id": None,
             "status": {"$in": ["requested", "processing", "succeeded"]}}))
        assert order["refundable"] + held == order["total"], \
            f"{order['_id']}: refundable {order['refundable']} + held {held} != " \
            f"paid {order['total']}"


def check_after_sales_settled(db: Any) -> None:
    """After the timers: no after-sale half-requested, none refunding without its refund."""
    for doc in db.after_sales.find({}):
        assert doc["status"] != "requesting", f"after-sale {doc['_id']} left requesting"
        if doc["status"] == "refunding":
            refund = db.refunds.find_one({"_id": doc["_id"]})
            assert refund is not None and refund["status"] in ("requested", "processing"), \
                f"after-sale {doc['_id']} refunding, its refund is {refund}"


def settle(shop: Shop, clock: Any) -> None:
    run_timers(clock)
    check_all(shop.db, shop.stock_before)
    check_reservations(shop.db)
    check_after_sales_settled(shop.db)


def refunded_in_full(shop: Shop) -> None:
    order = shop.order()
    assert (order["status"], order["refunded_amount"]) == ("refunded", order["total"]), order
    assert [a["status"] for a in shop.after_sales()] == ["refunded"]
    sku = shop.db.skus.find_one({"_id": shop.sku_id})
    assert (sku["stock"], sku.get("sold", 0)) == (10, 0), sku   # unshipped: back on the shelf


# ---- the flows ---------------------------------------------------------------------------------

def approval_flow(db: Any) -> tuple[Shop, Callable[[], Any]]:
    shop = Shop(db)
    after_sale = shop.ask().data
    return shop, lambda: approve(after_sale["id"])


def request_flow(db: Any) -> tuple[Shop, Callable[[], Any]]:
    shop = Shop(db)
    request_id = f"req-afs-{next(_ids):05d}"
    return shop, lambda: shop.ask(request_id=request_id)


def bare_request_flow(db: Any) -> tuple[Shop, Callable[[], Any]]:
    """A request without a request_id: nothing but the timers can find what it left."""
    shop = Shop(db)
    return shop, lambda: shop.ask()


def partial_request_flow(db: Any) -> tuple[Shop, Callable[[], Any]]:
    """One unit of two, then the other: the second takes the fen the shares left over."""
    shop = Shop(db)
    first = shop.ask(quantity=1).data
    assert approve(first["id"]).data["status"] == "refunded"
    request_id = f"req-afs-{next(_ids):05d}"
    return shop, lambda: shop.ask(request_id=request_id, quantity=1)


@pytest.mark.parametrize("flow", [approval_flow, request_flow, bare_request_flow,
                                  partial_request_flow])
def test_every_crash_point_is_covered(db: Any, faulty_db: Any, flow: Any) -> None:
    shop, run = flow(faulty_db)
    writes = count_writes(faulty_db, run)
    assert 3 <= writes <= MAX_WRITES, writes


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_an_approval_that_dies_after_write_k_refunds_once_after_the_retry_and_the_timers(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = approval_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True) as fault:
        run()
    retried = run()   # the merchant presses approve again
    if fault.died:
        assert retried.ok or retried.code == "INVALID_STATE", retried.body
    settle(shop, clock)
    refunded_in_full(shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_an_approval_that_dies_after_write_k_is_sent_when_approved_again_a_minute_later(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = approval_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True) as fault:
        run()
    refund_recorded = shop.db.refunds.count_documents({"order_id": shop.order_id}) == 1
    clock.advance(seconds=61)
    retried = run()
    if fault.died and not refund_recorded:
        assert retried.ok, retried.body   # approved, no refund yet: the press sends it
    assert shop.db.refunds.count_documents({"order_id": shop.order_id}) == 1
    settle(shop, clock)
    refunded_in_full(shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_an_approval_that_dies_after_write_k_is_finished_by_the_timers_alone(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = approval_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    settle(shop, clock)
    refunded_in_full(shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_request_that_dies_after_write_k_is_made_once_by_its_retry(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = request_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    answer = run()
    assert answer.ok, answer.body
    settle(shop, clock)
    [after_sale] = shop.after_sales()
    assert (after_sale["_id"], after_sale["status"]) == (answer.data["id"], "pending_review")
    assert after_sale["amount"] == shop.order()["total"]
    assert approve(after_sale["_id"]).ok
    settle(shop, clock)
    refunded_in_full(shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_request_that_dies_after_write_k_holds_nothing_for_ever_without_a_retry(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = bare_request_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    settle(shop, clock)
    # finished or undone by the timers: either way a new request can take what is left
    if not any(a["status"] == "pending_review" for a in shop.after_sales()):
        assert shop.ask().ok
    [pending] = [a for a in shop.after_sales() if a["status"] == "pending_review"]
    assert approve(pending["_id"]).ok
    settle(shop, clock)
    refunded_in_full(shop)


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_second_partial_request_that_dies_after_write_k_keeps_every_fen(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = partial_request_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    answer = run()
    assert answer.ok, answer.body
    settle(shop, clock)
    assert approve(answer.data["id"]).ok
    settle(shop, clock)
    order = shop.order()
    assert (order["status"], order["refunded_amount"]) == ("refunded", order["total"]), order


def return_flow(db: Any) -> tuple[Shop, Callable[[], Any]]:
    """Return and refund of a shipped order: the merchant confirms the goods came back."""
    shop = Shop(db)
    assert merchant("merchant_ship_order", {"order_id": shop.order_id, "carrier": "SF",
                                            "tracking_no": "SF1234567890"}).ok
    after_sale = shop.shopper.call("request_after_sale", {
        "order_id": shop.order_id, "type": "return_refund", "reason": "坏了"}).data
    assert approve(after_sale["id"]).data["status"] == "awaiting_return"
    assert shop.shopper.call("submit_return_shipment", {
        "after_sale_id": after_sale["id"], "carrier": "YTO", "tracking_no": "YT9876543210"}).ok
    return shop, lambda: merchant("merchant_confirm_return_received",
                                  {"after_sale_id": after_sale["id"]})


def test_every_crash_point_of_a_return_is_covered(db: Any, faulty_db: Any) -> None:
    shop, run = return_flow(faulty_db)
    assert 3 <= count_writes(faulty_db, run) <= MAX_WRITES


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_return_received_that_dies_after_write_k_is_refunded_by_a_press_or_the_timers(
        db: Any, faulty_db: Any, clock: Any, k: int) -> None:
    shop, run = return_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    clock.advance(seconds=61)
    run()   # the merchant presses again a minute later (refused if it went through)
    settle(shop, clock)
    order = shop.order()
    assert (order["status"], order["refunded_amount"]) == ("refunded", order["total"]), order
    assert [a["status"] for a in shop.after_sales()] == ["refunded"]
    assert shop.db.refunds.count_documents({"order_id": shop.order_id}) == 1
