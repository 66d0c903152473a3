"""2. Warm list_products: ``main_handler`` with a callFunction event vs the raw driver read of
the same page (find + projection + sort + skip + limit, count_documents) on the same
database handle. Calls are interleaved one by one; median microseconds per call."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import benchkit
from benchkit import BenchFailure, median

from .common import FUNCTION_FILE, PAGE_EVENT


def load_function(path: Path) -> Any:
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_list_products_index", path)
    if spec is None or spec.loader is None:
        raise benchkit.BenchFailure(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_warm(db: Any, calls: int) -> dict[str, Any]:
    from shared.catalog.products import LIST_FIELDS, SORTS
    handler = load_function(FUNCTION_FILE).main_handler
    query = {"status": "on_sale"}
    size = PAGE_EVENT["page_size"]
    skip = (PAGE_EVENT["page"] - 1) * size

    def ours() -> Any:
        return handler(dict(PAGE_EVENT), None)

    def raw() -> Any:
        items = list(db.products.find(query, LIST_FIELDS).sort(SORTS["newest"])
                     .skip(skip).limit(size))
        return items, db.products.count_documents(query)

    answer, (items, total) = ours(), raw()
    if not answer.get("ok"):
        raise BenchFailure(f"list_products failed: {answer}")
    if [i["id"] for i in answer["data"]["items"]] != [d["_id"] for d in items] \
            or answer["data"]["total"] != total or not items:
        raise BenchFailure("list_products and the raw read disagree on the page")
    for _ in range(max(20, calls // 20)):  # warm both paths (caches, lazy imports)
        ours(), raw()
    ours_ns: list[int] = []
    raw_ns: list[int] = []
    clock = time.perf_counter_ns
    for index in range(calls):
        first, second = (ours, raw) if index % 2 == 0 else (raw, ours)
        t0 = clock()
        first()
        t1 = clock()
        second()
        t2 = clock()
        a, b = t1 - t0, t2 - t1
        ours_ns.append(a if first is ours else b)
        raw_ns.append(b if first is ours else a)
    ours_us, raw_us = median(ours_ns) / 1000, median(raw_ns) / 1000
    return {"label": "warm list_products handler, per call",
            "baseline_label": "raw find+sort+skip+limit+count", "unit": "µs",
            "ours": ours_us, "baseline": raw_us, "ratio": ours_us / raw_us, "calls": calls,
            "page_items": len(items), "total": total}
