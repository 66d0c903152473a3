"""Open data the mini-program hands over encrypted (wx.getShareInfo's group id, the phone
number of older APIs): AES-128-CBC, PKCS#7, key = base64 session_key (16 bytes), iv = the
base64 iv that came with it. The plain text is JSON with a ``watermark`` naming the appid,
which must be ours: data encrypted for another mini-program is refused.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Optional

from shared.core.errors import ShopError


def _refused(why: str) -> ShopError:
    return ShopError("SHARE_DATA_INVALID", f"the encrypted data cannot be read: {why}")


def decrypt_open_data(session_key: str, encrypted_data: str, iv: str,
                      appid: Optional[str]) -> dict[str, Any]:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    try:
        key = base64.b64decode(session_key, validate=True)
        vector = base64.b64decode(iv, validate=True)
        data = base64.b64decode(encrypted_data, validate=True)
    except (binascii.Error, ValueError):
        raise _refused("not base64") from None
    if len(key) != 16 or len(vector) != 16 or not data or len(data) % 16:
        raise _refused("wrong key, iv or length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(vector)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + \
            unpadder.finalize()
        body = json.loads(plain.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        # a session key that changed since (a new wx.login) reads as garbage here
        raise _refused("not ours, or the session changed") from None
    if not isinstance(body, dict):
        raise _refused("not an object")
    watermark = body.get("watermark") or {}
    if appid and (not isinstance(watermark, dict) or watermark.get("appid") != appid):
        raise _refused("another mini-program's data")
    return body


def encrypt_open_data(session_key: str, iv: str, body: dict[str, Any]) -> str:
    """What WeChat does (the sandbox and the tests play it): base64 of the padded cipher."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(body).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)),
                       modes.CBC(base64.b64decode(iv))).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
