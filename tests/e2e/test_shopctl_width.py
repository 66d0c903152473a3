"""Console tables fit the terminal at 80 and 120 columns: every column kept, ids cut to a
unique prefix only when they must be (whole with --full-ids), long text folded, never "…"."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from rich.cells import cell_len

from tests.conftest import MERCHANT_TOKEN, ROOT, merchant, new_product, new_shopper
from tests.e2e.test_shopctl import SHOPCTL, refund_requested
from tests.e2e.test_shopctl_fission import _invite_chain

WIDTHS = [80, 120]


def at_width(width: int, gateway: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(width)}
    result = subprocess.run([sys.executable, SHOPCTL, "--api", gateway, "--token",
                             MERCHANT_TOKEN, *args], capture_output=True, text=True,
                            timeout=30, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    return result


def fits(result: subprocess.CompletedProcess[str], width: int, headers: list[str]) -> list[str]:
    """The header's words: no line wider than the terminal, no "…", every header there."""
    lines = result.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= width, result.stdout
    assert "…" not in result.stdout
    header = next(line for line in lines if all(h in line for h in headers[:2]))
    for name in headers:
        assert name in header, (name, result.stdout)
    return header.replace("┃", " ").replace("│", " ").split()


def id_shown(stdout: str, full_id: str) -> bool:
    """The id whole, or a prefix of it (kind, "_" and 6+ characters) standing alone."""
    words = stdout.split()
    return full_id in words or any(
        full_id.startswith(word) and len(word) >= full_id.index("_") + 7 for word in words)


@pytest.mark.parametrize("width", WIDTHS)
def test_after_sales_list_fits(gateway: str, width: int) -> None:
    _, order, after_sale = refund_requested()

    result = at_width(width, gateway, "aftersales", "list")

    fits(result, width, ["id", "order", "type", "status", "amount", "reason", "created"])
    assert id_shown(result.stdout, after_sale["id"]) and id_shown(result.stdout, order["id"])
    assert "pending_review" in result.stdout and "¥25.00" in result.stdout


def outbox_messages() -> None:
    """Messages in the outbox: a nearby campaign to a shopper who opted in."""
    store = merchant("merchant_upsert_store", {
        "name": "陆家嘴店", "address": "世纪大道100号", "lng": 121.5055, "lat": 31.2397}).data
    sku_id = new_product(price=1000)["skus"][0]["id"]
    deal = merchant("merchant_create_deal", {
        "store_ids": "all", "sku_id": sku_id, "deal_price": 500, "kind": "featured",
        "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}).data
    for name in ("near1", "near2"):
        new_shopper(name).call("set_location_consent",
                               {"enabled": True, "lat": 31.2397, "lng": 121.5055}).data
    merchant("merchant_nearby_campaign", {"store_id": store["id"], "radius_m": 3000,
                                          "deal_id": deal["id"], "message": "今日特价"}).data


@pytest.mark.parametrize("width", WIDTHS)
def test_outbox_list_keeps_every_column(gateway: str, width: int) -> None:
    outbox_messages()

    result = at_width(width, gateway, "outbox", "list")

    fits(result, width, ["user", "purpose", "occasion", "status", "reason", "template",
                         "tries", "created", "sent"])
    listed = at_width(width, gateway, "outbox", "list", "--json")  # --json after the command
    for message in json.loads(listed.stdout)["items"]:
        assert id_shown(result.stdout, message["user_id"]), result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_fission_report_keeps_the_nickname_column(gateway: str, width: int) -> None:
    _invite_chain()

    result = at_width(width, gateway, "fission", "report")

    fits(result, width, ["user", "nickname", "shares", "direct", "downstream", "new users",
                         "revenue"])
    assert "alice" in result.stdout and "bob" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_group_buy_list_keeps_its_last_column(gateway: str, width: int) -> None:
    product = new_product(price=1000, stock=10, title="阳山水蜜桃 精品礼盒")
    merchant("merchant_create_group_buy", {
        "product_id": product["id"], "team_size": 3, "team_ttl_minutes": 60,
        "sku_prices": [{"sku_id": product["skus"][0]["id"], "group_price": 800}],
        "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
        "stock_limit": 20, "per_user_limit": 2, "auto_fill": True}).data

    result = at_width(width, gateway, "groupbuy", "list")

    header = fits(result, width, ["id", "product", "status", "team", "price", "window",
                                  "limits", "ok"])
    assert header[-1] == "ok"
    for text in ("¥8.00", "20/20 left", "2 per user", "auto-fill", "active"):
        assert text in result.stdout


def test_full_ids_keeps_ids_whole_at_80_columns(gateway: str) -> None:
    _, order, after_sale = refund_requested()

    short = at_width(80, gateway, "aftersales", "list")
    whole = at_width(80, gateway, "aftersales", "list", "--full-ids")

    assert after_sale["id"] not in short.stdout and "--full-ids" in short.stdout
    # asked for: whole ids, even though the table is then wider than the terminal
    assert after_sale["id"] in whole.stdout and order["id"] in whole.stdout


def test_short_ids_are_unique_prefixes() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from console.grid import short_ids

    ids = ["ord_3f2a9c11aa", "ord_3f2a9c22bb", "ord_77aa00ffee", "cat_fruit"]

    cut = short_ids(ids)

    assert cut["ord_77aa00ffee"] == "ord_77aa00"
    assert cut["ord_3f2a9c11aa"] == "ord_3f2a9c1" and cut["ord_3f2a9c22bb"] == "ord_3f2a9c2"
    assert cut["cat_fruit"] == "cat_fruit"
    for id_, short in cut.items():
        assert [other for other in ids if other.startswith(short)] == [id_]


def test_without_api_or_shop_api_an_unreachable_gateway_says_how_to_point_elsewhere() -> None:
    import socket
    with socket.socket() as sock:  # a port nobody listens on: the "dev gateway" is not up
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "SHOP_API"}
    env["PORT"] = str(port)

    result = subprocess.run([sys.executable, SHOPCTL, "orders", "list"], capture_output=True,
                            text=True, timeout=30, cwd=ROOT, env=env)
    given = subprocess.run([sys.executable, SHOPCTL, "--api", f"http://127.0.0.1:{port}",
                            "orders", "list"], capture_output=True, text=True, timeout=30,
                           cwd=ROOT, env=env)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"cannot reach http://127.0.0.1:{port}: ")
    assert "--api" in line and "SHOP_API" in line and "make run" in line
    assert "SHOP_API" not in given.stderr  # an address given on purpose needs no hint


def test_any_list_prints_json_for_scripts(gateway: str) -> Any:
    new_product(title="脚本用")

    result = at_width(80, gateway, "products", "list", "--json")

    assert any(item["title"] == "脚本用" for item in json.loads(result.stdout)["items"])
