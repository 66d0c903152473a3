"""Object storage through the S3 API (Tencent COS is S3-compatible): presigned uploads, and the
one rule for an image a shopper sends back (after-sale photos, avatars).

The mini-program PUTs an image straight to storage with the URL ``get_upload_url`` gives,
so files never pass through a function. In dev and tests, with ``S3_ENDPOINT_URL`` unset, a
moto server on loopback plays the storage service.

An image a shopper sends back is accepted only when it is an upload of theirs: the key (or the
``file_url``) ``get_upload_url`` gave that user for that purpose, recorded in ``uploads``, whose
file (once in the bucket) is no larger than ``UPLOAD_MAX_BYTES`` and of the content type it
was issued for. Anything else (another shopper's upload, ``javascript:`` URLs, trackers) is refused.
"""
from __future__ import annotations

import re
import secrets
import threading
from typing import Any, Literal, Optional

from pydantic import Field

from shared.core.common import Input
from shared.core.config import ConfigError, Settings
from shared.core.context import Context
from shared.core.errors import ShopError

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "model/gltf-binary": "glb"}
Purpose = Literal["after_sale", "avatar", "review"]
# purpose/user/yyyymmdd/96 random bits.ext: what get_upload_url issues, and nothing else
KEY = re.compile(r"^(after_sale|avatar|review)/([A-Za-z0-9_\-]{1,64})/\d{8}/[0-9a-f]{24}"
                 r"\.(jpg|png|webp|gif)$")
# AR try-on (shared.ar): the merchant's 3D models (GLB) and marker images, checked when used
AR_PURPOSE = "ar_asset"
AR_OWNER = "merchant"
AR_MAX_BYTES = 10 * 1024 * 1024
GLB_TYPE = "model/gltf-binary"
AR_KEY = re.compile(r"^ar_asset/merchant/\d{8}/[0-9a-f]{24}\.(glb|jpg|png|webp)$")


class UploadUrlInput(Input):
    content_type: Literal["image/jpeg", "image/png", "image/webp", "image/gif",
                          "model/gltf-binary"]
    purpose: Literal["after_sale", "avatar", "review", "ar_asset"] = "after_sale"
    # the bytes the client will PUT: signed into the URL as Content-Length, so storage refuses
    # any other body (a PUT URL cannot carry a range, so the client says the size up front)
    size: Optional[int] = Field(default=None, ge=1)


_moto_lock = threading.Lock()
_moto_endpoint: Optional[str] = None
_clients_lock = threading.Lock()
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


def _ensure_bucket(client: Any, settings: Settings) -> None:
    """Create the dev bucket unless it is there: another thread, or an earlier client of this
    process, may have made it first, and that is success, not a 500."""
    from botocore.exceptions import ClientError
    try:
        client.create_bucket(Bucket=settings.S3_BUCKET, CreateBucketConfiguration={
            "LocationConstraint": settings.S3_REGION})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",
                                                              "BucketAlreadyExists"):
            raise


def s3_client(settings: Settings) -> tuple[Any, str]:
    """The S3 client of this warm instance, and the bucket's endpoint."""
    endpoint = settings.S3_ENDPOINT_URL
    if not endpoint:
        if not settings.is_dev_or_test:
            raise ConfigError("S3_ENDPOINT_URL is required outside dev and test")
        endpoint = _moto_server()
    key = (endpoint, settings.S3_BUCKET, settings.S3_REGION)
    client = _clients.get(key)
    if client is not None:
        return client, endpoint
    with _clients_lock:  # concurrent first calls make one client and one bucket
        if key not in _clients:
            import boto3
            from botocore.config import Config
            key_id, secret = _credentials(settings)
            made = boto3.client("s3", endpoint_url=endpoint, region_name=settings.S3_REGION,
                                aws_access_key_id=key_id, aws_secret_access_key=secret,
                                config=Config(signature_version="s3v4",
                                              s3={"addressing_style": "path"}))
            if not settings.S3_ENDPOINT_URL:
                _ensure_bucket(made, settings)
            _clients[key] = made
        return _clients[key], endpoint


def file_url(settings: Settings, endpoint: str, key: str) -> str:
    return f"{endpoint.rstrip('/')}/{settings.S3_BUCKET}/{key}"


