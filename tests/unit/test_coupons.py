"""Coupons: the terms (percent, cap, threshold, fixed), validity, claiming, use by one order."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper

_request_ids = itertools.count(1)


def _template(**terms):
    payload = {"name": "测试券", "kind": "fixed", "amount": 500, "threshold": 0, "total": 100,
               "per_user_limit": 1, "valid_days": 7}
    payload.update(terms)
    if payload["kind"] == "percent":
        payload.pop("amount", None)
    return merchant("merchant_create_coupon", payload)


def _claimed(shopper, **terms):
    template = _template(**terms).data
    return shopper.call("claim_coupon", {"coupon_id": template["id"]}).data


def _order(shopper, sku_id, quantity=1, coupon_id=None):
    payload = {"request_id": f"req-coupon-{next(_request_ids):04d}",
               "address_id": new_address(shopper),
               "items": [{"sku_id": sku_id, "quantity": quantity}]}
    if coupon_id:
        payload["coupon_id"] = coupon_id
    return shopper.call("place_order", payload)


@pytest.fixture
def shopper():
    return new_shopper()


def _sku(price, stock=100):
    return new_product(price=price, stock=stock)["skus"][0]["id"]


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# ---- the terms ------------------------------------------------------------------------------

def test_percent_coupon_takes_its_percent_off(shopper):
    coupon = _claimed(shopper, kind="percent", percent=15)

    order = _order(shopper, _sku(3333), coupon_id=coupon["id"]).data

    assert (order["goods_total"], order["discount"], order["total"]) == (3333, 499, 2834)


def test_percent_coupon_never_takes_more_than_its_cap(shopper):
    coupon = _claimed(shopper, kind="percent", percent=10, cap=500)

    order = _order(shopper, _sku(10000), coupon_id=coupon["id"]).data

    assert (order["discount"], order["total"]) == (500, 9500)


def test_percent_coupon_below_its_cap_takes_the_full_percent(shopper):
    coupon = _claimed(shopper, kind="percent", percent=10, cap=500)

    order = _order(shopper, _sku(3000), coupon_id=coupon["id"]).data

    assert order["discount"] == 300


def test_fixed_coupon_takes_its_amount_off(shopper):
    coupon = _claimed(shopper, amount=2000)

    order = _order(shopper, _sku(5000), coupon_id=coupon["id"]).data

    assert (order["discount"], order["total"]) == (2000, 3000)


def test_fixed_coupon_larger_than_the_order_leaves_one_fen_to_pay(shopper):
    coupon = _claimed(shopper, amount=5000)

    order = _order(shopper, _sku(1000), coupon_id=coupon["id"]).data

    assert (order["discount"], order["total"]) == (999, 1)


def test_coupon_below_its_threshold_is_refused(shopper, db):
    coupon = _claimed(shopper, amount=500, threshold=5000)
    sku_id = _sku(4999, stock=10)

    answer = _order(shopper, sku_id, coupon_id=coupon["id"])

    assert (answer.status, answer.code) == (409, "COUPON_UNAVAILABLE")
    assert answer.body["error"]["details"]["threshold"] == 5000
    assert db.skus.find_one({"_id": sku_id})["stock"] == 10
    assert db.user_coupons.find_one({"_id": coupon["id"]})["status"] == "available"


def test_coupon_at_exactly_its_threshold_applies(shopper):
    coupon = _claimed(shopper, amount=500, threshold=5000)

    order = _order(shopper, _sku(5000), coupon_id=coupon["id"]).data

    assert order["total"] == 4500


def test_threshold_counts_the_whole_goods_total(shopper):
    coupon = _claimed(shopper, amount=500, threshold=5000)

    order = _order(shopper, _sku(2500), quantity=2, coupon_id=coupon["id"]).data

    assert order["discount"] == 500


@pytest.mark.parametrize("coupon, goods_total, expected", [
    ({"kind": "fixed", "amount": 300, "threshold": 0}, 1000, 300),
    ({"kind": "fixed", "amount": 300, "threshold": 1001}, 1000, 0),
    ({"kind": "fixed", "amount": 10_000, "threshold": 0}, 1, 0),
    ({"kind": "percent", "percent": 99, "threshold": 0}, 1, 0),
    ({"kind": "percent", "percent": 99, "threshold": 0}, 100, 99),
    ({"kind": "percent", "percent": 50, "cap": 100, "threshold": 0}, 1000, 100),
])
def test_discount_for_keeps_at_least_one_fen_and_respects_threshold_and_cap(coupon, goods_total,
                                                                           expected):
    from shared.orders.coupons import discount_for

    assert discount_for(coupon, goods_total) == expected


# ---- validity -------------------------------------------------------------------------------

def test_expired_coupon_cannot_be_used(shopper, db):
    coupon = _claimed(shopper)
    db.user_coupons.update_one({"_id": coupon["id"]}, {"$set": {
        "valid_to": datetime.now(timezone.utc) - timedelta(seconds=1)}})

    answer = _order(shopper, _sku(1000), coupon_id=coupon["id"])

    assert (answer.status, answer.code) == (409, "COUPON_UNAVAILABLE")


def test_expired_coupon_is_listed_as_expired_not_available(shopper, db):
    coupon = _claimed(shopper)
    db.user_coupons.update_one({"_id": coupon["id"]}, {"$set": {
        "valid_to": datetime.now(timezone.utc) - timedelta(seconds=1)}})

    available = shopper.call("list_my_coupons", {"status": "available"}).data
    expired = shopper.call("list_my_coupons", {"status": "expired"}).data

    assert available["total"] == 0
    assert [(c["id"], c["status"]) for c in expired["items"]] == [(coupon["id"], "expired")]


def test_coupon_not_yet_valid_cannot_be_used(shopper):
    now = datetime.now(timezone.utc)
    coupon = _claimed(shopper, valid_days=None, valid_from=_iso(now + timedelta(days=1)),
                      valid_to=_iso(now + timedelta(days=2)))

    answer = _order(shopper, _sku(1000), coupon_id=coupon["id"])

    assert (answer.status, answer.code) == (409, "COUPON_UNAVAILABLE")


def test_coupon_with_valid_days_is_valid_from_the_claim(shopper):
    coupon = _claimed(shopper, valid_days=3)

    start = datetime.fromisoformat(coupon["valid_from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(coupon["valid_to"].replace("Z", "+00:00"))
    assert end - start == timedelta(days=3)
    assert abs(start - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_coupon_template_past_its_window_cannot_be_claimed(shopper):
    now = datetime.now(timezone.utc)
    template = _template(valid_days=None, valid_from=_iso(now - timedelta(days=2)),
                         valid_to=_iso(now - timedelta(days=1))).data

    answer = shopper.call("claim_coupon", {"coupon_id": template["id"]})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize("validity", [
    {"valid_days": None},
    {"valid_days": None, "valid_from": "2030-01-01T00:00:00Z"},
    {"valid_days": None, "valid_to": "2030-01-01T00:00:00Z"},
    {"valid_days": 7, "valid_from": "2030-01-01T00:00:00Z", "valid_to": "2030-02-01T00:00:00Z"},
    {"valid_days": None, "valid_from": "2030-02-01T00:00:00Z",
     "valid_to": "2030-01-01T00:00:00Z"},
    {"valid_days": None, "valid_from": "2030-01-01T00:00:00Z",
     "valid_to": "2030-01-01T00:00:00Z"},
    {"valid_days": None, "valid_from": "2030-01-01T00:00:00", "valid_to": "2030-02-01T00:00:00"},
    {"valid_days": 0},
    {"valid_days": 3651},
], ids=["none", "from-only", "to-only", "days-and-window", "to-before-from", "empty-window",
        "naive-times", "zero-days", "over-ten-years"])
def test_create_coupon_refuses_bad_validity_with_422(validity):
    answer = _template(**validity)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


@pytest.mark.parametrize("terms", [
    {"kind": "fixed", "amount": None},
    {"kind": "percent"},
    {"kind": "percent", "percent": 100},
    {"kind": "percent", "percent": 0},
    {"kind": "gift"},
    {"total": 0},
    {"per_user_limit": 0},
    {"threshold": -1},
], ids=["fixed-no-amount", "percent-no-percent", "percent-100", "percent-0", "unknown-kind",
        "total-0", "per-user-0", "negative-threshold"])
def test_create_coupon_refuses_bad_terms_with_422(terms):
    assert _template(**terms).status == 422


@pytest.mark.parametrize("valid_from, valid_to", [
    ("0001-01-01T00:00:00+01:00", "2030-01-01T00:00:00Z"),
    ("2030-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"),
    ("1999-12-31T00:00:00Z", "2030-01-01T00:00:00Z"),
], ids=["year-1-east-of-utc", "year-9999-west-of-utc", "last-century"])
def test_create_coupon_refuses_a_window_outside_2000_to_2100_with_422(valid_from, valid_to):
    answer = _template(valid_days=None, valid_from=valid_from, valid_to=valid_to)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_create_coupon_with_a_window_keeps_it():
    template = _template(valid_days=None, valid_from="2030-01-01T00:00:00Z",
                         valid_to="2030-02-01T08:00:00+08:00").data

    assert (template["valid_from"], template["valid_to"]) == ("2030-01-01T00:00:00Z",
                                                              "2030-02-01T00:00:00Z")


# ---- claiming -------------------------------------------------------------------------------

def test_claim_coupon_puts_a_coupon_in_the_wallet(shopper):
    template = _template(amount=300, threshold=1000).data

    mine = shopper.call("claim_coupon", {"coupon_id": template["id"]}).data

    assert (mine["coupon_id"], mine["status"], mine["amount"], mine["threshold"]) == \
        (template["id"], "available", 300, 1000)
    assert [c["id"] for c in shopper.call("list_my_coupons").data["items"]] == [mine["id"]]


def test_claim_coupon_counts_down_the_remaining(shopper):
    template = _template(total=5).data

    shopper.call("claim_coupon", {"coupon_id": template["id"]})

    [listed] = merchant("merchant_list_coupons").data["items"]
    assert (listed["claimed"], listed["remaining"]) == (1, 4)


def test_claim_coupon_stops_at_the_per_user_limit(shopper):
    template = _template(per_user_limit=2).data
    for _ in range(2):
        assert shopper.call("claim_coupon", {"coupon_id": template["id"]}).status == 200

    answer = shopper.call("claim_coupon", {"coupon_id": template["id"]})

    assert (answer.status, answer.code) == (409, "COUPON_LIMIT_REACHED")
    assert shopper.call("list_my_coupons").data["total"] == 2


def test_per_user_limit_does_not_stop_another_shopper(shopper):
    template = _template(per_user_limit=1).data
    shopper.call("claim_coupon", {"coupon_id": template["id"]})

    assert new_shopper().call("claim_coupon", {"coupon_id": template["id"]}).status == 200


def test_claim_coupon_stops_when_all_are_claimed(shopper):
    template = _template(total=1).data
    shopper.call("claim_coupon", {"coupon_id": template["id"]})

    answer = new_shopper().call("claim_coupon", {"coupon_id": template["id"]})

    assert (answer.status, answer.code) == (409, "COUPON_SOLD_OUT")


def test_sold_out_claim_does_not_use_up_the_shoppers_limit(shopper, db):
    template = _template(total=1).data
    new_shopper().call("claim_coupon", {"coupon_id": template["id"]})
    shopper.call("claim_coupon", {"coupon_id": template["id"]})
    db.coupons.update_one({"_id": template["id"]}, {"$inc": {"total": 1, "remaining": 1}})

    assert shopper.call("claim_coupon", {"coupon_id": template["id"]}).status == 200


def test_claim_coupon_of_a_missing_template_is_404(shopper):
    answer = shopper.call("claim_coupon", {"coupon_id": "cpn_nope"})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


def test_list_coupons_shows_how_many_the_shopper_holds(shopper):
    template = _template(per_user_limit=3).data
    shopper.call("claim_coupon", {"coupon_id": template["id"]})

    [listed] = shopper.call("list_coupons").data["items"]

    assert (listed["id"], listed["claimed_by_me"]) == (template["id"], 1)


# ---- use by one order, return on cancel -----------------------------------------------------

def test_used_coupon_is_marked_with_its_order(shopper):
    coupon = _claimed(shopper)

    order = _order(shopper, _sku(1000), coupon_id=coupon["id"]).data

    [used] = shopper.call("list_my_coupons", {"status": "used"}).data["items"]
    assert (used["id"], used["order_id"]) == (coupon["id"], order["id"])


def test_used_coupon_cannot_be_used_by_a_second_order(shopper):
    coupon = _claimed(shopper)
    sku_id = _sku(1000)
    _order(shopper, sku_id, coupon_id=coupon["id"])

    answer = _order(shopper, sku_id, coupon_id=coupon["id"])

    assert (answer.status, answer.code) == (409, "COUPON_UNAVAILABLE")


def test_coupon_is_returned_when_its_order_is_cancelled(shopper):
    coupon = _claimed(shopper)
    order = _order(shopper, _sku(1000), coupon_id=coupon["id"]).data

    shopper.call("cancel_order", {"order_id": order["id"]})

    [back] = shopper.call("list_my_coupons", {"status": "available"}).data["items"]
    assert (back["id"], back["status"], back["order_id"]) == (coupon["id"], "available", None)


def test_returned_coupon_can_be_used_again(shopper):
    coupon = _claimed(shopper, amount=300)
    sku_id = _sku(1000)
    first = _order(shopper, sku_id, coupon_id=coupon["id"]).data
    shopper.call("cancel_order", {"order_id": first["id"]})

    second = _order(shopper, sku_id, coupon_id=coupon["id"]).data

    assert (second["coupon_id"], second["discount"], second["total"]) == (coupon["id"], 300, 700)


def test_coupon_is_not_used_when_the_order_fails_for_stock(shopper, db):
    coupon = _claimed(shopper)

    answer = _order(shopper, _sku(1000, stock=1), quantity=2, coupon_id=coupon["id"])

    assert answer.code == "OUT_OF_STOCK"
    assert db.user_coupons.find_one({"_id": coupon["id"]})["status"] == "available"


def test_using_a_template_id_as_the_coupon_is_404(shopper):
    template = _template().data
    shopper.call("claim_coupon", {"coupon_id": template["id"]})

    answer = _order(shopper, _sku(1000), coupon_id=template["id"])

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


# ---- the claim rate limit as production runs it (COUPON_CLAIM_RATE_LIMIT_PER_MINUTE, 20) ------

def _claim_by_callfunction(token, coupon_id):
    """claim_coupon as wx.cloud.callFunction reaches it: no client IP, the token in the data."""
    from shared.core.runtime import serve
    return serve("claim_coupon", {"coupon_id": coupon_id, "_token": token},
                 {"request_id": "req-claim"})


def test_forty_shoppers_claim_through_callfunction_in_one_minute_at_the_default_limit(db, clock):
    clock.now = clock.now.replace(second=0, microsecond=0)   # every claim in one minute
    template = _template(total=100, per_user_limit=1).data
    shoppers = [new_shopper(f"crowd{n}") for n in range(40)]

    answers = [_claim_by_callfunction(s.token, template["id"]) for s in shoppers]

    assert [a["error"] for a in answers if not a["ok"]] == []   # no bucket shared by all


def test_one_shopper_is_slowed_after_twenty_claims_a_minute_and_nobody_else(db, clock):
    clock.now = clock.now.replace(second=0, microsecond=0)   # every claim in one minute
    from shared.core.config import get_settings
    assert get_settings().COUPON_CLAIM_RATE_LIMIT_PER_MINUTE == 20   # production's default
    templates = [_template(total=10, per_user_limit=1).data for _ in range(21)]
    greedy, other = new_shopper("greedy"), new_shopper("other")

    codes = [_claim_by_callfunction(greedy.token, t["id"]) for t in templates]
    answer = _claim_by_callfunction(other.token, templates[-1]["id"])

    assert [a["ok"] for a in codes[:20]] == [True] * 20
    assert codes[20]["error"]["code"] == "RATE_LIMITED"
    assert answer["ok"], answer
