"""Self-tests of the WeChat Pay v3 double (tests/wxpay_double.py).

Everything the shop would do is done here by hand, straight from the spec, with `cryptography`:
sign requests with the merchant key read from the written PEM file, verify responses and
notifies with the WeChat Pay public key read from its PEM file, decrypt with the APIv3 key."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.wxpay_double import WxPayDouble

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WxPayDouble]:
    d = WxPayDouble()
    d.env = d.write_files(tmp_path_factory.mktemp("wxpay"))  # type: ignore[attr-defined]
    with d:
        yield d


@pytest.fixture
def env(double: WxPayDouble) -> Dict[str, str]:
    double.refund_immediate_status = "PROCESSING"
    double.drop_notifies = False
    double.response_forgery = None
    return double.env  # type: ignore[attr-defined]


def _merchant_key(env: Dict[str, str]) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(env["WXPAY_PRIVATE_KEY_PATH"]).read_bytes(),
                                             password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _platform_pub(env: Dict[str, str]) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(Path(env["WXPAY_PUBLIC_KEY_PATH"]).read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _call(env: Dict[str, str], method: str, url: str, payload: Any = None, *,
          key: Any = None, timestamp: Any = None, serial: Any = None,
          body_override: Any = None) -> requests.Response:
    """A merchant request signed by hand (WECHATPAY2-SHA256-RSA2048)."""
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    message = f"{method}\n{url}\n{ts}\n{nonce}\n{body}\n".encode("utf-8")
    signer = key or _merchant_key(env)
    signature = base64.b64encode(signer.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    auth = (f'WECHATPAY2-SHA256-RSA2048 mchid="{env["WXPAY_MCHID"]}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{ts}",'
            f'serial_no="{serial or env["WXPAY_CERT_SERIAL_NO"]}"')
    headers = {"Authorization": auth, "Accept": "application/json",
               "Content-Type": "application/json", "User-Agent": "shop-test"}
    data = (body_override if body_override is not None else body).encode("utf-8")
    return requests.request(method, env["WXPAY_API_BASE"] + url, data=data or None,
                            headers=headers, timeout=5)


def _response_verifies(env: Dict[str, str], resp: requests.Response) -> bool:
    h = resp.headers
    if h.get("Wechatpay-Serial") != env["WXPAY_PUBLIC_KEY_ID"]:
        return False
    message = (f"{h['Wechatpay-Timestamp']}\n{h['Wechatpay-Nonce']}\n".encode()
               + resp.content + b"\n")
    try:
        _platform_pub(env).verify(base64.b64decode(h["Wechatpay-Signature"]), message,
                                  padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def _expire(minutes: int = 15) -> str:
    return (datetime.now(timezone(timedelta(hours=8))) + timedelta(minutes=minutes)) \
        .replace(microsecond=0).isoformat()


def _prepay(env: Dict[str, str], out_trade_no: str, total: int = 100,
            notify_url: str = "http://127.0.0.1:9/pay/notify") -> requests.Response:
    return _call(env, "POST", "/v3/pay/transactions/jsapi", {
        "appid": env["WX_APPID"], "mchid": env["WXPAY_MCHID"], "description": "测试商品",
        "out_trade_no": out_trade_no, "notify_url": notify_url, "time_expire": _expire(),
        "amount": {"total": total, "currency": "CNY"}, "payer": {"openid": OPENID},
    })


def _otn() -> str:
    return "T" + secrets.token_hex(8)


def test_env_and_files(double: WxPayDouble, env: Dict[str, str]) -> None:
    assert set(env) == {"WXPAY_MCHID", "WXPAY_CERT_SERIAL_NO", "WXPAY_PRIVATE_KEY_PATH",
                        "WXPAY_APIV3_KEY", "WXPAY_PUBLIC_KEY_ID", "WXPAY_PUBLIC_KEY_PATH",
                        "WXPAY_API_BASE", "WX_APPID"}
    assert env["WXPAY_MCHID"] == "1230000109" and env["WX_APPID"] == "wxd678efh567hg6787"
    assert len(env["WXPAY_CERT_SERIAL_NO"]) == 40
    int(env["WXPAY_CERT_SERIAL_NO"], 16)
    assert len(env["WXPAY_APIV3_KEY"]) == 32 and env["WXPAY_APIV3_KEY"].isascii()
    assert env["WXPAY_PUBLIC_KEY_ID"].startswith("PUB_KEY_ID_")
    assert env["WXPAY_PUBLIC_KEY_ID"][len("PUB_KEY_ID_"):].isdigit()
    assert b"BEGIN PRIVATE KEY" in Path(env["WXPAY_PRIVATE_KEY_PATH"]).read_bytes()
    assert _merchant_key(env).key_size == 2048 and _platform_pub(env).key_size == 2048


def test_hand_signed_request_passes_and_response_is_signed(double: WxPayDouble,
                                                           env: Dict[str, str]) -> None:
    otn = _otn()
    resp = _prepay(env, otn)
    assert resp.status_code == 200, resp.text
    assert resp.json()["prepay_id"].startswith("wx")
    assert _response_verifies(env, resp)
    rec = double.requests[-1]
    assert rec.signature_ok and rec.method == "POST" and rec.path == "/v3/pay/transactions/jsapi"

    q = _call(env, "GET", f"/v3/pay/transactions/out-trade-no/{otn}?mchid={env['WXPAY_MCHID']}")
    assert q.status_code == 200 and _response_verifies(env, q)
    assert q.json()["trade_state"] == "NOTPAY" and q.json()["amount"]["total"] == 100

    # a second prepay with the same amount gives a new prepay_id; another amount is refused
    again = _prepay(env, otn)
    assert again.status_code == 200 and again.json()["prepay_id"] != resp.json()["prepay_id"]
    other = _prepay(env, otn, total=101)
    assert other.status_code == 400 and other.json()["code"] == "PARAM_ERROR"


@pytest.mark.parametrize("forgery", ["other_key", "stale", "wrong_serial", "tampered_body"])
def test_wrong_signature_gets_401(double: WxPayDouble, env: Dict[str, str], forgery: str) -> None:
    payload = {"mchid": env["WXPAY_MCHID"]}
    kwargs: Dict[str, Any] = {}
    if forgery == "other_key":
        kwargs["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif forgery == "stale":
        kwargs["timestamp"] = int(time.time()) - 301
    elif forgery == "wrong_serial":
        kwargs["serial"] = "0" * 40
    else:
        kwargs["body_override"] = json.dumps({"mchid": "1900000000"})
    resp = _call(env, "POST", "/v3/pay/transactions/out-trade-no/T123456/close", payload,
                 **kwargs)
    assert resp.status_code == 401
    assert resp.json()["code"] == "SIGN_ERROR"
    assert double.requests[-1].signature_ok is False


def test_unsigned_request_gets_401(env: Dict[str, str]) -> None:
    resp = requests.get(env["WXPAY_API_BASE"] + "/v3/refund/domestic/refunds/R1", timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "SIGN_ERROR"


def _decrypt(env: Dict[str, str], body: bytes) -> Dict[str, Any]:
    res = json.loads(body)["resource"]
    plain = AESGCM(env["WXPAY_APIV3_KEY"].encode()).decrypt(
        res["nonce"].encode(), base64.b64decode(res["ciphertext"]),
        res["associated_data"].encode())
    return json.loads(plain)


def _notify_verifies(env: Dict[str, str], headers: Dict[str, str], body: bytes) -> bool:
    if headers["Wechatpay-Serial"] != env["WXPAY_PUBLIC_KEY_ID"]:
        return False
    if abs(time.time() - int(headers["Wechatpay-Timestamp"])) > 300:
        return False
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() \
        + body + b"\n"
    try:
        _platform_pub(env).verify(base64.b64decode(headers["Wechatpay-Signature"]), message,
                                  padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def test_notify_decrypts_and_verifies(double: WxPayDouble, env: Dict[str, str]) -> None:
    otn = _otn()
    assert _prepay(env, otn, total=2990).status_code == 200
    headers, body = double.pay(otn, notify=False)
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert _notify_verifies(env, headers, body)
    envelope = json.loads(body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    plain = _decrypt(env, body)
    assert plain == double.transaction_resource(otn)
    assert plain["trade_state"] == "SUCCESS" and plain["out_trade_no"] == otn
    assert plain["amount"]["total"] == 2990 and plain["mchid"] == env["WXPAY_MCHID"]
    assert plain["appid"] == env["WX_APPID"] and plain["payer"]["openid"] == OPENID

    q = _call(env, "GET", f"/v3/pay/transactions/out-trade-no/{otn}?mchid={env['WXPAY_MCHID']}")
    assert q.json()["trade_state"] == "SUCCESS"
    assert q.json()["transaction_id"] == plain["transaction_id"]
    assert _prepay(env, otn, total=2990).json()["code"] == "ORDERPAID"

    # forgeries: each one fails the check it is meant to fail
    res = double.transaction_resource(otn)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not _notify_verifies(env, *double.build_notify("TRANSACTION.SUCCESS", res,
                                                          "transaction", sign_with=other))
    assert not _notify_verifies(env, *double.build_notify("TRANSACTION.SUCCESS", res,
                                                          "transaction", tamper=True))
    assert not _notify_verifies(env, *double.build_notify("TRANSACTION.SUCCESS", res,
                                                          "transaction", serial="PUB_KEY_ID_1"))
    assert not _notify_verifies(env, *double.build_notify(
        "TRANSACTION.SUCCESS", res, "transaction", timestamp=int(time.time()) - 600))
    h, b = double.build_notify("TRANSACTION.SUCCESS", res, "transaction",
                               apiv3_key="x" * 32)
    assert _notify_verifies(env, h, b)
    with pytest.raises(InvalidTag):
        _decrypt(env, b)


def test_notify_is_posted_to_notify_url(double: WxPayDouble, env: Dict[str, str]) -> None:
    received: List[Tuple[Dict[str, str], bytes]] = []

    @Request.application
    def app(req: Request) -> Response:
        received.append((dict(req.headers), req.get_data()))
        return Response(status=204)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    try:
        otn = _otn()
        _prepay(env, otn, notify_url=f"http://127.0.0.1:{server.server_port}/pay/notify")
        headers, body = double.pay(otn)
        assert double.notifies[-1].status_code == 204
        assert received and received[-1][1] == body
        assert received[-1][0]["Wechatpay-Signature"] == headers["Wechatpay-Signature"]
        double.drop_notifies = True
        double.pay(otn)  # a duplicate notify, dropped
        assert len(received) == 1 and double.notifies[-1].error == "dropped"
    finally:
        server.shutdown()
        server.server_close()


def test_refund_over_limit_gets_not_enough(double: WxPayDouble, env: Dict[str, str]) -> None:
    otn = _otn()
    _prepay(env, otn, total=100)
    double.pay(otn, notify=False)

    def refund(no: str, amt: int, total: int = 100) -> requests.Response:
        return _call(env, "POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": otn, "out_refund_no": no, "reason": "售后",
            "notify_url": "http://127.0.0.1:9/pay/refund-notify",
            "amount": {"refund": amt, "total": total, "currency": "CNY"}})

    first = refund(otn + "R1", 60)
    assert first.status_code == 200 and _response_verifies(env, first)
    assert first.json()["status"] == "PROCESSING" and first.json()["amount"]["refund"] == 60
    same = refund(otn + "R1", 60)  # idempotent by out_refund_no
    assert same.status_code == 200 and same.json()["refund_id"] == first.json()["refund_id"]
    over = refund(otn + "R2", 50)
    assert over.status_code == 403 and over.json()["code"] == "NOT_ENOUGH"
    assert refund(otn + "R3", 10, total=99).json()["code"] == "PARAM_ERROR"
    assert refund(otn + "R4", 40).status_code == 200

    headers, body = double.finish_refund(otn + "R1", "SUCCESS", notify=False)
    assert _notify_verifies(env, headers, body)
    assert json.loads(body)["event_type"] == "REFUND.SUCCESS"
    plain = _decrypt(env, body)
    assert plain["refund_status"] == "SUCCESS" and plain["out_refund_no"] == otn + "R1"
    q = _call(env, "GET", f"/v3/refund/domestic/refunds/{otn}R1")
    assert q.json()["status"] == "SUCCESS"
    tq = _call(env, "GET", f"/v3/pay/transactions/out-trade-no/{otn}?mchid={env['WXPAY_MCHID']}")
    assert tq.json()["trade_state"] == "REFUND"


def test_close_unknown_and_fail_next(double: WxPayDouble, env: Dict[str, str]) -> None:
    otn = _otn()
    _prepay(env, otn)
    close = _call(env, "POST", f"/v3/pay/transactions/out-trade-no/{otn}/close",
                  {"mchid": env["WXPAY_MCHID"]})
    assert close.status_code == 204 and close.content == b"" and _response_verifies(env, close)
    missing = _call(env, "GET",
                    f"/v3/pay/transactions/out-trade-no/NOPE12345?mchid={env['WXPAY_MCHID']}")
    assert missing.status_code == 404 and missing.json()["code"] == "ORDER_NOT_EXIST"

    double.fail_next("/v3/pay/transactions/out-trade-no/", 500, "SYSTEM_ERROR")
    url = f"/v3/pay/transactions/out-trade-no/{otn}?mchid={env['WXPAY_MCHID']}"
    failed = _call(env, "GET", url)
    assert failed.status_code == 500 and failed.json()["code"] == "SYSTEM_ERROR"
    ok = _call(env, "GET", url)
    assert ok.status_code == 200 and ok.json()["trade_state"] == "CLOSED"


def test_pay_sign_verification(double: WxPayDouble, env: Dict[str, str]) -> None:
    ts, nonce, package = str(int(time.time())), secrets.token_hex(16), "prepay_id=wx123"
    message = f"{env['WX_APPID']}\n{ts}\n{nonce}\n{package}\n".encode()
    pay_sign = base64.b64encode(_merchant_key(env).sign(message, padding.PKCS1v15(),
                                                        hashes.SHA256())).decode()
    assert double.verify_pay_sign(env["WX_APPID"], ts, nonce, package, pay_sign)
    assert not double.verify_pay_sign(env["WX_APPID"], ts, nonce, "prepay_id=wx124", pay_sign)


def test_response_forgery_lever(double: WxPayDouble, env: Dict[str, str]) -> None:
    url = f"/v3/pay/transactions/out-trade-no/NOPE12345?mchid={env['WXPAY_MCHID']}"
    for forgery in ("bad_signature", "tamper", "wrong_serial"):
        double.response_forgery = forgery
        assert not _response_verifies(env, _call(env, "GET", url)), forgery
    double.response_forgery = None
    assert _response_verifies(env, _call(env, "GET", url))