def put_file(settings: Settings, key: str, content: bytes, content_type: str) -> str:
    """Store bytes the shop made (a mini-program code) under ``key``; their URL."""
    from botocore.exceptions import BotoCoreError, ClientError
    client, endpoint = s3_client(settings)
    try:
        client.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=content,
                          ContentType=content_type)
    except (BotoCoreError, ClientError):
        raise ShopError("UNAVAILABLE", "object storage is unavailable") from None
    return file_url(settings, endpoint, key)


def _ar_upload_url(ctx: Context, req: UploadUrlInput) -> dict[str, Any]:
    """A merchant's AR asset: a GLB model, or a marker image (no GIF: trackers need a still)."""
    if not ctx.is_merchant:
        raise ShopError("FORBIDDEN", "AR assets are uploaded by the merchant")
    if req.content_type not in (GLB_TYPE, "image/jpeg", "image/png", "image/webp"):
        raise ShopError("VALIDATION_ERROR", "an AR asset is a GLB model or a marker image",
                        {"fields": [{"field": "content_type", "type": "not_allowed",
                                     "message": "model/gltf-binary, image/jpeg, image/png or "
                                                "image/webp"}]})
    if req.size is not None and req.size > AR_MAX_BYTES:
        raise ShopError("UPLOAD_TOO_LARGE", "an AR asset is at most 10 MB",
                        {"size": req.size, "max_bytes": AR_MAX_BYTES})
    return _issue(ctx, req, AR_OWNER, AR_MAX_BYTES)


def get_upload_url(ctx: Context, req: UploadUrlInput) -> dict[str, Any]:
    """A presigned PUT URL for one file: a shopper's image, or (purpose ar_asset, merchant
    credential) a GLB model or marker image of AR try-on."""
    if req.purpose == AR_PURPOSE:
        return _ar_upload_url(ctx, req)
    if ctx.user_id is None:
        raise ShopError("UNAUTHENTICATED", "images are uploaded by a logged-in shopper")
    settings = ctx.settings
    if req.content_type not in settings.upload_content_types:
        raise ShopError("VALIDATION_ERROR", "this image type is not accepted",
                        {"fields": [{"field": "content_type", "type": "not_allowed",
                                     "message": f"one of {sorted(settings.upload_content_types)}"}],
                         "allowed": sorted(settings.upload_content_types)})
    if req.size is not None and req.size > settings.UPLOAD_MAX_BYTES:
        raise ShopError("UPLOAD_TOO_LARGE", "the image is larger than allowed",
                        {"size": req.size, "max_bytes": settings.UPLOAD_MAX_BYTES})
    return _issue(ctx, req, ctx.user_id, settings.UPLOAD_MAX_BYTES)


def _issue(ctx: Context, req: UploadUrlInput, owner: str, max_bytes: int) -> dict[str, Any]:
    settings = ctx.settings
    client, endpoint = s3_client(settings)
    key = (f"{req.purpose}/{owner}/{ctx.now:%Y%m%d}/"
           f"{secrets.token_hex(12)}.{EXTENSIONS[req.content_type]}")
    ttl = settings.UPLOAD_URL_TTL_SECONDS
    params: dict[str, Any] = {"Bucket": settings.S3_BUCKET, "Key": key,
                              "ContentType": req.content_type}
    if req.size is not None:
        params["ContentLength"] = req.size
    url = client.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
    ctx.db.uploads.insert_one({"_id": key, "user_id": owner, "purpose": req.purpose,
                               "content_type": req.content_type, "size": req.size,
                               "created_at": ctx.now})
    return {"upload_url": url, "method": "PUT", "headers": {"Content-Type": req.content_type},
            "key": key, "file_url": file_url(settings, endpoint, key), "expires_in": ttl,
            "max_bytes": max_bytes}


# ---- images sent back: only uploads of the caller's own ------------------------------------

def _refused(code: str, message: str, index: int, **details: Any) -> ShopError:
    return ShopError(code, message, {"image": index, **details})


def _key_of(settings: Settings, endpoint: str, ref: str) -> Optional[str]:
    """The upload key a reference names: the key itself, or the file_url given for it."""
    base = file_url(settings, endpoint, "")
    key = ref[len(base):] if ref.startswith(base) else ref
    return key if KEY.match(key) else None


