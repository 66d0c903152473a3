"""Test helpers with one job each: ``wait_until`` (for what runs outside the test's control),
``Clock`` (a test's own, fixed time) and ``deliver_owed_events`` (what transitions left to run
after their answer). Imported by conftest, which adds their fixtures."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

if TYPE_CHECKING:
    import pytest

    from shared.core.context import Context

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: Union[str, Callable[[], str]] = "") -> T:
    """Call ``condition`` until it returns something truthy, and return that.

    Only for what the test does not drive itself (a process it started, a server on another
    thread): the shop's own asynchronous steps have synchronous modes instead. If ``timeout``
    seconds pass first, the test fails with ``message`` (a string, or a function giving one,
    e.g. a log read at that moment) and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text or 'the condition never held'} "
                                 f"(waited {timeout:g}s; last value: {value!r})")
        time.sleep(interval)


class Clock:
    """A test's clock: a fixed, timezone-aware UTC now that moves only when told.

    ``Clock(T0)`` stands at ``T0``; ``Clock()`` at the real time, to the millisecond (all that
    MongoDB keeps). ``context()`` is the domain Context at the clock's now, as the dispatcher
    and the timers build it. ``install()`` (the ``clock`` fixture does it) makes it the shop's
    clock as well, so a test moves the shop's time with ``advance`` instead of sleeping."""

    def __init__(self, start: Optional[datetime] = None) -> None:
        if start is None:
            start = datetime.now(timezone.utc)
            start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        if start.tzinfo is None:
            raise ValueError("a Clock keeps aware UTC times: give it an aware datetime")
        self.now = start.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def __repr__(self) -> str:
        return f"Clock({self.now.isoformat()})"

    def advance(self, delta: Optional[timedelta] = None, **parts: float) -> datetime:
        """Move on by ``delta`` and/or ``timedelta(**parts)`` (``seconds=1``, ``days=2``...);
        the new now."""
        self.now += (delta or timedelta()) + timedelta(**parts)
        return self.now

    def context(self, db: Any, user_id: Optional[str] = None) -> Context:
        """The Context a domain function gets, at this clock's now."""
        from shared.core.config import get_settings
        from shared.core.context import Context
        return Context(db=db, settings=get_settings(), now=self.now, request_id="test",
                       user_id=user_id)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Clock:
        """Make this the shop's clock until the test ends: ``shared.core.common.utcnow``, which
        the dispatcher, the timers and the domain read (however they imported it), answers
        this clock's now."""
        from shared.core import common
        clock = self

        class ClockDatetime(datetime):
            @classmethod
            def now(cls, tz: Optional[tzinfo] = None) -> datetime:
                return clock.now.astimezone(tz) if tz is not None \
                    else clock.now.astimezone().replace(tzinfo=None)

        monkeypatch.setattr(common, "datetime", ClockDatetime)
        return self


def deliver_owed_events() -> dict[str, Any]:
    """Deliver now every event an order still owes, as the ``order_events`` timer does once
    the grace period has passed. A paid order's aftermath (points, growth, level, referral,
    campaign stats) runs after the answer: in tests nothing starts it but this (or the timer),
    so a test says when it happens. Returns the timer's counts."""
    from shared.core.common import utcnow
    from shared.core.db import get_db
    from shared.orders.aftermath import deliver_due_before
    return deliver_due_before(get_db(), utcnow(), batch=100_000)


# ---- a loopback JSON API (WeChat's server API as its doubles answer it) ---------------------

JsonRoute = Callable[[str, dict[str, list[str]], Any], Optional[dict[str, Any]]]


def serve_json(route: JsonRoute) -> Any:
    """Serve POSTs of JSON on a free loopback port: ``route(path, query, body)`` answers a dict
    (sent as JSON) or None (404). A context manager yielding the base URL."""
    import json
    import threading
    from contextlib import contextmanager
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            url = urlparse(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            answer = route(url.path, parse_qs(url.query), body)
            if answer is None:
                self.send_error(404)
                return
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    @contextmanager
    def serving() -> Any:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    return serving()
