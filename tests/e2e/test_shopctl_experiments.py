"""`shopctl experiments create|list|report`, run as real subprocesses against the HTTP gateway:
the merchant makes an A/B test, shoppers see their variants, the report prints its table and
writes a PNG."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from tests.conftest import call, merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import shopctl


def _traffic() -> None:
    """Twelve devices and six shoppers see the home page; two shoppers buy."""
    product = new_product(price=2500, stock=20)
    for n in range(12):
        call("get_experiment_variant", {"key": "home_layout", "device_id": f"device-e2e-{n:04d}"})
    for n in range(6):
        shopper = new_shopper(f"e2e{n}")
        shopper.call("get_experiment_variant", {"key": "home_layout"}).data
        if n < 2:
            order = shopper.call("place_order", {
                "request_id": f"ab-e2e-order-{n}", "address_id": new_address(shopper),
                "items": [{"sku_id": product["skus"][0]["id"], "quantity": 1}]}).data
            merchant("merchant_mark_paid", {"order_id": order["id"]}).data


def test_experiments_help_names_the_commands() -> None:
    result = shopctl("experiments", "--help")

    assert result.returncode == 0, result.stderr
    for command in ("create", "list", "report"):
        assert command in result.stdout


def test_create_then_list_shows_the_split(gateway: str) -> None:
    created = shopctl("experiments", "create", "home_layout", "--variant", "grid:1",
                      "--variant", "list:3", "--metric", "order_paid", api=gateway)
    listed = shopctl("--json", "experiments", "list", api=gateway)

    assert created.returncode == 0, created.stderr
    assert "created experiment home_layout" in created.stdout
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    assert [(e["key"], e["variants"]) for e in items] == [
        ("home_layout", [{"name": "grid", "weight": 1}, {"name": "list", "weight": 3}])]


def test_a_second_create_of_a_key_is_refused(gateway: str) -> None:
    args = ("experiments", "create", "home_layout", "--variant", "a", "--variant", "b")
    assert shopctl(*args, api=gateway).returncode == 0

    again = shopctl(*args, api=gateway)

    assert again.returncode == 1 and "CONFLICT" in again.stdout + again.stderr


def test_report_prints_the_table_and_writes_a_png(gateway: str, tmp_path: Path) -> None:
    assert shopctl("experiments", "create", "home_layout", "--variant", "grid",
                   "--variant", "list", api=gateway).returncode == 0
    _traffic()
    png = tmp_path / "ab.png"

    result = shopctl("experiments", "report", "home_layout", "--png", str(png), api=gateway)

    assert result.returncode == 0, result.stderr
    for text in ("Experiment home_layout", "grid", "list", "conversions", "revenue/user",
                 "p-value (z-test)", "p-value (Welch)", "CUPED", "SRM check",
                 f"wrote {png}"):
        assert text in result.stdout, text
    content = png.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    assert width >= 600 and height >= 300


def test_report_json_counts_every_subject_once(gateway: str, tmp_path: Path) -> None:
    assert shopctl("experiments", "create", "home_layout", "--variant", "grid",
                   "--variant", "list", api=gateway).returncode == 0
    _traffic()

    result = shopctl("--json", "experiments", "report", "home_layout", "--no-png", api=gateway)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["users"] == 18
    assert sum(v["conversions"] for v in data["variants"]) == 2
    assert sum(v["revenue"] for v in data["variants"]) == 5000
    assert 0 <= data["srm_p_value"] <= 1 and data["srm_warning"] is False
