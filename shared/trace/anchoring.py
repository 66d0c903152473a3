"""The trace_anchor timer: each finished UTC day's trace events under one Merkle root
(shared.trace.anchor), recorded locally (``trace_anchors``) and, when configured, written on
TBaaS (长安链) through shared.cloud.tbaas.

No transactions, so each step is safe to repeat: the anchor document's ``_id`` is the day (a
second run finds it and reuses it), the events' ``unanchored`` mark is cleared only after the
anchor exists, and a chain write that died before its receipt was kept is written again (the
same key and value: a repeat on chain is harmless).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.core.context import Context, Database
from shared.core.db import insert_once
from shared.core.log import get_logger, log_event
from shared.trace.anchor import day_of, merkle_root

logger = get_logger("shop.trace")
MAX_DAYS_PER_RUN = 31
# a day is anchored once its last append can no longer be in flight
GRACE = timedelta(minutes=10)
CHAIN_KEY_PREFIX = "shop-trace:"


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
    key = CHAIN_KEY_PREFIX + anchor["_id"]
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
    cutoff = day_of(ctx.now - GRACE)
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
