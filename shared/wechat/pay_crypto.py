"""The primitives of WeChat Pay API v3 that both sides of the protocol use: the merchant's
configuration, the time format, nonces, and RSA-SHA256 signatures (PKCS#1 v1.5, base64).

The client (``pay``) and the dev sandbox (``pay_sandbox``) both import this module and nothing
of each other's, so imports go one way: pay -> pay_sandbox -> pay_crypto, pay -> pay_crypto.
``cryptography`` is imported on first use, to keep a cold start light.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

CHINA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class PayConfig:
    appid: str
    mchid: str
    serial_no: str
    private_key: RSAPrivateKey  # the merchant's
    apiv3_key: bytes
    public_key_id: str
    public_key: RSAPublicKey    # WeChat Pay's
    api_base: str
    notify_url: str
    refund_notify_url: str


def rfc3339(moment: datetime) -> str:
    """WeChat Pay's time format: ``2018-06-08T10:34:56+08:00``."""
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()


def nonce() -> str:
    return secrets.token_hex(16).upper()


def rsa_sign(private_key: RSAPrivateKey, message: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    signature = private_key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(public_key: RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), message,
                          padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
