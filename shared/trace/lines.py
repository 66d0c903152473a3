"""What an order line keeps of its trace batch: read by orders when the merchant ships.

Kept apart from the batches' module so that shipping an order loads none of the signing code.
"""
from __future__ import annotations

from shared.core.context import Database


def traces_of(db: Database, batch_ids: list[str]) -> dict[str, dict[str, str]]:
    """batch id -> {batch_id, code, batch_no, sku_id} for the order lines that carry one."""
    if not batch_ids:
        return {}
    return {b["_id"]: {"batch_id": b["_id"], "code": b["code"], "batch_no": b["batch_no"],
                       "sku_id": b["sku_id"]}
            for b in db.trace_batches.find({"_id": {"$in": sorted(set(batch_ids))}},
                                           {"code": 1, "batch_no": 1, "sku_id": 1})}
