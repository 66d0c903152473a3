"""Structured JSON logs with a request id; secrets and phone numbers never reach them."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_SECRET_KEY = re.compile(r"token|secret|session_key|password|authorization|paysign|private",
                         re.IGNORECASE)
_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")
_BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """Mask secrets by key name, bearer tokens and mainland mobile numbers anywhere in text."""
    if key and _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _PHONE.sub(r"\1****\2", _BEARER.sub(r"\1***", value))
    return value


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # logging's own documented idiom
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": request_id_var.get(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(redact(entry), ensure_ascii=False, default=str)


def get_logger(name: str = "shop") -> logging.Logger:
    logger = logging.getLogger(name)
    root = logging.getLogger("shop")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        if root.level == logging.NOTSET:  # LOG_LEVEL (applied with the settings) stands
            root.setLevel(logging.INFO)
        root.propagate = False
    return logger


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})
