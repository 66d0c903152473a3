"""The cryptography of a trace: canonical JSON, the hash chain, the shop's Ed25519 key, and the
check anyone can repeat offline with the public key.

An event's ``hash`` is the SHA-256 hex of the canonical JSON of
``{batch_id, seq, biz_step, event_time, read_point, data, prev_hash}``: keys sorted, separators
``,`` and ``:``, UTF-8 (not ASCII escapes), integers and strings only. Floats are refused at
the door: their text differs between languages (``1e-07`` vs ``1E-7``), so a verifier written
in another language would compute another hash. The ``signature`` is Ed25519 over the hash's
32 bytes, base64.

The key: ``TRACE_SIGNING_KEY`` (base64 of the 32-byte raw private key). Dev and test generate
one per database and keep it in ``trace_keys``; production refuses to sign without the setting
(and refuses to start with a malformed one, shared.core.config).
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from functools import lru_cache
from typing import Any, Optional

from shared.core.config import ConfigError, Settings
from shared.core.context import Database
from shared.core.db import insert_once

GENESIS = "0" * 64
HASHED_FIELDS = ("batch_id", "seq", "biz_step", "event_time", "read_point", "data", "prev_hash")
# JavaScript's safe integers: a verifier in a browser reads larger ones wrongly
MAX_INT = 2 ** 53 - 1
DEV_KEY_ID = "dev"
# the dev key of this warm instance, with the database handle it was read from (a new handle,
# in tests or after a reset, reads its own)
_dev_key: Optional[tuple[Any, Any]] = None
_dev_lock = threading.Lock()


def check_plain(value: Any, path: str = "data") -> None:
    """ValueError unless ``value`` holds only strings, integers, lists and string-keyed objects
    (what the canonical JSON allows); the message names the place."""
    if isinstance(value, bool) or isinstance(value, float):
        kind = "booleans" if isinstance(value, bool) else "floats"
        raise ValueError(f"{path}: {kind} are not allowed (integers and strings only; "
                         "write 12.5 as \"12.5\" or as 125 in a smaller unit)")
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ValueError(f"{path}: integers must lie within ±2^53-1")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings")
            check_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain(item, f"{path}[{index}]")
    elif not isinstance(value, str):
        raise ValueError(f"{path}: {type(value).__name__} is not allowed "
                         "(integers and strings only)")


def canonical(value: dict[str, Any]) -> bytes:
    """The one byte string a value hashes to, in any language that sorts keys."""
    check_plain(value, "value")
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({name: event[name] for name in HASHED_FIELDS})).hexdigest()


# ---- the key --------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def parse_key(text: str) -> Any:
    """The Ed25519 private key of base64 ``text`` (32 raw bytes); ValueError otherwise."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{len(raw)} bytes, not the 32 of a raw Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key(db: Database, settings: Settings) -> Any:
    """The shop's trace key: the setting, or (dev and test only) the database's own, read once
    per warm instance (get_trace is public: a scan should cost no key read)."""
    global _dev_key
    if settings.TRACE_SIGNING_KEY:
        return parse_key(settings.TRACE_SIGNING_KEY)
    if not settings.is_dev_or_test:
        raise ConfigError("TRACE_SIGNING_KEY is required in production (base64 of a 32-byte "
                          "Ed25519 private key); no dev key is ever made there")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    cached = _dev_key
    if cached is not None and cached[0] is db:
        return cached[1]
    stored = db.trace_keys.find_one({"_id": DEV_KEY_ID})
    if stored is None:
        fresh = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        # two first signers race: one key wins, both read it back
        insert_once(db.trace_keys, {"_id": DEV_KEY_ID,
                                    "private_key": base64.b64encode(fresh).decode()})
        stored = db.trace_keys.find_one({"_id": DEV_KEY_ID})
    key = parse_key(stored["private_key"])
    with _dev_lock:
        _dev_key = (db, key)
    return key


def public_key_b64(key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(key: Any, hash_hex: str) -> str:
    return base64.b64encode(key.sign(bytes.fromhex(hash_hex))).decode()


# ---- the check ------------------------------------------------------------------------------

def _signature_holds(public_key: Any, signature: str, hash_hex: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    try:
        public_key.verify(base64.b64decode(signature), bytes.fromhex(hash_hex))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def first_bad_seq(batch_id: str, events: list[dict[str, Any]], public_key: Any) -> Optional[int]:
    """The seq of the first event that breaks the chain (its place, its link, its hash or its
    signature), or None when the whole chain holds. ``events`` in seq order."""
    prev = GENESIS
    for position, event in enumerate(events, start=1):
        try:
            holds = (event["batch_id"] == batch_id and event["seq"] == position
                     and event["prev_hash"] == prev and event_hash(event) == event["hash"]
                     and _signature_holds(public_key, event["signature"], event["hash"]))
        except (KeyError, ValueError, TypeError):
            holds = False
        if not holds:
            # a deleted event shows as the first seq out of place, an edited one as its own
            return position
        prev = event["hash"]
    return None
