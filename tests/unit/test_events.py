"""Order events: the subscriber table, and the promise that every subscriber is idempotent per
(event, order), so that a repeated transition aftermath or a retry may deliver an event again.

For each (event, subscriber) pair in ``SUBSCRIBERS`` a scenario lets the real flow run once
(shoppers, the merchant and the timers calling the actions; payments and refunds through the
synchronous WeChat Pay sandbox, or the independent double where WeChat Pay has to refuse a
refund), checks that the subscriber had a visible effect, and snapshots the whole database.
Then the very event the flow published is delivered again, to the subscriber directly and
through ``publish``: nothing may change. No field is stripped from the snapshot: a repeat that
only sets what is already there is no change, and a subscriber writes the event's ``now``,
never the clock's.
"""
from __future__ import annotations

import ast
import copy
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, get_args

import pytest

from shared.core.actions import SUBSCRIBERS
from shared.core.events import EventName, OrderEvent, publish
from tests.conftest import ROOT, Shopper, merchant, new_product, new_shopper
from tests.helpers import deliver_owed_events
from tests.unit.test_bargain import _buy, _create, _help_with_friends, _start, _stored
from tests.unit.test_groupbuy import Buyer as GroupBuyer
from tests.unit.test_groupbuy import (
    age_order,
    campaign_doc,
    expire,
    make_campaign,
    pay_at_wechat,
    quotas,
    run_timer,
    team_doc,
)
from tests.unit.test_members import Member, give_points, set_levels, sku
from tests.unit.test_nearby import new_deal, order_deal, store_at
from tests.unit.test_referral import open_share, pay, place, refund, share, user


def subscriber(ref: str) -> Callable[[Any, OrderEvent], None]:
    module, _, function = ref.partition(":")
    return getattr(importlib.import_module(module), function)


# ---- the table -----------------------------------------------------------------------------

def test_every_subscriber_in_the_table_is_a_function_of_db_and_event() -> None:
    from shared.core.events import subscribers
    assert set(SUBSCRIBERS) == set(get_args(EventName))
    for name, refs in SUBSCRIBERS.items():
        assert len(set(refs)) == len(refs), f"{name}: a subscriber is named twice"
        for ref in refs:
            module, colon, function = ref.partition(":")
            assert colon and module.startswith("shared.") and function, ref
            found = subscriber(ref)
            assert callable(found), ref
            params = list(inspect.signature(found).parameters.values())
            assert [p.name for p in params] == ["db", "event"], (ref, params)
            assert all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        assert subscribers(name) == [subscriber(ref) for ref in refs]  # in the table's order


def published_event_names() -> dict[str, list[str]]:
    """Every event name given to ``OrderEvent(...)`` or recorded due (``owe(now, ...)``)
    under shared/, and where."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "shared").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if called == "owe":  # a transition recording durable events: owe(now, *names)
                names = node.args[1:]
            elif called == "OrderEvent":
                if path.name == "events.py" and path.parent.name == "core":
                    continue  # from_due: an event recorded as due (owe), told again
                names = [node.args[0] if node.args else
                         next((k.value for k in node.keywords if k.arg == "name"), None)]
            else:
                continue
            for name in names:
                assert isinstance(name, ast.Constant) and isinstance(name.value, str), \
                    f"{where}: the event's name is not a literal, so it cannot be checked here"
                found.setdefault(name.value, []).append(where)
    return found


def test_every_event_published_under_shared_is_a_key_of_the_table() -> None:
    published = published_event_names()

    assert published, "no OrderEvent(...) found under shared/"
    unknown = {name: where for name, where in published.items() if name not in SUBSCRIBERS}
    assert unknown == {}, "events published that the table does not name"
    # and the other way round: the table names no event that nobody publishes
    assert set(SUBSCRIBERS) == set(published)


# ---- delivering an event again changes nothing ----------------------------------------------

@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[OrderEvent]:
    """Every OrderEvent published during the test, in order, as the flow published it (a copy
    taken before the first subscriber runs)."""
    from shared.core import events
    heard: list[OrderEvent] = []
    real = events.subscribers

    def listening(name: EventName) -> list[Callable[[Any, OrderEvent], None]]:
        return [lambda db, event: heard.append(copy.deepcopy(event)), *real(name)]
    monkeypatch.setattr(events, "subscribers", listening)
    return heard


def snapshot(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Every document of every non-empty collection, by _id."""
    dump = {}
    for name in sorted(db.list_collection_names()):
        docs = sorted(db[name].find(), key=lambda doc: repr(doc["_id"]))
        if docs:
            dump[name] = docs
    return dump


