"""The test helpers themselves (tests/helpers.py): ``wait_until`` gives up saying what it saw,
and the ``clock`` fixture is the shop's clock for one test only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import Clock, wait_until


def test_wait_until_returns_the_first_truthy_value() -> None:
    seen = iter([0, None, "ready"])
    assert wait_until(lambda: next(seen), timeout=1, interval=0.001) == "ready"


def test_wait_until_fails_with_its_message_and_the_last_value_it_saw() -> None:
    with pytest.raises(AssertionError, match=r"never ready \(waited 0.05s; last value: 0\)"):
        wait_until(lambda: 0, timeout=0.05, interval=0.01, message=lambda: "never ready")


def test_a_clock_stands_still_until_it_is_advanced() -> None:
    t0 = datetime(2030, 5, 1, 2, 0, tzinfo=timezone.utc)
    clock = Clock(t0)
    assert clock() == clock.now == t0
    assert clock.advance(timedelta(hours=1), minutes=30) == t0 + timedelta(hours=1, minutes=30)
    assert clock.context(None, "usr_1").now == clock.now
    with pytest.raises(ValueError):
        Clock(datetime(2030, 5, 1))  # naive


def test_the_clock_fixture_is_the_shops_clock_and_moves_when_told(clock: Clock) -> None:
    from shared.core import dispatch
    from shared.core.common import utcnow
    assert utcnow() == dispatch.utcnow() == clock.now
    clock.advance(days=1)
    assert utcnow() == clock.now and utcnow().tzinfo is not None


def test_after_that_test_the_shop_has_the_real_clock_back() -> None:
    from shared.core.common import utcnow
    assert abs(utcnow() - datetime.now(timezone.utc)) < timedelta(seconds=5)
