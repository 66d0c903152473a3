"""Offline forecasting on an invoice-line history (the Online Retail CSV format: InvoiceNo,
StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country), behind
``shopctl forecast offline`` and ``shopctl forecast backtest``.

Daily revenue is the sum of Quantity x UnitPrice over all of a day's lines, cancellations
(negative quantities) included; a day without lines is 0. SKU demand is weekly units sold
(positive quantities), weeks ending on the history's last day.
"""
from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from shared.forecast import intermittent, models

SKU_HORIZON_WEEKS = 4


@dataclass
class History:
    start: date
    revenue: np.ndarray        # per day from start, 0 where no line
    skus: list[str]
    weekly_units: np.ndarray   # SKUs x whole weeks, the last ending on the last day

    @property
    def end(self) -> date:
        return self.start + timedelta(days=len(self.revenue) - 1)


def _open(path: Path) -> TextIO:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8-sig"))


def parse_day(text: str) -> date:
    """ISO (``2011-09-30 10:00:00``) or the original UCI file's ``9/30/2011 10:00``."""
    text = text.strip()
    if "/" in text[:10]:
        month, day, year = text.split()[0].split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text[:10])


def read_history(path: Path) -> History:
    """Invoice lines, or a daily series with columns ``date,revenue`` (no SKUs then)."""
    revenue: dict[date, float] = {}
    units: dict[tuple[str, date], float] = {}
    with _open(path) as handle:
        reader = csv.DictReader(handle)
        is_daily = "InvoiceDate" not in (reader.fieldnames or []) and \
            {"date", "revenue"} <= set(reader.fieldnames or [])
        for row in reader:
            if is_daily:
                day = parse_day(row["date"])
                revenue[day] = revenue.get(day, 0.0) + float(row["revenue"] or 0)
                continue
            day = parse_day(row["InvoiceDate"])
            quantity = float(row["Quantity"])
            revenue[day] = revenue.get(day, 0.0) + quantity * float(row["UnitPrice"])
            if quantity > 0:
                key = (row["StockCode"].strip(), day)
                units[key] = units.get(key, 0.0) + quantity
    if not revenue:
        raise ValueError(f"{path}: no lines")
    start, end = min(revenue), max(revenue)
    days = (end - start).days + 1
    series = np.zeros(days)
    for day, value in revenue.items():
        series[(day - start).days] += value
    skus = sorted({sku for sku, _ in units})
    index = {sku: i for i, sku in enumerate(skus)}
    weeks = days // models.WEEK
    weekly = np.zeros((len(skus), weeks))
    for (sku, day), quantity in units.items():
        week = weeks - 1 - (end - day).days // models.WEEK
        if week >= 0:
            weekly[index[sku], week] += quantity
    return History(start, series, skus, weekly)


def forecast_rows(history: History, horizon: int) -> list[dict[str, Any]]:
    result = models.forecast(history.revenue, horizon)
    return [{"date": (history.end + timedelta(days=i + 1)).isoformat(),
             "revenue": round(float(result.p50[i]), 2), "p10": round(float(result.p10[i]), 2),
             "p90": round(float(result.p90[i]), 2)} for i in range(horizon)]


def write_forecast(history_path: Path, horizon: int, out: Path) -> dict[str, Any]:
    history = read_history(history_path)
    result = models.forecast(history.revenue, horizon)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "revenue", "p10", "p90"])
        for i in range(horizon):
            writer.writerow([(history.end + timedelta(days=i + 1)).isoformat(),
                             f"{result.p50[i]:.2f}", f"{result.p10[i]:.2f}",
                             f"{result.p90[i]:.2f}"])
    return {"model": result.model, "from": (history.end + timedelta(days=1)).isoformat(),
            "to": (history.end + timedelta(days=horizon)).isoformat(),
            "backtest_mase": {name: round(bt.mean_mase, 3)
                              for name, bt in result.backtests.items()}}


def sku_backtest(weekly: np.ndarray, origins: int = 8,
                 horizon: int = SKU_HORIZON_WEEKS) -> dict[str, float]:
    """Mean pinball loss (units per SKU-week, quantiles 10/50/90%) of each method over rolling
    origins a week apart, over the SKUs sold before the origin."""
    periods = weekly.shape[1]
    if weekly.shape[0] == 0:
        return {}
    losses: dict[str, list[float]] = {name: [] for name in
                                      ("empirical_13w", *intermittent.METHODS)}
    for origin in range(periods - horizon - origins + 1, periods - horizon + 1):
        if origin < 8:
            continue
        train, test = weekly[:, :origin], weekly[:, origin:origin + horizon]
        sold = train.sum(axis=1) > 0
        train, test = train[sold], test[sold]
        losses["empirical_13w"].append(
            intermittent.pinball(test, intermittent.empirical_quantiles(train)))
        for method in intermittent.METHODS:
            fitted = intermittent.smooth(train, method)
            losses[method].append(
                intermittent.pinball(test, intermittent.quantiles(train, fitted)))
    return {name: float(np.mean(values)) for name, values in losses.items() if values}


def backtest_report(history_path: Path, horizon: int = 28, origins: int = 12) -> dict[str, Any]:
    """Revenue MASE of every model and baseline over rolling origins a week apart, and the SKU
    quantiles' pinball loss."""
    history = read_history(history_path)
    starts = models.origins_of(len(history.revenue), horizon, origins)
    revenue = {name: models.backtest(history.revenue, name, horizon, starts)
               for name in (*models.BASELINES, *models.CANDIDATES)}
    chosen = models.choose(revenue, tuple(models.CANDIDATES))
    return {"history": {"from": history.start.isoformat(), "to": history.end.isoformat(),
                        "days": len(history.revenue), "skus": len(history.skus)},
            "horizon": horizon,
            "origins": [(history.start + timedelta(days=o)).isoformat() for o in starts],
            "chosen": chosen,
            "revenue_mase": {name: {"mean": round(bt.mean_mase, 3),
                                    "per_origin": [round(m, 3) for m in bt.mase]}
                             for name, bt in revenue.items()},
            "sku_pinball": {name: round(loss, 4)
                            for name, loss in sku_backtest(history.weekly_units).items()}}
