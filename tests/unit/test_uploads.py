"""Image uploads for after-sales: a presigned PUT straight to object storage (moto on loopback
in tests, Tencent COS through its S3 API in the cloud), per user and unguessable."""
from __future__ import annotations

import struct
import uuid
import zlib
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import call, new_address, new_product, new_shopper


def _png() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + chunk(b"IEND", b""))


PNG = _png()


def _storage() -> tuple[Any, str]:
    from shared.core.config import get_settings
    from shared.storage.uploads import s3_client
    settings = get_settings()
    client, _ = s3_client(settings)
    return client, settings.S3_BUCKET


@pytest.fixture
def shopper():
    return new_shopper()


def test_upload_url_is_a_presigned_put(shopper):
    answer = shopper.call("get_upload_url", {"content_type": "image/png"}).data

    assert answer["method"] == "PUT"
    assert answer["headers"] == {"Content-Type": "image/png"}
    assert "X-Amz-Signature=" in answer["upload_url"] and "X-Amz-Expires=" in answer["upload_url"]
    assert answer["key"].endswith(".png")
    assert answer["file_url"].endswith(answer["key"])
    assert answer["expires_in"] > 0


def test_image_put_to_the_presigned_url_lands_in_the_bucket(shopper):
    answer = shopper.call("get_upload_url", {"content_type": "image/png"}).data

    put = requests.put(answer["upload_url"], data=PNG, headers=answer["headers"], timeout=10)

    assert put.status_code == 200
    client, bucket = _storage()
    head = client.head_object(Bucket=bucket, Key=answer["key"])
    assert (head["ContentLength"], head["ContentType"]) == (len(PNG), "image/png")
    body = client.get_object(Bucket=bucket, Key=answer["key"])["Body"].read()
    assert body == PNG


def test_upload_is_recorded_for_its_owner(shopper, db):
    answer = shopper.call("get_upload_url", {"content_type": "image/jpeg",
                                             "purpose": "after_sale"}).data

    record = db.uploads.find_one({"_id": answer["key"]})

    assert (record["user_id"], record["content_type"]) == (shopper.user_id, "image/jpeg")


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/pdf", ""])
def test_content_type_that_is_not_an_image_is_refused(shopper, content_type):
    answer = shopper.call("get_upload_url", {"content_type": content_type})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_unknown_purpose_is_refused(shopper):
    answer = shopper.call("get_upload_url", {"content_type": "image/png",
                                             "purpose": "../../etc"})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_keys_are_per_user_and_unguessable(shopper):
    other = new_shopper()

    first = shopper.call("get_upload_url", {"content_type": "image/webp"}).data["key"]
    second = shopper.call("get_upload_url", {"content_type": "image/webp"}).data["key"]
    theirs = other.call("get_upload_url", {"content_type": "image/webp"}).data["key"]

    assert first != second
    assert f"/{shopper.user_id}/" in first and f"/{shopper.user_id}/" in second
    assert f"/{other.user_id}/" in theirs and shopper.user_id not in theirs
    random_part = first.rsplit("/", 1)[1].split(".")[0]
    assert len(random_part) >= 24  # 96 random bits


def test_upload_url_needs_a_token():
    answer = call("get_upload_url", {"content_type": "image/png"})

    assert (answer.status, answer.code) == (401, "UNAUTHENTICATED")


def test_upload_url_refuses_a_forged_token():
    answer = call("get_upload_url", {"content_type": "image/png"}, token="not-a-real-token")

    assert answer.status == 401


# ---- the bucket of dev and tests: concurrent first calls ------------------------------------

def test_concurrent_first_upload_urls_all_succeed_while_the_bucket_is_made(monkeypatch):
    from shared.core.config import get_settings
    from shared.storage import uploads
    from tests.conftest import run_threads
    # a bucket nobody has made yet, and no client yet: the state of a freshly started gateway
    monkeypatch.setenv("S3_BUCKET", f"race-{uuid.uuid4().hex[:12]}")
    from shared.core.config import reset_settings
    reset_settings()
    monkeypatch.setattr(uploads, "_clients", {})
    shoppers = [new_shopper() for _ in range(8)]

    answers = run_threads(8, lambda i: shoppers[i].call("get_upload_url",
                                                        {"content_type": "image/png"}))

    assert [a.status for a in answers] == [200] * 8, [a.body for a in answers]
    client, _ = uploads.s3_client(get_settings())
    assert client.head_bucket(Bucket=get_settings().S3_BUCKET)


