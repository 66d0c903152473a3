"""What a tracked event may say: the known names and the props each carries.

A known name has a strict schema of props (unknown props are refused, so a typo in the
mini-program shows at once instead of as a silent hole in a report); a custom name starts with
``x_`` and carries any props; the facts the server knows (orders, shares opened) are never taken
from a client. Props are at most 4 KB of JSON each.
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from pydantic import Field

from shared.core.common import Input

MAX_PROPS_BYTES = 4096
CUSTOM_PREFIX = "x_"
CUSTOM_NAME = re.compile(r"^x_[a-z0-9_]{1,40}$")
ID = r"^[A-Za-z0-9_.:-]{1,64}$"

# recorded by the server from its own facts (shared.insight.facts); a client sending one is 422
SERVER_FACTS = frozenset({"order_placed", "order_paid", "order_refunded", "share_opened"})


class _Props(Input):
    """Props of a known event: strict, like every input."""


class PageViewProps(_Props):
    title: Optional[str] = Field(default=None, max_length=100)
    referrer: Optional[str] = Field(default=None, max_length=256)
    scene: Optional[int] = Field(default=None, ge=0, le=100_000)  # the mini-program's entry scene
    duration_ms: Optional[int] = Field(default=None, ge=0, le=86_400_000)


class ProductViewProps(_Props):
    product_id: str = Field(pattern=ID)
    sku_id: Optional[str] = Field(default=None, pattern=ID)
    category_id: Optional[str] = Field(default=None, pattern=ID)
    source: Optional[str] = Field(default=None, max_length=64)


class SearchProps(_Props):
    keyword: str = Field(min_length=1, max_length=100)
    results: Optional[int] = Field(default=None, ge=0, le=1_000_000)
    category_id: Optional[str] = Field(default=None, pattern=ID)


class AddToCartProps(_Props):
    product_id: str = Field(pattern=ID)
    sku_id: Optional[str] = Field(default=None, pattern=ID)
    quantity: int = Field(default=1, ge=1, le=10_000)
    category_id: Optional[str] = Field(default=None, pattern=ID)
    price: Optional[int] = Field(default=None, ge=0, le=10**10, description="fen")


class ShareProps(_Props):
    target: Optional[str] = Field(default=None, max_length=32)
    target_id: Optional[str] = Field(default=None, pattern=ID)
    channel: Optional[str] = Field(default=None, max_length=32)
    product_id: Optional[str] = Field(default=None, pattern=ID)


class CheckoutStartProps(_Props):
    sku_ids: list[str] = Field(default_factory=list, max_length=50)
    items: Optional[int] = Field(default=None, ge=0, le=10_000)
    amount: Optional[int] = Field(default=None, ge=0, le=10**10, description="fen")


class CouponViewProps(_Props):
    coupon_id: str = Field(pattern=ID)


class TryOnProps(_Props):
    product_id: str = Field(pattern=ID)
    sku_id: Optional[str] = Field(default=None, pattern=ID)
    duration_ms: Optional[int] = Field(default=None, ge=0, le=86_400_000)


class CategoryViewProps(_Props):
    category_id: str = Field(pattern=ID)


KNOWN: dict[str, type[_Props]] = {
    "page_view": PageViewProps, "product_view": ProductViewProps, "search": SearchProps,
    "add_to_cart": AddToCartProps, "share": ShareProps, "checkout_start": CheckoutStartProps,
    "coupon_view": CouponViewProps, "try_on": TryOnProps, "category_view": CategoryViewProps,
}


def props_size(props: dict[str, Any]) -> int:
    return len(json.dumps(props, ensure_ascii=False, separators=(",", ":"),
                          default=str).encode("utf-8"))


def checked_props(name: str, props: Optional[dict[str, Any]]) -> dict[str, Any]:
    """The props of one client event as stored; ValueError (a 422) for what is refused."""
    props = props or {}
    if props_size(props) > MAX_PROPS_BYTES:
        raise ValueError(f"props of {name} exceed {MAX_PROPS_BYTES} bytes")
    if name in SERVER_FACTS:
        raise ValueError(f"{name} is recorded by the server, not sent by clients")
    model = KNOWN.get(name)
    if model is not None:
        return model.model_validate(props).model_dump(exclude_none=True)
    if CUSTOM_NAME.match(name):
        return props
    raise ValueError(f"unknown event name {name!r}: use a known name or x_<custom>")


def is_trackable(name: str) -> bool:
    """A name a report (funnel, tag rule) may ask for: known, custom or a server fact."""
    return name in KNOWN or name in SERVER_FACTS or bool(CUSTOM_NAME.match(name))
