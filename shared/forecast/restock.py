"""Restock advice from the shop's own paid orders: per SKU the demand expected over its lead
time, the safety stock of the service level, the reorder point, the days of cover at today's
stock and the quantity to order.

The formulas (README "Forecasting and restock advice"), per SKU over its ``history_days``
(the last ``HISTORY_DAYS`` (56) whole Beijing days, fewer when the SKU is younger):
    rate       mean units per day ("mean"), or SBA when it sells on fewer than 1 day in 1.32
               ("sba": Croston's rate x (1 - alpha/2), alpha 0.1)
    sd         sample standard deviation of the daily units
    lead_time_demand = rate x L          (L: the product's lead time, else the default)
    safety_stock     = z x sd x sqrt(L)  (z: the standard normal quantile of the service level)
    reorder_point    = lead_time_demand + safety_stock
    days_of_cover    = stock / rate
    suggested_order_qty = ceil(reorder_point + rate x COVER_DAYS (7) - stock) when stock is
               below the reorder point, else 0 (order up to a cover period past the point)
Stock is what a shopper can still buy (units locked by unpaid orders are already spoken for).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from statistics import NormalDist
from typing import Any, Optional

import numpy as np
from pydantic import Field

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.context import Context
from shared.core.errors import not_found
from shared.forecast import intermittent

BEIJING = timezone(timedelta(hours=8))
# Syntetos-Boylan: demand on fewer than one day in 1.32 is intermittent
INTERMITTENT_ADI = 1.32
SBA_ALPHA = 0.1
HISTORY_DAYS = 56   # days of paid orders a SKU's rate is read from
COVER_DAYS = 7      # a suggested order also covers this review period past the reorder point


class RestockAdviceInput(PageInput):
    only_below_reorder_point: bool = False


class SetLeadTimeInput(Input):
    product_id: str = Field(min_length=1, max_length=64)
    lead_time_days: Optional[int] = Field(
        default=None, ge=1, le=365,
        description="days from ordering stock to selling it; null: the shop's default")


# ---- the shop's days -----------------------------------------------------------------------

def beijing_day(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def day_start(day: date) -> datetime:
    """The UTC moment a Beijing day begins."""
    return datetime.combine(day, time(), BEIJING).astimezone(timezone.utc)


@dataclass
class Sales:
    first_day: date
    units: dict[str, np.ndarray]   # sku -> units paid per day from first_day
    revenue: np.ndarray            # fen paid per day

    @property
    def days(self) -> int:
        return len(self.revenue)


def paid_sales(db: Any, today: date, days: int) -> Sales:
    """Units and revenue of the orders paid in the ``days`` whole days before ``today``."""
    first = today - timedelta(days=days)
    units: dict[str, np.ndarray] = {}
    revenue = np.zeros(days)
    for order in db.orders.find({"paid_at": {"$gte": day_start(first),
                                             "$lt": day_start(today)}},
                                {"paid_at": 1, "total": 1, "items.sku_id": 1,
                                 "items.quantity": 1}):
        index = (beijing_day(order["paid_at"]) - first).days
        if not 0 <= index < days:
            continue
        revenue[index] += order.get("total", 0)
        for line in order.get("items", []):
            row = units.setdefault(line["sku_id"], np.zeros(days))
            row[index] += line["quantity"]
    return Sales(first, units, revenue)


# ---- the advice ----------------------------------------------------------------------------

def demand_rate(daily: np.ndarray) -> tuple[str, float, float]:
    """(method, units per day, sample sd per day) of a SKU's daily units."""
    sold_days = int(np.count_nonzero(daily))
    if sold_days == 0:
        return "none", 0.0, 0.0
    sd = float(np.std(daily, ddof=1)) if len(daily) > 1 else 0.0
    if len(daily) / sold_days > INTERMITTENT_ADI:
        rate = float(intermittent.smooth(daily[None, :], "sba", SBA_ALPHA).rate[0])
        return "sba", rate, sd
    return "mean", float(np.mean(daily)), sd


