"""The live and community functions through their generated main_handler, fed real event
shapes: a CloudBase callFunction (the caller's trusted openid) joins a community and orders
from a live room at the member price; the timers answer their Timer events."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.conftest import load_event, merchant, new_product
from tests.functions.test_handlers import invoke, trusted_cloudbase  # noqa: F401 - fixture


def test_callfunction_joins_a_community_and_orders_from_a_room_at_the_member_price(
        trusted_cloudbase, db):  # noqa: F811 - the fixture
    product = new_product(price=1000)
    sku_id = product["skus"][0]["id"]
    now = datetime.now(timezone.utc)
    room = merchant("merchant_upsert_live_room", {
        "source": "plugin", "external_id": "8", "title": "直播", "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(), "product_ids": [product["id"]]}).data
    leader = invoke("get_profile", {"userInfo": {"openId": "oLeader0000000000000000000"}})
    community = merchant("merchant_create_community", {
        "name": "群", "leader_user_id": leader["data"]["id"], "commission_percent": 5}).data
    merchant("merchant_set_community_price", {"sku_id": sku_id, "price": 900}).data
    cloud = load_event("callfunction_get_profile.json")

    joined = invoke("join_community", {**cloud, "community_id": community["id"]})
    assert joined["ok"], joined
    shown = invoke("get_product", {**cloud, "product_id": product["id"]})
    assert shown["data"]["skus"][0]["member_price"] == 900
    address = invoke("add_address", {**cloud, "name": "李四", "phone": "13900139000",
                                      "province": "广东省", "city": "深圳市",
                                      "district": "南山区", "detail": "科技园1号"})
    order = invoke("place_order", {**cloud, "request_id": "cb-live-0001",
                                    "address_id": address["data"]["id"],
                                    "source": {"type": "live", "room_id": room["id"],
                                               "share_openid": "oSharer"},
                                    "items": [{"sku_id": sku_id, "quantity": 1}]})
    assert order["ok"], order
    assert order["data"]["total"] == 900
    assert order["data"]["source"]["room_id"] == room["id"]
    assert order["data"]["community"]["leader_user_id"] == leader["data"]["id"]
    rooms = invoke("list_live_rooms", {**cloud, "status": "live"})
    assert [r["id"] for r in rooms["data"]["items"]] == [room["id"]]


def test_the_live_timers_answer_their_timer_events(db):
    for name in ("live_sync", "live_reminders", "commission_release"):
        answer = invoke(name, load_event("timer_order_timeout.json", TriggerName=name))
        assert answer["ok"], (name, answer)
    assert "skipped" in invoke("live_sync", load_event("timer_order_timeout.json"))["data"]
