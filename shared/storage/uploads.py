"""Object storage through the S3 API (Tencent COS is S3-compatible): presigned uploads.

The mini-program PUTs an image straight to storage with the URL ``get_upload_url`` gives,
so files never pass through a function. In dev and tests, with ``S3_ENDPOINT_URL`` unset, a
moto server on loopback plays the storage service.
"""
from __future__ import annotations

import secrets
import threading
from typing import Any, Literal, Optional

from shared.core.common import Input
from shared.core.config import ConfigError, Settings
from shared.core.context import Context

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


class UploadUrlInput(Input):
    content_type: Literal["image/jpeg", "image/png", "image/webp", "image/gif"]
    purpose: Literal["after_sale", "avatar", "review"] = "after_sale"


_moto_lock = threading.Lock()
_moto_endpoint: Optional[str] = None
_clients: dict[tuple, Any] = {}


def _moto_server() -> str:
    """Start moto's S3 on loopback once per process (dev and tests only)."""
    global _moto_endpoint
    with _moto_lock:
        if _moto_endpoint is None:
            from moto.server import ThreadedMotoServer
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _moto_endpoint = f"http://{host}:{port}"
    return _moto_endpoint


def _credentials(settings: Settings) -> tuple[str, str]:
    key_id = settings.S3_ACCESS_KEY_ID or settings.TENCENTCLOUD_SECRET_ID
    secret = settings.S3_SECRET_ACCESS_KEY or settings.TENCENTCLOUD_SECRET_KEY
    if key_id and secret:
        return key_id, secret
    if settings.S3_ENDPOINT_URL:
        raise ConfigError("S3_ENDPOINT_URL is set without S3 or TENCENTCLOUD credentials")
    return "testing", "testing"  # moto accepts any key


def s3_client(settings: Settings) -> tuple[Any, str]:
    """The S3 client of this warm instance, and the bucket's endpoint."""
    endpoint = settings.S3_ENDPOINT_URL
    if not endpoint:
        if not settings.is_dev_or_test:
            raise ConfigError("S3_ENDPOINT_URL is required outside dev and test")
        endpoint = _moto_server()
    key = (endpoint, settings.S3_BUCKET, settings.S3_REGION)
    if key not in _clients:
        import boto3
        from botocore.config import Config
        key_id, secret = _credentials(settings)
        client = boto3.client("s3", endpoint_url=endpoint, region_name=settings.S3_REGION,
                              aws_access_key_id=key_id, aws_secret_access_key=secret,
                              config=Config(signature_version="s3v4",
                                            s3={"addressing_style": "path"}))
        if not settings.S3_ENDPOINT_URL:
            client.create_bucket(Bucket=settings.S3_BUCKET, CreateBucketConfiguration={
                "LocationConstraint": settings.S3_REGION})
        _clients[key] = client
    return _clients[key], endpoint


def get_upload_url(ctx: Context, req: UploadUrlInput) -> dict[str, Any]:
    client, endpoint = s3_client(ctx.settings)
    key = (f"{req.purpose}/{ctx.user_id}/{ctx.now:%Y%m%d}/"
           f"{secrets.token_hex(12)}.{EXTENSIONS[req.content_type]}")
    ttl = ctx.settings.UPLOAD_URL_TTL_SECONDS
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": ctx.settings.S3_BUCKET, "Key": key,
                              "ContentType": req.content_type}, ExpiresIn=ttl)
    ctx.db.uploads.insert_one({"_id": key, "user_id": ctx.user_id, "purpose": req.purpose,
                               "content_type": req.content_type, "created_at": ctx.now})
    return {"upload_url": url, "method": "PUT", "headers": {"Content-Type": req.content_type},
            "key": key, "file_url": f"{endpoint.rstrip('/')}/{ctx.settings.S3_BUCKET}/{key}",
            "expires_in": ttl}
