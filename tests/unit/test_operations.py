"""Running the shop (issue 12, section 7): LOG_LEVEL is honoured, an unreachable MongoDB is
one clear line (503 to the caller, one log line, no traceback), and production refuses WeChat
Pay keys it could not use."""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import call

UNREACHABLE = "mongodb://shop:s3cretpw@127.0.0.1:9/shop?serverSelectionTimeoutMS=200"


@pytest.fixture
def shop_log() -> Iterator[io.StringIO]:
    from shared.core.log import JsonFormatter, get_logger
    get_logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("shop")
    root.addHandler(handler)
    level = root.level
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _use(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    from shared.core.config import reset_settings
    from shared.core.db import reset_db
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_db()
    reset_settings()


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MONGODB_URI names a server that does not answer (forgotten before the database
    teardown tries to drop anything there)."""
    from shared.core.db import reset_db
    _use(monkeypatch, MONGODB_URI=UNREACHABLE)
    yield
    reset_db()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# ---- LOG_LEVEL ------------------------------------------------------------------------------

def test_log_level_warning_silences_the_info_lines(shop_log, monkeypatch, db):
    _use(monkeypatch, LOG_LEVEL="WARNING")
    call("list_products")
    call("get_profile")

    assert _lines(shop_log) == []


def test_log_level_is_read_in_any_case_and_info_is_the_default(shop_log, monkeypatch, db):
    from shared.core.config import get_settings
    assert get_settings().LOG_LEVEL == "INFO"
    call("list_products")
    assert [line["msg"] for line in _lines(shop_log)] == ["action"]

    _use(monkeypatch, LOG_LEVEL="error")
    assert get_settings().LOG_LEVEL == "ERROR"
    assert logging.getLogger("shop").level == logging.ERROR


def test_an_unknown_log_level_is_a_config_error(monkeypatch):
    from shared.core.config import ConfigError, get_settings
    _use(monkeypatch, LOG_LEVEL="LOUD")
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        get_settings()


# ---- an unreachable MongoDB -----------------------------------------------------------------

def test_an_unreachable_database_is_503_and_one_log_line(shop_log, monkeypatch, unreachable):
    _use(monkeypatch, LOG_LEVEL="WARNING")

    answer = call("list_products")

    assert (answer.status, answer.code) == (503, "UNAVAILABLE")
    lines = _lines(shop_log)
    assert len(lines) == 1 and lines[0]["msg"] == "database unreachable", lines
    assert "exc" not in lines[0] and "Traceback" not in shop_log.getvalue()
    assert "s3cretpw" not in shop_log.getvalue() and "s3cretpw" not in json.dumps(answer.body)


def test_an_unreachable_database_answers_the_health_check_with_503(shop_log, unreachable):
    from werkzeug.test import Client

    from shared.core.http import app

    response = Client(app).get("/healthz")

    assert response.status_code == 503
    assert "Traceback" not in shop_log.getvalue()


def test_the_database_timeouts_in_the_uri_are_honoured(unreachable):
    """The URI's 200 ms stands (our 5 s default used to override it): a caller waits
    no more than the operator chose."""
    import time
    started = time.monotonic()
    assert call("list_products").status == 503
    assert time.monotonic() - started < 3


def test_the_unreachable_message_names_the_server_but_not_the_password(unreachable):
    from pymongo.errors import ServerSelectionTimeoutError

    from shared.core.db import unreachable_message

    text = unreachable_message(ServerSelectionTimeoutError("refused"))

    assert "127.0.0.1:9" in text and "MONGODB_URI" in text
    assert "s3cretpw" not in text and "\n" not in text


# ---- production refuses WeChat Pay keys it cannot use ---------------------------------------

PRODUCTION = {
    "SHOP_ENV": "production",
    "MONGODB_URI": "mongodb://shop:pw@mongo.internal:27017/?replicaSet=rs0",
    "TOKEN_SECRET": "kq3V9f0XbLr2mN8sT5wYz1cD4hJ7pA6eGuQiRo0t",
    "MERCHANT_TOKEN": "mt_8fJ2kL9qR4vX7zB1nC5wD3",
    "WX_APPID": "wx1a2b3c4d5e6f7a8b",
    "WX_SECRET": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "WXPAY_MCHID": "1230000109",
    "WXPAY_NOTIFY_URL": "https://shop.example.com/pay/notify",
    "WXPAY_REFUND_NOTIFY_URL": "https://shop.example.com/pay/refund-notify",
    "S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com",
    "TENCENTCLOUD_SECRET_ID": "AKIDexampleexampleexample",
    "TENCENTCLOUD_SECRET_KEY": "examplesecretkeyexamplesecretkey",
}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    private = tmp_path / "apiclient_key.pem"
    private.write_text("-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n")
    public = tmp_path / "pub_key.pem"
    public.write_text("-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----\n")
    return {"WXPAY_PRIVATE_KEY_PATH": str(private), "WXPAY_PUBLIC_KEY_PATH": str(public),
            "WXPAY_APIV3_KEY": "0123456789abcdef0123456789abcdef"}


def _production(monkeypatch: pytest.MonkeyPatch, **values: str) -> Any:
    from shared.core.config import get_settings, reset_settings
    for name, value in {**PRODUCTION, **values}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return get_settings()


def test_production_accepts_readable_keys_and_a_32_byte_apiv3_key(monkeypatch, keys):
    assert _production(monkeypatch, **keys).is_production


@pytest.mark.parametrize("name", ["WXPAY_PRIVATE_KEY_PATH", "WXPAY_PUBLIC_KEY_PATH"])
@pytest.mark.parametrize("kind", ["missing", "directory", "not-pem"])
def test_production_refuses_an_unreadable_key_file(monkeypatch, keys, tmp_path, name, kind):
    from shared.core.config import ConfigError
    path = {"missing": tmp_path / "nope.pem", "directory": tmp_path,
            "not-pem": tmp_path / "garbage.pem"}[kind]
    if kind == "not-pem":
        path.write_bytes(b"\x00\x01 not a key")

    with pytest.raises(ConfigError, match=name):
        _production(monkeypatch, **{**keys, name: str(path)})


@pytest.mark.parametrize("apiv3", ["short", "0123456789abcdef0123456789abcdef0",
                                   "密钥" * 8])
def test_production_refuses_an_apiv3_key_that_is_not_32_bytes(monkeypatch, keys, apiv3):
    from shared.core.config import ConfigError
    with pytest.raises(ConfigError, match="WXPAY_APIV3_KEY") as refused:
        _production(monkeypatch, **{**keys, "WXPAY_APIV3_KEY": apiv3})
    assert apiv3 not in str(refused.value)
