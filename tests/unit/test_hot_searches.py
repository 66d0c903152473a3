"""hot_searches (issue 21): the most searched keywords of the last 7 days from tracked search
events, topped up with best sellers' title words, kept ~5 minutes per warm instance."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from tests.conftest import call, merchant, new_category
from tests.helpers import Clock
from tests.roundtrips import count_round_trips


@pytest.fixture(autouse=True)
def cold_instance() -> Iterator[None]:
    from shared.insight.search import forget
    forget()
    yield
    forget()


_ids = iter(range(1, 1_000_000))


def searches(device: str, *keywords: str, ts: datetime | None = None,
             results: int | None = None) -> None:
    moment = (ts or datetime.now(timezone.utc)).isoformat()
    props = {} if results is None else {"results": results}
    events = [{"event_id": f"s{next(_ids)}", "name": "search", "ts": moment,
               "props": {"keyword": k, **props}} for k in keywords]
    sent_at = datetime.now(timezone.utc).isoformat()   # the client's clock is right
    assert call("track_events", {"device_id": device, "sent_at": sent_at,
                                 "events": events}).ok


def product(title: str, sales: int, db: Any) -> str:
    pid = merchant("merchant_upsert_product", {
        "title": title, "category_id": new_category(), "images": ["https://img.test/1.png"],
        "skus": [{"specs": {"规格": "1"}, "price": 1000, "stock": 10}]}).data["id"]
    db.products.update_one({"_id": pid}, {"$set": {"sales": sales}})
    return pid


def hot(limit: int = 10) -> list[str]:
    return list(call("hot_searches", {"limit": limit}).data["keywords"])


def test_the_most_searched_keywords_come_first_folded_by_case_and_spaces(db: Any) -> None:
    searches("d1", "草莓", "草莓", " 草莓 ", "iPhone  壳", "iphone 壳", "苹果")
    searches("d2", "苹果", "IPHONE 壳")

    answer = call("hot_searches", {}).data

    assert answer["keywords"][:3] == ["iphone 壳", "草莓", "苹果"]
    assert [i["count"] for i in answer["items"][:3]] == [3, 3, 2]
    assert answer["items"][0]["source"] == "search"


def test_searches_older_than_7_days_do_not_count(db: Any, clock: Clock) -> None:
    old = clock.now - timedelta(days=8)
    searches("d1", "月饼", "月饼", "月饼", ts=old)
    searches("d1", "汤圆", ts=clock.now - timedelta(days=6))

    assert hot() == ["汤圆"]


def test_searches_that_found_nothing_are_not_hot(db: Any) -> None:
    searches("d1", "榴莲", "榴莲", "榴莲", results=0)
    searches("d1", "草莓", results=4)

    assert hot() == ["草莓"]


def test_too_few_searches_are_topped_up_with_best_sellers_title_words(db: Any) -> None:
    product("赣南脐橙", 50, db)
    product("丹东草莓", 500, db)
    product("新疆阿克苏冰糖心苹果", 5, db)
    searches("d1", "橙子")

    words = hot(20)

    assert words[0] == "橙子"                  # a real search outranks any product word
    assert words[1:3] == ["丹东草莓", "赣南脐橙"]  # then by the products' sales
    assert "苹果" in words and "新疆阿克苏冰糖心苹果" not in words  # a long title is cut


def test_a_title_jieba_was_taught_as_one_word_still_gives_its_words(db: Any) -> None:
    from shared.assistant.text import add_words
    add_words(["新疆阿克苏冰糖心苹果"])   # as the assistant teaches it the shop's titles
    product("新疆阿克苏冰糖心苹果", 5, db)

    words = hot(20)

    assert "苹果" in words and "新疆阿克苏冰糖心苹果" not in words


def test_an_empty_shop_answers_an_empty_list(db: Any) -> None:
    assert call("hot_searches", {}).data == {"items": [], "keywords": []}


def test_a_warm_instance_answers_from_its_cache_for_five_minutes(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    from shared.core import warmcache  # where a warm instance keeps the answer
    monkeypatch.setattr(warmcache.time, "monotonic", lambda: now[0])
    searches("d1", "草莓")
    with count_round_trips():   # the counting handle stays, as the instance's own would
        assert hot() == ["草莓"]

    searches("d1", "荔枝", "荔枝")
    with count_round_trips() as trips:
        assert hot() == ["草莓"]           # cached: no round trip, the old answer
    assert trips.count == 0

    now[0] += 301
    assert hot() == ["荔枝", "草莓"]


def test_a_cold_count_costs_at_most_two_round_trips(db: Any) -> None:
    product("丹东草莓", 5, db)
    searches("d1", "草莓")
    with count_round_trips() as trips:
        assert hot() == ["草莓", "丹东草莓"]
    assert trips.count == 2, trips.describe()   # the searches' aggregate, the best sellers


def test_it_is_public_and_rejects_unknown_fields_and_bad_limits(db: Any) -> None:
    assert call("hot_searches", {}).ok
    assert call("hot_searches", {"limit": 0}).status == 422
    assert call("hot_searches", {"limit": 21}).status == 422
    assert call("hot_searches", {"days": 30}).status == 422


def test_it_is_served_over_http_by_the_gateway(gateway: str) -> None:
    import json
    import urllib.request
    searches("d1", "草莓")
    request = urllib.request.Request(f"{gateway}/api/hot_searches", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert body["data"]["keywords"] == ["草莓"]


def test_a_number_alone_in_a_title_is_no_hot_word() -> None:
    from shared.insight.search import title_words
    words = title_words("黑巧克力 85% iPhone15 80抽×3")
    assert "85" not in words and "80" not in words
    assert "iphone15" in words and "黑巧克力" in words