def _stored(client: Any, settings: Settings, key: str) -> Optional[dict[str, Any]]:
    """The object's HEAD, or None when nothing was uploaded under ``key`` (yet)."""
    from botocore.exceptions import ClientError
    try:
        return client.head_object(Bucket=settings.S3_BUCKET, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def verify_uploads(ctx: Context, refs: list[str], purpose: Purpose) -> list[str]:
    """The upload keys behind ``refs`` (keys or file URLs), each checked to be an upload of the
    caller's for ``purpose`` whose file, once in the bucket, is within the size ceiling and of
    the type issued; raises ``UPLOAD_INVALID`` / ``UPLOAD_TOO_LARGE`` naming the image's index."""
    if not refs:
        return []
    settings = ctx.settings
    client, endpoint = s3_client(settings)
    keys: list[str] = []
    for index, ref in enumerate(refs):
        key = _key_of(settings, endpoint, ref)
        # another shopper's key gets the same answer as a made-up one: no probing whose exists
        record = None
        if key and key.startswith(f"{purpose}/{ctx.user_id}/"):
            record = ctx.db.uploads.find_one({"_id": key, "user_id": ctx.user_id,
                                              "purpose": purpose})
        if key is None or record is None:
            raise _refused("UPLOAD_INVALID", "not an image you uploaded with get_upload_url",
                           index, purpose=purpose)
        # a file not there (yet) passes: the record proves the key is the caller's, a missing
        # photo only weakens the caller's own request, and storage checks the signed size
        head = _stored(client, settings, key)
        size = int(head.get("ContentLength") or 0) if head else 0
        if head and (size > settings.UPLOAD_MAX_BYTES
                     or (record.get("size") and size != record["size"])):
            # storage that does not check the signed length (or an unsized URL) let it in
            client.delete_object(Bucket=settings.S3_BUCKET, Key=key)
            raise _refused("UPLOAD_TOO_LARGE", "the image is larger than allowed", index,
                           size=size, max_bytes=settings.UPLOAD_MAX_BYTES)
        if head and head.get("ContentType") != record["content_type"]:
            raise _refused("UPLOAD_INVALID", "the file is not the image type it was issued for",
                           index, purpose=purpose)
        if key not in keys:
            keys.append(key)
    ctx.db.uploads.update_many({"_id": {"$in": keys}, "used_at": {"$exists": False}},
                               {"$set": {"used_at": ctx.now}})
    return keys


# ---- AR assets: the merchant's uploads, read back to be checked --------------------------

def read_ar_upload(ctx: Context, key: str, max_bytes: int = AR_MAX_BYTES) -> tuple[bytes, str]:
    """The bytes and content type of an ``ar_asset`` upload of the merchant's; None-free:
    ``UPLOAD_INVALID`` for a key not issued for AR or not uploaded yet, ``UPLOAD_TOO_LARGE``
    (without reading it) for a file over ``max_bytes``."""
    record = ctx.db.uploads.find_one({"_id": key, "user_id": AR_OWNER, "purpose": AR_PURPOSE}) \
        if AR_KEY.match(key) else None
    if record is None:
        raise ShopError("UPLOAD_INVALID", "not an AR asset uploaded with get_upload_url",
                        {"key": key}, message_zh="文件无效，请用 get_upload_url 重新上传")
    settings = ctx.settings
    client, _ = s3_client(settings)
    head = _stored(client, settings, key)
    if head is None:
        raise ShopError("UPLOAD_INVALID", "nothing was uploaded under this key yet",
                        {"key": key}, message_zh="文件尚未上传完成")
    size = int(head.get("ContentLength") or 0)
    if size > max_bytes:
        raise ShopError("UPLOAD_TOO_LARGE", "the AR asset is larger than 10 MB",
                        {"size": size, "max_bytes": max_bytes},
                        message_zh="模型文件超过 10 MB，请压缩后重新上传")
    body = client.get_object(Bucket=settings.S3_BUCKET, Key=key)["Body"].read(max_bytes + 1)
    return body, record["content_type"]


def public_url(settings: Settings, key: str) -> str:
    """Where a stored file is read from (the CDN or bucket of the deployment)."""
    _, endpoint = s3_client(settings)
    return file_url(settings, endpoint, key)
