"""Domain events: what happened to an order, told to the areas that care.

Orders know nothing of group-buys, loyalty or referrals. When an order is placed, paid,
cancelled, released, refunded (or one refund lands or fails), the order code publishes an
``OrderEvent``; the subscribers named in ``SUBSCRIBERS`` (``shared.core.actions``) hear it, in
the order listed. Each subscriber is idempotent per (event, order): a reconciler that repeats a
transition's aftermath, or a later retry, may deliver the same event again. Subscribers are
named, not imported, so that publishing loads only what listens.

Durable events: an instance can die right after a transition, before its aftermath ran. So the
conditional update that moves a document (an order) records the events it owes as due
(``{"$push": {"events_due": ...}}`` built by ``owe``), in the same write; ``deliver`` runs the
subscribers and then removes the entry. Whatever dies in between is delivered again by the
``order_events`` timer after a short grace period (``ORDER_EVENTS_GRACE_SECONDS``); the
subscribers are idempotent, so a second delivery is harmless.
"""
from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any, Callable, Iterable, Literal, Optional, cast

from shared.core.actions import SUBSCRIBERS
from shared.core.context import Database
from shared.core.log import get_logger
from shared.core.records import record

logger = get_logger("shop.events")

DUE = "events_due"   # the field of a document that lists the events it still owes

EventName = Literal["order_placed", "order_paid", "order_cancelled", "order_released",
                    "order_refunded", "refund_succeeded", "refund_failed"]


@record(frozen=True)
class OrderEvent:
    name: EventName
    order: dict[str, Any]            # the order as the transition left it
    now: datetime
    refund: Optional[dict[str, Any]] = None   # refund_succeeded / refund_failed: the record


Subscriber = Callable[[Database, OrderEvent], None]


def subscribers(name: EventName) -> list[Subscriber]:
    found = []
    for ref in SUBSCRIBERS.get(name, ()):
        module, _, function = ref.partition(":")
        found.append(getattr(importlib.import_module(module), function))
    return found


def publish(db: Database, event: OrderEvent) -> None:
    for subscriber in subscribers(event.name):
        subscriber(db, event)


# ---- durable events --------------------------------------------------------------------------

def due(name: EventName, now: datetime) -> dict[str, Any]:
    """One entry of ``events_due``: the event and when its transition happened."""
    return {"name": name, "at": now}


def owe(now: datetime, *names: EventName) -> dict[str, Any]:
    """The ``$push`` that records ``names`` as due, for the transition's own update."""
    return {DUE: {"$each": [due(name, now) for name in names]}}


def from_due(entry: dict[str, Any], doc: dict[str, Any],
             refund: Optional[dict[str, Any]] = None) -> OrderEvent:
    """The event a due entry stands for, told with the document as it is now."""
    return OrderEvent(cast(EventName, entry["name"]), doc, entry["at"], refund=refund)


def is_due(doc: dict[str, Any], name: str) -> bool:
    return any(entry.get("name") == name for entry in doc.get(DUE) or [])


def settle(db: Database, collection: str, doc_id: Any, names: Iterable[str]) -> None:
    """The events ``names`` have been delivered: no longer due on the document."""
    db[collection].update_one({"_id": doc_id}, {"$pull": {DUE: {"name": {"$in": list(names)}}}})


def deliver(db: Database, collection: str, event: OrderEvent, doc_id: Any) -> bool:
    """Publish an event the document owes, then settle it; False (left due, for the timer)
    when a subscriber failed. Only a dying instance stops between the two steps."""
    try:
        publish(db, event)
    except Exception:  # the transition stands; the timer delivers the event again
        logger.exception("event %s not delivered for %s %s", event.name, collection, doc_id)
        return False
    settle(db, collection, doc_id, [event.name])
    return True
