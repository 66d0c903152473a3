"""shopctl stores, deals, nearby, pickup, bargains, assists, fission reward and dev, through
the HTTP gateway: each does what its action does, and lists print as tables or --json."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import merchant, new_product, new_shopper
from tests.e2e.test_shopctl import data_of, shopctl


def window() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    return ((now - timedelta(minutes=1)).isoformat(), (now + timedelta(days=7)).isoformat())


def save_store(gateway: str, *extra: str) -> dict[str, Any]:
    return data_of(shopctl("--json", "stores", "save", "--name", "陆家嘴店", "--address",
                           "世纪大道100号", "--lng", "121.5055", "--lat", "31.2397", "--hours",
                           "08:00-22:00", "--tag", "停车", *extra, api=gateway))


def create_deal(gateway: str, sku_id: str, store_id: str) -> dict[str, Any]:
    starts, ends = window()
    return data_of(shopctl("--json", "deals", "create", "--sku-id", sku_id, "--deal-price",
                           "600", "--kind", "today_special", "--starts-at", starts, "--ends-at",
                           ends, "--store-id", store_id, "--daily-quantity", "5", api=gateway))


def test_a_store_is_saved_then_listed_and_replaced(gateway: str) -> None:
    store = save_store(gateway)

    listed = shopctl("stores", "list", api=gateway)
    replaced = data_of(shopctl("--json", "stores", "save", "--id", store["id"], "--name",
                               "陆家嘴旗舰店", "--address", "世纪大道100号", "--lng", "121.5055",
                               "--lat", "31.2397", "--inactive", api=gateway))
    inactive = data_of(shopctl("stores", "list", "--inactive", "--json", api=gateway))

    assert (store["name"], store["hours"], store["tags"]) == ("陆家嘴店", "08:00-22:00", ["停车"])
    assert listed.returncode == 0, listed.stderr
    assert store["id"] in listed.stdout and "陆家嘴店" in listed.stdout
    assert (replaced["id"], replaced["name"], replaced["active"]) == \
        (store["id"], "陆家嘴旗舰店", False)
    assert [s["id"] for s in inactive["items"]] == [store["id"]]


def test_a_deal_is_created_listed_and_pushed_to_shoppers_nearby(gateway: str) -> None:
    store = save_store(gateway)
    sku_id = new_product(price=1000, stock=10)["skus"][0]["id"]
    nearby = new_shopper()
    nearby.call("set_location_consent", {"enabled": True, "lat": 31.2397, "lng": 121.5055}).data

    deal = create_deal(gateway, sku_id, store["id"])
    listed = shopctl("deals", "list", "--store-id", store["id"], api=gateway)
    pushed = data_of(shopctl("--json", "nearby", "campaign", "--store-id", store["id"],
                             "--radius-m", "3000", "--deal-id", deal["id"], "--message",
                             "今日特价", api=gateway))

    assert (deal["deal_price"], deal["daily_quantity"], deal["store_ids"]) == \
        (600, 5, [store["id"]])
    assert listed.returncode == 0, listed.stderr
    assert deal["id"] in listed.stdout and "¥6.00" in listed.stdout
    assert pushed["queued"] == 1


def test_a_pickup_code_is_verified_and_the_order_completed(gateway: str) -> None:
    store = save_store(gateway)
    sku_id = new_product(price=1000, stock=10)["skus"][0]["id"]
    shopper = new_shopper()
    order = shopper.call("place_order", {"request_id": "req-shopctl-pickup-1",
                                         "store_id": store["id"],
                                         "items": [{"sku_id": sku_id, "quantity": 1}]}).data
    paid = shopctl("dev", "mark-paid", order["id"], api=gateway)

    verified = shopctl("pickup", "verify", order["pickup"]["code"], api=gateway)
    again = shopctl("pickup", "verify", order["pickup"]["code"], api=gateway)

    assert paid.returncode == 0 and "paid" in paid.stdout, paid.stderr
    assert verified.returncode == 0, verified.stderr
    assert order["id"] in verified.stdout and "completed" in verified.stdout
    assert shopper.call("get_order", {"order_id": order["id"]}).data["status"] == "completed"
    assert again.returncode == 1 and again.stderr.startswith("INVALID_STATE:")


def test_bargain_and_assist_campaigns_are_created_and_listed(gateway: str) -> None:
    sku_id = new_product(price=9900, stock=10)["skus"][0]["id"]
    coupon = merchant("merchant_create_coupon", {
        "name": "助力券", "kind": "fixed", "amount": 500, "threshold": 0, "total": 10,
        "per_user_limit": 1, "valid_days": 7}).data
    starts, ends = window()

    bargain = data_of(shopctl("--json", "bargains", "create", "--sku-id", sku_id,
                              "--start-price", "9900", "--floor-price", "990",
                              "--helpers-needed", "5", "--ttl-minutes", "60", "--stock-limit",
                              "20", "--starts-at", starts, "--ends-at", ends, api=gateway))
    assist = data_of(shopctl("--json", "assists", "create", "--coupon-id", coupon["id"],
                             "--assists-needed", "3", "--ttl-minutes", "120", "--reward-limit",
                             "50", "--starts-at", starts, "--ends-at", ends, api=gateway))
    bargains = shopctl("bargains", "list", api=gateway)
    assists = data_of(shopctl("assists", "list", "--json", api=gateway))

    assert (bargain["start_price"], bargain["floor_price"], bargain["status"]) == \
        (9900, 990, "running")
    assert bargains.returncode == 0, bargains.stderr
    assert bargain["id"] in bargains.stdout and "¥99.00 → ¥9.90" in bargains.stdout
    assert (assist["reward"]["kind"], assist["reward"]["coupon_id"]) == ("coupon", coupon["id"])
    assert [a["id"] for a in assists["items"]] == [assist["id"]]


def test_the_referral_reward_is_set_from_the_console(gateway: str) -> None:
    points = shopctl("fission", "reward", "--points", "200", api=gateway)
    both = shopctl("fission", "reward", "--points", "200", "--none", api=gateway)

    assert points.returncode == 0, points.stderr
    assert "200 points" in points.stdout
    report = merchant("merchant_fission_report", {}).data
    assert report["reward"]["kind"] == "points" and report["reward"]["points"] == 200
    assert both.returncode == 2 and "one of" in both.stderr


def test_a_timer_runs_now_from_the_console(gateway: str) -> None:
    ran = data_of(shopctl("--json", "dev", "run-timer", "order_timeout", api=gateway))
    unknown = shopctl("dev", "run-timer", "nope", api=gateway)

    assert ran["timer"] == "order_timeout"
    assert unknown.returncode == 1 and unknown.stderr.startswith("NOT_FOUND:")
