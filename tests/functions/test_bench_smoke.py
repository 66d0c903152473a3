"""The benchmark script runs end to end and reports its ratios.

A smoke test only: no timing is asserted (a timed assertion is not a benchmark). The script
itself fails (exit 1) if the flash sale oversells or breaks stock + locked + sold, or if a pay
notify does not pay its order exactly once, or if a group-buy join round leaves a team with
other than its size in distinct users, or other than one order per joiner.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_quick_json_reports_positive_ratios():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--quick", "--json"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    for name in ("cold_import", "cold_place_order", "cold_first_call", "warm_list_products",
                 "flash_sale", "pay_notify", "group_join"):
        ratio = report["ratios"][name]
        assert isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0, (name, ratio)
    trips = report["round_trips"]
    assert {"list_products", "get_product", "place_order", "place_order_sold_out",
            "paid_transition", "cancel_order", "list_orders", "nearby_deals",
            "join_group_buy"} <= set(trips)
    assert trips["list_products"]["trips"] == 2 and trips["nearby_deals"]["trips"] == 1
    flash = report["measures"]["flash_sale"]
    assert flash["invariant_ok"] is True
    assert flash["orders_placed"] == [flash["units"]] * flash["rounds"]
    notify = report["measures"]["pay_notify"]
    assert notify["ours"] > 0 and notify["baseline"] > 0
    assert notify["orders_paid"] == notify["baseline_updated"] > notify["notifies"] > 0
    assert notify["replay_changed_nothing"] is True
    group = report["measures"]["group_join"]
    assert group["ratio"] == report["ratios"]["group_join"] and group["invariant_ok"] is True
    assert group["ours"] > 0 and group["baseline"] > 0
    assert group["threads"] == group["joiners"] > 0
    assert group["joiners"] % group["teams"] == 0
    assert group["team_size"] == group["joiners"] // group["teams"] + 1
    assert group["seats_taken"] == group["orders_placed"] == group["baseline_won"] \
        == [group["joiners"]] * group["rounds"]
    state = group["final_state"]
    assert (state["locked"], state["sold"]) == (group["joiners"], group["teams"])
