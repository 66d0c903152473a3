"""Friend assist (好友助力): helps, the reward granted once (coupon or gift), abuse refused."""
import sys
from datetime import timedelta

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper, run_threads
from tests.helpers import Clock


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def _coupon_template(total=100):
    return merchant("merchant_create_coupon", {
        "name": "助力券", "kind": "fixed", "amount": 500, "total": total, "per_user_limit": 1,
        "valid_days": 7}).data["id"]


def _create(reward, **terms):
    now = Clock().now
    payload = {"reward": reward, "assists_needed": 3, "ttl_minutes": 60, "reward_limit": 10,
               "starts_at": _iso(now - timedelta(hours=1)),
               "ends_at": _iso(now + timedelta(days=1))}
    payload.update(terms)
    return merchant("merchant_create_assist", payload)


@pytest.fixture
def coupon_id():
    return _coupon_template()


@pytest.fixture
def campaign(coupon_id):
    return _create({"kind": "coupon", "coupon_id": coupon_id}).data


@pytest.fixture
def gift_sku():
    return new_product(price=2000, stock=10)["skus"][0]["id"]


@pytest.fixture
def owner():
    return new_shopper()


def _start(shopper, campaign_id, **payload):
    return shopper.call("start_assist", {"campaign_id": campaign_id, **payload}).data


def _help(assist_id, count):
    return [new_shopper().call("help_assist", {"assist_id": assist_id}) for _ in range(count)]


# ---- merchant -------------------------------------------------------------------------------

def test_an_unknown_coupon_or_sku_reward_is_not_found():
    assert _create({"kind": "coupon", "coupon_id": "cpn_nope"}).status == 404
    assert _create({"kind": "gift", "sku_id": "sku_nope"}).status == 404


def test_a_reward_of_an_unknown_kind_is_invalid():
    assert _create({"kind": "points", "amount": 5}).code == "VALIDATION_ERROR"


def test_the_merchant_lists_campaigns_with_rewards_given(campaign):
    page = merchant("merchant_list_assists", {}).data

    assert [(c["id"], c["rewarded"], c["reward"]["title"]) for c in page["items"]] == \
        [(campaign["id"], 0, "助力券")]


# ---- start, help, view ----------------------------------------------------------------------

def test_starting_twice_answers_with_the_same_assist(campaign, owner):
    first = _start(owner, campaign["id"])

    assert _start(owner, campaign["id"])["id"] == first["id"]
    assert (first["status"], first["help_count"], first["reward_granted"]) == ("active", 0, False)


def test_a_gift_assist_needs_an_address_of_ones_own(gift_sku, owner):
    campaign = _create({"kind": "gift", "sku_id": gift_sku}).data

    missing = owner.call("start_assist", {"campaign_id": campaign["id"]})
    not_mine = owner.call("start_assist", {"campaign_id": campaign["id"],
                                           "address_id": new_address(new_shopper())})

    assert (missing.status, not_mine.status) == (422, 404)


def test_a_campaign_that_ended_refuses_to_start(coupon_id, owner):
    over = _create({"kind": "coupon", "coupon_id": coupon_id},
                   starts_at=_iso(Clock().now - timedelta(days=2)),
                   ends_at=_iso(Clock().now - timedelta(days=1))).data

    answer = owner.call("start_assist", {"campaign_id": over["id"]})

    assert (answer.status, answer.body["error"]["details"]["reason"]) == (409, "ended")


def test_self_help_is_forbidden_and_changes_nothing(campaign, owner, db):
    assist = _start(owner, campaign["id"])

    answer = owner.call("help_assist", {"assist_id": assist["id"]})

    assert (answer.status, answer.code) == (403, "FORBIDDEN")
    assert db.assists.find_one({"_id": assist["id"]})["help_count"] == 0


def test_helping_twice_is_refused(campaign, owner, db):
    assist = _start(owner, campaign["id"])
    friend = new_shopper()
    friend.call("help_assist", {"assist_id": assist["id"]})

    again = friend.call("help_assist", {"assist_id": assist["id"]})

    assert (again.status, again.body["error"]["details"]["reason"]) == (409, "already_helped")
    assert db.assists.find_one({"_id": assist["id"]})["help_count"] == 1


