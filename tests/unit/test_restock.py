"""Restock advice on a shop with known demand: paid orders generated at a known daily rate, the
advice's numbers checked against the formulas (shared/forecast/restock.py); the lead time per
product, the service level setting, the nightly timer, its alerts and a death between its
writes."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from statistics import NormalDist, stdev
from typing import Any

import numpy as np
import pytest

from shared.core.common import new_id
from tests.conftest import load_event, merchant, new_address, new_product, new_shopper
from tests.faults import die_after_write
from tests.helpers import Clock

# noon in Beijing; the shop's days are Beijing days
T0 = datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)
Z95 = NormalDist().inv_cdf(0.95)


@pytest.fixture
def shop_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(T0).install(monkeypatch)


def sell(db: Any, sku_id: str, units_per_day: list[float], first_day: int = 0,
         price: int = 100) -> None:
    """Paid orders: ``units_per_day[i]`` units of the SKU on day ``first_day + i`` after T0."""
    orders = [{"_id": new_id("ord"), "user_id": "usr_buyer", "request_id": new_id("req"),
               "status": "paid", "paid_at": T0 + timedelta(days=first_day + i),
               "total": int(units * price),
               "items": [{"sku_id": sku_id, "quantity": int(units)}]}
              for i, units in enumerate(units_per_day) if units]
    if orders:
        db.orders.insert_many(orders)


def advice_of(sku_id: str, **payload: Any) -> dict[str, Any]:
    items = merchant("merchant_restock_advice", {"page_size": 100, **payload}).data["items"]
    return next(item for item in items if item["sku_id"] == sku_id)


def test_a_steady_five_a_day_gives_the_textbook_numbers(db: Any, shop_clock: Clock) -> None:
    product = new_product(stock=20)
    sku_id = product["skus"][0]["id"]
    sell(db, sku_id, [5] * 56, first_day=1)
    shop_clock.advance(days=57)
    advice = advice_of(sku_id)
    assert advice["method"] == "mean" and advice["history_days"] == 56
    assert advice["daily_rate"] == 5 and advice["daily_sd"] == 0
    assert advice["lead_time_days"] == 7 and advice["lead_time_demand"] == 35
    assert advice["safety_stock"] == 0 and advice["reorder_point"] == 35
    assert advice["days_of_cover"] == 4.0
    assert advice["below_reorder_point"] and advice["runs_out_within_lead_time"]
    assert advice["suggested_order_qty"] == 35 + 5 * 7 - 20


def test_a_poisson_demand_is_advised_by_the_formula(db: Any, shop_clock: Clock) -> None:
    rate = 4.0
    product = new_product(stock=30)
    sku_id = product["skus"][0]["id"]
    daily = np.random.default_rng(17).poisson(rate, 56).astype(float)
    sell(db, sku_id, list(daily), first_day=1)
    shop_clock.advance(days=57)
    advice = advice_of(sku_id)
    mean, sd = float(daily.mean()), stdev(daily.tolist())
    assert abs(mean - rate) < 3 * math.sqrt(rate / 56)    # the demand we generated
    safety = Z95 * sd * math.sqrt(7)
    assert advice["daily_rate"] == pytest.approx(mean, abs=1e-4)
    assert advice["daily_sd"] == pytest.approx(sd, abs=1e-4)
    assert advice["safety_stock"] == pytest.approx(safety, abs=0.01)
    assert advice["reorder_point"] == pytest.approx(7 * mean + safety, abs=0.01)
    assert advice["days_of_cover"] == pytest.approx(30 / mean, abs=0.05)
    assert advice["suggested_order_qty"] == math.ceil(7 * mean + safety + 7 * mean - 30)


def test_a_sku_selling_every_third_day_gets_sba(db: Any, shop_clock: Clock) -> None:
    product = new_product(stock=100)
    sku_id = product["skus"][0]["id"]
    sell(db, sku_id, [0, 0, 6] * 18 + [0, 0], first_day=1)   # 56 days, a sale each third
    shop_clock.advance(days=57)
    advice = advice_of(sku_id)
    # Croston: size 6, interval 3 -> 2 a day; SBA: x (1 - 0.1/2)
    assert advice["method"] == "sba" and advice["daily_rate"] == pytest.approx(1.9)
    assert not advice["below_reorder_point"] and advice["suggested_order_qty"] == 0


def test_a_young_sku_is_judged_on_the_days_it_has_lived(db: Any, shop_clock: Clock) -> None:
    shop_clock.advance(days=46)
    product = new_product(stock=100)
    sku_id = product["skus"][0]["id"]
    sell(db, sku_id, [3] * 10, first_day=46)
    shop_clock.advance(days=10)
    advice = advice_of(sku_id)
    assert advice["history_days"] == 10 and advice["daily_rate"] == 3


def test_a_sku_without_sales_needs_nothing(db: Any, shop_clock: Clock) -> None:
    sku_id = new_product(stock=0)["skus"][0]["id"]
    shop_clock.advance(days=30)
    advice = advice_of(sku_id)
    assert advice["method"] == "none" and advice["days_of_cover"] is None
    assert not advice["below_reorder_point"] and advice["suggested_order_qty"] == 0


def test_a_products_lead_time_stretches_its_advice(db: Any, shop_clock: Clock) -> None:
    product = new_product(stock=20)
    sku_id = product["skus"][0]["id"]
    sell(db, sku_id, [5] * 56, first_day=1)
    shop_clock.advance(days=57)
    set_to = merchant("merchant_set_lead_time", {"product_id": product["id"],
                                                 "lead_time_days": 14}).data
    assert set_to == {"product_id": product["id"], "lead_time_days": 14, "is_default": False}
    advice = advice_of(sku_id)
    assert advice["lead_time_days"] == 14 and advice["reorder_point"] == 70
    merchant("merchant_set_lead_time", {"product_id": product["id"], "lead_time_days": None})
    assert advice_of(sku_id)["lead_time_days"] == 7


def test_a_lead_time_needs_a_real_product_and_a_sane_number(db: Any) -> None:
    product = new_product()
    assert merchant("merchant_set_lead_time", {"product_id": "prd_none",
                                               "lead_time_days": 3}).code == "NOT_FOUND"
    assert merchant("merchant_set_lead_time", {"product_id": product["id"],
                                               "lead_time_days": 0}).code == "VALIDATION_ERROR"
    assert merchant("merchant_restock_advice", {"pages": 1}).code == "VALIDATION_ERROR"


def test_the_service_level_setting_sets_the_safety_stock(
        db: Any, shop_clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    product = new_product(stock=30)
    sku_id = product["skus"][0]["id"]
    sell(db, sku_id, [2, 6] * 28, first_day=1)
    shop_clock.advance(days=57)
    at_95 = advice_of(sku_id)["safety_stock"]
    monkeypatch.setenv("RESTOCK_SERVICE_LEVEL", "0.99")
    reset_settings()
    at_99 = advice_of(sku_id)["safety_stock"]
    sd = stdev([2, 6] * 28)
    assert at_95 == pytest.approx(Z95 * sd * math.sqrt(7), abs=0.01)
    assert at_99 == pytest.approx(NormalDist().inv_cdf(0.99) * sd * math.sqrt(7), abs=0.01)


def test_skus_to_reorder_come_first_and_can_be_listed_alone(db: Any, shop_clock: Clock) -> None:
    product = new_product(stock=10, skus=3)
    low, high, idle = (s["id"] for s in product["skus"])
    sell(db, low, [5] * 56, first_day=1)
    sell(db, high, [0.0] * 55 + [1], first_day=1)
    shop_clock.advance(days=57)
    everything = merchant("merchant_restock_advice", {}).data
    assert everything["total"] == 3 and everything["items"][0]["sku_id"] == low
    assert everything["service_level"] == 0.95 and everything["default_lead_time_days"] == 7
    below = merchant("merchant_restock_advice", {"only_below_reorder_point": True}).data
    assert [i["sku_id"] for i in below["items"]] == [low] and below["total"] == 1
    second = merchant("merchant_restock_advice", {"page": 2, "page_size": 1}).data
    assert len(second["items"]) == 1 and second["items"][0]["sku_id"] in (high, idle)


def test_real_orders_placed_and_paid_are_the_demand(db: Any, shop_clock: Clock) -> None:
    product = new_product(stock=100)
    sku_id = product["skus"][0]["id"]
    shopper = new_shopper()
    address = new_address(shopper)
    for day in range(7):
        order = shopper.call("place_order", {"request_id": f"restock-{day}", "address_id": address,
                                             "items": [{"sku_id": sku_id, "quantity": 2}]}).data
        merchant("merchant_mark_paid", {"order_id": order["id"]}).data
        shop_clock.advance(days=1)
    advice = advice_of(sku_id)
    assert advice["history_days"] == 7 and advice["daily_rate"] == 2
    assert advice["stock"] == 86 and advice["days_of_cover"] == 43.0


# ---- the nightly timer ---------------------------------------------------------------------

def outbox_restock(db: Any) -> list[dict[str, Any]]:
    return list(db.outbox.find({"purpose": "restock"}))


def test_the_timer_stores_advice_and_forecasts_and_alerts_once_a_day(
        db: Any, shop_clock: Clock) -> None:
    from shared.core.dispatch import run_timer
    product = new_product(stock=20, skus=2)
    short, plenty = (s["id"] for s in product["skus"])
    sell(db, short, [5] * 70, first_day=1)
    sell(db, plenty, [1] * 70, first_day=1)
    db.skus.update_one({"_id": plenty}, {"$set": {"stock": 500}})
    shop_clock.advance(days=71)
    result = run_timer("forecast_train").envelope["data"]
    assert result["skus"] == 2 and result["alerts"] == 1
    stored = db.restock_advice.find_one({"_id": short})
    assert stored["reorder_point"] == 35 and stored["weekly_rate"] > 0
    assert stored["weekly_p10"] <= stored["weekly_p50"] <= stored["weekly_p90"]
    alerts = outbox_restock(db)
    assert [a["data"]["sku_id"] for a in alerts] == [short] and alerts[0]["user_id"] == "merchant"
    assert run_timer("forecast_train").envelope["data"]["alerts"] == 0   # same day: no second
    assert merchant("dev_run_timer", {"name": "forecast_train"}).ok
    assert len(outbox_restock(db)) == 1
    sales = merchant("merchant_sales_forecast", {}).data
    assert sales["trained_at"] is not None and len(sales["forecast"]) == 28
    assert len(sales["recent"]) == 28 and sales["recent"][-1]["revenue"] == 600
    assert all(d["p10"] <= d["revenue"] <= d["p90"] for d in sales["forecast"])
    assert sales["forecast"][0]["revenue"] == pytest.approx(600, rel=0.05)
    shop_clock.advance(days=1)
    run_timer("forecast_train")
    assert len(outbox_restock(db)) == 2                                    # the next day


def test_the_sales_forecast_is_computed_when_the_timer_never_ran(
        db: Any, shop_clock: Clock) -> None:
    sku_id = new_product()["skus"][0]["id"]
    sell(db, sku_id, [3] * 21, first_day=1)
    shop_clock.advance(days=22)
    sales = merchant("merchant_sales_forecast", {}).data
    assert sales["trained_at"] is None and sales["model"] == "weekday_mean_4w"
    assert [d["revenue"] for d in sales["forecast"][:7]] == [300] * 7


def test_a_timer_event_runs_forecast_train(db: Any, shop_clock: Clock) -> None:
    from tests.functions.test_cloud_events import invoke
    sku_id = new_product(stock=1)["skus"][0]["id"]
    sell(db, sku_id, [2] * 14, first_day=1)
    shop_clock.advance(days=15)
    answer = invoke("forecast_train", load_event("timer_order_timeout.json",
                                                 TriggerName="forecast_train_timer"))
    assert answer["ok"] is True and answer["data"]["alerts"] == 1


@pytest.mark.parametrize("k", range(1, 6))
def test_a_timer_that_dies_after_write_k_leaves_one_alert_per_sku_after_the_rerun(
        db: Any, faulty_db: Any, shop_clock: Clock, k: int) -> None:
    from shared.core.dispatch import run_timer
    product = new_product(stock=3, skus=2)
    for sku in product["skus"]:
        sell(db, sku["id"], [5] * 28, first_day=1)
    shop_clock.advance(days=29)
    with die_after_write(faulty_db, k, for_good=True) as fault:
        run_timer("forecast_train")
    assert fault.died
    run_timer("forecast_train")
    assert db.restock_advice.count_documents({}) == 2
    assert sorted(a["data"]["sku_id"] for a in outbox_restock(db)) == \
        sorted(s["id"] for s in product["skus"])
