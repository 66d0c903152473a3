"""shopctl members, run as a real subprocess against the HTTP gateway.

The scene (shoppers and their paid orders) is set in-process on the database the gateway
serves; what the console did is checked the same way.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import data_of, shopctl
from tests.helpers import deliver_owed_events


def paid_shopper(price: int, quantity: int = 1) -> str:
    shopper = new_shopper()
    order = shopper.call("place_order", {
        "request_id": "shopctl-members-1", "address_id": new_address(shopper),
        "items": [{"sku_id": new_product(price=price)["skus"][0]["id"],
                   "quantity": quantity}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    deliver_owed_events()   # growth and level come after the answer (order_events)
    return shopper.user_id


def points_of(db: Any, user_id: str) -> int:
    return db.users.find_one({"_id": user_id}).get("points", 0)


@pytest.mark.parametrize("command", [
    ["members"], ["members", "list"], ["members", "adjust-points"], ["members", "levels"],
])
def test_help_is_there_for_every_members_command(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl" in result.stdout


def test_adjust_points_adds_and_takes_away_with_a_reason(gateway: str, db: Any) -> None:
    user_id = new_shopper().user_id

    added = shopctl("members", "adjust-points", user_id, "500", "--reason", "补偿：快递延误",
                    api=gateway)
    taken = data_of(shopctl("--json", "members", "adjust-points", user_id, "-200",
                            "--reason", "误发", api=gateway))

    assert added.returncode == 0, added.stderr
    assert "+500" in added.stdout and "balance 500" in added.stdout
    assert (taken["points"], taken["entry"]["points"], taken["entry"]["reason"]) == \
        (300, -200, "误发")
    assert points_of(db, user_id) == 300
    reasons = sorted(e["reason"] for e in db.points_ledger.find({"user_id": user_id}))
    assert reasons == ["补偿：快递延误", "误发"]


def test_adjust_points_below_zero_is_refused(gateway: str, db: Any) -> None:
    user_id = new_shopper().user_id
    shopctl("members", "adjust-points", user_id, "50", "--reason", "赠送", api=gateway)

    refused = shopctl("members", "adjust-points", user_id, "-51", "--reason", "扣除",
                      api=gateway)

    assert refused.returncode == 1
    assert "CONFLICT" in refused.stderr and '"points": 50' in refused.stderr
    assert points_of(db, user_id) == 50


def test_adjust_points_of_nothing_is_a_usage_error(gateway: str) -> None:
    result = shopctl("members", "adjust-points", new_shopper().user_id, "0", "--reason", "x",
                     api=gateway)

    assert result.returncode == 2


def test_members_list_shows_level_growth_and_points(gateway: str) -> None:
    big = paid_shopper(price=60_000, quantity=2)   # ¥1,200.00: silver by default
    small = paid_shopper(price=1_000)

    listed = shopctl("members", "list", api=gateway)
    silver = data_of(shopctl("--json", "members", "list", "--level", "silver", api=gateway))

    assert listed.returncode == 0, listed.stderr
    assert big in listed.stdout and small in listed.stdout
    assert "¥1200.00" in listed.stdout and "1200" in listed.stdout
    assert [m["user_id"] for m in silver["items"]] == [big]


def test_levels_are_shown_and_set(gateway: str) -> None:
    member = paid_shopper(price=3_000)

    shown = shopctl("members", "levels", api=gateway)
    changed = shopctl("members", "levels", "--set", "普通:0:0", "--set", "vip:2000:5",
                      api=gateway)
    vip = data_of(shopctl("--json", "members", "list", "--level", "vip", api=gateway))

    assert shown.returncode == 0, shown.stderr
    assert "silver" in shown.stdout and "¥1000.00" in shown.stdout
    assert changed.returncode == 0, changed.stderr
    assert "vip" in changed.stdout and "5%" in changed.stdout and "1 members" in changed.stdout
    assert [m["user_id"] for m in vip["items"]] == [member]


def test_levels_the_shop_refuses_exit_1(gateway: str) -> None:
    bad_discount = shopctl("members", "levels", "--set", "normal:0:60", api=gateway)
    bad_format = shopctl("members", "levels", "--set", "normal-zero", api=gateway)

    assert bad_discount.returncode == 1 and "VALIDATION_ERROR" in bad_discount.stderr
    assert bad_format.returncode == 2
