"""`shopctl groupbuy create|list|end`, run as a real subprocess against the HTTP gateway.

The gateway serves the in-process test database, so shoppers open and join teams with the
in-process helpers and the console's view of the campaign is checked against them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import MERCHANT_TOKEN, ROOT, merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import SHOPCTL, data_of, shopctl


def window() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    return ((now - timedelta(minutes=5)).isoformat(), (now + timedelta(days=2)).isoformat())


def create(gateway: str, product: dict[str, Any], *extra: str, as_json: bool = True) -> Any:
    starts, ends = window()
    args = ["groupbuy", "create", "--product-id", product["id"],
            "--sku-price", f"{product['skus'][0]['id']}=800", "--team-size", "2",
            "--ttl-minutes", "60", "--starts-at", starts, "--ends-at", ends, *extra]
    result = shopctl(*(["--json"] if as_json else []), *args, api=gateway)
    return data_of(result) if as_json else result


def lead_and_fill(campaign: dict[str, Any], sku_id: str) -> str:
    """Two shoppers open and complete a team through the sandbox; the team's id."""
    leader, friend = new_shopper("tuanzhang"), new_shopper("tuanyuan")
    leader.call("update_profile", {"nickname": "团长"}).data
    friend.call("update_profile", {"nickname": "团员"}).data
    started = leader.call("start_group_buy", {
        "campaign_id": campaign["id"], "sku_id": sku_id, "request_id": "cli-gb-lead-1",
        "address_id": new_address(leader)}).data
    leader.call("sandbox_pay", {"order_id": started["order"]["id"]}).data
    joined = friend.call("join_group_buy", {
        "team_id": started["team"]["id"], "request_id": "cli-gb-join-1",
        "address_id": new_address(friend)}).data
    friend.call("sandbox_pay", {"order_id": joined["order"]["id"]}).data
    return started["team"]["id"]


@pytest.mark.parametrize("command", [["groupbuy"], ["groupbuy", "create"],
                                     ["groupbuy", "list"], ["groupbuy", "end"]])
