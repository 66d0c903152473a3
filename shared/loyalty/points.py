"""Points (and growth): signed ledgers, and the counters on the user that move in step with them.

An entry is ``{_id: ref, user_id, points, reason, ref, created_at, applied, ...}``: the ref names
what the entry is for (``earn:<order>``, ``referral:<invitee>``), and being the ``_id`` it is
unique without relying on an index, so repeating an award or a reversal does nothing.
``users.points`` is the running sum of the applied entries (``ledger_balance``).

No transactions, so an entry and the ``$inc`` move in three steps that a repair can finish:

1. the entry is inserted ``applied: false`` with a short lease (``lease_until``);
2. the user's counter moves by a conditional update that also pushes the ref onto
   ``users.points_pending``, and matches only while the ref is not there: repeating the step
   can never count the entry twice. A negative entry matches only while the balance covers
   it, which is what keeps the balance from ever going below zero under concurrency;
3. the entry is marked applied, then the ref is pulled from the pending list.

A crash between the steps leaves an entry ``applied: false``; once its lease has run out,
``repair`` (from the daily ``points_expiry`` timer) claims it and finishes it. Only the holder
of the lease works on an entry, so the finishing never races the writer. A negative entry the
balance cannot cover is either dropped (``strict``: a checkout, an adjustment) or shrunk to
what is there (``clamp``: reversals and expiry, which must not fail).

Positive point entries are the lots that expire (``expiry_open``; see ``expire_user``).
The same mechanism keeps ``users.growth`` (``GROWTH``: ``growth_ledger``), used by members.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.common import utcnow
from shared.core.events import OrderEvent

# how long the writer of an entry has to finish it before the repair may; real time, not the
# business clock the caller passes (a timer run "a year later" in a test must not steal it)
LEASE = timedelta(minutes=2)
# a clamped entry that keeps losing the race with spends is left to the repair after this
CLAMP_ATTEMPTS = 5


@dataclass(frozen=True)
class Book:
    """A ledger collection and the counter it keeps on ``users``."""
    collection: str
    field: str      # the counter on users, and the amount on each entry
    pending: str    # refs whose $inc is on the user but not yet marked on the entry


POINTS = Book("points_ledger", "points", "points_pending")
GROWTH = Book("growth_ledger", "growth", "growth_pending")


class NotEnough(Exception):
    """A strict negative entry that the balance did not cover; nothing was recorded."""

    def __init__(self, balance: int, requested: int) -> None:
        super().__init__(f"balance {balance} does not cover {requested}")
        self.balance = balance
        self.requested = requested


def _lease() -> datetime:
    return utcnow() + LEASE


# ---- writing and applying entries ----------------------------------------------------------

def record(db: Any, book: Book, user_id: str, amount: int, reason: str, ref: str,
           now: datetime, *, clamp: bool = False,
           fields: Optional[dict[str, Any]] = None) -> Optional[dict[str, Any]]:
    """Write one entry and apply it, once per ``ref``.

    Returns the entry as applied (a clamped one may say less than was asked), or None when
    ``ref`` was recorded before. A strict negative entry the balance cannot cover raises
    NotEnough and leaves nothing behind."""
    entry = {"_id": ref, "user_id": user_id, book.field: amount, "reason": reason, "ref": ref,
             "created_at": now, "applied": False, "lease_until": _lease(), **(fields or {})}
    if amount < 0 and clamp:
        entry.update(clamp=True, wanted=amount)
    if amount > 0 and book is POINTS:
        entry["expiry_open"] = True  # a lot: its unspent remainder expires (expire_user)
    try:
        db[book.collection].insert_one(entry)
    except DuplicateKeyError:
        return None
    settled = _settle(db, book, entry)
    if settled is None and amount < 0 and not clamp:
        user = db.users.find_one({"_id": user_id}, {book.field: 1}) or {}
        raise NotEnough(user.get(book.field, 0), -amount)
    return settled


def _apply(db: Any, book: Book, entry: dict[str, Any]) -> bool:
    """Steps 2 and 3 for an entry whose lease we hold; False if the user's counter refused it."""
    amount, user_id, ref = entry[book.field], entry["user_id"], entry["_id"]
    query: dict[str, Any] = {"_id": user_id, book.pending: {"$ne": ref}}
    if amount < 0:
        query[book.field] = {"$gte": -amount}
    moved = db.users.update_one(query, {"$inc": {book.field: amount}, "$push": {book.pending: ref}})
    if moved.modified_count == 0:
        user = db.users.find_one({"_id": user_id}, {book.pending: 1})
        if user is None or ref not in (user.get(book.pending) or []):
            return False
        # else: a crashed writer moved the counter already; only the marking is left
    db[book.collection].update_one({"_id": ref}, {"$set": {"applied": True},
                                                  "$unset": {"lease_until": ""}})
    db.users.update_one({"_id": user_id}, {"$pull": {book.pending: ref}})
    return True


