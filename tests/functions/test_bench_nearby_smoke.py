"""The nearby benchmark runs end to end, finds ours identical to the brute force on every
query, and reports its speed-ups.

A smoke test only: no timing is asserted (a timed assertion is not a benchmark). The script
itself exits 1 if any query's answer differs from the brute-force scan's.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_nearby_quick_json_reports_identical_results_and_positive_ratios():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_nearby"), "--quick",
                           "--json"], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)

    assert report["identical"] is True
    assert report["checked_queries"] > 0
    for name in ("nearby_stores_p50", "nearby_stores_p95", "nearby_deals_p50",
                 "nearby_deals_p95", "nearby_stores_db_scan_p50", "nearby_deals_db_scan_p50"):
        ratio = report["ratios"][name]
        assert isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0, (name, ratio)
    build = report["measures"]["index_build"]
    assert build["indexed_stores"] == report["data"]["active_stores"] > 0
    assert build["first_query_ms"] > 0
