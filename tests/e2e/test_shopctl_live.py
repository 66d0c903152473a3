"""`shopctl live` and `shopctl community`, run as real subprocesses against the HTTP gateway:
the merchant enters a room, reads its report (tables and a PNG), creates a community, sets a
member price, lists commission and settles it into a CSV."""
from __future__ import annotations

import csv
import io
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import data_of, shopctl


def test_live_upsert_then_report_with_a_png(gateway: str, tmp_path: Path) -> None:
    product = new_product(price=1250)
    now = datetime.now(timezone.utc)
    room = data_of(shopctl(
        "--json", "live", "upsert", "--title", "周末直播", "--external-id", "finder_1",
        "--starts-at", (now - timedelta(minutes=5)).isoformat(),
        "--ends-at", (now + timedelta(hours=1)).isoformat(), "--product", product["id"],
        api=gateway))
    assert room["status"] == "live"
    buyer = new_shopper()
    order = buyer.call("place_order", {
        "request_id": "live-order-0001", "address_id": new_address(buyer),
        "source": {"type": "live", "room_id": room["id"]},
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    png = tmp_path / "live.png"

    result = shopctl("live", "report", room["id"], "--png", str(png), api=gateway)

    assert result.returncode == 0, result.stderr
    for text in ("Live report", "paid GMV", "¥25.00", "Top products"):
        assert text in result.stdout, text
    content = png.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", content[16:24])[0] >= 600
    listed = data_of(shopctl("--json", "live", "list", "--status", "live", api=gateway))
    assert [r["id"] for r in listed["items"]] == [room["id"]]


def test_community_create_price_and_settle_into_a_csv(gateway: str, tmp_path: Path,
                                                      db) -> None:
    product = new_product(price=2000)
    sku_id = product["skus"][0]["id"]
    leader = new_shopper("leader")
    made = data_of(shopctl("--json", "community", "create", "--name", "阳光小区",
                           "--leader-user-id", leader.user_id, "--commission-percent", "10",
                           api=gateway))
    assert shopctl("community", "price", sku_id, "1500", "--community-id", made["id"],
                   api=gateway).returncode == 0
    member = new_shopper("member")
    member.call("join_community", {"community_id": made["id"]}).data
    order = member.call("place_order", {
        "request_id": "community-order-1", "address_id": new_address(member),
        "items": [{"sku_id": sku_id, "quantity": 1}]}).data
    assert order["total"] == 1500
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    from tests.helpers import deliver_owed_events
    deliver_owed_events()
    db.commissions.update_many({}, {"$set": {"status": "available",
                                             "available_at": datetime.now(timezone.utc)}})
    listed = data_of(shopctl("--json", "community", "commissions", "--status", "available",
                             api=gateway))
    assert [c["net"] for c in listed["items"]] == [150]
    path = tmp_path / "settlement.csv"

    result = shopctl("community", "settle", leader.user_id, "--up-to",
                     (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(),
                     "--csv", str(path), api=gateway)

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [(r["order_id"], r["net"]) for r in rows] == [(order["id"], "150")]
    assert db.commissions.find_one({})["status"] == "paid"
