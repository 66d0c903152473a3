"""Talking to the gateway, and what every command prints through: the consoles, --json, errors."""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Optional

import requests
import typer
from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API = "http://127.0.0.1:8080"


def default_api() -> str:
    """The gateway `make run` starts: 127.0.0.1 on $PORT (as the Makefile reads it), else 8080."""
    port = os.environ.get("PORT", "").strip()
    return f"http://127.0.0.1:{port}" if port.isdigit() else DEFAULT_API

# Same value as shared.core.config.DEV_MERCHANT_TOKEN; copied, not imported, so that the console
# runs anywhere with typer, rich and requests, without the backend's dependencies.
DEV_MERCHANT_TOKEN = "dev-merchant-token"
# A gateway is normally fast, but a cold cloud function can take seconds to answer.
TIMEOUT = (5.0, 60.0)
# The shop's clock, whatever the console machine's zone: times typed without a zone are read
# as Beijing time and times are shown in it (China has no daylight saving).
BEIJING = timezone(timedelta(hours=8))

out = Console(soft_wrap=False)
# soft_wrap: an error stays one line even when stderr is not a terminal (rich wraps at 80).
err = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(Text(message, style="bold red"))
    raise typer.Exit(code)


def _why(exc: requests.RequestException) -> str:
    """The useful part of a requests error (the OS reason), not urllib3's nested reprs."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    found = re.search(r"\[(?:Errno -?\d+|SSL: \w+)\] [^'\"()]+", text)
    return found.group(0).strip() if found else (text or type(exc).__name__)


@contextlib.contextmanager
def spinner(label: Optional[str]) -> Iterator[None]:
    # only on a terminal: a slow cold start then shows as waiting, not as a hang
    if label is not None and err.is_terminal:
        with err.status(label):
            yield
    else:
        yield


@dataclass
class Shop:
    api: str
    token: str
    as_json: bool
    # --api and SHOP_API unset: the default is a guess, and failing to reach it needs a hint
    api_guessed: bool = False

    def call(self, action: str, payload: Optional[dict[str, Any]] = None, *,
             quiet: bool = False) -> Any:
        """The ``data`` of a successful answer; any failure ends the command with its message.

        quiet: no spinner, for calls made while a progress bar holds the terminal."""
        url = f"{self.api}/api/{action}"
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with spinner(None if quiet else f"{action} …"):
                answer = requests.post(url, json=payload or {}, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            hint = (" - no --api or SHOP_API given, so shopctl tried the local dev gateway: "
                    "start it with `make run`, or point shopctl at your gateway with "
                    "--api URL or SHOP_API=URL") if self.api_guessed else ""
            fail(f"cannot reach {self.api}: {_why(exc)}{hint}", 2)
        envelope = _envelope(answer)
        if envelope["ok"]:
            return envelope.get("data")
        self.refuse(envelope)

    def refuse(self, envelope: dict[str, Any]) -> NoReturn:
        if self.as_json:
            emit_json(envelope)
            raise typer.Exit(1)
        error = envelope.get("error") or {}
        details = error.get("details") or {}
        err.print(Text(f"{error.get('code', 'ERROR')}: {error.get('message', '')}",
                       style="bold red"))
        for field in details.get("fields") or []:
            err.print(Text(f"  - {field.get('field')}: {field.get('message')}", style="red"))
        # "resource" only repeats the message ("product not found")
        rest = {k: v for k, v in details.items() if k not in ("fields", "resource")}
        if rest:
            err.print(Text(f"  details: {json.dumps(rest, ensure_ascii=False)}", style="red"))
        raise typer.Exit(1)


def _envelope(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        # a proxy's error page, or --api points at something that is not the shop
        fail(f"{answer.url} answered HTTP {answer.status_code} without the shop's JSON "
             f"envelope; is --api the shop gateway?", 2)
    return body


def shop(ctx: typer.Context) -> Shop:
    client: Shop = ctx.find_root().obj
    return client


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def emit(ctx: typer.Context, data: Any, render: Callable[[Any], None]) -> None:
    """Raw JSON with --json, otherwise the human view."""
    if shop(ctx).as_json:
        emit_json(data)
    else:
        render(data)


def emit_line(ctx: typer.Context, data: Any, line: Callable[[Any], str]) -> None:
    """Raw JSON with --json, otherwise one green line saying what was done."""
    emit(ctx, data, lambda value: out.print(Text(line(value), style="green")))


def done(ctx: typer.Context, message: str) -> None:
    if not shop(ctx).as_json:
        out.print(Text(message, style="green"))
