"""Daily revenue models in numpy alone, the rolling-origin backtest that picks one, and its
prediction intervals.

A series is one value per day, oldest first, whose length need not be a whole number of
weeks. Every model takes ``(y, horizon)`` and returns ``horizon`` point forecasts (medians:
the shop's revenue is skewed by a few large orders, and MAE, the measure of MASE, is
minimised by the median). Weekly seasonality is positional: ``y[-7]`` is the same weekday as
the first forecast day.

Measured on the Online Retail training file (README "Forecasting"): the weekday profile times
a recent level is hard to beat; a damped Theil-Sen trend on weekly totals and a Theta line
add the rise of the last months; the blend of the three wins the rolling-origin backtest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Model = Callable[[np.ndarray, int], np.ndarray]
WEEK = 7


def mase_scale(y: np.ndarray) -> float:
    """In-sample mean absolute error of the weekly seasonal naive forecast."""
    if len(y) <= WEEK:
        return float(np.mean(np.abs(y))) or 1.0
    return float(np.mean(np.abs(y[WEEK:] - y[:-WEEK]))) or 1.0


def _weeks(y: np.ndarray, count: int) -> np.ndarray:
    """The last ``count`` whole weeks (fewer when the series is shorter), one row each."""
    count = max(1, min(count, len(y) // WEEK))
    return y[len(y) - WEEK * count:].reshape(count, WEEK)


def _tile(week: np.ndarray, horizon: int) -> np.ndarray:
    return np.tile(week, horizon // WEEK + 1)[:horizon]


# ---- baselines -----------------------------------------------------------------------------

def seasonal_naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """Last week repeated."""
    return _tile(_weeks(y, 1)[0], horizon)


def weekday_mean(y: np.ndarray, horizon: int, weeks: int = 4) -> np.ndarray:
    """Each weekday's mean over the last ``weeks`` weeks."""
    return _tile(_weeks(y, weeks).mean(axis=0), horizon)


# ---- the shop's models ---------------------------------------------------------------------

def weekday_shares(y: np.ndarray, weeks: int = 20) -> np.ndarray:
    """Each weekday's median share of its week's total (a closed day's share is 0)."""
    rows = _weeks(y, weeks)
    totals = rows.sum(axis=1, keepdims=True)
    shares = np.median(rows / np.where(np.abs(totals) > 1e-9, totals, 1.0), axis=0)
    shares = np.clip(shares, 0.0, None)
    return shares / shares.sum() if shares.sum() > 0 else np.full(WEEK, 1 / WEEK)


def profile_level(y: np.ndarray, horizon: int, profile_weeks: int = 20,
                  level_weeks: int = 8) -> np.ndarray:
    """Weekday profile x level: the median weekly total of the last weeks, spread over the
    week by the weekdays' median shares (one big order moves neither much)."""
    level = float(np.median(_weeks(y, level_weeks).sum(axis=1)))
    return _tile(weekday_shares(y, profile_weeks) * max(level, 0.0), horizon)


def theil_sen(values: np.ndarray) -> tuple[float, float]:
    """Robust line through ``values`` at x = 0..n-1: (intercept, slope), the median of the
    pairwise slopes."""
    n = len(values)
    if n < 2:
        return float(values[0]) if n else 0.0, 0.0
    i, j = np.triu_indices(n, k=1)
    slope = float(np.median((values[j] - values[i]) / (j - i)))
    intercept = float(np.median(values - slope * np.arange(n)))
    return intercept, slope


def profile_trend(y: np.ndarray, horizon: int, profile_weeks: int = 20, trend_weeks: int = 12,
                  damping: float = 0.5) -> np.ndarray:
    """Weekday profile x a Theil-Sen line through the last weekly totals, its slope halved
    (a full slope over-shot in the backtest)."""
    totals = _weeks(y, trend_weeks).sum(axis=1)
    intercept, slope = theil_sen(totals)
    last = len(totals) - 1
    week_ahead = np.arange(horizon) // WEEK + 1
    level = np.clip(intercept + slope * (last + damping * week_ahead), 0.0, None)
    shares = _tile(weekday_shares(y, profile_weeks), horizon)
    return shares * level


