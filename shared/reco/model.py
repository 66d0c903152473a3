"""The recommendation model: one code base for the offline tools and the serving functions.

A shopper's score for an item blends three signals, each normalised to at most 1:
- own repeat purchases: how often the shopper bought the item (per purchase line), over the
  shopper's most bought item; bought items rank first (retail buyers come back for what they
  bought: on our time splits this is most of what any model gets right);
- recent popularity: purchases of the item with a 30-day half-life (follows the season);
- item-to-item co-occurrence: items bought by the same shoppers, each pair weighted by how
  recent it is (half-life 90 days), cosine-normalised, the 20 nearest kept per item.
The weights are constants chosen on two time splits of the Online Retail sample (README
"Recommendation"); the user-kNN (TIFU-KNN-like) component we tried added nothing measurable
there and needs every shopper's vector at serving, so it is not in the model.

Artefacts are npz (arrays and a JSON header), never pickle: `to_bytes` / `from_bytes`.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, NamedTuple, Optional

import numpy as np

NEIGHBOURS = 20                 # co-occurring items kept per item
POPULARITY_HALF_LIFE_DAYS = 30.0
TOGETHER_HALF_LIFE_DAYS = 90.0
HISTORY_CAP = 40                # most recent distinct items of a shopper paired in co-occurrence
OWN_BONUS = 1.0                 # puts every bought item above every item never bought
POPULARITY_WEIGHT = 0.3
TOGETHER_WEIGHT = 0.05


class Purchase(NamedTuple):
    user: str
    item: str
    when: datetime


@dataclass
class RecoModel:
    """Item ids and, per item, its popularity and its co-occurring neighbours."""

    items: list[str]
    popularity: np.ndarray          # float32 [n], max 1
    neighbours: np.ndarray          # int32 [n, NEIGHBOURS], -1 = none
    neighbour_weights: np.ndarray   # float32 [n, NEIGHBOURS], cosine of the pair
    version: str = ""
    trained_at: str = ""
    # serving only (shared.reco.content): same-category items sharing title tokens
    content: np.ndarray = field(default_factory=lambda: _empty_rows(0, -1))  # int32, -1 = none
    content_weights: np.ndarray = field(default_factory=lambda: _empty_rows(0, 0))
    index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {item: n for n, item in enumerate(self.items)}
        if len(self.content) != len(self.items):
            self.content = _empty_rows(len(self.items), -1)
            self.content_weights = _empty_rows(len(self.items), 0)

    # --- scoring ---------------------------------------------------------------------------
    def own_vector(self, history: dict[str, float]) -> np.ndarray:
        own = np.zeros(len(self.items), dtype=np.float32)
        for item, count in history.items():
            n = self.index.get(item)
            if n is not None:
                own[n] += count
        top = own.max() if len(own) else 0.0
        return own / top if top > 0 else own

    def together(self, seeds: np.ndarray) -> np.ndarray:
        """Co-occurrence score of every item with the weighted seed items, max 1."""
        out = np.zeros(len(self.items), dtype=np.float32)
        (rows,) = np.nonzero(seeds)
        if len(rows) == 0:
            return out
        norm = float(np.linalg.norm(seeds[rows]))
        neigh = self.neighbours[rows]
        weights = self.neighbour_weights[rows] * (seeds[rows] / norm)[:, None]
        valid = neigh >= 0
        np.add.at(out, neigh[valid], weights[valid])
        top = out.max()
        return out / top if top > 0 else out

    def score(self, history: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(total score, own part, together part) of every item for a shopper's history."""
        own = self.own_vector(history)
        together = self.together(own)
        bought = own > 0
        total = (bought * (OWN_BONUS + own) + POPULARITY_WEIGHT * self.popularity
                 + TOGETHER_WEIGHT * together)
        return total.astype(np.float32), own, together

    def recommend(self, history: dict[str, float], k: int) -> list[str]:
        total, _, _ = self.score(history)
        return [self.items[n] for n in top_k(total, k)]

    def popular(self, k: int) -> list[str]:
        return [self.items[n] for n in top_k(self.popularity, k)]

    def similar(self, item: str, k: int, content: bool = False) -> list[tuple[str, float]]:
        """Items bought with `item` (content: items like it), best first."""
        n = self.index.get(item)
        if n is None:
            return []
        rows = (self.content, self.content_weights) if content else \
            (self.neighbours, self.neighbour_weights)
        return [(self.items[int(j)], float(w)) for j, w in zip(rows[0][n], rows[1][n])
                if j >= 0 and w > 0][:k]

    # --- artefact --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        header = {"version": self.version, "trained_at": self.trained_at, "items": self.items}
        buf = io.BytesIO()
        np.savez_compressed(
            buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            popularity=self.popularity, neighbours=self.neighbours,
            neighbour_weights=self.neighbour_weights, content=self.content,
            content_weights=self.content_weights)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "RecoModel":
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            return cls(items=list(header["items"]), popularity=npz["popularity"],
                       neighbours=npz["neighbours"], neighbour_weights=npz["neighbour_weights"],
                       content=npz["content"], content_weights=npz["content_weights"],
                       version=str(header["version"]), trained_at=str(header["trained_at"]))


