"""Subscribe messages: what shoppers accepted, the outbox, and the sender against WeChat.

WeChat is played by a loopback HTTP server that answers ``POST /cgi-bin/stable_token`` and
``POST /cgi-bin/message/subscribe/send`` as the real server does: it issues access tokens,
answers 40001 to a token it no longer takes, and can be told to answer the next sends with
an errcode (43101 refused, 45009 over the daily limit). WX_APPID/WX_SECRET and
WECHAT_API_BASE point the shop at it, so the sender takes its real path, HTTP included.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import new_shopper, run_threads
from tests.helpers import Clock

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing
TEMPLATE = "tpl_order_shipped"
APPID, SECRET = "wx_test_appid", "wx-test-secret"


class FakeWeChat:
    """The two WeChat server APIs the sender uses, with what they were asked recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued = 0
        self.valid_tokens: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        self.sends: list[dict[str, Any]] = []  # {"token", "errcode", "body"}
        self.scripted: list[int] = []  # errcodes for the next sends, then 0

    def revoke_all_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def answer_next_sends_with(self, *errcodes: int) -> None:
        with self.lock:
            self.scripted.extend(errcodes)

    def stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.token_requests.append(body)
            if (body.get("grant_type"), body.get("appid"), body.get("secret")) != \
                    ("client_credential", APPID, SECRET):
                return {"errcode": 40013, "errmsg": "invalid appid"}
            self.issued += 1
            token = f"ACCESS_TOKEN_{self.issued}"
            if body.get("force_refresh"):
                self.valid_tokens.clear()  # force mode makes the earlier token invalid
            self.valid_tokens.add(token)
            return {"access_token": token, "expires_in": 7200}

    def subscribe_send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if token not in self.valid_tokens:
                errcode = 40001
            elif self.scripted:
                errcode = self.scripted.pop(0)
            else:
                errcode = 0
            self.sends.append({"token": token, "errcode": errcode, "body": body})
        messages = {0: "ok",
                    40001: "invalid credential, access_token is invalid or not latest",
                    43101: "user refuse to accept the msg",
                    45009: "reach max api daily quota limit"}
        return {"errcode": errcode, "errmsg": messages.get(errcode, "system error")}

    def delivered(self) -> list[dict[str, Any]]:
        return [s["body"] for s in self.sends if s["errcode"] == 0]


