"""Anchors of the trace: each UTC day's event hashes under one Merkle root (made by the
trace_anchor timer, shared.trace.anchoring), and each event's path to its day's root.

The tree (RFC 6962's shape): a leaf is SHA-256(0x00 || event hash bytes), a node
SHA-256(0x01 || left || right), an odd node at the end of a level goes up unchanged. Leaves are
the day's events in (batch_id, seq) order, by the server's ``recorded_at`` day, never the
merchant's ``event_time`` (which could be back-dated into a day already anchored).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Optional

from shared.core.context import Database


def leaf_hash(event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(hashes: list[str]) -> str:
    level = [leaf_hash(h) for h in hashes]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0].hex()


def proof_path(hashes: list[str], index: int) -> list[dict[str, str]]:
    """The siblings from leaf ``index`` up to the root, each with the side it sits on."""
    level = [leaf_hash(h) for h in hashes]
    path: list[dict[str, str]] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append({"hash": level[sibling].hex(),
                         "side": "left" if sibling < index else "right"})
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        index //= 2
    return path


def root_from_path(event_hash: str, path: list[dict[str, str]]) -> str:
    """What a verifier does with a proof: climb from the event's hash to a root."""
    node = leaf_hash(event_hash)
    for step in path:
        sibling = bytes.fromhex(step["hash"])
        node = _node(sibling, node) if step["side"] == "left" else _node(node, sibling)
    return node.hex()


def day_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


# ---- proofs for get_trace -------------------------------------------------------------------

def proofs(db: Database, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """event id -> its anchor proof, for the events whose day is anchored (one read)."""
    days = sorted({e["day"] for e in events if not e.get("unanchored") and e.get("day")})
    if not days:
        return {}
    anchors = {a["_id"]: a for a in db.trace_anchors.find({"_id": {"$in": days}})}
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        anchor = anchors.get(event.get("day"))
        if anchor is None or event["hash"] not in anchor["leaves"]:
            continue
        index = anchor["leaves"].index(event["hash"])
        found[event["_id"]] = {"day": anchor["_id"], "root": anchor["root"], "index": index,
                               "leaves": len(anchor["leaves"]),
                               "path": proof_path(anchor["leaves"], index),
                               "chain": chain_view(anchor.get("chain"))}
    return found


def chain_view(chain: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not chain:
        return None
    return {"name": "tbaas", "chain_id": chain.get("chain_id"), "tx_id": chain.get("tx_id"),
            "key": chain.get("key")}


def anchor_view(anchor: dict[str, Any]) -> dict[str, Any]:
    return {"day": anchor["_id"], "root": anchor["root"], "count": anchor["count"],
            "status": anchor["status"], "chain": chain_view(anchor.get("chain"))}
