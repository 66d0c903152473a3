"""Measuring scripts/bench_nearby's queries: ours through the dispatcher against a baseline
(nearby_baselines), interleaved, every answer compared, and summarised.

1. nearby_stores through the dispatcher (``dispatch("nearby_stores", ...)``: validation,
   the search index, the page of store views) vs the brute force: the haversine distance of
   every active store, from a list of (id, lat, lng, ...) tuples already in memory, filter,
   sort, page. Calls are interleaved query by query; p50 and p95.
2. nearby_deals the same way vs the brute force: the distance of every store, then every
   deal (live now, kind, category), each at its nearest store in reach, sorted by distance
   then discount, the page with today's remaining quantity. Ours reads the page's counters
   of today from the database (``nearby._sold_today``), the in-memory brute force from a
   dict: that read is timed apart too and shown as a breakdown (on the embedded database
   it scans every counter document; a MongoDB server reads them by _id).

Every query's answers are compared: the same store ids in the same order with the same
distances (to 0.1 m) and the same total; for deals the same deal ids, stores, order,
distances, remaining quantities and total. Any difference exits 1.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from benchkit import BenchFailure, median, percentile

from .nearby_data import RADII

DISTANCE_TOLERANCE_M = 0.05 + 1e-6  # ours is rounded to 0.1 m, the baseline is not


# ---- comparing answers ---------------------------------------------------------------------


def compare_stores(query: dict[str, Any], ours: dict[str, Any], base: dict[str, Any],
                   who: str) -> None:
    ours_ids = [i["id"] for i in ours["items"]]
    base_ids = base["ids"]
    if ours["total"] != base["total"] or ours_ids != base_ids:
        raise BenchFailure(
            f"nearby_stores differs from the {who} for {query}: total {ours['total']} vs "
            f"{base['total']}; first differing position "
            f"{next((n for n, (a, b) in enumerate(zip(ours_ids, base_ids)) if a != b), None)}; "
            f"ours {ours_ids[:5]}... vs {base_ids[:5]}...")
    check_distances("nearby_stores", query, ours, base, who)


def compare_deals(query: dict[str, Any], ours: dict[str, Any], base: dict[str, Any],
                  who: str) -> None:
    ours_rows = [(i["id"], i["store"]["id"], i["remaining_today"]) for i in ours["items"]]
    base_rows = base["keys"]
    if ours["total"] != base["total"] or ours_rows != base_rows:
        raise BenchFailure(f"nearby_deals differs from the {who} for {query}: total "
                           f"{ours['total']} vs {base['total']}; ours {ours_rows[:4]}... vs "
                           f"{base_rows[:4]}...")
    check_distances("nearby_deals", query, ours, base, who)


def check_distances(action: str, query: dict[str, Any], ours: dict[str, Any],
                    base: dict[str, Any], who: str) -> None:
    """Ours (rounded to 0.1 m) against the baseline's unrounded metres, item by item."""
    for mine, theirs in zip(ours["items"], base["distances"]):
        if abs(mine["distance_m"] - theirs) > DISTANCE_TOLERANCE_M:
            raise BenchFailure(f"{action}: distance of {mine['id']} for {query}: "
                               f"{mine['distance_m']} m vs {theirs} m ({who})")


# ---- measuring -----------------------------------------------------------------------------

def call_ours(action: str, query: dict[str, Any]) -> dict[str, Any]:
    from shared.core.dispatch import Credentials, dispatch
    outcome = dispatch(action, query, Credentials())
    if not outcome.envelope["ok"]:
        raise BenchFailure(f"{action} failed for {query}: {outcome.envelope}")
    return outcome.envelope["data"]


class CounterReads:
    """Times ours' read of today's counters for a page of deals (``nearby._sold_today``)
    while in use: ``take()`` gives the nanoseconds spent in it since the last take."""

    def __init__(self) -> None:
        from shared.nearby import deals as nearby
        self.nearby = nearby
        self.original = nearby._sold_today
        self.spent = 0

    def __enter__(self) -> "CounterReads":
        original, clock = self.original, time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent += clock() - t0
        self.nearby._sold_today = timed
        return self

    def __exit__(self, *exc: Any) -> None:
        self.nearby._sold_today = self.original

    def take(self) -> int:
        spent, self.spent = self.spent, 0
        return spent


def measure(action: str, queries: list[dict[str, Any]],
            baseline: Callable[[dict[str, Any]], dict[str, Any]],
            compare: Callable[[dict[str, Any], dict[str, Any], dict[str, Any], str], None],
            who: str,
            reads: Optional[CounterReads] = None) -> dict[str, Any]:
    """Interleave ours and the baseline query by query (alternating which goes first);
    with ``reads``, the time ours spent reading counters, per query, too."""
    clock = time.perf_counter_ns
    ours_ns: list[int] = []
    base_ns: list[int] = []
    totals: list[int] = []
    reads_ns: list[int] = []
    for index, query in enumerate(queries):
        # both run within this iteration, so each sees this iteration's query
        def ours() -> dict[str, Any]:
            return call_ours(action, query)  # noqa: B023

        def base() -> dict[str, Any]:
            return baseline(query)  # noqa: B023
        order = (ours, base) if index % 2 == 0 else (base, ours)
        answers: dict[Any, dict[str, Any]] = {}
        for work in order:
            t0 = clock()
            answers[work] = work()
            elapsed = clock() - t0
            (ours_ns if work is ours else base_ns).append(elapsed)
        if reads is not None:
            reads_ns.append(reads.take())
        mine, theirs = answers[ours], answers[base]
        compare(query, mine, theirs, who)
        totals.append(mine["total"])
    samples: dict[str, Any] = {"ours_ns": ours_ns, "baseline_ns": base_ns, "totals": totals}
    if reads is not None:
        samples["reads_ns"] = reads_ns
    return samples


def summarise(label: str, baseline_label: str, samples: dict[str, Any],
              queries: list[dict[str, Any]]) -> dict[str, Any]:
    ours_ms = [ns / 1e6 for ns in samples["ours_ns"]]
    base_ms = [ns / 1e6 for ns in samples["baseline_ns"]]
    out = {"label": label, "baseline_label": baseline_label, "unit": "ms",
           "queries": len(queries),
           "ours_p50": median(ours_ms), "ours_p95": percentile(ours_ms, 95),
           "baseline_p50": median(base_ms), "baseline_p95": percentile(base_ms, 95),
           "median_results": median(samples["totals"])}
    out["speedup_p50"] = out["baseline_p50"] / out["ours_p50"]
    out["speedup_p95"] = out["baseline_p95"] / out["ours_p95"]
    if "reads_ns" in samples:  # a breakdown only: the speed-ups above include the reads
        reads_ms = [ns / 1e6 for ns in samples["reads_ns"]]
        rest_ms = [o - r for o, r in zip(ours_ms, reads_ms)]
        out["counters_read_p50"] = median(reads_ms)
        out["ours_without_counters_read_p50"] = median(rest_ms)
        out["speedup_p50_without_counters_read"] = \
            out["baseline_p50"] / out["ours_without_counters_read_p50"]
    by_radius = {}
    for radius, _ in RADII:
        picked = [n for n, q in enumerate(queries) if q["radius_m"] == radius]
        if picked:
            o = median([ours_ms[n] for n in picked])
            b = median([base_ms[n] for n in picked])
            by_radius[str(radius)] = {
                "queries": len(picked), "ours_p50": o, "baseline_p50": b, "speedup_p50": b / o,
                "median_results": median([samples["totals"][n] for n in picked])}
    out["by_radius"] = by_radius
    return out