def test_unknown_ids_are_not_found(owner):
    assert owner.call("start_assist", {"campaign_id": "asc_nope"}).status == 404
    assert owner.call("help_assist", {"assist_id": "ast_nope"}).status == 404
    assert owner.call("get_assist", {"assist_id": "ast_nope"}).status == 404


def test_anyone_sees_an_assist_without_personal_data(campaign, owner):
    assist = _start(owner, campaign["id"])
    _help(assist["id"], 1)

    seen = new_shopper().call("get_assist", {"assist_id": assist["id"]}).data

    assert {"id", "status", "assists_needed", "helps", "reward", "expires_at",
            "reward_granted"} <= set(seen)
    assert "user_id" not in seen and "reward_result" not in seen
    assert all(set(h) == {"nickname", "avatar"} for h in seen["helps"])


def test_an_expired_assist_refuses_help_and_the_timer_expires_it_once(campaign, owner, db):
    from shared.social.assist import expire_assists
    assist = _start(owner, campaign["id"])
    clock = Clock()
    db.assists.update_one({"_id": assist["id"]},
                          {"$set": {"expires_at": clock.now - timedelta(seconds=1)}})

    answer = new_shopper().call("help_assist", {"assist_id": assist["id"]})
    first, second = expire_assists(clock.context(db)), expire_assists(clock.context(db))

    assert (answer.status, answer.body["error"]["details"]["reason"]) == (409, "expired")
    assert (first["expired"], second["expired"]) == (1, 0)
    assert _start(owner, campaign["id"])["id"] != assist["id"]


def test_a_helper_past_the_daily_limit_is_rate_limited(campaign, monkeypatch, db):
    from shared.core.config import reset_settings
    monkeypatch.setenv("ASSIST_DAILY_HELP_LIMIT", "2")
    reset_settings()
    assists = [_start(new_shopper(), campaign["id"]) for _ in range(3)]
    helper = new_shopper()

    answers = [helper.call("help_assist", {"assist_id": a["id"]}) for a in assists]

    assert [a.status for a in answers] == [200, 200, 429]
    assert db.assists.find_one({"_id": assists[2]["id"]})["help_count"] == 0


def test_new_users_only_counts_accounts_made_after_the_assist(coupon_id, db, clock):
    campaign = _create({"kind": "coupon", "coupon_id": coupon_id}, new_users_only=True,
                       assists_needed=1).data
    old_friend = new_shopper()
    owner = new_shopper()
    assist = _start(owner, campaign["id"])
    clock.advance(seconds=1)
    new_friend = new_shopper()

    refused = old_friend.call("help_assist", {"assist_id": assist["id"]})
    counted = new_friend.call("help_assist", {"assist_id": assist["id"]}).data

    assert (refused.status, refused.body["error"]["details"]["reason"]) == \
        (403, "not_a_new_user")
    assert (counted["help_count"], counted["reward_granted"]) == (1, True)


# ---- the reward -----------------------------------------------------------------------------

def test_a_coupon_reward_lands_in_the_starters_wallet(campaign, coupon_id, owner, db):
    assist = _start(owner, campaign["id"])

    last = _help(assist["id"], 3)[-1].data

    wallet = owner.call("list_my_coupons", {}).data["items"]
    assert (last["status"], last["reward_granted"]) == ("completed", True)
    assert [(c["coupon_id"], c["status"], c["amount"]) for c in wallet] == \
        [(coupon_id, "available", 500)]
    assert db.coupons.find_one({"_id": coupon_id})["remaining"] == 99
    mine = owner.call("get_assist", {"assist_id": assist["id"]}).data
    assert mine["reward_result"] == {"user_coupon_id": wallet[0]["id"]}


def test_a_complete_assist_refuses_more_help(campaign, owner):
    assist = _start(owner, campaign["id"])
    _help(assist["id"], 3)

    extra = _help(assist["id"], 1)[0]

    assert (extra.status, extra.body["error"]["details"]["reason"]) == (409, "completed")


