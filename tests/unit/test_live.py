"""Live commerce (直播带货): rooms entered and synced from the plugin (against a WeChat double
on loopback HTTP: stable_token and getliveinfo, rooms and replays), the status, the start
reminder sent once per shopper through the outbox, orders attributed to a room through
place_order's ``source``, refunds subtracting, and the room's report with the viewers who
tapped a product (tracking events)."""
from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import call, merchant, new_product
from tests.faults import run_timer
from tests.helpers import deliver_owed_events, serve_json
from tests.unit.test_members import Member

APPID, SECRET = "wx_live_appid", "wx-live-secret"
TEMPLATE = "tpl_live_start"
_ids = itertools.count(1)


class FakeLiveWeChat:
    """stable_token and wxa/business/getliveinfo as WeChat answers them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rooms: list[dict[str, Any]] = []
        self.replays: dict[int, list[dict[str, Any]]] = {}
        self.errcode = 0
        self.requests: list[dict[str, Any]] = []

    def getliveinfo(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.requests.append(body)
            if not token.startswith("ACCESS_TOKEN"):
                return {"errcode": 40001, "errmsg": "invalid credential"}
            if self.errcode:
                return {"errcode": self.errcode, "errmsg": "系统维护阶段"}
            if body.get("action") == "get_replay":
                replays = self.replays.get(body["room_id"], [])
                return {"errcode": 0, "errmsg": "ok", "live_replay": replays,
                        "total": len(replays)}
            if not self.rooms:
                return {"errcode": 1, "errmsg": "no rooms", "room_info": []}
            start, limit = body["start"], body["limit"]
            return {"errcode": 0, "errmsg": "ok", "total": len(self.rooms),
                    "room_info": self.rooms[start:start + limit]}


@pytest.fixture
def wechat(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLiveWeChat]:
    from shared.core.config import reset_settings
    fake = FakeLiveWeChat()

    def route(path: str, query: dict[str, list[str]], body: Any) -> Optional[dict[str, Any]]:
        if path == "/cgi-bin/stable_token":
            return {"access_token": "ACCESS_TOKEN_1", "expires_in": 7200}
        if path == "/wxa/business/getliveinfo":
            return fake.getliveinfo((query.get("access_token") or [""])[0], body)
        return None

    with serve_json(route) as base:
        monkeypatch.setenv("WX_APPID", APPID)
        monkeypatch.setenv("WX_SECRET", SECRET)
        monkeypatch.setenv("WECHAT_API_BASE", base)
        monkeypatch.setenv("LIVE_PLUGIN", "1")
        reset_settings()
        yield fake


def plugin_room(roomid: int, status: int, start: datetime, product_id: str = "",
                name: str = "双十一直播") -> dict[str, Any]:
    return {"name": name, "roomid": roomid, "cover_img": "http://mmbiz.qpic.cn/c.jpg",
            "share_img": "http://mmbiz.qpic.cn/s.jpg", "live_status": status,
            "start_time": int(start.timestamp()),
            "end_time": int((start + timedelta(hours=2)).timestamp()),
            "anchor_name": "李四", "goods": [
                {"cover_img": "http://mmbiz.qpic.cn/g.png", "price": 1100, "name": "茶杯",
                 "url": f"pages/product/product?id={product_id}"}], "total": 1}


def channels_room(product_ids: list[str], starts_at: datetime, **extra: Any) -> dict:
    return merchant("merchant_upsert_live_room", {
        "source": "channels", "external_id": f"finder_{next(_ids)}", "title": "周末直播",
        "anchor_name": "王五", "cover": "https://img.test/live.png",
        "starts_at": starts_at.isoformat(), "ends_at": (starts_at + timedelta(hours=2))
        .isoformat(), "product_ids": product_ids, **extra}).data


# ---- rooms ---------------------------------------------------------------------------------

def test_a_merchant_enters_a_channels_room_and_shoppers_list_it_by_status(db, clock):
    product = new_product()
    upcoming = channels_room([product["id"]], clock.now + timedelta(hours=1))
    live = channels_room([], clock.now - timedelta(minutes=30))
    ended = channels_room([], clock.now - timedelta(hours=5))

    def ids(status: str) -> list[str]:
        return [r["id"] for r in call("list_live_rooms", {"status": status}).data["items"]]
    assert ids("upcoming") == [upcoming["id"]]
    assert ids("live") == [live["id"]]
    assert ids("ended") == [ended["id"]]
    room = call("get_live_room", {"room_id": upcoming["id"]}).data
    assert room["status"] == "upcoming" and room["products"][0]["id"] == product["id"]


def test_a_room_refuses_unknown_products_and_ends_before_it_starts(db, clock):
    bad = merchant("merchant_upsert_live_room", {
        "source": "channels", "external_id": "x1", "title": "t",
        "starts_at": clock.now.isoformat(), "ends_at": clock.now.isoformat()})
    assert bad.status == 422
    unknown = merchant("merchant_upsert_live_room", {
        "source": "channels", "external_id": "x1", "title": "t",
        "starts_at": clock.now.isoformat(),
        "ends_at": (clock.now + timedelta(hours=1)).isoformat(), "product_ids": ["prd_nope"]})
    assert unknown.code == "VALIDATION_ERROR"


def test_live_sync_pulls_rooms_status_goods_and_replays_from_the_plugin(db, wechat, clock):
    product = new_product()
    wechat.rooms = [plugin_room(11, 101, clock.now - timedelta(minutes=5), product["id"]),
                    plugin_room(12, 103, clock.now - timedelta(days=1), product["id"])]
    wechat.replays[12] = [{"expire_time": "2027-01-01 00:00:00",
                           "create_time": "2026-12-01 00:00:00",
                           "media_url": "http://replay.test/12.m3u8"}]
    result = run_timer("live_sync")
    assert (result["rooms"], result["replays"]) == (2, 1)

    live = db.live_rooms.find_one({"source": "plugin", "external_id": "11"})
    assert live["live_status"] == 101 and live["product_ids"] == [product["id"]]
    assert call("get_live_room", {"room_id": live["_id"]}).data["status"] == "live"
    ended = call("get_live_room", {"room_id": db.live_rooms.find_one(
        {"external_id": "12"})["_id"]}).data
    assert ended["status"] == "ended" and ended["replay_url"] == "http://replay.test/12.m3u8"

    wechat.rooms[0]["live_status"] = 103  # the live ended: a second sync moves it, no copy
    run_timer("live_sync")
    assert db.live_rooms.count_documents({}) == 2
    assert db.live_rooms.find_one({"external_id": "11"})["live_status"] == 103


def test_live_sync_reports_an_account_without_the_plugin(db, wechat):
    wechat.errcode = 268489001
    assert run_timer("live_sync") == {"unavailable": True, "rooms": 0}


def test_live_sync_does_nothing_without_the_plugin_setting(db, wechat, monkeypatch):
    from shared.core.config import reset_settings
    monkeypatch.setenv("LIVE_PLUGIN", "0")
    reset_settings()
    assert "skipped" in run_timer("live_sync")
    assert wechat.requests == []


# ---- reminders -------------------------------------------------------------------------------

@pytest.fixture
def reminders(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("LIVE_TEMPLATE_ID", TEMPLATE)
    reset_settings()


def test_a_subscriber_is_reminded_once_ten_minutes_before_the_start(db, clock, reminders):
    room = channels_room([], clock.now + timedelta(minutes=30))
    fan = Member()
    fan.call("record_subscription", {"template_ids": [TEMPLATE],
                                     "results": {TEMPLATE: "accept"}}).data
    answer = fan.call("subscribe_live_room", {"room_id": room["id"]}).data
    assert answer["has_grant"] is True
    fan.call("subscribe_live_room", {"room_id": room["id"]}).data  # twice: still one

    clock.advance(minutes=19)
    assert run_timer("live_reminders")["queued"] == 0
    clock.advance(minutes=1, seconds=1)
    assert run_timer("live_reminders")["queued"] == 1
    clock.advance(minutes=1)
    assert run_timer("live_reminders")["queued"] == 0
    queued = list(db.outbox.find({"purpose": "live_reminder"}))
    assert [(m["user_id"], m["template_id"]) for m in queued] == [(fan.user_id, TEMPLATE)]
    assert call("get_live_room", {"room_id": room["id"]}).data["subscribers"] == 1


def test_a_reminder_follows_a_moved_start(db, clock, reminders):
    room = channels_room([], clock.now + timedelta(minutes=30))
    Member().call("subscribe_live_room", {"room_id": room["id"]}).data
    channels_room([], clock.now + timedelta(hours=3), room_id=room["id"])
    clock.advance(minutes=25)
    assert run_timer("live_reminders")["queued"] == 0
    clock.advance(hours=2, minutes=26)
    assert run_timer("live_reminders")["queued"] == 1


def test_an_ended_room_takes_no_subscription(db, clock):
    room = channels_room([], clock.now - timedelta(hours=5))
    answer = Member().call("subscribe_live_room", {"room_id": room["id"]})
    assert answer.code == "INVALID_STATE" and answer.body["error"]["message_zh"]


# ---- attribution and the report ----------------------------------------------------------------

def test_orders_from_a_room_are_attributed_refunds_subtract_and_the_report_counts(db, clock):
    product = new_product(price=1000)
    apple = product["skus"][0]["id"]
    room = channels_room([product["id"]], clock.now - timedelta(minutes=10))
    buyer, other = Member(), Member()
    source = {"type": "live", "room_id": room["id"], "share_openid": "o_sharer"}
    first = buyer.paid_order([(apple, 2)], source=source)
    assert first["source"]["room_id"] == room["id"]
    other.paid_order([(apple, 1)], source=source)
    Member().paid_order([(apple, 5)])  # not from the room
    buyer.refunded(buyer.refund(first["id"], [(apple, 1)]))
    deliver_owed_events()
    for who in (buyer.user_id, "", None):
        db.events.insert_one({"user_id": who, "device_id": f"dev-{who}", "name": "product_view",
                              "ts": clock.now, "props": {"product_id": product["id"],
                                                         "room_id": room["id"]}})

    report = merchant("merchant_live_report", {"room_id": room["id"]}).data
    assert (report["orders"], report["paid_orders"], report["buyers"]) == (2, 2, 2)
    assert (report["paid_gmv"], report["refunds"], report["net_gmv"]) == (3000, 1000, 2000)
    assert report["top_products"][0]["quantity"] == 3
    assert (report["viewers"], report["viewer_buyers"]) == (3, 1)
    assert report["conversion"] == pytest.approx(1 / 3, abs=1e-3)


def test_an_order_naming_an_unknown_room_is_refused(db):
    apple = new_product()["skus"][0]["id"]
    answer = Member().place([(apple, 1)], source={"type": "live", "room_id": "room_nope"})
    assert answer.code == "NOT_FOUND" and answer.body["error"]["message_zh"] == "直播间不存在"


def test_a_source_of_another_type_is_invalid_input(db):
    apple = new_product()["skus"][0]["id"]
    answer = Member().place([(apple, 1)], source={"type": "tv", "room_id": "r"})
    assert answer.status == 422




@pytest.mark.parametrize("k", range(1, 4))
def test_a_reminder_run_cut_short_still_reminds_each_shopper_once(faulty_db, clock, reminders,
                                                                   k):
    from tests.faults import die_after_write
    room = channels_room([], clock.now + timedelta(minutes=30))
    fans = [Member() for _ in range(2)]
    for fan in fans:
        fan.call("subscribe_live_room", {"room_id": room["id"]}).data
    clock.advance(minutes=21)
    with die_after_write(faulty_db, k):
        run_timer("live_reminders")
    clock.advance(minutes=1)
    run_timer("live_reminders")
    run_timer("live_reminders")
    queued = sorted(m["user_id"] for m in faulty_db.outbox.find({"purpose": "live_reminder"}))
    assert queued == sorted(f.user_id for f in fans)
    assert faulty_db.live_reminders.count_documents({"status": "queued"}) == 2


def test_shoppers_reach_rooms_over_http_through_the_gateway(gateway, clock):
    import requests
    room = channels_room([], clock.now + timedelta(hours=1))
    fan = Member()
    listed = requests.post(f"{gateway}/api/list_live_rooms", json={"status": "upcoming"},
                           timeout=10).json()
    assert [r["id"] for r in listed["data"]["items"]] == [room["id"]]
    headers = {"Authorization": f"Bearer {fan.shopper.token}"}
    subscribed = requests.post(f"{gateway}/api/subscribe_live_room",
                               json={"room_id": room["id"]}, headers=headers, timeout=10)
    assert subscribed.status_code == 200 and subscribed.json()["data"]["subscribed"]
    seen = requests.post(f"{gateway}/api/get_live_room", json={"room_id": room["id"]},
                         headers=headers, timeout=10).json()["data"]
    assert seen["subscribed"] is True and seen["subscribers"] == 1
    anonymous = requests.post(f"{gateway}/api/subscribe_live_room",
                              json={"room_id": room["id"]}, timeout=10)
    assert anonymous.status_code == 401
