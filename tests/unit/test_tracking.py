"""Tracking (埋点): dedupe under retries, clock correction, schemas, the anonymous merge on
login, consent, server facts and erasure (issue 15)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import call, merchant, new_address, new_product, new_shopper
from tests.helpers import Clock, deliver_owed_events


@pytest.fixture(autouse=True)
def fresh_links() -> Iterator[None]:
    from shared.insight.tracking import forget_links
    forget_links()
    yield
    forget_links()


def iso(moment: datetime) -> str:
    return moment.isoformat()


def event(event_id: str, name: str = "page_view", ts: Optional[datetime] = None,
          props: Optional[dict[str, Any]] = None, page: Optional[str] = "pages/index/index"
          ) -> dict[str, Any]:
    found: dict[str, Any] = {"event_id": event_id, "name": name,
                             "ts": iso(ts or datetime.now(timezone.utc))}
    if props is not None:
        found["props"] = props
    if page is not None:
        found["page"] = page
    return found


def batch(device: str, events: list[dict[str, Any]],
          sent_at: Optional[datetime] = None) -> dict[str, Any]:
    return {"device_id": device, "sent_at": iso(sent_at or datetime.now(timezone.utc)),
            "events": events}


def track(payload: dict[str, Any], token: Optional[str] = None) -> Any:
    return call("track_events", payload, token)


# ---- dedupe --------------------------------------------------------------------------------

def test_a_retried_batch_is_stored_once_and_answered_as_duplicates(db: Any) -> None:
    payload = batch("dev-a", [event(f"e{n}") for n in range(20)])

    first = track(payload).data
    again = track(payload).data
    third = track({**payload, "events": payload["events"][:5] + [event("e20")]}).data

    assert (first["accepted"], first["duplicates"]) == (20, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 20)
    assert (third["accepted"], third["duplicates"]) == (1, 5)
    assert db.events.count_documents({"device_id": "dev-a"}) == 21


def test_one_event_twice_in_a_batch_is_one_event(db: Any) -> None:
    answer = track(batch("dev-b", [event("same"), event("same")])).data

    assert (answer["accepted"], answer["duplicates"]) == (1, 1)


def test_retries_racing_each_other_store_each_event_once(db: Any) -> None:
    from tests.conftest import run_threads
    payload = batch("dev-race", [event(f"r{n}") for n in range(30)])

    answers = run_threads(8, lambda i: track(payload).data)

    assert sum(a["accepted"] for a in answers) == 30
    assert sum(a["duplicates"] for a in answers) == 7 * 30
    assert db.events.count_documents({"device_id": "dev-race"}) == 30


def test_the_same_event_id_on_two_devices_is_two_events(db: Any) -> None:
    track(batch("dev-1", [event("e1")]))
    track(batch("dev-2", [event("e1")]))

    assert db.events.count_documents({}) == 2


# ---- clocks, limits and schemas -------------------------------------------------------------

def test_a_client_clock_an_hour_fast_is_corrected_by_now_minus_sent_at(
        db: Any, clock: Clock) -> None:
    fast = clock.now + timedelta(hours=1)

    track(batch("dev-c", [event("e1", ts=fast - timedelta(minutes=5))], sent_at=fast))

    stored = db.events.find_one({"_id": "dev-c:e1"})
    assert stored["ts"] == clock.now - timedelta(minutes=5)
    assert stored["received_at"] == clock.now
    assert stored["source"] == "client" and stored["user_id"] is None


def test_an_event_in_the_future_even_after_correction_is_stored_at_now(
        db: Any, clock: Clock) -> None:
    track(batch("dev-f", [event("e1", ts=clock.now + timedelta(days=1))], sent_at=clock.now))

    assert db.events.find_one({"_id": "dev-f:e1"})["ts"] == clock.now


def test_at_most_50_events_a_call() -> None:
    answer = track(batch("dev-d", [event(f"e{n}") for n in range(51)]))

    assert answer.status == 422 and answer.code == "VALIDATION_ERROR"


def test_props_over_4_kb_are_refused() -> None:
    answer = track(batch("dev-d", [event("e1", "x_big", props={"text": "字" * 1400})]))

    assert answer.status == 422


@pytest.mark.parametrize("name,props", [
    ("order_paid", {"order_id": "ord_1", "amount": 1}),   # a server fact
    ("share_opened", {}),
    ("order_placed", {}),
    ("order_refunded", {}),
    ("bought_something", {}),                             # neither known nor x_
    ("product_view", {}),                                 # product_id missing
    ("product_view", {"product_id": "p1", "colour": "red"}),  # unknown prop
    ("search", {"keyword": ""}),
])
def test_server_facts_unknown_names_and_bad_props_are_422(name: str, props: Any) -> None:
    answer = track(batch("dev-e", [event("e1", name, props=props)]))

    assert answer.status == 422, answer.body


def test_known_and_custom_names_are_accepted(db: Any) -> None:
    answer = track(batch("dev-g", [
        event("e1", "product_view", props={"product_id": "prd_1"}),
        event("e2", "search", props={"keyword": "口红", "results": 3}),
        event("e3", "add_to_cart", props={"product_id": "prd_1", "quantity": 2}),
        event("e4", "x_banner_click", props={"anything": [1, 2, {"goes": True}]}),
        event("e5", "try_on", props={"product_id": "prd_1"}, page=None)])).data

    assert answer["accepted"] == 5
    assert db.events.find_one({"_id": "dev-g:e3"})["props"] == {"product_id": "prd_1",
                                                                 "quantity": 2}


def test_tracking_needs_no_token_but_refuses_a_bad_one() -> None:
    assert track(batch("dev-h", [event("e1")])).ok
    assert track(batch("dev-h", [event("e2")]), token="not-a-token").status == 401


def test_tracking_through_http_and_a_callfunction_event(db: Any, gateway: str) -> None:
    import requests

    from shared.core.runtime import serve
    shopper = new_shopper()
    answer = requests.post(f"{gateway}/api/track_events",
                           json=batch("dev-http", [event("e1")]),
                           headers={"Authorization": f"Bearer {shopper.token}"}, timeout=10)
    called = serve("track_events", {**batch("dev-cf", [event("e1")]), "_token": shopper.token},
                   None)

    assert answer.status_code == 200 and answer.json()["data"]["accepted"] == 1
    assert called["ok"] and called["data"]["accepted"] == 1
    assert db.events.count_documents({"user_id": shopper.user_id}) == 2


# ---- the anonymous merge --------------------------------------------------------------------

def test_after_login_the_devices_anonymous_events_belong_to_the_user(db: Any) -> None:
    track(batch("phone-1", [event(f"a{n}") for n in range(3)]))
    track(batch("phone-2", [event("other")]))
    shopper = new_shopper()

    track(batch("phone-1", [event("b1")]), token=shopper.token)

    mine = {e["_id"] for e in db.events.find({"user_id": shopper.user_id})}
    assert mine == {"phone-1:a0", "phone-1:a1", "phone-1:a2", "phone-1:b1"}
    assert db.events.find_one({"_id": "phone-2:other"})["user_id"] is None
    assert all(e.get("user_at") for e in db.events.find({"user_id": shopper.user_id}))


def test_user_for_device_names_the_last_user_who_logged_in_on_it(db: Any, clock: Clock) -> None:
    from shared.insight.tracking import user_for_device
    first, second = new_shopper(), new_shopper()

    assert user_for_device(db, "shared-phone") is None
    track(batch("shared-phone", [event("e1")]), token=first.token)
    clock.advance(minutes=1)
    track(batch("shared-phone", [event("e2")]), token=second.token)

    assert user_for_device(db, "shared-phone") == second.user_id


def test_a_merge_cut_short_is_finished_by_the_next_tracked_batch(
        db: Any, faulty_db: Any) -> None:
    from shared.insight.tracking import forget_links
    from tests.faults import die_after_write
    track(batch("phone-x", [event(f"a{n}") for n in range(3)]))
    shopper = new_shopper()

    # writes: the events, the link, then the move: die right after the link
    with die_after_write(faulty_db, 2) as fault:
        track(batch("phone-x", [event("b1")]), token=shopper.token)
    assert fault.died and fault.operation == "device_links.insert_one"
    assert db.events.count_documents({"device_id": "phone-x", "user_id": None}) == 3

    forget_links()   # another instance
    track(batch("phone-x", [event("b2")]), token=shopper.token)

    assert db.events.count_documents({"device_id": "phone-x", "user_id": None}) == 0
    assert db.events.count_documents({"user_id": shopper.user_id}) == 5


# ---- consent -------------------------------------------------------------------------------

def test_with_tracking_off_client_events_are_dropped_and_server_facts_kept(db: Any) -> None:
    shopper = new_shopper()
    track(batch("ph", [event("e1")]), token=shopper.token)

    off = shopper.call("set_tracking_consent", {"enabled": False}).data
    answer = track(batch("ph", [event("e2")]), token=shopper.token).data
    order = place_and_pay(shopper)

    assert off == {"enabled": False, "deleted_events": 1}
    assert answer == {"accepted": 0, "duplicates": 0, "dropped": 1, "tracking": False}
    kept = [e["name"] for e in db.events.find({"user_id": shopper.user_id})]
    assert sorted(kept) == ["order_paid", "order_placed"]
    assert db.events.find_one({"_id": f"srv:order_paid:{order}"}) is not None


def test_tracking_on_again_keeps_events_again(db: Any) -> None:
    shopper = new_shopper()
    shopper.call("set_tracking_consent", {"enabled": False})
    shopper.call("set_tracking_consent", {"enabled": True})

    assert track(batch("ph", [event("e1")]), token=shopper.token).data["accepted"] == 1


def test_a_shopper_with_tracking_off_does_not_inherit_the_devices_anonymous_events(
        db: Any) -> None:
    track(batch("ph-off", [event("a1")]))
    shopper = new_shopper()
    shopper.call("set_tracking_consent", {"enabled": False})
    shopper.call("set_tracking_consent", {"enabled": True})
    db.users.update_one({"_id": shopper.user_id},
                        {"$set": {"tracking_consent.enabled": False}})
    from shared.insight.tracking import link_device
    link_device(db, "ph-off", shopper.user_id, datetime.now(timezone.utc))

    assert db.events.count_documents({"device_id": "ph-off"}) == 0


def test_consent_needs_a_logged_in_shopper() -> None:
    assert call("set_tracking_consent", {"enabled": False}).status == 401


# ---- server facts --------------------------------------------------------------------------

def place_and_pay(shopper: Any, quantity: int = 2) -> str:
    product = new_product(price=1500)
    address = new_address(shopper)
    order = shopper.call("place_order", {
        "request_id": f"req-{shopper.name}-1", "address_id": address,
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": quantity}]}).data
    assert merchant("merchant_mark_paid", {"order_id": order["id"]}).ok
    deliver_owed_events()
    return str(order["id"])


def test_orders_placed_and_paid_are_recorded_once_with_their_items(db: Any) -> None:
    from shared.core.events import OrderEvent, publish
    shopper = new_shopper()
    order_id = place_and_pay(shopper)
    order = db.orders.find_one({"_id": order_id})

    publish(db, OrderEvent("order_paid", order, datetime.now(timezone.utc)))  # delivered again

    paid = list(db.events.find({"name": "order_paid"}))
    assert len(paid) == 1 and paid[0]["_id"] == f"srv:order_paid:{order_id}"
    assert paid[0]["source"] == "server" and paid[0]["user_id"] == shopper.user_id
    assert paid[0]["props"]["amount"] == order["total"] == 3000
    item = paid[0]["props"]["items"][0]
    assert item["quantity"] == 2 and item["amount"] == 3000
    assert item["category_id"] == db.products.find_one({"_id": item["product_id"]})["category_id"]
    assert db.events.count_documents({"name": "order_placed"}) == 1


def test_a_refunded_order_is_recorded_with_its_amount(db: Any) -> None:
    from shared.core.events import OrderEvent, publish
    shopper = new_shopper()
    order_id = place_and_pay(shopper)
    order = db.orders.find_one({"_id": order_id})
    order.update(status="refunded", refunded_amount=3000)

    publish(db, OrderEvent("order_refunded", order, datetime.now(timezone.utc)))
    publish(db, OrderEvent("order_refunded", order, datetime.now(timezone.utc)))

    refunded = list(db.events.find({"name": "order_refunded"}))
    assert len(refunded) == 1 and refunded[0]["props"] == {"order_id": order_id, "amount": 3000}


def test_opening_a_share_is_recorded_as_a_server_fact(db: Any) -> None:
    sharer, friend = new_shopper(), new_shopper()
    product = new_product()
    share = sharer.call("create_share", {"target": "product",
                                         "target_id": product["id"]}).data

    assert friend.call("track_share_open", {"scene": share["code"]}).ok

    opened = db.events.find_one({"name": "share_opened"})
    assert opened["user_id"] == friend.user_id and opened["source"] == "server"
    assert opened["props"]["share_id"] == share["share_id"]


# ---- erasure -------------------------------------------------------------------------------

def test_delete_account_erases_the_shoppers_events_links_and_rollups(
        db: Any, clock: Clock) -> None:
    from shared.core.config import get_settings
    from shared.insight.rollups import roll_up
    track(batch("ph-del", [event("a1")]))
    shopper, other = new_shopper(), new_shopper()
    track(batch("ph-del", [event("b1", "product_view", props={"product_id": "p1"})]),
          token=shopper.token)
    track(batch("ph-other", [event("c1")]), token=other.token)
    clock.advance(minutes=5)
    roll_up(db, get_settings(), clock.now)
    assert db.user_daily.count_documents({"user_id": shopper.user_id}) == 1

    assert shopper.call("delete_account").ok

    assert db.events.count_documents({"device_id": "ph-del"}) == 0
    assert db.events.count_documents({"user_id": shopper.user_id}) == 0
    assert db.device_links.count_documents({"user_id": shopper.user_id}) == 0
    assert db.user_daily.count_documents({"user_id": shopper.user_id}) == 0
    assert db.events.count_documents({"user_id": other.user_id}) == 1
