"""1. Cold start: importing a function module (functions/list_products/index.py, loaded by path)
in a fresh interpreter vs ``import pymongo`` alone; the heaviest path, place_order (its
function module, its domain module and input model as the first call loads them, the model's
validator built, the database module) vs ``import pymongo``; and the first call (import +
first list_products answer, creating the database client) vs importing the driver and
creating its client. Runs are interleaved; medians of the children's CPU time
(``time.process_time``: on a busy machine wall time mostly measures the others' work).

Every child runs as a deployed function does: with the runtime flags every function is given
(``RUNTIME_FLAGS`` of scripts/deployment/manifest.py), and with both sides loaded from
bytecode, as scripts/package ships the layer (its HOT_PACKAGES compiled): the dependencies are
installed with theirs, and ``shared`` is compiled beforehand. Without that
(PYTHONDONTWRITEBYTECODE=1, a fresh checkout) each child compiled ``shared`` from source while
pymongo came compiled, an asymmetry that measured the compiler. The baseline children get the
same interpreter and environment."""
from __future__ import annotations

import compileall
import json
import subprocess
import sys
from typing import Any

from benchkit import ROOT, BenchFailure, median
from deployment.manifest import RUNTIME_FLAGS

from .common import FUNCTION_FILE, PAGE_EVENT

_CHILD_PRELUDE = """
import importlib.util, json, logging, os, sys, time
def load(path):
    spec = importlib.util.spec_from_file_location("bench_fn_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
"""

CHILD_CODE = {
    # ours: the function module, as SCF loads it
    "fn_import": """
t0 = time.process_time()
module = load(sys.argv[1])
t1 = time.process_time()
print(json.dumps({"seconds": t1 - t0}))
""",
    # ours: the heaviest function and what its first call loads before it reads anything
    "place_order_import": """
t0 = time.process_time()
module = load(sys.argv[1].replace("list_products", "place_order"))
from shared.core.actions import ACTIONS
from shared.core.dispatch import _load
import shared.core.auth, shared.core.db
action = ACTIONS["place_order"]
model = _load(action.module, action.input_model)
_load(action.module, action.function)
model.model_validate({"request_id": "req-cold-0001", "address_id": "adr_x",
                      "items": [{"sku_id": "sku_x", "quantity": 1}]})
t1 = time.process_time()
print(json.dumps({"seconds": t1 - t0}))
""",
    # baseline: the driver alone
    "driver_import": """
t0 = time.process_time()
import pymongo
t1 = time.process_time()
print(json.dumps({"seconds": t1 - t0}))
""",
    # ours: import + the first answer (settings, database client, indexes, the query)
    "fn_first_call": """
t0 = time.process_time()
module = load(sys.argv[1])
logging.getLogger("shop").setLevel(logging.WARNING)
answer = module.main_handler(json.loads(sys.argv[2]), None)
t1 = time.process_time()
failed = None if answer.get("ok") else answer
print(json.dumps({"seconds": t1 - t0, "ok": answer.get("ok"), "answer": failed}))
""",
    # baseline: import the driver and create its client (a real server also answers a ping,
    # since our first call cannot answer without a round trip either)
    "driver_first_call": """
t0 = time.process_time()
import pymongo
uri = os.environ.get("MONGODB_URI")
if uri:
    client = pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    client.admin.command("ping")
else:
    import mongomock
    client = mongomock.MongoClient(tz_aware=True)
t1 = time.process_time()
print(json.dumps({"seconds": t1 - t0, "ok": True}))
""",
}


def run_child(kind: str, env: dict[str, str]) -> float:
    code = _CHILD_PRELUDE + CHILD_CODE[kind]
    proc = subprocess.run([sys.executable, "-c", code, str(FUNCTION_FILE), json.dumps(PAGE_EVENT)],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise BenchFailure(f"cold child {kind!r} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchFailure(f"cold child {kind!r} printed no result:\n{proc.stdout[-500:]}"
                           f"\n{proc.stderr[-1500:]}") from None
    if result.get("ok") is False:
        raise BenchFailure(f"cold child {kind!r}: the first call failed: {result.get('answer')}")
    return float(result["seconds"])


def deployed_like(env: dict[str, str]) -> dict[str, str]:
    """The children's environment: the run's, with the deployed functions' runtime flags; and
    our code compiled to bytecode beforehand, as the layer carries it."""
    for folder in ("shared", "functions"):
        if not compileall.compile_dir(str(ROOT / folder), quiet=2):
            raise BenchFailure(f"cold: {folder} does not compile")
    return {**env, **RUNTIME_FLAGS}


def bench_cold(runs: int, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Interleave every kind of child run by run, alternating which pair goes first."""
    env = deployed_like(env)
    pairs = [("fn_import", "driver_import"), ("place_order_import", "driver_import"),
             ("fn_first_call", "driver_first_call")]
    samples: dict[str, list[float]] = {kind: [] for pair in pairs for kind in pair}
    for index in range(runs):
        for pair in pairs:
            for kind in (pair if index % 2 == 0 else pair[::-1]):
                samples[kind].append(run_child(kind, env))
    heaviest = ("place_order_import", "driver_import")
    embedded = not env.get("MONGODB_URI")
    out = {}
    for name, (ours, base), label, base_label in (
            ("cold_import", pairs[0], "cold import of a function module",
             "import pymongo"),
            ("cold_place_order", heaviest, "cold place_order: its function, domain module, "
             "input model and db module", "import pymongo"),
            ("cold_first_call", pairs[2], "cold first call: import + list_products",
             "import pymongo + " + ("mongomock.MongoClient()" if embedded
                                    else "MongoClient() + ping"))):
        ours_ms, base_ms = median(samples[ours]) * 1000, median(samples[base]) * 1000
        out[name] = {"label": label, "baseline_label": base_label, "unit": "CPU ms",
                     "ours": ours_ms, "baseline": base_ms, "ratio": ours_ms / base_ms,
                     "runs": runs}
    return out