def test_a_new_client_tolerates_the_bucket_it_made_before(monkeypatch):
    from shared.storage import uploads
    shopper = new_shopper()
    assert shopper.call("get_upload_url", {"content_type": "image/png"}).ok
    monkeypatch.setattr(uploads, "_clients", {})  # a new client: the bucket is there already

    assert shopper.call("get_upload_url", {"content_type": "image/png"}).status == 200


# ---- the size ceiling and the content types -------------------------------------------------

def test_a_sized_upload_url_signs_its_content_length(shopper):
    answer = shopper.call("get_upload_url", {"content_type": "image/png",
                                             "size": len(PNG)}).data

    signed = parse_qs(urlparse(answer["upload_url"]).query)["X-Amz-SignedHeaders"][0]
    assert signed.split(";") == ["content-length", "content-type", "host"]
    assert answer["max_bytes"] == 5 * 1024 * 1024
    put = requests.put(answer["upload_url"], data=PNG, headers=answer["headers"], timeout=10)
    assert put.status_code == 200


def test_an_upload_larger_than_the_ceiling_gets_no_url(shopper, monkeypatch):
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "2048")
    from shared.core.config import reset_settings
    reset_settings()

    answer = shopper.call("get_upload_url", {"content_type": "image/png", "size": 2049})

    assert (answer.status, answer.code) == (413, "UPLOAD_TOO_LARGE")
    assert answer.body["error"]["details"]["max_bytes"] == 2048
    assert shopper.call("get_upload_url", {"content_type": "image/png", "size": 2048}).ok


def test_content_types_outside_the_setting_are_refused(shopper, monkeypatch):
    monkeypatch.setenv("UPLOAD_CONTENT_TYPES", "image/jpeg,image/png")
    from shared.core.config import reset_settings
    reset_settings()

    gif = shopper.call("get_upload_url", {"content_type": "image/gif"})

    assert (gif.status, gif.code) == (422, "VALIDATION_ERROR")
    assert shopper.call("get_upload_url", {"content_type": "image/jpeg"}).ok


# ---- after-sale images: only uploads of the caller's own ------------------------------------

def _paid_order(buyer) -> str:
    product = new_product(price=1000, stock=10)
    order = buyer.call("place_order", {
        "request_id": f"req-upl-{uuid.uuid4().hex[:12]}", "address_id": new_address(buyer),
        "items": [{"sku_id": product["skus"][0]["id"], "quantity": 1}]}).data
    assert buyer.call("sandbox_pay", {"order_id": order["id"]}).data["order"]["status"] == "paid"
    return order["id"]


def _uploaded(who, data: bytes = PNG, purpose: str = "after_sale",
              content_type: str = "image/png") -> dict:
    answer = who.call("get_upload_url", {"content_type": "image/png", "purpose": purpose}).data
    put = requests.put(answer["upload_url"], data=data, headers={"Content-Type": content_type},
                       timeout=10)
    assert put.status_code == 200
    return answer


def _ask(buyer, order_id: str, images: list) -> Any:
    return buyer.call("request_after_sale", {"order_id": order_id, "type": "refund_only",
                                             "reason": "坏了", "images": images})


def test_after_sale_accepts_the_callers_own_uploads_by_key_or_file_url(shopper, db):
    order_id = _paid_order(shopper)
    first, second = _uploaded(shopper), _uploaded(shopper)

    answer = _ask(shopper, order_id, [first["key"], second["file_url"]])

    assert answer.status == 200, answer.body
    assert answer.data["images"] == [first["key"], second["file_url"]]
    assert db.uploads.find_one({"_id": second["key"]})["used_at"] is not None
    stored = db.after_sales.find_one({"_id": answer.data["id"]})
    assert stored["image_keys"] == [first["key"], second["key"]]


@pytest.mark.parametrize("image", [
    "javascript:alert(1)", "https://tracker.example.com/pixel.gif?u=1",
    "data:image/png;base64,iVBORw0KGgo=", "after_sale/usr_x/20260101/" + "0" * 24 + ".png",
    "../avatar/x.png"])
