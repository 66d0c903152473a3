"""Login (the dev sandbox and the real jscode2session client), the profile, the login limit."""
import json
import socket
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import call, new_shopper

# ---- the dev sandbox ------------------------------------------------------------------------

def test_same_dev_name_logs_in_as_the_same_user():
    first = call("login", {"code": "dev:alice"}).data
    second = call("login", {"code": "dev:alice"}).data

    assert first["user"]["id"] == second["user"]["id"]


def test_different_dev_names_are_different_users():
    alice = call("login", {"code": "dev:alice"}).data
    bob = call("login", {"code": "dev:bob"}).data

    assert alice["user"]["id"] != bob["user"]["id"]


def test_dev_login_names_the_new_user_after_the_dev_name():
    user = call("login", {"code": "dev:alice"}).data["user"]

    assert user["nickname"] == "alice"


def test_login_answers_a_token_that_opens_the_profile():
    data = call("login", {"code": "dev:alice"}).data

    profile = call("get_profile", token=data["token"]).data

    assert profile["id"] == data["user"]["id"]
    assert data["expires_in"] > 0


@pytest.mark.parametrize("code", ["abc123", "dev:", "dev:bad name", "dev:" + "x" * 33,
                                  "DEV:alice"])
def test_sandbox_refuses_a_code_that_is_not_dev_name_with_401(code):
    answer = call("login", {"code": code})

    assert (answer.status, answer.code) == (401, "INVALID_CODE")


def test_login_without_a_code_is_422():
    assert call("login", {}).status == 422




# ---- the real jscode2session client, against a loopback WeChat ------------------------------

class FakeWeChat:
    """jscode2session on 127.0.0.1: records each request, answers what the test set."""

    def __init__(self):
        self.requests = []
        self.answer = {"openid": "o_real_openid_1", "session_key": "real-session-key-abc=="}
        self.raw = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append(self.path)
                body = fake.raw if fake.raw is not None else json.dumps(fake.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _use_wechat(monkeypatch, base):
    from shared.core.config import reset_settings
    monkeypatch.setenv("WX_APPID", "wx1234567890abcdef")
    monkeypatch.setenv("WX_SECRET", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("WECHAT_API_BASE", base)
    monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    reset_settings()


@pytest.fixture
def wechat(monkeypatch):
    fake = FakeWeChat()
    _use_wechat(monkeypatch, fake.base)
    yield fake
    fake.close()


def test_login_sends_appid_secret_code_and_grant_type_to_jscode2session(wechat):
    call("login", {"code": "0a1b2c3d"})

    [path] = wechat.requests
    url = urlsplit(path)
    assert url.path == "/sns/jscode2session"
    assert parse_qs(url.query) == {"appid": ["wx1234567890abcdef"],
                                   "secret": ["0123456789abcdef0123456789abcdef"],
                                   "js_code": ["0a1b2c3d"], "grant_type": ["authorization_code"]}


def test_login_with_wechat_creates_the_user_of_the_openid(wechat, db):
    data = call("login", {"code": "0a1b2c3d"}).data

    stored = db.users.find_one({"_id": data["user"]["id"]})
    assert stored["openid"] == "o_real_openid_1"
    assert data["user"]["nickname"] == "微信用户"


def test_login_with_wechat_twice_is_the_same_user(wechat):
    first = call("login", {"code": "code-one"}).data
    second = call("login", {"code": "code-two"}).data

    assert first["user"]["id"] == second["user"]["id"]


def test_login_with_wechat_keeps_the_unionid(wechat, db):
    wechat.answer = {**wechat.answer, "unionid": "u_union_1"}

    data = call("login", {"code": "0a1b2c3d"}).data

    assert db.users.find_one({"_id": data["user"]["id"]})["unionid"] == "u_union_1"


def test_wechat_session_key_is_stored_but_never_returned(wechat, db):
    answer = call("login", {"code": "0a1b2c3d"})
    profile = call("get_profile", token=answer.data["token"])
    updated = call("update_profile", {"nickname": "小明"}, token=answer.data["token"])

    assert db.users.find_one({"_id": answer.data["user"]["id"]})["session_key"] == \
        "real-session-key-abc=="
    for body in (answer.body, profile.body, updated.body):
        text = json.dumps(body)
        assert "session_key" not in text and "real-session-key" not in text


def test_a_new_session_key_replaces_the_old_one(wechat, db):
    call("login", {"code": "first"})
    wechat.answer = {**wechat.answer, "session_key": "second-session-key=="}

    data = call("login", {"code": "second"}).data

    assert db.users.find_one({"_id": data["user"]["id"]})["session_key"] == \
        "second-session-key=="


@pytest.mark.parametrize("errcode, status, code", [
    (40029, 401, "INVALID_CODE"),
    (40163, 401, "INVALID_CODE"),
    (45011, 429, "RATE_LIMITED"),
    (40226, 403, "USER_BLOCKED"),
    (-1, 502, "UPSTREAM_ERROR"),
    (40001, 502, "UPSTREAM_ERROR"),
])
def test_wechat_errcodes_become_clear_errors(wechat, db, errcode, status, code):
    wechat.answer = {"errcode": errcode, "errmsg": "refused by the test"}

    answer = call("login", {"code": "0a1b2c3d"})

    assert (answer.status, answer.code) == (status, code)
    assert answer.body["error"]["details"]["errcode"] == errcode
    assert db.users.count_documents({}) == 0


def test_wechat_errcode_zero_with_a_session_is_a_success(wechat):
    wechat.answer = {**wechat.answer, "errcode": 0, "errmsg": "ok"}

    assert call("login", {"code": "0a1b2c3d"}).status == 200


@pytest.mark.parametrize("raw", [b"<html>502 Bad Gateway</html>", b"[1, 2]",
                                 b'{"errcode": 0}', b'{"openid": "o1"}'])
def test_a_wechat_answer_without_a_session_is_502(wechat, raw):
    wechat.raw = raw

    answer = call("login", {"code": "0a1b2c3d"})

    assert (answer.status, answer.code) == (502, "UPSTREAM_ERROR")


def test_unreachable_wechat_is_502(monkeypatch):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _use_wechat(monkeypatch, f"http://127.0.0.1:{port}")

    answer = call("login", {"code": "0a1b2c3d"})

    assert (answer.status, answer.code) == (502, "UPSTREAM_ERROR")


def test_with_wechat_configured_dev_codes_go_to_wechat_too(wechat):
    wechat.answer = {"errcode": 40029, "errmsg": "invalid code"}

    answer = call("login", {"code": "dev:alice"})

    assert answer.code == "INVALID_CODE"
    assert len(wechat.requests) == 1


# ---- the profile ----------------------------------------------------------------------------

@pytest.fixture
def shopper():
    return new_shopper()


def test_update_profile_changes_the_given_fields(shopper):
    updated = shopper.call("update_profile", {"nickname": "小明", "phone": "13912345678",
                                              "birthday": "1990-05-17",
                                              "avatar_url": "https://img.test/a.png"}).data

    assert {k: updated[k] for k in ("nickname", "phone", "birthday", "avatar_url")} == \
        {"nickname": "小明", "phone": "13912345678", "birthday": "1990-05-17",
         "avatar_url": "https://img.test/a.png"}
    assert shopper.call("get_profile").data == updated


def test_update_profile_leaves_other_fields_alone(shopper):
    shopper.call("update_profile", {"nickname": "小明", "phone": "13912345678"})

    updated = shopper.call("update_profile", {"nickname": "大明"}).data

    assert (updated["nickname"], updated["phone"]) == ("大明", "13912345678")


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "139123456789", "+8613912345678",
                                   "139-1234-5678"])
