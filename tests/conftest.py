"""Shared fixtures: a fresh database per test (mongomock, or a real server when
TEST_MONGODB_URI is set), a caller that goes through the real dispatcher, small factories, the
WeChat Pay sandbox in its synchronous mode, and the test helpers of tests/helpers.py: one
``wait_until`` and one ``Clock`` (fixture ``clock``)."""
from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from tests.helpers import Clock

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
MERCHANT_TOKEN = "test-merchant-token-0123456789"

_SETTINGS_ENV = ("SHOP_ENV", "MONGODB_URI", "MONGODB_DB", "TOKEN_SECRET", "TOKEN_TTL_SECONDS",
                 "MERCHANT_TOKEN", "WX_APPID", "WX_SECRET", "WECHAT_API_BASE",
                 "ORDER_PAY_TIMEOUT_SECONDS", "TRUST_CLOUDBASE_IDENTITY")


def _reset() -> None:
    from shared.core.config import reset_settings
    from shared.core.db import reset_db
    reset_db()
    reset_settings()


@pytest.fixture(autouse=True)
def shop_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts on a fresh, empty database with test settings."""
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOP_ENV", "test")
    monkeypatch.setenv("MERCHANT_TOKEN", MERCHANT_TOKEN)
    real_server = os.environ.get("TEST_MONGODB_URI")
    if real_server:
        monkeypatch.setenv("MONGODB_URI", real_server)
        monkeypatch.setenv("MONGODB_DB", f"shop_test_{uuid.uuid4().hex[:12]}")
    _reset()
    if real_server:  # a real server gets its indexes from the deploy step, as in production
        from shared.core.db import ensure_indexes, get_db
        ensure_indexes(get_db())
    yield
    from shared.core.config import reset_settings
    from shared.core.db import reset_db
    reset_db(drop=True)
    reset_settings()


@pytest.fixture
def many_unpaid_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a test of something else in which one shopper holds many unpaid orders at once:
    lift the ceilings of fair stock (MAX_UNPAID_ORDERS, MAX_UNPAID_UNITS_PER_SKU)."""
    from shared.core.config import reset_settings
    monkeypatch.setenv("MAX_UNPAID_ORDERS", "1000")
    monkeypatch.setenv("MAX_UNPAID_UNITS_PER_SKU", "100000")
    reset_settings()


@pytest.fixture
def db(shop_env: None) -> Any:
    from shared.core.db import get_db
    return get_db()


@pytest.fixture
def faulty_db(db: Any) -> Iterator[Any]:
    """The shop's database behind the fault-injection proxy of tests/faults.py: every write
    counted, a death after write k when a test arms it (``die_after_write``)."""
    from tests.faults import install, uninstall
    proxy = install()
    yield proxy
    uninstall(proxy)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The shop's clock for this test: the real time when the test starts, standing still until
    the test moves it (``clock.advance(seconds=1)``)."""
    return Clock().install(monkeypatch)


@pytest.fixture(autouse=True)
def pay_sandbox(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The process's WeChat Pay sandbox (used whenever WXPAY_MCHID is unset), synchronous: a
    refund it is asked for has landed, its notify handled by the shop, when the request
    returns; so no test waits for a refund. (The dev gateway keeps the default: a moment
    later, from the sandbox's own thread, as WeChat Pay does.)"""
    from shared.core.http import deliver_in_process
    from shared.wechat.pay_sandbox import get_sandbox
    sandbox = get_sandbox(deliver=deliver_in_process)
    monkeypatch.setattr(sandbox, "sync_refunds", True)
    return sandbox


@dataclass
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.body.get("ok"))

    @property
    def data(self) -> Any:
        assert self.body["ok"], self.body
        return self.body["data"]

    @property
    def code(self) -> Optional[str]:
        return None if self.body.get("ok") else self.body["error"]["code"]


def call(action: str, payload: Any = None, token: Optional[str] = None) -> Answer:
    """Call an action through the real dispatcher (as HTTP and callFunction do)."""
    from shared.core.dispatch import Credentials, dispatch, to_json
    outcome = dispatch(action, {} if payload is None else payload, Credentials(bearer=token))
    return Answer(outcome.status, json.loads(to_json(outcome.envelope)))


def merchant(action: str, payload: Any = None) -> Answer:
    return call(action, payload, MERCHANT_TOKEN)


@dataclass
class Shopper:
    name: str
    token: str
    user_id: str

    def call(self, action: str, payload: Any = None) -> Answer:
        return call(action, payload, self.token)


_counter = itertools.count(1)


def new_shopper(name: Optional[str] = None) -> Shopper:
    name = name or f"shopper{next(_counter)}"
    data = call("login", {"code": f"dev:{name}"}).data
    return Shopper(name, data["token"], data["user"]["id"])


def new_address(shopper: Shopper) -> str:
    return shopper.call("add_address", {
        "name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
        "district": "浦东新区", "detail": "世纪大道100号"}).data["id"]


def new_category(name: str = "水果") -> str:
    return merchant("merchant_upsert_category", {"name": name}).data["id"]


def new_product(price: int = 1000, stock: int = 100, skus: int = 1,
                title: str = "测试苹果", category_id: Optional[str] = None) -> dict[str, Any]:
    category_id = category_id or new_category()
    return merchant("merchant_upsert_product", {
        "title": title, "category_id": category_id, "images": ["https://img.test/1.png"],
        "skus": [{"specs": {"规格": f"{n}号"}, "price": price + n - 1, "stock": stock}
                 for n in range(1, skus + 1)]}).data


def run_threads(count: int, target: Any) -> list[Any]:
    """Run ``target(i)`` on ``count`` real threads released together; return the results."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # kept as a result so the test can assert on it
            results[i] = exc
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event.update(overrides)
    return event


@pytest.fixture
def gateway(db: Any) -> Iterator[str]:
    """The shop's WSGI app served over real HTTP on a free loopback port; yields its base URL."""
    from werkzeug.serving import make_server

    from shared.core.http import app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


# ---- WeChat Pay: the independent double, with the shop configured as a real merchant -------

@pytest.fixture(scope="session")
def _double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # RSA key generation is the slow part: one double (one set of keys) for the session
    from tests.wxpay_double import WxPayDouble
    double = WxPayDouble()
    double.env = double.write_files(tmp_path_factory.mktemp("wxpay"))  # type: ignore[attr-defined]
    with double:
        yield double


def _forget_pay_clients() -> None:
    from shared.core.config import reset_settings
    from shared.wechat import pay
    reset_settings()
    pay._clients.clear()


@pytest.fixture
def wx(_double: Any, gateway: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The double, clean, and the shop configured for it as a real merchant (WXPAY_MCHID set);
    its notifies reach the shop over real HTTP through the gateway."""
    import time
    double = _double
    with double._lock:
        double.requests.clear()
        double.notifies.clear()
        double._failures.clear()
        double._delays.clear()
    double.drop_notifies = False
    double.response_forgery = None
    double.refund_immediate_status = "PROCESSING"
    double.notify_transport = None
    double.clock = time.time
    for name, value in double.env.items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WXPAY_NOTIFY_URL", f"{gateway}/pay/notify")
    monkeypatch.setenv("WXPAY_REFUND_NOTIFY_URL", f"{gateway}/pay/refund-notify")
    monkeypatch.setenv("WXPAY_TIMEOUT_SECONDS", "5")
    double.gateway = gateway  # type: ignore[attr-defined]
    _forget_pay_clients()
    yield double
    _forget_pay_clients()
