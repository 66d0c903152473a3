"""Anchoring: each UTC day's event hashes under one Merkle root, recorded locally
(``trace_anchors``) and, when configured, written on TBaaS (长安链); every event can show its
path to the root.

The tree (RFC 6962's shape): a leaf is SHA-256(0x00 || event hash bytes), a node
SHA-256(0x01 || left || right), an odd node at the end of a level goes up unchanged. Leaves are
the day's events in (batch_id, seq) order, by the server's ``recorded_at`` day, never the
merchant's ``event_time`` (which could be back-dated into a day already anchored).

No transactions, so the timer's steps are each safe to repeat: the anchor document's ``_id`` is
the day (a second run finds it and reuses it), the events' ``unanchored`` mark is cleared only
after the anchor exists, and a chain write that died before its receipt was kept is written
again (the same key and value: a repeat on chain is harmless).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from shared.core.context import Context, Database
from shared.core.db import insert_once
from shared.core.log import get_logger, log_event

logger = get_logger("shop.trace")
MAX_DAYS_PER_RUN = 31


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
                               "chain": _chain_view(anchor.get("chain"))}
    return found


def _chain_view(chain: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not chain:
        return None
    return {"name": "tbaas", "chain_id": chain.get("chain_id"), "tx_id": chain.get("tx_id"),
            "key": chain.get("key")}


# ---- the trace_anchor timer ----------------------------------------------------------------

def anchor_day(db: Database, day: str, now: datetime) -> dict[str, Any]:
    """The anchor of ``day``: made from its events, or the one an earlier run made."""
    existing = db.trace_anchors.find_one({"_id": day})
    if existing is None:
        events = db.trace_events.find({"day": day}, {"hash": 1, "batch_id": 1, "seq": 1}) \
            .sort([("batch_id", 1), ("seq", 1)])
        leaves = [e["hash"] for e in events]
        insert_once(db.trace_anchors, {"_id": day, "root": merkle_root(leaves), "leaves": leaves,
                                       "count": len(leaves), "status": "recorded",
                                       "created_at": now})
        existing = db.trace_anchors.find_one({"_id": day})
    # the day's events now point at their anchor (a death before this leaves them marked: the
    # next run finds the same anchor and clears them)
    db.trace_events.update_many({"day": day, "unanchored": True}, {"$unset": {"unanchored": ""}})
    return existing


def _put_on_chain(ctx: Context, anchor: dict[str, Any]) -> bool:
    from shared.cloud.tbaas import ChainRefused, put_hash
    key = f"shop-trace:{anchor['_id']}"
    try:
        receipt = put_hash(ctx.settings, key, anchor["root"])
    except ChainRefused as exc:
        db = ctx.db
        db.trace_anchors.update_one({"_id": anchor["_id"]},
                                    {"$inc": {"chain_attempts": 1},
                                     "$set": {"chain_error": str(exc), "chain_tried_at": ctx.now}})
        log_event(logger, "anchor not written on chain", day=anchor["_id"], error=str(exc))
        return False
    ctx.db.trace_anchors.update_one(
        {"_id": anchor["_id"], "status": "recorded"},
        {"$set": {"status": "on_chain", "chain": {"chain_id": ctx.settings.TBAAS_CHAIN_ID,
                                                  "tx_id": receipt.tx_id, "key": key,
                                                  "request_id": receipt.request_id,
                                                  "at": ctx.now}},
         "$unset": {"chain_error": ""}})
    return True


def anchor_trace(ctx: Context) -> dict[str, Any]:
    """Timer trace_anchor: each finished UTC day with events gets its Merkle root (oldest
    first, at most a month per run), then roots not yet on TBaaS go there when configured."""
    from shared.cloud.tbaas import is_configured
    db = ctx.db
    # a day is done once its last append can no longer be in flight
    cutoff = day_of(ctx.now - timedelta(seconds=ctx.settings.TRACE_ANCHOR_GRACE_SECONDS))
    anchored: list[str] = []
    for _ in range(MAX_DAYS_PER_RUN):
        pending = db.trace_events.find_one({"unanchored": True, "day": {"$lt": cutoff}},
                                           {"day": 1}, sort=[("day", 1)])
        if pending is None:
            break
        anchored.append(anchor_day(db, pending["day"], ctx.now)["_id"])
    on_chain = 0
    if is_configured(ctx.settings):
        for anchor in db.trace_anchors.find({"status": "recorded"}).sort([("_id", 1)]) \
                .limit(MAX_DAYS_PER_RUN):
            on_chain += 1 if _put_on_chain(ctx, anchor) else 0
    return {"anchored": anchored, "on_chain": on_chain}


def anchor_view(anchor: dict[str, Any]) -> dict[str, Any]:
    return {"day": anchor["_id"], "root": anchor["root"], "count": anchor["count"],
            "status": anchor["status"], "chain": _chain_view(anchor.get("chain"))}
