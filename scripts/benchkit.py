"""What the benchmark scripts (bench, bench_nearby, bench_marketing) share: the shop's
environment for a run, quiet logs, the throwaway database, statistics and the report.

Nothing of the shop is imported at module level: the environment must be set before the
shop reads its settings.
"""
from __future__ import annotations

import json
import logging
import math
import os
import secrets
import sys
from pathlib import Path
from statistics import median
from typing import Any, Callable, Sequence

__all__ = ["ROOT", "BenchFailure", "prepare_environment", "quiet_shop_logs", "database_label",
           "drop_throwaway_database", "median", "percentile", "failed", "print_report"]

ROOT = Path(__file__).resolve().parent.parent


class BenchFailure(RuntimeError):
    """A correctness check failed: the numbers would be meaningless (ours and the baseline
    disagree, the shop oversold, the job did other work than expected)."""


def prepare_environment(**settings: str) -> None:
    """The shop's environment for a run in this process, with ``settings`` on top.

    With MONGODB_URI set the run gets a throwaway database ``shop_bench_<random>``, dropped at
    the end (``drop_throwaway_database``); otherwise the embedded database."""
    os.environ["SHOP_ENV"] = "test"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # a line per call would drown the tables
    os.environ.setdefault("MERCHANT_TOKEN", "bench-merchant-" + secrets.token_hex(16))
    os.environ.update(settings)
    os.environ.pop("TRUST_CLOUDBASE_IDENTITY", None)
    if os.environ.get("MONGODB_URI"):
        os.environ["MONGODB_DB"] = f"shop_bench_{secrets.token_hex(6)}"
    else:
        os.environ.pop("MONGODB_URI", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def quiet_shop_logs() -> None:
    """Keep the shop's JSON logs to warnings: the report is what a run prints."""
    import shared.core.dispatch  # noqa: F401 - installs the shop's log handler
    from shared.core.log import get_logger
    get_logger("shop")  # installs the JSON handler at INFO once; lower it afterwards
    logging.getLogger("shop").setLevel(logging.WARNING)


def database_label(embedded: bool) -> str:
    if embedded:
        return "embedded mongomock"
    return f"MongoDB server, throwaway db {os.environ['MONGODB_DB']}"


def drop_throwaway_database() -> None:
    """Drop shop_bench_<random>; child processes may have made it even if this one never did."""
    from shared.core.db import get_db, reset_db
    try:
        get_db()
        reset_db(drop=True)
    except Exception as exc:  # noqa: BLE001 - the run's own error matters more
        print(f"could not drop {os.environ.get('MONGODB_DB')}: {exc!r}", file=sys.stderr)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def failed(exc: BenchFailure) -> int:
    """Say why the run is void; the exit code of a failed run."""
    print(f"BENCH FAILED: {exc}", file=sys.stderr)
    return 1


def print_report(report: dict[str, Any], as_json: bool,
                 print_human: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_human(report)