def _ses(z: np.ndarray, alphas: np.ndarray) -> tuple[float, float]:
    """Simple exponential smoothing with the alpha of least one-step absolute error:
    (alpha, final level)."""
    best = (np.inf, float(alphas[0]), float(z[0]))
    for alpha in alphas:
        level, error = float(z[0]), 0.0
        for value in z[1:]:
            error += abs(value - level)
            level += alpha * (value - level)
        if error < best[0]:
            best = (error, float(alpha), level)
    return best[1], best[2]


def theta(y: np.ndarray, horizon: int, profile_weeks: int = 20) -> np.ndarray:
    """The Theta method on the series without its weekday profile: exponential smoothing plus
    half the slope of the linear trend (Assimakopoulos & Nikolopoulos 2000), the profile put
    back. Closed days (share ~0) are left out of the fit and forecast 0."""
    shares = weekday_shares(y, profile_weeks) * WEEK
    start = len(y) % WEEK  # y[start] is the weekday of shares[0]
    season = shares[(np.arange(len(y)) - start) % WEEK]
    is_open = season > 0.05
    if is_open.sum() < 3:
        return profile_level(y, horizon, profile_weeks)
    z = y[is_open] / season[is_open]
    slope = float(np.polyfit(np.arange(len(z)), z, 1)[0])
    alpha, level = _ses(z, np.linspace(0.02, 0.5, 25))
    future = shares[(np.arange(len(y), len(y) + horizon) - start) % WEEK]
    steps = np.cumsum(future > 0.05)  # open days ahead
    drift = slope / 2 * (steps - 1 + (1 - (1 - alpha) ** len(z)) / alpha)
    return np.where(future > 0.05, np.clip(future * (level + drift), 0.0, None), 0.0)


def holt_winters(y: np.ndarray, horizon: int) -> np.ndarray:
    """Additive ETS(A,N,A) with weekly seasonality, alpha and gamma chosen on a small grid by
    one-step absolute error."""
    if len(y) < 3 * WEEK:
        return weekday_mean(y, horizon)
    best: tuple[float, float, list[float]] = (np.inf, 0.0, [])
    for alpha in (0.05, 0.1, 0.2, 0.3):
        for gamma in (0.05, 0.1, 0.2):
            level = float(y[:WEEK].mean())
            season = list(y[:WEEK] - level)
            error = 0.0
            for t in range(WEEK, len(y)):
                error += abs(y[t] - level - season[t - WEEK])
                new_level = alpha * (y[t] - season[t - WEEK]) + (1 - alpha) * level
                season.append(gamma * (y[t] - new_level) + (1 - gamma) * season[t - WEEK])
                level = new_level
            if error < best[0]:
                best = (error, level, season[-WEEK:])
    _, level, last_week = best
    return np.clip(level + _tile(np.array(last_week), horizon), 0.0, None)


def blend(y: np.ndarray, horizon: int) -> np.ndarray:
    """The mean of profile x level, profile x damped trend and Theta: each errs where the
    others do not (level lags a rise, the trend overshoots a dip)."""
    return np.mean([profile_level(y, horizon), profile_trend(y, horizon), theta(y, horizon)],
                   axis=0)


BASELINES: dict[str, Model] = {"seasonal_naive": seasonal_naive,
                               "weekday_mean_4w": weekday_mean}
CANDIDATES: dict[str, Model] = {"profile_level": profile_level, "profile_trend": profile_trend,
                                "theta": theta, "ets": holt_winters, "blend": blend}


# ---- backtest, choice, intervals -----------------------------------------------------------

