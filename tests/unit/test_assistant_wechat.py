"""The WeChat customer-service channel (issue 18): GET|POST /wechat/message through the HTTP
gateway, answered against a WeChat double on loopback (stable_token, message/custom/send).

The double plays WeChat's side both ways: it signs and (in safe mode) encrypts its pushes the
way WeChat's WXBizMsgCrypt does, independently of the shop's code, and records the custom
messages the shop sends back."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
from typing import Any, Iterator, Optional
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import merchant
from tests.helpers import serve_json

APPID, SECRET = "wx_test_appid", "wx-test-secret"
TOKEN = "msgtoken123"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")   # 43 characters
OPENID = "o_shopper_openid_1"


class WeChatDouble:
    """stable_token and message/custom/send, with what they were asked recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []
        self.tokens = 0
        self.errcodes: list[int] = []

    def handle(self, path: str, query: dict[str, list[str]], body: dict[str, Any]) \
            -> dict[str, Any]:
        with self.lock:
            if path == "/cgi-bin/stable_token":
                self.tokens += 1
                return {"access_token": f"TOKEN_{self.tokens}", "expires_in": 7200}
            if path == "/cgi-bin/message/custom/send":
                errcode = self.errcodes.pop(0) if self.errcodes else 0
                self.sent.append({"token": query.get("access_token", [""])[0], "body": body,
                                  "errcode": errcode})
                return {"errcode": errcode, "errmsg": "ok" if errcode == 0 else "refused"}
        return {"errcode": 404}

    def texts(self) -> list[str]:
        return [s["body"]["text"]["content"] for s in self.sent if s["errcode"] == 0]


@pytest.fixture
def wechat(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeChatDouble]:
    from shared.core.config import reset_settings
    double = WeChatDouble()

    with serve_json(lambda path, query, body: double.handle(path, query, body)) as base:
        for name, value in {"WX_APPID": APPID, "WX_SECRET": SECRET, "WX_MESSAGE_TOKEN": TOKEN,
                            "WX_MESSAGE_AES_KEY": AES_KEY, "WECHAT_API_BASE": base}.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        from shared.demo.seed import seed
        seed(db)
        yield double


# ---- WeChat's side, written from its documentation -----------------------------------------