def _empty_rows(count: int, fill: int) -> np.ndarray:
    return np.full((count, NEIGHBOURS), fill, dtype=np.int32 if fill < 0 else np.float32)


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k best scores, best first; ties keep the lower index (stable)."""
    if k <= 0 or len(scores) == 0:
        return []
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    order = np.lexsort((part, -scores[part]))
    return [int(part[j]) for j in order]


def train(purchases: Iterable[Purchase], now: datetime, version: str = "",
          extra_items: Optional[Iterable[str]] = None,
          views: Iterable[Purchase] = ()) -> RecoModel:
    """Build the model from purchase lines (one per order line / invoice line) up to `now`;
    product views count in co-occurrence only (viewed together), never in popularity."""
    rows = list(purchases)
    viewed = list(views)
    items = sorted({p.item for p in rows} | {v.item for v in viewed} | set(extra_items or ()))
    index = {item: n for n, item in enumerate(items)}
    n_items = len(items)
    popularity = np.zeros(n_items, dtype=np.float64)
    per_user: dict[str, dict[int, float]] = {}
    # ages count from the last purchase when the shop has been quiet since (an imported
    # history): otherwise every decayed weight would underflow to nothing alike
    since = min(now, max(p.when for p in rows)) if rows else now
    for is_view, group in ((False, rows), (True, viewed)):
        for p in group:
            age = max((since - p.when).total_seconds() / 86400.0, 0.0)
            n = index[p.item]
            if not is_view:
                popularity[n] += 0.5 ** (age / POPULARITY_HALF_LIFE_DAYS)
            seen = per_user.setdefault(p.user, {})
            seen[n] = min(seen.get(n, age), age)          # the item's most recent purchase
    if n_items and popularity.max() > 0:
        popularity /= popularity.max()
    neighbours, weights = _co_occurrence(per_user, n_items)
    return RecoModel(items=items, popularity=popularity.astype(np.float32),
                     neighbours=neighbours, neighbour_weights=weights,
                     version=version, trained_at=now.isoformat())


def _co_occurrence(per_user: dict[str, dict[int, float]],
                   n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Top NEIGHBOURS items per item by time-decayed, cosine-normalised co-purchase."""
    keys: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    buyers = np.zeros(n_items, dtype=np.float64)
    for seen in per_user.values():
        recent = sorted(seen.items(), key=lambda kv: kv[1])[:HISTORY_CAP]
        idx = np.array([n for n, _ in recent], dtype=np.int64)
        ages = np.array([a for _, a in recent], dtype=np.float64)
        buyers[idx] += 1
        if len(idx) < 2:
            continue
        a, b = np.triu_indices(len(idx), 1)
        # a pair is as recent as its later purchase
        w = 0.5 ** (np.minimum(ages[a], ages[b]) / TOGETHER_HALF_LIFE_DAYS)
        keys += [idx[a] * n_items + idx[b], idx[b] * n_items + idx[a]]
        vals += [w, w]
    neighbours = np.full((n_items, NEIGHBOURS), -1, dtype=np.int32)
    weights = np.zeros((n_items, NEIGHBOURS), dtype=np.float32)
    if not keys:
        return neighbours, weights
    uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    sums = np.bincount(inverse, weights=np.concatenate(vals))
    src, dst = uniq // n_items, uniq % n_items
    cosine = sums / np.sqrt(buyers[src] * buyers[dst])
    order = np.lexsort((-cosine, src))               # by item, best neighbour first
    src, dst, cosine = src[order], dst[order], cosine[order]
    starts = np.searchsorted(src, np.arange(n_items))
    rank = np.arange(len(src)) - starts[src]
    keep = rank < NEIGHBOURS
    neighbours[src[keep], rank[keep]] = dst[keep]
    weights[src[keep], rank[keep]] = cosine[keep]
    return neighbours, weights
