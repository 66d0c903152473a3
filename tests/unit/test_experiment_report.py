"""merchant_experiment_report: per variant users, conversions, rate and revenue per user, and
the tests of the treatment against the control; only what follows a subject's first exposure
counts. The numbers are statsmodels' and scipy's on the same counts."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import Shopper, merchant, new_address, new_product, new_shopper
from tests.helpers import Clock

TWO = [{"name": "grid", "weight": 1}, {"name": "list", "weight": 1}]


def create(metric: str = "order_paid", **fields: Any) -> None:
    merchant("merchant_create_experiment",
             {"key": "home_layout", "variants": TWO, "metric": metric, **fields}).data


def report() -> dict[str, Any]:
    return merchant("merchant_experiment_report", {"key": "home_layout"}).data


def buy(shopper: Shopper, sku_id: str, quantity: int = 1) -> dict[str, Any]:
    """An order placed and paid through the shop's own actions."""
    order = shopper.call("place_order", {
        "request_id": f"ab-{shopper.name}-{datetime.now().timestamp()}",
        "address_id": new_address(shopper),
        "items": [{"sku_id": sku_id, "quantity": quantity}]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    return order


def seen(shopper: Shopper) -> str:
    return str(shopper.call("get_experiment_variant", {"key": "home_layout"}).data["variant"])


def row(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in data["variants"] if v["name"] == name)


def test_an_unknown_experiment_is_not_found() -> None:
    answer = merchant("merchant_experiment_report", {"key": "nothing_here"})

    assert answer.status == 404 and answer.code == "NOT_FOUND"


def test_only_orders_paid_after_the_first_exposure_count(clock: Clock) -> None:
    create()
    sku = new_product(price=1500, stock=50)["skus"][0]["id"]
    early, late = new_shopper("early"), new_shopper("late")
    buy(early, sku)                         # before any exposure: CUPED's covariate only
    clock.advance(hours=1)
    early_variant, late_variant = seen(early), seen(late)
    clock.advance(hours=1)
    paid = buy(late, sku, quantity=2)

    data = report()

    early_row, late_row = row(data, early_variant), row(data, late_variant)
    if early_variant == late_variant:
        assert (early_row["users"], early_row["conversions"], early_row["revenue"]) \
            == (2, 1, paid["total"])
    else:
        assert (early_row["users"], early_row["conversions"], early_row["revenue"]) == (1, 0, 0)
        assert (late_row["users"], late_row["conversions"], late_row["revenue"]) \
            == (1, 1, paid["total"])
    assert paid["total"] == 3000


def test_orders_paid_after_the_end_do_not_count(clock: Clock) -> None:
    create(ends_at=(clock.now + timedelta(hours=1)).isoformat())
    sku = new_product(price=900, stock=50)["skus"][0]["id"]
    shopper = new_shopper()
    name = seen(shopper)
    clock.advance(hours=2)
    buy(shopper, sku)

    data = report()

    assert (row(data, name)["users"], row(data, name)["conversions"]) == (1, 0)
    assert data["status"] == "ended"


def _exposed(db: Any, now: datetime, variant: str, n: int, prefix: str) -> list[str]:
    ids = [f"usr_{prefix}{i:04d}" for i in range(n)]
    db.experiment_exposures.insert_many([
        {"_id": f"home_layout:{u}", "key": "home_layout", "kind": "user", "subject": u,
         "user_id": u, "device_id": None, "variant": variant, "exposed_at": now} for u in ids])
    return ids


def _paid(db: Any, user_id: str, total: int, at: datetime, status: str = "paid") -> None:
    db.orders.insert_one({"_id": f"ord_{user_id}_{at.timestamp()}_{total}", "user_id": user_id,
                          "request_id": f"r-{user_id}-{at.timestamp()}-{total}",
                          "status": status, "total": total, "paid_at": at,
                          "created_at": at, "items": []})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reported_p_values_are_statsmodels_and_scipys(db: Any, clock: Clock,
                                                          seed: int) -> None:
    from scipy import stats as scipy_stats
    from statsmodels.stats.proportion import proportions_ztest
    create()
    rng = np.random.default_rng(seed)
    start = clock.now
    groups = {"grid": _exposed(db, start, "grid", 240, "g"),
              "list": _exposed(db, start, "list", 260, "l")}
    revenue: dict[str, list[float]] = {}
    pre: dict[str, list[float]] = {}
    for name, users in groups.items():
        revenue[name], pre[name] = [], []
        for user in users:
            before = int(rng.integers(100, 9000)) if rng.random() < 0.5 else 0
            if before:
                _paid(db, user, before, start - timedelta(days=int(rng.integers(1, 14))))
            if rng.random() < 0.4:    # pre-period outside the 14 days: never counted
                _paid(db, user, 77_777, start - timedelta(days=20))
            spent = 0
            if rng.random() < (0.3 if name == "grid" else 0.38):
                spent = int(rng.integers(500, 20_000)) + before // 2
                _paid(db, user, spent, start + timedelta(hours=1),
                      status=str(rng.choice(["paid", "shipped", "completed", "refunded"])))
            if rng.random() < 0.1:   # placed, never paid: not an order that counts
                db.orders.insert_one({"_id": f"ord_unpaid_{user}", "user_id": user,
                                      "request_id": f"u-{user}", "status": "cancelled",
                                      "total": 5000, "created_at": start, "items": []})
            revenue[name].append(float(spent))
            pre[name].append(float(before))

    data = report()

    conversions = {n: sum(1 for r in revenue[n] if r > 0) for n in groups}
    for name in groups:
        assert row(data, name)["users"] == len(groups[name])
        assert row(data, name)["conversions"] == conversions[name]
        assert row(data, name)["revenue_per_user"] == pytest.approx(np.mean(revenue[name]),
                                                                    rel=1e-12)
    _, p_value = proportions_ztest([conversions["list"], conversions["grid"]], [260, 240])
    welch = scipy_stats.ttest_ind(revenue["list"], revenue["grid"], equal_var=False)
    assert abs(data["p_value"] - p_value) < 1e-9
    assert abs(data["revenue_p_value"] - welch.pvalue) < 1e-9
    interval = welch.confidence_interval(0.95)
    assert data["revenue_difference_ci"] == pytest.approx([interval.low, interval.high],
                                                          abs=1e-6)
    # CUPED: theta over both groups, the adjusted means differ by the reported amount
    y = np.array(revenue["list"] + revenue["grid"])
    x = np.array(pre["list"] + pre["grid"])
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted = y - theta * (x - x.mean())
    expected = adjusted[:260].mean() - adjusted[260:].mean()
    assert data["cuped"]["theta"] == pytest.approx(theta, rel=1e-9)
    assert data["cuped"]["revenue_difference"] == pytest.approx(expected, rel=1e-9)
    adjusted_welch = scipy_stats.ttest_ind(adjusted[:260], adjusted[260:], equal_var=False)
    assert abs(data["cuped"]["p_value"] - adjusted_welch.pvalue) < 1e-9
    assert data["srm_p_value"] == pytest.approx(
        scipy_stats.chisquare([240, 260]).pvalue, abs=1e-12)


def test_a_tracked_event_is_the_conversion_after_exposure(db: Any, clock: Clock) -> None:
    create(metric="add_to_cart")
    start = clock.now
    users = _exposed(db, start, "grid", 3, "e")
    db.experiment_exposures.insert_one({
        "_id": "home_layout:device-00000001", "key": "home_layout", "kind": "device",
        "subject": "device-00000001", "device_id": "device-00000001", "user_id": None,
        "variant": "list", "exposed_at": start})

    def event(n: int, name: str, at: datetime, **who: Any) -> dict[str, Any]:
        return {"_id": f"ev{n}", "name": name, "ts": at, "props": {}, "source": "client",
                "device_id": who.get("device_id", "device-x"), "user_id": who.get("user_id")}
    db.events.insert_many([
        event(1, "add_to_cart", start + timedelta(minutes=5), user_id=users[0]),   # counts
        event(2, "add_to_cart", start - timedelta(minutes=5), user_id=users[1]),   # before
        event(3, "product_view", start + timedelta(minutes=5), user_id=users[2]),  # other name
        event(4, "add_to_cart", start + timedelta(minutes=1), device_id="device-00000001"),
    ])

    data = report()

    assert (row(data, "grid")["users"], row(data, "grid")["conversions"]) == (3, 1)
    assert (row(data, "list")["users"], row(data, "list")["conversions"]) == (1, 1)
    assert row(data, "grid")["rate"] == pytest.approx(1 / 3)


def test_an_empty_variant_reports_no_test_rather_than_nan(db: Any, clock: Clock) -> None:
    create()
    _exposed(db, clock.now, "grid", 5, "z")

    data = report()

    assert row(data, "list")["users"] == 0 and row(data, "list")["rate_ci"] is None
    assert data["p_value"] is None and data["revenue_p_value"] is None
    assert data["srm_p_value"] < 0.05 and data["users"] == 5
