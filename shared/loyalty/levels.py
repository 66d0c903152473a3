"""Member levels as checkout prices them: the ladder the merchant set (``shop_settings``
``_id: "member_levels"``, cached per warm instance; ``DEFAULT_LEVELS`` until then) and the level
a growth reaches. Apart from ``members`` so that placing an order does not load the members
module, its inputs and ledgers (cold start, issue 14).
"""
from __future__ import annotations

from typing import Any, Optional

from shared.core.shopsettings import shop_setting

LEVELS_SETTING = "member_levels"
DEFAULT_LEVELS: list[dict[str, Any]] = [
    {"name": "normal", "min_growth": 0, "discount_percent": 0},
    {"name": "silver", "min_growth": 100_000, "discount_percent": 2},   # ¥1,000 paid
    {"name": "gold", "min_growth": 500_000, "discount_percent": 5},     # ¥5,000 paid
]


def current_levels(db: Any) -> list[dict[str, Any]]:
    doc = shop_setting(db, LEVELS_SETTING)
    levels = (doc or {}).get("levels") or DEFAULT_LEVELS
    return sorted(levels, key=lambda level: level["min_growth"])


def level_for(levels: list[dict[str, Any]], growth: int) -> dict[str, Any]:
    reached = [level for level in levels if level["min_growth"] <= growth]
    return reached[-1] if reached else levels[0]


def next_level(levels: list[dict[str, Any]], growth: int) -> Optional[dict[str, Any]]:
    above = [level for level in levels if level["min_growth"] > growth]
    if not above:
        return None
    return {"name": above[0]["name"], "min_growth": above[0]["min_growth"],
            "growth_needed": above[0]["min_growth"] - growth}


def level_view(level: dict[str, Any]) -> dict[str, Any]:
    return {"name": level["name"], "min_growth": level["min_growth"],
            "discount_percent": level.get("discount_percent", 0)}


def checkout_level(db: Any, user_id: str, user: Optional[dict[str, Any]] = None) \
        -> dict[str, Any]:
    """The level (and its discount) an order placed now is priced at (``user``: the shopper's
    document if the call has read it already)."""
    if user is None:
        user = db.users.find_one({"_id": user_id}, {"growth": 1}) or {}
    return level_view(level_for(current_levels(db), user.get("growth", 0)))
