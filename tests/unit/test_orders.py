"""Orders: the state machine, placing rules, the pay deadline, the order_timeout reconciler,
and listing."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper

_request_ids = itertools.count(1)


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Buyer:
    """A shopper with an address, placing orders with fresh request ids."""

    def __init__(self, name=None):
        self.shopper = new_shopper(name)
        self.address_id = new_address(self.shopper)

    def call(self, action, payload=None):
        return self.shopper.call(action, payload)

    def place(self, sku_id=None, quantity=1, **payload):
        body = {"request_id": f"req-order-{next(_request_ids):05d}",
                "address_id": self.address_id}
        if sku_id is not None:
            body["items"] = [{"sku_id": sku_id, "quantity": quantity}]
        body.update(payload)
        return self.call("place_order", body)


@pytest.fixture
def buyer():
    return Buyer()


@pytest.fixture
def product():
    return new_product(price=1000, stock=10)


@pytest.fixture
def sku_id(product):
    return product["skus"][0]["id"]


def _stock(db, sku_id):
    sku = db.skus.find_one({"_id": sku_id})
    return sku["stock"], sku["locked"], sku["sold"]


def _ship(order_id):
    return merchant("merchant_ship_order", {"order_id": order_id, "carrier": "SF",
                                            "tracking_no": "SF1234567890"})


def _run_order_timeout():
    return merchant("dev_run_timer", {"name": "order_timeout"}).data["result"]


# ---- the state machine ----------------------------------------------------------------------

def test_placed_order_waits_for_payment_with_its_stock_locked(buyer, sku_id, db):
    order = buyer.place(sku_id, 3).data

    assert (order["status"], order["goods_total"], order["total"]) == ("pending_payment", 3000,
                                                                      3000)
    assert _stock(db, sku_id) == (7, 3, 0)


def test_unpaid_order_cannot_be_shipped(buyer, sku_id):
    order = buyer.place(sku_id).data

    answer = _ship(order["id"])

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert answer.body["error"]["details"]["status"] == "pending_payment"


def test_unshipped_order_cannot_be_confirmed(buyer, sku_id):
    order = buyer.place(sku_id).data

    answer = buyer.call("confirm_receipt", {"order_id": order["id"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_paid_but_unshipped_order_cannot_be_confirmed(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})

    answer = buyer.call("confirm_receipt", {"order_id": order["id"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_paid_order_cannot_be_cancelled(buyer, sku_id, db):
    order = buyer.place(sku_id, 2).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})

    answer = buyer.call("cancel_order", {"order_id": order["id"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert _stock(db, sku_id) == (8, 0, 2)


def test_cancelling_twice_is_the_same_as_once(buyer, sku_id, db):
    order = buyer.place(sku_id, 2).data
    first = buyer.call("cancel_order", {"order_id": order["id"]})

    second = buyer.call("cancel_order", {"order_id": order["id"]})

    assert (first.status, second.status) == (200, 200)
    assert second.data["status"] == "cancelled"
    assert second.data["cancelled_at"] == first.data["cancelled_at"]
    assert _stock(db, sku_id) == (10, 0, 0)


def test_cancelled_order_cannot_be_paid(buyer, sku_id):
    order = buyer.place(sku_id).data
    buyer.call("cancel_order", {"order_id": order["id"]})

    answer = merchant("merchant_mark_paid", {"order_id": order["id"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_paying_sells_the_locked_units_and_counts_the_sales(buyer, product, sku_id, db):
    order = buyer.place(sku_id, 2).data

    merchant("merchant_mark_paid", {"order_id": order["id"]})

    assert _stock(db, sku_id) == (8, 0, 2)
    assert db.products.find_one({"_id": product["id"]})["sales"] == 2


def test_paying_twice_sells_the_units_once(buyer, sku_id, db):
    order = buyer.place(sku_id, 2).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})

    again = merchant("merchant_mark_paid", {"order_id": order["id"]})

    assert again.data["status"] == "paid"
    assert _stock(db, sku_id) == (8, 0, 2)


def test_shipping_a_paid_order_records_the_shipment(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})

    shipped = _ship(order["id"]).data

    assert shipped["status"] == "shipped"
    assert shipped["shipment"] == {"carrier": "SF", "tracking_no": "SF1234567890"}


def test_shipping_again_with_the_same_shipment_is_a_no_op(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})
    first = _ship(order["id"]).data

    assert _ship(order["id"]).data["shipped_at"] == first["shipped_at"]


def test_shipping_again_with_another_tracking_number_is_refused(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})
    _ship(order["id"])

    answer = merchant("merchant_ship_order", {"order_id": order["id"], "carrier": "SF",
                                              "tracking_no": "OTHER1"})

    assert answer.code == "INVALID_STATE"


def test_shipped_order_cannot_be_cancelled(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})
    _ship(order["id"])

    assert buyer.call("cancel_order", {"order_id": order["id"]}).code == "INVALID_STATE"


def test_confirming_twice_is_the_same_as_once(buyer, sku_id):
    order = buyer.place(sku_id).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})
    _ship(order["id"])
    first = buyer.call("confirm_receipt", {"order_id": order["id"]}).data

    second = buyer.call("confirm_receipt", {"order_id": order["id"]}).data

    assert second["status"] == "completed"
    assert second["completed_at"] == first["completed_at"]


def test_shipping_an_unknown_order_is_404():
    assert _ship("ord_nope").status == 404


# ---- placing --------------------------------------------------------------------------------

def test_place_order_with_both_items_and_from_cart_is_422(buyer, sku_id):
    answer = buyer.place(sku_id, from_cart=True)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_place_order_with_neither_items_nor_from_cart_is_422(buyer):
    assert buyer.place().status == 422


def test_place_order_with_an_empty_item_list_is_422(buyer):
    assert buyer.place(items=[]).status == 422


def test_place_order_from_an_empty_cart_is_422(buyer):
    answer = buyer.place(from_cart=True)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert answer.body["error"]["details"]["fields"][0]["field"] == "from_cart"


def test_place_order_from_a_cart_with_no_selected_line_is_422(buyer, sku_id):
    buyer.call("cart_add", {"sku_id": sku_id})
    buyer.call("cart_update", {"sku_id": sku_id, "selected": False})

    assert buyer.place(from_cart=True).status == 422


def test_place_order_from_the_cart_takes_only_the_selected_lines(buyer, sku_id):
    other = new_product(title="梨", price=300)["skus"][0]["id"]
    buyer.call("cart_add", {"sku_id": sku_id, "quantity": 2})
    buyer.call("cart_add", {"sku_id": other, "quantity": 1})
    buyer.call("cart_update", {"sku_id": other, "selected": False})

    order = buyer.place(from_cart=True).data

    assert [(i["sku_id"], i["quantity"]) for i in order["items"]] == [(sku_id, 2)]
    assert [line["sku_id"] for line in buyer.call("cart_list").data["items"]] == [other]


def test_place_order_of_an_off_shelf_product_is_409(buyer, product, sku_id, db):
    merchant("merchant_upsert_product", {
        "product_id": product["id"], "title": product["title"],
        "category_id": product["category_id"], "status": "off_shelf",
        "skus": [{"sku_id": sku_id, "price": 1000}]})

    answer = buyer.place(sku_id)

    assert (answer.status, answer.code) == (409, "PRODUCT_UNAVAILABLE")
    assert _stock(db, sku_id) == (10, 0, 0)


def test_place_order_of_an_unknown_sku_is_404(buyer):
    answer = buyer.place("sku_nope")

    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert answer.body["error"]["details"]["sku_id"] == "sku_nope"


def test_place_order_of_a_retired_sku_is_404(buyer):
    product = new_product(skus=2)
    kept, retired = product["skus"]
    merchant("merchant_upsert_product", {
        "product_id": product["id"], "title": product["title"],
        "category_id": product["category_id"],
        "skus": [{"sku_id": kept["id"], "price": kept["price"]}]})

    assert buyer.place(retired["id"]).status == 404


def test_place_order_with_an_unknown_address_is_404(buyer, sku_id, db):
    answer = buyer.place(sku_id, address_id="adr_nope")

    assert answer.status == 404
    assert _stock(db, sku_id) == (10, 0, 0)


def test_place_order_beyond_the_stock_is_409_and_reserves_nothing(buyer, db):
    plenty = new_product(title="多", stock=10)["skus"][0]["id"]
    scarce = new_product(title="少", stock=1)["skus"][0]["id"]

    answer = buyer.place(items=[{"sku_id": plenty, "quantity": 3},
                                {"sku_id": scarce, "quantity": 2}])

    assert (answer.status, answer.code) == (409, "OUT_OF_STOCK")
    assert _stock(db, plenty) == (10, 0, 0)
    assert _stock(db, scarce) == (1, 0, 0)
    assert buyer.call("list_orders").data["total"] == 0


def test_place_order_merges_lines_of_the_same_sku(buyer, sku_id):
    order = buyer.place(items=[{"sku_id": sku_id, "quantity": 1},
                               {"sku_id": sku_id, "quantity": 2}]).data

    assert [(i["sku_id"], i["quantity"]) for i in order["items"]] == [(sku_id, 3)]



def test_place_order_with_a_short_request_id_is_422(buyer, sku_id):
    assert buyer.place(sku_id, request_id="short").status == 422


def test_place_order_snapshots_the_address(buyer, sku_id):
    order = buyer.place(sku_id).data
    buyer.call("update_address", {"address_id": buyer.address_id, "detail": "新地址"})

    kept = buyer.call("get_order", {"order_id": order["id"]}).data

    assert kept["address"]["detail"] == "世纪大道100号"


def test_retried_place_order_returns_the_same_order(buyer, sku_id, db):
    first = buyer.place(sku_id, request_id="req-retry-0001").data

    again = buyer.place(sku_id, request_id="req-retry-0001").data

    assert again["id"] == first["id"]
    assert _stock(db, sku_id) == (9, 1, 0)


# ---- the pay deadline -----------------------------------------------------------------------

def test_pay_deadline_is_fifteen_minutes_after_creation_by_default(buyer, sku_id):
    order = buyer.place(sku_id).data

    assert _parse(order["pay_deadline"]) - _parse(order["created_at"]) == timedelta(seconds=900)


def test_pay_deadline_follows_order_pay_timeout_seconds(buyer, sku_id, monkeypatch):
    from shared.core.config import reset_settings
    monkeypatch.setenv("ORDER_PAY_TIMEOUT_SECONDS", "120")
    reset_settings()

    order = buyer.place(sku_id).data

    assert _parse(order["pay_deadline"]) - _parse(order["created_at"]) == timedelta(seconds=120)


# ---- the order_timeout reconciler -----------------------------------------------------------

def _expire(db, order_id):
    db.orders.update_one({"_id": order_id}, {"$set": {
        "pay_deadline": datetime.now(timezone.utc) - timedelta(seconds=1)}})


def test_order_timeout_cancels_an_order_past_its_deadline(buyer, sku_id, db):
    order = buyer.place(sku_id, 4).data
    _expire(db, order["id"])

    result = _run_order_timeout()

    assert result["cancelled"] == 1
    cancelled = buyer.call("get_order", {"order_id": order["id"]}).data
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "timeout")
    assert _stock(db, sku_id) == (10, 0, 0)


def test_order_timeout_keeps_an_order_before_its_deadline(buyer, sku_id, db):
    order = buyer.place(sku_id, 4).data

    result = _run_order_timeout()

    assert result["cancelled"] == 0
    assert buyer.call("get_order", {"order_id": order["id"]}).data["status"] == "pending_payment"
    assert _stock(db, sku_id) == (6, 4, 0)


def test_order_timeout_leaves_paid_orders_alone(buyer, sku_id, db):
    order = buyer.place(sku_id, 2).data
    merchant("merchant_mark_paid", {"order_id": order["id"]})
    _expire(db, order["id"])

    assert _run_order_timeout()["cancelled"] == 0
    assert _stock(db, sku_id) == (8, 0, 2)


def test_order_timeout_run_twice_releases_stock_once(buyer, sku_id, db):
    order = buyer.place(sku_id, 4).data
    _expire(db, order["id"])

    first, second = _run_order_timeout(), _run_order_timeout()

    assert (first["cancelled"], second["cancelled"]) == (1, 0)
    assert _stock(db, sku_id) == (10, 0, 0)


def test_order_timeout_returns_the_coupon_of_an_expired_order(buyer, sku_id, db):
    template = merchant("merchant_create_coupon", {
        "name": "减1元", "kind": "fixed", "amount": 100, "total": 5, "valid_days": 1}).data
    coupon = buyer.call("claim_coupon", {"coupon_id": template["id"]}).data
    order = buyer.place(sku_id, coupon_id=coupon["id"]).data
    _expire(db, order["id"])

    _run_order_timeout()

    assert db.user_coupons.find_one({"_id": coupon["id"]})["status"] == "available"


def test_order_timeout_works_in_bounded_batches(buyer, sku_id, db, monkeypatch):
    from shared.core.config import reset_settings
    orders = [buyer.place(sku_id).data["id"] for _ in range(3)]
    for order_id in orders:
        _expire(db, order_id)
    monkeypatch.setenv("TIMER_BATCH_SIZE", "2")
    reset_settings()

    first, second = _run_order_timeout(), _run_order_timeout()

    assert (first["cancelled"], first["more"]) == (2, True)
    assert (second["cancelled"], second["more"]) == (1, False)


def _stale_placement(db, user_id, lines, minutes_old):
    """An order a crashed place_order left in "reserving": the units of every line marked
    "locked" were taken from the SKU's stock into locked, the rest were never reserved."""
    created = datetime.now(timezone.utc) - timedelta(minutes=minutes_old)
    items = []
    for sku_id, quantity, stock in lines:
        items.append({"sku_id": sku_id, "product_id": db.skus.find_one({"_id": sku_id})[
            "product_id"], "title": "苹果", "specs": {}, "image": "", "price": 1000,
            "quantity": quantity, "subtotal": 1000 * quantity, "stock": stock})
        if stock == "locked":
            db.skus.update_one({"_id": sku_id}, {"$inc": {"stock": -quantity,
                                                         "locked": quantity}})
    order_id = f"ord_stale_{minutes_old}"
    db.orders.insert_one({
        "_id": order_id, "user_id": user_id, "request_id": f"req-stale-{minutes_old}",
        "status": "reserving", "items": items, "goods_total": 0, "discount": 0,
        "shipping_fee": 0, "total": 0, "coupon_id": None, "address": {}, "note": "",
        "created_at": created, "pay_deadline": created + timedelta(minutes=15)})
    return order_id


