"""The nightly ``forecast_train`` timer and what it stores: the shop's daily revenue forecast
with its 10-90% band, each SKU's weekly demand quantiles (TSB) and its restock advice; SKUs
that run out before their lead time ends go to the merchant's outbox once per SKU per day.

Safe to run twice or concurrently: every write is an upsert by key, and the outbox refuses a
second item for the same (SKU, day).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from shared.core.common import NoInput, iso
from shared.core.context import Context
from shared.core.log import get_logger, log_event
from shared.forecast import intermittent, models
from shared.forecast.restock import HISTORY_DAYS, Sales, all_advice, beijing_day, paid_sales
from shared.messaging.outbox import enqueue

__all__ = ["NoInput"]

logger = get_logger("shop.forecast")
MERCHANT = "merchant"  # the outbox's addressee of the shop's own alerts
RECENT_DAYS = 28
LEARN_DAYS = 182    # days of revenue the model learns on
HORIZON_DAYS = 28


def revenue_forecast(sales: Sales, horizon: int) -> dict[str, Any]:
    """The revenue model of shared.forecast.models on the shop's paid fen per day."""
    # a young shop: start its series at its first paid day, not at months of zeros
    sold = np.flatnonzero(sales.revenue)
    start = int(sold[0]) if sold.size else max(0, sales.days - models.WEEK)
    series = sales.revenue[start:]
    result = models.forecast(series, horizon)
    last = sales.first_day + timedelta(days=sales.days - 1)
    return {"model": result.model,
            "backtest_mase": {name: round(bt.mean_mase, 3)
                              for name, bt in result.backtests.items()},
            "recent": [{"date": (last - timedelta(days=i)).isoformat(),
                        "revenue": int(series[-1 - i])}
                       for i in reversed(range(min(RECENT_DAYS, len(series))))],
            "forecast": [{"date": (last + timedelta(days=i + 1)).isoformat(),
                          "revenue": int(round(result.p50[i])),
                          "p10": int(round(result.p10[i])), "p90": int(round(result.p90[i]))}
                         for i in range(horizon)]}


def sku_quantiles(sales: Sales, sku_ids: list[str]) -> dict[str, dict[str, float]]:
    """Units per coming week (p10/p50/p90, TSB) of each SKU, weeks ending yesterday."""
    weeks = sales.days // models.WEEK
    if weeks == 0 or not sku_ids:
        return {}
    zeros = np.zeros(sales.days)
    daily = np.array([sales.units.get(sku, zeros) for sku in sku_ids])
    weekly = daily[:, sales.days - weeks * models.WEEK:].reshape(len(sku_ids), weeks,
                                                                 models.WEEK).sum(axis=2)
    fitted = intermittent.smooth(weekly, "tsb")
    quantiles = intermittent.quantiles(weekly, fitted)
    return {sku: {"weekly_rate": round(float(fitted.rate[i]), 3),
                  "weekly_p10": float(quantiles[i, 0]), "weekly_p50": float(quantiles[i, 1]),
                  "weekly_p90": float(quantiles[i, 2])} for i, sku in enumerate(sku_ids)}


def train(ctx: Context) -> dict[str, Any]:
    """Nightly: the revenue forecast, SKU demand quantiles and restock advice stored; SKUs
    that run out within their lead time go to the merchant's outbox, once per SKU a day."""
    db = ctx.db
    today = beijing_day(ctx.now)
    sales = paid_sales(db, today, max(LEARN_DAYS, HISTORY_DAYS))
    revenue = revenue_forecast(sales, HORIZON_DAYS)
    db.forecasts.update_one({"_id": "revenue"},
                            {"$set": {**revenue, "trained_at": ctx.now,
                                      "day": today.isoformat()}}, upsert=True)
    advice = all_advice(ctx, sales)
    weekly = sku_quantiles(sales, [a["sku_id"] for a in advice])
    alerts = 0
    for item in advice:
        db.restock_advice.update_one(
            {"_id": item["sku_id"]},
            {"$set": {**item, **weekly.get(item["sku_id"], {}), "trained_at": ctx.now,
                      "day": today.isoformat()}}, upsert=True)
        if item["runs_out_within_lead_time"]:
            alerts += enqueue(db, MERCHANT, "restock", f"{item['sku_id']}:{today.isoformat()}",
                              ctx.now, data={"sku_id": item["sku_id"],
                                             "product_id": item["product_id"],
                                             "title": item["title"], "stock": item["stock"],
                                             "days_of_cover": item["days_of_cover"],
                                             "lead_time_days": item["lead_time_days"],
                                             "suggested_order_qty": item["suggested_order_qty"]})
    counts = {"skus": len(advice), "below_reorder_point":
              sum(a["below_reorder_point"] for a in advice), "alerts": alerts,
              "model": revenue["model"]}
    log_event(logger, "forecast trained", **counts)
    return counts


def merchant_sales_forecast(ctx: Context, req: NoInput) -> dict[str, Any]:
    """Recent daily revenue and the next 28 days' forecast with its 10-90% band (fen), as the
    nightly timer stored it; computed now if it never ran."""
    stored = ctx.db.forecasts.find_one({"_id": "revenue"})
    if stored is None:
        sales = paid_sales(ctx.db, beijing_day(ctx.now), LEARN_DAYS)
        return {**revenue_forecast(sales, HORIZON_DAYS),
                "trained_at": None, "currency": "fen"}
    return {"model": stored["model"], "backtest_mase": stored.get("backtest_mase", {}),
            "recent": stored["recent"], "forecast": stored["forecast"],
            "trained_at": iso(stored["trained_at"]), "currency": "fen"}
