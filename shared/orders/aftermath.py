"""What follows an order's transition, finished even when the instance dies in between.

A transition (paid, cancelled, a placement given up) is one conditional update on the order
that also records the events it owes (``events_due``, see ``shared.core.events``). Its
aftermath comes next: the order's own part (units sold or released, the coupon back) and the
subscribers of each event; then the entry is removed. An instance that dies in between leaves
the entry, and the ``order_events`` timer (every minute) delivers it again after a grace
period: every step below is idempotent, so a second delivery finishes what the first began.

The paid transition answers before most of its aftermath runs (loyalty, referral, campaign
stats): only the units and the subscribers in ``INLINE_SUBSCRIBERS`` (a group-buy leader's
team opens at once, so the team can be shared the moment it is paid) run inside it; the rest
runs after the answer, by an asynchronous invoke of ``order_events_deliver`` when deployed, a
background thread in dev, and in any case by the ``order_events`` timer
(``ORDER_EVENTS_RUNNER``).

Units: placement takes a line's units with one conditional update on the SKU that also notes
the line's key there (``locks: ["<order>/<line>"]``); selling or releasing them is one update
conditional on the key, which removes it. So whatever the order's line says (``stock``:
none -> locked -> sold | released, written after the SKUs), units taken are moved exactly once
and units never taken are never given back, however often a crashed move is repeated.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
from datetime import datetime, timedelta
from typing import Any, Callable

from shared.core.actions import INLINE_SUBSCRIBERS, SUBSCRIBERS
from shared.core.context import Context, Database
from shared.core.errors import ShopError
from shared.core.events import DUE, OrderEvent, from_due, publish, settle
from shared.core.log import get_logger
from shared.orders import coupons

logger = get_logger("shop.orders")

INVOKED = "order_events_deliver"   # the internal function that delivers after the answer


def line_key(order_id: str, index: int) -> str:
    return f"{order_id}/{index}"


# ---- the order's own part --------------------------------------------------------------------

def move_lines(db: Database, order: dict[str, Any], to: str) -> int:
    """Release (to="released") or sell (to="sold") every line of the order whose units it
    still holds, once; the number of lines moved."""
    if not order.get("locks_on_skus"):
        return _move_lines_legacy(db, order, to)
    moved = 0
    marks: dict[str, str] = {}
    for index, line in enumerate(order["items"]):
        if line.get("stock", "none") not in ("none", "locked"):
            continue
        quantity, key = line["quantity"], line_key(order["_id"], index)
        change = {"stock": quantity, "locked": -quantity} if to == "released" else \
            {"locked": -quantity, "sold": quantity}
        # the key is on the SKU exactly while the line holds its units: only one move wins
        if db.skus.update_one({"_id": line["sku_id"], "locks": key},
                              {"$inc": change, "$pull": {"locks": key}}).modified_count:
            moved += 1
            if to == "sold":
                db.products.update_one({"_id": line["product_id"]},
                                       {"$inc": {"sales": quantity}})
        marks[f"items.{index}.stock"] = to
    if marks:
        db.orders.update_one({"_id": order["_id"]}, {"$set": marks})
    return moved


def _move_lines_legacy(db: Database, order: dict[str, Any], to: str) -> int:
    """Orders placed before the SKUs kept their locks: the line is claimed on the order first
    (a crash between the two writes leaves the units locked: never sold or released twice)."""
    moved = 0
    for index, line in enumerate(order["items"]):
        claimed = db.orders.update_one({"_id": order["_id"], f"items.{index}.stock": "locked"},
                                       {"$set": {f"items.{index}.stock": to}})
        if claimed.modified_count == 0:
            continue
        quantity = line["quantity"]
        if to == "released":
            db.skus.update_one({"_id": line["sku_id"]},
                               {"$inc": {"stock": quantity, "locked": -quantity}})
        else:
            db.skus.update_one({"_id": line["sku_id"]},
                               {"$inc": {"locked": -quantity, "sold": quantity}})
            db.products.update_one({"_id": line["product_id"]}, {"$inc": {"sales": quantity}})
        moved += 1
    return moved


def _sell(db: Database, order: dict[str, Any]) -> None:
    move_lines(db, order, "sold")


def _release(db: Database, order: dict[str, Any]) -> None:
    move_lines(db, order, "released")
    _coupon_back(db, order)


def _coupon_back(db: Database, order: dict[str, Any]) -> None:
    if order.get("coupon_id"):
        coupons.return_from_order(db, order["coupon_id"], order["_id"])


# event -> the order's own part of its aftermath, before the subscribers hear it
OWN_PART: dict[str, Callable[[Database, dict[str, Any]], None]] = {
    "order_paid": _sell,
    "order_released": _release,
    "order_refunded": _coupon_back,   # refunded in full: the coupon is the shopper's again
}


# ---- delivering what an order owes -----------------------------------------------------------

def deliver_due(db: Database, order: dict[str, Any]) -> list[str]:
    """Finish every event the order owes, in the order recorded; the names delivered (an
    event whose subscriber failed stays due for the timer)."""
    delivered: list[str] = []
    for entry in list(order.get(DUE) or []):
        event = from_due(entry, order)
        try:
            own = OWN_PART.get(event.name)
            if own is not None:
                own(db, order)
            publish(db, event)
        except Exception:  # the transition stands; the timer delivers the event again
            logger.exception("event %s not delivered for order %s", event.name, order["_id"])
            continue
        delivered.append(event.name)
    if delivered:
        settle(db, "orders", order["_id"], delivered)
    return delivered


def run_inline(db: Database, event: OrderEvent) -> None:
    """The subscribers of ``event`` that run inside the transition (``INLINE_SUBSCRIBERS``);
    the event stays due, and its full delivery later hears them again (idempotent)."""
    for ref in SUBSCRIBERS.get(event.name, ()):
        if ref not in INLINE_SUBSCRIBERS:
            continue
        module, _, function = ref.partition(":")
        try:
            getattr(importlib.import_module(module), function)(db, event)
        except Exception:  # left to the full delivery
            logger.exception("inline %s failed for order %s", ref, event.order.get("_id"))


def finish_paid(db: Database, order: dict[str, Any], now: datetime) -> None:
    """The aftermath the paid transition waits for (units sold, inline subscribers), then the
    rest is started after the answer."""
    _sell(db, order)
    run_inline(db, OrderEvent("order_paid", order, now))
    after_answer(order["_id"])


# ---- after the answer: async invoke, a thread, or the timer ---------------------------------

def _signature(secret: str, order_id: str) -> str:
    return hmac.new(secret.encode(), f"{INVOKED}:{order_id}".encode(),
                    hashlib.sha256).hexdigest()


def _runner() -> str:
    from shared.core.config import get_settings
    settings = get_settings()
    mode = settings.ORDER_EVENTS_RUNNER
    if mode != "auto":
        return mode
    if settings.is_production:
        return "scf"
    # dev: a thread; tests: the timer only (no grace then), so each test says when it runs
    return "thread" if settings.SHOP_ENV == "dev" else "none"


def after_answer(order_id: str) -> None:
    """Start delivering what the order owes without waiting for it; if this fails, the
    ``order_events`` timer delivers it within a minute or two anyway."""
    from shared.core.config import get_settings
    mode = _runner()
    try:
        if mode == "scf":
            from shared.cloud.scf import invoke_async
            settings = get_settings()
            invoke_async(settings, INVOKED, {"_invoke": INVOKED, "order_id": order_id,
                                             "sig": _signature(settings.TOKEN_SECRET, order_id)})
        elif mode == "thread":
            import threading
            threading.Thread(target=_deliver_by_id, args=(order_id,), daemon=True,
                             name=f"order-events-{order_id}").start()
    except Exception:  # the timer is the safety net
        logger.exception("could not start the aftermath of order %s", order_id)


def _deliver_by_id(order_id: str) -> list[str]:
    from shared.core.db import get_db
    db = get_db()
    order = db.orders.find_one({"_id": order_id, f"{DUE}.0": {"$exists": True}})
    return deliver_due(db, order) if order is not None else []


def handle_invoke(ctx: Context, event: dict[str, Any]) -> dict[str, Any]:
    """The order_events_deliver function: deliver what the signed order id owes."""
    order_id = str(event.get("order_id", ""))
    if not hmac.compare_digest(_signature(ctx.settings.TOKEN_SECRET, order_id),
                               str(event.get("sig", ""))):
        raise ShopError("FORBIDDEN", "unsigned invoke")
    return {"order_id": order_id, "delivered": _deliver_by_id(order_id)}


# ---- the order_events timer ------------------------------------------------------------------

def deliver_due_events(ctx: Context) -> dict[str, Any]:
    """Timer order_events (every minute): deliver every event still due after the grace
    period (the transition's own delivery died, or a subscriber failed)."""
    # the grace lets a transition's own delivery (inline, or the runner after the answer)
    # finish first; with no runner (tests) nothing else delivers, so nothing waits for it
    grace = timedelta(seconds=0 if _runner() == "none"
                      else ctx.settings.ORDER_EVENTS_GRACE_SECONDS)
    return deliver_due_before(ctx.db, ctx.now - grace, ctx.settings.TIMER_BATCH_SIZE)


def deliver_due_before(db: Database, cutoff: datetime, batch: int) -> dict[str, Any]:
    """Deliver what orders owe since ``cutoff`` or before, up to ``batch`` orders."""
    orders = list(db.orders.find({f"{DUE}.at": {"$lte": cutoff}}).limit(batch))
    delivered = failed = 0
    for order in orders:
        names = deliver_due(db, order)
        delivered += len(names)
        failed += len(order.get(DUE) or []) - len(names)
    return {"orders": len(orders), "delivered": delivered, "failed": failed,
            "more": len(orders) == batch}
