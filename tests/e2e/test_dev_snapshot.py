"""The dev gateway keeps its embedded database across restarts in a snapshot file, written
atomically; `make reset` starts afresh; a second gateway on a taken port stops at once.

Only a test that asks (``--snapshot``) writes a snapshot, always under its tmp_path."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from bson import ObjectId

from tests.conftest import ROOT
from tests.e2e.test_devserver import MERCHANT, _free_port, api, ready
from tests.helpers import wait_until


class Gateway:
    """scripts/devserver in its own process, its output in a file."""

    def __init__(self, tmp_path: Path, *args: str, port: Optional[int] = None) -> None:
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"devserver-{uuid.uuid4().hex[:6]}.log"
        env = {**os.environ, "SHOP_ENV": "dev", "MERCHANT_TOKEN": MERCHANT,
               "PORT": str(self.port)}
        for name in ("MONGODB_URI", "DEV_SNAPSHOT_PATH"):
            env.pop(name, None)
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "devserver"), "--port", str(self.port),
             "--no-timers", *args], cwd=ROOT, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> "Gateway":
        wait_until(lambda: ready(self.base) or self.process.poll() is not None, timeout=40,
                   interval=0.2, message=self.output)
        assert self.process.poll() is None, self.output()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        self.log.close()
        return self.output()


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Any]:
    started: list[Gateway] = []

    def start(*args: str, port: Optional[int] = None) -> Gateway:
        gateway = Gateway(tmp_path, *args, port=port)
        started.append(gateway)
        return gateway
    yield start
    for gateway in started:
        if gateway.process.poll() is None:
            gateway.process.kill()
            gateway.process.wait(timeout=10)


def _shop_state(base: str) -> dict[str, Any]:
    token = api(base, "login", {"code": "dev:alice"}).json()["data"]["token"]
    return {"me": api(base, "get_profile", None, token).json()["data"],
            "addresses": api(base, "list_addresses", None, token).json()["data"],
            "products": api(base, "list_products", {"page_size": 100}).json()["data"]["total"]}


def test_the_shop_survives_a_restart_of_the_dev_gateway(gateways, tmp_path):
    snapshot = tmp_path / "shop.json"
    first = gateways("--snapshot", str(snapshot)).wait_ready()
    assert snapshot.exists()  # the freshly seeded shop, before any change
    token = api(first.base, "login", {"code": "dev:alice"}).json()["data"]["token"]
    assert api(first.base, "add_address", {
        "name": "Alice", "phone": "13900139000", "province": "上海市", "city": "上海市",
        "district": "浦东新区", "detail": "陆家嘴环路1000号"}, token).ok
    before = _shop_state(first.base)
    assert "Kept in" in first.output() and str(snapshot) in first.output()
    first.stop()
    assert snapshot.exists()

    second = gateways("--snapshot", str(snapshot)).wait_ready()

    assert _shop_state(second.base) == before
    assert before["addresses"]["items"][0]["detail"] == "陆家嘴环路1000号"
    assert "loaded the shop from" in second.output()
    assert "seeded demo data" not in second.output()


def test_changes_reach_the_snapshot_within_a_second_without_a_clean_exit(gateways, tmp_path):
    snapshot = tmp_path / "shop.json"
    first = gateways("--snapshot", str(snapshot)).wait_ready()
    token = api(first.base, "login", {"code": "dev:bob"}).json()["data"]["token"]
    assert api(first.base, "update_profile", {"nickname": "鲍勃"}, token).ok
    time.sleep(2.5)  # the debounce is one second
    first.stop(signal.SIGKILL)  # no exit handler runs

    second = gateways("--snapshot", str(snapshot)).wait_ready()

    token = api(second.base, "login", {"code": "dev:bob"}).json()["data"]["token"]
    assert api(second.base, "get_profile", None, token).json()["data"]["nickname"] == "鲍勃"


def _stock(base: str) -> int:
    product = api(base, "get_product", {"product_id": "prd_001"}).json()["data"]
    return next(s["stock"] for s in product["skus"] if s["id"] == "sku_001_1")


def test_make_reset_deletes_the_snapshot_and_the_next_run_seeds_afresh(gateways, tmp_path):
    snapshot = tmp_path / "shop.json"
    first = gateways("--snapshot", str(snapshot)).wait_ready()
    seeded = _stock(first.base)
    assert api(first.base, "merchant_set_stock", {"sku_id": "sku_001_1", "stock": 4242},
               MERCHANT).ok
    first.stop()
    assert snapshot.exists()

    reset = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "reset",
                            f"SNAPSHOT={snapshot}"], capture_output=True, text=True, timeout=60)

    assert reset.returncode == 0, reset.stderr
    assert not snapshot.exists()
    second = gateways("--snapshot", str(snapshot)).wait_ready()
    assert "seeded demo data" in second.output()
    assert _stock(second.base) == seeded != 4242


def _dev_dir() -> dict[str, float]:
    folder = ROOT / ".dev"
    return {p.name: p.stat().st_mtime for p in folder.iterdir()} if folder.exists() else {}


def test_a_gateway_without_a_snapshot_writes_none(gateways, tmp_path):
    before = _dev_dir()  # a developer's own `make run` snapshot may be there: left alone
    gateway = gateways().wait_ready()
    assert api(gateway.base, "login", {"code": "dev:dave"}).ok
    time.sleep(1.5)
    output = gateway.stop()

    assert "Kept in" not in output and "snapshot" not in output
    assert _dev_dir() == before
    assert not list(tmp_path.glob("*.json"))


# ---- a second gateway on a busy port (issue 22) ---------------------------------------------

def test_a_second_gateway_on_a_taken_port_stops_before_seeding_in_one_line(gateways, tmp_path):
    snapshot = tmp_path / "shop.json"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        second = gateways("--snapshot", str(snapshot), port=port)
        second.process.wait(timeout=30)
        output = second.stop()

    assert second.process.returncode != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert f"port {port}" in lines[0] and "taken" in lines[0]
    assert f"PORT={port + 1} make run" in lines[0]
    assert "Try it" not in output and "seeded" not in output
    assert not snapshot.exists()


# ---- the snapshot file: types, and torn writes ----------------------------------------------

embedded_only = pytest.mark.skipif(bool(os.environ.get("TEST_MONGODB_URI")),
                                   reason="the snapshot is the embedded database's")


@embedded_only
def test_dates_object_ids_and_numbers_survive_the_round_trip(db, tmp_path):
    from shared.core import snapshot
    from shared.core.db import dump_embedded, get_db, reset_db
    when = datetime(2026, 3, 1, 8, 30, 15, 123000, tzinfo=timezone.utc)
    db.things.insert_one({"_id": "t1", "oid": ObjectId(), "at": when, "big": 2**40,
                          "price": 1999, "ratio": 0.5, "raw": b"\x00\xff", "none": None,
                          "nested": [{"at": when, "name": "苹果"}]})
    _, before = dump_embedded()
    snapshot.save(tmp_path / "s.json")
    reset_db(drop=True)

    assert snapshot.load(tmp_path / "s.json") == sum(len(d) for d in before.values())

    _, after = dump_embedded()
    assert after == before
    restored = get_db()
    thing = restored.things.find_one({"_id": "t1"})
    assert thing["at"] == when and thing["at"].tzinfo is not None
    assert isinstance(thing["oid"], ObjectId) and isinstance(thing["big"], int)
    assert "openid_1" in restored.users.index_information()  # declared indexes made again


@embedded_only
def test_a_save_that_dies_midway_leaves_the_previous_snapshot_whole(db, tmp_path,
                                                                    monkeypatch):
    from shared.core import snapshot
    path = tmp_path / "s.json"
    db.things.insert_one({"_id": "old"})
    snapshot.save(path)
    good = path.read_bytes()
    db.things.insert_one({"_id": "new", "pad": "x" * 100_000})

    def killed(*args: Any) -> None:
        raise KeyboardInterrupt  # what the code cannot catch by accident
    monkeypatch.setattr(os, "fsync", killed)  # after the bytes were written, before the rename
    with pytest.raises(KeyboardInterrupt):
        snapshot.save(path)

    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


KILLED_WHILE_WRITING = textwrap.dedent("""
    import builtins, os, sys, time
    os.environ["SHOP_ENV"] = "dev"
    sys.path.insert(0, sys.argv[2])
    from shared.core import snapshot
    from shared.core.db import get_db
    db = get_db()
    db.things.insert_many([{"i": i, "at": "first"} for i in range(100)])
    snapshot.save(sys.argv[1])
    db.things.insert_many([{"i": i, "pad": "x" * 1000} for i in range(2000)])

    class Stalls:  # writes half of the bytes, then waits to be killed
        def __init__(self, handle):
            self.handle = handle
        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            print("writing", flush=True)
            time.sleep(60)
        def __getattr__(self, name):
            return getattr(self.handle, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.handle.close()

    snapshot.open = lambda *args, **kwargs: Stalls(builtins.open(*args, **kwargs))
    snapshot.save(sys.argv[1])
""")


def test_a_process_killed_while_writing_the_snapshot_leaves_the_previous_one(tmp_path):
    from shared.core.snapshot import decode, load
    path = tmp_path / "s.json"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_WRITING, str(path),
                                str(ROOT)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "writing"
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()

    things = decode(path.read_bytes())["things"]  # whole, or this raises

    assert len(things) == 100 and all(t["at"] == "first" for t in things)
    assert load(path) is not None  # and the stray half-written file is cleared at load
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@embedded_only
def test_the_snapshotter_saves_a_burst_of_changes_once_and_the_rest_at_stop(db, tmp_path):
    from shared.core.snapshot import Snapshotter, decode
    path = tmp_path / "s.json"
    saver = Snapshotter(path, interval=1.0).start()
    for n in range(100):
        db.things.insert_one({"n": n})
    wait_until(path.exists, timeout=5)
    time.sleep(1.2)  # another tick, with nothing new
    assert saver.saves == 1  # a hundred writes, one save
    db.things.insert_one({"n": "last"})

    saver.stop()

    assert saver.saves == 2
    assert len(decode(path.read_bytes())["things"]) == 101
