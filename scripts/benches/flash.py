"""3. Flash sale: N distinct buyers race K threads for a SKU with fewer units through
``dispatch("place_order")`` vs a raw conditional ``update_one`` loop on the same threads and
database. Requests per second; every round checks that exactly the stock was sold and that
stock + locked + sold is conserved, and the script exits 1 if not."""
from __future__ import annotations

import secrets
from typing import Any, Optional

from benchkit import BenchFailure, median

from .common import make_buyers, merchant_call, race


def check_sku(db: Any, sku_id: str, units: int, who: str) -> dict[str, int]:
    doc = db.skus.find_one({"_id": sku_id}, {"stock": 1, "locked": 1, "sold": 1})
    stock, locked, sold = doc["stock"], doc.get("locked", 0), doc.get("sold", 0)
    if stock < 0 or locked != units or stock != 0 or stock + locked + sold != units:
        raise BenchFailure(f"{who}: stock invariant broken on {sku_id}: stock={stock} "
                           f"locked={locked} sold={sold}, expected 0/{units}/0 (sum {units})")
    return {"stock": stock, "locked": locked, "sold": sold}


def flash_round(db: Any, buyers: list[tuple[str, str]], units: int, threads: int,
                round_no: int, ours_first: bool) -> dict[str, Any]:
    from shared.core.dispatch import Credentials, dispatch
    category_id = merchant_call("merchant_upsert_category", {"name": "秒杀"})["id"]
    product = merchant_call("merchant_upsert_product", {
        "title": f"秒杀商品 {round_no}", "category_id": category_id,
        "images": ["https://img.test/flash.png"],
        "skus": [{"specs": {"规格": "标准"}, "price": 990, "stock": units}]})
    sku_id = product["skus"][0]["id"]
    raw_sku = f"sku_bench_raw_{round_no}_{secrets.token_hex(4)}"
    db.skus.insert_one({"_id": raw_sku, "product_id": product["id"], "price": 990,
                        "stock": units, "locked": 0, "sold": 0, "active": True})
    tag = secrets.token_hex(4)
    result: dict[str, Any] = {}

    def place(index: int) -> tuple[str, Optional[str], Optional[str]]:
        token, address_id = buyers[index]
        outcome = dispatch("place_order", {
            "request_id": f"bench-{tag}-{index}", "address_id": address_id,
            "items": [{"sku_id": sku_id, "quantity": 1}]}, Credentials(bearer=token))
        env = outcome.envelope
        if env["ok"]:
            return "placed", env["data"]["id"], None
        return "refused", None, env["error"]["code"]

    def take(index: int) -> bool:
        result = db.skus.update_one({"_id": raw_sku, "stock": {"$gte": 1}},
                                    {"$inc": {"stock": -1, "locked": 1}})
        return result.modified_count == 1

    def run_ours() -> float:
        elapsed, results = race(threads, len(buyers), place)
        crashed = [r for r in results if isinstance(r, Exception)]
        if crashed:
            raise BenchFailure(f"place_order raised: {crashed[0]!r}")
        placed = [r[1] for r in results if r[0] == "placed"]
        codes = sorted({r[2] for r in results if r[0] == "refused"})
        if len(placed) != units or len(set(placed)) != units:
            oversold = " - OVERSOLD" if len(placed) > units else ""
            raise BenchFailure(f"ours: {len(placed)} orders placed for {units} units "
                               f"({len(set(placed))} distinct){oversold}")
        if codes != ["OUT_OF_STOCK"]:
            raise BenchFailure(f"ours: refusals other than OUT_OF_STOCK: {codes}")
        stored = db.orders.count_documents({"items.sku_id": sku_id, "status": "pending_payment"})
        stray = db.orders.count_documents({"items.sku_id": sku_id,
                                           "status": {"$ne": "pending_payment"}})
        if stored != units or stray:
            raise BenchFailure(f"ours: {stored} pending orders stored for {units} units, "
                               f"{stray} in another state")
        result["ours_state"] = check_sku(db, sku_id, units, "ours")
        result["orders_placed"] = len(placed)
        return elapsed

    def run_raw() -> float:
        elapsed, results = race(threads, len(buyers), take)
        crashed = [r for r in results if isinstance(r, Exception)]
        if crashed:
            raise BenchFailure(f"raw update raised: {crashed[0]!r}")
        won = sum(1 for r in results if r is True)
        if won != units:
            raise BenchFailure(f"baseline: {won} conditional updates won for {units} units")
        result["raw_state"] = check_sku(db, raw_sku, units, "baseline")
        result["raw_won"] = won
        return elapsed

    if ours_first:
        ours_s, raw_s = run_ours(), run_raw()
    else:
        raw_s, ours_s = run_raw(), run_ours()
    result.update(ours_seconds=ours_s, raw_seconds=raw_s)
    # every round starts from the same data: the embedded database scans whole collections
    db.orders.delete_many({"items.sku_id": sku_id})
    return result


def bench_flash(db: Any, buyers_count: int, units: int, threads: int,
                rounds_count: int) -> dict[str, Any]:
    if buyers_count <= units:
        raise SystemExit("the flash sale needs more buyers than units")
    buyers = make_buyers(buyers_count)
    rounds = [flash_round(db, buyers, units, threads, n, ours_first=n % 2 == 0)
              for n in range(rounds_count)]
    ours_rate = buyers_count / median([r["ours_seconds"] for r in rounds])
    raw_rate = buyers_count / median([r["raw_seconds"] for r in rounds])
    return {"label": f"flash sale: place_order req/s ({buyers_count} buyers, {units} units, "
                     f"{threads} threads)",
            "baseline_label": "raw conditional update_one $inc loop", "unit": "req/s",
            "ours": ours_rate, "baseline": raw_rate, "ratio": raw_rate / ours_rate,
            "ours_orders_per_s": ours_rate * units / buyers_count,
            "baseline_orders_per_s": raw_rate * units / buyers_count,
            "buyers": buyers_count, "units": units, "threads": threads, "rounds": rounds_count,
            "orders_placed": [r["orders_placed"] for r in rounds],
            "baseline_won": [r["raw_won"] for r in rounds],
            "final_state": rounds[-1]["ours_state"], "invariant_ok": True}
