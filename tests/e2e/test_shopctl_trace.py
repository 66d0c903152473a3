"""shopctl trace and shopctl ar, run as real subprocesses against the HTTP gateway."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from tests.conftest import call, merchant, new_product
from tests.e2e.test_shopctl import data_of, paid_order, shopctl


def test_trace_create_append_show_and_export_to_epcis(gateway: str, tmp_path: Path) -> None:
    sku_id = new_product()["skus"][0]["id"]
    batch = data_of(shopctl("--json", "trace", "create", sku_id, "B-77", "--origin", "新疆阿克苏",
                            "--produced-at", "2026-10-30", "--attributes", '{"等级": "特级"}',
                            api=gateway))
    for step in ("commissioning", "packing", "shipping"):
        data_of(shopctl("--json", "trace", "append", batch["batch_id"], step, "--read-point",
                        "阿克苏仓", "--data", '{"boxes": 12}', api=gateway))
    shown = shopctl("trace", "show", batch["code"], api=gateway)
    target = tmp_path / "b77.json"
    exported = shopctl("trace", "export", batch["batch_id"], "--out", str(target), api=gateway)

    assert shown.returncode == 0 and "verified" in shown.stdout, shown.stderr
    assert exported.returncode == 0, exported.stderr
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    assert [e["bizStep"] for e in document["epcisBody"]["eventList"]] == [
        "urn:epcglobal:cbv:bizstep:commissioning", "urn:epcglobal:cbv:bizstep:packing",
        "urn:epcglobal:cbv:bizstep:shipping"]
    assert all(e["type"] == "ObjectEvent" for e in document["epcisBody"]["eventList"])


def test_a_float_in_data_is_refused_by_the_console_with_the_shops_message(gateway: str) -> None:
    sku_id = new_product()["skus"][0]["id"]
    batch = data_of(shopctl("--json", "trace", "create", sku_id, "B-1", "--origin", "x",
                            "--produced-at", "2026-10-30", api=gateway))
    refused = shopctl("trace", "append", batch["batch_id"], "inspecting", "--read-point", "x",
                      "--data", '{"temp": 4.5}', api=gateway)
    assert refused.returncode == 1
    assert "integers and strings only" in refused.stderr


def test_orders_ship_with_a_batch_links_the_line(gateway: str) -> None:
    product = new_product()
    sku_id = product["skus"][0]["id"]
    order_id = paid_order(product)
    batch = merchant("merchant_create_trace_batch", {
        "sku_id": sku_id, "batch_no": "S-1", "origin": "x",
        "produced_at": "2026-10-30T00:00:00Z"}).data
    shipped = shopctl("--json", "orders", "ship", order_id, "--carrier", "SF", "--tracking-no",
                      "SF42", "--batch", f"{sku_id}={batch['batch_id']}", api=gateway)
    assert shipped.returncode == 0, shipped.stderr
    order = merchant("merchant_get_order", {"order_id": order_id}).data
    assert order["items"][0]["trace"]["code"] == batch["code"]
    assert shopctl("trace", "code", batch["batch_id"], api=gateway).returncode == 0


def test_ar_set_uploads_a_glb_and_the_report_answers(gateway: str, tmp_path: Path) -> None:
    from tests.unit.test_ar import glb
    product = new_product()
    sku_id = product["skus"][0]["id"]
    model = tmp_path / "glasses.glb"
    model.write_bytes(glb())
    done = shopctl("--json", "ar", "set", sku_id, "--mode", "face", "--glb", str(model),
                   "--position", "0,0.02,0", api=gateway)
    assert done.returncode == 0, done.stderr
    sku = call("get_product", {"product_id": product["id"]}).data["skus"][0]
    assert sku["ar"]["bytes"] == model.stat().st_size and sku["ar"]["position"] == [0, 0.02, 0]

    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF" + struct.pack("<II", 1, 12))
    refused = shopctl("ar", "set", sku_id, "--mode", "face", "--glb", str(broken), api=gateway)
    assert refused.returncode == 1 and "AR_ASSET_INVALID" in refused.stderr
    report = shopctl("ar", "report", api=gateway)
    assert report.returncode == 0, report.stderr
