"""The shopper actions of recommendation: 猜你喜欢, 看了又看, 凑单推荐.

Every list follows the same business rules: only products on sale with some active SKU in
stock, none already in the caller's cart, at most CATEGORY_CAP of one category in a page, and
a reason per item: REASON_AGAIN (the shopper bought it), REASON_ALSO (bought or viewed with what
the shopper has, or like the product on screen), REASON_HOT (popular). Before the first model is
trained (timer reco_train) the lists fall back to the catalog's best sellers.

A/B: while the merchant runs the experiment ``reco_algorithm`` (``merchant_create_experiment``),
``recommend_for_user`` serves each caller (the user, else the ``device_id`` it sends) its
variant: ``popular`` ranks the best sellers, any other name the model; the answer says which
(``variant``), and the experiment's report compares them. Without a running experiment the model
serves everyone and nothing is logged.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
from pydantic import Field

from shared.catalog.products import LIST_FIELDS, product_summary
from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import ShopError
from shared.insight.experiments import DEVICE_PATTERN, variant_for
from shared.reco.artefacts import current_model
from shared.reco.model import RecoModel, top_k
from shared.reco.training import PAID_STATUSES

REASON_AGAIN = "买过的再来一单"
REASON_ALSO = "看了又看"
REASON_HOT = "同类热卖"
CATEGORY_CAP = 3
HISTORY_ORDERS = 50         # the shopper's latest paid orders the home list learns from
SEED_WEIGHT = 2.0           # what is on screen (product, cart, the order just paid) leads
CANDIDATES_PER_ITEM = 3     # candidates read per item shown: room for the rules to drop some
NO_MODEL = "none"
RECO_EXPERIMENT = "reco_algorithm"   # the A/B key recommend_for_user follows when it runs
POPULAR = "popular"                  # the variant served best sellers instead of the model

RecoContext = Literal["home", "cart", "product", "order_done"]


class RecommendInput(Input):
    context: RecoContext = "home"
    product_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    page: int = Field(default=1, ge=1, le=20)
    page_size: int = Field(default=10, ge=1, le=20)
    # the subject of the reco_algorithm experiment before login (the mini-program's own id)
    device_id: Optional[str] = Field(default=None, pattern=DEVICE_PATTERN)


class ProductRecoInput(Input):
    product_id: str = Field(min_length=1, max_length=64)
    page_size: int = Field(default=10, ge=1, le=20)


# ---- reading the shop -----------------------------------------------------------------------

def _history(ctx: Context) -> tuple[dict[str, float], list[str]]:
    """(product -> times bought, the products of the latest paid order) of the caller."""
    history: dict[str, float] = {}
    latest: list[str] = []
    orders = (ctx.db.orders.find({"user_id": ctx.user_id, "status": {"$in": PAID_STATUSES}},
                                 {"items.product_id": 1})
              .sort([("created_at", -1)]).limit(HISTORY_ORDERS))
    for n, order in enumerate(orders):
        products = {line["product_id"] for line in order.get("items", [])}
        if n == 0:
            latest = sorted(products)
        for product_id in products:
            history[product_id] = history.get(product_id, 0.0) + 1.0
    return history, latest


def _cart_skus(ctx: Context) -> set[str]:
    if ctx.user_id is None:
        return set()
    return {line["sku_id"] for line in ctx.db.cart_items.find({"user_id": ctx.user_id},
                                                              {"sku_id": 1})}


def _candidates(ctx: Context, product_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The products among these on sale, each with its SKUs' stock: two reads (a $lookup would
    make one, but the embedded database runs it as a scan of every SKU per product)."""
    if not product_ids:
        return {}
    docs = {d["_id"]: {**d, "skus": []} for d in ctx.db.products.find(
        {"_id": {"$in": product_ids}, "status": "on_sale"}, LIST_FIELDS)}
    if docs:
        for sku in ctx.db.skus.find({"product_id": {"$in": list(docs)}},
                                    {"product_id": 1, "stock": 1, "active": 1}):
            docs[sku["product_id"]]["skus"].append(sku)
    return docs


def _best_sellers(ctx: Context, limit: int) -> list[str]:
    return [d["_id"] for d in ctx.db.products.find({"status": "on_sale"}, {"_id": 1})
            .sort([("sales", -1), ("_id", -1)]).limit(limit)]


# ---- the rules ------------------------------------------------------------------------------

def _allowed(doc: dict[str, Any], cart_skus: set[str]) -> bool:
    skus = doc.get("skus") or []
    in_stock = any(s.get("active", True) and s.get("stock", 0) > 0 for s in skus)
    return in_stock and not any(s["_id"] in cart_skus for s in skus)


def paginate(ranked: list[tuple[dict[str, Any], str]], page: int,
             page_size: int) -> list[tuple[dict[str, Any], str]]:
    """Pages in rank order, at most CATEGORY_CAP of a category in each: an item that would
    break the cap goes to the first later page with room for it."""
    pages: list[list[tuple[dict[str, Any], str]]] = []
    counts: list[dict[str, int]] = []
    for item in ranked:
        category = item[0].get("category_id", "")
        for n in range(len(pages) + 1):
            if n == len(pages):
                pages.append([])
                counts.append({})
            if len(pages[n]) < page_size and counts[n].get(category, 0) < CATEGORY_CAP:
                pages[n].append(item)
                counts[n][category] = counts[n].get(category, 0) + 1
                break
        if len(pages) > page and len(pages[page - 1]) == page_size:
            break
    return pages[page - 1] if len(pages) >= page else []