def _handler(fake: FakeWeChat) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            url = urlparse(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if url.path == "/cgi-bin/stable_token":
                answer = fake.stable_token(body)
            elif url.path == "/cgi-bin/message/subscribe/send":
                token = (parse_qs(url.query).get("access_token") or [""])[0]
                answer = fake.subscribe_send(token, body)
            else:
                self.send_error(404)
                return
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass
    return Handler


@pytest.fixture
def wechat(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChat]:
    from shared.core.config import reset_settings
    fake = FakeWeChat()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    monkeypatch.setenv("WX_APPID", APPID)
    monkeypatch.setenv("WX_SECRET", SECRET)
    monkeypatch.setenv("WECHAT_API_BASE", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("OUTBOX_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("QUIET_HOURS", "22:00-08:00")
    reset_settings()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


# ---- factories -----------------------------------------------------------------------------

def add_user(db: Any, user_id: str, subscriptions: int = 1) -> str:
    db.users.insert_one({"_id": user_id, "openid": f"openid-{user_id}", "created_at": T0})
    if subscriptions:
        db.subscriptions.insert_one({"_id": f"{user_id}:{TEMPLATE}", "user_id": user_id,
                                     "template_id": TEMPLATE, "remaining": subscriptions})
    return user_id


def queue(db: Any, user_id: str, occasion: str = "ord_1", now: datetime = T0) -> bool:
    from shared.messaging.outbox import enqueue
    return enqueue(db, user_id, "order", occasion, now, template_id=TEMPLATE,
                   page="pages/order/detail?id=ord_1",
                   data={"thing1": "冰糖心苹果", "time2": {"value": "2026-11-20 10:00"}})


def drain(db: Any, now: datetime = T0) -> dict[str, int]:
    from shared.messaging.outbox import drain_outbox
    return drain_outbox(Clock(now).context(db))


def message(db: Any, user_id: str, occasion: str = "ord_1") -> dict[str, Any]:
    return db.outbox.find_one({"_id": f"order:{occasion}:{user_id}"})


def remaining(db: Any, user_id: str) -> int:
    return db.subscriptions.find_one({"_id": f"{user_id}:{TEMPLATE}"})["remaining"]


# ---- record_subscription -------------------------------------------------------------------

def test_record_subscription_counts_each_acceptance_as_one_message(db: Any) -> None:
    shopper = new_shopper()
    answer = shopper.call("record_subscription", {
        "template_ids": ["tpl_a", "tpl_b", "tpl_c"],
        "results": {"tpl_a": "accept", "tpl_b": "reject", "tpl_c": "ban"}})
    assert answer.data == {"accepted": ["tpl_a"], "remaining": {"tpl_a": 1}}
    again = shopper.call("record_subscription", {"template_ids": ["tpl_a", "tpl_b"],
                                                 "results": {"tpl_a": "accept",
                                                             "tpl_b": "accept"}})
    assert again.data == {"accepted": ["tpl_a", "tpl_b"], "remaining": {"tpl_a": 2, "tpl_b": 1}}


def test_record_subscription_refuses_an_unknown_result_with_422(db: Any) -> None:
    answer = new_shopper().call("record_subscription", {"template_ids": ["tpl_a"],
                                                        "results": {"tpl_a": "maybe"}})
    assert answer.status == 422 and answer.code == "VALIDATION_ERROR"


def test_record_subscription_needs_a_logged_in_shopper(db: Any) -> None:
    from tests.conftest import call
    answer = call("record_subscription", {"template_ids": ["tpl_a"],
                                          "results": {"tpl_a": "accept"}})
    assert answer.status == 401


# ---- the outbox key ------------------------------------------------------------------------

def test_enqueuing_the_same_purpose_occasion_and_user_again_is_a_no_op(db: Any) -> None:
    add_user(db, "u1")
    assert queue(db, "u1") is True
    assert queue(db, "u1", now=T0 + timedelta(hours=5)) is False
    assert db.outbox.count_documents({}) == 1
    assert message(db, "u1")["created_at"] == T0
    assert queue(db, "u1", occasion="ord_2") is True  # another occasion is another message


# ---- sending -------------------------------------------------------------------------------

def test_a_send_posts_the_message_and_consumes_one_subscription(db: Any, wechat) -> None:
    add_user(db, "u1", subscriptions=2)
    queue(db, "u1")
    assert drain(db) == {"sent": 1}
    [body] = wechat.delivered()
    assert body == {"touser": "openid-u1", "template_id": TEMPLATE,
                    "page": "pages/order/detail?id=ord_1",
                    "data": {"thing1": {"value": "冰糖心苹果"},
                             "time2": {"value": "2026-11-20 10:00"}},
                    "miniprogram_state": "formal", "lang": "zh_CN"}
    assert wechat.sends[0]["token"] == "ACCESS_TOKEN_1"
    assert wechat.token_requests == [{"grant_type": "client_credential", "appid": APPID,
                                      "secret": SECRET, "force_refresh": False}]
    found = message(db, "u1")
    assert (found["status"], found["delivery"], found["sent_at"]) == ("sent", "wechat", T0)
    assert remaining(db, "u1") == 1


def test_the_access_token_is_cached_across_sends(db: Any, wechat) -> None:
    for n in range(3):
        add_user(db, f"u{n}")
        queue(db, f"u{n}")
    assert drain(db) == {"sent": 3}
    assert len(wechat.token_requests) == 1
    assert {s["token"] for s in wechat.sends} == {"ACCESS_TOKEN_1"}


def test_with_no_subscription_left_the_message_is_skipped_and_never_sent(db: Any, wechat) -> None:
    add_user(db, "u1", subscriptions=1)
    add_user(db, "u2", subscriptions=0)
    queue(db, "u1", "ord_1"), queue(db, "u1", "ord_2"), queue(db, "u2", "ord_1")
    assert drain(db) == {"sent": 1, "skipped": 2}
    assert len(wechat.sends) == 1
    skipped = [m for m in db.outbox.find({"status": "skipped"})]
    assert sorted((m["_id"], m["reason"]) for m in skipped) == [
        ("order:ord_1:u2", "no_subscription"), ("order:ord_2:u1", "no_subscription")]
    assert remaining(db, "u1") == 0


def test_43101_refused_by_wechat_is_skipped_not_retried(db: Any, wechat) -> None:
    add_user(db, "u1", subscriptions=2)
    queue(db, "u1")
    wechat.answer_next_sends_with(43101)
    assert drain(db) == {"skipped": 1}
    found = message(db, "u1")
    assert (found["status"], found["reason"]) == ("skipped", "user_refused")
    assert drain(db, T0 + timedelta(hours=1)) == {}
    assert len(wechat.sends) == 1


def test_40001_refreshes_the_token_once_and_sends_again(db: Any, wechat) -> None:
    add_user(db, "u1"), add_user(db, "u2")
    queue(db, "u1")
    assert drain(db) == {"sent": 1}
    wechat.revoke_all_tokens()  # e.g. another tool fetched a token in a mode that voids ours
    queue(db, "u2")
    assert drain(db) == {"sent": 1}
    assert [(s["token"], s["errcode"]) for s in wechat.sends] == [
        ("ACCESS_TOKEN_1", 0), ("ACCESS_TOKEN_1", 40001), ("ACCESS_TOKEN_2", 0)]
    assert [r["force_refresh"] for r in wechat.token_requests] == [False, True]
    assert db.wechat_tokens.find_one({})["token"] == "ACCESS_TOKEN_2"
    assert remaining(db, "u2") == 0


def test_40001_twice_is_not_refreshed_again_but_retried_later(db: Any, wechat) -> None:
    add_user(db, "u1")
    queue(db, "u1")
    wechat.answer_next_sends_with(40001, 40001)
    assert drain(db) == {"retry": 1}
    assert len(wechat.token_requests) == 2 and len(wechat.sends) == 2
    found = message(db, "u1")
    assert (found["status"], found["reason"], found["attempts"]) == \
        ("queued", "errcode:40001", 1)
    assert remaining(db, "u1") == 1  # given back: nothing was delivered


def test_45009_backs_off_then_dead_letters_after_the_last_attempt(db: Any, wechat) -> None:
    add_user(db, "u1")
    queue(db, "u1")
    wechat.answer_next_sends_with(45009, 45009, 45009)

    assert drain(db) == {"retry": 1}
    found = message(db, "u1")
    assert (found["status"], found["attempts"], found["reason"]) == \
        ("queued", 1, "errcode:45009")
    assert found["next_attempt_at"] == T0 + timedelta(seconds=30)
    assert remaining(db, "u1") == 1
    assert drain(db, T0 + timedelta(seconds=29)) == {}  # not before its time

    assert drain(db, T0 + timedelta(seconds=30)) == {"retry": 1}
    found = message(db, "u1")
    assert (found["attempts"], found["next_attempt_at"]) == \
        (2, T0 + timedelta(seconds=30 + 60))

    assert drain(db, T0 + timedelta(seconds=90)) == {"dead": 1}  # OUTBOX_MAX_ATTEMPTS=3
    found = message(db, "u1")
    assert (found["status"], found["attempts"], found["reason"]) == ("dead", 3, "errcode:45009")
    assert drain(db, T0 + timedelta(days=1)) == {}
    assert len(wechat.sends) == 3 and remaining(db, "u1") == 1


def test_a_transient_error_then_success_delivers_once(db: Any, wechat) -> None:
    add_user(db, "u1")
    queue(db, "u1")
    wechat.answer_next_sends_with(-1)  # system busy
    assert drain(db) == {"retry": 1}
    assert drain(db, T0 + timedelta(minutes=1)) == {"sent": 1}
    assert len(wechat.delivered()) == 1 and remaining(db, "u1") == 0


def test_in_quiet_hours_sends_wait_until_8_in_the_morning(db: Any, wechat) -> None:
    add_user(db, "u1")
    late = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)  # 22:30 in Beijing
    queue(db, "u1", now=late)
    assert drain(db, late) == {"deferred": 1}
    eight = datetime(2026, 11, 21, 0, 0, tzinfo=timezone.utc)  # 08:00 the next morning
    assert message(db, "u1")["next_attempt_at"] == eight
    assert drain(db, datetime(2026, 11, 20, 19, 0, tzinfo=timezone.utc)) == {}  # 03:00
    assert wechat.sends == [] and remaining(db, "u1") == 1
    assert drain(db, eight) == {"sent": 1}
    assert len(wechat.delivered()) == 1


def test_a_message_queued_after_midnight_waits_for_the_same_morning(db: Any, wechat) -> None:
    add_user(db, "u1")
    small_hours = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)  # 02:00 in Beijing
    queue(db, "u1", now=small_hours)
    assert drain(db, small_hours) == {"deferred": 1}
    assert message(db, "u1")["next_attempt_at"] == datetime(2026, 11, 21, 0, 0,
                                                            tzinfo=timezone.utc)


def test_two_drainers_at_once_never_send_one_message_twice(db: Any, wechat) -> None:
    users = [add_user(db, f"u{n:03d}", subscriptions=3) for n in range(120)]
    for user_id in users:
        queue(db, user_id)
    results = run_threads(2, lambda i: drain(db))
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r.get("sent", 0) for r in results) == 120
    touched = [body["touser"] for body in wechat.delivered()]
    assert len(touched) == 120 and len(set(touched)) == 120
    assert db.outbox.count_documents({"status": "sent"}) == 120
    assert all(remaining(db, user_id) == 2 for user_id in users)


