"""Races with real threads (``run_threads`` releases them together through a barrier).

Every call goes through the real dispatcher, so the embedded database's lock, the conditional
updates and the (user_id, request_id) unique index are what is under test. The invariant of
DESIGN.md section 3: per SKU, ``stock + locked + sold`` never changes except by a restock, and
``stock`` is never negative.
"""
from __future__ import annotations

import sys
import threading
from datetime import timedelta
from typing import Any, Iterator

import pytest

from tests.conftest import (
    Answer,
    Shopper,
    merchant,
    new_address,
    new_product,
    new_shopper,
    run_threads,
)

# ---- helpers -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def eager_thread_switching() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, so that a thread is likely to be
    interrupted between two database operations of one step (a read then a write, a state
    change then its stock move): that is where a missing condition would show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def counts(db: Any, sku_id: str) -> tuple[int, int, int]:
    doc = db.skus.find_one({"_id": sku_id})
    return doc["stock"], doc.get("locked", 0), doc.get("sold", 0)


class StockWatch:
    """Polls SKUs on its own thread while a race runs; remembers anything that breaks the
    invariant at any moment, not only at the end."""

    def __init__(self, db: Any, totals: dict[str, int]) -> None:
        self.db, self.totals = db, totals
        self.samples = 0
        self.violations: list[tuple[str, tuple[int, int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for sku_id, total in self.totals.items():
                stock, locked, sold = counts(self.db, sku_id)
                self.samples += 1
                if stock < 0 or locked < 0 or sold < 0 or stock + locked + sold != total:
                    self.violations.append((sku_id, (stock, locked, sold)))

    def __enter__(self) -> "StockWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        assert self.samples > 0
        assert self.violations == [], self.violations[:5]


def shoppers_with_addresses(count: int) -> list[tuple[Shopper, str]]:
    people = [new_shopper() for _ in range(count)]
    return [(p, new_address(p)) for p in people]


def answers(results: list[Any]) -> list[Answer]:
    """Every thread must have come back with an answer, not an exception."""
    for result in results:
        assert isinstance(result, Answer), result
    return results


def new_coupon(total: int = 100, per_user_limit: int = 1, amount: int = 100,
               threshold: int = 0) -> dict[str, Any]:
    return merchant("merchant_create_coupon", {
        "name": "立减", "kind": "fixed", "amount": amount, "threshold": threshold,
        "total": total, "per_user_limit": per_user_limit, "valid_days": 7}).data


# ---- (a) 200 buyers, 50 units ---------------------------------------------------------------

def test_200_buyers_race_for_50_units_then_cancels_and_payments_race(db):
    sku_id = new_product(price=990, stock=50)["skus"][0]["id"]
    buyers = shoppers_with_addresses(200)

    def buy(i: int) -> Answer:
        shopper, address_id = buyers[i]
        return shopper.call("place_order", {"request_id": f"flash-{i:04d}",
                                            "address_id": address_id,
                                            "items": [{"sku_id": sku_id, "quantity": 1}]})

    with StockWatch(db, {sku_id: 50}):
        results = answers(run_threads(200, buy))

    won = [i for i, a in enumerate(results) if a.ok]
    lost = [a for a in results if not a.ok]
    assert len(won) == 50
    assert len(lost) == 150
    assert {(a.status, a.code) for a in lost} == {(409, "OUT_OF_STOCK")}
    assert counts(db, sku_id) == (0, 50, 0)
    assert db.orders.count_documents({}) == 50
    assert db.orders.count_documents({"status": "pending_payment"}) == 50
    # each winner holds exactly one order, and it is the one it was told about
    assert len({db.orders.find_one({"_id": results[i].data["id"]})["user_id"] for i in won}) == 50
    assert all(results[i].data["total"] == 990 for i in won)

    # phase 2: 15 owners cancel and the merchant marks 15 others paid, all at once
    to_cancel, to_pay = won[:15], won[15:30]
    jobs = [("cancel", i) for i in to_cancel] + [("pay", i) for i in to_pay]

    def settle(n: int) -> Answer:
        kind, i = jobs[n]
        order_id = results[i].data["id"]
        if kind == "cancel":
            return buyers[i][0].call("cancel_order", {"order_id": order_id})
        return merchant("merchant_mark_paid", {"order_id": order_id})

    with StockWatch(db, {sku_id: 50}):
        settled = answers(run_threads(len(jobs), settle))

    assert all(a.ok for a in settled), [a.body for a in settled if not a.ok]
    assert counts(db, sku_id) == (15, 20, 15)
    assert db.orders.count_documents({"status": "cancelled"}) == 15
    assert db.orders.count_documents({"status": "paid"}) == 15
    assert db.orders.count_documents({"status": "pending_payment"}) == 20
    product = db.products.find_one({"_id": db.skus.find_one({"_id": sku_id})["product_id"]})
    assert product["sales"] == 15


# ---- (b) multi-line orders: a failing line releases the lines before it ----------------------

def test_a_failing_second_line_releases_the_first_under_a_race(db):
    product = new_product(price=500, stock=100, skus=2)
    plenty, scarce = (s["id"] for s in product["skus"])
    assert merchant("merchant_set_stock", {"sku_id": scarce, "stock": 10}).ok
    buyers = shoppers_with_addresses(40)

    def buy(i: int) -> Answer:
        shopper, address_id = buyers[i]
        return shopper.call("place_order", {
            "request_id": f"pair-{i:04d}", "address_id": address_id,
            "items": [{"sku_id": plenty, "quantity": 1}, {"sku_id": scarce, "quantity": 1}]})

    with StockWatch(db, {plenty: 100, scarce: 10}):
        results = answers(run_threads(40, buy))

    won = [a for a in results if a.ok]
    lost = [i for i, a in enumerate(results) if not a.ok]
    # the first line never runs short, so every failure is on the second line, after the
    # first line's unit was reserved: each of those units must have come back
    assert len(won) == 10 and len(lost) == 30
    assert {(results[i].code, results[i].body["error"]["details"]["sku_id"]) for i in lost} \
        == {("OUT_OF_STOCK", scarce)}
    assert counts(db, plenty) == (90, 10, 0)
    assert counts(db, scarce) == (0, 10, 0)
    assert db.orders.count_documents({}) == 10
    for i in lost:
        assert db.orders.find_one({"request_id": f"pair-{i:04d}"}) is None


def test_crossed_multi_line_orders_keep_both_skus_consistent(db):
    """Half the buyers list A then B, half B then A, with quantities 2 and 1: transient holds
    make some fail on either line; whatever happens, no unit is lost or made up."""
    product = new_product(price=300, stock=12, skus=2)
    a, b = (s["id"] for s in product["skus"])
    buyers = shoppers_with_addresses(40)

    def buy(i: int) -> Answer:
        shopper, address_id = buyers[i]
        lines = [{"sku_id": a, "quantity": 2}, {"sku_id": b, "quantity": 1}]
        return shopper.call("place_order", {"request_id": f"cross-{i:04d}",
                                            "address_id": address_id,
                                            "items": lines if i % 2 else lines[::-1]})

    with StockWatch(db, {a: 12, b: 12}):
        results = answers(run_threads(40, buy))

    won = [a_ for a_ in results if a_.ok]
    lost = [i for i, a_ in enumerate(results) if not a_.ok]
    assert 1 <= len(won) <= 6  # A holds 12 = 6 orders of 2
    assert {results[i].code for i in lost} == {"OUT_OF_STOCK"}
    assert counts(db, a) == (12 - 2 * len(won), 2 * len(won), 0)
    assert counts(db, b) == (12 - len(won), len(won), 0)
    assert db.orders.count_documents({}) == len(won)
    assert sorted(d["_id"] for d in db.orders.find({})) == sorted(o.data["id"] for o in won)
    for i in lost:
        assert db.orders.find_one({"request_id": f"cross-{i:04d}"}) is None


# ---- (c) coupon claims ---------------------------------------------------------------------

def test_100_shoppers_claiming_a_coupon_of_30(db):
    coupon = new_coupon(total=30, per_user_limit=1)
    people = [new_shopper() for _ in range(100)]

    results = answers(run_threads(100, lambda i: people[i].call(
        "claim_coupon", {"coupon_id": coupon["id"]})))

    won = [a for a in results if a.ok]
    lost = [a for a in results if not a.ok]
    assert len(won) == 30
    assert {(a.status, a.code) for a in lost} == {(409, "COUPON_SOLD_OUT")}
    template = db.coupons.find_one({"_id": coupon["id"]})
    assert (template["remaining"], template["claimed"]) == (0, 30)
    assert db.user_coupons.count_documents({"coupon_id": coupon["id"]}) == 30
    assert len({d["user_id"] for d in db.user_coupons.find({"coupon_id": coupon["id"]})}) == 30
    # the losers' per-user counters were given back: they did not use up their limit
    assert sum(c["count"] for c in db.coupon_claims.find({})) == 30
    listed = merchant("merchant_list_coupons").data["items"]
    assert [(c["id"], c["remaining"], c["claimed"]) for c in listed] == [(coupon["id"], 0, 30)]


def test_one_shopper_claiming_20_times_at_once_gets_the_per_user_limit(db):
    coupon = new_coupon(total=100, per_user_limit=3)
    alice = new_shopper("alice")

    results = answers(run_threads(20, lambda i: alice.call(
        "claim_coupon", {"coupon_id": coupon["id"]})))

    assert sum(a.ok for a in results) == 3
    assert {a.code for a in results if not a.ok} == {"COUPON_LIMIT_REACHED"}
    assert db.user_coupons.count_documents({"user_id": alice.user_id}) == 3
    template = db.coupons.find_one({"_id": coupon["id"]})
    assert (template["remaining"], template["claimed"]) == (97, 3)
    assert len(alice.call("list_my_coupons").data["items"]) == 3


# ---- (d) a retried place_order ---------------------------------------------------------------

def test_the_same_request_id_from_20_threads_makes_one_order(db):
    """Five rounds, each a fresh request_id sent by 20 threads at once (a client retrying)."""
    sku_id = new_product(price=1500, stock=20)["skus"][0]["id"]
    alice = new_shopper("alice")
    address_id = new_address(alice)
    for round_ in range(1, 6):
        payload = {"request_id": f"retry-{round_:06d}", "address_id": address_id,
                   "items": [{"sku_id": sku_id, "quantity": 3}]}

        with StockWatch(db, {sku_id: 20}):
            results = answers(run_threads(20, lambda i: alice.call("place_order",
                                                                   payload)))  # noqa: B023

        assert all(a.ok for a in results), [a.body for a in results if not a.ok]
        assert len({a.data["id"] for a in results}) == 1
        # every retry answers with the settled order, never a half-placed one
        assert {(a.data["status"], a.data["total"]) for a in results} \
            == {("pending_payment", 4500)}
        assert db.orders.count_documents({"request_id": payload["request_id"]}) == 1
        assert db.orders.count_documents({}) == round_
        assert counts(db, sku_id) == (20 - 3 * round_, 3 * round_, 0)
        # and a later retry still answers with the same order
        assert alice.call("place_order", payload).data["id"] == results[0].data["id"]
        assert counts(db, sku_id) == (20 - 3 * round_, 3 * round_, 0)


def test_the_same_request_id_from_two_users_is_two_orders(db):
    """Idempotency is per (user, request_id): another user's key never returns their order."""
    sku_id = new_product(price=100, stock=10)["skus"][0]["id"]
    pair = shoppers_with_addresses(2)

    results = answers(run_threads(2, lambda i: pair[i][0].call("place_order", {
        "request_id": "shared-key-01", "address_id": pair[i][1],
        "items": [{"sku_id": sku_id, "quantity": 1}]})))

    assert all(a.ok for a in results)
    assert results[0].data["id"] != results[1].data["id"]
    assert counts(db, sku_id) == (8, 2, 0)


# ---- (e) one user coupon, several orders at once ---------------------------------------------

@pytest.mark.usefixtures("many_unpaid_orders")  # one shopper, many orders at once
def test_one_coupon_used_by_concurrent_orders_goes_to_one(db):
    """Five rounds: a freshly claimed coupon sent with 8 different orders at once."""
    sku_id = new_product(price=5000, stock=50)["skus"][0]["id"]
    coupon = new_coupon(amount=700, per_user_limit=5)
    alice = new_shopper("alice")
    address_id = new_address(alice)
    for round_ in range(1, 6):
        mine = alice.call("claim_coupon", {"coupon_id": coupon["id"]}).data["id"]

        def order(i: int) -> Answer:
            # run_threads below calls it within this round
            return alice.call("place_order", {"request_id": f"cpn-race-{round_}-{i:03d}",  # noqa: B023
                                              "address_id": address_id, "coupon_id": mine,  # noqa: B023
                                              "items": [{"sku_id": sku_id, "quantity": 1}]})

        with StockWatch(db, {sku_id: 50}):
            results = answers(run_threads(8, order))

        won = [a for a in results if a.ok]
        lost = [a for a in results if not a.ok]
        assert len(won) == 1, [a.body for a in results]
        assert won[0].data["discount"] == 700 and won[0].data["total"] == 4300
        assert {(a.status, a.code) for a in lost} == {(409, "COUPON_UNAVAILABLE")}
        # the losers' stock is not held: only the winners' units are locked
        assert counts(db, sku_id) == (50 - round_, round_, 0)
        assert db.orders.count_documents({}) == round_
        assert db.orders.count_documents({"coupon_id": mine}) == 1
        held = db.user_coupons.find_one({"_id": mine})
        assert (held["status"], held["order_id"]) == ("used", won[0].data["id"])


def test_a_coupon_order_that_loses_the_stock_race_gets_its_coupon_back(db):
    """The coupon is bound before stock is reserved; if the stock runs out, both come back."""
    sku_id = new_product(price=5000, stock=1)["skus"][0]["id"]
    coupon = new_coupon(total=10, amount=500)
    buyers = shoppers_with_addresses(10)
    wallets = [b.call("claim_coupon", {"coupon_id": coupon["id"]}).data["id"] for b, _ in buyers]

    def order(i: int) -> Answer:
        shopper, address_id = buyers[i]
        return shopper.call("place_order", {"request_id": f"last-unit-{i:03d}",
                                            "address_id": address_id, "coupon_id": wallets[i],
                                            "items": [{"sku_id": sku_id, "quantity": 1}]})

    with StockWatch(db, {sku_id: 1}):
        results = answers(run_threads(10, order))

    winners = [i for i, a in enumerate(results) if a.ok]
    assert len(winners) == 1
    assert {results[i].code for i in range(10) if i not in winners} == {"OUT_OF_STOCK"}
    assert counts(db, sku_id) == (0, 1, 0)
    for i, coupon_id in enumerate(wallets):
        doc = db.user_coupons.find_one({"_id": coupon_id})
        if i in winners:
            assert (doc["status"], doc["order_id"]) == ("used", results[i].data["id"])
        else:
            assert (doc["status"], doc["order_id"]) == ("available", None)


# ---- (f) cancel and pay racing on the same order ---------------------------------------------

@pytest.mark.usefixtures("many_unpaid_orders")  # one shopper, many orders at once
def test_cancel_and_mark_paid_racing_on_each_order_exactly_one_wins(db):
    product = new_product(price=800, stock=1, skus=20)
    skus = [s["id"] for s in product["skus"]]
    alice = new_shopper("alice")
    address_id = new_address(alice)
    orders = [alice.call("place_order", {"request_id": f"tug-{n:04d}", "address_id": address_id,
                                         "items": [{"sku_id": sku, "quantity": 1}]}).data["id"]
              for n, sku in enumerate(skus)]

    def tug(i: int) -> Answer:
        order_id = orders[i // 2]
        if i % 2:
            return merchant("merchant_mark_paid", {"order_id": order_id})
        return alice.call("cancel_order", {"order_id": order_id})

    with StockWatch(db, {sku: 1 for sku in skus}):
        results = answers(run_threads(2 * len(orders), tug))

    outcomes = {"cancelled": 0, "paid": 0}
    for n, order_id in enumerate(orders):
        cancel, pay = results[2 * n], results[2 * n + 1]
        assert cancel.ok != pay.ok, (cancel.body, pay.body)
        loser = pay if cancel.ok else cancel
        assert (loser.status, loser.code) == (409, "INVALID_STATE")
        status = db.orders.find_one({"_id": order_id})["status"]
        assert status == ("cancelled" if cancel.ok else "paid")
        outcomes[status] += 1
        # released or sold, never both, never neither
        assert counts(db, skus[n]) == ((1, 0, 0) if cancel.ok else (0, 0, 1))
        line = db.orders.find_one({"_id": order_id})["items"][0]
        assert line["stock"] == ("released" if cancel.ok else "sold")
    assert outcomes["cancelled"] + outcomes["paid"] == len(orders)


# ---- (g) the order_timeout timer run from several threads at once ----------------------------

@pytest.mark.parametrize("attempt", range(3))
def test_order_timeout_run_concurrently_cancels_each_expired_order_once(db, attempt):
    from shared.core.common import utcnow
    from shared.core.dispatch import run_timer

    sku_id = new_product(price=1200, stock=40)["skus"][0]["id"]
    coupon = new_coupon(total=50, amount=200)
    buyers = shoppers_with_addresses(30)
    orders = []
    for i, (shopper, address_id) in enumerate(buyers):
        payload = {"request_id": f"late-{i:04d}", "address_id": address_id,
                   "items": [{"sku_id": sku_id, "quantity": 1}]}
        if i % 3 == 0:
            payload["coupon_id"] = shopper.call("claim_coupon",
                                                {"coupon_id": coupon["id"]}).data["id"]
        orders.append(shopper.call("place_order", payload).data)
    expired = [o["id"] for o in orders[:20]]
    fresh = [o["id"] for o in orders[20:]]
    # 20 orders passed their pay deadline a minute ago; 10 are still within it
    db.orders.update_many({"_id": {"$in": expired}},
                          {"$set": {"pay_deadline": utcnow() - timedelta(minutes=1)}})
    assert counts(db, sku_id) == (10, 30, 0)

    def run(i: int) -> dict[str, Any]:
        if i % 2:
            return merchant("dev_run_timer", {"name": "order_timeout"}).data["result"]
        outcome = run_timer("order_timeout")
        assert outcome.status == 200, outcome.envelope
        return outcome.envelope["data"]

    with StockWatch(db, {sku_id: 40}):
        results = run_threads(8, run)

    for result in results:
        assert isinstance(result, dict), result
    assert sum(r["cancelled"] for r in results) == 20
    assert counts(db, sku_id) == (30, 10, 0)
    for order_id in expired:
        doc = db.orders.find_one({"_id": order_id})
        assert (doc["status"], doc["cancel_reason"]) == ("cancelled", "timeout")
        assert doc["items"][0]["stock"] == "released"
    for order_id in fresh:
        assert db.orders.find_one({"_id": order_id})["status"] == "pending_payment"
    # coupons of the expired orders came back exactly once; the fresh ones' stay used
    for order in orders:
        if order["coupon_id"]:
            doc = db.user_coupons.find_one({"_id": order["coupon_id"]})
            if order["id"] in expired:
                assert (doc["status"], doc["order_id"]) == ("available", None)
            else:
                assert (doc["status"], doc["order_id"]) == ("used", order["id"])
    # a second pass finds nothing left to do
    again = run_timer("order_timeout").envelope["data"]
    assert (again["cancelled"], again["repaired"]) == (0, 0)
    assert counts(db, sku_id) == (30, 10, 0)
