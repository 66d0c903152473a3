"""The README's run command, as a user meets it: the real dev gateway in its own process,
seeded, answering over HTTP; a shopper goes from login to a received order."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from typing import Any, Iterator

import pytest
import requests

from tests.conftest import ROOT
from tests.helpers import wait_until

MERCHANT = "e2e-merchant-token-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(base: str) -> bool:
    """The gateway at ``base`` answers its health check (not yet listening: not ready)."""
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def devserver() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SHOP_ENV": "dev", "MERCHANT_TOKEN": MERCHANT, "PORT": str(port)}
    env.pop("MONGODB_URI", None)
    if os.environ.get("TEST_MONGODB_URI"):
        env.update(MONGODB_URI=os.environ["TEST_MONGODB_URI"],
                   MONGODB_DB=f"shop_e2e_{uuid.uuid4().hex[:10]}")
    # a file, not a pipe: a pipe nobody reads would stall the gateway once it fills up
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "devserver"),
                                "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def gateway_log() -> str:
        log.seek(0)
        return "the dev gateway did not become ready:\n" + log.read()
    try:
        wait_until(lambda: ready(base), timeout=30, interval=0.2, message=gateway_log)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def api(base: str, action: str, body: Any = None, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{base}/api/{action}", json={} if body is None else body,
                         headers=headers, timeout=10)


def test_the_dev_gateway_is_seeded_with_a_browsable_shop(devserver: str) -> None:
    categories = api(devserver, "list_categories").json()["data"]["items"]
    assert len(categories) >= 3
    page = api(devserver, "list_products", {"page_size": 100}).json()["data"]
    assert page["total"] >= 30
    product = api(devserver, "get_product", {"product_id": page["items"][0]["id"]}).json()["data"]
    assert product["skus"] and all(isinstance(s["price"], int) for s in product["skus"])
    image = requests.get(product["images"][0], timeout=5)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/svg+xml"


def test_alice_orders_and_receives_through_the_dev_gateway(devserver: str) -> None:
    login = api(devserver, "login", {"code": "dev:alice"}).json()["data"]
    token = login["token"]
    assert login["user"]["nickname"] == "alice"
    product = api(devserver, "list_products", {"sort": "price_asc"}).json()["data"]["items"][0]
    sku = api(devserver, "get_product", {"product_id": product["id"]}).json()["data"]["skus"][0]
    address = api(devserver, "add_address", {
        "name": "Alice", "phone": "13900139000", "province": "上海市", "city": "上海市",
        "district": "浦东新区", "detail": "陆家嘴环路1000号"}, token).json()["data"]
    assert api(devserver, "cart_add", {"sku_id": sku["id"], "quantity": 2}, token).ok
    answer = api(devserver, "place_order", {"request_id": uuid.uuid4().hex, "from_cart": True,
                                            "address_id": address["id"]}, token)
    order = answer.json()["data"]
    assert answer.status_code == 200 and order["total"] == 2 * sku["price"]

    assert api(devserver, "merchant_mark_paid", {"order_id": order["id"]}, MERCHANT).ok
    shipped = api(devserver, "merchant_ship_order", {"order_id": order["id"], "carrier": "SF",
                                                     "tracking_no": "SF1234567"}, MERCHANT)
    assert shipped.json()["data"]["status"] == "shipped"
    done = api(devserver, "confirm_receipt", {"order_id": order["id"]}, token).json()["data"]
    assert done["status"] == "completed"


def test_dev_run_timer_runs_order_timeout_on_the_gateway(devserver: str) -> None:
    answer = api(devserver, "dev_run_timer", {"name": "order_timeout"}, MERCHANT)
    assert answer.status_code == 200
    assert set(answer.json()["data"]["result"]) >= {"cancelled", "abandoned"}