def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _wechat_encrypt(message: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = base64.b64decode(AES_KEY + "=")
    raw = message.encode()
    plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + APPID.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def _wechat_decrypt(encrypted: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = base64.b64decode(AES_KEY + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    plain = plain[:-plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    assert plain[20 + length:].decode() == APPID
    return plain[20:20 + length].decode()


def text_message(text: str, msg_id: str, openid: str = OPENID) -> dict[str, Any]:
    return {"ToUserName": "gh_shop", "FromUserName": openid, "CreateTime": 1764700000,
            "MsgType": "text", "Content": text, "MsgId": msg_id}


def push(gateway: str, message: dict[str, Any], safe: bool = True,
         token: str = TOKEN) -> requests.Response:
    timestamp, nonce = "1764700000", "nonce42"
    query = {"signature": _sha1(token, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, "openid": message["FromUserName"]}
    if safe:
        encrypted = _wechat_encrypt(json.dumps(message, ensure_ascii=False))
        query.update(encrypt_type="aes", msg_signature=_sha1(token, timestamp, nonce, encrypted))
        body: dict[str, Any] = {"ToUserName": "gh_shop", "Encrypt": encrypted}
    else:
        body = message
    return requests.post(f"{gateway}/wechat/message?{urlencode(query)}",
                         data=json.dumps(body, ensure_ascii=False).encode(), timeout=10)


def drain() -> dict[str, Any]:
    return dict(merchant("dev_run_timer", {"name": "assistant_inbox"}).data["result"])


# ---- URL verification ---------------------------------------------------------------------

def test_url_verification_echoes_echostr_when_signed_by_the_token(
        gateway: str, wechat: WeChatDouble) -> None:
    query = {"signature": _sha1(TOKEN, "1700000000", "n1"), "timestamp": "1700000000",
             "nonce": "n1", "echostr": "echo-123"}
    answer = requests.get(f"{gateway}/wechat/message", params=query, timeout=10)
    assert (answer.status_code, answer.text) == (200, "echo-123")
    query["signature"] = _sha1("another-token", "1700000000", "n1")
    forged = requests.get(f"{gateway}/wechat/message", params=query, timeout=10)
    assert forged.status_code == 401 and "echo-123" not in forged.text


# ---- messages -------------------------------------------------------------------------------

def test_a_safe_mode_message_is_answered_success_then_by_custom_send(
        gateway: str, wechat: WeChatDouble) -> None:
    answer = push(gateway, text_message("包邮吗", "m-1"))
    assert (answer.status_code, answer.text) == (200, "success")
    assert wechat.sent == []          # nothing sent before WeChat had its answer
    assert drain()["outcomes"] == {"sent": 1}
    assert len(wechat.sent) == 1
    assert wechat.sent[0]["body"]["touser"] == OPENID
    assert "59元" in wechat.texts()[0]


def test_a_message_pushed_again_is_answered_once(gateway: str, wechat: WeChatDouble) -> None:
    for _ in range(3):
        assert push(gateway, text_message("运费怎么算", "m-dup")).text == "success"
    drain()
    drain()
    assert len(wechat.sent) == 1


def test_a_plain_mode_message_is_taken_too(gateway: str, wechat: WeChatDouble) -> None:
    assert push(gateway, text_message("可以开发票吗", "m-plain"), safe=False).text == "success"
    drain()
    assert "发票" in wechat.texts()[0]


def test_a_push_signed_with_another_token_is_refused(gateway: str, wechat: WeChatDouble) -> None:
    answer = push(gateway, text_message("包邮吗", "m-forged"), token="another-token")
    assert answer.status_code == 401
    assert drain()["due"] == 0 and wechat.sent == []


def test_a_tampered_encrypt_is_refused(gateway: str, wechat: WeChatDouble) -> None:
    timestamp, nonce = "1764700000", "n2"
    encrypted = _wechat_encrypt(json.dumps(text_message("包邮吗", "m-t")))
    query = {"signature": _sha1(TOKEN, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": _sha1(TOKEN, timestamp, nonce, encrypted)}
    tampered = ("B" if encrypted[0] == "A" else "A") + encrypted[1:]
    body = json.dumps({"ToUserName": "gh_shop", "Encrypt": tampered})
    answer = requests.post(f"{gateway}/wechat/message?{urlencode(query)}", data=body,
                           timeout=10)
    assert answer.status_code == 400


def test_handoff_transfers_to_customer_service_and_queues_the_conversation(
        gateway: str, wechat: WeChatDouble) -> None:
    answer = push(gateway, text_message("转人工", "m-h"))
    reply = answer.json()
    inner = json.loads(_wechat_decrypt(reply["Encrypt"]))
    assert inner["MsgType"] == "transfer_customer_service" and inner["ToUserName"] == OPENID
    assert reply["MsgSignature"] == _sha1(TOKEN, reply["TimeStamp"], reply["Nonce"],
                                          reply["Encrypt"])
    queue = merchant("merchant_list_conversations", {"status": "waiting"}).data["items"]
    assert [(c["channel"], c["status"]) for c in queue] == [("wechat", "waiting")]
    # the merchant's reply goes back through custom/send, within WeChat's window
    sent = merchant("merchant_reply", {"conversation_id": queue[0]["id"],
                                       "text": "您好，人工客服为您服务"}).data
    assert sent["delivered"] == "sent"
    assert wechat.texts() == ["您好，人工客服为您服务"]


def test_the_window_allows_five_messages_per_shopper_message(
        gateway: str, wechat: WeChatDouble) -> None:
    push(gateway, text_message("转人工", "m-w"))
    conversation = merchant("merchant_list_conversations", {}).data["items"][0]["id"]
    outcomes = [merchant("merchant_reply", {"conversation_id": conversation,
                                            "text": f"第{n}条"}).data["delivered"]
                for n in range(6)]
    assert outcomes == ["sent"] * 5 + ["window_closed"]


def test_a_shopper_known_by_openid_gets_their_own_orders_only(
        gateway: str, wechat: WeChatDouble, db: Any) -> None:
    from shared.core.common import utcnow
    now = utcnow()
    db.users.insert_one({"_id": "usr_wx", "openid": OPENID, "created_at": now})
    db.orders.insert_one({"_id": "ord_mine", "user_id": "usr_wx", "status": "shipped",
                          "items": [{"title": "不锈钢保温杯"}], "created_at": now,
                          "shipment": {"carrier": "SF", "tracking_no": "SFWX123"}})
    db.orders.insert_one({"_id": "ord_theirs", "user_id": "usr_other", "status": "shipped",
                          "items": [{"title": "西湖龙井"}], "created_at": now,
                          "shipment": {"carrier": "SF", "tracking_no": "SFOTHER9"}})
    push(gateway, text_message("我的订单到哪了", "m-o"))
    drain()
    text = wechat.texts()[0]
    assert "SFWX123" in text and "SFOTHER9" not in text


def test_a_send_refused_for_now_is_retried_by_the_timer(
        gateway: str, wechat: WeChatDouble) -> None:
    wechat.errcodes = [-1]    # system busy
    push(gateway, text_message("包邮吗", "m-r"))
    assert drain()["outcomes"] == {"errcode:-1": 1}
    assert drain()["outcomes"] == {"sent": 1}
    assert len(wechat.texts()) == 1


def test_without_a_token_configured_the_route_is_not_there(
        gateway: str, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.delenv("WX_MESSAGE_TOKEN", raising=False)
    reset_settings()
    answer: Optional[requests.Response] = requests.get(f"{gateway}/wechat/message", timeout=10)
    assert answer is not None and answer.status_code == 404


def test_a_bad_encoding_aes_key_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import ConfigError, get_settings, reset_settings
    monkeypatch.setenv("WX_MESSAGE_AES_KEY", "too-short")
    reset_settings()
    with pytest.raises(ConfigError, match="WX_MESSAGE_AES_KEY"):
        get_settings()


def test_erasing_the_account_erases_its_wechat_conversations_and_messages(
        gateway: str, wechat: WeChatDouble, db: Any) -> None:
    from shared.assistant.conversations import erase_user
    from shared.core.common import utcnow
    db.users.insert_one({"_id": "usr_wx_gone", "openid": "o_gone", "created_at": utcnow()})
    push(gateway, text_message("转人工", "m-erase", openid="o_gone"))
    assert db.assistant_inbox.count_documents({"openid": "o_gone"}) == 1
    assert erase_user(db, "usr_wx_gone") == 1     # the hook delete_account runs
    assert db.assistant_sessions.count_documents({"openid": "o_gone"}) == 0
    assert db.assistant_inbox.count_documents({"openid": "o_gone"}) == 0