def test_order_timeout_releases_a_placement_stuck_for_over_ten_minutes(buyer, db):
    first = new_product(title="甲", stock=10)["skus"][0]["id"]
    second = new_product(title="乙", stock=10)["skus"][0]["id"]
    order_id = _stale_placement(db, buyer.shopper.user_id,
                                [(first, 3, "locked"), (second, 2, "none")], minutes_old=11)

    result = _run_order_timeout()

    assert result["abandoned"] == 1
    assert _stock(db, first) == (10, 0, 0)
    assert _stock(db, second) == (10, 0, 0)
    assert db.orders.find_one({"_id": order_id})["status"] == "failed"


def test_order_timeout_leaves_a_placement_younger_than_ten_minutes(buyer, db):
    sku_id = new_product(stock=10)["skus"][0]["id"]
    order_id = _stale_placement(db, buyer.shopper.user_id, [(sku_id, 3, "locked")],
                                minutes_old=5)

    assert _run_order_timeout()["abandoned"] == 0
    assert db.orders.find_one({"_id": order_id})["status"] == "reserving"
    assert _stock(db, sku_id) == (7, 3, 0)


def test_released_stuck_placement_is_not_released_twice(buyer, db):
    sku_id = new_product(stock=10)["skus"][0]["id"]
    _stale_placement(db, buyer.shopper.user_id, [(sku_id, 3, "locked")], minutes_old=11)

    _run_order_timeout()
    second = _run_order_timeout()

    assert (second["abandoned"], second["repaired"]) == (0, 0)
    assert _stock(db, sku_id) == (10, 0, 0)


