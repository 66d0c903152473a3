"""Image uploads for after-sales: a presigned PUT straight to object storage (moto on loopback
in tests, Tencent COS through its S3 API in the cloud), per user and unguessable."""
from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
import requests

from tests.conftest import call, new_shopper


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