def test_a_gift_reward_is_an_order_paid_with_total_zero(gift_sku, owner, db):
    campaign = _create({"kind": "gift", "sku_id": gift_sku}, assists_needed=2).data
    assist = _start(owner, campaign["id"], address_id=new_address(owner))

    _help(assist["id"], 2)

    orders = owner.call("list_orders", {}).data["items"]
    assert [(o["status"], o["total"], o["gift"]) for o in orders] == [("paid", 0, True)]
    assert orders[0]["items"][0]["sku_id"] == gift_sku
    sku = db.skus.find_one({"_id": gift_sku})
    assert (sku["stock"], sku["sold"]) == (9, 1)


def test_finishing_a_grant_again_gives_no_second_reward(gift_sku, owner, db):
    from shared.social.assist import expire_assists
    campaign = _create({"kind": "gift", "sku_id": gift_sku}, assists_needed=1).data
    assist = _start(owner, campaign["id"], address_id=new_address(owner))
    _help(assist["id"], 1)
    # as if the instance had died after delivering, before noting the grant
    db.assists.update_one({"_id": assist["id"]},
                          {"$set": {"reward_status": "granting", "reward_granted": False,
                                    "completed_at": Clock().now - timedelta(minutes=10)}})

    finished = expire_assists(Clock().context(db))

    assert finished["grants_finished"] == 1
    assert db.orders.count_documents({"assist_id": assist["id"]}) == 1
    assert db.assist_campaigns.find_one({"_id": campaign["id"]})["rewarded"] == 1
    assert db.assists.find_one({"_id": assist["id"]})["reward_granted"] is True


def test_concurrent_helps_grant_the_reward_once(coupon_id, owner, db):
    campaign = _create({"kind": "coupon", "coupon_id": coupon_id}, assists_needed=5).data
    assist = _start(owner, campaign["id"])
    friends = [new_shopper() for _ in range(30)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        answers = run_threads(30, lambda i: friends[i].call("help_assist",
                                                            {"assist_id": assist["id"]}))
    finally:
        sys.setswitchinterval(switch)

    assert sum(1 for a in answers if a.ok) == 5
    assert {a.code for a in answers if not a.ok} == {"INVALID_STATE"}
    assert db.user_coupons.count_documents({"user_id": owner.user_id}) == 1
    assert db.assist_campaigns.find_one({"_id": campaign["id"]})["rewarded"] == 1
    assert db.coupons.find_one({"_id": coupon_id})["remaining"] == 99


def test_assists_completing_at_once_never_exceed_the_reward_limit(coupon_id, db):
    campaign = _create({"kind": "coupon", "coupon_id": coupon_id}, assists_needed=1,
                       reward_limit=2).data
    owners = [new_shopper() for _ in range(6)]
    assists = [_start(o, campaign["id"]) for o in owners]
    friends = [new_shopper() for _ in range(6)]

    run_threads(6, lambda i: friends[i].call("help_assist", {"assist_id": assists[i]["id"]}))

    states = [db.assists.find_one({"_id": a["id"]})["reward_status"] for a in assists]
    assert sorted(states) == ["granted"] * 2 + ["unavailable"] * 4
    assert db.user_coupons.count_documents({}) == 2
    assert db.assist_campaigns.find_one({"_id": campaign["id"]})["rewarded"] == 2


def test_a_sold_out_coupon_fails_the_grant_and_returns_the_reward_unit(owner, db):
    coupon_id = _coupon_template(total=1)
    campaign = _create({"kind": "coupon", "coupon_id": coupon_id}, assists_needed=1).data
    new_shopper().call("claim_coupon", {"coupon_id": coupon_id})  # the last one goes elsewhere
    assist = _start(owner, campaign["id"])

    last = _help(assist["id"], 1)[0].data

    assert (last["reward_granted"], last["reward_status"]) == (False, "failed")
    assert db.assist_campaigns.find_one({"_id": campaign["id"]})["rewarded"] == 0
    assert db.user_coupons.count_documents({"user_id": owner.user_id}) == 0
