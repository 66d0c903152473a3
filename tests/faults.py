"""Fault injection: an instance that dies right after its k-th database write.

An SCF instance can die after any write (timeout, out of memory, a redeploy). To show that
every multi-step flow is finished or undone by a retry or a timer, a test wraps the shop's one
database handle (``shared.core.db``) in a proxy that counts every write operation and, when
told, raises ``InstanceDied`` right after write k. ``InstanceDied`` derives from
``BaseException``, so no ``except Exception`` in the shop can catch it: the flow stops there,
as a killed process would.

Typical use (the ``faulty_db`` fixture in tests/conftest.py installs the proxy)::

    n = count_writes(faulty_db, lambda: shopper.call("place_order", payload))  # on a twin set-up
    for k in range(1, n + 1):            # or @pytest.mark.parametrize("k", range(1, MAX + 1))
        ... set up ...
        with die_after_write(faulty_db, k) as fault:
            shopper.call("place_order", payload)
        assert fault.died                # else the flow had fewer than k writes
        shopper.call("place_order", payload)          # the retry, same request_id
        recover(clock)                   # the clock moved past every timeout, the timers run
        check_all(faulty_db, stock_before)

What counts as one write: one call of a write method of a collection (below, ``WRITES``) that
returned; a call that raised (a duplicate key) changed nothing, so it is not a point to die
after. Reads are not counted. The invariants are plain functions that raise AssertionError
with what is wrong; ``check_all`` runs every one of them.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

if TYPE_CHECKING:
    from tests.helpers import Clock

WRITES = frozenset({
    "insert_one", "insert_many", "update_one", "update_many", "replace_one",
    "find_one_and_update", "find_one_and_replace", "find_one_and_delete",
    "delete_one", "delete_many", "bulk_write",
})

# the repairing timers, in the order a recovery runs them (names not in TIMERS are skipped)
RECOVERY_TIMERS = ("order_events", "order_timeout", "pay_reconcile", "group_buy_expire",
                   "points_expiry", "refund_reconcile", "after_sale_reconcile")


class InstanceDied(BaseException):
    """The instance was killed right after a database write; nothing in the shop catches it."""

    def __init__(self, write: int, operation: str) -> None:
        super().__init__(f"instance died right after write {write} ({operation})")
        self.write = write
        self.operation = operation


# ---- the proxy ---------------------------------------------------------------------------------

@dataclass
class Fault:
    """One armed death: after write ``at`` (counted from arming). ``died`` once it happened."""
    at: int
    writes: int = 0                 # writes seen since arming
    died: bool = False
    operation: Optional[str] = None  # "orders.update_one" that was the last write before death
    for_good: bool = False          # after the death, no write at all until disarmed
    log: list[str] = field(default_factory=list)  # every write since arming, in order


class FaultyDatabase:
    """The shop's database, every write counted, a death after write k when armed.

    Works over the embedded (mongomock behind its lock) and a real pymongo database alike.
    Counting is process-wide (every thread), like an instance's life."""

    def __init__(self, database: Any) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._fault: Optional[Fault] = None
        self._dead: Optional[Fault] = None   # a death for good: every write refused until disarm
        self.name = database.name
        self.writes = 0               # every write through the proxy, since it was made

    # collections, as attributes and items
    def __getitem__(self, name: str) -> FaultyCollection:
        return FaultyCollection(self, self._database[name], name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._database, name)
        if hasattr(attr, "find_one_and_update"):
            return FaultyCollection(self, attr, name)
        return attr

    @property
    def unwrapped(self) -> Any:
        return self._database

    def arm(self, at: int, for_good: bool = False) -> Fault:
        if at < 1:
            raise ValueError("a death comes after write 1 at the earliest")
        with self._lock:
            self._fault = Fault(at, for_good=for_good)
            return self._fault

    def disarm(self) -> None:
        with self._lock:
            self._fault = None
            self._dead = None

    def _alive(self, operation: str) -> None:
        """Before a write: a flow dead for good writes nothing more, not even in the
        ``except BaseException`` / ``finally`` cleanups a killed process never runs."""
        dead = self._dead
        if dead is not None:
            raise InstanceDied(dead.writes, f"{operation} (after the death)")

    def _wrote(self, operation: str) -> None:
        with self._lock:
            self.writes += 1
            fault = self._fault
            if fault is None or fault.died:
                return
            fault.writes += 1
            fault.log.append(operation)
            if fault.writes < fault.at:
                return
            fault.died = True
            fault.operation = operation
            self._fault = None  # one death per arming: what runs after (a retry) lives
            if fault.for_good:
                self._dead = fault
        raise InstanceDied(fault.writes, operation)


