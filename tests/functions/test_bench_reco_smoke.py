"""scripts/bench_reco runs end to end on a tiny shop and reports its ratios (a smoke test: no
timing is asserted; the script fails by itself if the model does not load or a page is short)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_reco_reports_ratios_and_the_model_memory() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_reco"), "--json",
                           "--products", "200", "--shoppers", "300", "--calls", "3"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    for name in ("ratio_anonymous", "ratio_signed_in"):
        assert math.isfinite(report[name]) and report[name] > 0
    assert 0 < report["model_memory_mb"] < 100
    assert report["artefact_items"] == 200
