"""4. The one-off index builds: the first nearby_stores after the stores' version changes (a
warm instance pays it once per store write; the same mongomock read dominates it) and
the first nearby_deals after the deals' version changes, apart from the query times."""
from __future__ import annotations

import time
from typing import Any

from .nearby_measure import call_ours


def first_and_next(action: str, query: dict[str, Any]) -> tuple[float, float]:
    t0 = time.perf_counter()
    call_ours(action, query)
    t1 = time.perf_counter()
    call_ours(action, query)
    return (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000


def measure_build(db: Any, query: dict[str, Any]) -> dict[str, Any]:
    """The first query after a version bump (the index build included) vs the next one."""
    from shared.nearby.spatial import (
        bump_deals_version,
        bump_stores_version,
        deal_index,
        store_index,
    )
    bump_stores_version(db)
    first, following = first_and_next("nearby_stores", query)
    call_ours("nearby_deals", query)  # the deals index follows the stores' version too
    bump_deals_version(db)
    deals_first, deals_following = first_and_next("nearby_deals", query)
    index, deals = store_index(db), deal_index(db)
    return {"label": "first nearby_stores after the stores' version changed (index build)",
            "unit": "ms", "first_query_ms": first, "next_query_ms": following,
            "build_ms": first - following, "indexed_stores": len(index.ids),
            "deals_first_query_ms": deals_first, "deals_next_query_ms": deals_following,
            "deals_build_ms": deals_first - deals_following,
            "indexed_deals": len(deals.deals)}


_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("fn", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import numpy
from shared.core.dispatch import _load
from shared.core.actions import ACTIONS
action = ACTIONS["nearby_deals"]
_load(action.module, action.function)
# VmRSS, not ru_maxrss: after fork + exec, Linux reports the parent's peak in ru_maxrss
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
print(json.dumps({"rss_mb": rss / 1024}))
"""


def measure_memory(db: Any) -> dict[str, Any]:
    """What a cold nearby instance holds: the memory the two indexes keep once built (traced
    by tracemalloc, numpy's arrays included) and the peak while building them, plus the
    resident size of a fresh interpreter that has loaded the nearby_deals function and numpy
    (what an instance holds before its first query). Their sum is the instance's size on a
    MongoDB server; on the embedded database the process also holds the data."""
    import gc
    import json
    import os
    import subprocess
    import sys
    import tracemalloc

    from benchkit import ROOT

    from shared.nearby.grid import VIEW_FIELDS, StoreIndex
    from shared.nearby.spatial import DealIndex
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    index = StoreIndex.from_documents(db.stores.find({"active": True}, VIEW_FIELDS))
    deals = DealIndex.from_documents(db.deals.find({"active": True}))
    deals.links_for(index)
    built = time.perf_counter() - started
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    child = subprocess.run([sys.executable, "-c", _CHILD,
                            str(ROOT / "functions" / "nearby_deals" / "index.py")],
                           cwd=str(ROOT), env=dict(os.environ), capture_output=True, text=True,
                           timeout=120)
    fresh = json.loads(child.stdout.strip().splitlines()[-1])["rss_mb"] \
        if child.returncode == 0 else float("nan")
    kept_mb = (kept - before) / 2**20
    del index, deals
    return {"index_kept_mb": kept_mb, "index_peak_mb": (peak - before) / 2**20,
            "fresh_instance_rss_mb": fresh, "cold_instance_mb": fresh + kept_mb,
            "traced_build_s": built}
