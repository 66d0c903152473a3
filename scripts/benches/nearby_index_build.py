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
            "build_ms": first - following, "indexed_stores": len(index.stores),
            "deals_first_query_ms": deals_first, "deals_next_query_ms": deals_following,
            "deals_build_ms": deals_first - deals_following,
            "indexed_deals": len(deals.everywhere) + len({d["_id"] for ds in
                                                          deals.by_store.values() for d in ds})}
