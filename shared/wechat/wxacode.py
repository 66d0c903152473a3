"""Mini-program codes (小程序码) for any number of scenes: ``getwxacodeunlimit``.

With ``WX_APPID``/``WX_SECRET`` set, ``POST /wxa/getwxacodeunlimit?access_token=...`` at
``WECHAT_API_BASE``; WeChat answers the image bytes, or JSON with an errcode. Without them (dev
and test only), a sandbox PNG is drawn in-process from the scene: the same scene always gives
the same picture, so a test can tell codes apart without a QR library.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Optional, Union

from shared.core.config import Settings
from shared.core.errors import ShopError
from shared.core.log import get_logger, log_event
from shared.wechat.token import INVALID_TOKEN_ERRCODES, get_access_token

logger = get_logger("shop.wechat")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RATE_ERRCODES = (45009, 45011)


@dataclass(frozen=True)
class CodeImage:
    content: bytes
    content_type: str


def unlimited_code(db: Any, settings: Settings, scene: str, page: str) -> CodeImage:
    """The mini-program code that opens ``page`` with ``scene`` (at most 32 characters)."""
    if settings.uses_wechat_sandbox:
        if settings.is_production:
            raise ShopError("CONFIG_ERROR", "the wxacode sandbox is refused in production")
        return CodeImage(sandbox_png(scene), "image/png")
    env_version = settings.WXACODE_ENV_VERSION
    # check_path must be off for trial and develop builds, whose pages WeChat does not know
    payload = {"scene": scene, "page": page, "check_path": env_version == "release",
               "env_version": env_version}
    token = get_access_token(db, settings)
    answer = _request(settings, token, payload)
    if isinstance(answer, int) and answer in INVALID_TOKEN_ERRCODES:
        token = get_access_token(db, settings, force_refresh=True, failed_token=token)
        answer = _request(settings, token, payload)
    if isinstance(answer, int):
        code = "RATE_LIMITED" if answer in _RATE_ERRCODES else "UPSTREAM_ERROR"
        raise ShopError(code, f"WeChat refused the mini-program code ({answer})",
                        {"errcode": answer})
    return answer


def _request(settings: Settings, token: str, payload: dict[str, Any]) -> Union[CodeImage, int]:
    """The image, or WeChat's errcode (an int)."""
    import requests
    url = settings.WECHAT_API_BASE.rstrip("/") + "/wxa/getwxacodeunlimit"
    try:
        response = requests.post(url, params={"access_token": token}, json=payload,
                                 timeout=settings.WECHAT_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        log_event(logger, "getwxacodeunlimit unreachable", error=type(exc).__name__)
        raise ShopError("UPSTREAM_ERROR", "WeChat is unavailable") from None
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if response.status_code == 200 and content_type.startswith("image/") and response.content:
        return CodeImage(response.content, content_type)
    # an error comes as JSON (WeChat may label it text/plain)
    try:
        body = response.json()
    except ValueError:
        body = None
    errcode = body.get("errcode") if isinstance(body, dict) else None
    if not isinstance(errcode, int) or errcode == 0:
        log_event(logger, "getwxacodeunlimit answered no image", status=response.status_code,
                  content_type=content_type)
        raise ShopError("UPSTREAM_ERROR", "unexpected answer from WeChat")
    log_event(logger, "getwxacodeunlimit refused", errcode=errcode, errmsg=body.get("errmsg"))
    return errcode


# ---- the dev sandbox: a small valid PNG drawn from the scene --------------------------------

_MODULES = 25       # modules per side, as a version-2 QR code
_MODULE_PX = 8
_QUIET = 4          # modules of white border


def _finder(row: int, col: int) -> Optional[bool]:
    """Dark/light inside one of the three corner squares, None outside them."""
    for top, left in ((0, 0), (0, _MODULES - 7), (_MODULES - 7, 0)):
        r, c = row - top, col - left
        if 0 <= r < 7 and 0 <= c < 7:
            ring = max(abs(r - 3), abs(c - 3))
            return ring != 2  # dark 3x3 centre and outer ring, light ring between
        if -1 <= r <= 7 and -1 <= c <= 7:
            return False     # the light separator around each square
    return None


def sandbox_png(scene: str) -> bytes:
    """A grayscale PNG that looks like a mini-program code and is a function of ``scene``."""
    bits = hashlib.shake_256(scene.encode("utf-8")).digest(_MODULES * _MODULES // 8 + 1)
    dark = []
    for row in range(_MODULES):
        for col in range(_MODULES):
            fixed = _finder(row, col)
            index = row * _MODULES + col
            dark.append(fixed if fixed is not None else bool(bits[index // 8] >> (index % 8) & 1))
    side = (_MODULES + 2 * _QUIET) * _MODULE_PX
    rows = []
    for y in range(side):
        module_row = y // _MODULE_PX - _QUIET
        line = bytearray(side)
        for x in range(side):
            module_col = x // _MODULE_PX - _QUIET
            inside = 0 <= module_row < _MODULES and 0 <= module_col < _MODULES
            line[x] = 0 if inside and dark[module_row * _MODULES + module_col] else 255
        rows.append(b"\x00" + bytes(line))  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