class FaultyCollection:
    def __init__(self, db: FaultyDatabase, collection: Any, name: str) -> None:
        self._db = db
        self._collection = collection
        self._name = name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._db._alive(f"{self._name}.{name}")
            result = attr(*args, **kwargs)
            self._db._wrote(f"{self._name}.{name}")
            return result
        return write


def install() -> FaultyDatabase:
    """Make a FaultyDatabase the shop's database (``get_db()``); ``uninstall`` undoes it."""
    from shared.core import db as core_db
    real = core_db.get_db()
    if isinstance(real, FaultyDatabase):
        return real
    proxy = FaultyDatabase(real)
    core_db._db = proxy
    return proxy


def uninstall(proxy: FaultyDatabase) -> None:
    from shared.core import db as core_db
    if core_db._db is proxy:
        core_db._db = proxy.unwrapped


# ---- dying and counting ----------------------------------------------------------------------

@contextlib.contextmanager
def die_after_write(db: FaultyDatabase, k: int, for_good: bool = False) -> Iterator[Fault]:
    """Run the block; the instance dies right after the block's k-th write.

    The death (``InstanceDied``) ends the block and is swallowed here, so the test goes on to
    the retry and the timers; ``fault.died`` says whether it came (False: the block finished
    with fewer than k writes, ``fault.writes`` of them). ``for_good``: as a killed process,
    the flow writes nothing after the death, not even in ``except BaseException`` handlers."""
    fault = db.arm(k, for_good)
    try:
        yield fault
    except InstanceDied:
        if not fault.died:
            raise  # another arming's death: not ours to swallow
    finally:
        db.disarm()


def count_writes(db: FaultyDatabase, flow: Callable[[], Any]) -> int:
    """How many writes ``flow()`` makes (it runs for real: use a twin of the set-up)."""
    before = db.writes
    flow()
    return db.writes - before


def crash_points(db: FaultyDatabase, flow: Callable[[], Any]) -> range:
    """1..n for a flow of n writes (runs the flow once to count: on a twin of the set-up)."""
    return range(1, count_writes(db, flow) + 1)


# ---- recovery: the retry, then the timers with the clock moved on ----------------------------

def run_timer(name: str) -> Any:
    """Run one timer as its trigger would (through the dispatcher); its data; fails if not ok."""
    from shared.core.dispatch import run_timer as dispatch_timer
    outcome = dispatch_timer(name)
    assert outcome.envelope["ok"], (name, outcome.envelope)
    return outcome.envelope["data"]


def run_timers(clock: Clock, names: Optional[Iterable[str]] = None,
               advance: timedelta = timedelta(minutes=20), rounds: int = 2) -> dict[str, Any]:
    """Move the clock on by ``advance`` and run the repairing timers, ``rounds`` times (a repair
    may leave work for the next run, e.g. a lease it must wait out); the last results by name.

    ``names``: the timers to run (default: every one of ``RECOVERY_TIMERS`` that exists)."""
    from shared.core.actions import TIMERS
    wanted = [n for n in (names or RECOVERY_TIMERS) if n in TIMERS]
    results: dict[str, Any] = {}
    for _ in range(rounds):
        clock.advance(advance)
        for name in wanted:
            results[name] = run_timer(name)
    return results


def recover(clock: Clock, retry: Optional[Callable[[], Any]] = None,
            advance: timedelta = timedelta(minutes=20), rounds: int = 2) -> Any:
    """The retry (if any; its answer is returned), then the timers with the clock moved on."""
    answer = retry() if retry is not None else None
    run_timers(clock, advance=advance, rounds=rounds)
    return answer


# ---- invariants --------------------------------------------------------------------------------

LIVE_UNPAID = ("reserving", "pending_payment")
BOOKS = (("points_ledger", "points", "points_pending"),
         ("growth_ledger", "growth", "growth_pending"))
ENDED_UNPAID = ("cancelled", "failed")


def stock_totals(db: Any) -> dict[str, int]:
    """stock + locked + sold per SKU: take it before the flow, compare after (check_stock)."""
    return {s["_id"]: s.get("stock", 0) + s.get("locked", 0) + s.get("sold", 0)
            for s in db.skus.find({}, {"stock": 1, "locked": 1, "sold": 1})}


