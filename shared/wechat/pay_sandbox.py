"""A loopback WeChat Pay for dev and tests: real keys, real signatures, real encryption.

It makes its own merchant key, WeChat Pay (platform) key and APIv3 key, listens on
127.0.0.1, checks every request's merchant signature, signs every answer, and sends genuinely
signed, encrypted notifies back to the shop. The shop's code cannot tell it from WeChat Pay;
production refuses it (see ``get_pay_client``).

Notifies to a real URL are POSTed over HTTP. Those to the shop's default URLs, on the reserved
``.invalid`` domain, go to the sandbox's ``deliver`` callable (url, headers, body -> HTTP
status), which the shop hands over (``shared.core.http.deliver_in_process``: into the app
in-process); an adapter never imports the app itself.

Refunds: like WeChat Pay, the sandbox answers ``PROCESSING`` and finishes the refund a moment
later on its own thread (the default; the dev gateway runs so). With ``sync_refunds`` (tests)
the refund finishes in the call that asked for it: its REFUND.SUCCESS notify is delivered just
before the answer goes back, so a caller finds the refund landed when its request returns, and
the shop sees the notify before the answer (it must take them in either order anyway).
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from shared.core.config import Settings
from shared.core.log import get_logger, log_event
from shared.wechat.pay_crypto import PayConfig, nonce, rfc3339, rsa_sign, rsa_verify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from werkzeug.serving import BaseWSGIServer

logger = get_logger("shop.wxpay.sandbox")

Deliver = Callable[[str, dict[str, str], bytes], int]
"""How a notify reaches the shop: (url, headers, body) -> the HTTP status it answered."""
Answer = tuple[int, Optional[dict[str, Any]]]
StartResponse = Callable[..., Any]

_AUTH = re.compile(r'(\w+)="([^"]*)"')


def _new_key() -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class PaySandbox:
    def __init__(self, appid: str, deliver: Optional[Deliver] = None,
                 sync_refunds: bool = False) -> None:
        self.appid = appid
        self.deliver = deliver
        self.sync_refunds = sync_refunds
        self.mchid = "1900000001"
        self.serial_no = secrets.token_hex(20).upper()
        self.merchant_key = _new_key()
        self.platform_key = _new_key()
        self.public_key_id = "PUB_KEY_ID_" + "".join(secrets.choice("0123456789")
                                                    for _ in range(30))
        self.apiv3_key = secrets.token_hex(16).encode()
        self.transactions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.base_url = ""
        self._server: Optional[BaseWSGIServer] = None

    # ---- the HTTP server -------------------------------------------------------------------

    def start(self) -> None:
        from werkzeug.serving import make_server
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True, name="wxpay-sandbox").start()

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        from werkzeug.wrappers import Request
        request = Request(environ)
        body = request.get_data()
        path = request.full_path.rstrip("?")
        if not self._authorised(request.method, path, body, request.headers.get("Authorization")):
            return self._answer(start_response, 401, {"code": "SIGN_ERROR",
                                                      "message": "签名错误"})
        due: list[str] = []
        status, payload = self._route(request.method, request.path, request.args, body, due)
        for out_refund_no in due:  # sync_refunds: the refund asked for lands before the answer
            self.finish_refund(out_refund_no)
        return self._answer(start_response, status, payload)

    def _authorised(self, method: str, path: str, body: bytes, header: Optional[str]) -> bool:
        if not header or not header.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        fields = dict(_AUTH.findall(header))
        if fields.get("mchid") != self.mchid or fields.get("serial_no") != self.serial_no:
            return False
        try:
            if abs(time.time() - int(fields.get("timestamp", "0"))) > 300:
                return False
        except ValueError:
            return False
        message = (f"{method}\n{path}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n"
                   .encode() + body + b"\n")
        return rsa_verify(self.merchant_key.public_key(), message, fields.get("signature", ""))

    def signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce_str = str(int(time.time())), nonce()
        message = f"{timestamp}\n{nonce_str}\n" + body.decode("utf-8") + "\n"
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce_str,
                "Wechatpay-Signature": rsa_sign(self.platform_key, message),
                "Wechatpay-Serial": self.public_key_id,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}

    def _answer(self, start_response: StartResponse, status: int,
                payload: Optional[dict[str, Any]]) -> list[bytes]:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                   "Request-ID": secrets.token_hex(8), **self.signed_headers(body)}
        start_response(f"{status} X", list(headers.items()))
        return [body]

    # ---- the API ---------------------------------------------------------------------------

    def _route(self, method: str, path: str, args: Mapping[str, str], body: bytes,
               due: list[str]) -> Answer:
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {"code": "PARAM_ERROR", "message": "body is not JSON"}
        with self.lock:
            if method == "POST" and path == "/v3/pay/transactions/jsapi":
                return self._prepay(payload)
            match = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/close)?", path)
            if match and method == "GET" and not match.group(2):
                return self._query(match.group(1))
            if match and method == "POST" and match.group(2):
                return self._close(match.group(1))
            if method == "POST" and path == "/v3/refund/domestic/refunds":
                return self._refund(payload, due)
            match = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path)
            if match and method == "GET":
                refund = self.refunds.get(match.group(1))
                return (200, refund) if refund else (404, {"code": "RESOURCE_NOT_EXISTS",
                                                           "message": "退款单不存在"})
        return 404, {"code": "NOT_FOUND", "message": "no such API in the sandbox"}

    def _prepay(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        required = ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount",
                    "payer")
        if any(not p.get(k) for k in required) or p["mchid"] != self.mchid \
                or p["appid"] != self.appid:
            return 400, {"code": "PARAM_ERROR", "message": "missing or wrong parameters"}
        existing = self.transactions.get(p["out_trade_no"])
        if existing and existing["trade_state"] == "SUCCESS":
            return 403, {"code": "ORDERPAID", "message": "该订单已支付"}
        if existing and existing["amount"]["total"] != p["amount"]["total"]:
            return 400, {"code": "PARAM_ERROR", "message": "订单金额不一致"}
        prepay_id = "wx" + secrets.token_hex(16)
        self.transactions[p["out_trade_no"]] = {
            "appid": p["appid"], "mchid": p["mchid"], "out_trade_no": p["out_trade_no"],
            "trade_type": "JSAPI", "trade_state": "NOTPAY", "trade_state_desc": "未支付",
            "amount": {"total": p["amount"]["total"], "currency": "CNY"},
            "payer": {"openid": p["payer"]["openid"]}, "notify_url": p["notify_url"],
            "prepay_id": prepay_id}
        return 200, {"prepay_id": prepay_id}

    def _public_transaction(self, tx: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in tx.items() if k not in ("notify_url", "prepay_id")}

    def _query(self, out_trade_no: str) -> tuple[int, dict[str, Any]]:
        tx = self.transactions.get(out_trade_no)
        if tx is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        return 200, self._public_transaction(tx)

    def _close(self, out_trade_no: str) -> Answer:
        tx = self.transactions.get(out_trade_no)
        if tx is None:
            return 204, None  # closing an order WeChat Pay never saw is harmless
        if tx["trade_state"] in ("SUCCESS", "REFUND"):
            return 400, {"code": "ORDERPAID", "message": "订单已支付"}
        tx.update(trade_state="CLOSED", trade_state_desc="已关闭")
        return 204, None

    def _refund(self, p: dict[str, Any], due: list[str]) -> tuple[int, dict[str, Any]]:
        tx = self.transactions.get(p.get("out_trade_no", ""))
        amount = p.get("amount") or {}
        if tx is None or tx["trade_state"] not in ("SUCCESS", "REFUND"):
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在或未支付"}
        if p.get("out_refund_no") in self.refunds:
            return 200, self.refunds[p["out_refund_no"]]
        refunded = sum(r["amount"]["refund"] for r in self.refunds.values()
                       if r["out_trade_no"] == tx["out_trade_no"] and r["status"] != "CLOSED")
        if amount.get("total") != tx["amount"]["total"] or not 0 < amount.get("refund", 0) \
                or refunded + amount["refund"] > tx["amount"]["total"]:
            return 403, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
        refund = {"refund_id": "50" + secrets.token_hex(14), "out_refund_no": p["out_refund_no"],
                  "transaction_id": tx["transaction_id"], "out_trade_no": tx["out_trade_no"],
                  "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
                  "create_time": rfc3339(datetime.now(timezone.utc)), "status": "PROCESSING",
                  "amount": {"total": tx["amount"]["total"], "refund": amount["refund"],
                             "payer_total": tx["amount"]["total"],
                             "payer_refund": amount["refund"], "currency": "CNY"},
                  "notify_url": p.get("notify_url", "")}
        self.refunds[p["out_refund_no"]] = refund
        tx.update(trade_state="REFUND", trade_state_desc="转入退款")
        if self.sync_refunds:
            due.append(p["out_refund_no"])  # finished in this request, before it answers
        else:
            # finish the refund right after answering, as WeChat Pay does a moment later
            threading.Thread(target=self.finish_refund, args=(p["out_refund_no"],),
                             daemon=True).start()
        return 200, {k: v for k, v in refund.items() if k != "notify_url"}

    # ---- what the sandbox does on its own: pay, refund, notify ------------------------------

    def confirm_payment(self, out_trade_no: str) -> dict[str, Any]:
        """The shopper 'paid': the transaction succeeds and its notify goes to the shop."""
        with self.lock:
            tx = self.transactions[out_trade_no]
            if tx["trade_state"] == "NOTPAY":
                tx.update(trade_state="SUCCESS", trade_state_desc="支付成功", bank_type="OTHERS",
                          transaction_id="42" + secrets.token_hex(13)[:26],
                          success_time=rfc3339(datetime.now(timezone.utc)))
                tx["amount"].update(payer_total=tx["amount"]["total"], payer_currency="CNY")
            resource = self._public_transaction(tx)
        return self.notify(tx["notify_url"], "TRANSACTION.SUCCESS", "transaction", resource,
                           "支付成功")

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        with self.lock:
            refund = self.refunds[out_refund_no]
            refund["status"] = status
            if status == "SUCCESS":
                refund["success_time"] = rfc3339(datetime.now(timezone.utc))
            resource = {"mchid": self.mchid, "out_trade_no": refund["out_trade_no"],
                        "transaction_id": refund["transaction_id"],
                        "out_refund_no": out_refund_no, "refund_id": refund["refund_id"],
                        "refund_status": status, "success_time": refund.get("success_time"),
                        "user_received_account": refund["user_received_account"],
                        "amount": {k: refund["amount"][k] for k in
                                   ("total", "refund", "payer_total", "payer_refund")}}
        return self.notify(refund["notify_url"], f"REFUND.{status}", "refund", resource,
                           "退款成功" if status == "SUCCESS" else "退款异常")

    def notify(self, url: str, event_type: str, original_type: str, resource: dict[str, Any],
               summary: str) -> dict[str, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        iv = secrets.token_hex(6)
        ciphertext = AESGCM(self.apiv3_key).encrypt(
            iv.encode(), json.dumps(resource, ensure_ascii=False).encode(),
            original_type.encode())
        body = json.dumps({
            "id": "EV-" + secrets.token_hex(10), "create_time": rfc3339(datetime.now(timezone.utc)),
            "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(),
                         "associated_data": original_type, "nonce": iv}},
            ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self.signed_headers(body)}
        status = self.post(url, headers, body)
        log_event(logger, "sandbox notify delivered", event_type=event_type, status=status)
        return {"event_type": event_type, "status": status}

    def post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """Send a notify to the shop: over HTTP when the URL is real, else to ``deliver``;
        the status the shop answered, 0 when it could not be reached."""
        hostname = urlsplit(url).hostname
        if hostname and not hostname.endswith(".invalid"):
            import requests
            try:
                return requests.post(url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException as exc:
                log_event(logger, "sandbox notify undeliverable", error=type(exc).__name__)
                return 0
        if self.deliver is None:
            log_event(logger, "sandbox notify undeliverable", error="no deliver for .invalid")
            return 0
        return self.deliver(url, headers, body)


_sandbox: Optional[PaySandbox] = None
_sandbox_lock = threading.Lock()


def get_sandbox(appid: str = "wx0000000000sandbox",
                deliver: Optional[Deliver] = None) -> PaySandbox:
    """The sandbox of this process, started on first use; a ``deliver`` given becomes its way
    to the shop if it has none yet."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = PaySandbox(appid, deliver=deliver)
            _sandbox.start()
        elif _sandbox.deliver is None:
            _sandbox.deliver = deliver
    return _sandbox


def sandbox_config(settings: Settings, deliver: Optional[Deliver] = None) -> PayConfig:
    sandbox = get_sandbox(settings.WX_APPID or "wx0000000000sandbox", deliver)
    return PayConfig(
        appid=sandbox.appid, mchid=sandbox.mchid, serial_no=sandbox.serial_no,
        private_key=sandbox.merchant_key, apiv3_key=sandbox.apiv3_key,
        public_key_id=sandbox.public_key_id, public_key=sandbox.platform_key.public_key(),
        api_base=sandbox.base_url,
        notify_url=settings.WXPAY_NOTIFY_URL or "https://shop.invalid/pay/notify",
        refund_notify_url=settings.WXPAY_REFUND_NOTIFY_URL
        or "https://shop.invalid/pay/refund-notify")