def assert_unchanged(db: Any, before: dict[str, list[dict[str, Any]]], how: str) -> None:
    after = snapshot(db)
    changed = sorted(name for name in set(before) | set(after)
                     if before.get(name) != after.get(name))
    assert changed == [], f"{how}, the event changed {changed}"


def the_event(published: list[OrderEvent], name: str, order_id: str) -> OrderEvent:
    found = [e for e in published if e.name == name and e.order.get("_id") == order_id]
    assert len(found) == 1, (f"the flow published {name} for {order_id} {len(found)} times",
                             [(e.name, e.order.get("_id")) for e in published])
    return found[0]


# ---- scenarios: each runs the real flow once, asserts the subscriber's effect, and returns the
# ---- id of the order whose event is delivered again

def group_leader_paid(db: Any, request: pytest.FixtureRequest) -> str:
    campaign = make_campaign(new_product(), team_size=3, stock_limit=10, per_user_limit=1)
    team_id, order = GroupBuyer().lead(campaign)  # the leader pays: the team opens
    team = team_doc(db, team_id)
    assert (team["status"], team["paid"], [s["paid"] for s in team["seats"]]) == \
        ("forming", 1, [True])
    return order["id"]


def group_member_paid_the_last_seat(db: Any, request: pytest.FixtureRequest) -> str:
    campaign = make_campaign(new_product(), team_size=2, stock_limit=10)
    team_id, leader_order = GroupBuyer().lead(campaign)
    order = GroupBuyer().join_and_pay(team_id)
    team = team_doc(db, team_id)
    assert (team["status"], team["paid"]) == ("succeeded", 2)
    assert db.orders.find_one({"_id": leader_order["id"]})["hold_shipping"] is False
    return order["id"]


def invitee_pays_a_first_order(reward: dict[str, Any]) -> tuple[Shopper, Shopper, str]:
    """An inviter, the shopper who opened the inviter's share first, and the invitee's first
    order, paid while ``reward`` is the referral reward."""
    product = new_product(price=2000)
    inviter, invitee = new_shopper(), new_shopper()
    # points of the inviter's own, so that taking a reward back twice would show
    merchant("merchant_adjust_points", {"user_id": inviter.user_id, "points": 50,
                                        "reason": "开业赠送"}).data
    assert open_share(invitee, share(inviter, product["id"])["code"])["first_touch"] is True
    merchant("merchant_set_referral_reward", reward).data
    order = pay(invitee, place(invitee, product["skus"][0]["id"])["id"])
    return inviter, invitee, order["id"]


def coupon_reward() -> dict[str, Any]:
    template = merchant("merchant_create_coupon", {
        "name": "邀请奖励", "kind": "fixed", "amount": 500, "total": 10, "per_user_limit": 1,
        "valid_days": 30}).data
    return {"kind": "coupon", "coupon_id": template["id"]}


def wallet(shopper: Shopper) -> list[int]:
    items = shopper.call("list_my_coupons", {"status": "available"}).data["items"]
    return [c["amount"] for c in items]


def referral_points_granted(db: Any, request: pytest.FixtureRequest) -> str:
    inviter, invitee, order_id = invitee_pays_a_first_order({"kind": "points", "points": 100})
    assert db.referral_rewards.find_one({"_id": invitee.user_id})["status"] == "granted"
    assert user(db, inviter)["points"] == 50 + 100
    return order_id