@dataclass
class Backtest:
    model: str
    mase: list[float]           # one per origin, scaled by the training part's seasonal MAE
    actual: np.ndarray          # origins x horizon
    forecast: np.ndarray

    @property
    def mean_mase(self) -> float:
        return float(np.mean(self.mase))


def origins_of(length: int, horizon: int, count: int = 12, step: int = WEEK) -> list[int]:
    """Training lengths of the rolling origins: the last ends where the series ends, each one
    ``step`` days before the next; none with less than six weeks to learn from."""
    last = length - horizon
    return [o for o in range(last - step * (count - 1), last + 1, step) if o >= 6 * WEEK]


def backtest(y: np.ndarray, model: str, horizon: int, origins: list[int]) -> Backtest:
    fn = {**BASELINES, **CANDIDATES}[model]
    actual = np.array([y[o:o + horizon] for o in origins])
    forecast = np.array([fn(y[:o], horizon) for o in origins])
    mase = [float(np.mean(np.abs(a - f)) / mase_scale(y[:o]))
            for a, f, o in zip(actual, forecast, origins)]
    return Backtest(model, mase, actual, forecast)


@dataclass
class Forecast:
    model: str
    p50: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    backtests: dict[str, Backtest]


def interval_factors(result: Backtest) -> tuple[np.ndarray, np.ndarray]:
    """Per weekday position, the 10% and 90% quantiles of actual / forecast over the
    backtest (open days only), so the band widens with the forecast and is empty when it is 0."""
    ratios: list[list[float]] = [[] for _ in range(WEEK)]
    for actual, forecast in zip(result.actual, result.forecast):
        for step, (a, f) in enumerate(zip(actual, forecast)):
            if f > 1e-9:
                ratios[step % WEEK].append(a / f)
    pooled = [r for rs in ratios for r in rs] or [1.0]
    low = np.array([np.quantile(rs if len(rs) >= 8 else pooled, 0.1) for rs in ratios])
    high = np.array([np.quantile(rs if len(rs) >= 8 else pooled, 0.9) for rs in ratios])
    return np.minimum(low, 1.0), np.maximum(high, 1.0)


# a single model must beat the blend by this much over the backtest to replace it: the
# combination is the safer bet when the backtest cannot tell them apart (on the training file
# profile_level and the blend are within 0.5%, the blend better on the latest origins)
BLEND_MARGIN = 0.02


def choose(results: dict[str, Backtest], candidates: tuple[str, ...]) -> str:
    best = min(candidates, key=lambda name: results[name].mean_mase)
    if "blend" in candidates and \
            results[best].mean_mase > (1 - BLEND_MARGIN) * results["blend"].mean_mase:
        return "blend"
    return best


def forecast(y: np.ndarray, horizon: int, candidates: tuple[str, ...] = tuple(CANDIDATES),
             origins: int = 12) -> Forecast:
    """The candidate of least mean MASE over rolling origins of the series itself (the blend
    unless one beats it clearly), with its
    quantiles from its backtest errors. Too short a series (under ten weeks) gets the weekday
    mean and a band from its own spread."""
    y = np.asarray(y, dtype=float)
    starts = origins_of(len(y), horizon, origins)
    if len(y) < 10 * WEEK or len(starts) < 2:
        p50 = weekday_mean(y, horizon)
        rows = _weeks(y, 4)
        low, high = _tile(np.quantile(rows, 0.1, axis=0), horizon), \
            _tile(np.quantile(rows, 0.9, axis=0), horizon)
        return Forecast("weekday_mean_4w", p50, np.minimum(low, p50), np.maximum(high, p50), {})
    results = {name: backtest(y, name, horizon, starts) for name in (*BASELINES, *candidates)}
    chosen = choose(results, candidates)
    p50 = CANDIDATES[chosen](y, horizon)
    low, high = interval_factors(results[chosen])
    positions = np.arange(horizon) % WEEK
    return Forecast(chosen, p50, p50 * low[positions], p50 * high[positions], results)
