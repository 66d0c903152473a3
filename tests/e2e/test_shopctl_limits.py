"""The console sets a product's purchase limit (限购): `products add` and `products update`
with --per-order, --per-shopper-per-day, --per-shopper-per-campaign, --campaign, --no-limit."""
from __future__ import annotations

from typing import Any

from tests.conftest import merchant, new_category, new_product
from tests.e2e.test_shopctl import data_of, shopctl


def limit_of(product_id: str) -> Any:
    return merchant("merchant_get_product", {"product_id": product_id}).data["purchase_limit"]


def test_a_product_is_added_with_its_purchase_limit(gateway: str) -> None:
    product = data_of(shopctl("--json", "products", "add", "--title", "茅台", "--category-id",
                              new_category(), "--price", "149900", "--stock", "100",
                              "--per-order", "2", "--per-shopper-per-campaign", "6",
                              "--campaign", "双11", api=gateway))

    assert product["purchase_limit"] == {"per_order": 2, "per_shopper_per_day": None,
                                         "per_shopper_per_campaign": 6, "campaign": "双11"}
    shown = shopctl("products", "show", product["id"], api=gateway)
    assert shown.returncode == 0, shown.stderr
    assert "2 per order" in shown.stdout and "双11" in shown.stdout


def test_an_update_keeps_the_limit_changes_what_it_names_and_no_limit_lifts_it(
        gateway: str) -> None:
    product = new_product()
    pid = product["id"]

    assert shopctl("products", "update", pid, "--per-order", "2", "--per-shopper-per-day", "5",
                   api=gateway).returncode == 0
    assert limit_of(pid) == {"per_order": 2, "per_shopper_per_day": 5,
                             "per_shopper_per_campaign": None, "campaign": None}

    assert shopctl("products", "update", pid, "--title", "新苹果", api=gateway).returncode == 0
    assert limit_of(pid)["per_order"] == 2  # an update of something else keeps it

    assert shopctl("products", "update", pid, "--per-order", "3", api=gateway).returncode == 0
    assert (limit_of(pid)["per_order"], limit_of(pid)["per_shopper_per_day"]) == (3, 5)

    assert shopctl("products", "update", pid, "--no-limit", api=gateway).returncode == 0
    assert limit_of(pid) is None


def test_a_campaign_name_without_its_limit_is_refused(gateway: str) -> None:
    result = shopctl("products", "update", new_product()["id"], "--campaign", "双11",
                     api=gateway)

    assert result.returncode == 1
    assert "purchase_limit" in result.stdout + result.stderr
