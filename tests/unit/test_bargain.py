"""Bargains (砍价): the cut allocation, friends' help, the race for the last cuts, buying."""
import itertools
import random
import sys
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.social.bargain import allocate_cuts
from tests.conftest import merchant, new_address, new_product, new_shopper, run_threads
from tests.helpers import Clock

_request_ids = itertools.count(1)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def _create(sku_id, **terms):
    now = Clock().now
    payload = {"sku_id": sku_id, "start_price": 1000, "floor_price": 100, "helpers_needed": 5,
               "ttl_minutes": 60, "stock_limit": 10,
               "starts_at": _iso(now - timedelta(hours=1)),
               "ends_at": _iso(now + timedelta(days=1))}
    payload.update(terms)
    return merchant("merchant_create_bargain", payload)


@pytest.fixture
def sku_id():
    return new_product(price=1000, stock=50)["skus"][0]["id"]


@pytest.fixture
def campaign(sku_id):
    return _create(sku_id).data


@pytest.fixture
def owner():
    return new_shopper()


def _start(shopper, campaign_id):
    return shopper.call("start_bargain", {"campaign_id": campaign_id}).data


def _buy(shopper, bargain_id, request_id=None, address_id=None):
    return shopper.call("buy_bargain", {
        "bargain_id": bargain_id,
        "request_id": request_id or f"req-bargain-{next(_request_ids):04d}",
        "address_id": address_id or new_address(shopper)})


def _help_with_friends(bargain_id, count):
    return [new_shopper().call("help_bargain", {"bargain_id": bargain_id}) for _ in range(count)]


def _stored(db, bargain_id):
    return db.bargains.find_one({"_id": bargain_id})


# ---- the cut allocation (property tests) ------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(count=st.integers(1, 100), extra=st.integers(0, 100_000), rng=st.randoms())
def test_cuts_are_positive_and_sum_exactly_to_the_range(count, extra, rng):
    total = count + extra

    cuts = allocate_cuts(total, count, rng)

    assert len(cuts) == count
    assert all(cut >= 1 for cut in cuts)
    assert sum(cuts) == total
    assert cuts == sorted(cuts, reverse=True)


@settings(max_examples=200, deadline=None)
@given(floor=st.integers(0, 10_000), count=st.integers(1, 60), extra=st.integers(0, 5_000),
       rng=st.randoms())
def test_applying_the_cuts_stays_above_the_floor_until_the_last_reaches_it(floor, count, extra,
                                                                             rng):
    start = floor + count + extra
    price = start

    for number, cut in enumerate(allocate_cuts(start - floor, count, rng), start=1):
        price -= cut
        assert price >= floor
        assert (price == floor) == (number == count)  # exactly the last help reaches it


@given(count=st.integers(2, 50), short=st.integers(1, 50))
def test_a_range_smaller_than_the_helpers_cannot_be_cut(count, short):
    with pytest.raises(ValueError):
        allocate_cuts(max(0, count - short), count, random.Random(0))


# ---- merchant -------------------------------------------------------------------------------

def test_a_range_too_small_for_one_fen_per_helper_is_refused(sku_id):
    answer = _create(sku_id, start_price=1000, floor_price=996, helpers_needed=5)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_a_start_price_above_the_sku_price_is_refused(sku_id):
    assert _create(sku_id, start_price=1001).code == "VALIDATION_ERROR"


def test_an_unknown_sku_is_not_found():
    assert _create("sku_nope").status == 404


def test_the_merchant_lists_campaigns_with_units_sold(campaign):
    page = merchant("merchant_list_bargains", {}).data

    assert [(c["id"], c["sold"], c["status"]) for c in page["items"]] == \
        [(campaign["id"], 0, "running")]


# ---- start and help -----------------------------------------------------------------------------

def test_starting_opens_a_bargain_at_the_start_price(campaign, owner):
    bargain = _start(owner, campaign["id"])

    assert (bargain["status"], bargain["current_price"], bargain["helps"]) == ("active", 1000, [])
    assert bargain["floor_price"] == 100


def test_starting_again_answers_with_the_running_bargain(campaign, owner):
    first = _start(owner, campaign["id"])

    assert _start(owner, campaign["id"])["id"] == first["id"]


def test_a_campaign_not_started_or_ended_refuses_to_start(sku_id, owner):
    now = Clock().now
    later = _create(sku_id, starts_at=_iso(now + timedelta(hours=1))).data
    over = _create(sku_id, starts_at=_iso(now - timedelta(days=2)),
                   ends_at=_iso(now - timedelta(days=1))).data

    for campaign_id in (later["id"], over["id"]):
        answer = owner.call("start_bargain", {"campaign_id": campaign_id})
        assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_a_friend_cuts_the_price_and_is_shown_by_nickname_only(campaign, owner):
    bargain = _start(owner, campaign["id"])
    friend = new_shopper("xiaohong")

    helped = friend.call("help_bargain", {"bargain_id": bargain["id"]}).data

    assert helped["current_price"] == 1000 - helped["cut"] and helped["cut"] >= 1
    assert helped["helps"] == [{"nickname": "xiaohong", "avatar": "", "cut": helped["cut"]}]


