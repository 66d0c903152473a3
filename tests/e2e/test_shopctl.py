"""The merchant console, run as a real subprocess against the HTTP gateway.

The gateway fixture serves the in-process test database, so a test can set the scene with the
in-process helpers (a shopper's order) and check what the console did the same way.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from typing import Any, Iterator

import pytest

from tests.conftest import (
    MERCHANT_TOKEN,
    ROOT,
    merchant,
    new_address,
    new_category,
    new_product,
    new_shopper,
)

SHOPCTL = str(ROOT / "scripts" / "shopctl")


def shopctl(*args: str, api: str = "http://127.0.0.1:1", token: str = MERCHANT_TOKEN) \
        -> subprocess.CompletedProcess[str]:
    # wide columns: rich draws 80 columns when not on a terminal and would fold long ids
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, SHOPCTL, "--api", api, "--token", token, *args],
                          capture_output=True, text=True, timeout=30, cwd=ROOT, env=env)


def data_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def paid_order(product: dict[str, Any]) -> str:
    shopper = new_shopper()
    order = shopper.call("place_order", {
        "request_id": "shopctl-order-1", "address_id": new_address(shopper),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    return order["id"]


@pytest.mark.parametrize("command", [
    [], ["products"], ["products", "add"], ["products", "list"], ["products", "update"],
    ["products", "stock"], ["categories"], ["orders"], ["orders", "ship"], ["coupons"],
    ["coupons", "create"], ["db"], ["aftersales"], ["aftersales", "list"],
    ["aftersales", "approve"], ["aftersales", "reject"], ["aftersales", "receive"],
])
def test_help_is_there_for_every_group_and_command(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl" in result.stdout


def test_help_says_money_is_entered_in_fen() -> None:
    assert "fen" in shopctl("products", "add", "--help").stdout


def test_added_product_appears_in_the_list_with_its_price_in_yuan(gateway: str) -> None:
    category = data_of(shopctl("--json", "categories", "add", "--name", "水果", api=gateway))

    added = shopctl("products", "add", "--title", "[限时]脐橙", "--category-id",
                    category["items"][0]["id"], "--price", "1250", "--stock", "30",
                    "--spec", "规格=5斤", api=gateway)
    listed = shopctl("products", "list", api=gateway)

    assert added.returncode == 0, added.stderr
    assert listed.returncode == 0, listed.stderr
    assert "[限时]脐橙" in listed.stdout and "¥12.50" in listed.stdout


def test_multi_sku_product_is_added_from_json(gateway: str) -> None:
    skus = [{"specs": {"size": "S"}, "price": 990, "stock": 5},
            {"specs": {"size": "L"}, "price": 1990, "stock": 7}]

    product = data_of(shopctl("--json", "products", "add", "--title", "T恤", "--category-id",
                              new_category(), "--skus-json", json.dumps(skus), api=gateway))

    assert sorted((s["price"], s["stock"]) for s in product["skus"]) == [(990, 5), (1990, 7)]


def test_stock_command_sets_the_stock_for_sale(gateway: str) -> None:
    product = new_product(stock=10)
    sku_id = product["skus"][0]["id"]

    result = shopctl("products", "stock", sku_id, "42", api=gateway)

    assert result.returncode == 0, result.stderr
    sku = merchant("merchant_get_product", {"product_id": product["id"]}).data["skus"][0]
    assert (sku["stock"], sku["locked"], sku["sold"]) == (42, 0, 0)


def test_update_changes_title_and_price_and_keeps_the_sku(gateway: str) -> None:
    product = new_product(price=1000)

    result = shopctl("products", "update", product["id"], "--title", "新苹果", "--price", "1500",
                     "--status", "off_shelf", api=gateway)

    assert result.returncode == 0, result.stderr
    after = merchant("merchant_get_product", {"product_id": product["id"]}).data
    assert (after["title"], after["status"]) == ("新苹果", "off_shelf")
    assert [(s["id"], s["price"]) for s in after["skus"]] == [(product["skus"][0]["id"], 1500)]


def test_update_refuses_a_single_price_for_a_multi_sku_product(gateway: str) -> None:
    product = new_product(skus=2)

    result = shopctl("products", "update", product["id"], "--price", "1500", api=gateway)

    assert result.returncode == 1
    assert "--skus-json" in result.stderr


def test_paid_order_is_shipped_then_listed_as_shipped(gateway: str) -> None:
    order_id = paid_order(new_product(price=1250))

    shipped = shopctl("orders", "ship", order_id, "--carrier", "SF", "--tracking-no",
                      "SF123456", api=gateway)
    listed = shopctl("orders", "list", "--status", "shipped", api=gateway)

    assert shipped.returncode == 0, shipped.stderr
    assert order_id in listed.stdout and "¥25.00" in listed.stdout
    order = merchant("merchant_get_order", {"order_id": order_id}).data
    assert order["shipment"] == {"carrier": "SF", "tracking_no": "SF123456"}


def test_order_show_prints_lines_and_address(gateway: str) -> None:
    order_id = paid_order(new_product(title="测试苹果"))

    result = shopctl("orders", "show", order_id, api=gateway)

    assert result.returncode == 0, result.stderr
    assert "测试苹果" in result.stdout and "世纪大道100号" in result.stdout


def test_shipping_an_unpaid_order_is_refused_with_its_code(gateway: str) -> None:
    shopper = new_shopper()
    order = shopper.call("place_order", {
        "request_id": "shopctl-unpaid-1", "address_id": new_address(shopper),
        "items": [{"sku_id": new_product()["skus"][0]["id"], "quantity": 1}]}).data

    result = shopctl("orders", "ship", order["id"], "--carrier", "SF", "--tracking-no", "X1",
                     api=gateway)

    assert result.returncode == 1
    assert result.stderr.startswith("INVALID_STATE:")


def sandbox_paid_order(shopper: Any, product: dict[str, Any], quantity: int = 2) -> dict[str, Any]:
    """An order the shopper paid through the WeChat Pay sandbox (a genuine signed notify)."""
    order = shopper.call("place_order", {
        "request_id": f"shopctl-paid-{product['id']}", "address_id": new_address(shopper),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": quantity}]}).data
    paid = shopper.call("sandbox_pay", {"order_id": order["id"]}).data
    assert paid["notify_status"] == 204 and paid["order"]["status"] == "paid", paid
    return paid["order"]


def refund_requested(price: int = 1250) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    shopper = new_shopper()
    product = new_product(price=price, stock=10)
    order = sandbox_paid_order(shopper, product)
    after_sale = shopper.call("request_after_sale", {"order_id": order["id"],
                                                     "type": "refund_only",
                                                     "reason": "不想要了"}).data
    return shopper, order, after_sale


def test_after_sale_is_listed_approved_and_refunded(gateway: str) -> None:
    shopper, order, after_sale = refund_requested(price=1250)

    listed = shopctl("aftersales", "list", "--status", "pending_review", api=gateway)
    approved = shopctl("aftersales", "approve", after_sale["id"], "--note", "同意退款",
                       api=gateway)

    assert listed.returncode == 0, listed.stderr
    assert after_sale["id"] in listed.stdout and order["id"] in listed.stdout
    assert "¥25.00" in listed.stdout and "不想要了" in listed.stdout
    assert "pending_review" in listed.stdout and "refund" in listed.stdout
    assert approved.returncode == 0, approved.stderr
    assert "¥25.00" in approved.stdout and after_sale["id"] in approved.stdout
    # the sandbox (synchronous in tests) refunded before the approval returned
    refunded = shopper.call("get_order", {"order_id": order["id"]}).data
    assert refunded["status"] == "refunded", refunded
    assert refunded["refunded_amount"] == order["total"] == 2500
    assert shopper.call("get_after_sale", {"after_sale_id": after_sale["id"]}) \
        .data["status"] == "refunded"
    sale = merchant("merchant_get_after_sale", {"after_sale_id": after_sale["id"]}).data
    assert sale["merchant_note"] == "同意退款"


def test_after_sales_list_stays_readable_at_80_columns(gateway: str) -> None:
    _, _, after_sale = refund_requested()

    result = subprocess.run([sys.executable, SHOPCTL, "--api", gateway, "--token",
                             MERCHANT_TOKEN, "aftersales", "list"], capture_output=True,
                            text=True, timeout=30, cwd=ROOT, env={**os.environ, "COLUMNS": "80"})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "pending_review" in result.stdout and "¥25.00" in result.stdout
    # ids are cut to a unique prefix, each on one line, rather than folded or cut with "…"
    shown_id, shown_order = lines[2].split()[:2]
    assert after_sale["id"].startswith(shown_id) and len(shown_id) < len(after_sale["id"])
    assert after_sale["order_id"].startswith(shown_order), result.stdout
    assert "…" not in result.stdout and "--full-ids" in result.stdout


def test_after_sales_list_filters_by_order_and_prints_json(gateway: str) -> None:
    _, order, after_sale = refund_requested()
    refund_requested()  # another shopper's, on another order

    data = data_of(shopctl("--json", "aftersales", "list", "--order-id", order["id"],
                           api=gateway))

    assert [item["id"] for item in data["items"]] == [after_sale["id"]]
    assert data["items"][0]["amount"] == order["total"] and data["total"] == 1


def test_after_sale_show_prints_lines_amount_and_reason(gateway: str) -> None:
    _, order, after_sale = refund_requested()

    result = shopctl("aftersales", "show", after_sale["id"], api=gateway)

    assert result.returncode == 0, result.stderr
    for expected in (after_sale["id"], order["id"], "refund_only", "pending_review", "¥25.00",
                     "不想要了", "测试苹果"):
        assert expected in result.stdout, expected


def test_rejected_after_sale_gives_the_amount_back_to_ask_again(gateway: str) -> None:
    shopper, order, after_sale = refund_requested()

    rejected = data_of(shopctl("--json", "aftersales", "reject", after_sale["id"], "--note",
                               "商品无质量问题", api=gateway))

    assert (rejected["status"], rejected["merchant_note"]) == ("rejected", "商品无质量问题")
    after = shopper.call("get_order", {"order_id": order["id"]}).data
    assert (after["status"], after["refundable"], after["refunded_amount"]) == \
        ("paid", order["total"], 0)


def test_approving_twice_is_refused_with_its_code(gateway: str) -> None:
    _, _, after_sale = refund_requested()
    assert shopctl("aftersales", "reject", after_sale["id"], api=gateway).returncode == 0

    result = shopctl("aftersales", "approve", after_sale["id"], api=gateway)
    as_json = shopctl("--json", "aftersales", "approve", after_sale["id"], api=gateway)

    assert result.returncode == 1
    assert result.stderr.startswith("INVALID_STATE:") and "Traceback" not in result.stderr
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "INVALID_STATE"


def test_unknown_after_sale_is_not_found(gateway: str) -> None:
    result = shopctl("aftersales", "show", "afs_nope", api=gateway)

    assert result.returncode == 1
    assert result.stderr.startswith("NOT_FOUND:")


def test_returned_goods_are_received_then_refunded(gateway: str) -> None:
    shopper = new_shopper()
    order = sandbox_paid_order(shopper, new_product(price=1000, stock=10), quantity=1)
    merchant("merchant_ship_order", {"order_id": order["id"], "carrier": "SF",
                                     "tracking_no": "SF1"}).data
    after_sale = shopper.call("request_after_sale", {"order_id": order["id"],
                                                     "type": "return_refund",
                                                     "reason": "尺码不合适"}).data

    approved = shopctl("aftersales", "approve", after_sale["id"], api=gateway)
    early = shopctl("aftersales", "receive", after_sale["id"], api=gateway)
    shopper.call("submit_return_shipment", {"after_sale_id": after_sale["id"], "carrier": "SF",
                                            "tracking_no": "SF2"}).data
    received = shopctl("aftersales", "receive", after_sale["id"], api=gateway)

    assert approved.returncode == 0, approved.stderr
    assert "awaiting_return" in approved.stdout
    assert early.returncode == 1 and early.stderr.startswith("INVALID_STATE:")
    assert received.returncode == 0, received.stderr
    assert "¥10.00" in received.stdout
    assert shopper.call("get_order", {"order_id": order["id"]}).data["refunded_amount"] == 1000


def test_coupon_is_created_and_listed(gateway: str) -> None:
    created = data_of(shopctl("--json", "coupons", "create", "--name", "满99减10", "--kind",
                              "fixed", "--amount", "1000", "--threshold", "9900", "--total",
                              "50", "--valid-days", "30", api=gateway))

    listed = shopctl("coupons", "list", api=gateway)

    assert (created["amount"], created["threshold"], created["total"]) == (1000, 9900, 50)
    assert created["id"] in listed.stdout and "¥10.00 off over ¥99.00" in listed.stdout


def test_coupon_window_without_zone_is_beijing_time(gateway: str) -> None:
    created = data_of(shopctl("--json", "coupons", "create", "--name", "春节", "--kind",
                              "percent", "--percent", "10", "--total", "5", "--valid-from",
                              "2030-01-01", "--valid-to", "2030-02-01T12:00", api=gateway))

    assert (created["valid_from"], created["valid_to"]) == ("2029-12-31T16:00:00Z",
                                                            "2030-02-01T04:00:00Z")


def test_invalid_input_lists_the_fields_and_exits_1(gateway: str) -> None:
    result = shopctl("products", "add", "--title", "x", "--category-id", new_category(),
                     "--price", "0", "--stock", "1", api=gateway)

    assert result.returncode == 1
    assert "VALIDATION_ERROR" in result.stderr and "skus.0.price" in result.stderr


def test_bad_token_exits_1_with_unauthenticated(gateway: str) -> None:
    result = shopctl("orders", "list", api=gateway, token="not-the-merchant-token")

    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_flag_prints_the_error_envelope(gateway: str) -> None:
    result = shopctl("--json", "orders", "list", api=gateway, token="nope")

    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "UNAUTHENTICATED"


def test_unreachable_api_exits_2_in_one_line_without_traceback() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = f"http://127.0.0.1:{port}"

    result = shopctl("products", "list", api=api)

    assert result.returncode == 2
    assert result.stderr.startswith(f"cannot reach {api}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def not_the_shop() -> Iterator[str]:
    """An HTTP server that answers an HTML page, like a proxy's error page."""
    from werkzeug.serving import make_server

    def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("502 Bad Gateway", [("Content-Type", "text/html")])
        return [b"<html>bad gateway</html>"]
    server = make_server("127.0.0.1", 0, page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_an_answer_without_the_envelope_exits_2(not_the_shop: str) -> None:
    result = shopctl("orders", "list", api=not_the_shop)

    assert result.returncode == 2
    assert "HTTP 502" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(bool(os.environ.get("TEST_MONGODB_URI")), reason="embedded database only")
def test_db_init_refuses_the_embedded_database() -> None:
    result = shopctl("db", "init")

    assert result.returncode == 1
    assert "MONGODB_URI" in result.stderr


# Runs the console with mongomock standing in for pymongo's client, so that the db commands are
# tested end to end (settings, connection, indexes, seed, output) without a MongoDB server.
_WITH_MONGOMOCK_SERVER = """
import runpy, sys, mongomock, pymongo
pymongo.MongoClient = mongomock.MongoClient
sys.argv = ["shopctl", *sys.argv[1:]]
runpy.run_path({path!r}, run_name="__main__")
"""


def test_db_init_and_seed_work_on_a_configured_mongodb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo.test:27017")
    monkeypatch.setenv("MONGODB_DB", "shop_console_test")
    code = _WITH_MONGOMOCK_SERVER.format(path=SHOPCTL)

    def run(*args: str) -> Any:
        result = subprocess.run([sys.executable, "-c", code, "--json", "db", *args],
                                capture_output=True, text=True, timeout=30, cwd=ROOT)
        return data_of(result)

    initialised = run("init")
    seeded = run("seed")

    assert initialised["database"] == "shop_console_test" and initialised["indexes"] > 0
    assert seeded["products"] == 30


@pytest.mark.skipif(not os.environ.get("TEST_MONGODB_URI"), reason="needs a real MongoDB")
def test_db_init_and_seed_prepare_a_real_mongodb(db: Any) -> None:
    # the subprocess inherits MONGODB_URI/MONGODB_DB of this test's own database
    assert shopctl("db", "init").returncode == 0
    seeded = shopctl("db", "seed")

    assert seeded.returncode == 0, seeded.stderr
    assert db.products.count_documents({}) == 30


def test_db_migrate_creates_the_indexes_functions_no_longer_create(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo.test:27017")
    monkeypatch.setenv("MONGODB_DB", "shop_migrate_test")
    code = _WITH_MONGOMOCK_SERVER.format(path=SHOPCTL)
    result = subprocess.run([sys.executable, "-c", code, "--json", "db", "migrate"],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    answer = data_of(result)
    assert answer["database"] == "shop_migrate_test"
    assert answer["present"] >= answer["indexes"] - 1 > 50  # (keys of one index may repeat)
