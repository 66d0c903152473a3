"""Shares, invitations and fission tracking (in progress: see issue 5)."""
from __future__ import annotations

from datetime import datetime
from typing import Any


def on_order_paid(db: Any, order: dict[str, Any], now: datetime) -> None:
    """An invitee's first paid order earns their inviter a reward, once."""


def on_order_refunded(db: Any, order: dict[str, Any], now: datetime) -> None:
    """A fully refunded first order takes the inviter's reward back."""