def advise(daily: np.ndarray, stock: int, lead_time_days: int, service_level: float,
           cover_days: int) -> dict[str, Any]:
    method, rate, sd = demand_rate(daily)
    z = NormalDist().inv_cdf(service_level)
    lead_demand = rate * lead_time_days
    safety = z * sd * math.sqrt(lead_time_days)
    reorder_point = lead_demand + safety
    below = stock < reorder_point
    suggested = max(0, math.ceil(reorder_point + rate * cover_days - stock - 1e-9)) \
        if below else 0
    return {"method": method, "history_days": len(daily), "daily_rate": round(rate, 4),
            "daily_sd": round(sd, 4), "lead_time_days": lead_time_days,
            "lead_time_demand": round(lead_demand, 2), "safety_stock": round(safety, 2),
            "reorder_point": round(reorder_point, 2), "stock": stock,
            "days_of_cover": round(stock / rate, 1) if rate > 0 else None,
            "below_reorder_point": below,
            "runs_out_within_lead_time": rate > 0 and stock < lead_demand,
            "suggested_order_qty": suggested}


def lead_times(db: Any, product_ids: list[str]) -> dict[str, int]:
    return {doc["_id"]: doc["lead_time_days"] for doc in db.restock_settings.find(
        {"_id": {"$in": product_ids}, "lead_time_days": {"$ne": None}}, {"lead_time_days": 1})}


def all_advice(ctx: Context, sales: Optional[Sales] = None) -> list[dict[str, Any]]:
    """Advice for every active SKU, those to reorder first, then by days of cover."""
    settings = ctx.settings
    today = beijing_day(ctx.now)
    days = HISTORY_DAYS
    if sales is None or sales.days < days:
        sales = paid_sales(ctx.db, today, days)
    skus = list(ctx.db.skus.find({"active": {"$ne": False}},
                                 {"product_id": 1, "specs": 1, "stock": 1, "created_at": 1}))
    product_ids = sorted({s["product_id"] for s in skus})
    titles = {p["_id"]: p.get("title", "") for p in ctx.db.products.find(
        {"_id": {"$in": product_ids}}, {"title": 1})}
    leads = lead_times(ctx.db, product_ids)
    advice = []
    for sku in skus:
        row = sales.units.get(sku["_id"], np.zeros(sales.days))[-days:]
        created = sku.get("created_at")
        # a SKU a week old has a week of demand, not eight weeks of mostly zeros
        lived = (today - beijing_day(created)).days if created else days
        daily = row[-max(1, min(days, lived)):]
        advice.append({"sku_id": sku["_id"], "product_id": sku["product_id"],
                       "title": titles.get(sku["product_id"], ""),
                       "specs": sku.get("specs", {}),
                       **advise(daily, int(sku.get("stock", 0)),
                                leads.get(sku["product_id"], settings.RESTOCK_LEAD_TIME_DAYS),
                                settings.RESTOCK_SERVICE_LEVEL, COVER_DAYS)})
    advice.sort(key=lambda a: (not a["below_reorder_point"],
                               a["days_of_cover"] if a["days_of_cover"] is not None else math.inf,
                               a["sku_id"]))
    return advice


def merchant_restock_advice(ctx: Context, req: RestockAdviceInput) -> dict[str, Any]:
    """Per SKU: demand over its lead time, safety stock, reorder point, days of cover and the
    quantity to order, from the paid orders and today's stock; SKUs to reorder first."""
    # computed at the call, so today's stock counts; the nightly timer stores the same
    advice = all_advice(ctx)
    if req.only_below_reorder_point:
        advice = [a for a in advice if a["below_reorder_point"]]
    result = page_of(advice[req.skip:req.skip + req.page_size], len(advice), req)
    result.update(service_level=ctx.settings.RESTOCK_SERVICE_LEVEL,
                  default_lead_time_days=ctx.settings.RESTOCK_LEAD_TIME_DAYS,
                  computed_at=iso(ctx.now))
    return result


def set_lead_time(ctx: Context, req: SetLeadTimeInput) -> dict[str, Any]:
    """A product's restock lead time in days (null: the shop's RESTOCK_LEAD_TIME_DAYS)."""
    if ctx.db.products.find_one({"_id": req.product_id}, {"_id": 1}) is None:
        raise not_found("product")
    ctx.db.restock_settings.update_one(
        {"_id": req.product_id},
        {"$set": {"lead_time_days": req.lead_time_days, "updated_at": ctx.now}}, upsert=True)
    return {"product_id": req.product_id,
            "lead_time_days": req.lead_time_days or ctx.settings.RESTOCK_LEAD_TIME_DAYS,
            "is_default": req.lead_time_days is None}
