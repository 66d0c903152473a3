"""Content similarity: products of the same category, ranked by the title tokens they share.

Tokens are the catalog's search tokens (words, Chinese characters and character bigrams,
shared.catalog.products.index_tokens), not jieba's words: jieba ships only as an sdist and its
dictionary alone is ~20 MB unpacked (5 MB zipped) in a layer that must stay under 30 MB, and it
takes a second or more to load its dictionary on a cold start; short Chinese product titles are
matched as well by bigrams, which the catalog already stores on every product (`tokens`), so
training reads them instead of tokenising again.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from shared.reco.model import NEIGHBOURS

MAX_TOKEN_PRODUCTS = 200    # a token shared by more products of a category says nothing
CATEGORY_ONLY = 0.05        # score of a same-category product sharing no token


def content_neighbours(categories: Sequence[str], tokens: Sequence[Sequence[str]],
                       popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the NEIGHBOURS most similar items of its category: token cosine, then the
    category's popular items to fill the row."""
    n = len(categories)
    neighbours = np.full((n, NEIGHBOURS), -1, dtype=np.int32)
    weights = np.zeros((n, NEIGHBOURS), dtype=np.float32)
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, category in enumerate(categories):
        if category:
            by_category[category].append(i)
    for members in by_category.values():
        _fill_category(np.array(members, dtype=np.int64), tokens, popularity,
                       neighbours, weights)
    return neighbours, weights


def _fill_category(members: np.ndarray, tokens: Sequence[Sequence[str]], popularity: np.ndarray,
                   neighbours: np.ndarray, weights: np.ndarray) -> None:
    size = len(members)
    if size < 2:
        return
    postings: dict[str, list[int]] = defaultdict(list)
    lengths = np.zeros(size)
    for local, item in enumerate(members):
        own = set(tokens[item])
        lengths[local] = max(len(own), 1)
        for token in own:
            postings[token].append(local)
    keys = []
    for locals_ in postings.values():
        if 2 <= len(locals_) <= MAX_TOKEN_PRODUCTS:
            idx = np.array(locals_, dtype=np.int64)
            a, b = np.triu_indices(len(idx), 1)
            keys += [idx[a] * size + idx[b], idx[b] * size + idx[a]]
    scores: dict[int, list[tuple[float, int]]] = defaultdict(list)
    if keys:
        uniq, counts = np.unique(np.concatenate(keys), return_counts=True)
        src, dst = uniq // size, uniq % size
        cosine = counts / np.sqrt(lengths[src] * lengths[dst])
        for s, d, c in zip(src.tolist(), dst.tolist(), cosine.tolist()):
            scores[s].append((CATEGORY_ONLY + c, d))
    popular = sorted(range(size), key=lambda j: -float(popularity[members[j]]))[:NEIGHBOURS + 1]
    for local in range(size):
        ranked = sorted(scores.get(local, []), reverse=True)[:NEIGHBOURS]
        chosen = {d for _, d in ranked}
        for j in popular:
            if len(ranked) >= NEIGHBOURS:
                break
            if j != local and j not in chosen:
                ranked.append((CATEGORY_ONLY, j))
                chosen.add(j)
        row = members[local]
        for slot, (score, d) in enumerate(ranked):
            neighbours[row, slot] = members[d]
            weights[row, slot] = score
