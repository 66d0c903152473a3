"""Settling a leader's available commission: ``merchant_settle_commissions``.

Exactly once, without transactions: the settlement record is written first (``settling``,
naming the leader and ``up_to``), then each available entry is claimed by a conditional update
(``available -> paid`` with the settlement's id), so an entry is paid by one settlement only,
whoever races. Concurrent calls for one leader queue on a short lease (``settle_leases``) so
the second finds nothing left rather than splitting the entries; the conditional claims stay
the judge if a lease runs out. A settlement a crash left ``settling`` is finished by the next
call for that leader (its entries are found by its id); a retry with the same ``up_to``
continues it and answers with it; settling again up to the same moment with nothing new
available answers with the settlement made then (so two concurrent calls answer alike). The
answer carries the CSV the console writes to a file (paying out through WeChat Pay's merchant
transfer is a later step).
"""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, iso, new_id
from shared.core.context import Context, Database
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event
from shared.live.commission import net

logger = get_logger("shop.live")

LEASE = timedelta(seconds=30)
CSV_COLUMNS = ("entry_id", "kind", "order_id", "buyer_user_id", "base", "percent", "amount",
               "reversed", "net", "available_at")


class SettleCommissionsInput(Input):
    leader_user_id: str = Field(min_length=1, max_length=64)
    up_to: datetime = Field(description="settle entries that became available at or before")


def _take_lease(db: Database, leader: str, holder: str, now: datetime) -> bool:
    try:
        taken = db.settle_leases.update_one(
            {"_id": leader, "$or": [{"until": {"$lt": now}}, {"holder": holder}]},
            {"$set": {"until": now + LEASE, "holder": holder}}, upsert=True)
        return taken.matched_count == 1 or taken.upserted_id is not None
    except DuplicateKeyError:
        return False  # another call holds it


def _wait_for_lease(db: Database, leader: str, holder: str, now: datetime) -> None:
    for _ in range(100):
        if _take_lease(db, leader, holder, now):
            return
        time.sleep(0.05)
    raise ShopError("CONFLICT", "another settlement for this leader is under way; retry")


def _rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"entry_id": e["_id"], "kind": e.get("kind", "order"), "order_id": e.get("order_id"),
             "buyer_user_id": e.get("buyer_user_id"), "base": e.get("base", 0),
             "percent": e.get("percent", 0), "amount": e["amount"],
             "reversed": e.get("reversed", 0), "net": net(e),
             "available_at": iso(e.get("available_at"))} for e in entries]


def settlement_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})
    return buffer.getvalue()


def _finish(db: Database, settlement: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Claim what the settlement covers, then record its entries and total."""
    for entry in list(db.commissions.find(
            {"leader_user_id": settlement["leader_user_id"], "status": "available",
             "available_at": {"$lte": settlement["up_to"]}}, {"_id": 1})
            .limit(10_000)):
        db.commissions.update_one({"_id": entry["_id"], "status": "available"},
                                  {"$set": {"status": "paid", "paid_at": now,
                                            "settlement_id": settlement["_id"]}})
    entries = list(db.commissions.find({"settlement_id": settlement["_id"]})
                   .sort([("available_at", 1), ("_id", 1)]))
    rows = _rows(entries)
    fields = {"status": "settled", "entries": len(rows),
              "amount": sum(r["net"] for r in rows), "entry_ids": [r["entry_id"] for r in rows],
              "settled_at": now}
    db.commission_settlements.update_one({"_id": settlement["_id"]}, {"$set": fields})
    return {**settlement, **fields, "rows": rows}


def _anything_to_settle(db: Database, req: SettleCommissionsInput) -> bool:
    return db.commissions.find_one({"leader_user_id": req.leader_user_id, "status": "available",
                                    "available_at": {"$lte": req.up_to}}, {"_id": 1}) is not None


def settlement_view(doc: dict[str, Any]) -> dict[str, Any]:
    rows = doc.get("rows", [])
    return {"id": doc["_id"], "leader_user_id": doc["leader_user_id"],
            "up_to": iso(doc["up_to"]), "status": doc["status"], "entries": doc["entries"],
            "amount": doc["amount"], "created_at": iso(doc["created_at"]),
            "settled_at": iso(doc.get("settled_at")), "rows": rows,
            "csv": settlement_csv(rows)}


def settle_commissions(ctx: Context, req: SettleCommissionsInput) -> dict[str, Any]:
    """Mark a leader's available commission up to ``up_to`` paid, once; the record and CSV."""
    db, now = ctx.db, ctx.now
    holder = new_id("lease")
    _wait_for_lease(db, req.leader_user_id, holder, now)
    try:
        settlement = None
        for left in list(db.commission_settlements.find(
                {"leader_user_id": req.leader_user_id, "status": "settling"})):
            if settlement is None and left["up_to"] == req.up_to:
                settlement = left   # this very call, retried after its instance died
            else:
                _finish(db, left, now)  # another settlement a crash cut short
        if settlement is None and not _anything_to_settle(db, req):
            # settled up to this moment already (a retry whose first call finished, or a
            # concurrent twin): answer with that settlement rather than an empty new one
            settlement = db.commission_settlements.find_one(
                {"leader_user_id": req.leader_user_id, "up_to": req.up_to,
                 "status": "settled"}, sort=[("created_at", -1)])
        if settlement is None:
            settlement = {"_id": new_id("stl"), "leader_user_id": req.leader_user_id,
                          "up_to": req.up_to, "status": "settling", "entries": 0,
                          "amount": 0, "created_at": now}
            db.commission_settlements.insert_one(settlement)
        done = _finish(db, settlement, now)
    finally:
        db.settle_leases.delete_one({"_id": req.leader_user_id, "holder": holder})
    log_event(logger, "commissions settled", settlement_id=done["_id"],
              entries=done["entries"], amount=done["amount"])
    return settlement_view(done)