def referral_coupon_granted(db: Any, request: pytest.FixtureRequest) -> str:
    inviter, invitee, order_id = invitee_pays_a_first_order(coupon_reward())
    assert db.referral_rewards.find_one({"_id": invitee.user_id})["status"] == "granted"
    assert wallet(inviter) == [500]
    return order_id


def audience_totals_counted(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    member.paid_order([(sku(1500), 1)])
    order = member.paid_order([(sku(1234), 2)])
    stored = db.orders.find_one({"_id": order["id"]})
    buyer = db.users.find_one({"_id": member.user_id})
    assert (buyer["total_spent"], buyer["last_order_at"]) == (1500 + 2468, stored["paid_at"])
    assert stored["spent_counted"] is True
    return order["id"]


def growth_and_points_earned(db: Any, request: pytest.FixtureRequest) -> str:
    set_levels(("normal", 0, 0), ("silver", 2000, 5))
    member = Member()
    order = member.paid_order([(sku(1234), 2)])  # ¥24.68
    assert {k: member.membership()[k] for k in ("level", "growth", "points")} == \
        {"level": "silver", "growth": 2468, "points": 24}
    return order["id"]


def unpaid_group_order_cancelled(role: str) -> Callable[[Any, pytest.FixtureRequest], str]:
    """The leader's (or a member's) unpaid group order is cancelled by its buyer: the campaign's
    unit and the buyer's per-user quota come back; the team fails (or frees the seat)."""
    def scenario(db: Any, request: pytest.FixtureRequest) -> str:
        campaign = make_campaign(new_product(), team_size=3, stock_limit=10, per_user_limit=1)
        buyer = GroupBuyer()
        if role == "leader":
            team_id, order = buyer.lead(campaign, pay=False)
        else:
            team_id, _ = GroupBuyer().lead(campaign)
            order = buyer.join(team_id).data["order"]
        assert quotas(db)[f"{campaign['id']}:{buyer.user_id}"] == 1
        remaining = campaign_doc(db, campaign["id"])["remaining"]

        assert buyer.call("cancel_order", {"order_id": order["id"]}).data["status"] == \
            "cancelled"

        assert f"{campaign['id']}:{buyer.user_id}" not in quotas(db)
        assert campaign_doc(db, campaign["id"])["remaining"] == remaining + 1
        team = team_doc(db, team_id)
        if role == "leader":
            assert team["status"] == "failed"
        else:
            assert (team["status"], team["held"]) == ("forming", 1)
        return order["id"]
    scenario.__name__ = f"unpaid_group_{role}_order_cancelled"
    return scenario


def bargain_order_cancelled(db: Any, request: pytest.FixtureRequest) -> str:
    campaign = _create(new_product(price=1000, stock=50)["skus"][0]["id"]).data
    other = new_shopper()  # another owner's unit stays sold, so a second give-back would show
    assert _buy(other, _start(other, campaign["id"])["id"]).ok
    owner = new_shopper()
    bargain = _start(owner, campaign["id"])
    _help_with_friends(bargain["id"], 2)
    order = _buy(owner, bargain["id"]).data
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 2

    owner.call("cancel_order", {"order_id": order["id"]}).data

    assert _stored(db, bargain["id"])["status"] == "active"
    assert db.bargain_campaigns.find_one({"_id": campaign["id"]})["sold"] == 1
    return order["id"]


def deal_order_cancelled(db: Any, request: pytest.FixtureRequest) -> str:
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=10)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=5)
    shopper = new_shopper()
    order = order_deal(shopper, deal, store["id"], quantity=2).data
    assert [d["sold"] for d in db.deal_daily.find()] == [2]

    shopper.call("cancel_order", {"order_id": order["id"]}).data

    assert [d["sold"] for d in db.deal_daily.find()] == [0]
    return order["id"]


