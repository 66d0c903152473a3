"""Marketing timers: the abandoned-cart reminder and the birthday coupon.

The clock is set by hand (``Clock(T0).context(db)``); unless a test says otherwise the
timers run at 10:00 Beijing time, outside quiet hours. Users, carts, orders and reminders are
written straight into the database with the fields the rules read, so that every user of a
crafted population has a known answer. Sends go to the dev sandbox (no WX_APPID): the
outbox records them.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.conftest import ROOT, run_threads
from tests.helpers import Clock

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # Friday 20 Nov 2026, 10:00 in Beijing
DAY, HOUR, SECOND = timedelta(days=1), timedelta(hours=1), timedelta(seconds=1)
CART_TEMPLATE = "tpl_cart"
BIRTHDAY_TEMPLATE = "tpl_birthday"
LONG_TITLE = "阿克苏冰糖心苹果 5斤装 新鲜水果当季整箱包邮"


@pytest.fixture(autouse=True)
def marketing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    for name, value in (("CART_REMINDER_TEMPLATE_ID", CART_TEMPLATE),
                        ("BIRTHDAY_TEMPLATE_ID", BIRTHDAY_TEMPLATE),
                        ("FANOUT_RUNNER", "inprocess"), ("MARKETING_BATCH_SIZE", "4"),
                        ("QUIET_HOURS", "22:00-08:00")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CART_REMINDER_DELAY_SECONDS", raising=False)
    monkeypatch.delenv("BIRTHDAY_COUPON_ID", raising=False)
    reset_settings()


# ---- factories -----------------------------------------------------------------------------

def subscribe(db: Any, user_id: str, template_id: str = CART_TEMPLATE, times: int = 1) -> None:
    from shared.messaging.outbox import RecordSubscriptionInput, record_subscription
    for _ in range(times):
        record_subscription(Clock(T0 - 3 * DAY).context(db, user_id), RecordSubscriptionInput(
            template_ids=[template_id], results={template_id: "accept"}))


def add_user(db: Any, user_id: str, subscribed_to: Optional[str] = CART_TEMPLATE,
             **fields: Any) -> str:
    db.users.insert_one({"_id": user_id, "openid": f"openid-{user_id}", "nickname": user_id,
                         "created_at": T0 - 400 * DAY, **fields})
    if subscribed_to:
        subscribe(db, user_id, subscribed_to)
    return user_id


def add_catalog(db: Any) -> None:
    db.products.insert_many([
        {"_id": "prd_apple", "title": LONG_TITLE, "status": "on_sale"},
        {"_id": "prd_pear", "title": "砀山梨", "status": "on_sale"}])
    db.skus.insert_many([
        {"_id": "sku_apple", "product_id": "prd_apple", "price": 3990, "stock": 50,
         "active": True, "specs": {}},
        {"_id": "sku_pear", "product_id": "prd_pear", "price": 1990, "stock": 50,
         "active": True, "specs": {}}])


def add_line(db: Any, user_id: str, added_at: datetime, sku_id: str = "sku_apple") -> None:
    db.cart_items.insert_one({"_id": f"{user_id}:{sku_id}", "user_id": user_id, "sku_id": sku_id,
                              "quantity": 1, "selected": True, "added_at": added_at,
                              "updated_at": added_at})


def add_order(db: Any, user_id: str, created_at: datetime) -> None:
    db.orders.insert_one({"_id": f"ord_{user_id}_{created_at:%m%d%H%M%S}", "user_id": user_id,
                          "request_id": f"req-{created_at.timestamp()}",
                          "status": "pending_payment", "items": [], "created_at": created_at})


def add_reminder(db: Any, user_id: str, created_at: datetime) -> None:
    from shared.messaging.outbox import enqueue
    enqueue(db, user_id, "cart_reminder", f"earlier-{created_at:%m%d}", created_at,
            template_id=CART_TEMPLATE, page="pages/cart/cart", job_id="an-earlier-job")


def remind(db: Any, now: datetime = T0) -> dict[str, Any]:
    from shared.marketing.reminders import cart_reminder
    return cart_reminder(Clock(now).context(db))


def drain(db: Any, now: datetime) -> dict[str, int]:
    from shared.messaging.outbox import drain_outbox
    return drain_outbox(Clock(now).context(db))


def reminded_users(db: Any) -> list[str]:
    return sorted(m["user_id"] for m in db.outbox.find({"purpose": "cart_reminder",
                                                         "job_id": {"$ne": "an-earlier-job"}}))


def remaining(db: Any, user_id: str, template_id: str = CART_TEMPLATE) -> int:
    doc = db.subscriptions.find_one({"_id": f"{user_id}:{template_id}"})
    return doc["remaining"] if doc else 0


# ---- the cart reminder ---------------------------------------------------------------------

def test_cart_reminder_picks_exactly_the_users_the_rules_say(db: Any) -> None:
    add_catalog(db)
    # user: what makes the answer, and whether they are reminded
    add_user(db, "u01_exactly_24h"), add_line(db, "u01_exactly_24h", T0 - DAY)
    add_user(db, "u02_one_second_short"), add_line(db, "u02_one_second_short", T0 - DAY + SECOND)
    add_user(db, "u03_three_days"), add_line(db, "u03_three_days", T0 - 3 * DAY)
    add_user(db, "u04_ordered_since"), add_line(db, "u04_ordered_since", T0 - 3 * DAY)
    add_order(db, "u04_ordered_since", T0 - DAY)
    add_user(db, "u05_ordered_before_the_cart"), add_order(db, "u05_ordered_before_the_cart",
                                                           T0 - 5 * DAY)
    add_line(db, "u05_ordered_before_the_cart", T0 - 2 * DAY)
    add_user(db, "u06_reminded_6_days_ago"), add_line(db, "u06_reminded_6_days_ago", T0 - 9 * DAY)
    add_reminder(db, "u06_reminded_6_days_ago", T0 - 6 * DAY)
    add_user(db, "u07_reminded_8_days_ago"), add_line(db, "u07_reminded_8_days_ago", T0 - 9 * DAY)
    add_reminder(db, "u07_reminded_8_days_ago", T0 - 8 * DAY)
    add_user(db, "u08_not_subscribed", subscribed_to=None)
    add_line(db, "u08_not_subscribed", T0 - 3 * DAY)
    add_user(db, "u09_subscribed_elsewhere", subscribed_to="tpl_other")
    add_line(db, "u09_subscribed_elsewhere", T0 - 3 * DAY)
    add_user(db, "u10_empty_cart")
    add_user(db, "u11_fresh_line_only"), add_line(db, "u11_fresh_line_only", T0 - HOUR)

    summary = remind(db)

    assert reminded_users(db) == ["u01_exactly_24h", "u03_three_days",
                                  "u05_ordered_before_the_cart", "u07_reminded_8_days_ago"]
    assert summary["status"] == "done" and summary["batches"] == 3  # 11 users, batches of 4
    counts = summary["counts"]
    assert (counts["users"], counts["queued"], counts["ordered_since"],
            counts["reminded_recently"], counts["not_subscribed"]) == (11, 4, 1, 1, 2)
    assert db.outbox.count_documents({"user_id": {"$in": ["u08_not_subscribed",
                                                          "u09_subscribed_elsewhere"]}}) == 0


def test_cart_reminder_boundary_is_24_hours_inclusive(db: Any) -> None:
    add_catalog(db)
    add_user(db, "at_24h"), add_line(db, "at_24h", T0 - DAY)
    add_user(db, "at_23h59m59s"), add_line(db, "at_23h59m59s", T0 - DAY + SECOND)
    remind(db)
    assert reminded_users(db) == ["at_24h"]
    remind(db, T0 + SECOND)  # the same hour: the job was planned, nothing new
    assert reminded_users(db) == ["at_24h"]
    remind(db, T0 + HOUR)  # an hour later the other cart is 25 h old
    assert reminded_users(db) == ["at_23h59m59s", "at_24h"]


def test_cart_reminder_links_to_the_cart_and_names_the_first_forgotten_product(db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1")
    add_line(db, "u1", T0 - 2 * DAY, "sku_apple")
    add_line(db, "u1", T0 - 3 * DAY, "sku_pear")   # the oldest: the one the cart was left with
    remind(db)
    message = db.outbox.find_one({"user_id": "u1"})
    assert message["_id"] == f"cart_reminder:{message['occasion']}:u1"
    assert (message["template_id"], message["page"], message["status"]) == \
        (CART_TEMPLATE, "pages/cart/cart", "queued")
    assert message["data"] == {"thing1": "砀山梨", "number2": 2}


def test_a_long_product_title_is_cut_to_wechats_20_characters(db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - 2 * DAY, "sku_apple")
    remind(db)
    thing = db.outbox.find_one({"user_id": "u1"})["data"]["thing1"]
    assert len(thing) == 20 and thing == LONG_TITLE[:19] + "…"


def test_running_the_timer_twice_in_an_hour_plans_one_job_and_queues_nobody_twice(
        db: Any) -> None:
    add_catalog(db)
    for n in range(6):
        add_user(db, f"u{n}"), add_line(db, f"u{n}", T0 - 2 * DAY)
    first = remind(db, T0 + 5 * 60 * SECOND)
    second = remind(db, T0 + 40 * 60 * SECOND)
    assert first["job_id"] == second["job_id"] == "cart_reminder:2026-11-20T02"
    assert second["counts"]["queued"] == 6
    assert db.outbox.count_documents({}) == 6 and db.jobs.count_documents({}) == 1


def test_a_still_forgotten_cart_is_reminded_again_only_after_7_days(db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - 2 * DAY)
    subscribe(db, "u1", times=2)  # three subscriptions in all
    for hours in (0, 1, 24, 6 * 24 + 23):
        remind(db, T0 + hours * HOUR)
    assert len(reminded_users(db)) == 1
    remind(db, T0 + 7 * DAY + HOUR)
    occasions = sorted(m["occasion"] for m in db.outbox.find({"user_id": "u1"}))
    assert occasions == ["cart@2026-11-18T02:00:00Z#0", "cart@2026-11-18T02:00:00Z#1"]


def test_an_order_placed_after_the_reminder_window_opens_stops_the_reminder(db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - 2 * DAY)
    add_order(db, "u1", T0 - 10 * 60 * SECOND)  # ordered something else ten minutes ago
    summary = remind(db)
    assert reminded_users(db) == [] and summary["counts"]["ordered_since"] == 1


def test_in_quiet_hours_the_reminder_is_queued_then_deferred_to_8_in_the_morning(
        db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - 2 * DAY)
    night = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)  # 23:30 in Beijing
    remind(db, night)
    assert db.outbox.find_one({"user_id": "u1"})["status"] == "queued"

    assert drain(db, night + 60 * SECOND) == {"deferred": 1}
    message = db.outbox.find_one({"user_id": "u1"})
    eight = datetime(2026, 11, 21, 0, 0, tzinfo=timezone.utc)  # 08:00 the next day in Beijing
    assert (message["status"], message["reason"], message["next_attempt_at"]) == \
        ("queued", "quiet_hours", eight)
    assert remaining(db, "u1") == 1  # nothing consumed while waiting

    assert drain(db, eight - SECOND) == {}
    assert drain(db, eight) == {"sent": 1}
    assert db.outbox.find_one({"user_id": "u1"})["status"] == "sent"
    assert remaining(db, "u1") == 0


def test_without_a_template_the_cart_reminder_is_off(db: Any, monkeypatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.delenv("CART_REMINDER_TEMPLATE_ID")
    reset_settings()
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - 2 * DAY)
    assert remind(db)["status"] == "disabled"
    assert db.outbox.count_documents({}) == 0 and db.jobs.count_documents({}) == 0


def test_with_no_cart_old_enough_no_job_is_planned(db: Any) -> None:
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", T0 - HOUR)
    assert remind(db)["status"] == "nothing_due"
    assert db.jobs.count_documents({}) == 0


def test_the_cart_reminder_timer_event_runs_through_the_function(db: Any) -> None:
    import importlib.util

    from shared.core.common import utcnow
    add_catalog(db)
    add_user(db, "u1"), add_line(db, "u1", utcnow() - 2 * DAY)
    path = Path(ROOT) / "functions" / "cart_reminder" / "index.py"
    spec = importlib.util.spec_from_file_location("cart_reminder_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    answer = module.main_handler({"Type": "Timer", "TriggerName": "cart_reminder_timer",
                                  "Time": "2026-11-20T02:05:00Z", "Message": ""}, None)
    assert answer["ok"] is True, answer
    assert answer["data"]["status"] == "done" and answer["data"]["counts"]["queued"] == 1
    assert reminded_users(db) == ["u1"]


# ---- the birthday coupon -------------------------------------------------------------------

def birthday_coupon(db: Any, monkeypatch: pytest.MonkeyPatch, total: int = 100,
                    **fields: Any) -> str:
    from shared.core.config import reset_settings
    from shared.orders.coupons import CreateCouponInput, create_coupon
    coupon = create_coupon(Clock(T0 - 30 * DAY).context(db), CreateCouponInput(
        name="生日快乐 20 元券", kind="fixed", amount=2000, threshold=5000, total=total,
        **({"valid_days": 30} if not fields else fields)))
    monkeypatch.setenv("BIRTHDAY_COUPON_ID", coupon["id"])
    reset_settings()
    return coupon["id"]


def celebrate(db: Any, day: datetime) -> dict[str, Any]:
    from shared.marketing.reminders import birthday_coupons
    return birthday_coupons(Clock(day).context(db))


def nine_am(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 1, 0, tzinfo=timezone.utc)  # 09:00 in Beijing


def birthday_coupons_of(db: Any, user_id: str) -> list[str]:
    return sorted(c["_id"] for c in db.user_coupons.find({"user_id": user_id}))


def test_the_birthday_timer_run_twice_on_one_day_grants_once(db: Any, monkeypatch) -> None:
    coupon_id = birthday_coupon(db, monkeypatch)
    add_user(db, "born_today", subscribed_to=BIRTHDAY_TEMPLATE, birthday="1990-11-20")
    add_user(db, "born_tomorrow", subscribed_to=BIRTHDAY_TEMPLATE, birthday="1990-11-21")
    add_user(db, "no_birthday", subscribed_to=BIRTHDAY_TEMPLATE)

    first = celebrate(db, nine_am(2026, 11, 20))
    second = celebrate(db, nine_am(2026, 11, 20) + 2 * HOUR)

    assert first["job_id"] == second["job_id"] == "birthday:2026-11-20"
    assert birthday_coupons_of(db, "born_today") == ["ucp_birthday_2026_born_today"]
    assert db.user_coupons.count_documents({}) == 1
    template = db.coupons.find_one({"_id": coupon_id})
    assert (template["claimed"], template["remaining"]) == (1, 99)
    messages = list(db.outbox.find({"purpose": "birthday"}))
    assert [(m["user_id"], m["occasion"], m["template_id"]) for m in messages] == \
        [("born_today", "2026", BIRTHDAY_TEMPLATE)]
    assert messages[0]["data"] == {"thing1": "生日快乐 20 元券", "date2": "2026年12月20日"}


def test_a_year_later_the_birthday_coupon_is_granted_again(db: Any, monkeypatch) -> None:
    birthday_coupon(db, monkeypatch)
    add_user(db, "u1", subscribed_to=BIRTHDAY_TEMPLATE, birthday="1990-11-20")
    subscribe(db, "u1", BIRTHDAY_TEMPLATE)
    celebrate(db, nine_am(2026, 11, 20))
    celebrate(db, nine_am(2027, 11, 20))
    assert birthday_coupons_of(db, "u1") == ["ucp_birthday_2026_u1", "ucp_birthday_2027_u1"]
    assert sorted(m["occasion"] for m in db.outbox.find({"user_id": "u1"})) == ["2026", "2027"]


def test_a_leap_day_birthday_is_celebrated_on_28_february_in_a_common_year(
        db: Any, monkeypatch) -> None:
    birthday_coupon(db, monkeypatch, valid_from=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    valid_to=datetime(2029, 1, 1, tzinfo=timezone.utc))
    add_user(db, "leap_day", birthday="2000-02-29")
    add_user(db, "feb_28", birthday="1995-02-28")
    add_user(db, "mar_1", birthday="1990-03-01")

    celebrate(db, nine_am(2027, 2, 28))  # 2027 has no 29 February
    assert birthday_coupons_of(db, "leap_day") == ["ucp_birthday_2027_leap_day"]
    assert birthday_coupons_of(db, "feb_28") == ["ucp_birthday_2027_feb_28"]
    assert birthday_coupons_of(db, "mar_1") == []

    celebrate(db, nine_am(2028, 2, 28))  # a leap year: 28 February is only the 28th's
    assert "ucp_birthday_2028_leap_day" not in birthday_coupons_of(db, "leap_day")
    assert "ucp_birthday_2028_feb_28" in birthday_coupons_of(db, "feb_28")
    celebrate(db, nine_am(2028, 2, 29))
    assert "ucp_birthday_2028_leap_day" in birthday_coupons_of(db, "leap_day")
    assert db.user_coupons.count_documents({}) == 4


def test_the_birthday_day_is_the_day_in_beijing(db: Any, monkeypatch) -> None:
    birthday_coupon(db, monkeypatch)
    add_user(db, "u1", birthday="1990-11-21")
    celebrate(db, datetime(2026, 11, 20, 16, 30, tzinfo=timezone.utc))  # 00:30 on the 21st
    assert birthday_coupons_of(db, "u1") == ["ucp_birthday_2026_u1"]


def test_birthday_coupons_stop_when_the_template_runs_out(db: Any, monkeypatch) -> None:
    coupon_id = birthday_coupon(db, monkeypatch, total=2)
    for n in range(3):
        add_user(db, f"u{n}", subscribed_to=BIRTHDAY_TEMPLATE, birthday="1990-11-20")
    summary = celebrate(db, nine_am(2026, 11, 20))
    assert (summary["counts"]["granted"], summary["counts"]["sold_out"]) == (2, 1)
    assert db.coupons.find_one({"_id": coupon_id})["remaining"] == 0
    assert db.user_coupons.count_documents({}) == 2
    # nobody is told of a coupon they did not get
    assert db.outbox.count_documents({"purpose": "birthday"}) == 2


def test_the_birthday_coupon_ignores_the_per_user_claim_limit(db: Any, monkeypatch) -> None:
    from shared.orders.coupons import ClaimCouponInput, claim_coupon
    coupon_id = birthday_coupon(db, monkeypatch)  # per_user_limit 1
    add_user(db, "u1", birthday="1990-11-20")
    claim_coupon(Clock(T0 - DAY).context(db, "u1"), ClaimCouponInput(coupon_id=coupon_id))
    celebrate(db, nine_am(2026, 11, 20))
    assert len(birthday_coupons_of(db, "u1")) == 2
    assert db.coupons.find_one({"_id": coupon_id})["remaining"] == 98


def test_an_unsubscribed_shopper_gets_the_coupon_but_no_message(db: Any, monkeypatch) -> None:
    birthday_coupon(db, monkeypatch)
    add_user(db, "u1", subscribed_to=None, birthday="1990-11-20")
    summary = celebrate(db, nine_am(2026, 11, 20))
    assert birthday_coupons_of(db, "u1") == ["ucp_birthday_2026_u1"]
    assert summary["counts"]["not_subscribed"] == 1
    assert db.outbox.count_documents({}) == 0


def test_one_birthday_batch_run_twice_at_once_grants_one_coupon(db: Any, monkeypatch) -> None:
    from shared.marketing.reminders import birthday_batch
    coupon_id = birthday_coupon(db, monkeypatch)
    users = [add_user(db, f"u{n}", subscribed_to=BIRTHDAY_TEMPLATE, birthday="1990-11-20")
             for n in range(5)]
    job = {"_id": "birthday:2026-11-20", "params": {"year": 2026, "coupon_id": coupon_id,
                                                    "template_id": BIRTHDAY_TEMPLATE}}
    run_threads(4, lambda i: birthday_batch(Clock(nine_am(2026, 11, 20)).context(db), job, users))
    assert db.user_coupons.count_documents({}) == 5
    template = db.coupons.find_one({"_id": coupon_id})
    assert (template["claimed"], template["remaining"]) == (5, 95)
    assert db.outbox.count_documents({"purpose": "birthday"}) == 5


def test_without_a_birthday_coupon_the_timer_is_off(db: Any) -> None:
    add_user(db, "u1", birthday="1990-11-20")
    assert celebrate(db, nine_am(2026, 11, 20))["status"] == "disabled"
    assert db.jobs.count_documents({}) == 0
