"""Hot searches (热搜): what shoppers searched most in the last days, for the search page.

The tracked ``search`` events of the window that found something (or did not say), counted
per keyword (trimmed, lower case, inner spaces squeezed) in one aggregate on the ``(name, ts)``
index. A young shop has few searches, so the list is topped up with the words of its
best-selling products' titles (their Chinese runs cut by jieba, loaded only then). The answer
is the same for everyone and changes slowly: a warm instance keeps it
``HOT_SEARCHES_CACHE_SECONDS``, so a search page costs no round trip.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field

from shared.core.common import Input
from shared.core.context import Context, Database
from shared.core.warmcache import WarmCache

HOT_SEARCH_DAYS = 7
MAX_HOT = 20
# best sellers whose title words top up a short list
FALLBACK_PRODUCTS = 20
# keywords read from the aggregate: more than shown, as several may fold into one
READ_KEYWORDS = 100
_LATIN = re.compile(r"[a-z0-9]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
# a Chinese run this short is already a word (苹果, 草莓, 保温杯); a longer one is cut
WHOLE_RUN = 4
# a hot word longer than this is a title, not a word
MAX_WORD = 6
_SPACES = re.compile(r"\s+")


class HotSearchesInput(Input):
    limit: int = Field(default=10, ge=1, le=MAX_HOT)


# the last answer of this warm instance (a new database handle reads again)
_cache: WarmCache[list[dict[str, Any]]] = WarmCache()


def normalise(keyword: Any) -> str:
    """The keyword as counted: trimmed, lower case, one space between words."""
    if not isinstance(keyword, str):
        return ""
    return _SPACES.sub(" ", keyword).strip().lower()[:50]


def searched(db: Database, since: Any) -> list[dict[str, Any]]:
    """The keywords searched since ``since``, most searched first (ties by keyword)."""
    rows = db.events.aggregate([
        # a search that found nothing (props.results 0) would send shoppers to an empty page
        {"$match": {"name": "search", "ts": {"$gte": since}, "props.results": {"$ne": 0}}},
        {"$group": {"_id": "$props.keyword", "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": READ_KEYWORDS}])
    counts: dict[str, int] = {}
    for row in rows:
        keyword = normalise(row.get("_id"))
        if keyword:
            counts[keyword] = counts.get(keyword, 0) + int(row.get("count") or 0)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"keyword": k, "count": n, "source": "search"} for k, n in ranked]


def title_words(title: str) -> list[str]:
    """The words of a product title: Latin words, short Chinese runs whole, longer ones cut."""
    text = title.lower()
    # a number alone ("85" of "黑巧克力 85%", "3" of "80抽×3") is no word to search by
    words: list[str] = [w for w in _LATIN.findall(text) if not w.isdigit()]
    for run in _CJK.findall(text):
        if len(run) <= WHOLE_RUN:
            if len(run) >= 2:
                words.append(run)
            continue
        # search mode gives a long word's shorter words too: a title the assistant taught
        # jieba as one word (shared.assistant.text.add_words) still yields 苹果
        words.extend(w for w in _jieba().cut_for_search(run, HMM=False)
                     if 2 <= len(w) <= MAX_WORD)
    return list(dict.fromkeys(words))


def _jieba() -> Any:
    """jieba, imported on first use: only a shop with too few searches pays for its dictionary
    (its loading notices are not worth a log line)."""
    import logging

    import jieba
    jieba.setLogLevel(logging.WARNING)
    return jieba


def best_seller_words(db: Database) -> list[dict[str, Any]]:
    """Words of the best sellers' titles, by the sales of the products that have them."""
    docs = db.products.find({"status": "on_sale"}, {"title": 1, "sales": 1}) \
        .sort([("sales", -1), ("_id", -1)]).limit(FALLBACK_PRODUCTS)
    sales: dict[str, int] = {}
    order: list[str] = []
    for doc in docs:
        for word in title_words(str(doc.get("title") or "")):
            if word not in sales:
                order.append(word)
                sales[word] = 0
            sales[word] += int(doc.get("sales") or 0)
    ranked = sorted(order, key=lambda w: (-sales[w], order.index(w)))
    return [{"keyword": w, "count": 0, "source": "product"} for w in ranked]


def compute(ctx: Context) -> list[dict[str, Any]]:
    hot = searched(ctx.db, ctx.now - timedelta(days=HOT_SEARCH_DAYS))[:MAX_HOT]
    if len(hot) < MAX_HOT:
        seen = {h["keyword"] for h in hot}
        hot += [w for w in best_seller_words(ctx.db) if w["keyword"] not in seen]
    return hot[:MAX_HOT]


def hot_searches(ctx: Context, req: HotSearchesInput) -> dict[str, Any]:
    """The most searched keywords of the last 7 days, topped up with best sellers' words."""
    hot = _cache.get(ctx.db, "hot", ctx.settings.HOT_SEARCHES_CACHE_SECONDS,
                     lambda: compute(ctx))
    items = hot[:req.limit]
    return {"items": items, "keywords": [h["keyword"] for h in items]}


def forget() -> None:
    """Drop this instance's cached answer (tests; a new shop in the same process)."""
    _cache.forget()