def deal_order_paid(db: Any, request: pytest.FixtureRequest) -> str:
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=10)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=5)
    order = order_deal(new_shopper(), deal, store["id"], quantity=2).data
    assert [d["holds"] for d in db.deal_daily.find()] == [[order["id"]]]

    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    deliver_owed_events()

    assert [(d["sold"], d["holds"]) for d in db.deal_daily.find()] == [(2, [])]
    return order["id"]


def points_order_timed_out(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    give_points(member, 1000)
    order = member.place([(sku(1000), 1)], points=400).data
    assert member.membership()["points"] == 600

    age_order(db, order["id"])
    assert run_timer("order_timeout")["cancelled"] == 1

    assert member.membership()["points"] == 1000
    return order["id"]


def failed_team_refunded(db: Any, request: pytest.FixtureRequest) -> str:
    campaign = make_campaign(new_product(), team_size=3, stock_limit=10, per_user_limit=1)
    leader, bob = GroupBuyer(), GroupBuyer()
    team_id, leader_order = leader.lead(campaign)
    bob.join_and_pay(team_id)
    assert campaign_doc(db, campaign["id"])["remaining"] == 8 and len(quotas(db)) == 2

    expire(db, team_id)
    assert run_timer("group_buy_expire")["refunds"] == 2  # the sandbox refunds at once

    assert db.orders.find_one({"_id": leader_order["id"]})["status"] == "refunded"
    assert campaign_doc(db, campaign["id"])["remaining"] == 10 and quotas(db) == {}
    return leader_order["id"]


def referral_points_reversed(db: Any, request: pytest.FixtureRequest) -> str:
    inviter, invitee, order_id = invitee_pays_a_first_order({"kind": "points", "points": 100})
    assert user(db, inviter)["points"] == 50 + 100

    refund(invitee, order_id)  # the whole first order, through an approved after-sale

    assert db.referral_rewards.find_one({"_id": invitee.user_id})["status"] == "reversed"
    assert user(db, inviter)["points"] == 50
    return order_id


def referral_coupon_revoked(db: Any, request: pytest.FixtureRequest) -> str:
    inviter, invitee, order_id = invitee_pays_a_first_order(coupon_reward())
    assert wallet(inviter) == [500]

    refund(invitee, order_id)

    reward = db.referral_rewards.find_one({"_id": invitee.user_id})
    assert (reward["status"], reward["coupon_revoked"]) == ("reversed", True)
    assert wallet(inviter) == []
    return order_id


def partial_refund_of_an_order_paid_with_points(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    give_points(member, 1000)
    apple = sku(1000)
    order = member.paid_order([(apple, 2)], points=800)  # pays ¥12.00: 12 points, 1200 growth
    assert {k: member.membership()[k] for k in ("growth", "points")} == \
        {"growth": 1200, "points": 1000 - 800 + 12}

    member.refunded(member.refund(order["id"], [(apple, 1)]))  # half: ¥6.00 back

    # half the growth and the earned points come off, half the points spent come back
    assert {k: member.membership()[k] for k in ("growth", "points")} == \
        {"growth": 600, "points": 1000 - 800 + 12 - 6 + 400}
    return order["id"]


def _community_member(percent: int) -> Member:
    leader = Member()
    community = merchant("merchant_create_community", {
        "name": "群", "leader_user_id": leader.user_id, "commission_percent": percent}).data
    member = Member()
    member.call("join_community", {"community_id": community["id"]}).data
    return member


def commission_earned(db: Any, request: pytest.FixtureRequest) -> str:
    order = _community_member(10).paid_order([(sku(1500), 2)])
    assert db.commissions.find_one({"_id": f"comm:{order['id']}"})["amount"] == 300
    return order["id"]


def commission_partly_reversed(db: Any, request: pytest.FixtureRequest) -> str:
    member = _community_member(10)
    apple = sku(1000)
    order = member.paid_order([(apple, 3)])
    member.refunded(member.refund(order["id"], [(apple, 1)]))
    deliver_owed_events()
    assert db.commissions.find_one({"_id": f"comm:{order['id']}"})["reversed"] == 100
    return order["id"]


def after_sale_refunded(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    order = member.paid_order([(sku(1500), 1)])

    after_sale = member.refunded(member.refund(order["id"]))

    assert after_sale["status"] == "refunded"
    return order["id"]


def after_sale_refund_refused(db: Any, request: pytest.FixtureRequest) -> str:
    wx = request.getfixturevalue("wx")  # WeChat Pay refuses the refund: the double says so
    member = Member()
    order = member.place([(sku(1500), 1)]).data
    pay_at_wechat(wx, member, order["id"])
    after_sale_id = member.refund(order["id"])
    assert member.call("get_after_sale", {"after_sale_id": after_sale_id}).data["status"] == \
        "refunding"

    wx.finish_refund(after_sale_id, "ABNORMAL")

    after_sale = member.call("get_after_sale", {"after_sale_id": after_sale_id}).data
    assert (after_sale["status"], after_sale["failure"]) == ("refund_failed", "ABNORMAL")
    return order["id"]


def limited_order_paid(db: Any, request: pytest.FixtureRequest) -> str:
    from tests.unit.test_purchase_limits import Buyer as LimitedBuyer
    from tests.unit.test_purchase_limits import counters, limited_product, sku_ids
    apple = sku_ids(limited_product({"per_shopper_per_day": 5}))[0]
    buyer = LimitedBuyer()
    buyer.place([(apple, 1)]).data  # another unpaid order, so a second give-back would show
    order = buyer.place([(apple, 2)]).data

    buyer.pay(order["id"])
    deliver_owed_events()  # the paid order's aftermath runs after the answer

    held = counters(db, buyer.user_id)
    assert (held[f"unpaid:{buyer.user_id}:{apple}"], held[f"unpaid_orders:{buyer.user_id}"]) == \
        (1, 1)
    assert [n for key, n in held.items() if key.startswith("day:")] == [3]  # bought: kept
    return order["id"]


def limited_order_cancelled(db: Any, request: pytest.FixtureRequest) -> str:
    from tests.unit.test_purchase_limits import Buyer as LimitedBuyer
    from tests.unit.test_purchase_limits import counters, limited_product, sku_ids
    apple = sku_ids(limited_product({"per_shopper_per_day": 5}))[0]
    buyer = LimitedBuyer()
    buyer.pay(buyer.place([(apple, 1)]).data["id"])
    deliver_owed_events()  # the paid order's aftermath runs after the answer
    buyer.place([(apple, 1)]).data  # another unpaid order, so a second give-back would show
    order = buyer.place([(apple, 2)]).data

    buyer.cancel(order["id"])

    held = counters(db, buyer.user_id)
    assert (held[f"unpaid:{buyer.user_id}:{apple}"], held[f"unpaid_orders:{buyer.user_id}"]) == \
        (1, 1)
    assert [n for key, n in held.items() if key.startswith("day:")] == [2]
    return order["id"]


def order_placed_recorded(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    order = member.place([(sku(1000), 2)]).data
    assert db.events.find_one({"_id": f"srv:order_placed:{order['id']}"}) is None  # not inline
    deliver_owed_events()
    fact = db.events.find_one({"_id": f"srv:order_placed:{order['id']}"})
    assert (fact["user_id"], fact["props"]["amount"]) == (member.user_id, 2000)
    return str(order["id"])


def order_paid_recorded(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    order = member.paid_order([(sku(1500), 2)])
    fact = db.events.find_one({"_id": f"srv:order_paid:{order['id']}"})
    assert fact["props"]["amount"] == 3000 and fact["props"]["items"][0]["quantity"] == 2
    return str(order["id"])


def order_refund_recorded(db: Any, request: pytest.FixtureRequest) -> str:
    member = Member()
    order = member.paid_order([(sku(1500), 1)])
    member.refund(order["id"])
    fact = db.events.find_one({"_id": f"srv:order_refunded:{order['id']}"})
    assert fact["props"] == {"order_id": order["id"], "amount": 1500}
    return str(order["id"])


@dataclass(frozen=True)
class Case:
    event: str
    subscriber: str
    scenario: Callable[[Any, pytest.FixtureRequest], str]

    @property
    def id(self) -> str:
        function = self.subscriber.rpartition(".")[2].replace(":", ".")
        return f"{self.event}-{function}-{self.scenario.__name__}"


CASES = [
    Case("order_paid", "shared.social.groupbuy:on_order_paid", group_leader_paid),
    Case("order_paid", "shared.social.groupbuy:on_order_paid", group_member_paid_the_last_seat),
    Case("order_paid", "shared.social.referral:on_order_paid", referral_points_granted),
    Case("order_paid", "shared.social.referral:on_order_paid", referral_coupon_granted),
    Case("order_paid", "shared.marketing.campaigns:on_order_paid", audience_totals_counted),
    Case("order_paid", "shared.loyalty.members:on_order_paid", growth_and_points_earned),
    Case("order_paid", "shared.nearby.deals:on_order_paid", deal_order_paid),
    Case("order_paid", "shared.orders.limits:on_order_paid", limited_order_paid),
    Case("order_paid", "shared.insight.facts:on_order_paid", order_paid_recorded),
    Case("order_placed", "shared.insight.facts:on_order_placed", order_placed_recorded),
    Case("order_paid", "shared.live.commission:on_order_paid", commission_earned),
    Case("order_cancelled", "shared.social.groupbuy:on_order_cancelled",
         unpaid_group_order_cancelled("leader")),
    Case("order_cancelled", "shared.social.groupbuy:on_order_cancelled",
         unpaid_group_order_cancelled("member")),
    Case("order_cancelled", "shared.social.bargain:on_order_cancelled", bargain_order_cancelled),
    Case("order_released", "shared.nearby.deals:on_order_released", deal_order_cancelled),
    Case("order_released", "shared.loyalty.points:on_order_released", points_order_timed_out),
    Case("order_released", "shared.orders.limits:on_order_released", limited_order_cancelled),
    Case("order_refunded", "shared.social.groupbuy:on_order_refunded", failed_team_refunded),
    Case("order_refunded", "shared.social.referral:on_order_refunded", referral_points_reversed),
    Case("order_refunded", "shared.social.referral:on_order_refunded", referral_coupon_revoked),
    Case("order_refunded", "shared.insight.facts:on_order_refunded", order_refund_recorded),
    Case("refund_succeeded", "shared.loyalty.members:on_refund_succeeded",
         partial_refund_of_an_order_paid_with_points),
    Case("refund_succeeded", "shared.live.commission:on_refund_succeeded",
         commission_partly_reversed),
    Case("refund_succeeded", "shared.payments.aftersales:on_refund_finished",
         after_sale_refunded),
    Case("refund_failed", "shared.payments.aftersales:on_refund_finished",
         after_sale_refund_refused),
]


def test_every_pair_in_the_table_has_a_scenario_below() -> None:
    pairs = {(event, ref) for event, refs in SUBSCRIBERS.items() for ref in refs}

    assert {(case.event, case.subscriber) for case in CASES} == pairs


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_delivering_the_event_again_changes_nothing(db: Any, published: list[OrderEvent],
                                                    request: pytest.FixtureRequest,
                                                    case: Case) -> None:
    order_id = case.scenario(db, request)
    deliver_owed_events()   # whatever the flow left to run after its answers
    event = the_event(published, case.event, order_id)
    before = snapshot(db)

    subscriber(case.subscriber)(db, event)
    assert_unchanged(db, before, f"delivered again to {case.subscriber}")

    publish(db, event)
    assert_unchanged(db, before, f"published again to {SUBSCRIBERS[case.event]}")
