"""Timers as an action: ``dev_run_timer {name}`` runs one timer function now (dev/test only)."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.core.actions import TIMERS
from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import ShopError


class RunTimerInput(Input):
    name: str = Field(min_length=1, max_length=64)


def run_timer_action(ctx: Context, req: RunTimerInput) -> Any:
    from shared.core.dispatch import run_timer
    if req.name not in TIMERS:
        raise ShopError("NOT_FOUND", f"no timer {req.name!r}",
                        {"resource": "timer", "timers": sorted(TIMERS)})
    outcome = run_timer(req.name, ctx.request_id)
    if not outcome.envelope["ok"]:
        error = outcome.envelope["error"]
        raise ShopError(error["code"], error["message"], error["details"])
    return {"timer": req.name, "result": outcome.envelope["data"]}
