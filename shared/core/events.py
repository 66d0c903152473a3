"""Domain events: what happened to an order, told to the areas that care.

Orders know nothing of group-buys, loyalty or referrals. When an order is placed, paid,
cancelled, released, refunded (or one refund lands or fails), the order code publishes an
``OrderEvent``; the subscribers named in ``SUBSCRIBERS`` (``shared.core.actions``) hear it, in
the order listed. Each subscriber is idempotent per (event, order): a reconciler that repeats a
transition's aftermath, or a later retry, may deliver the same event again. Subscribers are
named, not imported, so that publishing loads only what listens.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Literal, Optional

from shared.core.actions import SUBSCRIBERS
from shared.core.context import Database

EventName = Literal["order_placed", "order_paid", "order_cancelled", "order_released",
                    "order_refunded", "refund_succeeded", "refund_failed"]


@dataclass(frozen=True)
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
