"""Anchoring (issue 20): each finished day's trace events under one Merkle root, recorded
locally and on TBaaS (a loopback double of its API), each event with its proof path; the
timer finishes what a death cut short."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from tests.conftest import call, merchant, new_product
from tests.faults import die_after_write, run_timer
from tests.helpers import Clock
from tests.tbaas_double import CHAIN, CLUSTER, SECRET_ID, SECRET_KEY, TbaasDouble, serve_double

DAY = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def day_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(DAY).install(monkeypatch)


@pytest.fixture
def tbaas(monkeypatch: pytest.MonkeyPatch) -> Iterator[TbaasDouble]:
    from shared.core.config import reset_settings
    for double in serve_double(TbaasDouble()):
        for name, value in {"TBAAS_ENDPOINT": double.host, "TBAAS_CLUSTER_ID": CLUSTER,
                            "TBAAS_CHAIN_ID": CHAIN, "TENCENTCLOUD_SECRET_ID": SECRET_ID,
                            "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield double
    reset_settings()


def batch_with_events(count: int, batch_no: str = "A-1") -> dict[str, Any]:
    sku_id = new_product()["skus"][0]["id"]
    batch = merchant("merchant_create_trace_batch", {
        "sku_id": sku_id, "batch_no": batch_no, "origin": "山东烟台",
        "produced_at": "2026-11-01T00:00:00Z"}).data
    for n in range(count):
        merchant("merchant_append_trace_event", {
            "batch_id": batch["batch_id"], "biz_step": "inspecting",
            "event_time": "2026-11-02T09:00:00Z", "read_point": "仓库A", "data": {"n": n}}).data
    return batch


def climb(event_hash: str, path: list[dict[str, str]]) -> str:
    """The README's proof rule, written here from the text, not imported."""
    node = hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()
    for step in path:
        sibling = bytes.fromhex(step["hash"])
        pair = sibling + node if step["side"] == "left" else node + sibling
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node.hex()


# ---- the tree -------------------------------------------------------------------------------

@pytest.mark.parametrize("size", range(1, 18))
def test_every_leaf_climbs_to_the_root(size: int) -> None:
    from shared.trace.anchor import merkle_root, proof_path
    leaves = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(size)]
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        assert climb(leaf, proof_path(leaves, index)) == root
    changed = [leaves[0][::-1], *leaves[1:]]
    assert merkle_root(changed) != root


# ---- the timer --------------------------------------------------------------------------------

def test_a_finished_day_is_anchored_and_each_event_proves_its_path(day_clock: Clock,
                                                                    db: Any) -> None:
    first = batch_with_events(3, "A-1")
    second = batch_with_events(2, "A-2")
    assert run_timer("trace_anchor") == {"anchored": [], "on_chain": 0}  # the day is not over

    day_clock.advance(hours=14, minutes=20)  # 00:20 the next day
    merchant("merchant_append_trace_event", {
        "batch_id": first["batch_id"], "biz_step": "shipping",
        "event_time": "2026-11-03T00:20:00Z", "read_point": "仓库A"}).data
    result = merchant("dev_run_timer", {"name": "trace_anchor"}).data["result"]

    assert result == {"anchored": ["2026-11-02"], "on_chain": 0}
    anchor = db.trace_anchors.find_one({"_id": "2026-11-02"})
    assert anchor["count"] == 5 and anchor["status"] == "recorded"
    for batch in (first, second):
        trace = call("get_trace", {"code": batch["code"]}).data
        for event in trace["events"]:
            if event["recorded_at"].startswith("2026-11-03"):
                assert event["anchor"] is None  # today's event waits for tomorrow
                continue
            proof = event["anchor"]
            assert proof["day"] == "2026-11-02" and proof["root"] == anchor["root"]
            assert climb(event["hash"], proof["path"]) == proof["root"]


def test_a_missed_run_is_caught_up_day_by_day(day_clock: Clock, db: Any) -> None:
    batch_with_events(1, "D-1")
    day_clock.advance(days=1)
    batch_with_events(2, "D-2")
    day_clock.advance(days=3)

    assert run_timer("trace_anchor")["anchored"] == ["2026-11-02", "2026-11-03"]
    assert run_timer("trace_anchor")["anchored"] == []  # nothing twice
    assert db.trace_events.count_documents({"unanchored": True}) == 0


def test_the_timer_runs_from_its_timer_event(day_clock: Clock, db: Any) -> None:
    from tests.functions.test_handlers import invoke
    batch_with_events(2)
    day_clock.advance(days=1)
    answer = invoke("trace_anchor", {"Type": "Timer", "TriggerName": "trace_anchor",
                                     "Time": "2026-11-03T00:15:00Z", "Message": ""})
    assert answer["ok"] is True, answer
    assert db.trace_anchors.count_documents({}) == 1


