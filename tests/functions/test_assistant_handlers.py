"""The assistant's functions fed real event shapes through their main_handler: assistant_ask by
callFunction (anonymous, with a token, with a trusted CloudBase identity), wechat_message by
its own Function URL (GET verification, POST push), the assistant timers by a timer event; and
the database round trips of a warm assistant_ask."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.conftest import load_event, new_shopper
from tests.functions.test_handlers import invoke
from tests.roundtrips import count_round_trips


@pytest.fixture
def shop(db: Any) -> Any:
    from shared.demo.seed import seed
    seed(db)
    return db


def test_callfunction_assistant_ask_anonymous_and_with_a_token(shop: Any) -> None:
    anonymous = invoke("assistant_ask", {"message": "我的订单到哪了"})
    assert anonymous["ok"] is True and anonymous["data"]["orders"] == []
    shopper = new_shopper("cf-asker")
    answer = invoke("assistant_ask", {"message": "有没有保温杯", "_token": shopper.token})
    assert answer["data"]["products"][0]["id"] == "prd_026"
    doc = shop.assistant_sessions.find_one({"_id": answer["data"]["session_id"]})
    assert doc["user_id"] == shopper.user_id


def test_callfunction_assistant_ask_knows_a_trusted_cloudbase_caller(
        shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("TRUST_CLOUDBASE_IDENTITY", "1")
    reset_settings()
    cloud = load_event("callfunction_get_profile.json")
    answer = invoke("assistant_ask", {"userInfo": cloud["userInfo"], "message": "转人工"})
    assert answer["ok"] is True and answer["data"]["handoff"] is True
    user = shop.users.find_one({"openid": cloud["userInfo"]["openId"]})
    doc = shop.assistant_sessions.find_one({"_id": answer["data"]["session_id"]})
    assert doc["user_id"] == user["_id"]


def _function_url_event(method: str, query: dict[str, str], body: str = "") -> dict[str, Any]:
    return {"httpMethod": method, "path": "/", "headers": {"content-type": "application/json",
                                                           "x-scf-remote-addr": "1.2.3.4"},
            "queryString": query, "body": body, "isBase64Encoded": False}


def test_wechat_message_function_url_verifies_and_takes_a_plain_push(
        shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("WX_MESSAGE_TOKEN", "fntoken1")
    reset_settings()
    signature = hashlib.sha1("".join(sorted(["fntoken1", "17", "n"])).encode()).hexdigest()
    query = {"signature": signature, "timestamp": "17", "nonce": "n"}
    verify = invoke("wechat_message", _function_url_event("GET", {**query, "echostr": "e1"}))
    assert (verify["statusCode"], verify["body"]) == (200, "e1")
    message = {"ToUserName": "gh", "FromUserName": "o_fn", "CreateTime": 17,
               "MsgType": "text", "Content": "包邮吗", "MsgId": "fn-1"}
    pushed = invoke("wechat_message", _function_url_event("POST", query, json.dumps(message)))
    assert (pushed["statusCode"], pushed["body"]) == (200, "success")
    assert shop.assistant_inbox.find_one({"_id": "msg:fn-1"})["status"] == "to_send"


def test_the_assistant_timers_run_from_a_timer_event(shop: Any) -> None:
    for name in ("assistant_purge", "assistant_inbox"):
        answer = invoke(name, load_event("timer_order_timeout.json", TriggerName=name))
        assert answer["ok"] is True, answer


def test_a_warm_question_in_a_session_costs_two_round_trips(shop: Any) -> None:
    from shared.core.dispatch import Credentials, dispatch
    with count_round_trips():   # the counting handle stays: build the index on it
        first = dispatch("assistant_ask", {"message": "包邮吗"}, Credentials()).envelope["data"]
    with count_round_trips() as trips:
        dispatch("assistant_ask", {"message": "运费怎么算", "session_id": first["session_id"]},
                 Credentials())
    # the session read, the session written (the index and its versions are warm)
    assert trips.ops == [("assistant_sessions", "find_one"),
                         ("assistant_sessions", "update_one")]
