"""画像: who a shopper is, computed from their daily rollups (and the events not rolled yet).

- Interest per category: views, add-to-carts and items ordered weighed by ``INTEREST_WEIGHTS``
  (1, 3, 10), each day's weight halved every ``INTEREST_HALF_LIFE_DAYS`` (14) of age.
- RFM: days since the last paid order, paid orders, fen paid net of refunds; the segment is the
  8-class RFM model merchants know (重要价值 ...): recent (last paid order within 30 days),
  frequent (2 paid orders or more), high spend (¥500 or more) each high or low; ``no_orders``
  before the first paid order.
- Spending band: none, low (< ¥100), medium (< ¥500), high (< ¥2,000), top.
- Active hours: the (up to 3) Beijing hours with the most client events, busiest first.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from pydantic import Field

from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import not_found
from shared.insight.rollups import user_daily

SEGMENTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "important_value",           # 重要价值
    (True, False, True): "important_development",    # 重要发展
    (False, True, True): "important_retention",      # 重要保持
    (False, False, True): "important_recovery",      # 重要挽留
    (True, True, False): "general_value",            # 一般价值
    (True, False, False): "general_development",     # 一般发展
    (False, True, False): "general_retention",       # 一般保持
    (False, False, False): "general_recovery",       # 一般挽留
}
NO_ORDERS = "no_orders"
SEGMENT_NAMES = frozenset(SEGMENTS.values()) | {NO_ORDERS}
# upper bounds in fen (exclusive) of each spending band
BANDS = ((1, "none"), (10_000, "low"), (50_000, "medium"), (200_000, "high"))
TOP_BAND = "top"
ACTIVE_HOURS = 3
RECENT_DAYS, FREQUENT_ORDERS, HIGH_SPEND = 30, 2, 50_000   # the RFM model's high marks


class UserIdInput(Input):
    user_id: str = Field(min_length=1, max_length=64)


def _day_age(day: str, now: datetime) -> int:
    then = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).date()
    return max(0, (now.astimezone(timezone.utc).date() - then).days)


def interests(rows: list[dict[str, Any]], settings: Any, now: datetime) -> dict[str, float]:
    view, cart, order = settings.interest_weights
    weights = {"v": view, "c": cart, "o": order}
    scores: dict[str, float] = {}
    for row in rows:
        decay = 0.5 ** (_day_age(row["day"], now) / settings.INTEREST_HALF_LIFE_DAYS)
        parts = (("v", (row.get("client") or {}).get("v")),
                 ("c", (row.get("client") or {}).get("c")),
                 ("o", (row.get("server") or {}).get("o")))
        for kind, counts in parts:
            for category, count in (counts or {}).items():
                scores[category] = scores.get(category, 0.0) + weights[kind] * count * decay
    return scores


def rfm(rows: list[dict[str, Any]], settings: Any, now: datetime) -> dict[str, Any]:
    frequency = sum((row.get("server") or {}).get("orders", 0) for row in rows)
    monetary = sum((row.get("server") or {}).get("paid", 0)
                   - (row.get("server") or {}).get("refunded", 0) for row in rows)
    last: Optional[datetime] = max(
        (row["server"]["last_order_at"] for row in rows
         if (row.get("server") or {}).get("last_order_at")), default=None)
    recency = None if last is None else max(0, (now - last).days)
    if not frequency or recency is None:
        segment = NO_ORDERS
    else:
        segment = SEGMENTS[(recency <= RECENT_DAYS, frequency >= FREQUENT_ORDERS,
                            monetary >= HIGH_SPEND)]
    return {"recency_days": recency, "frequency": frequency, "monetary": max(0, monetary),
            "segment": segment}


def spending_band(monetary: int) -> str:
    for bound, name in BANDS:
        if monetary < bound:
            return name
    return TOP_BAND


def active_hours(rows: list[dict[str, Any]]) -> list[int]:
    counts: dict[int, int] = {}
    for row in rows:
        for hour, count in ((row.get("client") or {}).get("h") or {}).items():
            counts[int(hour)] = counts.get(int(hour), 0) + count
    ranked = sorted((hour for hour, count in counts.items() if count > 0),
                    key=lambda hour: (-counts[hour], hour))
    return ranked[:ACTIVE_HOURS]


def event_count(rows: list[dict[str, Any]], name: str, days: int, now: datetime) -> int:
    """How many times the shopper did ``name`` in the last ``days`` days (today included)."""
    total = 0
    for row in rows:
        if _day_age(row["day"], now) < days:
            total += ((row.get("client") or {}).get("n") or {}).get(name, 0)
            total += ((row.get("server") or {}).get("n") or {}).get(name, 0)
    return total


def profile(user_id: str, rows: list[dict[str, Any]], tags: list[str], settings: Any,
            now: datetime) -> dict[str, Any]:
    scores = interests(rows, settings, now)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    summary = rfm(rows, settings, now)
    return {"user_id": user_id, "tags": sorted(tags),
            "interests": [{"category_id": category, "score": round(score, 2)}
                          for category, score in ranked if score > 0],
            "rfm": summary, "active_hours": active_hours(rows),
            "spending_band": spending_band(summary["monetary"])}


def get_user_profile(ctx: Context, req: UserIdInput) -> dict[str, Any]:
    """A shopper's tags, interest per category, RFM and segment, active hours, spending band."""
    user = ctx.db.users.find_one({"_id": req.user_id}, {"tags": 1})
    if user is None:
        raise not_found("user")
    rows = user_daily(ctx.db, [req.user_id]).get(req.user_id, [])
    return profile(req.user_id, rows, list(user.get("tags") or []), ctx.settings, ctx.now)
