"""WeChat Pay API v3: a small client written with ``cryptography``.

- Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 ...``: RSA-SHA256 (PKCS#1 v1.5)
  with the merchant key over ``METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n``.
- Responses and notifies are verified with the WeChat Pay public key whose id is
  ``Wechatpay-Serial``, over ``timestamp\\nnonce\\nbody\\n``; stale timestamps are refused.
- Notify resources are AEAD_AES_256_GCM under the APIv3 key.

We do not use the wechatpayv3 package: its base URL is hard-coded (no sandbox, no proxy) and
its callback does not check the timestamp; the protocol is small enough to own.
"""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, cast
from urllib.parse import urlsplit

from shared.core.config import ConfigError, Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event

# the protocol's primitives, shared with the sandbox (still importable from here)
from shared.wechat.pay_crypto import PayConfig, nonce, rfc3339, rsa_sign, rsa_verify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
    from requests import Response

    from shared.wechat.pay_sandbox import Deliver

logger = get_logger("shop.wxpay")

MAX_CLOCK_SKEW_SECONDS = 300
_Key = TypeVar("_Key")


class SignatureError(Exception):
    """A response or notify whose signature, serial or timestamp does not hold."""


class WxPayError(Exception):
    """WeChat Pay answered with an error (``code``) or could not be reached."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _header(headers: dict[str, str], name: str) -> str:
    """A header by name in any case (API Gateway lower-cases them, WeChat Pay capitalises)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def verify_signed(config: PayConfig, headers: dict[str, str], body: bytes,
                  now: Optional[float] = None) -> None:
    """Check a WeChat Pay signature (response or notify); raise SignatureError if it fails."""
    serial = _header(headers, "Wechatpay-Serial")
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce_str = _header(headers, "Wechatpay-Nonce")
    signature = _header(headers, "Wechatpay-Signature")
    if not (serial and timestamp and nonce_str and signature):
        raise SignatureError("missing Wechatpay-* signature headers")
    if serial != config.public_key_id:
        raise SignatureError("unknown Wechatpay-Serial")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        raise SignatureError("malformed Wechatpay-Timestamp") from None
    if age > MAX_CLOCK_SKEW_SECONDS:
        raise SignatureError("stale Wechatpay-Timestamp")
    message = timestamp.encode() + b"\n" + nonce_str.encode() + b"\n" + body + b"\n"
    if not rsa_verify(config.public_key, message, signature):
        raise SignatureError("signature does not verify")


def decrypt_resource(config: PayConfig, resource: dict[str, Any]) -> dict[str, Any]:
    """Open a notify's ``resource`` (AEAD_AES_256_GCM) into its JSON payload."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureError("unsupported resource algorithm")
    try:
        plain = AESGCM(config.apiv3_key).decrypt(
            str(resource["nonce"]).encode(), base64.b64decode(resource["ciphertext"]),
            str(resource.get("associated_data") or "").encode())
        payload = json.loads(plain)
    except (InvalidTag, KeyError, ValueError, TypeError):
        raise SignatureError("resource does not decrypt") from None
    if not isinstance(payload, dict):
        raise SignatureError("resource is not an object")
    return payload


def pay_sign_params(config: PayConfig, prepay_id: str) -> dict[str, str]:
    """The parameters of ``wx.requestPayment`` for a prepay id."""
    timestamp, nonce_str = str(int(time.time())), nonce()
    package = f"prepay_id={prepay_id}"
    message = f"{config.appid}\n{timestamp}\n{nonce_str}\n{package}\n"
    return {"timeStamp": timestamp, "nonceStr": nonce_str, "package": package,
            "signType": "RSA", "paySign": rsa_sign(config.private_key, message)}


class WxPayClient:
    def __init__(self, config: PayConfig, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout

    def authorization(self, method: str, path: str, body: str) -> str:
        timestamp, nonce_str = str(int(time.time())), nonce()
        message = f"{method}\n{path}\n{timestamp}\n{nonce_str}\n{body}\n"
        signature = rsa_sign(self.config.private_key, message)
        return (f'WECHATPAY2-SHA256-RSA2048 mchid="{self.config.mchid}",'
                f'nonce_str="{nonce_str}",signature="{signature}",'
                f'timestamp="{timestamp}",serial_no="{self.config.serial_no}"')

    def call(self, method: str, path: str, payload: Optional[dict[str, Any]] = None) \
            -> Optional[dict[str, Any]]:
        """One signed API call; the answer's signature is verified before it is believed."""
        import requests
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload else ""
        headers = {"Authorization": self.authorization(method, path, body),
                   "Accept": "application/json", "Content-Type": "application/json",
                   "User-Agent": "shop-backend/1.0"}
        url = self.config.api_base.rstrip("/") + path
        try:
            response = requests.request(method, url, data=body.encode("utf-8") or None,
                                        headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log_event(logger, "wechat pay unreachable", path=urlsplit(path).path,
                      error=type(exc).__name__)
            raise WxPayError(0, "UNREACHABLE", "WeChat Pay is unreachable") from None
        if response.status_code >= 400:
            raise self._error(response, path)
        try:
            verify_signed(self.config, dict(response.headers), response.content)
        except SignatureError as exc:
            log_event(logger, "wechat pay answer not verified", path=urlsplit(path).path,
                      reason=str(exc))
            raise WxPayError(response.status_code, "BAD_SIGNATURE",
                             "the answer of WeChat Pay did not verify") from None
        answer: Optional[dict[str, Any]] = response.json() if response.content else None
        return answer

    @staticmethod
    def _error(response: Response, path: str) -> WxPayError:
        try:
            body = response.json()
            code, message = str(body.get("code", "ERROR")), str(body.get("message", ""))
        except ValueError:
            code, message = "ERROR", response.text[:200]
        log_event(logger, "wechat pay refused", path=urlsplit(path).path,
                  status=response.status_code, code=code, message=message)
        return WxPayError(response.status_code, code, message)

    # ---- the calls the shop makes ----------------------------------------------------------

    def jsapi_prepay(self, *, out_trade_no: str, description: str, total: int, openid: str,
                     time_expire: datetime) -> str:
        answer = self.call("POST", "/v3/pay/transactions/jsapi", {
            "appid": self.config.appid, "mchid": self.config.mchid,
            "description": description[:127], "out_trade_no": out_trade_no,
            "time_expire": rfc3339(time_expire), "notify_url": self.config.notify_url,
            "amount": {"total": total, "currency": "CNY"}, "payer": {"openid": openid}})
        if not answer or not answer.get("prepay_id"):
            raise WxPayError(502, "NO_PREPAY_ID", "WeChat Pay answered without a prepay_id")
        return str(answer["prepay_id"])

    def query_transaction(self, out_trade_no: str) -> dict[str, Any]:
        return self.call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}"
                                f"?mchid={self.config.mchid}") or {}

    def close_transaction(self, out_trade_no: str) -> None:
        self.call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
                  {"mchid": self.config.mchid})

    def refund(self, *, out_trade_no: str, out_refund_no: str, refund: int, total: int,
               reason: str) -> dict[str, Any]:
        return self.call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
            "reason": reason[:80], "notify_url": self.config.refund_notify_url,
            "amount": {"refund": refund, "total": total, "currency": "CNY"}}) or {}

    def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        return self.call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}") or {}


