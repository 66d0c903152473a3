"""漏斗: how many shoppers went through given steps, in order, within a window.

A shopper (their user id, or ``device:<id>`` before login) enters the funnel by doing the first
step between ``from`` and ``to``; they reach step k when they did it after step k-1 and within
``window_hours`` of their entry (the window counts from the first step, as conversion windows
do in the common analytics tools). A shopper who entered several times counts once, with the
attempt that went furthest. Each step answers the shoppers who reached it and the conversion
from the step before (the first step: 1.0, or 0.0 when nobody entered).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from shared.core.common import Input, iso
from shared.core.context import Context
from shared.insight.schemas import is_trackable

MAX_RANGE = timedelta(days=366)


class FunnelInput(Input):
    model_config = ConfigDict(populate_by_name=True)

    steps: list[str] = Field(min_length=2, max_length=10)
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    window_hours: int = Field(default=24, ge=1, le=24 * 90)

    @field_validator("steps")
    @classmethod
    def trackable(cls, steps: list[str]) -> list[str]:
        unknown = [name for name in steps if not is_trackable(name)]
        if unknown:
            raise ValueError(f"unknown event names: {', '.join(unknown)}")
        return steps

    @model_validator(mode="after")
    def ordered(self) -> "FunnelInput":
        if self.to <= self.from_:
            raise ValueError("to must be later than from")
        if self.to - self.from_ > MAX_RANGE:
            raise ValueError("at most 366 days from from to to")
        return self


def _actor(event: dict[str, Any]) -> str:
    return str(event["user_id"]) if event.get("user_id") else f"device:{event.get('device_id')}"


def reach(times: list[tuple[datetime, int]], steps: int, start: datetime, end: datetime,
          window: timedelta) -> int:
    """How many steps one shopper's events (time, step index), in time order, reached."""
    best = 0
    for n, (entered, step) in enumerate(times):
        if step != 0 or not start <= entered <= end:
            continue
        depth, deadline = 1, entered + window
        for at, later_step in times[n + 1:]:
            if at > deadline:
                break
            if later_step == depth:
                depth += 1
                if depth == steps:
                    break
        best = max(best, depth)
        if best == steps:
            break
    return best


def funnel(ctx: Context, req: FunnelInput) -> dict[str, Any]:
    """Per step, the shoppers who did it after the step before, within the window of their
    first step, and the conversion from the step before."""
    window = timedelta(hours=req.window_hours)
    names = list(dict.fromkeys(req.steps))
    found = ctx.db.events.find(
        {"name": {"$in": names}, "ts": {"$gte": req.from_, "$lte": req.to + window}},
        {"user_id": 1, "device_id": 1, "name": 1, "ts": 1}).sort("ts", 1)
    per_actor: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for event in found:
        # a name used at several steps stands for each of them
        for index, step_name in enumerate(req.steps):
            if step_name == event["name"]:
                per_actor[_actor(event)].append((event["ts"], index))
    reached = [0] * len(req.steps)
    for times in per_actor.values():
        times.sort(key=lambda item: (item[0], item[1]))
        for step in range(reach(times, len(req.steps), req.from_, req.to, window)):
            reached[step] += 1
    rows = []
    for index, name in enumerate(req.steps):
        before = reached[index - 1] if index else reached[0]
        rows.append({"name": name, "users": reached[index],
                     "conversion": round(reached[index] / before, 4) if before else 0.0})
    return {"steps": rows, "from": iso(req.from_), "to": iso(req.to),
            "window_hours": req.window_hours,
            "overall": round(reached[-1] / reached[0], 4) if reached[0] else 0.0}
