"""Fair stock: the merchant's purchase limits (限购) per product, the shop's ceilings on what one
shopper holds unpaid (MAX_UNPAID_UNITS_PER_SKU, MAX_UNPAID_ORDERS), their 409 answers
(PURCHASE_LIMIT, TOO_MANY_UNPAID), counting under real threads, and the give-back when an
unpaid order ends (order_released) or is paid (order_paid)."""
from __future__ import annotations

import itertools
import sys
from datetime import timedelta
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import (
    Answer,
    Shopper,
    merchant,
    new_address,
    new_category,
    new_shopper,
    run_threads,
)
from tests.helpers import Clock

_request_ids = itertools.count(1)


# ---- helpers -------------------------------------------------------------------------------

class Buyer:
    def __init__(self) -> None:
        self.shopper: Shopper = new_shopper()
        self.user_id = self.shopper.user_id
        self.address_id = new_address(self.shopper)

    def call(self, action: str, payload: Any = None) -> Answer:
        return self.shopper.call(action, payload)

    def place(self, lines: list[tuple[str, int]], **payload: Any) -> Answer:
        return self.call("place_order", {
            "request_id": f"req-limit-{next(_request_ids):06d}", "address_id": self.address_id,
            "items": [{"sku_id": sku_id, "quantity": n} for sku_id, n in lines], **payload})

    def pay(self, order_id: str) -> dict[str, Any]:
        paid = self.call("sandbox_pay", {"order_id": order_id}).data
        assert paid["notify_status"] == 204, paid
        return paid["order"]

    def cancel(self, order_id: str) -> None:
        assert self.call("cancel_order", {"order_id": order_id}).data["status"] == "cancelled"


def limited_product(limit: Optional[dict[str, Any]] = None, skus: int = 1, stock: int = 1000,
                    title: str = "限购苹果") -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title, "category_id": new_category(), "images": ["https://img.test/1.png"],
        "skus": [{"specs": {"规格": f"{n}号"}, "price": 1000 + n, "stock": stock}
                 for n in range(1, skus + 1)]}
    if limit is not None:
        body["purchase_limit"] = limit
    return merchant("merchant_upsert_product", body).data


def sku_ids(product: dict[str, Any]) -> list[str]:
    return [s["id"] for s in product["skus"]]


def refused(answer: Answer, code: str) -> dict[str, Any]:
    assert (answer.status, answer.code) == (409, code), answer.body
    error = answer.body["error"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message_zh"]), error
    return error


def counters(db: Any, user_id: str) -> dict[str, int]:
    """The shopper's counts that are not zero: ``unpaid_orders:<user>``, ``unpaid:<user>:<sku>``
    (from the shopper's unpaid counter), ``day:...`` and ``campaign:...``."""
    found = {}
    for doc in db.purchase_counts.find({"user_id": user_id}):
        if doc["_id"].startswith("unpaid:"):
            found[f"unpaid_orders:{user_id}"] = doc.get("orders", 0)
            found.update({f"unpaid:{user_id}:{sku}": n for sku, n in doc.get("skus", {}).items()})
        else:
            found[doc["_id"]] = doc["units"]
    return {key: n for key, n in found.items() if n}


def locked(db: Any, sku_id: str) -> int:
    return db.skus.find_one({"_id": sku_id})["locked"]


def set_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: int) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv(name, str(value))
    reset_settings()


@pytest.fixture
def buyer() -> Buyer:
    return Buyer()