def test_the_starter_may_cut_once_but_not_twice(campaign, owner):
    bargain = _start(owner, campaign["id"])

    first = owner.call("help_bargain", {"bargain_id": bargain["id"]})
    second = owner.call("help_bargain", {"bargain_id": bargain["id"]})

    assert first.ok
    assert (second.status, second.body["error"]["details"]["reason"]) == (409, "already_helped")
    assert owner.call("get_bargain", {"bargain_id": bargain["id"]}).data["help_count"] == 1


def test_a_friend_helping_twice_is_refused_and_nothing_changes(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    friend = new_shopper()
    friend.call("help_bargain", {"bargain_id": bargain["id"]})
    before = _stored(db, bargain["id"])

    again = friend.call("help_bargain", {"bargain_id": bargain["id"]})

    assert (again.status, again.code) == (409, "INVALID_STATE")
    assert _stored(db, bargain["id"]) == before


def test_exactly_helpers_needed_helps_reach_the_floor_and_no_more_count(campaign, owner):
    bargain = _start(owner, campaign["id"])

    answers = _help_with_friends(bargain["id"], 6)

    assert [a.ok for a in answers] == [True] * 5 + [False]
    assert answers[-1].body["error"]["details"]["reason"] == "at_floor"
    final = owner.call("get_bargain", {"bargain_id": bargain["id"]}).data
    assert (final["current_price"], final["help_count"]) == (100, 5)
    assert sum(h["cut"] for h in final["helps"]) == 900


def test_anyone_logged_in_sees_a_bargain_without_personal_data(campaign, owner):
    bargain = _start(owner, campaign["id"])
    _help_with_friends(bargain["id"], 2)

    seen = new_shopper().call("get_bargain", {"bargain_id": bargain["id"]}).data

    assert {"id", "status", "start_price", "floor_price", "current_price", "helps",
            "expires_at"} <= set(seen)
    assert "order_id" not in seen and "user_id" not in seen and "cuts" not in seen
    assert all(set(h) == {"nickname", "avatar", "cut"} for h in seen["helps"])
    assert (seen["is_mine"], seen["helped_by_me"]) == (False, False)


def test_unknown_ids_are_not_found(owner):
    assert owner.call("start_bargain", {"campaign_id": "bgc_nope"}).status == 404
    assert owner.call("help_bargain", {"bargain_id": "brg_nope"}).status == 404
    assert owner.call("get_bargain", {"bargain_id": "brg_nope"}).status == 404
    assert _buy(owner, "brg_nope").status == 404


def test_a_helper_past_the_daily_limit_is_rate_limited(sku_id, monkeypatch, db):
    from shared.core.config import reset_settings
    monkeypatch.setenv("BARGAIN_DAILY_HELP_LIMIT", "2")
    reset_settings()
    campaign = _create(sku_id).data
    bargains = [_start(new_shopper(), campaign["id"]) for _ in range(3)]
    helper = new_shopper()

    answers = [helper.call("help_bargain", {"bargain_id": b["id"]}) for b in bargains]

    assert [a.status for a in answers] == [200, 200, 429]
    assert _stored(db, bargains[2]["id"])["help_count"] == 0


def test_an_expired_bargain_refuses_help_and_buy(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    db.bargains.update_one({"_id": bargain["id"]},
                           {"$set": {"expires_at": Clock().now - timedelta(seconds=1)}})

    helped = new_shopper().call("help_bargain", {"bargain_id": bargain["id"]})
    bought = _buy(owner, bargain["id"])

    assert (helped.status, bought.status) == (409, 409)
    assert _stored(db, bargain["id"])["help_count"] == 0
    assert db.orders.count_documents({}) == 0


def test_the_timer_expires_bargains_once_and_frees_a_new_start(campaign, owner, db):
    from shared.social.bargain import expire_bargains
    bargain = _start(owner, campaign["id"])
    clock = Clock()
    db.bargains.update_one({"_id": bargain["id"]},
                           {"$set": {"expires_at": clock.now - timedelta(seconds=1)}})
    ctx = clock.context(db)

    first, second = expire_bargains(ctx), expire_bargains(ctx)

    assert (first["expired"], second["expired"]) == (1, 0)
    assert _stored(db, bargain["id"])["status"] == "expired"
    assert _start(owner, campaign["id"])["id"] != bargain["id"]


# ---- the race for the last cuts ---------------------------------------------------------------

def test_50_friends_helping_at_once_make_exactly_helpers_needed_cuts(sku_id, owner, db):
    campaign = _create(sku_id, start_price=1000, floor_price=1, helpers_needed=20).data
    bargain = _start(owner, campaign["id"])
    friends = [new_shopper() for _ in range(50)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interrupt threads between the read and the conditional write
    try:
        answers = run_threads(50, lambda i: friends[i].call("help_bargain",
                                                            {"bargain_id": bargain["id"]}))
    finally:
        sys.setswitchinterval(switch)

    stored = _stored(db, bargain["id"])
    assert sum(1 for a in answers if a.ok) == 20
    assert {a.body["error"]["details"]["reason"] for a in answers if not a.ok} == {"at_floor"}
    assert (stored["current_price"], stored["help_count"], len(stored["helps"])) == (1, 20, 20)
    assert sorted(h["cut"] for h in stored["helps"]) == sorted(stored["cuts"])


# ---- buying ---------------------------------------------------------------------------------

def test_buying_places_an_order_at_the_current_price(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    _help_with_friends(bargain["id"], 2)
    price = owner.call("get_bargain", {"bargain_id": bargain["id"]}).data["current_price"]

    order = _buy(owner, bargain["id"]).data

    assert (order["total"], order["items"][0]["price"], order["bargain_id"]) == \
        (price, price, bargain["id"])
    assert order["status"] == "pending_payment"
    assert _stored(db, bargain["id"])["status"] == "bought"
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 1


def test_a_fully_cut_bargain_is_bought_at_the_floor(campaign, owner):
    bargain = _start(owner, campaign["id"])
    _help_with_friends(bargain["id"], 5)

    assert _buy(owner, bargain["id"]).data["total"] == 100


def test_a_bargain_cut_to_zero_is_a_gift_paid_at_once(sku_id, owner):
    campaign = _create(sku_id, start_price=500, floor_price=0, helpers_needed=2).data
    bargain = _start(owner, campaign["id"])
    _help_with_friends(bargain["id"], 2)

    order = _buy(owner, bargain["id"]).data

    assert (order["total"], order["status"]) == (0, "paid")


def test_buying_twice_makes_one_order(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    address_id = new_address(owner)

    first = _buy(owner, bargain["id"], "req-bargain-same", address_id).data
    retry = _buy(owner, bargain["id"], "req-bargain-same", address_id).data
    other = _buy(owner, bargain["id"], "req-bargain-other", address_id)

    assert retry["id"] == first["id"]
    assert (other.status, other.body["error"]["details"]["reason"]) == (409, "bought")
    assert db.orders.count_documents({"bargain_id": bargain["id"]}) == 1
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 1


def test_another_users_bargain_cannot_be_bought(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    thief = new_shopper()

    answer = _buy(thief, bargain["id"])

    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert _stored(db, bargain["id"])["status"] == "active"
    assert db.orders.count_documents({}) == 0


def test_a_failed_placement_leaves_the_bargain_buyable_and_the_unit_free(campaign, owner, db):
    bargain = _start(owner, campaign["id"])
    someone_elses = new_address(new_shopper())

    failed = _buy(owner, bargain["id"], address_id=someone_elses)

    assert failed.status == 404
    assert _stored(db, bargain["id"])["status"] == "active"
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 0
    assert _buy(owner, bargain["id"]).ok


def test_the_campaign_stock_limit_holds_when_owners_buy_at_once(sku_id, db):
    campaign = _create(sku_id, stock_limit=3).data
    owners = [new_shopper() for _ in range(8)]
    bargains = [_start(o, campaign["id"]) for o in owners]
    addresses = [new_address(o) for o in owners]

    answers = run_threads(8, lambda i: _buy(owners[i], bargains[i]["id"],
                                            address_id=addresses[i]))

    assert sum(1 for a in answers if a.ok) == 3
    assert {a.code for a in answers if not a.ok} == {"OUT_OF_STOCK"}
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 3
    assert db.orders.count_documents({"bargain_id": {"$exists": True}}) == 3


def test_a_cancelled_bargain_order_gives_the_unit_back_and_can_be_bought_again(campaign, owner,
                                                                             db):
    bargain = _start(owner, campaign["id"])
    order = _buy(owner, bargain["id"]).data
    from shared.core.events import OrderEvent
    from shared.social.bargain import on_order_cancelled
    cancelled = owner.call("cancel_order", {"order_id": order["id"]}).data
    on_order_cancelled(db, OrderEvent("order_cancelled", db.orders.find_one(
        {"_id": cancelled["id"]}), Clock().now))  # the hook

    assert _stored(db, bargain["id"])["status"] == "active"
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 0
    assert _buy(owner, bargain["id"]).ok
