"""Group-buy (拼团): campaigns, teams, seats, payments, expiry and refunds.

Every call goes through the real dispatcher. Payments go through the loopback WeChat Pay
sandbox (``sandbox_pay``: a genuine signed notify), except the expiry tests, which configure
the shop for the independent WeChat Pay double (tests/wxpay_double.py) as a real merchant
would, so that what the shop asks WeChat Pay for (one refund per paid member, amounts) is
seen from outside the shop's own client. A refund lands with its REFUND.* notify: the sandbox
(synchronous in tests) sends it before it answers the refund request, the double when the test
says so (``wx.finish_refund``).

Invariants checked throughout: a team never has more seats held or paid than its size; per
SKU, stock + locked + sold never changes; a team's final state does not move again.
"""
from __future__ import annotations

import itertools
import json
import sys
import threading
from datetime import datetime, timedelta
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import (
    Answer,
    Shopper,
    call,
    merchant,
    new_address,
    new_product,
    new_shopper,
    run_threads,
)
from tests.helpers import Clock

_request_ids = itertools.count(1)
GROUP_PRICE_OFF = 200  # the group price is the SKU's price minus this


def stamp(moment: datetime) -> str:
    return moment.isoformat()


# ---- helpers -------------------------------------------------------------------------------

class Buyer:
    """A shopper with an address who starts and joins teams with fresh request ids."""

    def __init__(self, name: Optional[str] = None) -> None:
        self.shopper: Shopper = new_shopper(name)
        self.user_id = self.shopper.user_id
        self.address_id = new_address(self.shopper)

    def call(self, action: str, payload: Any = None) -> Answer:
        return self.shopper.call(action, payload)

    def start(self, campaign: dict[str, Any], sku_id: Optional[str] = None,
              request_id: Optional[str] = None) -> Answer:
        return self.call("start_group_buy", {
            "campaign_id": campaign["id"], "sku_id": sku_id or campaign["sku_prices"][0]["sku_id"],
            "request_id": request_id or f"req-gb-{next(_request_ids):06d}",
            "address_id": self.address_id})

    def join(self, team_id: str, request_id: Optional[str] = None, **extra: Any) -> Answer:
        return self.call("join_group_buy", {
            "team_id": team_id, "request_id": request_id or f"req-gb-{next(_request_ids):06d}",
            "address_id": self.address_id, **extra})

    def pay(self, order_id: str) -> dict[str, Any]:
        """Pay through the sandbox; the order as it is once the notify has been handled."""
        paid = self.call("sandbox_pay", {"order_id": order_id}).data
        assert paid["notify_status"] == 204, paid
        return paid["order"]

    def lead(self, campaign: dict[str, Any], pay: bool = True) -> tuple[str, dict[str, Any]]:
        """Open a team (and pay the leader's order): the team's id and the leader's order."""
        started = self.start(campaign).data
        order = self.pay(started["order"]["id"]) if pay else started["order"]
        return started["team"]["id"], order

    def join_and_pay(self, team_id: str) -> dict[str, Any]:
        joined = self.join(team_id).data
        return self.pay(joined["order"]["id"])


def buyers(count: int) -> list[Buyer]:
    return [Buyer() for _ in range(count)]


def make_campaign(product: dict[str, Any], **fields: Any) -> dict[str, Any]:
    now = Clock().now
    payload = {"product_id": product["id"],
               "sku_prices": [{"sku_id": s["id"], "group_price": s["price"] - GROUP_PRICE_OFF}
                              for s in product["skus"]],
               "team_size": 3, "team_ttl_minutes": 60,
               "starts_at": stamp(now - timedelta(minutes=1)),
               "ends_at": stamp(now + timedelta(days=1))}
    payload.update(fields)
    answer = merchant("merchant_create_group_buy", payload)
    assert answer.status == 200, answer.body
    return answer.data


def units(db: Any, sku_id: str) -> tuple[int, int, int]:
    doc = db.skus.find_one({"_id": sku_id})
    return doc["stock"], doc.get("locked", 0), doc.get("sold", 0)


def team_doc(db: Any, team_id: str) -> dict[str, Any]:
    return db.teams.find_one({"_id": team_id})


def team_orders(db: Any, team_id: str) -> list[dict[str, Any]]:
    return list(db.orders.find({"group.team_id": team_id}))


def get_team(team_id: str) -> dict[str, Any]:
    """The public view, asked without any token."""
    return call("get_team", {"team_id": team_id}).data


def campaign_doc(db: Any, campaign_id: str) -> dict[str, Any]:
    return db.group_buys.find_one({"_id": campaign_id})


def expire(db: Any, team_id: str) -> None:
    """Move the team's deadline into the past (what the passing of its TTL does)."""
    db.teams.update_one({"_id": team_id},
                        {"$set": {"expires_at": Clock().now - timedelta(seconds=1)}})


def age_order(db: Any, order_id: str) -> None:
    """Move the order's pay deadline into the past."""
    db.orders.update_one({"_id": order_id},
                         {"$set": {"pay_deadline": Clock().now - timedelta(seconds=1)}})


NOTHING_DONE = {"succeeded": 0, "failed": 0, "refunds": 0}


def team_counts(result: dict[str, Any]) -> dict[str, int]:
    """What group_buy_expire did to teams (the same timer also expires bargains)."""
    return {key: result[key] for key in NOTHING_DONE}


def run_timer(name: str) -> dict[str, Any]:
    from shared.core.dispatch import run_timer as run
    outcome = run(name)
    assert outcome.status == 200, outcome.envelope
    return outcome.envelope["data"]


def ship(order_id: str) -> Answer:
    return merchant("merchant_ship_order", {"order_id": order_id, "carrier": "SF",
                                            "tracking_no": "SF1234567890"})


