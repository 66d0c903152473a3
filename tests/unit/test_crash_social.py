"""Nothing lost when an instance dies (issue 12, section 3): group-buy join and expire, bargain
buy, points spent at checkout. For every crash point k the flow is killed for good right after
its write k (tests/faults.py), then retried (same request_id) and the timers run with the
clock moved on; the invariants of the issue and those of each campaign must hold.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Callable

import pytest

from shared.orders.lifecycle import PLACEMENT_DEADLINE
from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.faults import (
    ENDED_UNPAID,
    check_all,
    count_writes,
    die_after_write,
    run_timer,
    run_timers,
    stock_totals,
)
from tests.helpers import Clock

MAX_WRITES = 20
EXPIRY_MAX_WRITES = 100   # two refunds, a cancel, the team
_ids = itertools.count(1)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rid() -> str:
    return f"req-social-{next(_ids):05d}"


class Buyer:
    def __init__(self) -> None:
        self.shopper = new_shopper()
        self.user_id = self.shopper.user_id
        self.address_id = new_address(self.shopper)

    def call(self, action: str, payload: Any) -> Any:
        return self.shopper.call(action, payload)

    def pay(self, order_id: str) -> dict[str, Any]:
        paid = self.call("sandbox_pay", {"order_id": order_id}).data
        assert paid["order"]["status"] == "paid", paid
        return paid["order"]


# ---- invariants of the campaigns ---------------------------------------------------------------

def check_group_buys(db: Any) -> None:
    """Every seat of a live team is held by a live order of its user; the counters add up;
    a campaign's units and each buyer's quota are held by exactly the orders that hold them."""
    for team in db.teams.find({}):
        assert team["held"] == len(team["seats"]), team
        assert team["paid"] == sum(1 for s in team["seats"] if s["paid"]), team
        if team["status"] not in ("forming", "opening"):
            continue
        for seat in team["seats"]:
            assert seat["order_id"], f"team {team['_id']}: a seat without an order {seat}"
            order = db.orders.find_one({"_id": seat["order_id"]})
            assert order is not None and order["status"] not in ENDED_UNPAID, \
                f"team {team['_id']}: seat held by {order and order['status']}"
    for campaign in db.group_buys.find({}):
        holding = [o for o in db.orders.find({"group.campaign_id": campaign["_id"]})
                   if o["status"] not in ENDED_UNPAID and not o["group"].get("given_back")
                   and o["status"] != "reserving"]
        if campaign.get("stock_limit") is not None:
            assert campaign["remaining"] + len(holding) == campaign["stock_limit"], \
                f"campaign {campaign['_id']}: remaining {campaign['remaining']}, " \
                f"held by {len(holding)} orders of {campaign['stock_limit']}"
        by_user: dict[str, int] = {}
        for order in holding:
            by_user[order["user_id"]] = by_user.get(order["user_id"], 0) + 1
        for quota in db.group_buy_quota.find({"_id": {"$regex": f"^{campaign['_id']}:"}}):
            user_id = quota["_id"].split(":", 1)[1]
            assert quota["count"] == by_user.get(user_id, 0), \
                f"quota {quota['_id']}: {quota['count']}, orders {by_user.get(user_id, 0)}"


def check_bargains(db: Any) -> None:
    """A bargain is bought by one live order (or not at all); its campaign's units sold are
    exactly its bought bargains."""
    for campaign in db.bargain_campaigns.find({}):
        bought = list(db.bargains.find({"campaign_id": campaign["_id"], "status": "bought"}))
        for bargain in bought:
            order = db.orders.find_one({"_id": bargain["order_id"]})
            assert order is not None and order["status"] not in ENDED_UNPAID, (bargain, order)
        assert campaign.get("sold", 0) == len(bought), \
            f"bargain campaign {campaign['_id']}: sold {campaign.get('sold', 0)}, " \
            f"bought {len(bought)}"
        assert not db.bargains.count_documents({"campaign_id": campaign["_id"],
                                                "status": "buying"}), "a buy left half-way"


def settle(db: Any, clock: Clock, before: dict[str, int]) -> None:
    run_timers(clock)
    check_all(db, before)
    check_group_buys(db)
    check_bargains(db)


# ---- the flows ---------------------------------------------------------------------------------

class GroupBuy:
    def __init__(self, db: Any, team_size: int = 3) -> None:
        self.db = db
        product = new_product(price=1000, stock=20)
        self.sku_id = product["skus"][0]["id"]
        self.before = stock_totals(db)
        now = Clock().now
        self.campaign = merchant("merchant_create_group_buy", {
            "product_id": product["id"],
            "sku_prices": [{"sku_id": self.sku_id, "group_price": 800}],
            "team_size": team_size, "team_ttl_minutes": 60, "stock_limit": 10,
            "per_user_limit": 1, "starts_at": stamp(now - timedelta(minutes=1)),
            "ends_at": stamp(now + timedelta(days=1))}).data
        self.leader = Buyer()
        started = self.leader.call("start_group_buy", {
            "campaign_id": self.campaign["id"], "sku_id": self.sku_id, "request_id": rid(),
            "address_id": self.leader.address_id}).data
        self.team_id = started["team"]["id"]
        self.leader.pay(started["order"]["id"])
        run_timer("order_events")   # the leader's team opens with the payment

    def join(self, buyer: Buyer, request_id: str) -> Any:
        return buyer.call("join_group_buy", {"team_id": self.team_id, "request_id": request_id,
                                             "address_id": buyer.address_id})

    def team(self) -> dict[str, Any]:
        return self.db.teams.find_one({"_id": self.team_id})


def join_flow(db: Any) -> tuple[Any, Callable[[], Any], Callable[[], Any]]:
    shop = GroupBuy(db)
    joiner, request_id = Buyer(), rid()
    shop.joiner = joiner  # type: ignore[attr-defined]
    return shop, lambda: shop.join(joiner, request_id), lambda: shop.join(joiner, request_id)


def expire_flow(db: Any, clock: Clock) -> tuple[Any, Callable[[], Any]]:
    shop = GroupBuy(db)
    member = Buyer()
    joined = shop.join(member, rid()).data
    member.pay(joined["order"]["id"])
    unpaid = Buyer()
    shop.join(unpaid, rid()).data   # holds the last seat, never pays
    clock.advance(minutes=61)
    return shop, lambda: run_timer("group_buy_expire")


class Bargain:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.sku_id = new_product(price=1000, stock=20)["skus"][0]["id"]
        self.before = stock_totals(db)
        now = Clock().now
        self.campaign = merchant("merchant_create_bargain", {
            "sku_id": self.sku_id, "start_price": 1000, "floor_price": 100, "helpers_needed": 5,
            "ttl_minutes": 60, "stock_limit": 10, "starts_at": stamp(now - timedelta(hours=1)),
            "ends_at": stamp(now + timedelta(days=1))}).data
        self.owner = Buyer()
        self.bargain = self.owner.call("start_bargain", {"campaign_id": self.campaign["id"]}).data

    def buy(self, request_id: str) -> Any:
        return self.owner.call("buy_bargain", {"bargain_id": self.bargain["id"],
                                               "request_id": request_id,
                                               "address_id": self.owner.address_id})


def buy_flow(db: Any) -> tuple[Any, Callable[[], Any], Callable[[], Any]]:
    shop = Bargain(db)
    request_id = rid()
    return shop, lambda: shop.buy(request_id), lambda: shop.buy(request_id)


class PointsCheckout:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.sku_id = new_product(price=1000, stock=20)["skus"][0]["id"]
        self.before = stock_totals(db)
        self.buyer = Buyer()
        assert merchant("merchant_adjust_points", {"user_id": self.buyer.user_id,
                                                   "points": 300, "reason": "gift"}).ok

    def place(self, request_id: str) -> Any:
        return self.buyer.call("place_order", {
            "request_id": request_id, "address_id": self.buyer.address_id,
            "items": [{"sku_id": self.sku_id, "quantity": 1}], "points": 200})


def spend_flow(db: Any) -> tuple[Any, Callable[[], Any], Callable[[], Any]]:
    shop = PointsCheckout(db)
    request_id = rid()
    return shop, lambda: shop.place(request_id), lambda: shop.place(request_id)


FLOWS = {"join": join_flow, "buy": buy_flow, "spend": spend_flow}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_crash_point_is_covered(db: Any, faulty_db: Any, name: str) -> None:
    shop, run, _ = FLOWS[name](faulty_db)
    assert 2 <= count_writes(faulty_db, run) <= MAX_WRITES


def test_every_crash_point_of_the_expiry_is_covered(db: Any, faulty_db: Any,
                                                    clock: Clock) -> None:
    shop, run = expire_flow(faulty_db, clock)
    assert 2 <= count_writes(faulty_db, run) <= EXPIRY_MAX_WRITES


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_join_that_dies_after_write_k_seats_the_shopper_once_after_the_retry(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run, retry = join_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    clock.advance(PLACEMENT_DEADLINE + timedelta(seconds=1))   # the shopper tries again
    answer = retry()
    assert answer.ok, answer.body
    shop.joiner.pay(answer.data["order"]["id"])   # before the timers time it out
    settle(db, clock, shop.before)
    seats = [s for s in shop.team()["seats"] if s["user_id"] == shop.joiner.user_id]
    assert [s["order_id"] for s in seats] == [answer.data["order"]["id"]]
    assert shop.team()["paid"] == 2


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_join_that_dies_after_write_k_frees_the_seat_without_a_retry(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run, _ = join_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    settle(db, clock, shop.before)
    clock.advance(hours=1)   # an unpaid seat's order times out
    settle(db, clock, shop.before)


@pytest.mark.parametrize("k", range(1, EXPIRY_MAX_WRITES + 1))
def test_an_expiry_that_dies_after_write_k_refunds_and_cancels_every_seat_once(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run = expire_flow(faulty_db, clock)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    settle(db, clock, shop.before)
    team = shop.team()
    assert (team["status"], team.get("settled")) == ("failed", True), team
    orders = {o["_id"]: o for o in db.orders.find({"group.team_id": shop.team_id})}
    assert sorted(o["status"] for o in orders.values()) == ["cancelled", "refunded", "refunded"]
    assert db.refunds.count_documents({"order_id": {"$in": list(orders)}}) == 2
    campaign = db.group_buys.find_one({"_id": shop.campaign["id"]})
    assert campaign["remaining"] == 10


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_bargain_buy_that_dies_after_write_k_buys_once_after_the_retry(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run, retry = buy_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    clock.advance(PLACEMENT_DEADLINE + timedelta(seconds=1))   # the shopper tries again
    answer = retry()
    assert answer.ok, answer.body
    shop.owner.pay(answer.data["id"])
    settle(db, clock, shop.before)
    bargain = db.bargains.find_one({"_id": shop.bargain["id"]})
    assert (bargain["status"], bargain["order_id"]) == ("bought", answer.data["id"])


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_a_bargain_buy_that_dies_after_write_k_is_finished_or_undone_by_the_timers(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run, _ = buy_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    settle(db, clock, shop.before)
    bargain = db.bargains.find_one({"_id": shop.bargain["id"]})
    assert bargain["status"] in ("active", "bought", "expired"), bargain


@pytest.mark.parametrize("k", range(1, MAX_WRITES + 1))
def test_points_spent_by_a_checkout_that_dies_after_write_k_are_spent_once_or_returned(
        db: Any, faulty_db: Any, clock: Clock, k: int) -> None:
    shop, run, retry = spend_flow(faulty_db)
    with die_after_write(faulty_db, k, for_good=True):
        run()
    clock.advance(PLACEMENT_DEADLINE + timedelta(seconds=1))   # the shopper tries again
    answer = retry()
    if answer.ok:
        user = db.users.find_one({"_id": shop.buyer.user_id})
        assert answer.data["points_used"] == 200 and user["points"] == 100, user
        shop.buyer.pay(answer.data["id"])
    settle(db, clock, shop.before)
    spent = 200 if answer.ok else 0
    earned = db.points_ledger.find_one({"_id": f"earn:{answer.data['id']}"}) \
        if answer.ok else None
    user = db.users.find_one({"_id": shop.buyer.user_id})
    assert user["points"] == 300 - spent + (earned["points"] if earned else 0), answer.body