def _drop(db: Any, book: Book, ref: str) -> None:
    db[book.collection].delete_one({"_id": ref, "applied": False})


def _settle(db: Any, book: Book, entry: dict[str, Any]) -> Optional[dict[str, Any]]:
    """Apply an entry whose lease we hold: as it is, clamped, or not at all (dropped).

    None when it was dropped, or (clamped, after many lost races) left to the repair."""
    for _ in range(CLAMP_ATTEMPTS):
        if _apply(db, book, entry):
            entry["applied"] = True
            return entry
        user = db.users.find_one({"_id": entry["user_id"]}, {book.field: 1})
        if user is None or entry[book.field] >= 0 or not entry.get("clamp"):
            _drop(db, book, entry["_id"])  # no such user, or a strict entry not covered
            return None
        take = min(-entry.get("wanted", entry[book.field]), max(user.get(book.field, 0), 0))
        db[book.collection].update_one({"_id": entry["_id"], "applied": False},
                                       {"$set": {book.field: -take}})
        entry[book.field] = -take
    return None


def repair(db: Any, book: Book, batch: int) -> tuple[dict[str, int], set[str]]:
    """Finish entries whose writer died (lease run out), and pull refs left pending.

    Returns the counts and the users whose counter the repair moved."""
    counts = {"repaired": 0, "dropped": 0}
    touched: set[str] = set()
    stale = list(db[book.collection].find(
        {"applied": False, "lease_until": {"$lt": utcnow()}}).limit(batch))
    for entry in stale:
        claimed = db[book.collection].update_one(
            {"_id": entry["_id"], "applied": False, "lease_until": entry["lease_until"]},
            {"$set": {"lease_until": _lease()}})
        if claimed.modified_count == 0:
            continue  # another repair has it
        if _settle(db, book, entry) is not None:
            counts["repaired"] += 1
            touched.add(entry["user_id"])
            if book is POINTS and entry.get("reason") == "checkout":
                _undo_orphan_checkout(db, entry)
        elif db[book.collection].find_one({"_id": entry["_id"]}, {"_id": 1}) is None:
            counts["dropped"] += 1
    for user in db.users.find({f"{book.pending}.0": {"$exists": True}},
                              {book.pending: 1}).limit(batch):
        for ref in user.get(book.pending) or []:
            done = db[book.collection].find_one({"_id": ref, "applied": True}, {"_id": 1})
            if done is not None:  # marked applied, but the pull never happened
                db.users.update_one({"_id": user["_id"]}, {"$pull": {book.pending: ref}})
    return counts, touched


def ledger_balance(db: Any, user_id: str, book: Book = POINTS) -> int:
    """The balance as the ledger has it (what ``users.points`` should say)."""
    return sum(entry.get(book.field, 0) for entry in db[book.collection].find(
        {"user_id": user_id, "applied": {"$ne": False}}, {book.field: 1}))


def balance(db: Any, user_id: str, book: Book = POINTS) -> int:
    user = db.users.find_one({"_id": user_id}, {book.field: 1}) or {}
    return user.get(book.field, 0)


def add_points(db: Any, user_id: str, points: int, reason: str, ref: str,
               now: datetime) -> bool:
    """Add (or, when negative, take back as much as is there) points once per ``ref``.

    False when ``ref`` was recorded before."""
    if not points:
        raise ValueError("an entry moves at least one point")
    return record(db, POINTS, user_id, points, reason, ref, now, clamp=points < 0) is not None


# ---- spending at checkout ------------------------------------------------------------------

def checkout_ref(order_id: str) -> str:
    return f"checkout:{order_id}"


def spend_for_order(db: Any, user_id: str, order_id: str, points: int, now: datetime) -> None:
    """Take ``points`` for an order (1 point = 1 fen off); refused when the balance is short."""
    from shared.core.errors import ShopError
    try:
        record(db, POINTS, user_id, -points, "checkout", checkout_ref(order_id), now,
               fields={"order_id": order_id})
    except NotEnough as exc:
        raise ShopError("CONFLICT", "not enough points",
                        {"points": exc.balance, "requested": points}) from None