def test_failed_placement_is_not_shown_to_the_shopper(buyer, db):
    sku_id = new_product(stock=10)["skus"][0]["id"]
    order_id = _stale_placement(db, buyer.shopper.user_id, [(sku_id, 3, "locked")],
                                minutes_old=11)
    _run_order_timeout()

    assert buyer.call("get_order", {"order_id": order_id}).status == 404
    assert buyer.call("list_orders").data["total"] == 0


def test_order_timeout_returns_the_coupon_of_a_placement_that_crashed(buyer, sku_id, db,
                                                                      monkeypatch):
    from shared.orders import placement
    template = merchant("merchant_create_coupon", {
        "name": "减1元", "kind": "fixed", "amount": 100, "total": 5, "valid_days": 1}).data
    coupon = buyer.call("claim_coupon", {"coupon_id": template["id"]}).data

    def crash(*args):
        raise RuntimeError("the function instance died here")
    # the instance dies after binding the coupon: nothing in-process gets to undo it
    with monkeypatch.context() as patch:
        patch.setattr(placement, "_reserve_lines", crash)
        patch.setattr(placement, "_undo_placement", lambda *args: None)
        assert buyer.place(sku_id, coupon_id=coupon["id"]).status == 500
    db.orders.update_many({"status": "reserving"}, {"$set": {
        "created_at": datetime.now(timezone.utc) - timedelta(minutes=11)}})

    assert _run_order_timeout()["abandoned"] == 1

    assert db.user_coupons.find_one({"_id": coupon["id"]})["status"] == "available"


