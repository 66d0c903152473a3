"""Issue 4's "done means", as a new user and the merchant meet it in dev: the real dev gateway
in its own process (the WeChat Pay sandbox inside it, posting its notifies back to the gateway
over real HTTP) and the real merchant console in another.

A new user orders, pays through the sandbox, sees the order paid, asks for a refund; the
merchant approves it with `shopctl aftersales approve`; the money and the stock come back.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.conftest import ROOT
from tests.e2e.test_devserver import _free_port, ready
from tests.helpers import wait_until

MERCHANT = "e2e-pay-merchant-token-0123456789"
SHOPCTL = str(ROOT / "scripts" / "shopctl")


@pytest.fixture(scope="module")
def devserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The dev gateway with the WeChat Pay sandbox; yields its base URL and its log file."""
    port = _free_port()
    env = {**os.environ, "SHOP_ENV": "dev", "MERCHANT_TOKEN": MERCHANT, "PORT": str(port)}
    # the sandbox, with its notifies pointed at this gateway by the devserver itself
    for name in ("MONGODB_URI", "WXPAY_MCHID", "WXPAY_NOTIFY_URL", "WXPAY_REFUND_NOTIFY_URL"):
        env.pop(name, None)
    if os.environ.get("TEST_MONGODB_URI"):
        env.update(MONGODB_URI=os.environ["TEST_MONGODB_URI"],
                   MONGODB_DB=f"shop_e2e_{uuid.uuid4().hex[:10]}")
    # a file, not a pipe: nobody reads the gateway's output until the end, and a full pipe
    # would stop the gateway mid-request
    log = tmp_path_factory.mktemp("devserver") / "devserver.log"
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "devserver"),
                                    "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=sink, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def started() -> bool:
        if process.poll() is not None:
            pytest.fail("the dev gateway exited:\n" + log.read_text())
        return ready(base)
    try:
        wait_until(started, timeout=30, interval=0.2,
                   message=lambda: "the dev gateway did not become ready:\n" + log.read_text())
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def api(base: str, action: str, body: Any = None, token: str | None = None) -> Any:
    """The data of a successful call; the whole envelope in the failure message otherwise."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.post(f"{base}/api/{action}", json={} if body is None else body,
                           headers=headers, timeout=30)
    envelope = answer.json()
    assert answer.status_code == 200 and envelope["ok"], (action, answer.status_code, envelope)
    return envelope["data"]


def shopctl(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, SHOPCTL, "--api", base, "--token", MERCHANT, *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def served(log: Path, path: str) -> list[str]:
    """The HTTP statuses the gateway's own server logged for POSTs to ``path``."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())  # werkzeug colours some lines
    return re.findall(rf'"POST {re.escape(path)} HTTP/1\.1" (\d{{3}})', text)


def sku_state(base: str, product_id: str, sku_id: str) -> dict[str, int]:
    product = api(base, "merchant_get_product", {"product_id": product_id}, MERCHANT)
    sku = next(s for s in product["skus"] if s["id"] == sku_id)
    return {k: sku.get(k, 0) for k in ("stock", "locked", "sold")}


def test_a_new_user_pays_asks_a_refund_and_gets_money_and_stock_back(
        devserver: tuple[str, Path]) -> None:
    base, log = devserver
    name = f"pay{uuid.uuid4().hex[:8]}"
    login = api(base, "login", {"code": f"dev:{name}"})
    token = login["token"]
    assert login["user"]["nickname"] == name

    # order a seeded product, two units of its first SKU
    product = api(base, "list_products", {"sort": "price_asc"})["items"][0]
    sku = api(base, "get_product", {"product_id": product["id"]})["skus"][0]
    before = sku_state(base, product["id"], sku["id"])
    address = api(base, "add_address", {
        "name": "新用户", "phone": "13900139000", "province": "上海市", "city": "上海市",
        "district": "浦东新区", "detail": "陆家嘴环路1000号"}, token)
    order = api(base, "place_order", {"request_id": uuid.uuid4().hex, "address_id": address["id"],
                                      "items": [{"sku_id": sku["id"], "quantity": 2}]}, token)
    assert (order["status"], order["total"]) == ("pending_payment", 2 * sku["price"])
    assert sku_state(base, product["id"], sku["id"]) == {
        **before, "stock": before["stock"] - 2, "locked": before["locked"] + 2}

    # wx.requestPayment's parameters, from a real prepay at the sandbox
    params = api(base, "pay_order", {"order_id": order["id"]}, token)
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
    assert api(base, "pay_order", {"order_id": order["id"]}, token)["package"] == \
        params["package"]  # the open prepay is reused

    # the shopper "pays": the sandbox posts a signed, encrypted notify to /pay/notify
    paid = api(base, "sandbox_pay", {"order_id": order["id"]}, token)
    assert paid["notify_status"] == 204, paid
    seen = api(base, "get_order", {"order_id": order["id"]}, token)
    assert seen["status"] == "paid" and seen["transaction_id"] and seen["paid_at"]
    # it came in over real HTTP, once (the gateway logs the request as it answers)
    assert wait_until(lambda: served(log, "/pay/notify"), timeout=5) == ["204"]
    assert sku_state(base, product["id"], sku["id"]) == {
        **before, "stock": before["stock"] - 2, "sold": before["sold"] + 2}

    # the shopper asks for the money back, for the whole order
    after_sale = api(base, "request_after_sale", {"order_id": order["id"],
                                                  "type": "refund_only",
                                                  "reason": "拍错了"}, token)
    assert (after_sale["status"], after_sale["amount"]) == ("pending_review", order["total"])

    # the merchant sees it in the console and approves it there
    listed = shopctl(base, "aftersales", "list", "--status", "pending_review")
    assert listed.returncode == 0, listed.stderr
    assert after_sale["id"] in listed.stdout and order["id"] in listed.stdout
    approved = shopctl(base, "--json", "aftersales", "approve", after_sale["id"],
                       "--note", "同意")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] in ("refunding", "refunded")

    # WeChat Pay (the sandbox, here as in `make run`) refunds a moment later, on its own
    # thread, and notifies /pay/refund-notify: this process can only wait for it
    def refunded_order() -> Any:
        seen = api(base, "get_order", {"order_id": order["id"]}, token)
        return seen if seen["status"] == "refunded" else None
    final = wait_until(refunded_order, timeout=20, interval=0.1,
                       message=f"order {order['id']} was not refunded")
    assert final["refunded_amount"] == final["total"] == order["total"]
    assert final["refundable"] == 0 and final["refunded_at"]
    assert api(base, "get_after_sale", {"after_sale_id": after_sale["id"]},
               token)["status"] == "refunded"
    assert wait_until(lambda: served(log, "/pay/refund-notify"), timeout=5) == ["204"]
    # the two units are on sale again, and no longer counted as sold
    assert sku_state(base, product["id"], sku["id"]) == before
    shown = shopctl(base, "orders", "show", order["id"])
    assert shown.returncode == 0, shown.stderr
    assert "refunded" in shown.stdout
