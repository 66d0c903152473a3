"""Nothing lost when an instance dies (issue 12, section 3): the paid transition and its hooks.

The order turns paid through the WeChat Pay notify (the sandbox posts a genuine one), the dev
stand-in ``merchant_mark_paid``, or at once for a free order. The instance dies right after
each write k of that flow; then the notify is retried (WeChat Pay does, until it gets a 2xx),
or the stand-in called again, and the timers run with the clock moved on. Every hook must have
run exactly once: units sold, growth and points earned once, the level refreshed, the
inviter's referral reward granted once, the campaign audience totals counted once, a group-buy
leader's team opened, and the deal's daily counter no longer holding the paid order.

Also (issue 14): the paid transition answers before loyalty, referral and campaign stats run;
they run after it (the ``order_events`` timer, or the async runner) exactly once each.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import pytest

from tests.conftest import Shopper, merchant, new_address, new_product, new_shopper
from tests.faults import (
    check_all,
    count_writes,
    die_after_write,
    recover,
    run_timers,
    stock_totals,
)
from tests.helpers import Clock, deliver_owed_events
from tests.unit.test_groupbuy import Buyer as GroupBuyer
from tests.unit.test_groupbuy import make_campaign, team_doc
from tests.unit.test_referral import open_share, share

MAX_WRITES = 30
_ids = itertools.count(1)


@dataclass
class Paying:
    shopper: Shopper
    inviter: Shopper
    order: dict[str, Any]


@pytest.fixture
def paying(db: Any, clock: Clock) -> Paying:
    """An invitee's first order (paid partly with points), the inviter rewarded with points."""
    product = new_product(price=3000, stock=10)
    inviter, shopper = new_shopper(), new_shopper()
    assert open_share(shopper, share(inviter, product["id"])["code"])["first_touch"] is True
    merchant("merchant_set_referral_reward", {"kind": "points", "points": 100}).data
    merchant("merchant_adjust_points", {"user_id": shopper.user_id, "points": 500,
                                        "reason": "开业赠送"}).data
    order = shopper.call("place_order", {
        "request_id": f"crash-paid-{next(_ids):04d}", "address_id": new_address(shopper),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}], "points": 200}).data
    deliver_owed_events()   # order_placed, heard after the answer as deployed
    return Paying(shopper, inviter, order)


def via_mark_paid(paying: Paying, sandbox: Any) -> Callable[[], Any]:
    return lambda: merchant("merchant_mark_paid", {"order_id": paying.order["id"]})


def via_notify(paying: Paying, sandbox: Any) -> Callable[[], Any]:
    return lambda: paying.shopper.call("sandbox_pay", {"order_id": paying.order["id"]})


def notify_again(paying: Paying, sandbox: Any) -> Callable[[], Any]:
    """WeChat Pay sends the notify again: it never got the 2xx of the instance that died."""
    return lambda: sandbox.confirm_payment(paying.order["id"])


PATHS = {"mark_paid": (via_mark_paid, via_mark_paid), "notify": (via_notify, notify_again)}


def assert_hooks_ran_once(db: Any, paying: Paying) -> None:
    order = db.orders.find_one({"_id": paying.order["id"]})
    assert order["status"] == "paid" and not order.get("events_due")
    assert [i["stock"] for i in order["items"]] == ["sold"]
    total = order["total"]
    shopper = db.users.find_one({"_id": paying.shopper.user_id})
    assert shopper["growth"] == total                      # growth once
    assert shopper["points"] == 500 - 200 + total // 100   # spent once, earned once
    assert shopper["total_spent"] == total                 # campaign audience totals, once
    assert shopper.get("member_level") == "normal"
    rewards = list(db.referral_rewards.find({}))
    assert [(r["inviter_id"], r["status"]) for r in rewards] == \
        [(paying.inviter.user_id, "granted")]
    assert db.users.find_one({"_id": paying.inviter.user_id})["points"] == 100


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_crash_points_cover_every_write(faulty_db: Any, paying: Paying, pay_sandbox: Any,
                                            path: str) -> None:
    first, _ = PATHS[path]
    writes = count_writes(faulty_db, lambda: (first(paying, pay_sandbox)(),
                                              deliver_owed_events()))
    assert 0 < writes <= MAX_WRITES, writes


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_payment_whose_instance_died_runs_every_hook_exactly_once(
        faulty_db: Any, clock: Clock, paying: Paying, pay_sandbox: Any, path: str,
        k: int) -> None:
    first, retry = PATHS[path]
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        first(paying, pay_sandbox)()
        deliver_owed_events()   # the aftermath after the answer, in the same instance
    if not fault.died:
        pytest.skip(f"{path} writes fewer than {k} times")

    recover(clock, retry(paying, pay_sandbox))
    recover(clock, retry(paying, pay_sandbox))  # and once more: nothing runs twice

    assert_hooks_ran_once(faulty_db, paying)
    check_all(faulty_db, before)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_payment_whose_instance_died_is_finished_by_the_timers_alone(
        faulty_db: Any, clock: Clock, paying: Paying, pay_sandbox: Any, path: str,
        k: int) -> None:
    first, _ = PATHS[path]
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        first(paying, pay_sandbox)()
        deliver_owed_events()
    if not fault.died:
        pytest.skip(f"{path} writes fewer than {k} times")
    money_moved = faulty_db.orders.find_one({"_id": paying.order["id"]})["status"] == "paid" \
        or pay_sandbox.transactions.get(paying.order["id"], {}).get("trade_state") == "SUCCESS"

    recover(clock)

    if money_moved:   # the payment reconciler takes it in, if the notify never got through
        assert_hooks_ran_once(faulty_db, paying)
    else:             # died before anything was paid: the order times out unpaid
        assert faulty_db.orders.find_one({"_id": paying.order["id"]})["status"] == "cancelled"
    check_all(faulty_db, before)