def check_stock(db: Any, totals_before: dict[str, int]) -> None:
    """stock + locked + sold unchanged per SKU; locked == the units of live unpaid orders; no
    SKU counter below zero; every line of a pending order locked, none of an ended one."""
    assert stock_totals(db) == totals_before, "stock + locked + sold changed"
    held: dict[str, int] = {}
    for order in db.orders.find({"status": {"$in": list(LIVE_UNPAID) + list(ENDED_UNPAID)}},
                                {"status": 1, "items": 1}):
        for line in order["items"]:
            if order["status"] == "pending_payment":
                assert line.get("stock") == "locked", (order["_id"], line)
            if order["status"] in ENDED_UNPAID:
                assert line.get("stock") != "locked", (order["_id"], line)
            if order["status"] in LIVE_UNPAID and line.get("stock") == "locked":
                held[line["sku_id"]] = held.get(line["sku_id"], 0) + line["quantity"]
    for sku in db.skus.find({}, {"stock": 1, "locked": 1, "sold": 1}):
        assert min(sku.get("stock", 0), sku.get("locked", 0), sku.get("sold", 0)) >= 0, sku
        assert sku.get("locked", 0) == held.get(sku["_id"], 0), \
            f"{sku['_id']}: locked {sku.get('locked', 0)}, live unpaid orders hold " \
            f"{held.get(sku['_id'], 0)}"


def check_no_half_placed(db: Any) -> None:
    """No order is left ``reserving`` (after the timers: finished or undone)."""
    stuck = [o["_id"] for o in db.orders.find({"status": "reserving"}, {"_id": 1})]
    assert not stuck, f"orders still reserving: {stuck}"


def check_coupons(db: Any) -> None:
    """A coupon is used by at most one live order, and available again when its order ended
    unpaid (or never came to exist)."""
    live_by_coupon: dict[str, list[str]] = {}
    for order in db.orders.find({"coupon_id": {"$nin": [None, ""]}},
                                {"coupon_id": 1, "status": 1}):
        # a refunded order gave its coupon back (refunds); an ended unpaid one must have
        if order["status"] not in ENDED_UNPAID + ("refunded",):
            live_by_coupon.setdefault(order["coupon_id"], []).append(order["_id"])
    for coupon_id, orders in live_by_coupon.items():
        assert len(orders) == 1, f"coupon {coupon_id} used by live orders {orders}"
        coupon = db.user_coupons.find_one({"_id": coupon_id}, {"status": 1, "order_id": 1})
        assert coupon is not None and coupon["status"] == "used" \
            and coupon.get("order_id") == orders[0], \
            f"order {orders[0]} uses coupon {coupon_id}, which is {coupon}"
    for coupon in db.user_coupons.find({"status": "used"}, {"order_id": 1}):
        order = db.orders.find_one({"_id": coupon.get("order_id")}, {"status": 1})
        assert order is not None, f"coupon {coupon['_id']} used by a missing order"
        assert order["status"] not in ENDED_UNPAID, \
            f"coupon {coupon['_id']} still used by {order['_id']}, which is {order['status']}"


def check_points(db: Any) -> None:
    """Per user: points and growth equal their ledgers (an entry counts once it is on the
    counter: applied, or pushed as pending by a writer that died); per paid order: growth
    (and points, when it earns any) earned exactly once; no points earned for an order never
    paid; what an order that ended unpaid spent came back."""
    for book, field_, pending in BOOKS:
        sums: dict[str, int] = {}
        for entry in db[book].find({"applied": {"$ne": False}}):
            sums[entry["user_id"]] = sums.get(entry["user_id"], 0) + entry.get(field_, 0)
        for entry in db[book].find({"applied": False}):
            # an entry a crash cut short counts once it is on the user's counter
            user = db.users.find_one({"_id": entry["user_id"], pending: entry["_id"]})
            if user is not None:
                sums[entry["user_id"]] = sums.get(entry["user_id"], 0) + entry.get(field_, 0)
        for user in db.users.find({}, {field_: 1}):
            assert user.get(field_, 0) == sums.get(user["_id"], 0), \
                f"{user['_id']}: {field_} {user.get(field_, 0)} != ledger " \
                f"{sums.get(user['_id'], 0)}"
    for order in db.orders.find({}, {"status": 1, "paid_at": 1, "total": 1, "points_used": 1,
                                     "paid_after_cancel": 1}):
        counted = order.get("paid_at") is not None and not order.get("paid_after_cancel") \
            and order.get("total", 0) > 0
        growth = db.growth_ledger.count_documents({"_id": f"paid:{order['_id']}"})
        earned = db.points_ledger.find_one({"_id": f"earn:{order['_id']}"}, {"points": 1})
        if counted:
            assert growth == 1, f"{order['_id']} paid: growth entries {growth}"
            assert earned is not None or not _earns(order), f"{order['_id']} paid: no points"
        else:
            assert growth == 0 and earned is None, f"{order['_id']} not paid, yet earned"
        spent = db.points_ledger.find_one({"_id": f"checkout:{order['_id']}"}, {"points": 1})
        if order["status"] in ENDED_UNPAID and spent is not None and spent["points"]:
            back = db.points_ledger.find_one({"_id": f"checkout_return:{order['_id']}"},
                                             {"points": 1})
            assert back is not None and back["points"] == -spent["points"], \
                f"{order['_id']} ended unpaid; its {-spent['points']} points did not come back"
    for spent in db.points_ledger.find({"reason": "checkout"}, {"order_id": 1, "points": 1}):
        if db.orders.find_one({"_id": spent.get("order_id")}, {"_id": 1}) is None and \
                spent["points"]:
            back = db.points_ledger.find_one({"_id": f"checkout_return:{spent['order_id']}"})
            assert back is not None, f"points spent on a missing order {spent['order_id']}"


