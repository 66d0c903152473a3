"""merchant_funnel on a scripted sequence of events (issue 15)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import call, merchant, new_shopper

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
STEPS = ["page_view", "product_view", "add_to_cart", "order_paid"]
_ids = iter(range(1, 10**9))


@pytest.fixture(autouse=True)
def fresh_links() -> Iterator[None]:
    from shared.insight.tracking import forget_links
    forget_links()
    yield


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def did(device: str, name: str, when: datetime, token: Optional[str] = None) -> None:
    props = {"product_id": "prd_1"} if name in ("product_view", "add_to_cart") else {}
    # sent now by a right clock: the event keeps its time (to the latency of the call)
    sent_at = datetime.now(timezone.utc).isoformat()
    answer = call("track_events", {"device_id": device, "sent_at": sent_at, "events": [
        {"event_id": f"e{next(_ids)}", "name": name, "ts": when.isoformat(), "props": props}]},
        token)
    assert answer.ok, answer.body


def paid(db: Any, user_id: str, when: datetime) -> None:
    from shared.insight.facts import record_fact
    record_fact(db, "order_paid", f"ord_{next(_ids)}", user_id, when,
                {"order_id": "x", "amount": 100, "items": []})


def funnel(steps: list[str] = STEPS, hours: float = 72, window: Optional[int] = None) -> Any:
    payload: dict[str, Any] = {"steps": steps, "from": T0.isoformat(),
                               "to": at(hours).isoformat()}
    if window is not None:
        payload["window_hours"] = window
    return merchant("merchant_funnel", payload)


def test_a_scripted_funnel_counts_each_step_in_order_within_the_window(db: Any) -> None:
    a, b, c, d = (new_shopper() for _ in range(4))
    # a: the whole way within an hour
    for n, name in enumerate(["page_view", "product_view", "add_to_cart"]):
        did("da", name, at(n * 0.1), a.token)
    paid(db, a.user_id, at(0.5))
    # b: to the cart, then pays two days later: outside the 24 h window
    for n, name in enumerate(["page_view", "product_view", "add_to_cart"]):
        did("db", name, at(1 + n * 0.1), b.token)
    paid(db, b.user_id, at(49))
    # c: views a product before any page view, then a page view only
    did("dc", "product_view", at(1), c.token)
    did("dc", "page_view", at(2), c.token)
    # d: page view, then product view; many page views count once
    for n in range(3):
        did("dd", "page_view", at(3 + n * 0.01), d.token)
    did("dd", "product_view", at(4), d.token)
    # an anonymous device: page view and product view
    did("anon", "page_view", at(5))
    did("anon", "product_view", at(5.5))
    # before the range: not entered
    did("early", "page_view", T0 - timedelta(hours=1))

    found = funnel().data

    assert [(s["name"], s["users"]) for s in found["steps"]] == [
        ("page_view", 5), ("product_view", 4), ("add_to_cart", 2), ("order_paid", 1)]
    assert [s["conversion"] for s in found["steps"]] == [1.0, 0.8, 0.5, 0.5]
    assert found["overall"] == 0.2 and found["window_hours"] == 24


def test_a_wider_window_lets_a_late_payment_count(db: Any) -> None:
    b = new_shopper()
    for n, name in enumerate(["page_view", "product_view", "add_to_cart"]):
        did("db", name, at(1 + n * 0.1), b.token)
    paid(db, b.user_id, at(49))

    assert funnel(window=24).data["steps"][3]["users"] == 0
    assert funnel(window=72).data["steps"][3]["users"] == 1


def test_a_later_attempt_that_goes_further_is_the_one_counted(db: Any) -> None:
    a = new_shopper()
    did("da", "page_view", at(0), a.token)
    did("da", "page_view", at(30), a.token)
    did("da", "product_view", at(31), a.token)

    steps = funnel(["page_view", "product_view"], window=2).data["steps"]

    assert [s["users"] for s in steps] == [1, 1]


def test_events_before_login_and_after_count_as_one_shopper(db: Any) -> None:
    did("phone", "page_view", at(0))
    shopper = new_shopper()
    did("phone", "product_view", at(0.5), shopper.token)

    steps = funnel(["page_view", "product_view"]).data["steps"]

    assert [s["users"] for s in steps] == [1, 1]


@pytest.mark.parametrize("payload", [
    {"steps": ["page_view"], "from": T0.isoformat(), "to": at(1).isoformat()},
    {"steps": ["page_view", "nonsense"], "from": T0.isoformat(), "to": at(1).isoformat()},
    {"steps": STEPS, "from": at(1).isoformat(), "to": T0.isoformat()},
    {"steps": STEPS, "from": T0.isoformat(), "to": at(1).isoformat(), "window_hours": 0},
])
def test_bad_funnels_are_422(payload: dict[str, Any]) -> None:
    assert merchant("merchant_funnel", payload).status == 422


def test_the_funnel_is_for_the_merchant_only() -> None:
    shopper = new_shopper()

    assert shopper.call("merchant_funnel", {"steps": STEPS, "from": T0.isoformat(),
                                            "to": at(1).isoformat()}).status == 403
