"""Tencent SCF timer expressions (7 fields: second minute hour day month weekday year).

The dev gateway uses this to run timer functions on the schedule serverless.yml gives them.
Supported per field: ``*``, ``?``, ``n``, ``a-b``, ``*/n``, ``a-b/n`` and lists of these.
"""
from __future__ import annotations

from datetime import datetime

_RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (1970, 2099)]
_WEEKDAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


def _values(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.upper().split(","):
        for name, number in _WEEKDAYS.items():
            part = part.replace(name, str(number))
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = int(part)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


class Cron:
    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 6:
            fields.append("*")
        if len(fields) != 7:
            raise ValueError(f"a timer expression has 7 fields: {expression!r}")
        self.expression = expression
        self._sets = [_values(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES)]

    def matches(self, when: datetime) -> bool:
        weekday = (when.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        parts = [when.second, when.minute, when.hour, when.day, when.month, weekday, when.year]
        return all(value in allowed for value, allowed in zip(parts, self._sets))
