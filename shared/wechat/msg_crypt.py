"""WeChat's message-push security: signatures and the safe mode's AES (WXBizMsgCrypt).

- URL verification and every push: ``signature = sha1(sorted([token, timestamp, nonce]))``.
- Safe mode: the body carries ``Encrypt``, signed by ``msg_signature = sha1(sorted([token,
  timestamp, nonce, Encrypt]))``. ``Encrypt`` is base64 of AES-256-CBC with the key
  ``base64(EncodingAESKey + "=")`` (32 bytes) and its first 16 bytes as IV, over
  ``16 random bytes + len(msg) as 4 bytes big-endian + msg + appid``, padded PKCS#7 to a
  32-byte block (not AES's 16: WeChat's own choice).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from typing import Optional

BLOCK = 32


class CryptError(Exception):
    """A push that is not signed by the shop's token, or does not decrypt to a message."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(expected: str, *parts: str) -> None:
    if not expected or not hmac.compare_digest(signature(*parts), expected.lower()):
        raise CryptError("invalid signature")


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise CryptError("the EncodingAESKey is not 43 base64 characters")
    return key


def _pad(data: bytes) -> bytes:
    size = BLOCK - len(data) % BLOCK
    return data + bytes([size]) * size


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CryptError("empty message")
    size = data[-1]
    if not 1 <= size <= BLOCK or data[-size:] != bytes([size]) * size:
        raise CryptError("bad padding")
    return data[:-size]


def encrypt(encoding_aes_key: str, message: str, appid: str,
            random: Optional[bytes] = None) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = aes_key(encoding_aes_key)
    body = message.encode("utf-8")
    plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + \
        appid.encode("utf-8")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, encrypted: str, appid: Optional[str]) -> str:
    """The message inside ``Encrypt``; CryptError when it is not one for ``appid``."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except ValueError:
        raise CryptError("Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise CryptError("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = _unpad(decryptor.update(data) + decryptor.finalize())
    if len(plain) < 20:
        raise CryptError("message too short")
    (length,) = struct.unpack(">I", plain[16:20])
    body, from_appid = plain[20:20 + length], plain[20 + length:]
    if len(body) != length:
        raise CryptError("message length mismatch")
    if appid and from_appid.decode("utf-8", "replace") != appid:
        raise CryptError("the message is for another appid")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptError("the message is not UTF-8") from None
