"""The marketing benchmark script runs end to end and reports positive figures.

A smoke test only: no timing is asserted (a timed assertion is not a benchmark). The script
itself fails (exit 1) if the cart-reminder job queues other reminders than its reference
implementation expects from the generated data.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_bench_marketing_quick_json_reports_positive_figures():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_marketing"), "--quick",
                           "--json"], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    small, big = report["runs"]
    assert (small["users"], big["users"]) == (500, 5_000)
    for run in (small, big):
        assert run["batches"] == math.ceil(run["users"] / report["batch_size"])
        assert run["queued"] > 0 and run["counts"]["queued"] == run["queued"]
        for key in ("job_s", "plan_s", "batches_s", "job_s_per_100k", "db_calls_per_100k",
                    "peak_plan_bytes", "peak_batches_bytes"):
            assert positive(run[key]), (key, run[key])
    for name, ratio in report["ratios"].items():
        assert positive(ratio), (name, ratio)
    assert set(report["projection_s"]) == {"100000", "1000000"}
    assert all(positive(seconds) for seconds in report["projection_s"].values())
