"""`shopctl forecast`, run as a real subprocess: the offline tools on invoice files (the
held-back check runs `forecast offline` exactly so), and the shop's report and lead times
against the HTTP gateway."""
from __future__ import annotations

import csv
import json
import struct
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper
from tests.e2e.test_shopctl import shopctl
from tests.helpers import Clock
from tests.unit.test_forecast_models import TRAIN, needs_train, write_history

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)


def small_history(path: Path) -> None:
    """Twenty weeks Monday to Friday and Sunday; nothing on Saturdays; a cancellation."""
    rows = []
    start = date(2011, 1, 3)
    for day in range(140):
        when = start + timedelta(days=day)
        if when.weekday() != 5:
            rows.append((when.isoformat(), "A", 10 + when.weekday(), 2.5))
    rows.append(("2011-02-01", "A", -3, 2.5))
    write_history(path, rows)


def test_offline_writes_the_exact_csv_for_the_days_after_the_history(tmp_path: Path) -> None:
    history, out = tmp_path / "h.csv.gz", tmp_path / "f.csv"
    small_history(history)
    result = shopctl("forecast", "offline", "--history", str(history), "--horizon", "10",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["date", "revenue", "p10", "p90"] and len(rows) == 11
    assert rows[1][0] == "2011-05-23" and rows[10][0] == "2011-06-01"
    saturday = next(r for r in rows[1:] if date.fromisoformat(r[0]).weekday() == 5)
    assert float(saturday[1]) == 0


@needs_train
def test_offline_on_the_training_file_forecasts_october(tmp_path: Path) -> None:
    out = tmp_path / "october.csv"
    result = shopctl("forecast", "offline", "--history", str(TRAIN), "--horizon", "28",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["date"] for r in rows][::27] == ["2011-10-01", "2011-10-28"]


def test_backtest_prints_ours_against_both_baselines(tmp_path: Path) -> None:
    history = tmp_path / "h.csv.gz"
    small_history(history)
    result = shopctl("--json", "forecast", "backtest", "--history", str(history))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"seasonal_naive", "weekday_mean_4w", "blend"} <= set(report["revenue_mase"])
    assert set(report["sku_pinball"]) == {"empirical_13w", "croston", "sba", "tsb"}
    table = shopctl("forecast", "backtest", "--history", str(history))
    assert "MASE" in table.stdout and "pinball" in table.stdout


def test_a_missing_history_is_a_clean_refusal(tmp_path: Path) -> None:
    result = shopctl("forecast", "offline", "--history", str(tmp_path / "none.csv"),
                     "--out", str(tmp_path / "f.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.fixture
def shop_with_sales(gateway: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two units a day for ten days, placed and paid through the shop."""
    clock = Clock(T0).install(monkeypatch)
    product = new_product(title="预测苹果", stock=30)
    sku_id = product["skus"][0]["id"]
    shopper = new_shopper()
    address = new_address(shopper)
    for day in range(10):
        order = shopper.call("place_order", {"request_id": f"forecast-{day}",
                                             "address_id": address,
                                             "items": [{"sku_id": sku_id, "quantity": 2}]}).data
        merchant("merchant_mark_paid", {"order_id": order["id"]}).data
        clock.advance(days=1)
    return product


def test_report_prints_the_advice_and_the_forecast_and_draws_a_png(
        gateway: str, shop_with_sales: dict[str, Any], tmp_path: Path) -> None:
    png = tmp_path / "forecast.png"
    result = shopctl("forecast", "report", "--png", str(png), api=gateway)
    assert result.returncode == 0, result.stderr
    for text in ("Restock advice", "预测苹果", "Revenue forecast", "¥"):
        assert text in result.stdout, text
    content = png.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    assert width >= 600 and height >= 300


def test_report_json_and_lead_time_over_http(gateway: str,
                                             shop_with_sales: dict[str, Any]) -> None:
    product_id = shop_with_sales["id"]
    set_to = shopctl("forecast", "lead-time", product_id, "14", api=gateway)
    assert set_to.returncode == 0 and "14 days" in set_to.stdout
    result = shopctl("--json", "forecast", "report", "--only-below-reorder-point",
                     "--no-png", api=gateway)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [advice] = data["advice"]["items"]
    assert advice["daily_rate"] == 2 and advice["lead_time_days"] == 14
    assert advice["stock"] == 10 and advice["runs_out_within_lead_time"]
    assert len(data["sales_forecast"]["forecast"]) == 28