def finished_refunds(db: Any, order_ids: list[str]) -> list[dict[str, Any]]:
    """Every refund record of these orders, none of them still open (the sandbox finished each
    refund, its REFUND.SUCCESS notify handled, before it answered the shop's request)."""
    records = list(db.refunds.find({"order_id": {"$in": order_ids}}))
    assert records and all(r["status"] not in ("requested", "processing") for r in records), \
        [(r["_id"], r["status"]) for r in records]
    return records


def sandbox_refunds(order_id: str) -> list[dict[str, Any]]:
    from shared.wechat.pay_sandbox import get_sandbox
    sandbox = get_sandbox()
    with sandbox.lock:
        return [dict(r) for r in sandbox.refunds.values() if r["out_trade_no"] == order_id]


class Watch:
    """Polls a team and its SKU on its own thread while a race runs, and remembers anything
    that breaks an invariant at any moment: more seats held or paid than the team's size,
    seats that disagree with the counters, stock + locked + sold changing."""

    def __init__(self, db: Any, team_id: str, sku_id: str) -> None:
        self.db, self.team_id, self.sku_id = db, team_id, sku_id
        self.total = sum(units(db, sku_id))
        self.samples = 0
        self.violations: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            team = team_doc(self.db, self.team_id)
            size = team["team_size"]
            paid_seats = sum(1 for s in team["seats"] if s["paid"])
            if team["held"] > size or team["paid"] > size or len(team["seats"]) != team["held"] \
                    or paid_seats != team["paid"]:
                self.violations.append(("team", team["held"], team["paid"], len(team["seats"]),
                                        paid_seats))
            stock, locked, sold = units(self.db, self.sku_id)
            if min(stock, locked, sold) < 0 or stock + locked + sold != self.total:
                self.violations.append(("sku", stock, locked, sold))
            self.samples += 1

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        assert self.samples > 0
        assert self.violations == [], self.violations[:5]


@pytest.fixture
def eager_thread_switching() -> Iterator[None]:
    """Switch threads far more often than every 5 ms, so that a thread is likely to be
    interrupted between two database operations of one step."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def product() -> dict[str, Any]:
    return new_product(price=1000, stock=100, title="阳山水蜜桃")


@pytest.fixture
def sku_id(product: dict[str, Any]) -> str:
    return product["skus"][0]["id"]


# ---- the life of a team --------------------------------------------------------------------

def test_a_team_forms_when_the_leader_pays_and_succeeds_when_every_seat_is_paid(db, product,
                                                                                 sku_id):
    campaign = make_campaign(product, team_size=3, stock_limit=10)
    leader, bob, carol = Buyer("leader"), Buyer("bob"), Buyer("carol")
    leader.call("update_profile", {"avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/leader/132"}).data

    started = leader.start(campaign).data
    team_id, leader_order = started["team"]["id"], started["order"]
    assert leader_order["status"] == "pending_payment" and leader_order["total"] == 800
    assert leader_order["hold_shipping"] is True
    # shown while opening (a shared link works), but not open to members until paid
    assert call("get_team", {"team_id": team_id}).data["status"] == "opening"
    assert bob.join(team_id).code == "TEAM_NOT_OPEN"

    leader.pay(leader_order["id"])
    team = get_team(team_id)
    assert team["status"] == "forming" and team["seats_left"] == 2
    assert team["members"] == [{"nickname": "leader",
                                "avatar": "https://thirdwx.qlogo.cn/mmopen/vi_32/leader/132",
                                "is_leader": True}]
    expires = datetime.fromisoformat(team["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires - Clock().now <= timedelta(minutes=60)
    listed = call("get_group_buy", {"campaign_id": campaign["id"]}).data
    assert [t["id"] for t in listed["teams"]] == [team_id]

    # a paid order waits for its team before it may ship
    held = ship(leader_order["id"])
    assert (held.status, held.code) == (409, "INVALID_STATE")
    assert held.body["error"]["details"]["hold_shipping"] is True

    joined = bob.join(team_id).data
    assert joined["order"]["total"] == 800 and joined["order"]["group"]["role"] == "member"
    assert joined["team"]["seats_left"] == 1
    assert [m["nickname"] for m in joined["team"]["members"]] == ["leader"]  # bob has not paid
    bob.pay(joined["order"]["id"])
    assert get_team(team_id)["status"] == "forming"
    assert [m["nickname"] for m in get_team(team_id)["members"]] == ["leader", "bob"]

    last = carol.join_and_pay(team_id)
    assert last["status"] == "paid"
    team = get_team(team_id)
    assert team["status"] == "succeeded" and team["seats_left"] == 0
    assert [(m["nickname"], m["is_leader"]) for m in team["members"]] == \
        [("leader", True), ("bob", False), ("carol", False)]

    orders = team_orders(db, team_id)
    assert sorted(o["user_id"] for o in orders) == sorted([leader.user_id, bob.user_id,
                                                           carol.user_id])
    assert all(o["status"] == "paid" and o["hold_shipping"] is False for o in orders)
    for order in orders:
        shipped = ship(order["_id"])
        assert shipped.status == 200 and shipped.data["status"] == "shipped"
    assert units(db, sku_id) == (97, 0, 3)
    doc = campaign_doc(db, campaign["id"])
    assert (doc["remaining"], doc["teams_succeeded"]) == (7, 1)
    # a full team is no longer offered, and cannot be joined
    assert call("get_group_buy", {"campaign_id": campaign["id"]}).data["teams"] == []
    late = Buyer().join(team_id)
    assert late.status == 409


def test_get_team_is_a_public_view_with_no_personal_data(db, product):
    campaign = make_campaign(product, team_size=3)
    leader, member, unpaid = buyers(3)
    team_id, leader_order = leader.lead(campaign)
    member_order = member.join_and_pay(team_id)
    unpaid_order = unpaid.join(team_id).data["order"]

    answer = call("get_team", {"team_id": team_id})  # no token at all
    assert answer.status == 200
    team = answer.data
    assert {"id", "status", "members", "seats_left", "expires_at"} <= set(team)
    assert team["seats_left"] == 0 and len(team["members"]) == 2  # the unpaid seat is not shown
    for entry in team["members"]:
        assert set(entry) == {"nickname", "avatar", "is_leader"}
    text = json.dumps(answer.body, ensure_ascii=False)
    secrets = [leader.user_id, member.user_id, unpaid.user_id, leader.address_id,
               member.address_id, leader_order["id"], member_order["id"], unpaid_order["id"],
               "13800138000", "世纪大道", "张三"]
    secrets += [u["openid"] for u in db.users.find({"_id": {"$in": [leader.user_id,
                                                                     member.user_id]}})]
    assert [s for s in secrets if s in text] == []


# ---- races with real threads ---------------------------------------------------------------

@pytest.mark.parametrize("seats_left", [1, 2])
def test_30_users_race_to_join_and_pay_for_the_last_seats(db, product, sku_id, seats_left,
                                                           eager_thread_switching):
    campaign = make_campaign(product, team_size=5, stock_limit=60)
    leader = Buyer()
    team_id, _ = leader.lead(campaign)
    for member in buyers(4 - seats_left):
        member.join_and_pay(team_id)
    racers = buyers(30)
    assert get_team(team_id)["seats_left"] == seats_left

    def attempt(i: int) -> tuple[Answer, Optional[Answer]]:
        joined = racers[i].join(team_id)
        if not joined.ok:
            return joined, None
        return joined, racers[i].call("sandbox_pay", {"order_id": joined.data["order"]["id"]})

    with Watch(db, team_id, sku_id):
        results = run_threads(30, attempt)

    for result in results:
        assert isinstance(result, tuple), result  # no thread died
    winners = [i for i, (joined, _) in enumerate(results) if joined.ok]
    losers = [i for i, (joined, _) in enumerate(results) if not joined.ok]
    assert len(winners) == seats_left
    for i in losers:
        joined = results[i][0]
        assert joined.status == 409 and joined.code in ("TEAM_FULL", "INVALID_STATE"), joined.body
        assert db.orders.count_documents({"user_id": racers[i].user_id}) == 0
    for i in winners:
        paid = results[i][1]
        assert paid is not None and paid.status == 200, paid and paid.body
        assert paid.data["notify_status"] == 204

    team = team_doc(db, team_id)
    assert (team["status"], team["held"], team["paid"]) == ("succeeded", 5, 5)
    assert len({s["user_id"] for s in team["seats"]}) == 5 and all(s["paid"] for s in team["seats"])
    assert len(get_team(team_id)["members"]) == 5
    orders = team_orders(db, team_id)
    # any order other than the five seats' must have been refused its seat and refunded in full
    extra = [o["_id"] for o in orders if o["_id"] not in {s["order_id"] for s in team["seats"]}]
    if extra:
        for record in finished_refunds(db, extra):
            assert record["status"] == "succeeded"
    for order in db.orders.find({"group.team_id": team_id}):
        if order["_id"] in extra:
            assert order["status"] in ("refunded", "cancelled")
            assert order["status"] == "cancelled" or order["refunded_amount"] == order["total"]
        else:
            assert order["status"] == "paid" and order["hold_shipping"] is False
    assert units(db, sku_id) == (95, 0, 5)
    doc = campaign_doc(db, campaign["id"])
    assert (doc["remaining"], doc["teams_succeeded"]) == (55, 1)


@pytest.mark.parametrize("stale_pays", [True, False], ids=["stale_member_pays", "stale_gives_up"])
def test_a_timed_out_seat_freed_while_30_users_race_never_overfills(db, product, sku_id,
                                                                     stale_pays,
                                                                     eager_thread_switching):
    """Leader + 2 paid + 1 unpaid seat past its pay deadline (it has a prepay at WeChat Pay).
    30 users race to join and pay while order_timeout runs (and, in one case, the stale member
    pays in WeChat at the same moment): whichever wins, paid members never exceed the seats,
    a seat freed mid-race goes to at most one racer, and the stale member's money is either
    taken for the seat or never taken."""
    from shared.wechat.pay_sandbox import get_sandbox
    campaign = make_campaign(product, team_size=5)
    team_id, _ = Buyer().lead(campaign)
    for member in buyers(2):
        member.join_and_pay(team_id)
    stale = Buyer()
    stale_order = stale.join(team_id).data["order"]
    assert stale.call("pay_order", {"order_id": stale_order["id"]}).status == 200
    age_order(db, stale_order["id"])
    racers = buyers(30)

    def attempt(i: int) -> Any:
        if i == 30:
            return run_timer("order_timeout")
        if i == 31:
            return get_sandbox().confirm_payment(stale_order["id"]) if stale_pays else None
        joined = racers[i].join(team_id)
        if not joined.ok:
            return joined, None
        return joined, racers[i].call("sandbox_pay", {"order_id": joined.data["order"]["id"]})

    with Watch(db, team_id, sku_id):
        results = run_threads(32, attempt)

    assert not any(isinstance(r, Exception) for r in results), results
    winners = [i for i in range(30) if results[i][0].ok]
    for i in range(30):
        joined, paid = results[i]
        if joined.ok:
            assert paid.status == 200 and paid.data["order"]["status"] == "paid", paid.body
        else:
            assert joined.status == 409 and joined.code in ("TEAM_FULL", "INVALID_STATE")
    stale_doc = db.orders.find_one({"_id": stale_order["id"]})
    stale_paid = stale_doc["status"] == "paid"
    if not stale_paid:
        assert stale_doc["status"] == "cancelled" and not stale_doc.get("payment", {}).get(
            "transaction_id")
    team = team_doc(db, team_id)
    assert team["paid"] == 3 + len(winners) + stale_paid <= 5
    assert team["held"] == team["paid"]  # every seat left is a paid one
    assert team["status"] == ("succeeded" if team["paid"] == 5 else "forming")
    assert len(winners) in (1, 2)
    stock, locked, sold = units(db, sku_id)
    assert (stock + locked + sold, locked, sold) == (100, 0, team["paid"])


def test_concurrent_starts_never_exceed_the_campaign_stock_limit(db, product, sku_id,
                                                                  eager_thread_switching):
    campaign = make_campaign(product, stock_limit=5)
    people = buyers(12)
    results = run_threads(12, lambda i: people[i].start(campaign))
    ok = [r for r in results if isinstance(r, Answer) and r.ok]
    refused = [r for r in results if isinstance(r, Answer) and not r.ok]
    assert len(ok) == 5 and len(refused) == 7
    assert {(r.status, r.code) for r in refused} == {(409, "OUT_OF_STOCK")}
    assert campaign_doc(db, campaign["id"])["remaining"] == 0
    assert db.teams.count_documents({"campaign_id": campaign["id"]}) == 5  # no orphan teams
    assert db.orders.count_documents({"group.campaign_id": campaign["id"]}) == 5
    assert units(db, sku_id) == (95, 5, 0)


def test_concurrent_starts_by_one_user_stop_at_the_per_user_limit(db, product,
                                                                   eager_thread_switching):
    campaign = make_campaign(product, per_user_limit=2)
    buyer = Buyer()
    results = run_threads(8, lambda i: buyer.start(campaign))
    assert sorted((r.status, r.code) for r in results) == \
        [(200, None)] * 2 + [(409, "LIMIT_EXCEEDED")] * 6
    assert db.orders.count_documents({"user_id": buyer.user_id}) == 2


# ---- who may join ------------------------------------------------------------------------

def test_a_user_cannot_join_their_own_team_or_join_twice(db, product):
    campaign = make_campaign(product, team_size=4)
    leader, bob = buyers(2)
    team_id, _ = leader.lead(campaign)

    own = leader.join(team_id)
    assert (own.status, own.code) == (409, "CONFLICT")

    first = bob.join(team_id, request_id="req-bob-join-1")
    assert first.status == 200
    retry = bob.join(team_id, request_id="req-bob-join-1")  # the same request: the same answer
    assert retry.status == 200 and retry.data["order"]["id"] == first.data["order"]["id"]
    again = bob.join(team_id)  # a second seat for bob: no
    assert (again.status, again.code) == (409, "CONFLICT")
    bob.pay(first.data["order"]["id"])
    after_paying = bob.join(team_id)
    assert (after_paying.status, after_paying.code) == (409, "CONFLICT")

    team = team_doc(db, team_id)
    assert team["held"] == 2 and [s["user_id"] for s in team["seats"]] == [leader.user_id,
                                                                           bob.user_id]
    assert db.orders.count_documents({"user_id": bob.user_id}) == 1


def test_per_user_limit_counts_every_team_and_comes_back_when_an_order_is_cancelled(db,
                                                                                     product):
    campaign = make_campaign(product, team_size=2, per_user_limit=1)
    alice, bob, carol = buyers(3)
    alice.lead(campaign)
    _, bob_order = bob.lead(campaign, pay=False)

    second = alice.start(campaign)
    assert (second.status, second.code) == (409, "LIMIT_EXCEEDED")
    bob_again = bob.start(campaign)  # bob's first (unpaid) order counts too
    assert (bob_again.status, bob_again.code) == (409, "LIMIT_EXCEEDED")
    assert db.orders.count_documents({"user_id": {"$in": [alice.user_id, bob.user_id]}}) == 2

    # alice leads one team: she may not also join another
    carol_team, _ = carol.lead(campaign)
    joined = alice.join(carol_team)
    assert (joined.status, joined.code) == (409, "LIMIT_EXCEEDED")
    assert team_doc(db, carol_team)["held"] == 1  # the seat was given back

    # bob cancels his unpaid order: his quota comes back
    assert bob.call("cancel_order", {"order_id": bob_order["id"]}).data["status"] == "cancelled"
    assert bob.join(carol_team).status == 200


def test_stock_limit_refuses_when_sold_out_and_a_cancelled_order_gives_a_unit_back(db,
                                                                                     product,
                                                                                     sku_id):
    campaign = make_campaign(product, team_size=2, stock_limit=3)
    first, second, third, fourth = buyers(4)
    team_id, _ = first.lead(campaign)
    second_order = second.join(team_id).data["order"]
    third.lead(campaign, pay=False)
    assert campaign_doc(db, campaign["id"])["remaining"] == 0

    sold_out = fourth.start(campaign)
    assert (sold_out.status, sold_out.code) == (409, "OUT_OF_STOCK")
    assert db.orders.count_documents({"user_id": fourth.user_id}) == 0
    assert db.teams.count_documents({"leader_id": fourth.user_id}) == 0
    assert units(db, sku_id) == (97, 2, 1)

    assert second.call("cancel_order", {"order_id": second_order["id"]}).status == 200
    assert campaign_doc(db, campaign["id"])["remaining"] == 1
    assert team_doc(db, team_id)["held"] == 1
    assert fourth.start(campaign).status == 200


def test_an_unpaid_members_order_cancelled_by_order_timeout_frees_the_seat(db, product, sku_id):
    campaign = make_campaign(product, team_size=2, stock_limit=10)
    leader, slow, quick = buyers(3)
    team_id, leader_order = leader.lead(campaign)
    slow_order = slow.join(team_id).data["order"]
    full = quick.join(team_id)
    assert (full.status, full.code) == (409, "TEAM_FULL")

    age_order(db, slow_order["id"])
    assert run_timer("order_timeout")["cancelled"] == 1
    cancelled = db.orders.find_one({"_id": slow_order["id"]})
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "timeout")
    team = get_team(team_id)
    assert (team["status"], team["seats_left"]) == ("forming", 1)
    assert units(db, sku_id) == (99, 0, 1)
    assert campaign_doc(db, campaign["id"])["remaining"] == 9

    quick.join_and_pay(team_id)
    team = team_doc(db, team_id)
    assert team["status"] == "succeeded"
    assert [s["user_id"] for s in team["seats"]] == [leader.user_id, quick.user_id]
    assert units(db, sku_id) == (98, 0, 2)
    late = slow.call("sandbox_pay", {"order_id": slow_order["id"]})
    assert late.status == 409


def test_a_team_past_its_deadline_cannot_be_joined_before_the_timer_runs(db, product, sku_id):
    campaign = make_campaign(product, team_size=3)
    team_id, _ = Buyer().lead(campaign)
    expire(db, team_id)
    before = (team_doc(db, team_id), units(db, sku_id))
    late = Buyer()
    answer = late.join(team_id)
    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert (team_doc(db, team_id), units(db, sku_id)) == before
    assert db.orders.count_documents({"user_id": late.user_id}) == 0
    assert call("get_group_buy", {"campaign_id": campaign["id"]}).data["teams"] == []


# ---- payments that come too late ----------------------------------------------------------

def test_a_payment_for_a_seat_gone_with_a_failed_team_is_refunded_in_full(db, product, sku_id):
    """Bob opened WeChat Pay's cashier (a prepay), the team failed and its timer cancelled his
    order, then he paid: the payment is taken in and refunded in full, automatically."""
    from shared.wechat.pay_sandbox import get_sandbox
    campaign = make_campaign(product, team_size=3)
    leader, bob = buyers(2)
    team_id, leader_order = leader.lead(campaign)
    bob_order = bob.join(team_id).data["order"]
    assert bob.call("pay_order", {"order_id": bob_order["id"]}).status == 200

    expire(db, team_id)
    assert run_timer("group_buy_expire")["failed"] == 1
    assert db.orders.find_one({"_id": bob_order["id"]})["status"] == "cancelled"

    assert get_sandbox().confirm_payment(bob_order["id"])["status"] == 204
    records = finished_refunds(db, [bob_order["id"], leader_order["id"]])
    assert sorted((r["order_id"], r["amount"], r["status"]) for r in records) == sorted(
        [(bob_order["id"], 800, "succeeded"), (leader_order["id"], 800, "succeeded")])
    assert [r["amount"]["refund"] for r in sandbox_refunds(bob_order["id"])] == [800]
    team = team_doc(db, team_id)
    assert (team["status"], team["paid"]) == ("failed", 1)
    assert units(db, sku_id) == (100, 0, 0)


def test_a_payment_landing_between_a_teams_failure_and_its_settlement_is_refunded_once(
        db, product, sku_id, monkeypatch):
    """The payment arrives after the timer failed the team but before it settled it: the pay
    hook finds the seat gone and refunds; the settlement then refunds nobody twice."""
    from shared.social import groupbuy
    from shared.wechat.pay_sandbox import get_sandbox
    campaign = make_campaign(product, team_size=3, stock_limit=10)
    leader, bob = buyers(2)
    team_id, leader_order = leader.lead(campaign)
    bob_order = bob.join(team_id).data["order"]
    assert bob.call("pay_order", {"order_id": bob_order["id"]}).status == 200
    settle = groupbuy._settle_failed

    def payment_lands_first(db_: Any, team: dict[str, Any], now: datetime) -> int:
        assert get_sandbox().confirm_payment(bob_order["id"])["status"] == 204
        return settle(db_, team, now)
    monkeypatch.setattr(groupbuy, "_settle_failed", payment_lands_first)

    expire(db, team_id)
    run_timer("group_buy_expire")
    records = finished_refunds(db, [bob_order["id"], leader_order["id"]])
    assert sorted((r["order_id"], r["amount"], r["status"]) for r in records) == sorted(
        [(bob_order["id"], 800, "succeeded"), (leader_order["id"], 800, "succeeded")])
    for order_id in (bob_order["id"], leader_order["id"]):
        assert [r["amount"]["refund"] for r in sandbox_refunds(order_id)] == [800]
        order = db.orders.find_one({"_id": order_id})
        assert (order["status"], order["refunded_amount"]) == ("refunded", 800)
    team = team_doc(db, team_id)
    assert team["status"] == "failed" and team["paid"] == 1
    assert units(db, sku_id) == (100, 0, 0)
    assert campaign_doc(db, campaign["id"])["remaining"] == 10


# ---- expiry through the timer, with the WeChat Pay double -----------------------------------

def pay_at_wechat(wx: Any, buyer: Buyer, order_id: str) -> None:
    """wx.requestPayment: the shop makes the prepay, the shopper pays, WeChat Pay notifies."""
    assert buyer.call("pay_order", {"order_id": order_id}).status == 200
    wx.pay(order_id)
    assert buyer.call("get_order", {"order_id": order_id}).data["status"] == "paid"


def refund_requests(wx: Any) -> list[dict[str, Any]]:
    return [r.json for r in wx.requests_to("/v3/refund/domestic/refunds", "POST")
            if r.status == 200]


def snapshot(db: Any, team_id: str, sku_id: str, campaign_id: str) -> Any:
    def clean(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k != "updated_at"}
    return (clean(team_doc(db, team_id)),
            sorted((clean(o) for o in team_orders(db, team_id)), key=lambda o: o["_id"]),
            sorted((clean(r) for r in db.refunds.find()), key=lambda r: r["_id"]),
            units(db, sku_id), clean(campaign_doc(db, campaign_id)))


def test_a_team_past_its_deadline_fails_and_every_paid_member_is_refunded_once(db, wx,
                                                                                  product,
                                                                                  sku_id):
    campaign = make_campaign(product, team_size=5, stock_limit=20, per_user_limit=1)
    leader, bob, carol, dave = buyers(4)
    team_id, leader_order = leader.lead(campaign, pay=False)
    pay_at_wechat(wx, leader, leader_order["id"])
    paid_orders = {leader_order["id"]: leader}
    for member in (bob, carol):
        order = member.join(team_id).data["order"]
        pay_at_wechat(wx, member, order["id"])
        paid_orders[order["id"]] = member
    unpaid_order = dave.join(team_id).data["order"]  # holds a seat, never pays
    assert units(db, sku_id) == (96, 1, 3)
    assert run_timer("group_buy_expire")["failed"] == 0  # not yet due

    expire(db, team_id)
    first = run_timer("group_buy_expire")
    assert (first["failed"], first["refunds"]) == (1, 3)
    asked = refund_requests(wx)
    assert sorted(r["out_trade_no"] for r in asked) == sorted(paid_orders)
    for request in asked:
        assert request["amount"] == {"refund": 800, "total": 800, "currency": "CNY"}
    assert len({r["out_refund_no"] for r in asked}) == 3
    unpaid = db.orders.find_one({"_id": unpaid_order["id"]})
    assert (unpaid["status"], unpaid["cancel_reason"]) == ("cancelled", "team_failed")
    team = get_team(team_id)
    assert team["status"] == "failed" and len(team["members"]) == 3
    for order_id in paid_orders:
        assert db.orders.find_one({"_id": order_id})["status"] == "refunding"
        assert ship(order_id).status == 409
    assert units(db, sku_id) == (97, 0, 3)  # the unpaid seat's unit is back; refunds pending

    # running the timer again while WeChat Pay is still refunding changes nothing
    before = snapshot(db, team_id, sku_id, campaign["id"])
    assert team_counts(run_timer("group_buy_expire")) == NOTHING_DONE
    assert len(refund_requests(wx)) == 3
    assert snapshot(db, team_id, sku_id, campaign["id"]) == before

    for request in asked:  # WeChat Pay finishes the refunds and tells the shop
        wx.finish_refund(request["out_refund_no"])
    assert all(n.status_code in (200, 204) for n in wx.notifies), \
        [(n.status_code, n.response_body) for n in wx.notifies]
    for order_id, member in paid_orders.items():
        order = member.call("get_order", {"order_id": order_id}).data
        assert (order["status"], order["refunded_amount"]) == ("refunded", 800)
        assert wx.refunded_total(order_id) == 800
    assert units(db, sku_id) == (100, 0, 0)
    # the failed team bought nothing: the campaign's units and each buyer's quota come back,
    # once, even if the refund's aftermath is repeated
    assert campaign_doc(db, campaign["id"])["remaining"] == 20
    assert quotas(db) == {}
    from shared.core.events import OrderEvent, publish
    publish(db, OrderEvent("order_refunded", db.orders.find_one({"_id": leader_order["id"]}),
                           Clock().now))
    assert campaign_doc(db, campaign["id"])["remaining"] == 20
    assert quotas(db) == {}
    assert db.products.find_one({"_id": product["id"]}).get("sales", 0) == 0

    # and again, once everything has landed: nothing moves, nothing is asked of WeChat Pay
    before = snapshot(db, team_id, sku_id, campaign["id"])
    asked_before = len(wx.requests)
    assert team_counts(run_timer("group_buy_expire")) == NOTHING_DONE
    assert run_timer("order_timeout")["cancelled"] == 0
    assert snapshot(db, team_id, sku_id, campaign["id"]) == before
    assert len(wx.requests) == asked_before
    assert team_doc(db, team_id)["status"] == "failed"
    assert dave.join(team_id).status == 409
    assert leader.start(campaign).status == 200  # within per_user_limit again


def test_two_expiry_timers_running_at_once_refund_each_paid_member_once(db, wx, product,
                                                                          sku_id):
    campaign = make_campaign(product, team_size=4)
    wx.refund_immediate_status = "SUCCESS"
    leader, bob = buyers(2)
    team_id, leader_order = leader.lead(campaign, pay=False)
    pay_at_wechat(wx, leader, leader_order["id"])
    bob_order = bob.join(team_id).data["order"]
    pay_at_wechat(wx, bob, bob_order["id"])

    expire(db, team_id)
    results = run_threads(2, lambda i: run_timer("group_buy_expire"))
    assert sum(r["failed"] for r in results) == 1
    asked = refund_requests(wx)
    by_order: dict[str, set[str]] = {}
    for request in asked:
        by_order.setdefault(request["out_trade_no"], set()).add(request["out_refund_no"])
        assert request["amount"]["refund"] == request["amount"]["total"] == 800
    # one refund per paid member (a resend of the same out_refund_no is the same refund)
    assert {k: len(v) for k, v in by_order.items()} == {leader_order["id"]: 1, bob_order["id"]: 1}
    for order_id in (leader_order["id"], bob_order["id"]):
        assert wx.refunded_total(order_id) == 800
        order = db.orders.find_one({"_id": order_id})
        assert (order["status"], order["refunded_amount"]) == ("refunded", 800)
    assert units(db, sku_id) == (100, 0, 0)
    assert team_doc(db, team_id)["status"] == "failed"


# ---- auto_fill ---------------------------------------------------------------------------

def test_auto_fill_a_team_one_short_at_expiry_succeeds_and_its_unpaid_seat_is_cancelled(
        db, product, sku_id):
    campaign = make_campaign(product, team_size=3, auto_fill=True, stock_limit=10)
    assert campaign["auto_fill"] is True
    assert call("get_group_buy", {"campaign_id": campaign["id"]}).data["auto_fill"] is True
    leader, bob, carol = buyers(3)
    team_id, leader_order = leader.lead(campaign)
    bob_order = bob.join_and_pay(team_id)
    carol_order = carol.join(team_id).data["order"]

    expire(db, team_id)
    result = run_timer("group_buy_expire")
    assert (result["succeeded"], result["failed"], result["refunds"]) == (1, 0, 0)
    team = get_team(team_id)
    assert (team["status"], team["auto_filled"], len(team["members"])) == ("succeeded", True, 2)
    cancelled = db.orders.find_one({"_id": carol_order["id"]})
    assert cancelled["status"] == "cancelled"
    for order_id in (leader_order["id"], bob_order["id"]):
        order = db.orders.find_one({"_id": order_id})
        assert (order["status"], order["hold_shipping"]) == ("paid", False)
        assert ship(order_id).status == 200
    assert db.refunds.count_documents({}) == 0
    assert units(db, sku_id) == (98, 0, 2)
    doc = campaign_doc(db, campaign["id"])
    assert (doc["remaining"], doc["teams_succeeded"]) == (8, 1)
    before = snapshot(db, team_id, sku_id, campaign["id"])
    assert team_counts(run_timer("group_buy_expire")) == NOTHING_DONE
    assert snapshot(db, team_id, sku_id, campaign["id"]) == before


def test_auto_fill_does_not_rescue_a_team_two_seats_short(db, product, sku_id):
    campaign = make_campaign(product, team_size=4, auto_fill=True)
    leader, bob = buyers(2)
    team_id, leader_order = leader.lead(campaign)
    bob_order = bob.join_and_pay(team_id)
    expire(db, team_id)
    result = run_timer("group_buy_expire")
    assert (result["succeeded"], result["failed"], result["refunds"]) == (0, 1, 2)
    assert get_team(team_id)["status"] == "failed"
    records = finished_refunds(db, [leader_order["id"], bob_order["id"]])
    assert sorted(r["status"] for r in records) == ["succeeded", "succeeded"]
    assert units(db, sku_id) == (100, 0, 0)


def test_a_team_whose_leader_never_pays_fails_and_frees_its_stock(db, product, sku_id):
    campaign = make_campaign(product, team_size=2, stock_limit=5)
    leader = Buyer()
    team_id, order = leader.lead(campaign, pay=False)
    age_order(db, order["id"])
    assert run_timer("order_timeout")["cancelled"] == 1
    assert team_doc(db, team_id)["status"] == "failed"
    assert call("get_team", {"team_id": team_id}).status == 200
    assert Buyer().join(team_id).status == 409
    assert units(db, sku_id) == (100, 0, 0)
    assert campaign_doc(db, campaign["id"])["remaining"] == 5
    assert team_counts(run_timer("group_buy_expire")) == NOTHING_DONE


# ---- campaigns: ended, not started, listing ------------------------------------------------

def test_an_ended_campaign_refuses_new_teams_and_joins(db, product):
    campaign = make_campaign(product, team_size=3)
    leader, bob, carol = buyers(3)
    team_id, _ = leader.lead(campaign)
    bob_order = bob.join(team_id).data["order"]
    assert [c["id"] for c in call("list_group_buys").data["items"]] == [campaign["id"]]

    ended = merchant("merchant_end_group_buy", {"campaign_id": campaign["id"]}).data
    assert ended["status"] == "ended"
    start = carol.start(campaign)
    assert (start.status, start.code) == (409, "INVALID_STATE")
    join = carol.join(team_id)
    assert (join.status, join.code) == (409, "INVALID_STATE")
    assert team_doc(db, team_id)["held"] == 2
    assert db.orders.count_documents({"user_id": carol.user_id}) == 0
    assert call("list_group_buys").data["items"] == []
    assert [c["id"] for c in merchant("merchant_list_group_buys",
                                      {"status": "ended"}).data["items"]] == [campaign["id"]]
    assert merchant("merchant_list_group_buys", {"status": "active"}).data["items"] == []
    assert call("get_group_buy", {"campaign_id": campaign["id"]}).data["status"] == "ended"
    # a team already forming runs to its end: bob may still pay for the seat he holds
    bob.pay(bob_order["id"])
    assert len(get_team(team_id)["members"]) == 2


@pytest.mark.parametrize("window", ["not_started", "over"])
def test_a_campaign_outside_its_window_refuses_new_teams(db, product, window):
    now = Clock().now
    starts, ends = ((now + timedelta(hours=1), now + timedelta(days=1)) if window == "not_started"
                    else (now - timedelta(days=2), now - timedelta(seconds=1)))
    campaign = make_campaign(product, starts_at=stamp(starts), ends_at=stamp(ends))
    start = Buyer().start(campaign)
    assert (start.status, start.code) == (409, "INVALID_STATE")
    assert call("list_group_buys").data["items"] == []
    assert db.teams.count_documents({}) == 0


def test_the_merchant_lists_campaigns_newest_first_and_pages(db, product):
    made = [make_campaign(product, team_size=n) for n in (2, 3, 4)]
    listed = merchant("merchant_list_group_buys", {"page_size": 2}).data
    assert listed["total"] == 3 and listed["pages"] == 2
    second = merchant("merchant_list_group_buys", {"page": 2, "page_size": 2}).data
    ids = [c["id"] for c in listed["items"] + second["items"]]
    assert sorted(ids) == sorted(c["id"] for c in made) and len(set(ids)) == 3


# ---- bad input and unknown ids ------------------------------------------------------------

def test_bad_campaign_input_is_refused_with_4xx(db, product, sku_id):
    other = new_product(price=500, stock=5, title="别的商品")
    now = Clock().now
    good = {"product_id": product["id"], "sku_prices": [{"sku_id": sku_id, "group_price": 800}],
            "team_size": 3, "team_ttl_minutes": 60, "starts_at": stamp(now),
            "ends_at": stamp(now + timedelta(days=1))}
    cases = [
        ({"team_size": 1}, 422), ({"team_size": 51}, 422), ({"team_size": "three"}, 422),
        ({"team_ttl_minutes": 0}, 422), ({"team_ttl_minutes": -5}, 422),
        ({"ends_at": stamp(now - timedelta(hours=1))}, 422),
        ({"starts_at": "2030-01-01T00:00:00"}, 422),  # no time zone
        ({"starts_at": "next tuesday"}, 422),
        ({"sku_prices": []}, 422), ({"sku_prices": [{"sku_id": sku_id, "group_price": 0}]}, 422),
        ({"sku_prices": [{"sku_id": sku_id, "group_price": 1000}]}, 422),  # not a discount
        ({"sku_prices": [{"sku_id": sku_id}]}, 422),
        ({"sku_prices": [{"sku_id": other["skus"][0]["id"], "group_price": 100}]}, 404),
        ({"sku_prices": [{"sku_id": "sku_nope", "group_price": 100}]}, 404),
        ({"product_id": "prd_nope"}, 404), ({"product_id": ""}, 422),
        ({"stock_limit": 0}, 422), ({"per_user_limit": 0}, 422), ({"auto_fill": "maybe"}, 422),
        ({"surprise": True}, 422),
    ]
    for change, status in cases:
        answer = merchant("merchant_create_group_buy", {**good, **change})
        assert answer.status == status, (change, answer.body)
    assert merchant("merchant_create_group_buy", {**good, "team_size": 50}).status == 200
    assert merchant("merchant_create_group_buy", {**good, "team_size": 2}).status == 200
    assert db.group_buys.count_documents({}) == 2
    shopper = new_shopper()
    assert shopper.call("merchant_create_group_buy", good).status == 403
    assert call("merchant_create_group_buy", good).status == 401
    assert shopper.call("merchant_end_group_buy", {"campaign_id": "gbc_x"}).status == 403


def test_joining_a_team_whose_leader_has_not_paid_says_try_later(db, product):
    campaign = make_campaign(product, team_size=3)
    leader, member = buyers(2)
    team_id, _ = leader.lead(campaign, pay=False)

    shown = call("get_team", {"team_id": team_id})
    refused = member.join(team_id)

    assert shown.status == 200 and shown.data["status"] == "opening", shown.body
    assert refused.status == 409, refused.body
    error = refused.body["error"]
    assert (error["code"], error["message_zh"]) == ("TEAM_NOT_OPEN", "团长尚未支付，稍后再试")
    assert db.teams.find_one({"_id": team_id})["held"] == 1  # no seat was taken


def quotas(db: Any) -> dict[str, int]:
    return {q["_id"]: q["count"] for q in db.group_buy_quota.find() if q["count"]}


def test_unknown_ids_and_bad_input_never_change_anything(db, product, sku_id):
    campaign = make_campaign(product, team_size=3, stock_limit=10, per_user_limit=2)
    leader, bob = buyers(2)
    team_id, _ = leader.lead(campaign)
    opening_id = bob.start(campaign).data["team"]["id"]  # bob's own team, not paid: "opening"
    stranger = Buyer()
    before = (team_doc(db, team_id), units(db, sku_id), campaign_doc(db, campaign["id"]),
              db.orders.count_documents({}), db.teams.count_documents({}),
              quotas(db))
    other_sku = new_product(price=300, stock=5)["skus"][0]["id"]
    rid = "req-bad-input-1"
    cases = [
        (call, "get_team", {"team_id": "team_nope"}, 404),
        (call, "get_team", {}, 422),
        (call, "get_group_buy", {"campaign_id": "gbc_nope"}, 404),
        (call, "get_group_buy", {"campaign_id": ""}, 422),
        (call, "list_group_buys", {"status": "sideways"}, 422),
        (call, "list_group_buys", {"page": 0}, 422),
        (merchant, "merchant_end_group_buy", {"campaign_id": "gbc_nope"}, 404),
        (merchant, "merchant_list_group_buys", {"status": "sideways"}, 422),
        (call, "start_group_buy", {"campaign_id": campaign["id"], "sku_id": sku_id,
                                   "request_id": rid, "address_id": stranger.address_id}, 401),
        (call, "join_group_buy", {"team_id": team_id, "request_id": rid,
                                  "address_id": stranger.address_id}, 401),
        (stranger.call, "start_group_buy", {"campaign_id": "gbc_nope", "sku_id": sku_id,
                                            "request_id": rid,
                                            "address_id": stranger.address_id}, 404),
        (stranger.call, "start_group_buy", {"campaign_id": campaign["id"], "sku_id": other_sku,
                                            "request_id": rid,
                                            "address_id": stranger.address_id}, 422),
        (stranger.call, "start_group_buy", {"campaign_id": campaign["id"], "sku_id": sku_id,
                                            "request_id": rid, "address_id": "addr_nope"}, 404),
        (stranger.call, "start_group_buy", {"campaign_id": campaign["id"], "sku_id": sku_id,
                                            "request_id": rid,
                                            "address_id": leader.address_id}, 404),
        (stranger.call, "start_group_buy", {"campaign_id": campaign["id"], "sku_id": sku_id,
                                            "request_id": "x", "address_id": "a"}, 422),
        (stranger.call, "start_group_buy", {"campaign_id": campaign["id"]}, 422),
        (stranger.call, "join_group_buy", {"team_id": "team_nope", "request_id": rid,
                                           "address_id": stranger.address_id}, 404),
        (stranger.call, "join_group_buy", {"team_id": opening_id, "request_id": rid,
                                           "address_id": stranger.address_id}, 409),
        (stranger.call, "join_group_buy", {"team_id": team_id, "request_id": rid,
                                           "address_id": stranger.address_id,
                                           "sku_id": other_sku}, 422),
        (stranger.call, "join_group_buy", {"team_id": team_id, "request_id": rid,
                                           "address_id": "addr_nope"}, 404),
        (stranger.call, "join_group_buy", {"team_id": team_id, "request_id": rid,
                                           "address_id": leader.address_id}, 404),
        (stranger.call, "join_group_buy", {"team_id": team_id, "request_id": rid,
                                           "address_id": stranger.address_id,
                                           "quantity": 5}, 422),
        (stranger.call, "join_group_buy", ["not", "an", "object"], 400),
        (stranger.call, "join_group_buy", {"team_id": 12345, "request_id": rid,
                                           "address_id": stranger.address_id}, 422),
    ]
    for caller, action, payload, status in cases:
        answer = caller(action, payload)
        assert answer.status == status, (action, payload, answer.body)
        assert answer.body["ok"] is False and answer.body["error"]["code"] != "INTERNAL"
    after = (team_doc(db, team_id), units(db, sku_id), campaign_doc(db, campaign["id"]),
             db.orders.count_documents({}), db.teams.count_documents({}),
             quotas(db))
    assert after == before
    assert stranger.join(team_id).status == 200  # and the seat is still there to take