@pytest.fixture
def eager_thread_switching() -> Iterator[None]:
    """Switch threads often, so a race lands between a read and a write of one step."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


# ---- the merchant's fields -------------------------------------------------------------------

def test_the_merchant_sets_a_purchase_limit_and_shoppers_see_it_on_the_product() -> None:
    product = limited_product({"per_order": 2, "per_shopper_per_day": 5})
    expected = {"per_order": 2, "per_shopper_per_day": 5, "per_shopper_per_campaign": None,
                "campaign": None}

    assert product["purchase_limit"] == expected  # the merchant's view
    shown = new_shopper().call("get_product", {"product_id": product["id"]}).data
    assert shown["purchase_limit"] == expected
    listed = new_shopper().call("list_products", {"page_size": 100}).data["items"]
    assert [p["purchase_limit"] for p in listed if p["id"] == product["id"]] == [expected]


def test_an_update_without_a_purchase_limit_lifts_it() -> None:
    product = limited_product({"per_order": 2})
    body = {"product_id": product["id"], "title": product["title"],
            "category_id": product["category_id"],
            "skus": [{"sku_id": s["id"], "specs": s["specs"], "price": s["price"]}
                     for s in product["skus"]]}

    assert merchant("merchant_upsert_product", body).data["purchase_limit"] is None
    assert merchant("merchant_upsert_product", {**body, "purchase_limit": {
        "per_shopper_per_campaign": 3, "campaign": "双11"}}).data["purchase_limit"] == {
        "per_order": None, "per_shopper_per_day": None, "per_shopper_per_campaign": 3,
        "campaign": "双11"}


@pytest.mark.parametrize("limit", [
    {"per_order": 0}, {"per_shopper_per_day": -1}, {"per_order": 1000},
    {"campaign": "双11"},  # a campaign name without its limit
    {"per_order": 2, "per_week": 3},  # unknown fields are refused
    {"per_order": "two"},
])
def test_a_malformed_purchase_limit_is_refused_with_422(limit: dict[str, Any]) -> None:
    answer = merchant("merchant_upsert_product", {
        "title": "苹果", "category_id": new_category(), "skus": [{"price": 100, "stock": 1}],
        "purchase_limit": limit})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


# ---- per order -------------------------------------------------------------------------------

def test_per_order_limit_refuses_a_bigger_order_before_anything_is_written(db: Any,
                                                                            buyer: Buyer) -> None:
    product = limited_product({"per_order": 2})
    sku = sku_ids(product)[0]

    error = refused(buyer.place([(sku, 3)]), "PURCHASE_LIMIT")

    assert error["details"] == {"kind": "per_order", "limit": 2, "already": 0, "requested": 3,
                                "sku": sku, "sku_id": sku, "product_id": product["id"]}
    assert error["message_zh"] == "「限购苹果」每单限购2件"
    assert db.orders.count_documents({}) == 0 and locked(db, sku) == 0
    assert counters(db, buyer.user_id) == {}
    assert buyer.place([(sku, 2)]).data["status"] == "pending_payment"


def test_per_order_limit_counts_the_products_skus_together(buyer: Buyer) -> None:
    small, large = sku_ids(limited_product({"per_order": 3}, skus=2))

    error = refused(buyer.place([(small, 2), (large, 2)]), "PURCHASE_LIMIT")

    assert (error["details"]["requested"], error["details"]["sku"]) == (4, small)
    assert buyer.place([(small, 2), (large, 1)]).ok


# ---- per shopper per day / per campaign --------------------------------------------------------

def test_per_day_limit_counts_paid_orders_and_refuses_beyond_it(db: Any, buyer: Buyer) -> None:
    sku = sku_ids(limited_product({"per_shopper_per_day": 3}))[0]
    buyer.pay(buyer.place([(sku, 2)]).data["id"])
    assert buyer.place([(sku, 1)]).ok  # 2 paid + 1 unpaid: the limit

    error = refused(buyer.place([(sku, 1)]), "PURCHASE_LIMIT")

    assert {k: error["details"][k] for k in ("kind", "limit", "already", "requested", "sku")} == \
        {"kind": "per_shopper_per_day", "limit": 3, "already": 3, "requested": 1, "sku": sku}
    assert error["message_zh"] == "「限购苹果」每人每天限购3件，今天已购3件"
    assert Buyer().place([(sku, 3)]).ok  # another shopper has a limit of their own


def test_per_day_limit_starts_afresh_the_next_day_in_china(db: Any, clock: Clock) -> None:
    # 15:30 UTC is 23:30 in Shanghai: an hour later it is the next day there
    clock.now = clock.now.replace(hour=15, minute=30)
    buyer = Buyer()
    sku = sku_ids(limited_product({"per_shopper_per_day": 1}))[0]
    buyer.pay(buyer.place([(sku, 1)]).data["id"])
    refused(buyer.place([(sku, 1)]), "PURCHASE_LIMIT")

    clock.advance(hours=1)

    assert buyer.place([(sku, 1)]).ok


def test_per_campaign_limit_spans_days_and_a_new_campaign_counts_afresh(clock: Clock) -> None:
    buyer = Buyer()
    product = limited_product({"per_shopper_per_campaign": 2, "campaign": "双11"})
    sku = sku_ids(product)[0]
    buyer.pay(buyer.place([(sku, 2)]).data["id"])
    clock.advance(days=3)

    error = refused(buyer.place([(sku, 1)]), "PURCHASE_LIMIT")
    assert (error["details"]["kind"], error["details"]["already"]) == \
        ("per_shopper_per_campaign", 2)
    assert error["message_zh"] == "「限购苹果」活动期间每人限购2件，已购2件"

    merchant("merchant_upsert_product", {
        "product_id": product["id"], "title": product["title"],
        "category_id": product["category_id"],
        "skus": [{"sku_id": sku, "specs": product["skus"][0]["specs"], "price": 1001}],
        "purchase_limit": {"per_shopper_per_campaign": 2, "campaign": "双12"}}).data
    assert buyer.place([(sku, 2)]).ok


def test_a_limit_taken_by_an_unpaid_order_comes_back_when_it_is_cancelled(db: Any,
                                                                          buyer: Buyer) -> None:
    sku = sku_ids(limited_product({"per_shopper_per_day": 2}))[0]
    order = buyer.place([(sku, 2)]).data
    refused(buyer.place([(sku, 1)]), "PURCHASE_LIMIT")

    buyer.cancel(order["id"])

    assert counters(db, buyer.user_id) == {}
    assert buyer.place([(sku, 2)]).ok


def test_a_limit_taken_by_an_unpaid_order_comes_back_when_it_times_out(db: Any,
                                                                       buyer: Buyer) -> None:
    sku = sku_ids(limited_product({"per_shopper_per_day": 2}))[0]
    order = buyer.place([(sku, 2)]).data
    db.orders.update_one({"_id": order["id"]},
                         {"$set": {"pay_deadline": Clock().now - timedelta(seconds=1)}})

    assert merchant("dev_run_timer", {"name": "order_timeout"}).data["result"]["cancelled"] == 1

    assert counters(db, buyer.user_id) == {}
    assert buyer.place([(sku, 2)]).ok


def test_counters_come_back_when_placement_fails_on_a_later_line(db: Any, buyer: Buyer) -> None:
    plenty = sku_ids(limited_product({"per_shopper_per_day": 5}))[0]
    scarce = sku_ids(limited_product(stock=1, title="稀缺"))[0]

    answer = buyer.place([(plenty, 2), (scarce, 2)])

    assert answer.code == "OUT_OF_STOCK"
    assert counters(db, buyer.user_id) == {} and locked(db, plenty) == 0
    assert buyer.place([(plenty, 5)]).ok


# ---- the unpaid ceilings -------------------------------------------------------------------------

def test_units_of_one_sku_held_unpaid_stop_at_the_ceiling(db: Any, buyer: Buyer) -> None:
    sku = sku_ids(limited_product())[0]  # no limit of the merchant's: the default ceiling, 20

    first = refused(buyer.place([(sku, 21)]), "TOO_MANY_UNPAID")
    assert (first["details"]["kind"], first["details"]["limit"], first["details"]["already"],
            first["details"]["sku"]) == ("unpaid_units", 20, 0, sku)
    assert first["message_zh"] == "「限购苹果」一次最多下单20件"
    order = buyer.place([(sku, 15)]).data

    error = refused(buyer.place([(sku, 6)]), "TOO_MANY_UNPAID")

    assert (error["details"]["already"], error["details"]["requested"]) == (15, 6)
    assert error["message_zh"] == "「限购苹果」待支付订单中已有15件，最多20件，请先支付或取消"
    buyer.pay(order["id"])  # paid units are bought, no longer held unpaid
    assert buyer.place([(sku, 20)]).ok
    assert counters(db, buyer.user_id)[f"unpaid:{buyer.user_id}:{sku}"] == 20


def test_the_unpaid_units_ceiling_is_a_setting(monkeypatch: pytest.MonkeyPatch,
                                               buyer: Buyer) -> None:
    set_setting(monkeypatch, "MAX_UNPAID_UNITS_PER_SKU", 3)
    sku = sku_ids(limited_product())[0]

    assert refused(buyer.place([(sku, 4)]), "TOO_MANY_UNPAID")["details"]["limit"] == 3
    assert buyer.place([(sku, 3)]).ok


def test_a_shopper_holds_at_most_five_unpaid_orders(db: Any, buyer: Buyer) -> None:
    sku = sku_ids(limited_product())[0]
    orders = [buyer.place([(sku, 1)]).data for _ in range(5)]

    error = refused(buyer.place([(sku, 1)]), "TOO_MANY_UNPAID")

    assert (error["details"]["kind"], error["details"]["limit"], error["details"]["already"]) == \
        ("unpaid_orders", 5, 5)
    assert error["message_zh"] == "您有5个待支付订单，请先支付或取消后再下单"
    assert db.orders.count_documents({"user_id": buyer.user_id}) == 5
    buyer.pay(orders[0]["id"])
    assert buyer.place([(sku, 1)]).ok
    buyer.cancel(orders[1]["id"])
    assert buyer.place([(sku, 1)]).ok
    refused(buyer.place([(sku, 1)]), "TOO_MANY_UNPAID")
    assert Buyer().place([(sku, 1)]).ok


def test_the_unpaid_orders_ceiling_is_a_setting(monkeypatch: pytest.MonkeyPatch,
                                                buyer: Buyer) -> None:
    set_setting(monkeypatch, "MAX_UNPAID_ORDERS", 2)
    sku = sku_ids(limited_product())[0]
    buyer.place([(sku, 1)]).data
    buyer.place([(sku, 1)]).data

    assert refused(buyer.place([(sku, 1)]), "TOO_MANY_UNPAID")["details"]["limit"] == 2


def test_a_counter_whose_event_was_lost_does_not_lock_the_shopper_out(db: Any,
                                                                      buyer: Buyer) -> None:
    sku = sku_ids(limited_product())[0]
    orders = [buyer.place([(sku, 4)]).data for _ in range(5)]
    # the instance died after these orders turned paid, before order_paid was heard
    db.orders.update_many({"_id": {"$in": [o["id"] for o in orders[:2]]}},
                          {"$set": {"status": "paid"}})

    assert buyer.place([(sku, 8)]).ok

    assert counters(db, buyer.user_id) == {f"unpaid:{buyer.user_id}:{sku}": 20,
                                           f"unpaid_orders:{buyer.user_id}": 4}


# ---- the attack of issue 12 --------------------------------------------------------------------

def test_one_shopper_cannot_lock_the_catalogue_by_ordering_every_sku_at_the_maximum(
        db: Any, buyer: Buyer) -> None:
    catalogue = [sku for n in range(5)
                 for sku in sku_ids(limited_product(skus=5, stock=999, title=f"商品{n}"))]
    every_sku_at_max = [(sku, 999) for sku in catalogue]

    for _ in range(3):
        error = refused(buyer.place(every_sku_at_max), "TOO_MANY_UNPAID")
        assert error["details"]["limit"] == 20
    assert db.orders.count_documents({}) == 0
    assert sum(locked(db, sku) for sku in catalogue) == 0

    # at the ceiling, once: then again and again is refused
    assert buyer.place([(sku, 20) for sku in catalogue]).ok
    for _ in range(3):
        refused(buyer.place([(sku, 1) for sku in catalogue]), "TOO_MANY_UNPAID")
        refused(buyer.place([(catalogue[0], 1)]), "TOO_MANY_UNPAID")
    assert [locked(db, sku) for sku in catalogue] == [20] * len(catalogue)
    assert db.orders.count_documents({"status": "pending_payment"}) == 1


# ---- campaigns go through the same placement ---------------------------------------------------

def test_group_buy_orders_count_in_the_purchase_limit(db: Any) -> None:
    from tests.unit.test_groupbuy import Buyer as GroupBuyer
    from tests.unit.test_groupbuy import campaign_doc, make_campaign
    product = limited_product({"per_shopper_per_day": 1})
    campaign = make_campaign(product, team_size=3, stock_limit=10, per_user_limit=5)
    buyer = GroupBuyer()
    buyer.lead(campaign)

    answer = buyer.start(campaign)

    refused(answer, "PURCHASE_LIMIT")
    assert campaign_doc(db, campaign["id"])["remaining"] == 9  # the campaign's unit came back


def test_group_buy_orders_count_in_the_unpaid_orders_ceiling(db: Any) -> None:
    from tests.unit.test_groupbuy import Buyer as GroupBuyer
    from tests.unit.test_groupbuy import campaign_doc, make_campaign
    product = limited_product()
    campaign = make_campaign(product, team_size=3, stock_limit=10, per_user_limit=10)
    buyer = GroupBuyer()
    for _ in range(5):
        buyer.lead(campaign, pay=False)

    refused(buyer.start(campaign), "TOO_MANY_UNPAID")
    assert campaign_doc(db, campaign["id"])["remaining"] == 5


def test_a_bargain_buy_counts_in_the_purchase_limit(db: Any, buyer: Buyer) -> None:
    from tests.unit.test_bargain import _buy, _create, _start
    sku = sku_ids(limited_product({"per_shopper_per_day": 1}))[0]
    campaign = _create(sku).data
    buyer.pay(buyer.place([(sku, 1)]).data["id"])
    bargain = _start(buyer.shopper, campaign["id"])

    refused(_buy(buyer.shopper, bargain["id"]), "PURCHASE_LIMIT")


def test_a_deal_order_counts_in_the_purchase_limit(db: Any) -> None:
    from tests.unit.test_nearby import new_deal, order_deal, store_at
    store = store_at(0, 100)
    sku = sku_ids(limited_product({"per_order": 1}))[0]
    deal = new_deal(sku, [store["id"]], 600, daily_quantity=5)

    refused(order_deal(new_shopper(), deal, store["id"], quantity=2), "PURCHASE_LIMIT")
    assert [d["sold"] for d in db.deal_daily.find()] in ([], [0])


# ---- concurrency: real threads -------------------------------------------------------------------

def outcomes(results: list[Any]) -> list[str]:
    assert not [r for r in results if isinstance(r, Exception)], results
    return sorted("placed" if r.ok else r.code for r in results)


@pytest.mark.usefixtures("eager_thread_switching")
def test_concurrent_orders_of_one_shopper_never_pass_the_per_day_limit_together(
        db: Any, buyer: Buyer) -> None:
    for round_ in range(3):  # three races: a missing condition shows in one at least
        sku = sku_ids(limited_product({"per_shopper_per_day": 3}))[0]

        results = run_threads(20, lambda i: buyer.place([(sku, 1)]))  # noqa: B023

        assert outcomes(results) == ["PURCHASE_LIMIT"] * 17 + ["placed"] * 3
        assert locked(db, sku) == 3
        assert [units for key, units in counters(db, buyer.user_id).items()
                if key.startswith("day:")] == [3] * (round_ + 1)
        for order in db.orders.find({"user_id": buyer.user_id, "status": "pending_payment"}):
            buyer.pay(order["_id"])  # the unpaid orders ceiling stays out of the next race


@pytest.mark.usefixtures("eager_thread_switching")
def test_concurrent_orders_of_one_shopper_stop_at_five_unpaid(db: Any, buyer: Buyer) -> None:
    sku = sku_ids(limited_product())[0]

    results = run_threads(16, lambda i: buyer.place([(sku, 1)]))

    assert outcomes(results) == ["TOO_MANY_UNPAID"] * 11 + ["placed"] * 5
    assert db.orders.count_documents({"status": "pending_payment"}) == 5
    assert locked(db, sku) == 5


@pytest.mark.usefixtures("eager_thread_switching")
def test_concurrent_orders_of_one_shopper_stop_at_the_unpaid_units_ceiling(
        db: Any, buyer: Buyer, monkeypatch: pytest.MonkeyPatch) -> None:
    set_setting(monkeypatch, "MAX_UNPAID_ORDERS", 100)
    sku = sku_ids(limited_product())[0]

    results = run_threads(12, lambda i: buyer.place([(sku, 3)]))

    assert outcomes(results) == ["TOO_MANY_UNPAID"] * 6 + ["placed"] * 6  # 18 of 20 units
    assert locked(db, sku) == 18


@pytest.mark.usefixtures("eager_thread_switching")
def test_concurrent_cancels_and_orders_keep_the_counter_equal_to_the_live_orders(
        db: Any, buyer: Buyer) -> None:
    sku = sku_ids(limited_product({"per_shopper_per_day": 4}))[0]
    placed = [buyer.place([(sku, 1)]).data["id"] for _ in range(4)]

    def step(i: int) -> Any:
        if i < 4:
            return buyer.call("cancel_order", {"order_id": placed[i]})
        return buyer.place([(sku, 1)])
    results = run_threads(10, step)

    assert not [r for r in results if isinstance(r, Exception)]
    live = db.orders.count_documents({"user_id": buyer.user_id, "status": "pending_payment"})
    assert live <= 4
    held = counters(db, buyer.user_id)
    assert held.get(f"unpaid_orders:{buyer.user_id}", 0) == live
    assert held.get(f"unpaid:{buyer.user_id}:{sku}", 0) == live == locked(db, sku)


@pytest.mark.usefixtures("eager_thread_switching")
def test_retries_of_the_order_that_fills_the_ceiling_answer_that_order(db: Any,
                                                                       buyer: Buyer) -> None:
    sku = sku_ids(limited_product())[0]
    for _ in range(4):
        buyer.place([(sku, 1)]).data
    payload = {"request_id": "the-fifth-order", "address_id": buyer.address_id,
               "items": [{"sku_id": sku, "quantity": 1}]}

    results = run_threads(12, lambda i: buyer.call("place_order", payload))

    assert outcomes(results) == ["placed"] * 12
    assert len({r.data["id"] for r in results}) == 1


def test_the_demo_shop_limits_its_scarce_durian(db: Any, buyer: Buyer) -> None:
    from shared.demo.seed import seed
    seed(db)

    shown = buyer.call("get_product", {"product_id": "prd_007"}).data
    assert shown["purchase_limit"]["per_order"] == 2
    refused(buyer.place([("sku_007_1", 3)]), "PURCHASE_LIMIT")


def test_a_sku_id_that_cannot_be_a_field_name_is_counted_all_the_same(db: Any,
                                                                      buyer: Buyer) -> None:
    product = limited_product()
    odd = "odd.sku$1"
    merchant("merchant_upsert_product", {
        "product_id": product["id"], "title": product["title"],
        "category_id": product["category_id"],
        "skus": [{"sku_id": odd, "specs": {"规格": "奇"}, "price": 500, "stock": 50}]}).data
    order = buyer.place([(odd, 15)]).data

    refused(buyer.place([(odd, 6)]), "TOO_MANY_UNPAID")

    buyer.cancel(order["id"])
    assert counters(db, buyer.user_id) == {}
    # nobody holds it: the shopper's unpaid counter stays at zero, holding no order
    assert [(c["holders"], c["orders"]) for c in db.purchase_counts.find()] == [({}, 0)]
