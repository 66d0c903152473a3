"""The 3D asset of a SKU for AR try-on: a GLB the merchant uploads, checked before any shopper's
phone downloads it, and kept on the SKU (field ``ar``) where get_product shows it.

The check follows the glTF 2.0 binary container: a 12-byte header (magic ``glTF``, version 2,
the total length, which must equal the file's size), then a JSON chunk (length, type ``JSON``)
that parses and names at least one mesh, then optionally a BIN chunk; chunks fill the file
exactly. A glTF 1.0 binary (KHR_binary_glTF, version 1), a PNG renamed .glb, a cut-off upload
and anything over 10 MB are refused with ``AR_ASSET_INVALID`` and the reason.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, model_validator

from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.storage.uploads import AR_MAX_BYTES, GLB_TYPE, public_url, read_ar_upload

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ArMode = Literal["face", "plane", "body", "hand", "marker"]
Coordinate = Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)]
Factor = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
Vector = tuple[Coordinate, Coordinate, Coordinate]


class GlbRefused(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_glb(content: bytes, max_bytes: int = AR_MAX_BYTES) -> dict[str, Any]:
    """What a valid GLB tells about itself (meshes, the glTF version, the generator); raises
    GlbRefused with a reason otherwise."""
    if len(content) > max_bytes:
        raise GlbRefused("too_large", f"the file is {len(content)} bytes, at most {max_bytes}")
    if len(content) < 12 or content[:4] != GLB_MAGIC:
        raise GlbRefused("not_glb", "not a GLB file (it does not start with 'glTF')")
    version, declared = struct.unpack_from("<II", content, 4)
    if version != 2:
        raise GlbRefused("version", f"glTF binary version {version}; only version 2 is taken")
    if declared != len(content):
        raise GlbRefused("length", f"the header says {declared} bytes, the file has "
                                   f"{len(content)} (cut off, or padded)")
    offset, chunks = 12, 0
    document: Any = None
    while offset < len(content):
        if offset + 8 > len(content):
            raise GlbRefused("length", "a chunk header runs past the end of the file")
        length, kind = struct.unpack_from("<II", content, offset)
        start, offset = offset + 8, offset + 8 + length
        if offset > len(content):
            raise GlbRefused("length", "a chunk runs past the end of the file")
        if chunks == 0:
            if kind != CHUNK_JSON:
                raise GlbRefused("json_chunk", "the first chunk is not JSON")
            try:
                document = json.loads(content[start:offset].decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise GlbRefused("json_chunk", "the JSON chunk does not parse") from None
        elif chunks == 1 and kind != CHUNK_BIN:
            raise GlbRefused("bin_chunk", "the second chunk is not BIN")
        chunks += 1
    if not isinstance(document, dict):
        raise GlbRefused("json_chunk", "no JSON chunk with a glTF object")
    meshes: Any = document.get("meshes")
    if not isinstance(meshes, list) or not meshes:
        raise GlbRefused("no_mesh", "the model has no mesh")
    asset: dict[str, Any] = document["asset"] if isinstance(document.get("asset"), dict) else {}
    return {"meshes": len(meshes), "version": asset.get("version"),
            "generator": asset.get("generator")}


class UpsertArAssetInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    mode: ArMode
    glb_key: str = Field(min_length=1, max_length=200,
                         description="from get_upload_url {purpose: ar_asset, content_type: "
                                     "model/gltf-binary}")
    scale: Union[Factor, tuple[Factor, Factor, Factor]] = Field(
        default=1.0, description="one factor, or x, y, z")
    position: Vector = (0.0, 0.0, 0.0)
    rotation: Vector = Field(default=(0.0, 0.0, 0.0), description="degrees about x, y, z")
    anchor: Optional[str] = Field(default=None, min_length=1, max_length=32,
                                  description="the tracked point the model hangs on, e.g. "
                                              "a face point or a hand joint")
    marker_key: Optional[str] = Field(default=None, min_length=1, max_length=200,
                                      description="mode marker: the marker image's upload key")
    fallback_image: Optional[str] = Field(default=None, max_length=512,
                                          description="shown where AR is not supported")

    @model_validator(mode="after")
    def _marker_has_image(self) -> "UpsertArAssetInput":
        if self.mode == "marker" and not self.marker_key:
            raise ValueError("mode marker needs marker_key (the image the camera looks for)")
        if self.marker_key and self.mode != "marker":
            raise ValueError("marker_key is for mode marker only")
        return self


def _scale(value: Union[float, tuple[float, float, float]]) -> list[float]:
    return [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]


def _refused(reason: str, message: str, message_zh: str) -> ShopError:
    return ShopError("AR_ASSET_INVALID", message, {"reason": reason}, message_zh=message_zh)


_REASONS_ZH = {"too_large": "模型文件超过 10 MB", "not_glb": "不是 GLB 模型文件",
               "version": "仅支持 glTF 2.0 的 GLB 文件", "length": "模型文件不完整（长度不符）",
               "json_chunk": "模型文件的 JSON 部分无效", "bin_chunk": "模型文件的数据块无效",
               "no_mesh": "模型中没有网格（mesh）"}


def upsert_ar_asset(ctx: Context, req: UpsertArAssetInput) -> dict[str, Any]:
    """Attach (or replace) a SKU's AR asset after checking the uploaded GLB; stores its
    SHA-256 and size, which get_product shows with the model's URL."""
    if ctx.db.skus.find_one({"_id": req.sku_id}, {"_id": 1}) is None:
        raise not_found("sku")
    content, content_type = read_ar_upload(ctx, req.glb_key)
    if content_type != GLB_TYPE:
        raise _refused("content_type", "glb_key must be an upload of model/gltf-binary",
                       "请上传 GLB 模型文件（model/gltf-binary）")
    try:
        info = check_glb(content)
    except GlbRefused as exc:
        raise _refused(exc.reason, str(exc), _REASONS_ZH.get(exc.reason, "模型文件无效")) \
            from None
    marker_url = None
    if req.marker_key:
        _, marker_type = read_ar_upload(ctx, req.marker_key)
        if not marker_type.startswith("image/"):
            raise _refused("marker", "marker_key must be an image upload", "识别图必须是图片")
        marker_url = public_url(ctx.settings, req.marker_key)
    ar = {"mode": req.mode, "glb_url": public_url(ctx.settings, req.glb_key),
          "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
          "scale": _scale(req.scale), "position": list(req.position),
          "rotation": list(req.rotation), "anchor": req.anchor, "marker_url": marker_url,
          "fallback_image": req.fallback_image}
    ctx.db.skus.update_one({"_id": req.sku_id},
                           {"$set": {"ar": ar, "ar_source": {"glb_key": req.glb_key,
                                                             "marker_key": req.marker_key,
                                                             "meshes": info["meshes"],
                                                             "updated_at": ctx.now}}})
    return {"sku_id": req.sku_id, "ar": ar, "meshes": info["meshes"]}
