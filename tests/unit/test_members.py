"""Members and points: growth and levels from paid orders, the level discount, points earned,
spent at checkout (capped), given back, reversed by refunds, signed in for, expired; the
ledger always adds up to the balance, also under concurrent earn, spend and refund on real
threads. Coupons: scope, new-user coupons and expiry reminders.

Paid orders go through the WeChat Pay sandbox (``sandbox_pay``), refunds through after-sales,
which the sandbox (synchronous in tests) has finished when the merchant's approval returns.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

from tests.conftest import (
    Shopper,
    merchant,
    new_address,
    new_category,
    new_product,
    new_shopper,
    run_threads,
)
from tests.helpers import Clock, deliver_owed_events

_request_ids = itertools.count(1)
SHANGHAI = timezone(timedelta(hours=8))


# ---- helpers -------------------------------------------------------------------------------

class Member:
    """A shopper with an address who places, pays, cancels and refunds orders."""

    def __init__(self, name: Optional[str] = None) -> None:
        self.shopper: Shopper = new_shopper(name)
        self.user_id = self.shopper.user_id
        self.address_id = new_address(self.shopper)

    def call(self, action: str, payload: Any = None) -> Any:
        return self.shopper.call(action, payload)

    def place(self, lines: list[tuple[str, int]], **extra: Any) -> Any:
        payload = {"request_id": f"req-mbr-{next(_request_ids):05d}",
                   "address_id": self.address_id,
                   "items": [{"sku_id": s, "quantity": q} for s, q in lines], **extra}
        return self.call("place_order", payload)

    def pay(self, order_id: str) -> dict:
        """Pay, and let the paid order's aftermath (growth, points, level) run, as the
        order_events timer does after the answer."""
        paid = self.call("sandbox_pay", {"order_id": order_id}).data
        assert paid["order"]["status"] == "paid", paid
        deliver_owed_events()
        return paid["order"]

    def paid_order(self, lines: list[tuple[str, int]], **extra: Any) -> dict:
        return self.pay(self.place(lines, **extra).data["id"])

    def refund(self, order_id: str, items: Optional[list[tuple[str, int]]] = None) -> str:
        payload: dict[str, Any] = {"order_id": order_id, "type": "refund_only",
                                   "reason": "不想要了"}
        if items is not None:
            payload["items"] = [{"sku_id": s, "quantity": q} for s, q in items]
        asked = self.call("request_after_sale", payload).data
        merchant("merchant_review_after_sale", {"after_sale_id": asked["id"],
                                                "decision": "approve", "note": "同意"}).data
        return asked["id"]

    def refunded(self, after_sale_id: str) -> dict:
        """The after-sale, refunded (the sandbox finished the refund when it was approved)."""
        doc = self.call("get_after_sale", {"after_sale_id": after_sale_id}).data
        assert doc["status"] == "refunded", doc
        return doc

    def membership(self) -> dict:
        return self.call("get_membership").data

    def ledger(self, page_size: int = 100) -> list[dict]:
        return self.call("list_points_ledger", {"page_size": page_size}).data["items"]


def sku(price: int, stock: int = 100, category_id: Optional[str] = None) -> str:
    return new_product(price=price, stock=stock, category_id=category_id)["skus"][0]["id"]


def give_points(member: Member, points: int, reason: str = "开业赠送") -> dict:
    return merchant("merchant_adjust_points", {"user_id": member.user_id, "points": points,
                                               "reason": reason}).data


def assert_ledger_matches(db: Any, user_id: str) -> int:
    """The invariants: every entry applied, nothing pending, the ledgers add up, nothing < 0."""
    from shared.loyalty.points import GROWTH, POINTS, ledger_balance
    user = db.users.find_one({"_id": user_id})
    for book in (POINTS, GROWTH):
        assert db[book.collection].count_documents({"user_id": user_id, "applied": False}) == 0
        assert not user.get(book.pending)
        assert user.get(book.field, 0) == ledger_balance(db, user_id, book) >= 0
    return user.get("points", 0)


def set_levels(*levels: tuple[str, int, int]) -> dict:
    return merchant("merchant_set_member_levels", {"levels": [
        {"name": n, "min_growth": g, "discount_percent": d} for n, g, d in levels]}).data


@pytest.fixture
def member() -> Member:
    return Member()


# ---- earning, growth and levels ------------------------------------------------------------

def test_paid_order_earns_a_point_per_yuan_and_its_total_as_growth(db, member):
    member.paid_order([(sku(1234), 10)])  # ¥123.40

    assert member.membership() == {"level": "normal", "discount_percent": 0, "growth": 12340,
                                   "points": 123,
                                   "next_level": {"name": "silver", "min_growth": 100_000,
                                                  "growth_needed": 87660}}
    assert [(e["points"], e["reason"]) for e in member.ledger()] == [(123, "order_paid")]
    assert assert_ledger_matches(db, member.user_id) == 123


def test_paid_order_hook_run_twice_counts_once(db, member):
    from shared.core.events import OrderEvent
    from shared.loyalty.members import on_order_paid
    order = member.paid_order([(sku(1000), 3)])
    doc = db.orders.find_one({"_id": order["id"]})

    on_order_paid(db, OrderEvent("order_paid", doc, datetime.now(timezone.utc)))

    assert (member.membership()["growth"], member.membership()["points"]) == (3000, 30)
    assert_ledger_matches(db, member.user_id)


def test_level_upgrade_after_paid_orders_then_the_discount_on_the_next_order(db, member):
    set_levels(("normal", 0, 0), ("silver", 5000, 10), ("gold", 20000, 20))
    apple = sku(1000)
    member.paid_order([(apple, 3)])
    assert member.membership()["level"] == "normal"

    member.paid_order([(apple, 2)])  # growth 5000: silver

    assert member.membership()["level"] == "silver"
    assert db.users.find_one({"_id": member.user_id})["member_level"] == "silver"
    order = member.place([(apple, 3)]).data
    assert (order["member_level"], order["goods_total"], order["level_discount"],
            order["total"]) == ("silver", 3000, 300, 2700)
    assert member.call("get_order", {"order_id": order["id"]}).data["level_discount"] == 300


def test_level_discount_stacks_after_the_coupon_and_leaves_a_fen_to_pay(member):
    set_levels(("normal", 0, 50))
    template = merchant("merchant_create_coupon", {
        "name": "减9.99", "kind": "fixed", "amount": 999, "total": 5, "valid_days": 3}).data
    coupon = member.call("claim_coupon", {"coupon_id": template["id"]}).data

    order = member.place([(sku(1000), 1)], coupon_id=coupon["id"]).data

    assert (order["discount"], order["level_discount"], order["total"]) == (999, 0, 1)


def test_refund_takes_growth_back_and_the_level_with_it(db, member):
    set_levels(("normal", 0, 0), ("silver", 5000, 10))
    apple = sku(1000)
    order = member.paid_order([(apple, 6)])
    assert member.membership()["level"] == "silver"

    member.refunded(member.refund(order["id"], [(apple, 2)]))

    assert (member.membership()["level"], member.membership()["growth"]) == ("normal", 4000)
    assert db.users.find_one({"_id": member.user_id})["member_level"] == "normal"
    assert_ledger_matches(db, member.user_id)


def test_new_levels_move_existing_members(db, member):
    member.paid_order([(sku(1000), 3)])

    answer = set_levels(("bronze", 0, 0), ("vip", 2000, 5))

    assert answer["members_moved"] == 1
    assert member.membership()["level"] == "vip"
    listed = merchant("merchant_list_members", {"level": "vip"}).data
    assert [m["user_id"] for m in listed["items"]] == [member.user_id]
    assert [lvl["name"] for lvl in listed["levels"]] == ["bronze", "vip"]


@pytest.mark.parametrize("levels", [
    [{"name": "silver", "min_growth": 100, "discount_percent": 0}],          # no level from 0
    [{"name": "normal", "min_growth": 0, "discount_percent": 51}],           # over 50 %
    [{"name": "a", "min_growth": 0}, {"name": "a", "min_growth": 10}],       # same name
    [{"name": "a", "min_growth": 0}, {"name": "b", "min_growth": 0}],        # same threshold
    [],
])
def test_bad_levels_are_refused(levels):
    assert merchant("merchant_set_member_levels", {"levels": levels}).status == 422


def test_members_are_listed_by_growth_and_filtered_by_level(db):
    set_levels(("normal", 0, 0), ("silver", 3000, 5))
    big, small, idle = Member(), Member(), Member()
    apple = sku(1000)
    big.paid_order([(apple, 4)])
    small.paid_order([(apple, 1)])

    everyone = merchant("merchant_list_members", {"page_size": 100}).data
    normal = merchant("merchant_list_members", {"level": "normal"}).data

    assert [m["user_id"] for m in everyone["items"][:2]] == [big.user_id, small.user_id]
    assert {m["user_id"] for m in normal["items"]} == {small.user_id, idle.user_id}
    assert everyone["items"][0]["level"] == "silver" and everyone["items"][0]["points"] == 40


def test_shoppers_cannot_list_members_or_adjust_points(member):
    assert member.call("merchant_list_members").status in (401, 403)
    assert member.call("merchant_adjust_points", {"user_id": member.user_id, "points": 5,
                                                  "reason": "x"}).status in (401, 403)


# ---- spending at checkout ------------------------------------------------------------------

def test_points_pay_up_to_half_of_the_total(db, member):
    give_points(member, 10_000)
    apple = sku(1000)

    too_many = member.place([(apple, 1)], points=501)
    order = member.place([(apple, 1)], points=500).data

    assert too_many.code == "LIMIT_EXCEEDED"
    assert too_many.body["error"]["details"] == {"max_points": 500, "requested": 501}
    assert (order["points_used"], order["points_discount"], order["total"]) == (500, 500, 500)
    assert member.membership()["points"] == 9500
    assert db.skus.find_one({"_id": apple})["locked"] == 1  # the refused one reserved nothing


def test_the_cap_counts_the_total_after_coupon_and_level_discount(member):
    set_levels(("normal", 0, 20))
    give_points(member, 10_000)

    order = member.place([(sku(1000), 1)], points=400).data  # 1000 - 200 = 800, half is 400

    assert (order["level_discount"], order["points_used"], order["total"]) == (200, 400, 400)
    assert member.place([(sku(1000), 1)], points=401).code == "LIMIT_EXCEEDED"


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(db, member):
    give_points(member, 300)
    apple = sku(1000, stock=5)

    refused = member.place([(apple, 1)], points=301)

    assert (refused.status, refused.code) == (409, "CONFLICT")
    assert refused.body["error"]["details"] == {"points": 300, "requested": 301}
    assert db.skus.find_one({"_id": apple})["stock"] == 5
    assert member.call("list_orders").data["total"] == 0
    assert member.membership()["points"] == 300
    assert_ledger_matches(db, member.user_id)


def test_a_cancelled_order_gives_its_points_back_once(db, member):
    give_points(member, 1000)
    order = member.place([(sku(1000), 1)], points=400).data
    assert member.membership()["points"] == 600

    member.call("cancel_order", {"order_id": order["id"]}).data
    member.call("cancel_order", {"order_id": order["id"]}).data

    assert member.membership()["points"] == 1000
    assert sorted((e["points"], e["reason"]) for e in member.ledger()) == [
        (-400, "checkout"), (400, "checkout_returned"), (1000, "开业赠送")]
    assert_ledger_matches(db, member.user_id)


def test_an_order_paid_partly_with_points_earns_on_the_cash_only(db, member):
    give_points(member, 1000)

    order = member.paid_order([(sku(1000), 2)], points=800)  # pays ¥12.00

    assert order["total"] == 1200
    assert member.membership()["points"] == 1000 - 800 + 12


def test_concurrent_spends_never_take_the_balance_below_zero(db, member):
    give_points(member, 1000)
    apple = sku(1000, stock=100)

    answers = run_threads(25, lambda i: member.place([(apple, 1)], points=100))

    placed = [a for a in answers if not isinstance(a, Exception) and a.ok]
    assert len(placed) == 10
    assert {a.code for a in answers if not a.ok} == {"CONFLICT"}
    assert assert_ledger_matches(db, member.user_id) == 0
    assert db.skus.find_one({"_id": apple})["locked"] == 10


# ---- refunds -------------------------------------------------------------------------------

def test_partial_refunds_take_back_earned_points_in_proportion(db, member):
    apple, pear = sku(1000), sku(333)
    order = member.paid_order([(apple, 2), (pear, 3)])  # 2999 fen: 29 points
    assert member.membership()["points"] == 29

    member.refunded(member.refund(order["id"], [(apple, 1)]))   # 1000 of 2999
    after_one = member.membership()["points"]
    member.refunded(member.refund(order["id"]))                  # the rest

    assert after_one == 29 - 29 * 1000 // 2999
    assert member.membership() | {"next_level": None} == {
        "level": "normal", "discount_percent": 0, "growth": 0, "points": 0, "next_level": None}
    assert_ledger_matches(db, member.user_id)


def test_a_refund_gives_back_the_points_the_order_spent(db, member):
    give_points(member, 1000)
    order = member.paid_order([(sku(1000), 2)], points=1000)  # pays 1000 fen, earns 10
    assert member.membership()["points"] == 10

    member.refunded(member.refund(order["id"]))

    assert member.membership()["points"] == 1000
    reasons = [e["reason"] for e in member.ledger()]
    assert {"order_refunded", "refund_returned"} <= set(reasons)
    assert_ledger_matches(db, member.user_id)


def test_a_reversal_takes_no_more_than_is_left(db, member):
    order = member.paid_order([(sku(5000), 2)])  # 100 points
    member.paid_order([(sku(1000), 1)], points=0)
    spend = member.place([(sku(10_000), 1)], points=105).data  # all 110 but 5
    assert spend["points_used"] == 105 and member.membership()["points"] == 5

    member.refunded(member.refund(order["id"]))

    assert assert_ledger_matches(db, member.user_id) == 0
    reversal = db.points_ledger.find_one({"reason": "order_refunded"})
    assert (reversal["points"], reversal["wanted"]) == (-5, -100)


def test_points_under_concurrent_earn_spend_and_refund(db, member):
    """Twelve threads at once: four refund half of an earlier order, four place an order paid
    partly with points and pay it, four place one with points and cancel it."""
    give_points(member, 5000)
    apple = sku(1000, stock=200)
    earlier = [member.paid_order([(apple, 2)]) for _ in range(4)]  # +20 points each

    def work(i: int) -> Any:
        if i < 4:
            return member.refund(earlier[i]["id"], [(apple, 1)])
        order = member.place([(apple, 1)], points=400).data
        if i < 8:
            return member.pay(order["id"])
        return member.call("cancel_order", {"order_id": order["id"]}).data

    results = run_threads(12, work)

    assert not [r for r in results if isinstance(r, Exception)], results
    for after_sale_id in results[:4]:
        member.refunded(after_sale_id)
    # 5000 + 4 x 20 earned - 4 x 10 reversed - 4 x 400 spent + 4 x 6 earned on ¥6 paid
    assert assert_ledger_matches(db, member.user_id) == 5000 + 80 - 40 - 1600 + 24
    assert member.membership()["growth"] == 4 * 2000 - 4 * 1000 + 4 * 600


# ---- sign-in -------------------------------------------------------------------------------

def test_sign_in_twice_on_one_day_grants_once(db, member):
    first = member.call("sign_in")
    second = member.call("sign_in")

    assert first.data["points_granted"] == 10 and first.data["points"] == 10
    assert (second.status, second.code) == (409, "CONFLICT")
    assert member.membership()["points"] == 10


def test_sign_in_days_are_shanghai_days(db, member):
    from shared.core.errors import ShopError
    from shared.loyalty.members import sign_in
    # 15:59 and 16:01 UTC are two Shanghai days; 16:01 and 23:59 UTC are one
    day = datetime(2030, 3, 1, 15, 59, tzinfo=timezone.utc)
    sign_in(Clock(day).context(db, member.user_id), None)
    second = sign_in(Clock(day + timedelta(minutes=2)).context(db, member.user_id), None)
    with pytest.raises(ShopError) as refused:
        sign_in(Clock(day + timedelta(hours=8)).context(db, member.user_id), None)

    assert second["date"] == "2030-03-02" and refused.value.status == 409
    assert member.membership()["points"] == 20


def test_concurrent_sign_ins_grant_once(db, member):
    answers = run_threads(10, lambda i: member.call("sign_in"))

    assert sorted(a.status for a in answers) == [200] + [409] * 9
    assert assert_ledger_matches(db, member.user_id) == 10


# ---- expiry --------------------------------------------------------------------------------

def test_expiry_takes_the_unspent_remainder_of_old_points_first_in_first_out(db, member):
    from shared.loyalty.members import expire_points
    from shared.loyalty.points import POINTS, record
    t0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
    uid = member.user_id
    record(db, POINTS, uid, 100, "sign_in", "lot-a", t0)
    record(db, POINTS, uid, 50, "sign_in", "lot-b", t0 + timedelta(days=200))
    record(db, POINTS, uid, -120, "checkout", "spend-1", t0 + timedelta(days=250))  # a, then b

    first = expire_points(Clock(t0 + timedelta(days=366)).context(db))
    again = expire_points(Clock(t0 + timedelta(days=366)).context(db))
    later = expire_points(Clock(t0 + timedelta(days=200 + 366)).context(db))

    assert (first["expired_entries"], first["expired_points"]) == (0, 0)  # a was all spent
    assert (again["expired_entries"], later["expired_points"]) == (0, 30)  # b: 50 - 20
    assert assert_ledger_matches(db, uid) == 0
    assert db.points_ledger.find_one({"_id": "expire:lot-b"})["points"] == -30


def test_expiry_after_a_year_and_once_only(db, member):
    from shared.loyalty.members import expire_points
    from shared.loyalty.points import POINTS, record
    t0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
    record(db, POINTS, member.user_id, 100, "sign_in", "old", t0)
    record(db, POINTS, member.user_id, -30, "checkout", "spent", t0 + timedelta(days=10))
    record(db, POINTS, member.user_id, 40, "sign_in", "young", t0 + timedelta(days=300))

    early = expire_points(Clock(t0 + timedelta(days=364)).context(db))
    due = expire_points(Clock(t0 + timedelta(days=366)).context(db))
    twice = expire_points(Clock(t0 + timedelta(days=366)).context(db))

    assert early["expired_points"] == 0
    assert (due["expired_users"], due["expired_points"]) == (1, 70)
    assert twice["expired_points"] == 0
    assert assert_ledger_matches(db, member.user_id) == 40
    assert member.ledger()[0]["reason"] == "expired" and member.ledger()[0]["points"] == -70


def test_expiry_racing_spends_keeps_the_ledger_and_the_balance_together(db, member):
    from shared.loyalty.members import expire_points
    from shared.loyalty.points import POINTS, record
    now = datetime.now(timezone.utc)
    record(db, POINTS, member.user_id, 1000, "sign_in", "old-lot", now - timedelta(days=400))
    apple = sku(1000)

    def work(i: int) -> Any:
        if i == 0:
            return expire_points(Clock(now).context(db))
        return member.place([(apple, 1)], points=100)
    results = run_threads(12, work)

    placed = sum(1 for answer in results[1:] if answer.ok)
    assert 100 * placed + results[0]["expired_points"] == 1000
    assert assert_ledger_matches(db, member.user_id) == 0


# ---- crash repair --------------------------------------------------------------------------

def test_the_daily_timer_finishes_entries_a_crash_cut_short(db, member):
    from shared.core.dispatch import run_timer
    from shared.loyalty.members import expire_points
    give_points(member, 100)
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    uid = member.user_id
    # died after writing the entry: nothing moved yet
    db.points_ledger.insert_one({"_id": "crash:1", "user_id": uid, "points": 30,
                                 "reason": "sign_in", "created_at": past, "applied": False,
                                 "lease_until": past})
    # died after moving the balance, before marking the entry
    db.points_ledger.insert_one({"_id": "crash:2", "user_id": uid, "points": -20,
                                 "reason": "adjust", "created_at": past, "applied": False,
                                 "lease_until": past})
    db.users.update_one({"_id": uid}, {"$inc": {"points": -20}, "$push": {"points_pending":
                                                                           "crash:2"}})
    # still within its writer's lease: left alone
    db.growth_ledger.insert_one({"_id": "fresh", "user_id": uid, "growth": 5, "reason": "x",
                                 "created_at": past, "applied": False,
                                 "lease_until": datetime.now(timezone.utc) + timedelta(hours=1)})

    result = run_timer("points_expiry").envelope["data"]
    expire_points(Clock().context(db))

    assert result["points_repaired"] == 2
    user = db.users.find_one({"_id": uid})
    assert (user["points"], user.get("points_pending")) == (110, [])
    assert db.growth_ledger.find_one({"_id": "fresh"})["applied"] is False
    db.growth_ledger.delete_one({"_id": "fresh"})
    assert_ledger_matches(db, uid)


def test_a_spend_the_balance_no_longer_covers_is_dropped_by_the_repair(db, member):
    from shared.loyalty.members import expire_points
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    db.points_ledger.insert_one({"_id": "crash:3", "user_id": member.user_id, "points": -20,
                                 "reason": "adjust", "created_at": past, "applied": False,
                                 "lease_until": past})

    result = expire_points(Clock().context(db))

    assert result["points_dropped"] == 1
    assert assert_ledger_matches(db, member.user_id) == 0


# ---- merchant adjustments ------------------------------------------------------------------

def test_adjustments_are_ledger_entries_with_the_merchants_reason(db, member):
    added = give_points(member, 500, "补偿：快递延误")
    taken = merchant("merchant_adjust_points", {"user_id": member.user_id, "points": -200,
                                                "reason": "误发"}).data

    assert (added["points"], taken["points"]) == (500, 300)
    assert sorted((e["points"], e["reason"], e["kind"]) for e in member.ledger()) == [
        (-200, "误发", "adjust"), (500, "补偿：快递延误", "adjust")]


def test_an_adjustment_never_takes_the_balance_below_zero(db, member):
    give_points(member, 50)

    refused = merchant("merchant_adjust_points", {"user_id": member.user_id, "points": -51,
                                                  "reason": "x"})

    assert (refused.status, refused.body["error"]["details"]) == (409, {"points": 50,
                                                                        "requested": -51})
    assert assert_ledger_matches(db, member.user_id) == 50


def test_an_adjustment_retried_with_its_request_id_counts_once(db, member):
    payload = {"user_id": member.user_id, "points": 70, "reason": "活动", "request_id": "adj-0001"}

    first = merchant("merchant_adjust_points", payload).data
    again = merchant("merchant_adjust_points", payload).data
    other = merchant("merchant_adjust_points", {**payload, "points": 80})

    assert (first["points"], again["points"], other.code) == (70, 70, "CONFLICT")


def test_adjusting_an_unknown_user_is_404():
    assert merchant("merchant_adjust_points", {"user_id": "usr_nobody", "points": 5,
                                               "reason": "x"}).status == 404


def test_the_ledger_pages_newest_first(member, clock):
    for n in range(1, 6):
        give_points(member, n, f"r{n}")
        clock.advance(seconds=1)

    page = member.call("list_points_ledger", {"page": 2, "page_size": 2}).data

    assert (page["total"], page["pages"]) == (5, 3)
    assert [e["points"] for e in page["items"]] == [3, 2]


# ---- coupons: scope, new users, expiry reminders -------------------------------------------

def coupon(member: Member, **terms: Any) -> str:
    template = merchant("merchant_create_coupon", {
        "name": "券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7,
        **terms}).data
    return member.call("claim_coupon", {"coupon_id": template["id"]}).data["id"]


def test_a_product_coupon_counts_only_its_products(member):
    apple = new_product(price=1000)
    pear = sku(3000)
    mine = coupon(member, kind="percent", percent=10, amount=None, threshold=2000,
                  scope="products", product_ids=[apple["id"]])

    order = member.place([(apple["skus"][0]["id"], 2), (pear, 1)], coupon_id=mine).data

    assert (order["goods_total"], order["discount"], order["total"]) == (5000, 200, 4800)


def test_a_product_coupon_on_an_order_without_its_products_is_refused(member):
    apple = new_product(price=1000)
    mine = coupon(member, scope="products", product_ids=[apple["id"]])

    refused = member.place([(sku(3000), 1)], coupon_id=mine)

    assert refused.code == "COUPON_UNAVAILABLE"
    assert member.call("list_my_coupons", {"status": "available"}).data["total"] == 1


def test_the_threshold_of_a_scoped_coupon_counts_the_goods_in_scope(member):
    fruit = new_category("水果")
    mine = coupon(member, threshold=2000, scope="categories", category_ids=[fruit])

    short = member.place([(sku(1000, category_id=fruit), 1), (sku(5000), 1)], coupon_id=mine)
    enough = member.place([(sku(1000, category_id=fruit), 2), (sku(5000), 1)],
                          coupon_id=mine).data

    assert short.code == "COUPON_UNAVAILABLE"
    assert (enough["discount"], enough["total"]) == (500, 6500)


def test_coupon_scopes_are_checked_when_created():
    assert merchant("merchant_create_coupon", {
        "name": "券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7,
        "scope": "products"}).status == 422
    assert merchant("merchant_create_coupon", {
        "name": "券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7,
        "scope": "categories", "category_ids": ["cat_nope"]}).status == 404
    plain = merchant("merchant_create_coupon", {
        "name": "券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7}).data
    assert (plain["scope"], plain["new_user_only"]) == ("all", False)


def test_only_shoppers_without_a_paid_order_may_claim_a_new_user_coupon(member):
    template = merchant("merchant_create_coupon", {
        "name": "新人券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7,
        "new_user_only": True}).data
    newcomer = Member()
    member.paid_order([(sku(1000), 1)])

    assert newcomer.call("claim_coupon", {"coupon_id": template["id"]}).ok
    refused = member.call("claim_coupon", {"coupon_id": template["id"]})
    assert (refused.code, refused.body["error"]["details"]) == ("COUPON_UNAVAILABLE",
                                                                 {"new_user_only": True})


def test_an_unpaid_order_does_not_end_being_new(member):
    template = merchant("merchant_create_coupon", {
        "name": "新人券", "kind": "fixed", "amount": 500, "total": 10, "valid_days": 7,
        "new_user_only": True}).data
    member.place([(sku(1000), 1)]).data

    assert member.call("claim_coupon", {"coupon_id": template["id"]}).ok


def test_coupons_expiring_within_three_days_are_reminded_once(db, member):
    from shared.core.dispatch import run_timer
    soon = coupon(member, valid_days=2)
    coupon(member, valid_days=10)
    used = coupon(member, valid_days=1)
    member.place([(sku(1000), 1)], coupon_id=used).data

    first = run_timer("points_expiry").envelope["data"]
    second = run_timer("points_expiry").envelope["data"]

    assert (first["coupon_reminders"], second["coupon_reminders"]) == (1, 0)
    outbox = merchant("merchant_list_outbox", {"purpose": "coupon_expiry"}).data["items"]
    assert [(m["user_id"], m["occasion"]) for m in outbox] == [(member.user_id, soon)]
