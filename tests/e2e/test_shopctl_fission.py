"""`shopctl fission report`, run as a real subprocess against the HTTP gateway: the merchant
sees who brought whom, in tables and in a PNG."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import shopctl


def _invite_chain() -> None:
    """alice shares; bob joins through it and buys; bob shares on; carol joins through his."""
    product = new_product(price=1250, stock=10)
    alice = new_shopper("alice")
    first = alice.call("create_share", {"target": "product", "target_id": product["id"]}).data
    bob = new_shopper("bob")
    bob.call("track_share_open", {"scene": first["code"]}).data
    order = bob.call("place_order", {
        "request_id": "fission-order-1", "address_id": new_address(bob),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    second = bob.call("create_share", {"target": "product", "target_id": product["id"]}).data
    carol = new_shopper("carol")
    carol.call("track_share_open", {"scene": second["code"]}).data


def test_fission_help_is_there() -> None:
    result = shopctl("fission", "report", "--help")

    assert result.returncode == 0, result.stderr
    assert "--png" in result.stdout and "--campaign-id" in result.stdout


def test_fission_report_prints_the_tables_and_writes_a_png(gateway: str, tmp_path: Path) -> None:
    _invite_chain()
    png = tmp_path / "fission.png"

    result = shopctl("fission", "report", "--png", str(png), api=gateway)

    assert result.returncode == 0, result.stderr
    for text in ("Fission funnel", "K-factor", "Invite tree depth", "Top contributors",
                 "alice", "bob", "¥25.00"):
        assert text in result.stdout, text
    content = png.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    assert width >= 600 and height >= 300


def test_fission_report_json_says_who_brought_whom(gateway: str) -> None:
    _invite_chain()

    result = shopctl("--json", "fission", "report", "--from", "2020-01-01", api=gateway)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["shares"], data["invited_users"], data["new_users"], data["paying_users"],
            data["revenue"], data["k_factor"]) == (2, 2, 2, 1, 2500, 1.0)
    assert data["depth_distribution"] == [{"depth": 1, "users": 1}, {"depth": 2, "users": 1}]
    top = data["top_contributors"][0]
    assert (top["nickname"], top["direct"], top["downstream"]) == ("alice", 1, 2)