def test_order_timeout_repairs_a_cancelled_order_still_holding_stock(buyer, sku_id, db):
    order = buyer.place(sku_id, 3).data
    # a crash between the cancel and the release leaves the lines locked
    db.orders.update_one({"_id": order["id"]}, {"$set": {"status": "cancelled"}})

    result = _run_order_timeout()

    assert result["repaired"] == 1
    assert _stock(db, sku_id) == (10, 0, 0)


def test_order_timeout_through_the_runtime_reports_its_counts():
    from shared.core.dispatch import run_timer

    outcome = run_timer("order_timeout")

    assert outcome.status == 200
    assert outcome.envelope["data"] == {"cancelled": 0, "abandoned": 0, "repaired": 0,
                                        "more": False}


# ---- listing --------------------------------------------------------------------------------

def test_list_orders_pages_the_shoppers_orders(buyer, sku_id):
    placed = {buyer.place(sku_id).data["id"] for _ in range(5)}

    pages = [buyer.call("list_orders", {"page": n, "page_size": 2}).data for n in (1, 2, 3)]

    assert [(p["total"], p["pages"], len(p["items"])) for p in pages] == [(5, 3, 2), (5, 3, 2),
                                                                         (5, 3, 1)]
    assert {o["id"] for p in pages for o in p["items"]} == placed


