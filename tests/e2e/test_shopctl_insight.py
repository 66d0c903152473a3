"""shopctl insight and shopctl tags, run as a real subprocess against the HTTP gateway."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import call, new_category, new_product, new_shopper
from tests.e2e.test_shopctl import data_of, shopctl


@pytest.mark.parametrize("command", [
    ["insight"], ["insight", "funnel"], ["insight", "profile"], ["tags"], ["tags", "upsert"],
    ["tags", "refresh"], ["tags", "list"], ["tags", "users"],
])
def test_help_is_there_for_every_insight_and_tags_command(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl" in result.stdout


def test_a_tag_made_refreshed_and_listed_from_the_console(gateway: str, db: Any) -> None:
    lipstick = new_category("口红")
    product = new_product(category_id=lipstick)
    lover, other = new_shopper(), new_shopper()
    now = datetime.now(timezone.utc)
    assert call("track_events", {"device_id": "d-lover", "sent_at": now.isoformat(), "events": [
        {"event_id": f"e{n}", "name": "product_view", "ts": now.isoformat(),
         "props": {"product_id": product["id"]}} for n in range(25)]}, lover.token).ok
    rule = json.dumps({"interest": {"category_ids": [lipstick], "min_score": 20}})

    made = shopctl("tags", "upsert", "口红控", "--rule", rule, api=gateway)
    refreshed = shopctl("tags", "refresh", "--name", "口红控", api=gateway)
    listed = shopctl("tags", "list", api=gateway)
    users = data_of(shopctl("--json", "tags", "users", "口红控", api=gateway))
    profile = data_of(shopctl("--json", "insight", "profile", lover.user_id, api=gateway))
    shown = shopctl("insight", "profile", lover.user_id, api=gateway)

    assert made.returncode == 0 and "口红控 saved" in made.stdout, made.stderr
    assert refreshed.returncode == 0 and "口红控: 1 users" in refreshed.stdout, refreshed.stderr
    assert "口红控" in listed.stdout
    assert [u["user_id"] for u in users["items"]] == [lover.user_id]
    assert profile["tags"] == ["口红控"] and profile["interests"][0]["score"] == 25
    assert "segment no_orders" in shown.stdout
    assert other.user_id not in json.dumps(users)


def test_a_funnel_from_the_console(gateway: str, db: Any) -> None:
    now = datetime.now(timezone.utc)
    for device, names in (("d1", ["page_view", "search"]), ("d2", ["page_view"])):
        assert call("track_events", {"device_id": device, "sent_at": now.isoformat(), "events": [
            {"event_id": f"e{n}", "name": name, "ts": (now + timedelta(seconds=n)).isoformat(),
             "props": {"keyword": "口红"} if name == "search" else {}}
            for n, name in enumerate(names)]}).ok
    since = (now - timedelta(hours=1)).isoformat()
    until = (now + timedelta(hours=1)).isoformat()

    shown = shopctl("insight", "funnel", "page_view", "search", "--from", since, "--to", until,
                    api=gateway)
    data = data_of(shopctl("--json", "insight", "funnel", "page_view", "search", "--from",
                           since, "--to", until, api=gateway))

    assert shown.returncode == 0, shown.stderr
    assert "50.0%" in shown.stdout
    assert [s["users"] for s in data["steps"]] == [2, 1]


def test_a_bad_rule_is_refused_with_exit_code_1(gateway: str) -> None:
    result = shopctl("tags", "upsert", "坏", "--rule", '{"segment": ["nope"]}', api=gateway)

    assert result.returncode == 1
