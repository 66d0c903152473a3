"""A store's opening hours (``HH:MM-HH:MM``, Asia/Shanghai, may cross midnight)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

SHANGHAI = timezone(timedelta(hours=8))
HOURS_CAP = 10 ** 9  # beyond any minute of the day: clamping to it keeps every comparison


def opening_minutes(hours: str) -> Optional[tuple[int, int]]:
    """(opens, closes) in minutes of ``HH:MM-HH:MM``, or None when it does not parse."""
    try:
        start, end = hours.split("-")
        return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])
    except (ValueError, IndexError, AttributeError, TypeError):
        return None


def clamp_minutes(minutes: int) -> int:
    # compared only with a minute of the day (0..1439): the comparisons come out the same
    return max(-HOURS_CAP, min(HOURS_CAP, minutes))


def minute_of_day(now: datetime) -> int:
    minute = now.astimezone(SHANGHAI)
    return minute.hour * 60 + minute.minute


def is_open(hours: str, now: datetime) -> bool:
    """Whether ``HH:MM-HH:MM`` (Asia/Shanghai, may cross midnight) includes ``now``."""
    minutes = opening_minutes(hours)
    if minutes is None:
        return False
    opens, closes = minutes
    current = minute_of_day(now)
    if opens <= closes:
        return opens <= current < closes
    return current >= opens or current < closes

