"""Profiles (画像) and rule tags (标签): the seed's example 彩妆爱好者, interest with its
half-life, RFM, rules, the timer and a campaign whose audience is a tag (issue 15)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest

from tests.conftest import (
    Shopper,
    call,
    merchant,
    new_address,
    new_category,
    new_product,
    new_shopper,
)
from tests.faults import run_timer
from tests.helpers import Clock, deliver_owed_events

LOVER = "彩妆爱好者"


@pytest.fixture(autouse=True)
def fresh_links() -> Iterator[None]:
    from shared.insight.tracking import forget_links
    forget_links()
    yield


_ids = iter(range(1, 10**9))


def send(shopper: Shopper, events: list[tuple[str, dict[str, Any]]], now: datetime) -> None:
    for start in range(0, len(events), 50):   # at most 50 a call, as the mini-program sends
        answer = call("track_events", {
            "device_id": f"dev-{shopper.name}", "sent_at": now.isoformat(),
            "events": [{"event_id": f"e{next(_ids)}", "name": name, "ts": now.isoformat(),
                        "props": props} for name, props in events[start:start + 50]]},
            shopper.token)
        assert answer.ok, answer.body


def view(product: dict[str, Any], n: int = 1) -> list[tuple[str, dict[str, Any]]]:
    return [("product_view", {"product_id": product["id"]})] * n


def cart(product: dict[str, Any], n: int = 1) -> list[tuple[str, dict[str, Any]]]:
    return [("add_to_cart", {"product_id": product["id"]})] * n


def pay(shopper: Shopper, product: dict[str, Any], quantity: int = 1) -> None:
    order = shopper.call("place_order", {
        "request_id": f"req-tags-{next(_ids)}", "address_id": new_address(shopper),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": quantity}]}).data
    assert merchant("merchant_mark_paid", {"order_id": order["id"]}).ok
    deliver_owed_events()


@pytest.fixture
def makeup(db: Any) -> dict[str, Any]:
    lipstick, shadow, snack = new_category("口红"), new_category("眼影"), new_category("零食")
    return {"lipstick": lipstick, "shadow": shadow, "snack": snack,
            "lipstick_product": new_product(title="丝绒口红", category_id=lipstick, price=19900),
            "shadow_product": new_product(title="四色眼影", category_id=shadow, price=25900),
            "snack_product": new_product(title="薯片", category_id=snack, price=990)}


def lover_rule(makeup: dict[str, Any], min_score: int = 20) -> dict[str, Any]:
    return {"all": [{"interest": {"category_ids": [makeup["lipstick"]], "min_score": min_score}},
                    {"interest": {"category_ids": [makeup["shadow"]], "min_score": min_score}}]}


def profile_of(shopper: Shopper) -> dict[str, Any]:
    return merchant("merchant_get_user_profile", {"user_id": shopper.user_id}).data


# ---- the seed's example --------------------------------------------------------------------

def test_shoppers_strongly_into_lipstick_and_eye_shadow_are_tagged_makeup_lovers(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    lover, lipstick_only, browser, snacker = (new_shopper() for _ in range(4))
    # 10 views + 2 carts (16) + 1 item ordered (10) = 26 in each
    for product in ("lipstick_product", "shadow_product"):
        send(lover, view(makeup[product], 10) + cart(makeup[product], 2), clock.now)
        pay(lover, makeup[product])
    send(lipstick_only, view(makeup["lipstick_product"], 30), clock.now)
    send(browser, view(makeup["lipstick_product"], 5) + view(makeup["shadow_product"], 5),
         clock.now)
    send(snacker, view(makeup["snack_product"], 50), clock.now)

    assert merchant("merchant_upsert_tag", {"name": LOVER, "rule": lover_rule(makeup)}).ok
    refreshed = merchant("merchant_refresh_tags", {"name": LOVER}).data

    assert refreshed["tag"]["users"] == 1 and refreshed["complete"]
    users = merchant("merchant_list_tag_users", {"name": LOVER, "page": 1,
                                                 "page_size": 20}).data
    assert [u["user_id"] for u in users["items"]] == [lover.user_id] and users["total"] == 1
    assert profile_of(lover)["tags"] == [LOVER]
    assert profile_of(browser)["tags"] == []


def test_the_tag_goes_once_interest_decays_below_the_rule(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    lover = new_shopper()
    send(lover, view(makeup["lipstick_product"], 30) + view(makeup["shadow_product"], 30),
         clock.now)
    merchant("merchant_upsert_tag", {"name": LOVER, "rule": lover_rule(makeup)})
    merchant("merchant_refresh_tags", {})
    assert profile_of(lover)["tags"] == [LOVER]

    clock.advance(days=14)   # one half-life: 30 -> 15, below 20
    run_timer("tags_refresh")

    assert profile_of(lover)["tags"] == []


# ---- profiles ------------------------------------------------------------------------------

def test_a_profile_weighs_views_carts_and_orders_and_halves_them_every_14_days(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    shopper = new_shopper()
    send(shopper, view(makeup["lipstick_product"], 4) + cart(makeup["lipstick_product"], 1),
         clock.now)
    pay(shopper, makeup["lipstick_product"], quantity=2)   # one item line: 1 x 10
    send(shopper, view(makeup["snack_product"], 2), clock.now)

    now = profile_of(shopper)
    clock.advance(days=14)
    run_timer("insight_rollup")
    later = profile_of(shopper)

    assert now["interests"] == [{"category_id": makeup["lipstick"], "score": 17.0},
                                {"category_id": makeup["snack"], "score": 2.0}]
    assert later["interests"] == [{"category_id": makeup["lipstick"], "score": 8.5},
                                  {"category_id": makeup["snack"], "score": 1.0}]


def test_a_profile_has_rfm_a_spending_band_and_active_hours(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    shopper = new_shopper()
    pay(shopper, makeup["lipstick_product"])      # 199.00
    pay(shopper, makeup["shadow_product"], 2)     # 518.00
    send(shopper, view(makeup["snack_product"], 3), clock.now)
    clock.advance(days=3)

    found = profile_of(shopper)

    assert set(found) == {"user_id", "tags", "interests", "rfm", "active_hours",
                          "spending_band"}
    assert found["rfm"] == {"recency_days": 3, "frequency": 2, "monetary": 71700,
                            "segment": "important_value"}
    assert found["spending_band"] == "high"
    beijing_hour = (clock.now - timedelta(days=3)).hour + 8
    assert found["active_hours"] == [beijing_hour % 24]


def test_a_shopper_who_never_ordered_is_in_no_segment_and_spends_nothing(db: Any) -> None:
    found = profile_of(new_shopper())

    assert found["rfm"] == {"recency_days": None, "frequency": 0, "monetary": 0,
                            "segment": "no_orders"}
    assert found["spending_band"] == "none" and found["interests"] == []


def test_an_unknown_user_has_no_profile() -> None:
    assert merchant("merchant_get_user_profile", {"user_id": "usr_nobody"}).status == 404


def test_a_profile_reads_the_same_before_and_after_the_rollup(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    shopper = new_shopper()
    send(shopper, view(makeup["lipstick_product"], 3), clock.now)
    before = profile_of(shopper)
    clock.advance(minutes=5)
    run_timer("insight_rollup")

    assert profile_of(shopper)["interests"] == before["interests"]
    assert db.user_daily.count_documents({"user_id": shopper.user_id}) == 1


# ---- rules ---------------------------------------------------------------------------------

def test_rules_on_segment_spend_events_and_other_tags(
        db: Any, clock: Clock, makeup: dict[str, Any]) -> None:
    big, searcher = new_shopper(), new_shopper()
    pay(big, makeup["shadow_product"], 2)
    send(searcher, [("search", {"keyword": "口红"})] * 3, clock.now)
    rules = {
        "新客": {"segment": ["no_orders"]},
        "大客户": {"spend": {"min": 50000}},
        "爱搜索": {"events": {"name": "search", "min_count": 3, "days": 7}},
        "潜力": {"any": [{"tag": "爱搜索"}, {"tag": "大客户"}]},
    }
    for name, rule in rules.items():
        assert merchant("merchant_upsert_tag", {"name": name, "rule": rule}).ok, name

    merchant("merchant_refresh_tags", {})

    assert profile_of(big)["tags"] == sorted(["大客户", "潜力"])
    assert profile_of(searcher)["tags"] == sorted(["新客", "爱搜索", "潜力"])
    listed = {t["name"]: t["users"] for t in merchant("merchant_list_tags", {}).data["items"]}
    assert listed == {"新客": 1, "大客户": 1, "爱搜索": 1, "潜力": 2}


def test_a_search_outside_the_window_does_not_count(db: Any, clock: Clock) -> None:
    searcher = new_shopper()
    send(searcher, [("search", {"keyword": "口红"})] * 3, clock.now)
    merchant("merchant_upsert_tag", {"name": "爱搜索", "rule": {
        "events": {"name": "search", "min_count": 3, "days": 7}}})
    clock.advance(days=8)

    merchant("merchant_refresh_tags", {})

    assert profile_of(searcher)["tags"] == []


@pytest.mark.parametrize("rule", [
    {},
    {"segment": ["champions"]},
    {"interest": {"category_ids": [], "min_score": 1}},
    {"events": {"name": "nonsense", "min_count": 1}},
    {"tag": "a", "segment": ["no_orders"]},
    {"tag": "nowhere"},
    {"tag": "自己"},
])
def test_bad_rules_are_422(db: Any, rule: dict[str, Any]) -> None:
    answer = merchant("merchant_upsert_tag", {"name": "自己", "rule": rule})

    assert answer.status == 422, answer.body


def test_tags_naming_each_other_in_a_cycle_are_refused(db: Any) -> None:
    merchant("merchant_upsert_tag", {"name": "a", "rule": {"segment": ["no_orders"]}})
    merchant("merchant_upsert_tag", {"name": "b", "rule": {"tag": "a"}})

    answer = merchant("merchant_upsert_tag", {"name": "a", "rule": {"tag": "b"}})

    assert answer.status == 422 and "cycle" in answer.body["error"]["message"]


def test_listing_the_users_of_an_unknown_tag_is_404() -> None:
    assert merchant("merchant_list_tag_users", {"name": "nope"}).status == 404


def test_tags_refresh_goes_through_the_users_a_slice_a_run(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    shoppers = [new_shopper() for _ in range(5)]
    merchant("merchant_upsert_tag", {"name": "新客", "rule": {"segment": ["no_orders"]}})
    monkeypatch.setenv("TAGS_REFRESH_MAX_USERS", "2")
    reset_settings()

    results = [run_timer("tags_refresh") for _ in range(3)]

    assert [r["evaluated"] for r in results] == [2, 2, 1]
    assert [r["complete"] for r in results] == [False, False, True]
    assert all(profile_of(s)["tags"] == ["新客"] for s in shoppers)


def test_rule_tags_leave_other_tags_of_a_user_alone(db: Any) -> None:
    shopper = new_shopper()
    db.users.update_one({"_id": shopper.user_id}, {"$set": {"tags": ["VIP"]}})
    merchant("merchant_upsert_tag", {"name": "大客户", "rule": {"spend": {"min": 1}}})

    merchant("merchant_refresh_tags", {})

    assert db.users.find_one({"_id": shopper.user_id})["tags"] == ["VIP"]


# ---- a campaign's audience -----------------------------------------------------------------

def test_a_campaigns_audience_can_be_a_tag(db: Any, clock: Clock,
                                           makeup: dict[str, Any]) -> None:
    from shared.marketing.campaigns import population
    lover, other = new_shopper(), new_shopper()
    send(lover, view(makeup["lipstick_product"], 30) + view(makeup["shadow_product"], 30),
         clock.now)
    merchant("merchant_upsert_tag", {"name": LOVER, "rule": lover_rule(makeup)})
    merchant("merchant_refresh_tags", {})
    payload = {"name": "彩妆上新", "audience": {"tag": LOVER, "subscribed_template": "tpl_1"},
               "template_id": "tpl_1", "page": "pages/index/index",
               "data": {"thing1": "新品上市"},
               "send_at": (clock.now + timedelta(hours=1)).isoformat()}

    created = merchant("merchant_create_campaign", payload).data
    unknown = merchant("merchant_create_campaign",
                       {**payload, "audience": {"tag": "无此标签",
                                                "subscribed_template": "tpl_1"}})

    assert created["audience"]["tag"] == LOVER
    assert [u["_id"] for u in db.users.find(population(created["audience"]))] == [lover.user_id]
    assert other.user_id != lover.user_id
    assert unknown.status == 404


def test_interest_weights_and_half_life_are_settings(
        db: Any, clock: Clock, makeup: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    shopper = new_shopper()
    send(shopper, view(makeup["lipstick_product"], 2) + cart(makeup["lipstick_product"], 1),
         clock.now)
    monkeypatch.setenv("INTEREST_WEIGHTS", "2,5,10")
    monkeypatch.setenv("INTEREST_HALF_LIFE_DAYS", "7")
    reset_settings()
    clock.advance(days=7)

    assert profile_of(shopper)["interests"] == [{"category_id": makeup["lipstick"],
                                                 "score": 4.5}]   # (2x2 + 5) / 2