def test_list_orders_shows_the_newest_first(buyer, sku_id, db):
    older, newer = buyer.place(sku_id).data["id"], buyer.place(sku_id).data["id"]
    db.orders.update_one({"_id": older}, {"$set": {
        "created_at": datetime.now(timezone.utc) - timedelta(hours=1)}})

    assert [o["id"] for o in buyer.call("list_orders").data["items"]] == [newer, older]


def test_list_orders_filters_by_status(buyer, sku_id):
    orders = [buyer.place(sku_id).data["id"] for _ in range(3)]
    buyer.call("cancel_order", {"order_id": orders[0]})

    cancelled = buyer.call("list_orders", {"status": "cancelled"}).data
    pending = buyer.call("list_orders", {"status": "pending_payment"}).data

    assert [o["id"] for o in cancelled["items"]] == [orders[0]]
    assert (cancelled["total"], pending["total"]) == (1, 2)


def test_list_orders_refuses_an_unknown_status_with_422(buyer):
    assert buyer.call("list_orders", {"status": "reserving"}).status == 422


def test_list_orders_shows_only_the_shoppers_own_orders(buyer, sku_id):
    other = Buyer()
    other.place(sku_id)
    mine = buyer.place(sku_id).data["id"]

    assert [o["id"] for o in buyer.call("list_orders").data["items"]] == [mine]


def test_merchant_list_orders_sees_every_shoppers_orders(buyer, sku_id):
    other = Buyer()
    placed = {buyer.place(sku_id).data["id"], other.place(sku_id).data["id"]}

    data = merchant("merchant_list_orders").data

    assert {o["id"] for o in data["items"]} == placed
    assert {o["user_id"] for o in data["items"]} == {buyer.shopper.user_id,
                                                      other.shopper.user_id}


def test_merchant_list_orders_filters_by_shopper_and_status(buyer, sku_id):
    other = Buyer()
    mine = buyer.place(sku_id).data["id"]
    other.place(sku_id)
    merchant("merchant_mark_paid", {"order_id": mine})

    by_user = merchant("merchant_list_orders", {"user_id": buyer.shopper.user_id}).data
    by_status = merchant("merchant_list_orders", {"status": "paid"}).data

    assert [o["id"] for o in by_user["items"]] == [mine]
    assert [o["id"] for o in by_status["items"]] == [mine]
