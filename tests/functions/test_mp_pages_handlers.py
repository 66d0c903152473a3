"""The actions of the mini-program's search and Me pages (issue 21) through their generated
functions: hot_searches by callFunction and by its Function URL, order_counts by callFunction
with CloudBase's identity (the way the mini-program's cloud mode calls them)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.functions.test_cloud_events import (
    OPENID,
    cloudbase_context,
    invoke,
    trusted_cloudbase,  # noqa: F401  (a fixture)
    url_event,
)
from tests.functions.test_handlers import fake_context, http_answer


@pytest.fixture(autouse=True)
def cold_instance() -> Any:
    from shared.insight.search import forget
    forget()
    yield
    forget()


def test_hot_searches_by_callfunction_and_by_its_function_url(db: Any) -> None:
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    db.events.insert_one({"_id": "d:e1", "name": "search", "ts": now,
                          "props": {"keyword": "草莓"}, "source": "client"})
    answer = invoke("hot_searches", {"limit": 5}, fake_context("hot_searches"))
    assert answer["ok"] is True and answer["data"]["keywords"] == ["草莓"]

    status, body = http_answer(invoke("hot_searches", url_event("/", {"limit": 5})))
    assert status == 200 and body["data"]["keywords"] == ["草莓"]


def test_order_counts_by_callfunction_is_the_cloudbase_callers_own(
        trusted_cloudbase: None, db: Any) -> None:  # noqa: F811
    answer = invoke("order_counts", {}, cloudbase_context("order_counts"))
    assert answer["ok"] is True, answer
    assert answer["data"] == {"pending_payment": 0, "to_ship": 0, "to_receive": 0,
                              "after_sale": 0}
    user = db.users.find_one({"openid": OPENID})
    db.orders.insert_one({"_id": "ord_x", "user_id": user["_id"], "status": "shipped"})
    again = invoke("order_counts", {}, cloudbase_context("order_counts"))
    assert again["data"]["to_receive"] == 1


def test_order_counts_without_an_identity_is_refused() -> None:
    answer = invoke("order_counts", {}, fake_context("order_counts"))
    assert answer["ok"] is False and answer["error"]["code"] == "UNAUTHENTICATED"
