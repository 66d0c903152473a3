"""What the measures of scripts/bench share: the function measured cold and warm, shoppers
made through the real dispatcher, merchant calls, and threads released together."""
from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Any, Callable

from benchkit import ROOT, BenchFailure

FUNCTION_FILE = ROOT / "functions" / "list_products" / "index.py"
PAGE_EVENT = {"page": 1, "page_size": 20}


def make_buyers(count: int) -> list[tuple[str, str]]:
    """Distinct shoppers with an address each, made through the real dispatcher."""
    from shared.core.dispatch import Credentials, dispatch
    tag = secrets.token_hex(4)
    buyers = []
    for n in range(count):
        login = dispatch("login", {"code": f"dev:bench-{tag}-{n}"}, Credentials())
        if not login.envelope["ok"]:
            raise BenchFailure(f"login failed: {login.envelope}")
        token = login.envelope["data"]["token"]
        address = dispatch("add_address", {
            "name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
            "district": "浦东新区", "detail": f"世纪大道{n + 1}号"}, Credentials(bearer=token))
        if not address.envelope["ok"]:
            raise BenchFailure(f"add_address failed: {address.envelope}")
        buyers.append((token, address.envelope["data"]["id"]))
    return buyers


def merchant_call(action: str, payload: dict[str, Any]) -> Any:
    from shared.core.dispatch import Credentials, dispatch
    outcome = dispatch(action, payload, Credentials(bearer=os.environ["MERCHANT_TOKEN"]))
    if not outcome.envelope["ok"]:
        raise BenchFailure(f"{action} failed: {outcome.envelope}")
    return outcome.envelope["data"]


def race(threads: int, jobs: int, work: Callable[[int], Any]) -> tuple[float, list[Any]]:
    """Run ``work(i)`` for i in range(jobs) on ``threads`` threads released together."""
    results: list[Any] = [None] * jobs
    taken = iter(range(jobs))
    take_lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        barrier.wait()
        while True:
            with take_lock:
                index = next(taken, None)
            if index is None:
                return
            try:
                results[index] = work(index)
            except Exception as exc:  # noqa: BLE001 - judged by the caller
                results[index] = exc
    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, results