# ---- issue 14: the hooks run after the answer -----------------------------------------------

def test_the_paid_transition_answers_before_loyalty_referral_and_campaign_hooks_run(
        db: Any, clock: Clock, paying: Paying, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.cloud import scf
    from shared.core.config import reset_settings
    invoked: list[str] = []   # deployed: the async invoke is started, and gets lost here
    monkeypatch.setattr(scf, "invoke_async", lambda s, name, payload: invoked.append(name))
    monkeypatch.setenv("ORDER_EVENTS_RUNNER", "scf")
    reset_settings()
    paid = merchant("merchant_mark_paid", {"order_id": paying.order["id"]}).data

    assert paid["status"] == "paid"
    order = db.orders.find_one({"_id": paying.order["id"]})
    assert [e["name"] for e in order["events_due"]] == ["order_paid"]
    assert [i["stock"] for i in order["items"]] == ["sold"]   # the units are sold with it
    assert db.users.find_one({"_id": paying.shopper.user_id}).get("growth", 0) == 0
    assert db.referral_rewards.count_documents({}) == 0

    assert invoked == ["order_events_deliver"]
    clock.advance(seconds=10)   # within the grace period the timer leaves it to the runner
    assert run_timers(clock, ["order_events"], advance=timedelta(0),
                      rounds=1)["order_events"]["delivered"] == 0
    clock.advance(seconds=30)
    assert run_timers(clock, ["order_events"], advance=timedelta(0),
                      rounds=1)["order_events"]["delivered"] == 1

    assert_hooks_ran_once(db, paying)


def test_a_group_buy_leaders_team_opens_inside_the_paid_transition(db: Any) -> None:
    campaign = make_campaign(new_product(price=3000, stock=10), team_size=2)
    team_id, order = GroupBuyer().lead(campaign)

    assert order["status"] == "paid"
    assert team_doc(db, team_id)["status"] == "forming"      # no timer needed to share it
    assert db.orders.find_one({"_id": order["id"]})["events_due"]  # the rest comes after


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_group_buy_leader_whose_payment_died_gets_the_team_opened(
        faulty_db: Any, clock: Clock, pay_sandbox: Any, k: int) -> None:
    campaign = make_campaign(new_product(price=3000, stock=10), team_size=2)
    leader = GroupBuyer()
    team_id, order = leader.lead(campaign, pay=False)
    before = stock_totals(faulty_db)
    with die_after_write(faulty_db, k) as fault:
        leader.call("sandbox_pay", {"order_id": order["id"]})
        deliver_owed_events()
    if not fault.died:
        pytest.skip(f"sandbox_pay writes fewer than {k} times")

    recover(clock, lambda: pay_sandbox.confirm_payment(order["id"]), rounds=1)

    team = team_doc(faulty_db, team_id)
    assert (team["status"], team["paid"]) == ("forming", 1)
    assert faulty_db.orders.find_one({"_id": order["id"]})["hold_shipping"] is True
    check_all(faulty_db, before)


def test_the_async_runner_in_dev_delivers_after_the_answer(
        db: Any, paying: Paying, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    from tests.helpers import wait_until
    monkeypatch.setenv("ORDER_EVENTS_RUNNER", "thread")
    reset_settings()

    assert merchant("merchant_mark_paid", {"order_id": paying.order["id"]}).data["status"] \
        == "paid"

    wait_until(lambda: not db.orders.find_one({"_id": paying.order["id"]}).get("events_due"))
    assert_hooks_ran_once(db, paying)


def test_the_deployed_runner_invokes_the_internal_function_signed(
        db: Any, paying: Paying, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.cloud import scf
    from shared.core.config import reset_settings
    from shared.core.dispatch import run_internal
    invoked: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(scf, "invoke_async",
                        lambda settings, name, payload: invoked.append((name, payload)) or "r")
    monkeypatch.setenv("ORDER_EVENTS_RUNNER", "scf")
    reset_settings()

    merchant("merchant_mark_paid", {"order_id": paying.order["id"]}).data

    [(name, payload)] = invoked
    assert name == "order_events_deliver" and payload["order_id"] == paying.order["id"]
    forged = run_internal(name, {**payload, "sig": "0" * 64})
    assert forged.envelope["error"]["code"] == "FORBIDDEN"
    assert run_internal(name, payload).envelope["data"]["delivered"] == ["order_paid"]
    assert_hooks_ran_once(db, paying)


def test_with_no_runner_the_order_events_timer_delivers_at_once(db: Any, paying: Paying) -> None:
    merchant("merchant_mark_paid", {"order_id": paying.order["id"]}).data

    ran = merchant("dev_run_timer", {"name": "order_events"}).data

    assert ran["result"]["delivered"] == 1   # nothing else would deliver: no grace to wait
    assert_hooks_ran_once(db, paying)
