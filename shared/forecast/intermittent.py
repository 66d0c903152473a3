"""Intermittent demand: most SKUs sell in few periods. Croston, SBA and TSB in numpy, over a
matrix of SKUs x periods at once, their quantiles, and the pinball loss that scores them.

A period's demand is modelled as "a sale happens" (probability p) times "its size" (the SKU's
own sizes so far, scaled to the smoothed size): the quantile q is 0 while q <= 1 - p.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)
METHODS = ("croston", "sba", "tsb")


@dataclass
class Intermittent:
    rate: np.ndarray        # expected demand per period, per SKU
    probability: np.ndarray  # chance of a sale in a period
    size: np.ndarray        # expected size of a sale


def smooth(demand: np.ndarray, method: str = "sba", alpha: float = 0.1,
           beta: float = 0.1) -> Intermittent:
    """Croston (size and interval smoothed at each sale), SBA (Croston times 1 - alpha/2,
    Syntetos & Boylan 2005) or TSB (size at each sale, probability every period, Teunter,
    Syntetos & Babai 2011) over ``demand`` (SKUs x periods, oldest first)."""
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    skus, periods = demand.shape
    size = np.zeros(skus)
    interval = np.ones(skus)
    probability = np.zeros(skus)
    since = np.ones(skus)          # periods since the last sale, this one included
    seen = np.zeros(skus, dtype=bool)
    for t in range(periods):
        value = demand[:, t]
        sold = value > 0
        first = sold & ~seen
        later = sold & seen
        size = np.where(first, value, np.where(later, size + alpha * (value - size), size))
        interval = np.where(first, since, np.where(later, interval + alpha * (since - interval),
                                                   interval))
        probability = np.where(first, 1.0 / np.maximum(since, 1.0),
                               np.where(seen, probability + beta * (sold - probability),
                                        probability))
        seen |= sold
        since = np.where(sold, 1.0, since + 1.0)
    if method == "tsb":
        p = probability
    else:
        p = np.where(seen, 1.0 / np.maximum(interval, 1.0), 0.0)
    if method == "sba":
        size = size * (1 - alpha / 2)
    rate = np.where(seen, p * size, 0.0)
    return Intermittent(rate=rate, probability=np.clip(p, 0.0, 1.0), size=size)


def quantiles(demand: np.ndarray, model: Intermittent,
              levels: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """SKUs x levels: a period's demand quantiles under the model, each SKU's sizes taken
    from its own history (scaled so that their mean is the smoothed size)."""
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    out = np.zeros((demand.shape[0], len(levels)))
    for i, row in enumerate(demand):
        sizes = row[row > 0]
        p = float(model.probability[i])
        if sizes.size == 0 or p <= 0:
            continue
        sizes = sizes * (model.size[i] / sizes.mean())
        for k, q in enumerate(levels):
            if q > 1 - p:
                out[i, k] = float(np.quantile(sizes, (q - (1 - p)) / p))
    return out


def empirical_quantiles(demand: np.ndarray, periods: int = 13,
                        levels: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Baseline: the quantiles of each SKU's last ``periods`` periods, zeros included."""
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    return np.quantile(demand[:, -periods:], levels, axis=1).T


def pinball(actual: np.ndarray, predicted: np.ndarray,
            levels: tuple[float, ...] = QUANTILES) -> float:
    """Mean pinball (quantile) loss: actual is SKUs x periods, predicted SKUs x levels (the
    same quantiles for every period ahead)."""
    losses = []
    for k, q in enumerate(levels):
        diff = actual - predicted[:, k:k + 1]
        losses.append(np.mean(np.maximum(q * diff, (q - 1) * diff)))
    return float(np.mean(losses))
