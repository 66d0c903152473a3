"""6. Round trips per action (issue 14): each action of tests/roundtrips.py (the table of
tests/unit/test_round_trips.py) on a warm instance through the dispatcher, its database
operations counted (one outermost collection call, or one cursor read, is one round trip),
against its budget and the count before issue 14. On a fresh database of its own."""
from __future__ import annotations

from typing import Any


def bench_trips() -> dict[str, Any]:
    from shared.core.http import deliver_in_process
    from shared.wechat.pay_sandbox import get_sandbox
    from tests.roundtrips import BEFORE, BUDGETS, run_scenarios, stop_counting

    sandbox = get_sandbox(deliver=deliver_in_process)
    sandbox.sync_refunds = True
    try:
        measured = run_scenarios()
    finally:
        stop_counting()
    return {name: {"trips": m.trips, "budget": BUDGETS[name], "before": BEFORE[name],
                   "ops": m.ops, "ok": m.ok, "code": m.code}
            for name, m in measured.items()}