def test_help_is_there_for_the_groupbuy_group_and_its_commands(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl groupbuy" in result.stdout


def test_create_help_names_every_option_and_says_fen() -> None:
    text = shopctl("groupbuy", "create", "--help").stdout

    for option in ("--product-id", "--sku-price", "--team-size", "--ttl-minutes", "--starts-at",
                   "--ends-at", "--stock-limit", "--per-user-limit", "--auto-fill"):
        assert option in text
    assert "fen" in text


def test_a_campaign_is_created_with_every_option(gateway: str) -> None:
    product = new_product(price=1000, stock=50, skus=2, title="阳山水蜜桃")
    first, second = (s["id"] for s in product["skus"])

    created = data_of(shopctl(
        "--json", "groupbuy", "create", "--product-id", product["id"],
        "--sku-price", f"{first}=800", "--sku-price", f"{second}=850", "--team-size", "3",
        "--ttl-minutes", "90", "--starts-at", "2030-01-01", "--ends-at", "2030-01-08T12:00",
        "--stock-limit", "20", "--per-user-limit", "2", "--auto-fill", api=gateway))

    assert sorted((p["sku_id"], p["group_price"]) for p in created["sku_prices"]) == \
        sorted([(first, 800), (second, 850)])
    assert (created["team_size"], created["team_ttl_minutes"]) == (3, 90)
    # no zone: Beijing time
    assert (created["starts_at"], created["ends_at"]) == ("2029-12-31T16:00:00Z",
                                                          "2030-01-08T04:00:00Z")
    assert (created["stock_limit"], created["per_user_limit"], created["auto_fill"]) == \
        (20, 2, True)
    listed = merchant("merchant_list_group_buys").data["items"]
    assert [c["id"] for c in listed] == [created["id"]]


def test_create_prints_what_was_created(gateway: str) -> None:
    product = new_product(price=1000, stock=10, title="[拼]脐橙")

    result = create(gateway, product, as_json=False)

    assert result.returncode == 0, result.stderr
    assert "created group-buy gbc_" in result.stdout
    assert "[拼]脐橙" in result.stdout and "¥8.00" in result.stdout
    assert "2 people within 60 minutes" in result.stdout


def test_list_shows_the_campaigns_and_filters_by_status(gateway: str) -> None:
    product = new_product(price=1000, stock=10, title="砂糖橘")
    on = create(gateway, product, "--stock-limit", "5")
    off = create(gateway, product)
    merchant("merchant_end_group_buy", {"campaign_id": off["id"]}).data

    table = shopctl("groupbuy", "list", api=gateway)
    active = data_of(shopctl("--json", "groupbuy", "list", "--status", "active", api=gateway))
    ended = data_of(shopctl("--json", "groupbuy", "list", "--status", "ended", api=gateway))

    assert table.returncode == 0, table.stderr
    assert on["id"] in table.stdout and off["id"] in table.stdout
    assert "砂糖橘" in table.stdout and "¥8.00" in table.stdout and "5/5 left" in table.stdout
    assert "2 group-buys" in table.stdout
    assert [c["id"] for c in active["items"]] == [on["id"]]
    assert [c["id"] for c in ended["items"]] == [off["id"]]


def test_the_list_stays_readable_at_80_columns(gateway: str) -> None:
    product = new_product(price=1000, stock=10, title="阳山水蜜桃 精品礼盒")
    campaign = create(gateway, product, "--stock-limit", "20", "--per-user-limit", "2",
                      "--auto-fill")

    result = subprocess.run([sys.executable, SHOPCTL, "--api", gateway, "--token",
                             MERCHANT_TOKEN, "groupbuy", "list"], capture_output=True,
                            text=True, timeout=30, cwd=ROOT, env={**os.environ, "COLUMNS": "80"})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    for text in ("¥8.00", "20/20 left", "2 per user", "auto-fill", "active"):
        assert text in result.stdout
    # the id is cut to a unique prefix on one line, and the last column is there
    shown = lines[2].split()[0]
    assert campaign["id"].startswith(shown) and len(shown) < len(campaign["id"]), result.stdout
    assert lines[0].split()[-1] == "ok" and "--full-ids" in result.stdout


def test_a_team_two_shoppers_complete_shows_in_the_list(gateway: str) -> None:
    product = new_product(price=1000, stock=10)
    campaign = create(gateway, product)
    team_id = lead_and_fill(campaign, product["skus"][0]["id"])

    listed = data_of(shopctl("--json", "groupbuy", "list", api=gateway))

    assert [(c["id"], c["teams_succeeded"]) for c in listed["items"]] == [(campaign["id"], 1)]
    team = new_shopper().call("get_team", {"team_id": team_id}).data
    assert team["status"] == "succeeded"
    assert [m["nickname"] for m in team["members"]] == ["团长", "团员"]


def test_end_stops_new_teams(gateway: str) -> None:
    product = new_product(price=1000, stock=10)
    campaign = create(gateway, product)

    result = shopctl("groupbuy", "end", campaign["id"], api=gateway)

    assert result.returncode == 0, result.stderr
    assert f"ended group-buy {campaign['id']}" in result.stdout and "ended" in result.stdout
    shopper = new_shopper()
    refused = shopper.call("start_group_buy", {
        "campaign_id": campaign["id"], "sku_id": product["skus"][0]["id"],
        "request_id": "cli-gb-after-end", "address_id": new_address(shopper)})
    assert (refused.status, refused.code) == (409, "INVALID_STATE")


def test_ending_an_unknown_campaign_is_not_found(gateway: str) -> None:
    result = shopctl("groupbuy", "end", "gbc_nope", api=gateway)
    as_json = shopctl("--json", "groupbuy", "end", "gbc_nope", api=gateway)

    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr and "Traceback" not in result.stderr
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("sku_price", ["sku_1", "=800", "sku_1=", "sku_1=8.00", "sku_1=-5"])
def test_a_malformed_sku_price_is_a_usage_error(gateway: str, sku_price: str) -> None:
    starts, ends = window()
    result = shopctl("groupbuy", "create", "--product-id", "prd_x", "--sku-price", sku_price,
                     "--team-size", "2", "--ttl-minutes", "60", "--starts-at", starts,
                     "--ends-at", ends, api=gateway)

    assert result.returncode == 2
    assert "--sku-price" in result.stderr and "Traceback" not in result.stderr
    assert merchant("merchant_list_group_buys").data["total"] == 0


def test_a_repeated_sku_and_a_bad_date_are_usage_errors(gateway: str) -> None:
    starts, ends = window()
    twice = shopctl("groupbuy", "create", "--product-id", "prd_x", "--sku-price", "sku_1=800",
                    "--sku-price", "sku_1=700", "--team-size", "2", "--ttl-minutes", "60",
                    "--starts-at", starts, "--ends-at", ends, api=gateway)
    bad_date = shopctl("groupbuy", "create", "--product-id", "prd_x", "--sku-price",
                       "sku_1=800", "--team-size", "2", "--ttl-minutes", "60",
                       "--starts-at", "tomorrow", "--ends-at", ends, api=gateway)
    no_price = shopctl("groupbuy", "create", "--product-id", "prd_x", "--team-size", "2",
                       "--ttl-minutes", "60", "--starts-at", starts, "--ends-at", ends,
                       api=gateway)

    assert twice.returncode == 2 and "given twice" in twice.stderr
    assert bad_date.returncode == 2 and "--starts-at" in bad_date.stderr
    assert no_price.returncode == 2 and "--sku-price" in no_price.stderr


@pytest.mark.parametrize("change, field", [
    (["--team-size", "51"], "team_size"),
    (["--team-size", "1"], "team_size"),
    (["--ttl-minutes", "0"], "team_ttl_minutes"),
])
def test_what_the_shop_refuses_exits_1_with_the_field(gateway: str, change: list[str],
                                                      field: str) -> None:
    product = new_product(price=1000, stock=10)

    result = create(gateway, product, *change, as_json=False)

    assert result.returncode == 1
    assert "VALIDATION_ERROR" in result.stderr and field in result.stderr


def test_a_group_price_that_is_no_discount_and_an_unknown_product_are_refused(
        gateway: str) -> None:
    product = new_product(price=1000, stock=10)
    starts, ends = window()
    base = ["groupbuy", "create", "--team-size", "2", "--ttl-minutes", "60",
            "--starts-at", starts, "--ends-at", ends]

    dear = shopctl(*base, "--product-id", product["id"], "--sku-price",
                   f"{product['skus'][0]['id']}=1000", api=gateway)
    unknown = shopctl(*base, "--product-id", "prd_nope", "--sku-price", "sku_1=800",
                      api=gateway)
    backwards = shopctl("groupbuy", "create", "--product-id", product["id"], "--sku-price",
                        f"{product['skus'][0]['id']}=800", "--team-size", "2",
                        "--ttl-minutes", "60", "--starts-at", ends, "--ends-at", starts,
                        api=gateway)

    assert dear.returncode == 1 and "VALIDATION_ERROR" in dear.stderr
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    assert backwards.returncode == 1 and "VALIDATION_ERROR" in backwards.stderr
    assert merchant("merchant_list_group_buys").data["total"] == 0


def test_a_bad_token_is_refused(gateway: str) -> None:
    result = shopctl("groupbuy", "list", api=gateway, token="not-the-merchant-token")

    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr
