"""Points: a signed ledger, and the balance on the user that moves in step with it.

Each entry is ``{_id: ref, user_id, points, reason, ref, created_at}``: the ref names what the
entry is for (``referral:<invitee>``), and being the ``_id`` it is unique without relying on an
index, so repeating an award or a reversal does nothing. ``users.points`` is the running sum,
kept by ``$inc`` right after the entry; the ledger is the record (``ledger_balance``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any


def add_points(db: Any, user_id: str, points: int, reason: str, ref: str,
               now: datetime) -> bool:
    """Add (or, when negative, take) points once per ``ref``; False when ``ref`` was recorded."""
    from shared.db import duplicate_key_error
    if not points:
        raise ValueError("an entry moves at least one point")
    try:
        db.points_ledger.insert_one({"_id": ref, "user_id": user_id, "points": points,
                                     "reason": reason, "ref": ref, "created_at": now})
    except duplicate_key_error():
        return False
    # no transactions: a crash right here leaves an entry the balance lacks, which
    # ledger_balance shows; it never counts an entry twice
    db.users.update_one({"_id": user_id}, {"$inc": {"points": points}})
    return True


def ledger_balance(db: Any, user_id: str) -> int:
    """The balance as the ledger has it (what ``users.points`` should say)."""
    return sum(entry["points"] for entry in db.points_ledger.find({"user_id": user_id},
                                                                   {"points": 1}))