def as_shop_error(exc: WxPayError) -> ShopError:
    """A WeChat Pay failure as the shopper or merchant should hear it."""
    if exc.code in ("ORDERPAID", "ORDER_CLOSED", "NOT_ENOUGH", "TRADE_ERROR",
                    "INVALID_REQUEST", "USERPAYING"):
        return ShopError("PAYMENT_REFUSED", f"WeChat Pay refused: {exc.code}",
                         {"wxpay_code": exc.code})
    return ShopError("PAYMENT_UNAVAILABLE", details={"wxpay_code": exc.code})


# ---- configuration -------------------------------------------------------------------------

_clients: dict[tuple[Optional[str], ...], WxPayClient] = {}


def _load_key(path: Optional[str], load: Callable[[bytes], _Key]) -> _Key:
    if not path:
        raise ConfigError("a WeChat Pay key path is not set")
    try:
        with open(path, "rb") as file:
            return load(file.read())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the WeChat Pay key at {path}: {type(exc).__name__}") \
            from None


# WeChat Pay's keys are RSA 2048: typed so; as before, nothing more is checked here
def _private_key(pem: bytes) -> RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    return cast("RSAPrivateKey", serialization.load_pem_private_key(pem, password=None))


def _public_key(pem: bytes) -> RSAPublicKey:
    from cryptography.hazmat.primitives import serialization
    return cast("RSAPublicKey", serialization.load_pem_public_key(pem))


def _configured(settings: Settings) -> PayConfig:
    missing = [name for name in ("WXPAY_CERT_SERIAL_NO", "WXPAY_PRIVATE_KEY_PATH",
                                 "WXPAY_APIV3_KEY", "WXPAY_PUBLIC_KEY_ID",
                                 "WXPAY_PUBLIC_KEY_PATH", "WX_APPID")
               if not getattr(settings, name)]
    if missing:
        raise ConfigError(f"WXPAY_MCHID is set but these are not: {', '.join(missing)}")
    apiv3_key = str(settings.WXPAY_APIV3_KEY).encode()
    if len(apiv3_key) != 32:
        raise ConfigError("WXPAY_APIV3_KEY must be 32 bytes")
    return PayConfig(
        appid=str(settings.WX_APPID), mchid=str(settings.WXPAY_MCHID),
        serial_no=str(settings.WXPAY_CERT_SERIAL_NO),
        private_key=_load_key(settings.WXPAY_PRIVATE_KEY_PATH, _private_key),
        apiv3_key=apiv3_key, public_key_id=str(settings.WXPAY_PUBLIC_KEY_ID),
        public_key=_load_key(settings.WXPAY_PUBLIC_KEY_PATH, _public_key),
        api_base=settings.WXPAY_API_BASE,
        notify_url=settings.WXPAY_NOTIFY_URL or "https://shop.invalid/pay/notify",
        refund_notify_url=settings.WXPAY_REFUND_NOTIFY_URL
        or "https://shop.invalid/pay/refund-notify")


def get_pay_client(settings: Settings, deliver: Optional[Deliver] = None) -> WxPayClient:
    """The WeChat Pay client of this warm instance: the real API, or the dev/test sandbox.

    ``deliver`` is handed to the sandbox (dev and tests only): how its notifies to the
    shop's default ``https://shop.invalid/...`` URLs reach the app; real URLs are POSTed."""
    key = (settings.WXPAY_MCHID, settings.WXPAY_API_BASE, settings.WXPAY_PRIVATE_KEY_PATH,
           settings.WXPAY_PUBLIC_KEY_PATH, settings.WXPAY_NOTIFY_URL, settings.WX_APPID)
    client = _clients.get(key)
    if client is None:
        if settings.uses_pay_sandbox:
            if not settings.is_dev_or_test:
                raise ConfigError("the WeChat Pay sandbox is refused in production")
            from shared.wechat.pay_sandbox import sandbox_config
            config = sandbox_config(settings, deliver)
        else:
            config = _configured(settings)
        client = _clients[key] = WxPayClient(config, settings.WXPAY_TIMEOUT_SECONDS)
    return client