def test_after_sale_refuses_what_is_not_an_upload(shopper, image):
    order_id = _paid_order(shopper)

    answer = _ask(shopper, order_id, [image])

    assert (answer.status, answer.code) == (422, "UPLOAD_INVALID")
    assert answer.body["error"]["details"]["image"] == 0


def test_after_sale_refuses_another_shoppers_upload(shopper):
    order_id = _paid_order(shopper)
    theirs = _uploaded(new_shopper())

    by_key = _ask(shopper, order_id, [theirs["key"]])
    by_url = _ask(shopper, order_id, [theirs["file_url"]])

    assert (by_key.status, by_key.code) == (422, "UPLOAD_INVALID")
    assert (by_url.status, by_url.code) == (422, "UPLOAD_INVALID")


def test_after_sale_refuses_a_huge_string_before_looking_anything_up(shopper):
    order_id = _paid_order(shopper)

    answer = _ask(shopper, order_id, ["a" * 100_000])

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_after_sale_refuses_an_upload_of_another_purpose(shopper):
    order_id = _paid_order(shopper)
    avatar = _uploaded(shopper, purpose="avatar")

    answer = _ask(shopper, order_id, [avatar["key"]])

    assert (answer.status, answer.code) == (422, "UPLOAD_INVALID")


def test_after_sale_takes_an_own_key_whose_file_has_not_arrived_yet(shopper):
    order_id = _paid_order(shopper)
    issued = shopper.call("get_upload_url", {"content_type": "image/png"}).data

    answer = _ask(shopper, order_id, [issued["key"]])

    assert answer.status == 200 and answer.data["images"] == [issued["key"]]


def test_after_sale_refuses_and_deletes_a_file_over_the_ceiling(shopper, monkeypatch):
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "2048")
    from shared.core.config import reset_settings
    reset_settings()
    order_id = _paid_order(shopper)
    big = _uploaded(shopper, data=PNG + b"\0" * 4096)  # storage that ignores the signed length

    answer = _ask(shopper, order_id, [big["key"]])

    assert (answer.status, answer.code) == (413, "UPLOAD_TOO_LARGE")
    client, bucket = _storage()
    assert client.list_objects_v2(Bucket=bucket, Prefix=big["key"]).get("KeyCount") == 0
    assert shopper.call("get_order", {"order_id": order_id}).data["status"] == "paid"


def test_after_sale_refuses_a_file_of_another_type_than_issued(shopper):
    order_id = _paid_order(shopper)
    html = _uploaded(shopper, data=b"<script>alert(1)</script>", content_type="text/html")

    answer = _ask(shopper, order_id, [html["key"]])

    assert (answer.status, answer.code) == (422, "UPLOAD_INVALID")


def test_a_refused_image_reserves_nothing(shopper, db):
    order_id = _paid_order(shopper)

    assert _ask(shopper, order_id, ["https://evil.example/x.png"]).code == "UPLOAD_INVALID"

    assert _ask(shopper, order_id, []).status == 200  # the whole amount is still refundable


# ---- avatars: WeChat's own URL, or an upload of the caller's --------------------------------

def test_avatar_accepts_a_wechat_avatar_url(shopper):
    url = "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTLx1B2c3d4e5f6g/132"

    answer = shopper.call("update_profile", {"avatar_url": url})

    assert answer.data["avatar_url"] == url


def test_avatar_accepts_the_callers_own_avatar_upload(shopper):
    upload = _uploaded(shopper, purpose="avatar")

    answer = shopper.call("update_profile", {"avatar_url": upload["file_url"]})

    assert answer.data["avatar_url"] == upload["file_url"]


@pytest.mark.parametrize("url", [
    "https://img.test/a.png", "http://thirdwx.qlogo.cn/mmopen/x/132",
    "https://thirdwx.qlogo.cn.evil.com/mmopen/x/132", "https://thirdwx.qlogo.cn/x?track=1",
    "cloud://env-1/avatar.png", "javascript:alert(1)"])
def test_avatar_refuses_other_urls(shopper, url):
    answer = shopper.call("update_profile", {"avatar_url": url})

    assert (answer.status, answer.code) == (422, "UPLOAD_INVALID")


def test_avatar_refuses_another_shoppers_upload(shopper):
    theirs = _uploaded(new_shopper(), purpose="avatar")

    answer = shopper.call("update_profile", {"avatar_url": theirs["key"]})

    assert (answer.status, answer.code) == (422, "UPLOAD_INVALID")