def test_an_unexpected_answer_from_wechat_is_retried_not_counted_as_sent(
        db: Any, wechat, monkeypatch) -> None:
    import requests
    add_user(db, "u1")
    queue(db, "u1")

    class Odd:
        def json(self) -> Any:
            return None  # "null": not an answer

    real_post = requests.post
    monkeypatch.setattr(requests, "post", lambda url, **kw: Odd() if url.endswith(
        "/subscribe/send") else real_post(url, **kw))
    assert drain(db) == {"retry": 1}
    assert message(db, "u1")["status"] == "queued"


def test_the_merchant_lists_the_outbox_by_purpose(db: Any) -> None:
    from shared.messaging.outbox import enqueue
    from tests.conftest import merchant
    add_user(db, "u1")
    enqueue(db, "u1", "cart_reminder", "w1", T0, template_id="tpl_cart")
    enqueue(db, "u1", "birthday", "2026", T0 + timedelta(minutes=1), template_id="tpl_b")
    answer = merchant("merchant_list_outbox", {"purpose": "birthday"}).data
    assert answer["total"] == 1
    assert {k: answer["items"][0][k] for k in ("id", "user_id", "purpose", "status",
                                               "template_id")} == \
        {"id": "birthday:2026:u1", "user_id": "u1", "purpose": "birthday", "status": "queued",
         "template_id": "tpl_b"}