def test_the_schedule_is_declared() -> None:
    import sys

    from tests.conftest import ROOT
    sys.path.insert(0, str(ROOT / "scripts"))
    from deployment.manifest import TIMER_SCHEDULES
    assert TIMER_SCHEDULES["trace_anchor"][0] == "0 15 8 * * * *"  # 00:15 UTC in UTC+8


# ---- TBaaS ----------------------------------------------------------------------------------

def test_the_root_goes_on_tbaas_and_the_proof_names_its_transaction(
        day_clock: Clock, db: Any, tbaas: TbaasDouble) -> None:
    batch = batch_with_events(3)
    day_clock.advance(days=1)

    assert run_timer("trace_anchor") == {"anchored": ["2026-11-02"], "on_chain": 1}

    anchor = db.trace_anchors.find_one({"_id": "2026-11-02"})
    assert tbaas.ledger == {"shop-trace:2026-11-02": [anchor["root"]]}
    assert tbaas.refused == []
    assert anchor["status"] == "on_chain"
    proof = call("get_trace", {"code": batch["code"]}).data["events"][0]["anchor"]
    assert proof["chain"]["tx_id"] == tbaas.transactions[0]["tx_id"]
    assert proof["chain"]["chain_id"] == CHAIN


def test_a_refusing_chain_leaves_the_root_recorded_for_the_next_run(
        day_clock: Clock, db: Any, tbaas: TbaasDouble) -> None:
    batch_with_events(2)
    day_clock.advance(days=1)
    tbaas.fail_next = 1

    assert run_timer("trace_anchor") == {"anchored": ["2026-11-02"], "on_chain": 0}
    anchor = db.trace_anchors.find_one({"_id": "2026-11-02"})
    assert (anchor["status"], anchor["chain_attempts"]) == ("recorded", 1)

    assert run_timer("trace_anchor") == {"anchored": [], "on_chain": 1}
    assert tbaas.ledger["shop-trace:2026-11-02"] == [anchor["root"]]


def test_a_wrong_secret_is_refused_by_the_double(day_clock: Clock, db: Any, tbaas: TbaasDouble,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-secret")
    reset_settings()
    batch_with_events(1)
    day_clock.advance(days=1)

    assert run_timer("trace_anchor")["on_chain"] == 0
    assert tbaas.refused == ["AuthFailure.SignatureFailure"]
    assert tbaas.ledger == {}


# ---- deaths ---------------------------------------------------------------------------------

def _holds(db: Any, double: TbaasDouble) -> None:
    from shared.trace.anchor import merkle_root
    anchor = db.trace_anchors.find_one({"_id": "2026-11-02"})
    day_events = list(db.trace_events.find({"day": "2026-11-02"}).sort([("batch_id", 1),
                                                                         ("seq", 1)]))
    assert anchor["leaves"] == [e["hash"] for e in day_events]
    assert anchor["root"] == merkle_root(anchor["leaves"])
    assert db.trace_events.count_documents({"unanchored": True}) == 0
    assert anchor["status"] == "on_chain"
    assert set(double.ledger["shop-trace:2026-11-02"]) == {anchor["root"]}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_timer_that_dies_after_any_write_is_finished_by_the_next(
        k: int, day_clock: Clock, faulty_db: Any, tbaas: TbaasDouble) -> None:
    batch_with_events(3, "X-1")
    batch_with_events(1, "X-2")
    day_clock.advance(days=1)

    with die_after_write(faulty_db, k) as fault:
        run_timer("trace_anchor")
    assert fault.died, f"the run made fewer than {k} writes"
    day_clock.advance(timedelta(hours=1))
    run_timer("trace_anchor")

    _holds(faulty_db, tbaas)


def test_the_tbaas_settings_go_to_the_timer_not_to_the_gateway_or_shipping() -> None:
    import sys

    from tests.conftest import ROOT
    sys.path.insert(0, str(ROOT / "scripts"))
    from deployment.manifest import build
    functions = build().by_name()
    assert {"TBAAS_CHAIN_ID", "TBAAS_CLUSTER_ID", "TBAAS_ENDPOINT"} <= \
        set(functions["trace_anchor"].settings)
    for name in ("gateway", "merchant_ship_order", "get_trace"):
        assert "TBAAS_CHAIN_ID" not in functions[name].settings, name
    assert "TRACE_SIGNING_KEY" in functions["get_trace"].settings
    assert "TRACE_SIGNING_KEY" not in functions["merchant_ship_order"].settings