def _answer(ctx: Context, ranked_ids: list[tuple[str, str]], cart_skus: set[str],
            page: int, page_size: int, version: str,
            exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    docs = _candidates(ctx, [pid for pid, _ in ranked_ids if pid not in exclude])
    ranked = [(docs[pid], reason) for pid, reason in ranked_ids
              if pid in docs and _allowed(docs[pid], cart_skus)]
    chosen = paginate(ranked, page, page_size)
    return {"items": [{"product": product_summary(doc), "reason": reason}
                      for doc, reason in chosen],
            "model_version": version, "page": page, "page_size": page_size}


def _ranked(model: RecoModel, history: dict[str, float], seeds: list[str],
            count: int) -> list[tuple[str, str]]:
    total, own, together = model.score(history)
    seeded = np.zeros(len(model.items), dtype=np.float32)
    if seeds:
        seed_vector = np.zeros(len(model.items), dtype=np.float32)
        for product_id in seeds:
            n = model.index.get(product_id)
            if n is not None:
                seed_vector[n] = 1.0
                for item, weight in model.similar(product_id, 20, content=True):
                    seeded[model.index[item]] += 0.5 * weight
        seeded += model.together(seed_vector)
        seeded[seed_vector > 0] = 0.0
        total = total + SEED_WEIGHT * seeded
    out = []
    for n in top_k(total, count):
        if own[n] > 0:
            reason = REASON_AGAIN
        elif seeded[n] > 0 or together[n] >= 0.5:   # close to what is on screen or bought
            reason = REASON_ALSO
        else:
            reason = REASON_HOT
        out.append((model.items[n], reason))
    return out


# ---- actions --------------------------------------------------------------------------------

def recommend_for_user(ctx: Context, req: RecommendInput) -> dict[str, Any]:
    """猜你喜欢 (home), 凑单推荐 (cart), 看了又看 (product), after an order (order_done)."""
    if req.context == "product" and not req.product_id:
        raise ShopError("VALIDATION_ERROR", "product_id is required for context product",
                        {"fields": [{"field": "product_id", "type": "missing",
                                     "message": "required for context product"}]},
                        message_zh="请指定商品")
    variant = variant_for(ctx, RECO_EXPERIMENT, req.device_id)
    answer = _recommend(ctx, req, popular=variant == POPULAR)
    return {**answer, "variant": variant}


def _recommend(ctx: Context, req: RecommendInput, popular: bool) -> dict[str, Any]:
    model = None if popular else current_model(ctx)
    history: dict[str, float] = {}
    latest: list[str] = []
    if ctx.user_id is not None and model is not None:
        history, latest = _history(ctx)
    cart_skus = _cart_skus(ctx)
    count = req.page * req.page_size * CANDIDATES_PER_ITEM + 20
    exclude = frozenset([req.product_id] if req.product_id else [])
    if model is None:
        ranked = [(pid, REASON_HOT) for pid in _best_sellers(ctx, count)]
        return _answer(ctx, ranked, cart_skus, req.page, req.page_size,
                       POPULAR if popular else NO_MODEL, exclude)
    seeds: list[str] = []
    if req.context == "product" and req.product_id:
        seeds = [req.product_id]
    elif req.context == "order_done":
        seeds = latest
    elif req.context == "cart" and cart_skus:
        seeds = sorted({s["product_id"] for s in ctx.db.skus.find(
            {"_id": {"$in": sorted(cart_skus)}}, {"product_id": 1})})
    ranked = _ranked(model, history, seeds, count)
    return _answer(ctx, ranked, cart_skus, req.page, req.page_size, model.version, exclude)


def _product_list(ctx: Context, req: ProductRecoInput, content: bool) -> dict[str, Any]:
    product = ctx.db.products.find_one({"_id": req.product_id, "status": "on_sale"},
                                       {"category_id": 1})
    if product is None:
        raise ShopError("NOT_FOUND", "product not found", {"resource": "product"},
                        message_zh="商品不存在或已下架")
    model = current_model(ctx)
    cart_skus = _cart_skus(ctx)
    count = req.page_size * CANDIDATES_PER_ITEM + 20
    ranked: list[tuple[str, str]] = []
    version = NO_MODEL
    if model is not None:
        version = model.version
        ranked = [(item, REASON_ALSO) for item, _ in model.similar(req.product_id, count,
                                                                   content=content)]
    if len(ranked) < 2 * req.page_size:   # a new product, a short row: the category's best sellers
        known = {pid for pid, _ in ranked}
        ranked += [(d["_id"], REASON_HOT) for d in ctx.db.products.find(
            {"status": "on_sale", "category_id": product["category_id"]}, {"_id": 1})
            .sort([("sales", -1), ("_id", -1)]).limit(count) if d["_id"] not in known]
    return _answer(ctx, ranked, cart_skus, 1, req.page_size, version,
                   frozenset([req.product_id]))


def similar_products(ctx: Context, req: ProductRecoInput) -> dict[str, Any]:
    """看了又看: products like this one (same category, shared title words)."""
    return _product_list(ctx, req, content=True)


def bought_together(ctx: Context, req: ProductRecoInput) -> dict[str, Any]:
    """Bought (or viewed) together with this product, by the same shoppers."""
    return _product_list(ctx, req, content=False)
