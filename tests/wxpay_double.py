"""An independent WeChat Pay API v3 test double, written from the public API v3 spec.

It does NOT import or read the shop's own WeChat Pay code (shared/wechat/): it has its own keys,
its own request-signature verification, its own response/notify signing and its own
AEAD_AES_256_GCM encryption, so a mistake in the shop's client is caught instead of mirrored.

Protocol implemented (WeChat Pay API v3, "WeChat Pay public key" verification mode):

* Requests from the merchant carry
  ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",
  timestamp="..",serial_no=".."`` where signature = base64(RSA-SHA256-PKCS1v15(merchant key,
  "METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n")), URL being the absolute path plus "?query" as
  sent, body the exact request body ("" for GET). Anything wrong -> 401 SIGN_ERROR.
* Responses and notifies carry Wechatpay-Timestamp / -Nonce / -Signature / -Serial where the
  signature is RSA-SHA256 with the WeChat Pay (platform) private key over
  "timestamp\\nnonce\\nbody\\n" and Wechatpay-Serial is the public key id "PUB_KEY_ID_...".
* Notify bodies: {id, create_time, resource_type: "encrypt-resource", event_type, summary,
  resource: {original_type, algorithm: "AEAD_AES_256_GCM", ciphertext, associated_data, nonce}},
  ciphertext = base64(AES-256-GCM(APIv3 key, nonce, plaintext JSON, associated_data) || tag).
* Errors: {"code": "...", "message": "..."} with the documented HTTP status.

Only ``cryptography``, ``requests``, ``werkzeug`` and the standard library are used.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CST = timezone(timedelta(hours=8))
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW = 300  # seconds, both ways

NOTIFY_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}
_OUT_TRADE_NO_RE = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
_OUT_REFUND_NO_RE = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
# rfc3339 as WeChat Pay documents it: yyyy-MM-DDTHH:mm:ss+TIMEZONE (e.g. 2018-06-08T10:34:56+08:00)
_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
_AUTH_PARAM_RE = re.compile(r'([A-Za-z_]+)="([^"]*)"')

PrivateKeyLike = Union[rsa.RSAPrivateKey, bytes, str]


# ----------------------------------------------------------------------------- small helpers

def _now_cst(ts: Optional[float] = None) -> str:
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(), CST)
    return dt.replace(microsecond=0).isoformat()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _rand_alnum(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _as_private_key(key: PrivateKeyLike) -> rsa.RSAPrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    data = key.encode() if isinstance(key, str) else key
    loaded = serialization.load_pem_private_key(data, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def rsa_sign(private_key: PrivateKeyLike, message: bytes) -> str:
    """base64(SHA256withRSA PKCS#1 v1.5) -- the only signature scheme APIv3 uses."""
    sig = _as_private_key(private_key).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        public_key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def aes_gcm_encrypt(apiv3_key: Union[str, bytes], nonce: str, associated_data: str,
                    plaintext: bytes) -> str:
    key = apiv3_key.encode("utf-8") if isinstance(apiv3_key, str) else apiv3_key
    ct = AESGCM(key).encrypt(nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8"))
    return base64.b64encode(ct).decode("ascii")


def aes_gcm_decrypt(apiv3_key: Union[str, bytes], nonce: str, associated_data: str,
                    ciphertext_b64: str) -> bytes:
    key = apiv3_key.encode("utf-8") if isinstance(apiv3_key, str) else apiv3_key
    return AESGCM(key).decrypt(nonce.encode("utf-8"), base64.b64decode(ciphertext_b64),
                               associated_data.encode("utf-8"))


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class WxPayApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 detail: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.detail = status, code, message, detail


def _param_error(message: str, field_name: Optional[str] = None,
                 location: str = "body") -> WxPayApiError:
    detail = {"field": field_name, "location": location} if field_name else None
    return WxPayApiError(400, "PARAM_ERROR", message, detail)


# ----------------------------------------------------------------------------- records

@dataclass
class RecordedRequest:
    method: str
    path: str                    # decoded path, no query
    url: str                     # path + "?" + query exactly as sent (what must be signed)
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes
    signature_ok: bool
    auth: Dict[str, str] = field(default_factory=dict)  # parsed Authorization parameters
    sign_error: Optional[str] = None                    # why the signature check failed
    status: Optional[int] = None                        # the status the double answered
    response_body: bytes = b""

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None


@dataclass
class SentNotify:
    url: str
    headers: Dict[str, str]
    body: bytes
    status_code: Optional[int] = None
    response_body: bytes = b""
    error: Optional[str] = None


@dataclass
class _Failure:
    fragment: str
    status: int
    code: str
    message: str
    times: int
    after: bool
    method: Optional[str]


# ----------------------------------------------------------------------------- the double

class WxPayDouble:
    """Plays WeChat Pay API v3 on 127.0.0.1 with real keys, real signatures, real encryption."""

    def __init__(self, appid: str = "wxd678efh567hg6787", mchid: str = "1230000109") -> None:
        self.appid = appid
        self.mchid = mchid
        # merchant key pair: the private half is handed to the shop (write_files)
        self.merchant_private_key = new_rsa_key()
        self.merchant_public_key = self.merchant_private_key.public_key()
        self.cert_serial_no = secrets.token_hex(20).upper()
        # WeChat Pay key pair ("WeChat Pay public key" mode): private signs, public to the shop
        self.platform_private_key = new_rsa_key()
        self.platform_public_key = self.platform_private_key.public_key()
        self.public_key_id = "PUB_KEY_ID_0114" + "".join(secrets.choice(string.digits)
                                                         for _ in range(28))
        self.apiv3_key = _rand_alnum(32)

        # in-memory WeChat Pay state
        self.orders: Dict[str, Dict[str, Any]] = {}    # out_trade_no -> order
        self.refunds: Dict[str, Dict[str, Any]] = {}   # out_refund_no -> refund
        self.requests: List[RecordedRequest] = []
        self.notifies: List[SentNotify] = []

        # levers
        self.refund_immediate_status = "PROCESSING"   # or "SUCCESS"
        self.drop_notifies = False                    # pay()/finish_refund() don't POST
        self.notify_transport: Optional[Callable[[str, Dict[str, str], bytes], Any]] = None
        self.response_forgery: Optional[str] = None   # None|"bad_signature"|"wrong_serial"|
        #                                               "tamper"|"stale"|"unsigned"
        self.clock: Callable[[], float] = time.time
        self._failures: List[_Failure] = []
        self._delays: List[List[Any]] = []

        self._lock = threading.RLock()
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None
        self._seq = 0

    # ------------------------------------------------------------------ lifecycle
    def _ensure_server(self) -> None:
        if self._server is None:
            class _Quiet(WSGIRequestHandler):
                def log_request(self, *args: Any, **kwargs: Any) -> None:
                    pass

                def log(self, *args: Any, **kwargs: Any) -> None:
                    pass

            self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                       request_handler=_Quiet)

    @property
    def base_url(self) -> str:
        self._ensure_server()
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "WxPayDouble":
        self._ensure_server()
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name="wxpay-double", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
        self._server, self._thread = None, None

    def __enter__(self) -> "WxPayDouble":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ files and settings
    @property
    def merchant_private_key_pem(self) -> bytes:
        return self.merchant_private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())

    @property
    def platform_public_key_pem(self) -> bytes:
        return self.platform_public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def write_files(self, directory: Union[str, os.PathLike]) -> Dict[str, str]:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        key_path = d / "apiclient_key.pem"
        pub_path = d / "pub_key.pem"
        key_path.write_bytes(self.merchant_private_key_pem)
        pub_path.write_bytes(self.platform_public_key_pem)
        return {
            "WXPAY_MCHID": self.mchid,
            "WXPAY_CERT_SERIAL_NO": self.cert_serial_no,
            "WXPAY_PRIVATE_KEY_PATH": str(key_path),
            "WXPAY_APIV3_KEY": self.apiv3_key,
            "WXPAY_PUBLIC_KEY_ID": self.public_key_id,
            "WXPAY_PUBLIC_KEY_PATH": str(pub_path),
            "WXPAY_API_BASE": self.base_url,
            "WX_APPID": self.appid,
        }

    # ------------------------------------------------------------------ verification helpers
    def verify_merchant_signature(self, message: bytes, signature_b64: str) -> bool:
        return rsa_verify(self.merchant_public_key, message, signature_b64)

    def verify_pay_sign(self, appid: str, timestamp: str, nonce_str: str, package: str,
                        pay_sign: str) -> bool:
        """paySign of wx.requestPayment: RSA-SHA256 (merchant key) over
        appId\\ntimeStamp\\nnonceStr\\npackage\\n."""
        message = f"{appid}\n{timestamp}\n{nonce_str}\n{package}\n".encode("utf-8")
        return self.verify_merchant_signature(message, pay_sign)

    def verify_platform_signature(self, timestamp: str, nonce: str, body: bytes,
                                  signature_b64: str) -> bool:
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return rsa_verify(self.platform_public_key, message, signature_b64)

    def decrypt_resource(self, resource: Dict[str, Any]) -> Dict[str, Any]:
        plain = aes_gcm_decrypt(self.apiv3_key, resource["nonce"],
                                resource.get("associated_data") or "", resource["ciphertext"])
        return json.loads(plain.decode("utf-8"))

    # ------------------------------------------------------------------ test levers
    def fail_next(self, path_fragment: str, status: int = 500, code: str = "SYSTEM_ERROR",
                  message: Optional[str] = None, *, times: int = 1, after: bool = False,
                  method: Optional[str] = None) -> None:
        """The next `times` signed requests whose URL contains `path_fragment` (and, if given,
        whose method is `method`) answer `status` {"code": code}. With after=True the operation
        is performed first and only the answer is replaced (a lost response)."""
        with self._lock:
            self._failures.append(_Failure(path_fragment, status, code,
                                           message or f"simulated {code}", times, after,
                                           method.upper() if method else None))

    def delay_next(self, path_fragment: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` requests whose URL contains `path_fragment` sleep before answering."""
        with self._lock:
            self._delays.append([path_fragment, seconds, times])

    def order(self, out_trade_no: str) -> Dict[str, Any]:
        return self.orders[out_trade_no]

    def refund(self, out_refund_no: str) -> Dict[str, Any]:
        return self.refunds[out_refund_no]

    def requests_to(self, path_fragment: str,
                    method: Optional[str] = None) -> List[RecordedRequest]:
        return [r for r in list(self.requests)
                if path_fragment in r.url and (method is None or r.method == method.upper())]

    def pay(self, out_trade_no: str, notify: bool = True, *, payer_total: Optional[int] = None,
            force: bool = False) -> Tuple[Dict[str, str], bytes]:
        """The user pays: the transaction becomes SUCCESS (idempotent). Returns the
        TRANSACTION.SUCCESS notify (headers, body); when notify is True and drop_notifies is
        False it is also POSTed to the order's notify_url. Paying a CLOSED or expired order
        raises ValueError unless force=True."""
        with self._lock:
            o = self.orders[out_trade_no]
            if o["trade_state"] == "NOTPAY" or (force and o["trade_state"] == "CLOSED"):
                if not force and o.get("time_expire_ts") and self.clock() > o["time_expire_ts"]:
                    raise ValueError(f"{out_trade_no}: past time_expire, WeChat Pay would not "
                                     "let the user pay (use force=True)")
                o["trade_state"] = "SUCCESS"
                o["success_time"] = _now_cst(self.clock())
                o["payer_total"] = o["total"] if payer_total is None else payer_total
            elif o["trade_state"] == "CLOSED":
                raise ValueError(f"{out_trade_no} is CLOSED (use force=True)")
            resource = self.transaction_resource(out_trade_no)
            headers, body = self.build_notify("TRANSACTION.SUCCESS", resource, "transaction")
        if notify:
            self._deliver(o["notify_url"], headers, body)
        return headers, body

    def transaction_resource(self, out_trade_no: str) -> Dict[str, Any]:
        """The decrypted `resource` of a TRANSACTION.SUCCESS notify for this order (what WeChat
        Pay would send once it is paid). Does not change the double's state."""
        with self._lock:
            o = self.orders[out_trade_no]
            return {
                "mchid": o["mchid"],
                "appid": o["appid"],
                "out_trade_no": o["out_trade_no"],
                "transaction_id": o["transaction_id"],
                "trade_type": "JSAPI",
                "trade_state": "SUCCESS",
                "trade_state_desc": "支付成功",
                "bank_type": "OTHERS",
                "attach": o.get("attach", ""),
                "success_time": o.get("success_time") or _now_cst(self.clock()),
                "payer": {"openid": o["openid"]},
                "amount": {
                    "total": o["total"],
                    "payer_total": o.get("payer_total") if o.get("payer_total") is not None
                    else o["total"],
                    "currency": o["currency"],
                    "payer_currency": o["currency"],
                },
            }

    def refund_resource(self, out_refund_no: str, status: str = "SUCCESS") -> Dict[str, Any]:
        """The decrypted `resource` of a REFUND.* notify for this refund, with refund_status."""
        with self._lock:
            r = self.refunds[out_refund_no]
            res = {
                "mchid": self.mchid,
                "out_trade_no": r["out_trade_no"],
                "transaction_id": r["transaction_id"],
                "out_refund_no": r["out_refund_no"],
                "refund_id": r["refund_id"],
                "refund_status": status,
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": r["total"],
                    "refund": r["refund"],
                    "payer_total": r["total"],
                    "payer_refund": r["refund"],
                },
            }
            if status == "SUCCESS":
                res["success_time"] = r.get("success_time") or _now_cst(self.clock())
            return res

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS",
                      notify: bool = True) -> Tuple[Dict[str, str], bytes]:
        """The refund ends with `status` (SUCCESS, ABNORMAL or CLOSED). Returns the REFUND.<status>
        notify; POSTs it to the refund's notify_url when notify and not drop_notifies."""
        if status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
            raise ValueError(status)
        with self._lock:
            r = self.refunds[out_refund_no]
            r["status"] = status
            if status == "SUCCESS" and not r.get("success_time"):
                r["success_time"] = _now_cst(self.clock())
            headers, body = self.build_notify(f"REFUND.{status}",
                                              self.refund_resource(out_refund_no, status),
                                              "refund")
        if notify and r.get("notify_url"):
            self._deliver(r["notify_url"], headers, body)
        return headers, body

    def build_notify(self, event_type: str, resource_dict: Dict[str, Any], original_type: str,
                     *, timestamp: Union[int, str, None] = None, nonce: Optional[str] = None,
                     serial: Optional[str] = None, sign_with: Optional[PrivateKeyLike] = None,
                     apiv3_key: Union[str, bytes, None] = None,
                     tamper: Union[bool, Callable[[bytes], bytes]] = False,
                     ) -> Tuple[Dict[str, str], bytes]:
        """A notify as WeChat Pay POSTs it: body encrypted under the APIv3 key, headers signed
        with the platform key. Knobs forge it: sign_with (another RSA key), serial (another
        Wechatpay-Serial), timestamp (e.g. stale), apiv3_key (encrypt under a wrong key), tamper
        (True: change the body after signing; or a callable bytes -> bytes)."""
        gcm_nonce = _rand_alnum(12)
        plaintext = _json_bytes(resource_dict)
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": _now_cst(self.clock()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": NOTIFY_SUMMARIES.get(event_type, event_type),
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": aes_gcm_encrypt(apiv3_key if apiv3_key is not None
                                              else self.apiv3_key,
                                              gcm_nonce, original_type, plaintext),
                "associated_data": original_type,
                "nonce": gcm_nonce,
            },
        }
        body = _json_bytes(envelope)
        ts = str(int(self.clock()) if timestamp is None else timestamp)
        sig_nonce = nonce if nonce is not None else secrets.token_hex(16)
        signature = rsa_sign(sign_with if sign_with is not None else self.platform_private_key,
                             f"{ts}\n{sig_nonce}\n".encode() + body + b"\n")
        if callable(tamper):
            body = tamper(body)
        elif tamper:
            envelope["id"] = str(uuid.uuid4())  # same resource, any other byte would do
            body = _json_bytes(envelope)
        headers = {
            "Content-Type": "application/json",
            "Request-ID": str(uuid.uuid4()),
            "Wechatpay-Nonce": sig_nonce,
            "Wechatpay-Serial": serial if serial is not None else self.public_key_id,
            "Wechatpay-Signature": signature,
            "Wechatpay-Signature-Type": AUTH_SCHEME,
            "Wechatpay-Timestamp": ts,
        }
        return headers, body

    @staticmethod
    def post_notify(url: str, headers: Dict[str, str], body: bytes,
                    timeout: float = 10) -> requests.Response:
        return requests.post(url, data=body, headers=headers, timeout=timeout)

    def _deliver(self, url: str, headers: Dict[str, str], body: bytes) -> None:
        record = SentNotify(url=url, headers=dict(headers), body=body)
        if self.drop_notifies:
            record.error = "dropped"
        else:
            try:
                if self.notify_transport is not None:
                    resp = self.notify_transport(url, headers, body)
                else:
                    resp = self.post_notify(url, headers, body)
                record.status_code = getattr(resp, "status_code", None)
                content = getattr(resp, "content", None)
                if content is None:
                    content = getattr(resp, "data", b"")
                record.response_body = content or b""
            except Exception as exc:  # a notify that cannot be delivered is WeChat's problem
                record.error = repr(exc)
        with self._lock:
            self.notifies.append(record)

    # ------------------------------------------------------------------ HTTP
    def _wsgi(self, environ: Dict[str, Any], start_response: Any) -> Any:
        return self._handle(Request(environ))(environ, start_response)

    def _next_id(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _check_signature(self, method: str, url: str, body: bytes,
                         authorization: str) -> Tuple[Dict[str, str], Optional[str]]:
        if not authorization.startswith(AUTH_SCHEME + " "):
            return {}, "authorization scheme is not " + AUTH_SCHEME
        params = dict(_AUTH_PARAM_RE.findall(authorization[len(AUTH_SCHEME) + 1:]))
        for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no"):
            if not params.get(name):
                return params, f"authorization lacks {name}"
        if params["mchid"] != self.mchid:
            return params, "mchid does not match"
        if params["serial_no"].upper() != self.cert_serial_no:
            return params, "serial_no is not the merchant certificate serial number"
        if not params["timestamp"].isdigit():
            return params, "timestamp is not an integer"
        if abs(self.clock() - int(params["timestamp"])) > MAX_CLOCK_SKEW:
            return params, "timestamp is outside 5 minutes"
        message = (f"{method}\n{url}\n{params['timestamp']}\n{params['nonce_str']}\n".encode()
                   + body + b"\n")
        if not self.verify_merchant_signature(message, params["signature"]):
            return params, "signature does not verify with the merchant public key"
        return params, None

    def _signed_response(self, status: int, payload: Any = None) -> Response:
        body = b"" if payload is None else _json_bytes(payload)
        ts = str(int(self.clock()))
        nonce = secrets.token_hex(16)
        key: rsa.RSAPrivateKey = self.platform_private_key
        serial = self.public_key_id
        forgery = self.response_forgery
        if forgery == "bad_signature":
            key = new_rsa_key()
        elif forgery == "wrong_serial":
            serial = "PUB_KEY_ID_" + "9" * 32
        elif forgery == "stale":
            ts = str(int(self.clock()) - 3600)
        signature = rsa_sign(key, f"{ts}\n{nonce}\n".encode() + body + b"\n")
        if forgery == "tamper" and payload is not None:
            body = body.replace(b"{", b'{"x":1,', 1)
        resp = Response(body, status=status)
        if payload is not None:
            resp.headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            del resp.headers["Content-Type"]
        resp.headers["Request-ID"] = str(uuid.uuid4())
        if forgery != "unsigned":
            resp.headers["Wechatpay-Nonce"] = nonce
            resp.headers["Wechatpay-Signature"] = signature
            resp.headers["Wechatpay-Timestamp"] = ts
            resp.headers["Wechatpay-Serial"] = serial
            resp.headers["Wechatpay-Signature-Type"] = AUTH_SCHEME
        return resp

    def _error(self, err: WxPayApiError) -> Response:
        payload: Dict[str, Any] = {"code": err.code, "message": err.message}
        if err.detail:
            payload["detail"] = err.detail
        return self._signed_response(err.status, payload)

    def _handle(self, req: Request) -> Response:
        method = req.method.upper()
        raw_uri = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI") or req.full_path
        # the signed URL is the absolute path plus the query string, exactly as sent
        if raw_uri.startswith("http://") or raw_uri.startswith("https://"):
            parts = urlsplit(raw_uri)
            raw_uri = parts.path + (("?" + parts.query) if parts.query else "")
        body = req.get_data(cache=True)
        split = urlsplit(raw_uri)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        auth, sign_error = self._check_signature(method, raw_uri, body,
                                                 req.headers.get("Authorization", ""))
        record = RecordedRequest(method=method, path=unquote(split.path), url=raw_uri,
                                 query=query, headers=dict(req.headers.items()), body=body,
                                 signature_ok=sign_error is None, auth=auth,
                                 sign_error=sign_error)
        with self._lock:
            self.requests.append(record)
            delay = 0.0
            for d in self._delays:
                if d[0] in raw_uri and d[2] > 0:
                    d[2] -= 1
                    delay = d[1]
                    break
        if delay:
            time.sleep(delay)
        resp = self._dispatch(record, method, sign_error, query, body)
        record.status = resp.status_code
        record.response_body = resp.get_data()
        return resp

    def _dispatch(self, record: RecordedRequest, method: str, sign_error: Optional[str],
                  query: Dict[str, str], body: bytes) -> Response:
        if sign_error is not None:
            return self._error(WxPayApiError(401, "SIGN_ERROR", "签名错误: " + sign_error))
        serial_hdr = record.headers.get("Wechatpay-Serial")
        if serial_hdr is not None and serial_hdr != self.public_key_id:
            return self._error(WxPayApiError(400, "INVALID_REQUEST",
                                             "Wechatpay-Serial is not a valid public key id"))
        failure = None
        with self._lock:
            for f in self._failures:
                if f.fragment in record.url and f.times > 0 and f.method in (None, method):
                    f.times -= 1
                    failure = f
                    break
            self._failures = [f for f in self._failures if f.times > 0]
        if failure is not None and not failure.after:
            return self._error(WxPayApiError(failure.status, failure.code, failure.message))
        try:
            status, payload = self._route(method, record.path, query, body)
        except WxPayApiError as err:
            if failure is not None:
                return self._error(WxPayApiError(failure.status, failure.code, failure.message))
            return self._error(err)
        if failure is not None:
            return self._error(WxPayApiError(failure.status, failure.code, failure.message))
        return self._signed_response(status, payload)

    def _route(self, method: str, path: str, query: Dict[str, str],
               body: bytes) -> Tuple[int, Any]:
        routes: List[Tuple[str, str, Callable[..., Tuple[int, Any]]]] = [
            ("POST", r"/v3/pay/transactions/jsapi", self._api_jsapi),
            ("GET", r"/v3/pay/transactions/out-trade-no/([^/]+)", self._api_query),
            ("GET", r"/v3/pay/transactions/id/([^/]+)", self._api_query_by_id),
            ("POST", r"/v3/pay/transactions/out-trade-no/([^/]+)/close", self._api_close),
            ("POST", r"/v3/refund/domestic/refunds", self._api_refund),
            ("GET", r"/v3/refund/domestic/refunds/([^/]+)", self._api_query_refund),
        ]
        path_matched = False
        for route_method, pattern, handler in routes:
            m = re.fullmatch(pattern, path)
            if not m:
                continue
            path_matched = True
            if route_method != method:
                continue
            data: Any = None
            if method == "POST":
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise _param_error("请求体不是合法的JSON") from None
                if not isinstance(data, dict):
                    raise _param_error("请求体必须是JSON对象")
            with self._lock:
                return handler(*m.groups(), query=query, data=data)
        if path_matched:
            raise WxPayApiError(405, "INVALID_REQUEST", f"method {method} not allowed")
        raise WxPayApiError(404, "NOT_FOUND", f"no such API: {path}")

    # ------------------------------------------------------------------ validation helpers
    @staticmethod
    def _str(data: Dict[str, Any], name: str, max_len: int, *, required: bool = True,
             min_len: int = 1, field_path: Optional[str] = None) -> Optional[str]:
        value = data.get(name)
        label = field_path or name
        if value is None:
            if required:
                raise _param_error(f"输入源“/body/{label}”映射到字段“{label}”必填性规则校验失败，"
                                   "此字段为必填项", label)
            return None
        if not isinstance(value, str):
            raise _param_error(f"字段 {label} 类型错误, 应为字符串", label)
        if not (min_len <= len(value) <= max_len):
            raise _param_error(f"字段 {label} 长度应在 {min_len}..{max_len}", label)
        return value

    @staticmethod
    def _int(data: Dict[str, Any], name: str, field_path: str, *, positive: bool = True) -> int:
        value = data.get(name)
        if value is None:
            raise _param_error(f"字段 {field_path} 必填", field_path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _param_error(f"字段 {field_path} 类型错误, 应为整数(分)", field_path)
        if positive and value <= 0:
            raise _param_error(f"字段 {field_path} 必须大于0", field_path)
        return value

    def _check_mchid(self, mchid: Optional[str], location: str = "body") -> None:
        if not mchid:
            raise _param_error("mchid 必填", "mchid", location)
        if mchid != self.mchid:
            raise _param_error("mchid 与商户号不匹配", "mchid", location)

    # ------------------------------------------------------------------ APIs
    def _api_jsapi(self, *, query: Dict[str, str], data: Dict[str, Any]) -> Tuple[int, Any]:
        appid = self._str(data, "appid", 32)
        mchid = self._str(data, "mchid", 32)
        description = self._str(data, "description", 127)
        out_trade_no = self._str(data, "out_trade_no", 32)
        notify_url = self._str(data, "notify_url", 255)
        attach = self._str(data, "attach", 128, required=False)
        time_expire = self._str(data, "time_expire", 64)
        amount = data.get("amount")
        payer = data.get("payer")
        assert appid is not None and out_trade_no is not None and notify_url is not None
        assert time_expire is not None
        self._check_mchid(mchid)
        if appid != self.appid:
            raise WxPayApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if not _OUT_TRADE_NO_RE.match(out_trade_no):
            raise _param_error("out_trade_no 只能是6-32位数字、大小写字母_-|*", "out_trade_no")
        nu = urlsplit(notify_url)
        if nu.scheme not in ("http", "https") or not nu.netloc or nu.query or nu.fragment:
            raise _param_error("notify_url 必须是不带参数的http(s)地址", "notify_url")
        if not _RFC3339_RE.match(time_expire):
            raise _param_error("time_expire 格式应为 yyyy-MM-DDTHH:mm:ss+TIMEZONE", "time_expire")
        try:
            expire_ts = datetime.fromisoformat(time_expire).timestamp()
        except ValueError:
            raise _param_error("time_expire 不是合法时间", "time_expire") from None
        if expire_ts <= self.clock():
            raise _param_error("time_expire 已过期", "time_expire")
        if not isinstance(amount, dict):
            raise _param_error("amount 必填", "amount")
        total = self._int(amount, "total", "amount.total")
        currency = amount.get("currency", "CNY")
        if currency != "CNY":
            raise _param_error("amount.currency 只支持 CNY", "amount.currency")
        if not isinstance(payer, dict):
            raise _param_error("payer 必填", "payer")
        openid = self._str(payer, "openid", 128, field_path="payer.openid")

        existing = self.orders.get(out_trade_no)
        if existing is not None:
            if existing["trade_state"] in ("SUCCESS", "REFUND"):
                raise WxPayApiError(403, "ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise WxPayApiError(400, "ORDER_CLOSED", "订单已关闭")
            if existing["total"] != total:
                raise _param_error("同一商户订单号的金额与原下单请求不一致", "amount.total")
            prepay_id = self._new_prepay_id()
            existing["prepay_ids"].append(prepay_id)
            return 200, {"prepay_id": prepay_id}

        prepay_id = self._new_prepay_id()
        self.orders[out_trade_no] = {
            "appid": appid, "mchid": mchid, "description": description,
            "out_trade_no": out_trade_no, "notify_url": notify_url, "attach": attach or "",
            "time_expire": time_expire, "time_expire_ts": expire_ts,
            "total": total, "currency": currency, "openid": openid,
            "trade_state": "NOTPAY", "transaction_id": self._new_transaction_id(),
            "success_time": None, "payer_total": None, "prepay_ids": [prepay_id],
            "refunded": 0,
        }
        return 200, {"prepay_id": prepay_id}

    def _transaction_view(self, o: Dict[str, Any]) -> Dict[str, Any]:
        view: Dict[str, Any] = {
            "appid": o["appid"], "mchid": o["mchid"], "out_trade_no": o["out_trade_no"],
            "trade_state": o["trade_state"],
            "trade_state_desc": TRADE_STATE_DESC[o["trade_state"]],
            "attach": o["attach"],
            "amount": {"total": o["total"], "currency": o["currency"],
                       "payer_currency": o["currency"]},
            "promotion_detail": [],
        }
        if o["trade_state"] in ("SUCCESS", "REFUND"):
            view.update({
                "transaction_id": o["transaction_id"], "trade_type": "JSAPI",
                "bank_type": "OTHERS", "success_time": o["success_time"],
                "payer": {"openid": o["openid"]},
            })
            view["amount"]["payer_total"] = o["payer_total"]
        return view

    def _api_query(self, out_trade_no: str, *, query: Dict[str, str],
                   data: Any) -> Tuple[int, Any]:
        self._check_mchid(query.get("mchid"), "query")
        o = self.orders.get(unquote(out_trade_no))
        if o is None:
            raise WxPayApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, self._transaction_view(o)

    def _api_query_by_id(self, transaction_id: str, *, query: Dict[str, str],
                         data: Any) -> Tuple[int, Any]:
        self._check_mchid(query.get("mchid"), "query")
        for o in self.orders.values():
            if o["transaction_id"] == transaction_id and o["trade_state"] in ("SUCCESS", "REFUND"):
                return 200, self._transaction_view(o)
        raise WxPayApiError(404, "ORDER_NOT_EXIST", "订单不存在")

    def _api_close(self, out_trade_no: str, *, query: Dict[str, str],
                   data: Dict[str, Any]) -> Tuple[int, Any]:
        self._check_mchid(data.get("mchid"))
        o = self.orders.get(unquote(out_trade_no))
        if o is None:
            raise WxPayApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        if o["trade_state"] in ("SUCCESS", "REFUND"):
            raise WxPayApiError(400, "ORDERPAID", "订单已支付")
        o["trade_state"] = "CLOSED"
        return 204, None

    def _refund_view(self, r: Dict[str, Any]) -> Dict[str, Any]:
        view = {
            "refund_id": r["refund_id"], "out_refund_no": r["out_refund_no"],
            "transaction_id": r["transaction_id"], "out_trade_no": r["out_trade_no"],
            "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
            "create_time": r["create_time"], "status": r["status"],
            "funds_account": "AVAILABLE",
            "amount": {
                "total": r["total"], "refund": r["refund"], "from": [],
                "payer_total": r["total"], "payer_refund": r["refund"],
                "settlement_refund": r["refund"], "settlement_total": r["total"],
                "discount_refund": 0, "currency": r["currency"], "refund_fee": 0,
            },
            "promotion_detail": [],
        }
        if r.get("success_time"):
            view["success_time"] = r["success_time"]
        return view

    def refunded_total(self, out_trade_no: str) -> int:
        """Fen refunded or being refunded for the order (CLOSED refunds don't count)."""
        with self._lock:
            return sum(r["refund"] for r in self.refunds.values()
                       if r["out_trade_no"] == out_trade_no and r["status"] != "CLOSED")

    def _api_refund(self, *, query: Dict[str, str], data: Dict[str, Any]) -> Tuple[int, Any]:
        out_refund_no = self._str(data, "out_refund_no", 64)
        assert out_refund_no is not None
        if not _OUT_REFUND_NO_RE.match(out_refund_no):
            raise _param_error("out_refund_no 只能是数字、大小写字母_-|*@", "out_refund_no")
        out_trade_no = self._str(data, "out_trade_no", 32, required=False)
        transaction_id = self._str(data, "transaction_id", 32, required=False)
        self._str(data, "reason", 80, required=False)
        notify_url = self._str(data, "notify_url", 256, required=False)
        if notify_url is not None:
            nu = urlsplit(notify_url)
            if nu.scheme not in ("http", "https") or not nu.netloc or nu.query:
                raise _param_error("notify_url 必须是不带参数的http(s)地址", "notify_url")
        amount = data.get("amount")
        if not isinstance(amount, dict):
            raise _param_error("amount 必填", "amount")
        refund_amt = self._int(amount, "refund", "amount.refund")
        total = self._int(amount, "total", "amount.total")
        if amount.get("currency") != "CNY":
            raise _param_error("amount.currency 必填且只支持 CNY", "amount.currency")
        if not out_trade_no and not transaction_id:
            raise _param_error("transaction_id 和 out_trade_no 必须二选一", "out_trade_no")

        order = None
        if out_trade_no:
            order = self.orders.get(out_trade_no)
        if transaction_id:
            by_id = next((o for o in self.orders.values()
                          if o["transaction_id"] == transaction_id), None)
            if order is not None and by_id is not order:
                raise _param_error("transaction_id 与 out_trade_no 不属于同一订单",
                                   "transaction_id")
            order = by_id
        if order is None:
            raise WxPayApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")

        existing = self.refunds.get(out_refund_no)
        if existing is not None:
            if (existing["out_trade_no"] != order["out_trade_no"]
                    or existing["refund"] != refund_amt or existing["total"] != total):
                raise WxPayApiError(400, "INVALID_REQUEST",
                                    "商户退款单号已存在且请求参数与原请求不一致")
            return 200, self._refund_view(existing)

        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            raise WxPayApiError(400, "INVALID_REQUEST", "订单未支付, 不能退款")
        if total != order["total"]:
            raise _param_error("amount.total 与原订单金额不一致", "amount.total")
        if refund_amt > order["total"] - self.refunded_total(order["out_trade_no"]):
            raise WxPayApiError(403, "NOT_ENOUGH", "可退金额不足")

        status = self.refund_immediate_status
        refund = {
            "refund_id": "50" + "".join(secrets.choice(string.digits) for _ in range(27)),
            "out_refund_no": out_refund_no, "out_trade_no": order["out_trade_no"],
            "transaction_id": order["transaction_id"], "refund": refund_amt, "total": total,
            "currency": "CNY", "status": status, "notify_url": notify_url,
            "reason": data.get("reason"), "create_time": _now_cst(self.clock()),
            "success_time": _now_cst(self.clock()) if status == "SUCCESS" else None,
        }
        self.refunds[out_refund_no] = refund
        order["trade_state"] = "REFUND"
        return 200, self._refund_view(refund)

    def _api_query_refund(self, out_refund_no: str, *, query: Dict[str, str],
                          data: Any) -> Tuple[int, Any]:
        r = self.refunds.get(unquote(out_refund_no))
        if r is None:
            raise WxPayApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, self._refund_view(r)

    # ------------------------------------------------------------------ ids
    def _new_prepay_id(self) -> str:
        stamp = datetime.fromtimestamp(self.clock(), CST).strftime("%Y%m%d%H%M%S")
        return f"wx{stamp}{secrets.token_hex(10)}{self._next_id():04d}"

    def _new_transaction_id(self) -> str:
        stamp = datetime.fromtimestamp(self.clock(), CST).strftime("%Y%m%d")
        return "4200" + "".join(secrets.choice(string.digits) for _ in range(10)) + stamp + \
            f"{self._next_id():06d}"