def check_ledgers_settled(db: Any) -> None:
    """No ledger entry left unapplied and no ref left pending on a user (after the timers)."""
    for book, _, pending in BOOKS:
        left = [e["_id"] for e in db[book].find({"applied": False}, {"_id": 1})]
        assert not left, f"{book} entries left unapplied: {left}"
        for user in db.users.find({f"{pending}.0": {"$exists": True}}, {pending: 1}):
            raise AssertionError(f"{user['_id']}: {pending} {user[pending]}")


def _earns(order: dict[str, Any]) -> bool:
    from shared.core.config import get_settings
    return order.get("total", 0) * get_settings().POINTS_PER_YUAN // 100 > 0


def check_refunds(db: Any) -> None:
    """Refunded never above paid; every succeeded refund counted on its order (the order's
    refunded_amount is the sum of its succeeded refunds) and on its after-sale."""
    by_order: dict[str, int] = {}
    for refund in db.refunds.find({"status": "succeeded"}):
        by_order[refund["order_id"]] = by_order.get(refund["order_id"], 0) + refund["amount"]
        if refund.get("after_sale_id"):
            after_sale = db.after_sales.find_one({"_id": refund["after_sale_id"]},
                                                 {"status": 1})
            assert after_sale is not None and after_sale["status"] == "refunded", \
                f"refund {refund['_id']} succeeded, after-sale is {after_sale}"
    for order in db.orders.find({"$or": [{"refunded_amount": {"$gt": 0}},
                                         {"_id": {"$in": list(by_order)}}]},
                                {"total": 1, "refunded_amount": 1}):
        refunded = order.get("refunded_amount", 0)
        assert refunded <= order["total"], f"{order['_id']}: refunded {refunded} > paid"
        assert refunded == by_order.get(order["_id"], 0), \
            f"{order['_id']}: refunded_amount {refunded}, succeeded refunds " \
            f"{by_order.get(order['_id'], 0)}"


def check_deal_units(db: Any) -> None:
    """A deal's daily counter counts the units of the live and paid orders placed on it that
    day, and holds (``holds``) exactly its unpaid live orders."""
    for counter in db.deal_daily.find({}):
        sold = 0
        holding: list[str] = []
        for order in db.orders.find({"deal.day_key": counter["_id"]},
                                    {"status": 1, "deal": 1, "paid_at": 1}):
            if order["status"] in ENDED_UNPAID:
                continue
            sold += order["deal"]["quantity"]
            if order["status"] in LIVE_UNPAID:
                holding.append(order["_id"])
        assert counter.get("sold", 0) == sold, \
            f"deal day {counter['_id']}: sold {counter.get('sold', 0)}, orders hold {sold}"
        assert sorted(counter.get("holds") or []) == sorted(holding), \
            f"deal day {counter['_id']}: holds {counter.get('holds')}, unpaid orders {holding}"


def check_events_delivered(db: Any) -> None:
    """No order (or refund) still has an event due (after the timers ran)."""
    for collection in ("orders", "refunds"):
        due = [(d["_id"], d["events_due"]) for d in db[collection].find(
            {"events_due.0": {"$exists": True}}, {"events_due": 1})]
        assert not due, f"{collection} with events still due: {due}"


def check_all(db: Any, stock_before: dict[str, int]) -> None:
    """Every invariant of issue 12 section 3, after the retry and the timers."""
    check_no_half_placed(db)
    check_stock(db, stock_before)
    check_coupons(db)
    check_points(db)
    check_ledgers_settled(db)
    check_refunds(db)
    check_deal_units(db)
    check_events_delivered(db)
