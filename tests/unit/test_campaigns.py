"""Merchant campaigns: the audience filter, the dispatch timer, stats and the campaign coupon.

The clock is set by hand (``Clock(T0).context(db)``): the timer and the sender run at
10:00 Beijing time, outside quiet hours. Users are written straight into the database with
exactly the fields the audience filter reads, so every filter has a known answer.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper, run_threads
from tests.helpers import Clock, deliver_owed_events

T0 = datetime(2030, 5, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing
TEMPLATE = "tpl_promo"
DAY = timedelta(days=1)


# ---- factories -----------------------------------------------------------------------------

def subscribe(db: Any, user_id: str, template_id: str = TEMPLATE) -> None:
    from shared.messaging.outbox import RecordSubscriptionInput, record_subscription
    record_subscription(Clock(T0 - DAY).context(db, user_id), RecordSubscriptionInput(
        template_ids=[template_id], results={template_id: "accept"}))


def add_user(db: Any, user_id: str, subscribed: bool = True, **fields: Any) -> str:
    db.users.insert_one({"_id": user_id, "openid": f"openid-{user_id}",
                         "created_at": T0 - 400 * DAY, **fields})
    if subscribed:
        subscribe(db, user_id)
    return user_id


def create(audience: Optional[dict[str, Any]] = None, send_at: datetime = T0,
           **fields: Any) -> dict[str, Any]:
    audience = {"subscribed_template": TEMPLATE, **(audience or {})}
    payload = {"name": "五一大促", "audience": audience,
               "template_id": TEMPLATE, "page": "pages/index/index",
               "data": {"thing1": "全场八折", "time2": {"value": "2030-05-01"}},
               "send_at": send_at.isoformat(), **fields}
    return merchant("merchant_create_campaign", payload).data


def dispatch(db: Any, now: datetime = T0) -> dict[str, Any]:
    from shared.marketing.campaigns import dispatch_campaigns
    return dispatch_campaigns(Clock(now).context(db))


def drain(db: Any, now: datetime = T0 + timedelta(minutes=1)) -> dict[str, int]:
    from shared.messaging.outbox import drain_outbox
    return drain_outbox(Clock(now).context(db))


def messaged(db: Any, campaign_id: str) -> list[str]:
    return sorted(m["user_id"] for m in db.outbox.find({"purpose": "campaign",
                                                        "occasion": campaign_id}))


def stats(campaign_id: str) -> dict[str, Any]:
    return merchant("merchant_campaign_stats", {"campaign_id": campaign_id}).data


def small_batches(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("MARKETING_BATCH_SIZE", str(size))
    reset_settings()


# ---- the audience --------------------------------------------------------------------------

def population(db: Any) -> None:
    """u1-u5 subscribed to TEMPLATE, u6 matches much but is not subscribed."""
    add_user(db, "u1", tags=["vip"], member_level="gold", last_order_at=T0 - 10 * DAY,
             total_spent=50_000)
    add_user(db, "u2", tags=["new"], last_order_at=T0 - 40 * DAY, total_spent=2_000)
    add_user(db, "u3", member_level="normal")
    add_user(db, "u4", tags=["vip", "new"], member_level="silver", last_order_at=T0 - 2 * DAY,
             total_spent=12_000)
    add_user(db, "u5", tags=[], member_level="gold", last_order_at=T0 - 100 * DAY,
             total_spent=100_000)
    add_user(db, "u6", subscribed=False, tags=["vip"], member_level="gold",
             last_order_at=T0 - 3 * DAY, total_spent=80_000)


@pytest.mark.parametrize("audience, expected", [
    ({}, ["u1", "u2", "u3", "u4", "u5"]),
    ({"tags": ["vip"]}, ["u1", "u4"]),
    ({"tags": ["vip", "new"]}, ["u1", "u2", "u4"]),
    ({"member_levels": ["gold"]}, ["u1", "u5"]),
    ({"member_levels": ["normal"]}, ["u2", "u3"]),  # no member_level is the lowest level
    ({"member_levels": ["normal", "silver"]}, ["u2", "u3", "u4"]),
    ({"last_order_before": (T0 - 30 * DAY).isoformat()}, ["u2", "u5"]),  # never ordered: out
    ({"last_order_after": (T0 - 30 * DAY).isoformat()}, ["u1", "u4"]),
    ({"last_order_after": (T0 - 50 * DAY).isoformat(),
      "last_order_before": (T0 - 5 * DAY).isoformat()}, ["u1", "u2"]),
    ({"min_total_spent": 12_000}, ["u1", "u4", "u5"]),  # at least: 12,000 is in
    ({"tags": ["vip"], "min_total_spent": 20_000}, ["u1"]),
    ({"tags": ["nobody"]}, []),
], ids=["everyone-subscribed", "one-tag", "any-of-tags", "level", "lowest-level-default",
        "levels", "ordered-before", "ordered-after", "ordered-between", "min-spent",
        "tag-and-spent", "empty"])
def test_audience_filter_messages_exactly_the_matching_subscribed_users(
        db: Any, audience: dict[str, Any], expected: list[str]) -> None:
    population(db)
    campaign = create(audience)

    dispatch(db)

    assert messaged(db, campaign["id"]) == expected
    assert stats(campaign["id"])["status"] == "done"


def test_matching_users_without_a_subscription_are_counted_as_skipped(db: Any) -> None:
    population(db)
    campaign = create({"tags": ["vip"]})

    dispatch(db)

    result = stats(campaign["id"])
    assert (result["audience"], result["queued"]) == (3, 2)
    assert result["skipped"] == {"not_subscribed": 1}


def test_audience_size_before_sending_is_an_estimate_of_the_filter(db: Any) -> None:
    population(db)
    campaign = create({"member_levels": ["gold"]}, send_at=T0 + DAY)

    result = stats(campaign["id"])

    assert (result["status"], result["audience"], result["audience_is_estimate"]) == \
        ("scheduled", 3, True)
    assert (result["queued"], result["job"]) == (0, None)


# ---- the timer -----------------------------------------------------------------------------

def test_a_campaign_waits_for_its_send_time_then_is_sent_once(db: Any) -> None:
    population(db)
    campaign = create(send_at=T0 + timedelta(hours=1))

    early = dispatch(db, T0)
    assert early["started"] == [] and messaged(db, campaign["id"]) == []
    assert stats(campaign["id"])["status"] == "scheduled"

    on_time = dispatch(db, T0 + timedelta(hours=1))
    again = dispatch(db, T0 + timedelta(hours=1, minutes=1))

    assert on_time["started"] == [campaign["id"]] and on_time["done"] == [campaign["id"]]
    assert again["started"] == [] and again["done"] == []
    assert messaged(db, campaign["id"]) == ["u1", "u2", "u3", "u4", "u5"]
    listed = merchant("merchant_list_campaigns").data["items"][0]
    assert (listed["id"], listed["status"]) == (campaign["id"], "done")


def test_two_timer_runs_at_once_start_the_campaign_once_and_queue_nobody_twice(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    small_batches(monkeypatch, 2)
    for n in range(9):
        add_user(db, f"u{n:02d}")
    campaign = create()

    runs = run_threads(2, lambda i: dispatch(db))
    dispatch(db, T0 + timedelta(minutes=1))

    assert sorted(c for run in runs for c in run["started"]) == [campaign["id"]]
    ids = [m["user_id"] for m in db.outbox.find({"occasion": campaign["id"]})]
    assert sorted(ids) == [f"u{n:02d}" for n in range(9)]
    assert stats(campaign["id"])["job"]["batches"] == 5


def test_a_failed_batch_is_run_again_by_the_next_timer_and_the_campaign_then_is_done(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.messaging.outbox
    small_batches(monkeypatch, 2)
    for n in range(6):
        add_user(db, f"u{n:02d}")
    coupon = merchant("merchant_create_coupon", {"name": "回归券", "kind": "fixed", "amount": 500,
                                                 "total": 100, "valid_days": 7}).data
    campaign = create(coupon_id=coupon["id"])
    real_enqueue, failures = shared.messaging.outbox.enqueue, []

    def flaky_enqueue(db: Any, user_id: str, *args: Any, **kwargs: Any) -> bool:
        if user_id == "u03" and not failures:
            failures.append(user_id)
            raise RuntimeError("the database went away")
        return real_enqueue(db, user_id, *args, **kwargs)
    monkeypatch.setattr(shared.messaging.outbox, "enqueue", flaky_enqueue)

    first = dispatch(db)
    assert first["done"] == [] and stats(campaign["id"])["job"]["batches_failed"] == 1

    second = dispatch(db, T0 + timedelta(minutes=1))

    assert (second["batches_redispatched"], second["done"]) == (1, [campaign["id"]])
    assert messaged(db, campaign["id"]) == [f"u{n:02d}" for n in range(6)]
    holders = [c["user_id"] for c in db.user_coupons.find({"coupon_id": coupon["id"]})]
    assert sorted(holders) == [f"u{n:02d}" for n in range(6)]


def test_a_campaign_left_sending_without_a_job_is_started_by_a_later_run(db: Any) -> None:
    population(db)
    campaign = create()
    # a run moved it to sending, then died before it planned the job
    db.campaigns.update_one({"_id": campaign["id"]},
                            {"$set": {"status": "sending", "started_at": T0}})

    dispatch(db, T0 + timedelta(minutes=1))  # it may still be planning: left alone
    assert messaged(db, campaign["id"]) == []

    dispatch(db, T0 + timedelta(minutes=6))
    last = dispatch(db, T0 + timedelta(minutes=7))

    assert messaged(db, campaign["id"]) == ["u1", "u2", "u3", "u4", "u5"]
    assert last["done"] == [campaign["id"]]


def test_a_job_left_running_after_its_last_batch_is_closed_and_the_campaign_done(
        db: Any) -> None:
    population(db)
    campaign = create()
    dispatch(db)
    # the run that finished the last batch died before it closed the job
    db.jobs.update_one({"_id": campaign["id"]}, {"$set": {"status": "running"}})
    db.campaigns.update_one({"_id": campaign["id"]}, {"$set": {"status": "sending"}})

    result = dispatch(db, T0 + timedelta(minutes=1))

    assert result["done"] == [campaign["id"]]
    assert db.jobs.find_one({"_id": campaign["id"]})["status"] == "done"


# ---- the coupon ----------------------------------------------------------------------------

def test_the_coupon_is_granted_once_per_user_however_often_a_batch_runs(db: Any) -> None:
    from shared.marketing.campaigns import campaign_batch
    population(db)
    coupon = merchant("merchant_create_coupon", {"name": "回归券", "kind": "fixed", "amount": 500,
                                                 "threshold": 3000, "total": 100,
                                                 "valid_days": 7}).data
    campaign = create({"tags": ["vip"]}, coupon_id=coupon["id"])
    dispatch(db)
    job = db.jobs.find_one({"_id": campaign["id"]})

    rerun = campaign_batch(Clock(T0 + DAY).context(db), job, ["u1", "u4", "u6"])

    assert rerun == {"users": 3, "queued": 2, "not_subscribed": 1, "coupons": 2}
    held = list(db.user_coupons.find({"coupon_id": coupon["id"]}))
    assert sorted(c["user_id"] for c in held) == ["u1", "u4"]
    assert all((c["amount"], c["threshold"], c["status"]) == (500, 3000, "available")
               and c["valid_to"] == T0 + 7 * DAY for c in held)
    assert stats(campaign["id"])["coupons_granted"] == 2
    assert messaged(db, campaign["id"]) == ["u1", "u4"]


def test_a_rerun_batch_still_counts_users_whose_subscription_the_send_spent(db: Any) -> None:
    from shared.marketing.campaigns import campaign_batch
    population(db)
    campaign = create({"tags": ["vip"]})
    dispatch(db)
    drain(db)  # u1 and u4 spent their one subscription on it

    rerun = campaign_batch(Clock(T0 + DAY).context(db), db.jobs.find_one({"_id": campaign["id"]}),
                           ["u1", "u4", "u6"])

    assert (rerun["queued"], rerun["not_subscribed"]) == (2, 1)
    assert [m["status"] for m in db.outbox.find({"occasion": campaign["id"]})] == ["sent"] * 2


# ---- stats ---------------------------------------------------------------------------------

def paid(db: Any, order_id: str, user_id: str, paid_at: datetime, total: int,
         refunded: int = 0) -> None:
    db.orders.insert_one({"_id": order_id, "user_id": user_id, "request_id": order_id,
                          "status": "refunding" if refunded else "paid", "total": total,
                          "refunded_amount": refunded, "paid_at": paid_at,
                          "created_at": paid_at - timedelta(minutes=5)})


def test_stats_count_sends_skips_failures_and_orders_within_7_days_of_the_message(
        db: Any) -> None:
    for user_id in ("u1", "u2", "u3", "u4", "u5"):
        add_user(db, user_id, tags=["vip"])
    add_user(db, "u6", subscribed=False, tags=["vip"])
    add_user(db, "u7", tags=["other"])  # outside the audience
    coupon = merchant("merchant_create_coupon", {"name": "回归券", "kind": "fixed", "amount": 500,
                                                 "total": 100, "valid_days": 7}).data
    campaign = create({"tags": ["vip"]}, coupon_id=coupon["id"])
    dispatch(db)
    db.subscriptions.update_many({"user_id": "u4"}, {"$set": {"remaining": 0}})  # spent elsewhere
    # what the sender leaves after OUTBOX_MAX_ATTEMPTS transient WeChat errors
    db.outbox.update_one({"occasion": campaign["id"], "user_id": "u5"},
                         {"$set": {"status": "dead", "reason": "errcode:45009"}})
    sent = T0 + timedelta(minutes=1)
    drain(db, sent)

    paid(db, "o-u1-in", "u1", sent + 2 * DAY, 10_000, refunded=3_000)   # counted, net 7,000
    paid(db, "o-u1-late", "u1", sent + 8 * DAY, 5_000)                 # after the window
    paid(db, "o-u1-before", "u1", sent - timedelta(hours=1), 4_000)    # before the message
    paid(db, "o-u2-in", "u2", sent + 6 * DAY, 2_000)                   # counted
    paid(db, "o-u4-skipped", "u4", sent + DAY, 9_999)                  # never messaged
    paid(db, "o-u6-unsub", "u6", sent + DAY, 8_888)                    # never messaged
    paid(db, "o-u7-outside", "u7", sent + DAY, 7_777)                  # not in the audience

    result = stats(campaign["id"])

    assert {k: result[k] for k in ("status", "audience", "queued", "pending", "sent", "failed",
                                   "coupons_granted")} == {
        "status": "done", "audience": 6, "queued": 5, "pending": 0, "sent": 3, "failed": 1,
        "coupons_granted": 5}
    assert result["skipped"] == {"not_subscribed": 1, "no_subscription": 1}
    assert {k: result[k] for k in ("orders", "buyers", "revenue", "refunds")} == {
        "orders": 2, "buyers": 2, "revenue": 9_000, "refunds": 3_000}
    assert result["job"] == {"status": "done", "batches": 1, "batches_done": 1,
                             "batches_failed": 0}


def test_stats_of_an_unknown_campaign_are_not_found(db: Any) -> None:
    assert merchant("merchant_campaign_stats", {"campaign_id": "cmp_nope"}).code == "NOT_FOUND"


# ---- creating campaigns --------------------------------------------------------------------

def test_a_created_campaign_is_scheduled_and_listed_newest_first(db: Any, clock: Clock) -> None:
    first = create(send_at=T0)
    clock.advance(seconds=1)
    second = create({"tags": ["vip"], "min_total_spent": 100}, send_at=T0 + DAY, name="第二波")

    listed = merchant("merchant_list_campaigns", {"page_size": 10}).data

    assert (first["status"], second["status"]) == ("scheduled", "scheduled")
    assert [c["id"] for c in listed["items"]] == [second["id"], first["id"]]
    assert listed["total"] == 2
    assert second["audience"] == {"tags": ["vip"], "member_levels": None,
                                  "last_order_before": None, "last_order_after": None,
                                  "min_total_spent": 100, "subscribed_template": TEMPLATE}
    assert second["send_at"] == "2030-05-02T02:00:00Z"


def test_a_retried_create_with_the_same_request_id_makes_one_campaign(db: Any) -> None:
    first = create(request_id="console-7f3a")
    again = create(request_id="console-7f3a")

    assert first["id"] == again["id"]
    assert merchant("merchant_list_campaigns").data["total"] == 1


@pytest.mark.parametrize("change", [
    {"audience": {"subscribed_template": "tpl_other"}},
    {"audience": {"subscribed_template": TEMPLATE,
                  "last_order_after": "2030-01-02T00:00:00Z",
                  "last_order_before": "2030-01-01T00:00:00Z"}},
    {"send_at": "2030-05-01T10:00:00"},  # no zone
    {"data": {"thing 1": "x"}},
    {"data": {"thing1": {"text": "x"}}},
    {"audience": {"subscribed_template": TEMPLATE, "tags": []}},
    {"audience": {"subscribed_template": TEMPLATE, "min_total_spent": -1}},
    {"extra": 1},
], ids=["other-template", "after-not-before", "naive-send-at", "bad-field-name",
        "bad-field-value", "empty-tags", "negative-spent", "unknown-field"])
def test_invalid_campaigns_are_refused_with_422(db: Any, change: dict[str, Any]) -> None:
    payload = {"name": "x", "audience": {"subscribed_template": TEMPLATE},
               "template_id": TEMPLATE, "page": "pages/index/index", "data": {},
               "send_at": T0.isoformat(), **change}

    assert merchant("merchant_create_campaign", payload).code == "VALIDATION_ERROR"


def test_an_unknown_coupon_is_not_found(db: Any) -> None:
    payload = {"name": "x", "audience": {"subscribed_template": TEMPLATE},
               "template_id": TEMPLATE, "page": "p", "data": {}, "coupon_id": "cpn_nope",
               "send_at": T0.isoformat()}

    assert merchant("merchant_create_campaign", payload).code == "NOT_FOUND"


def test_a_coupon_that_expires_before_the_send_time_is_refused(db: Any) -> None:
    coupon = merchant("merchant_create_coupon", {
        "name": "短券", "kind": "fixed", "amount": 100, "total": 10,
        "valid_from": (T0 - 2 * DAY).isoformat(), "valid_to": (T0 - DAY).isoformat()}).data

    answer = merchant("merchant_create_campaign", {
        "name": "x", "audience": {"subscribed_template": TEMPLATE}, "template_id": TEMPLATE,
        "page": "p", "data": {}, "coupon_id": coupon["id"], "send_at": T0.isoformat()})

    assert answer.code == "INVALID_STATE"


# ---- what paid orders tell the audience filter ---------------------------------------------

def test_a_paid_order_sets_last_order_at_and_adds_to_total_spent_once(db: Any) -> None:
    from shared.core.events import OrderEvent, publish
    shopper = new_shopper()
    product = new_product(price=1250)
    order = shopper.call("place_order", {
        "request_id": "campaign-order-1", "address_id": new_address(shopper),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}]}).data

    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    deliver_owed_events()   # the aftermath, after the answer
    doc = db.orders.find_one({"_id": order["id"]})
    publish(db, OrderEvent("order_paid", doc, T0))  # a reconciler repeating the aftermath

    user = db.users.find_one({"_id": shopper.user_id})
    assert (user["total_spent"], user["last_order_at"]) == (2500, doc["paid_at"])


def test_last_order_at_never_moves_back_to_an_older_order(db: Any) -> None:
    from shared.core.events import OrderEvent
    from shared.marketing.campaigns import on_order_paid
    add_user(db, "u1", subscribed=False)
    paid(db, "o-new", "u1", T0, 1_000)
    paid(db, "o-old", "u1", T0 - 30 * DAY, 2_000)

    for order_id in ("o-new", "o-old"):
        on_order_paid(db, OrderEvent("order_paid", db.orders.find_one({"_id": order_id}), T0))

    user = db.users.find_one({"_id": "u1"})
    assert (user["last_order_at"], user["total_spent"]) == (T0, 3_000)


def test_a_timer_event_runs_the_dispatch_through_the_runtime(db: Any) -> None:
    from shared.core.dispatch import run_timer
    population(db)
    campaign = create(send_at=datetime.now(timezone.utc) - timedelta(minutes=1))

    outcome = run_timer("campaign_dispatch")

    assert outcome.envelope["ok"], outcome.envelope
    assert outcome.envelope["data"]["started"] == [campaign["id"]]
    assert len(messaged(db, campaign["id"])) == 5