def test_update_profile_refuses_an_invalid_phone_with_422(shopper, phone):
    answer = shopper.call("update_profile", {"phone": phone})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert [f["field"] for f in answer.body["error"]["details"]["fields"]] == ["phone"]


def test_update_profile_refuses_a_birthday_in_the_future_with_422(shopper):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()

    answer = shopper.call("update_profile", {"birthday": tomorrow})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert answer.body["error"]["details"]["fields"][0]["field"] == "birthday"


@pytest.mark.parametrize("birthday", ["1899-12-31", "1990-02-30", "not a date"])
def test_update_profile_refuses_an_impossible_birthday_with_422(shopper, birthday):
    assert shopper.call("update_profile", {"birthday": birthday}).status == 422


@pytest.mark.parametrize("nickname", ["", "   ", "名" * 33])
def test_update_profile_refuses_a_nickname_empty_or_over_32_characters(shopper, nickname):
    answer = shopper.call("update_profile", {"nickname": nickname})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_update_profile_accepts_a_nickname_of_32_characters(shopper):
    assert shopper.call("update_profile", {"nickname": "名" * 32}).data["nickname"] == "名" * 32


def test_update_profile_refuses_an_avatar_that_is_not_a_url(shopper):
    assert shopper.call("update_profile", {"avatar_url": "javascript:alert(1)"}).status == 422


def test_update_profile_refuses_null_fields_with_422(shopper):
    answer = shopper.call("update_profile", {"nickname": None})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_update_profile_refuses_fields_it_does_not_know_with_422(shopper):
    answer = shopper.call("update_profile", {"openid": "o_someone_else"})

    assert answer.status == 422
