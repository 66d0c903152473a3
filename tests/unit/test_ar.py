"""AR try-on (issue 20): the GLB check on a real minimal GLB built here, the merchant's upload
flow through get_upload_url, the SKU's ``ar`` in get_product, and the try-on report."""
from __future__ import annotations

import hashlib
import json
import struct
from datetime import timedelta
from typing import Any, Optional

import pytest
import requests

from tests.conftest import call, merchant, new_address, new_product, new_shopper

MB = 1024 * 1024


def glb(document: Optional[dict[str, Any]] = None, version: int = 2, pad_to: int = 0) -> bytes:
    """A glTF 2.0 binary: header, JSON chunk (space padded), BIN chunk with one triangle."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    if document is None:
        document = {"asset": {"version": "2.0", "generator": "test_ar"},
                    "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
                    "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
                    "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3,
                                   "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}],
                    "bufferViews": [{"buffer": 0, "byteLength": len(positions)}],
                    "buffers": [{"byteLength": len(positions) + pad_to}]}
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary = positions + b"\0" * pad_to
    body = (struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(binary), 0x004E4942) + binary)
    return b"glTF" + struct.pack("<II", version, 12 + len(body)) + body


def gltf1_binary() -> bytes:
    """A glTF 1.0 binary (KHR_binary_glTF): magic, version 1, length, contentLength, format 0."""
    content = json.dumps({"meshes": {"m": {"primitives": []}}}).encode()
    return b"glTF" + struct.pack("<IIII", 1, 20 + len(content), len(content), 0) + content


# ---- the check -------------------------------------------------------------------------------

def test_a_real_minimal_glb_passes() -> None:
    from shared.ar.assets import check_glb
    assert check_glb(glb()) == {"meshes": 1, "version": "2.0", "generator": "test_ar"}


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not_glb"),            # a PNG renamed .glb
    (glb()[:-7], "length"),                                     # cut off in transit
    (gltf1_binary(), "version"),                                # glTF 1.0
    (glb({"asset": {"version": "2.0"}, "meshes": []}), "no_mesh"),
    (b"glTF" + struct.pack("<II", 2, 20) + struct.pack("<II", 0, 0x004E4942), "json_chunk"),
])
def test_what_is_not_a_glb_20_with_a_mesh_is_refused(content: bytes, reason: str) -> None:
    from shared.ar.assets import GlbRefused, check_glb
    with pytest.raises(GlbRefused) as refused:
        check_glb(content)
    assert refused.value.reason == reason


def test_a_renamed_png_of_the_shop_is_refused() -> None:
    from shared.ar.assets import GlbRefused, check_glb
    from shared.wechat.wxacode import sandbox_png
    with pytest.raises(GlbRefused, match="glTF"):
        check_glb(sandbox_png("renamed"))


def test_more_than_10_mb_is_refused_even_when_well_formed() -> None:
    from shared.ar.assets import GlbRefused, check_glb
    big = glb(pad_to=10 * MB)
    with pytest.raises(GlbRefused) as refused:
        check_glb(big)
    assert refused.value.reason == "too_large"
    assert check_glb(glb(pad_to=MB))["meshes"] == 1  # 1 MB of geometry is fine


# ---- the upload flow ----------------------------------------------------------------------

def upload(content: bytes, content_type: str = "model/gltf-binary") -> str:
    ticket = merchant("get_upload_url", {"purpose": "ar_asset", "content_type": content_type,
                                         "size": len(content)}).data
    put = requests.put(ticket["upload_url"], data=content, headers=ticket["headers"],
                       timeout=30)
    assert put.status_code == 200, put.text
    return str(ticket["key"])


def attach(sku_id: str, key: str, **extra: Any) -> Any:
    return merchant("merchant_upsert_ar_asset", {
        "sku_id": sku_id, "mode": "face", "glb_key": key, "scale": 1.2,
        "position": [0, 0.05, 0], "rotation": [0, 180, 0], "anchor": "nose", **extra})


def test_an_uploaded_glb_is_checked_and_shown_on_its_sku_in_get_product() -> None:
    product = new_product(skus=2)
    sku_id = product["skus"][0]["id"]
    content = glb()
    key = upload(content)

    saved = attach(sku_id, key).data
    shown = call("get_product", {"product_id": product["id"]}).data

    ar = {s["id"]: s.get("ar") for s in shown["skus"]}
    assert ar[product["skus"][1]["id"]] is None  # only the SKU that has one
    assert ar[sku_id] == saved["ar"]
    assert ar[sku_id]["sha256"] == hashlib.sha256(content).hexdigest()
    assert ar[sku_id]["bytes"] == len(content)
    assert (ar[sku_id]["mode"], ar[sku_id]["anchor"]) == ("face", "nose")
    assert ar[sku_id]["scale"] == [1.2, 1.2, 1.2]
    assert ar[sku_id]["rotation"] == [0, 180, 0]
    assert ar[sku_id]["glb_url"].endswith(key)


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 120, "not_glb"), (glb()[:-3], "length"),
    (gltf1_binary(), "version")])
def test_a_bad_upload_is_refused_by_the_action_with_its_reason(content: bytes, reason: str,
                                                               db: Any) -> None:
    sku_id = new_product()["skus"][0]["id"]
    answer = attach(sku_id, upload(content))

    assert (answer.status, answer.code) == (422, "AR_ASSET_INVALID")
    assert answer.body["error"]["details"]["reason"] == reason
    assert answer.body["error"]["message_zh"]
    assert "ar" not in db.skus.find_one({"_id": sku_id})


def test_an_oversized_upload_is_refused_from_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    sku_id = new_product()["skus"][0]["id"]
    assert merchant("get_upload_url", {"purpose": "ar_asset", "size": 10 * MB + 1,
                                       "content_type": "model/gltf-binary"}).code \
        == "UPLOAD_TOO_LARGE"
    # storage that ignores the signed length: the stored size is checked before reading
    ticket = merchant("get_upload_url", {"purpose": "ar_asset",
                                         "content_type": "model/gltf-binary"}).data
    requests.put(ticket["upload_url"], data=glb(pad_to=10 * MB),
                 headers=ticket["headers"], timeout=60).raise_for_status()

    answer = attach(sku_id, ticket["key"])
    assert (answer.status, answer.code) == (413, "UPLOAD_TOO_LARGE")


def test_only_the_merchant_gets_an_ar_upload_and_shoppers_keep_the_image_rules() -> None:
    shopper = new_shopper()
    refused = shopper.call("get_upload_url", {"purpose": "ar_asset",
                                              "content_type": "model/gltf-binary"})
    assert (refused.status, refused.code) == (403, "FORBIDDEN")
    assert shopper.call("get_upload_url", {"content_type": "model/gltf-binary"}).code \
        == "VALIDATION_ERROR"  # an after-sale photo is still an image
    assert shopper.call("get_upload_url", {"content_type": "image/png"}).ok
    assert call("get_upload_url", {"purpose": "ar_asset",
                                   "content_type": "model/gltf-binary"}).status == 401
    assert merchant("get_upload_url", {"content_type": "image/png"}).status == 401


def test_a_key_not_issued_for_ar_or_not_uploaded_is_refused() -> None:
    sku_id = new_product()["skus"][0]["id"]
    shopper = new_shopper()
    theirs = shopper.call("get_upload_url", {"content_type": "image/png"}).data["key"]
    assert attach(sku_id, theirs).code == "UPLOAD_INVALID"
    never = merchant("get_upload_url", {"purpose": "ar_asset",
                                        "content_type": "model/gltf-binary"}).data["key"]
    assert attach(sku_id, never).code == "UPLOAD_INVALID"
    assert attach("sku_missing", upload(glb())).status == 404


def test_marker_mode_needs_a_marker_image() -> None:
    sku_id = new_product()["skus"][0]["id"]
    key = upload(glb())
    assert attach(sku_id, key, mode="marker").code == "VALIDATION_ERROR"
    marker = upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png")
    done = attach(sku_id, key, mode="marker", anchor=None, marker_key=marker).data
    assert done["ar"]["marker_url"].endswith(marker)
    assert attach(sku_id, marker, mode="face").code == "AR_ASSET_INVALID"  # an image as model


# ---- the report --------------------------------------------------------------------------------

def test_the_report_compares_shoppers_who_tried_on_with_those_who_only_viewed(db: Any) -> None:
    from shared.core.common import utcnow
    product = new_product(stock=50)
    other = new_product(title="别的", stock=50)
    sku_id = product["skus"][0]["id"]
    now = utcnow()
    shoppers = [new_shopper() for _ in range(5)]
    events = []

    def track(name: str, who: Any, pid: str, minutes_ago: int) -> None:
        events.append({"name": name, "user_id": getattr(who, "user_id", None),
                       "device_id": "dev-x" if who is None else f"d-{who.user_id}",
                       "ts": now - timedelta(minutes=minutes_ago),
                       "props": {"product_id": pid, "sku_id": sku_id}})

    for who in shoppers:
        track("product_view", who, product["id"], 60)
    for who in shoppers[:2]:                     # two tried on, both bought
        track("try_on", who, product["id"], 50)
    track("product_view", None, product["id"], 40)   # an anonymous device: viewed only
    track("product_view", shoppers[0], other["id"], 40)
    db.events.insert_many(events)
    for who in (shoppers[0], shoppers[1], shoppers[2]):  # and one of the three viewers
        order = who.call("place_order", {
            "request_id": f"ar-{who.name}", "address_id": new_address(who),
            "items": [{"sku_id": sku_id, "quantity": 1}]}).data
        merchant("merchant_mark_paid", {"order_id": order["id"]}).data

    report = merchant("merchant_ar_report", {"product_id": product["id"]}).data

    assert report["tried"] == {"shoppers": 2, "buyers": 2, "conversion": 1.0}
    assert report["viewed_only"] == {"shoppers": 4, "buyers": 1, "conversion": 0.25}
    assert report["lift"] == 4.0
    assert [row["product_id"] for row in report["products"]] == [product["id"]]
    everything = merchant("merchant_ar_report", {}).data
    assert {row["product_id"] for row in everything["products"]} == {product["id"], other["id"]}


def test_an_order_before_the_first_view_does_not_count(db: Any) -> None:
    from shared.core.common import utcnow
    product = new_product(stock=5)
    who = new_shopper()
    order = who.call("place_order", {"request_id": "early-order-1", "address_id": new_address(who),
                                     "items": [{"sku_id": product["skus"][0]["id"],
                                                "quantity": 1}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    db.events.insert_one({"name": "try_on", "user_id": who.user_id, "device_id": "d",
                          "ts": utcnow() + timedelta(seconds=5),
                          "props": {"product_id": product["id"]}})

    report = merchant("merchant_ar_report", {
        "to": (utcnow() + timedelta(minutes=1)).isoformat()}).data
    assert report["tried"] == {"shoppers": 1, "buyers": 0, "conversion": 0.0}
