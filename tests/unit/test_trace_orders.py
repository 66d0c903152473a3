"""A batch per shipped line (issue 20): merchant_ship_order takes it, the shopper's order links
each line to its trace; the batch's mini-program code; the EPCIS 2.0 export."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Shopper, call, merchant, new_address, new_product, new_shopper


@pytest.fixture
def scene() -> dict[str, Any]:
    product = new_product(skus=2)
    skus = [s["id"] for s in product["skus"]]
    shopper = new_shopper()
    order = shopper.call("place_order", {
        "request_id": "trace-order-1", "address_id": new_address(shopper),
        "items": [{"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 2}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    batches = [merchant("merchant_create_trace_batch", {
        "sku_id": sku, "batch_no": f"L-{n}", "origin": "四川蒲江",
        "produced_at": "2026-11-01T00:00:00Z"}).data for n, sku in enumerate(skus)]
    return {"shopper": shopper, "order": order, "skus": skus, "batches": batches}


def ship(scene: dict[str, Any], batches: Any = None) -> Any:
    payload = {"order_id": scene["order"]["id"], "carrier": "SF", "tracking_no": "SF1001"}
    if batches is not None:
        payload["batches"] = batches
    return merchant("merchant_ship_order", payload)


def test_the_shoppers_order_links_each_shipped_line_to_its_trace(scene: dict[str, Any]) -> None:
    shopper: Shopper = scene["shopper"]
    first, second = scene["batches"]
    ship(scene, [{"sku_id": scene["skus"][0], "batch_id": first["batch_id"]},
                 {"sku_id": scene["skus"][1], "batch_id": second["batch_id"]}]).data

    items = shopper.call("get_order", {"order_id": scene["order"]["id"]}).data["items"]

    by_sku = {line["sku_id"]: line["trace"] for line in items}
    assert by_sku[scene["skus"][0]] == {"batch_id": first["batch_id"], "code": first["code"],
                                        "batch_no": "L-0"}
    assert by_sku[scene["skus"][1]]["code"] == second["code"]
    # the link opens: the trace is public
    assert call("get_trace", {"code": by_sku[scene["skus"][1]]["code"]}).data["batch"][
        "batch_no"] == "L-1"


def test_a_line_may_go_without_a_batch_and_the_old_input_stays_valid(
        scene: dict[str, Any]) -> None:
    shipped = ship(scene, [{"sku_id": scene["skus"][1],
                            "batch_id": scene["batches"][1]["batch_id"]}]).data
    traces = {line["sku_id"]: line["trace"] for line in shipped["items"]}
    assert traces[scene["skus"][0]] is None and traces[scene["skus"][1]] is not None


def test_shipping_without_batches_still_works(scene: dict[str, Any]) -> None:
    shipped = ship(scene).data
    assert shipped["status"] == "shipped"
    assert all(line["trace"] is None for line in shipped["items"])


@pytest.mark.parametrize("wrong", ["other_sku", "unknown_batch", "not_a_line"])
def test_a_batch_that_does_not_fit_its_line_is_refused(scene: dict[str, Any], wrong: str,
                                                        db: Any) -> None:
    skus, batches = scene["skus"], scene["batches"]
    given = {"other_sku": {"sku_id": skus[0], "batch_id": batches[1]["batch_id"]},
             "unknown_batch": {"sku_id": skus[0], "batch_id": "tb_missing"},
             "not_a_line": {"sku_id": "sku_elsewhere", "batch_id": batches[0]["batch_id"]}}
    answer = ship(scene, [given[wrong]])

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert db.orders.find_one({"_id": scene["order"]["id"]})["status"] == "paid"


def test_shipping_again_with_the_same_batches_is_a_no_op(scene: dict[str, Any]) -> None:
    batches = [{"sku_id": scene["skus"][0], "batch_id": scene["batches"][0]["batch_id"]}]
    first = ship(scene, batches).data
    again = ship(scene, batches)
    assert again.ok and again.data["shipped_at"] == first["shipped_at"]
    assert ship(scene, [{"sku_id": scene["skus"][1],
                         "batch_id": scene["batches"][1]["batch_id"]}]).code == "INVALID_STATE"


def test_the_batch_code_is_a_mini_program_code_with_the_code_as_scene(
        scene: dict[str, Any], db: Any) -> None:
    from shared.core.config import get_settings
    from shared.storage.uploads import s3_client
    from shared.wechat.wxacode import PNG_SIGNATURE, sandbox_png
    batch = scene["batches"][0]
    data = merchant("merchant_trace_code", {"batch_id": batch["batch_id"]}).data
    again = merchant("merchant_trace_code", {"batch_id": batch["batch_id"]}).data

    assert (data["scene"], data["page"]) == (batch["code"], "packages/trace/pages/trace/trace")
    assert again["url"] == data["url"]
    client, endpoint = s3_client(get_settings())
    key = data["url"].split(f"/{get_settings().S3_BUCKET}/", 1)[1]
    image = client.get_object(Bucket=get_settings().S3_BUCKET, Key=key)["Body"].read()
    assert image.startswith(PNG_SIGNATURE)
    assert image == sandbox_png(batch["code"])  # the sandbox draws the scene it was given
    assert len(batch["code"]) <= 32  # getwxacodeunlimit's limit on a scene


def test_the_epcis_export_is_an_epcis_document_of_object_events(scene: dict[str, Any]) -> None:
    batch = scene["batches"][0]
    for step in ("commissioning", "packing", "shipping"):
        merchant("merchant_append_trace_event", {
            "batch_id": batch["batch_id"], "biz_step": step,
            "event_time": "2026-11-02T09:00:00Z", "read_point": "urn:epc:id:sgln:0614141.00777.0",
            "data": {"step": step}}).data

    doc = merchant("merchant_export_trace", {"batch_id": batch["batch_id"]}).data

    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld" in doc["@context"]
    events = doc["epcisBody"]["eventList"]
    assert [e["type"] for e in events] == ["ObjectEvent"] * 3
    assert [e["bizStep"] for e in events] == [f"urn:epcglobal:cbv:bizstep:{s}" for s in
                                              ("commissioning", "packing", "shipping")]
    assert [e["action"] for e in events] == ["ADD", "OBSERVE", "OBSERVE"]
    assert events[0]["ilmd"]["cbvmda:lotNumber"] == "L-0"
    assert events[2]["readPoint"] == {"id": "urn:epc:id:sgln:0614141.00777.0"}
    assert events[2]["eventTime"] == "2026-11-02T09:00:00Z"
    assert events[1]["shop:prevHash"] == events[0]["shop:hash"]