def check_for_order(balance_now: int, points: int) -> None:
    """Refuse as ``spend_for_order`` would (the preview): the balance must cover ``points``."""
    from shared.core.errors import ShopError
    if balance_now < points:
        raise ShopError("CONFLICT", "not enough points",
                        {"points": balance_now, "requested": points})


def give_back_for_order(db: Any, order_id: str, now: Optional[datetime] = None) -> bool:
    """Return what an order spent, once (it was cancelled or never placed)."""
    spend = db.points_ledger.find_one({"_id": checkout_ref(order_id)})
    if spend is None:
        return False
    if spend.get("applied") is False:
        # the writer died mid-way (its order is being cleaned up): finish or drop it first
        if spend.get("lease_until") and spend["lease_until"] > utcnow():
            return False  # still being written; the repair returns it once applied
        claimed = db.points_ledger.update_one(
            {"_id": spend["_id"], "applied": False, "lease_until": spend.get("lease_until")},
            {"$set": {"lease_until": _lease()}})
        if claimed.modified_count == 0 or _settle(db, POINTS, spend) is None:
            return False
    return record(db, POINTS, spend["user_id"], -spend["points"], "checkout_returned",
                  f"checkout_return:{order_id}", now or utcnow(),
                  fields={"order_id": order_id}) is not None


def on_order_released(db: Any, event: OrderEvent) -> None:
    """An unpaid order that spent points was cancelled (or never placed): they come back,
    once (the return is recorded under the order's own ref)."""
    if event.order.get("points_used"):
        give_back_for_order(db, event.order["_id"], event.now)


def _undo_orphan_checkout(db: Any, entry: dict[str, Any]) -> None:
    """A checkout the repair finished whose order is gone or cancelled: give it back."""
    order = db.orders.find_one({"_id": entry.get("order_id")}, {"status": 1})
    if order is None or order["status"] in ("cancelled", "failed"):
        give_back_for_order(db, entry["order_id"])


# ---- expiry: the unspent remainder of each old lot, first in first out ---------------------

def expire_user(db: Any, user_id: str, cutoff: datetime, now: datetime) -> tuple[int, int]:
    """Expire what is left of this user's lots earned before ``cutoff``; (entries, points).

    Walking the applied ledger in time order, every negative entry uses up the oldest lots
    first (an expiry entry uses up its own lot); what a lot still has at the end is unspent.
    The expiry is recorded against the lot (``expire:<lot>``), so a second run adds nothing."""
    entries = list(db.points_ledger.find(
        {"user_id": user_id, "applied": {"$ne": False}},
        {"points": 1, "created_at": 1, "expiry_open": 1, "lot": 1})
        .sort([("created_at", 1), ("_id", 1)]))
    lots: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    deficit = 0  # used up before any lot could cover it (entries applied out of time order)
    for entry in entries:
        amount = entry.get("points", 0)
        if amount > 0:
            lot = {"id": entry["_id"], "left": amount, "at": entry["created_at"],
                   "open": bool(entry.get("expiry_open"))}
            absorbed = min(lot["left"], deficit)
            lot["left"] -= absorbed
            deficit -= absorbed
            lots.append(lot)
            by_id[lot["id"]] = lot
        elif amount < 0:
            need = -amount
            own = by_id.get(entry.get("lot") or "")
            if own is not None:
                taken = min(own["left"], need)
                own["left"] -= taken
                need -= taken
            for lot in lots:
                if need == 0:
                    break
                taken = min(lot["left"], need)
                lot["left"] -= taken
                need -= taken
            deficit += need
    expired_entries = expired_points = 0
    for lot in lots:
        if not lot["open"] or lot["at"] >= cutoff:
            continue
        if lot["left"] > 0:
            done = record(db, POINTS, user_id, -lot["left"], "expired", f"expire:{lot['id']}",
                          now, clamp=True, fields={"lot": lot["id"]})
            if done is None and db.points_ledger.find_one(
                    {"_id": f"expire:{lot['id']}", "applied": True}, {"_id": 1}) is None:
                continue  # not settled yet: the lot stays open for the next run
            if done is not None and done["points"]:
                expired_entries += 1
                expired_points -= done["points"]
        db.points_ledger.update_one({"_id": lot["id"]}, {"$unset": {"expiry_open": ""}})
    return expired_entries, expired_points
