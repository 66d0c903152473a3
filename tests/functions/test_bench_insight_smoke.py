"""The tracking benchmark script runs end to end and reports positive figures.

A smoke test only, on a small size: no timing is asserted. The script itself fails (exit 1)
if the rollups do not add up to the generated events."""
from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_bench_insight_small_json_reports_positive_figures() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_insight"),
                           "--events", "2000", "--json"], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["events"] == 2000 and report["users"] == 200
    assert report["client_events"] + report["order_facts"] == 2000
    for key in ("ingest_s", "baseline_s", "throughput_ratio", "rollup_s", "rollup_events_per_s",
                "product_rows", "user_rows", "rollup_chunk_peak_bytes"):
        assert positive(report[key]), (key, report[key])
    assert all(positive(mb) for mb in report["peak_rss_mb"].values())
