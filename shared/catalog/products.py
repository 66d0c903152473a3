"""The catalog: categories, products and their SKUs, search, and the merchant's stock."""
from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from shared.core.common import Input, NoInput, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found

__all__ = ["NoInput"]

MAX_PRICE = 100_000_000  # one million yuan, in fen
_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")

ProductStatus = Literal["on_sale", "off_shelf"]
SORTS: dict[str, list[tuple[str, int]]] = {
    "newest": [("created_at", -1), ("_id", -1)],
    "price_asc": [("price_min", 1), ("_id", 1)],
    "price_desc": [("price_min", -1), ("_id", -1)],
    "sales": [("sales", -1), ("_id", -1)],
}
LIST_FIELDS = {"title": 1, "subtitle": 1, "category_id": 1, "images": 1, "price_min": 1,
               "price_max": 1, "sales": 1, "status": 1, "created_at": 1, "purchase_limit": 1}


# the assistant's index (shared.assistant) is rebuilt when this version moves: every write of a
# product or category bumps it (the format of shared.nearby.versioned, which sits above us)
CATALOG_VERSION = "catalog_version"


def bump_catalog_version(db: Any) -> None:
    db.meta.update_one({"_id": CATALOG_VERSION},
                       {"$inc": {"v": 1}, "$set": {"token": new_id("ctv")}}, upsert=True)


# ---- search tokens -------------------------------------------------------------------------

def index_tokens(text: str) -> list[str]:
    """Words, and Chinese single characters and bigrams: what a product is found by."""
    text = text.lower()
    tokens = set(_WORD.findall(text))
    for run in _CJK_RUN.findall(text):
        tokens.update(run)
        tokens.update(run[i:i + 2] for i in range(len(run) - 1))
    return sorted(tokens)


def query_tokens(keyword: str) -> list[str]:
    """The tokens a product must all have to match ``keyword``."""
    keyword = keyword.lower()
    tokens = set(_WORD.findall(keyword))
    for run in _CJK_RUN.findall(keyword):
        tokens.update([run] if len(run) == 1 else (run[i:i + 2] for i in range(len(run) - 1)))
    return sorted(tokens)


# ---- inputs --------------------------------------------------------------------------------

class ListProductsInput(PageInput):
    category_id: Optional[str] = Field(default=None, max_length=64)
    keyword: Optional[str] = Field(default=None, max_length=50)
    sort: Literal["newest", "price_asc", "price_desc", "sales"] = "newest"


class MerchantListProductsInput(ListProductsInput):
    status: Optional[ProductStatus] = None


class GetProductInput(Input):
    product_id: str = Field(min_length=1, max_length=64)


class SkuInput(Input):
    sku_id: Optional[str] = Field(default=None, max_length=64)
    specs: dict[str, str] = Field(default_factory=dict, max_length=5)
    price: int = Field(ge=1, le=MAX_PRICE)
    stock: Optional[int] = Field(default=None, ge=0, le=10_000_000,
                                 description="initial stock of a new SKU; later use set_stock")
    image: Optional[str] = Field(default=None, max_length=512)

    @field_validator("specs")
    @classmethod
    def short_specs(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not k.strip() or len(k) > 20 or not v.strip() or len(v) > 40
               for k, v in value.items()):
            raise ValueError("spec names are 1-20 and values 1-40 characters")
        # spec names become field names in MongoDB: a NUL cannot be stored at all (the write
        # crashed), and "$"/"." names are treated differently by server versions and mongomock
        if any("\x00" in k or k.startswith("$") or "." in k for k in value):
            raise ValueError("spec names cannot contain NUL or '.', or start with '$'")
        return value


class PurchaseLimitInput(Input):
    """限购: how many units of the product (its SKUs together) a shopper may buy."""
    per_order: Optional[int] = Field(default=None, ge=1, le=999,
                                     description="units in one order")
    per_shopper_per_day: Optional[int] = Field(default=None, ge=1, le=100_000,
                                               description="units per shopper per day "
                                                           "(Asia/Shanghai)")
    per_shopper_per_campaign: Optional[int] = Field(default=None, ge=1, le=100_000,
                                                    description="units per shopper during "
                                                                "the campaign")
    campaign: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                    description="the campaign's name; a new name counts "
                                                "afresh; unset: the product's whole life")

    @model_validator(mode="after")
    def campaign_has_a_limit(self) -> "PurchaseLimitInput":
        if self.campaign and not self.per_shopper_per_campaign:
            raise ValueError("campaign names the period of per_shopper_per_campaign: give it")
        return self


def stored_limit(req: Optional[PurchaseLimitInput]) -> Optional[dict[str, Any]]:
    """What the product document keeps: None when no limit is set."""
    if req is None:
        return None
    stored = req.model_dump(exclude_none=True)
    return stored or None


class UpsertProductInput(Input):
    product_id: Optional[str] = Field(default=None, max_length=64)
    title: str = Field(min_length=1, max_length=100)
    subtitle: str = Field(default="", max_length=200)
    category_id: str = Field(min_length=1, max_length=64)
    images: list[str] = Field(default_factory=list, max_length=9)
    description: str = Field(default="", max_length=5000)
    status: ProductStatus = "on_sale"
    skus: list[SkuInput] = Field(min_length=1, max_length=100)
    # 限购; unset: no limit of the merchant's (the shop's unpaid ceilings still apply)
    purchase_limit: Optional[PurchaseLimitInput] = None


class SetStockInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    stock: int = Field(ge=0, le=10_000_000)


class UpsertCategoryInput(Input):
    category_id: Optional[str] = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=20)
    sort: int = Field(default=0, ge=0, le=10_000)
    icon: str = Field(default="", max_length=512)


# ---- views ---------------------------------------------------------------------------------

def limit_view(stored: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The product's purchase limit as shoppers and the merchant see it; None when unlimited."""
    if not stored:
        return None
    return {name: stored.get(name) for name in ("per_order", "per_shopper_per_day",
                                                "per_shopper_per_campaign", "campaign")}


def product_summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "title": doc["title"], "subtitle": doc.get("subtitle", ""),
            "category_id": doc["category_id"], "image": (doc.get("images") or [""])[0],
            "price": doc["price_min"], "price_max": doc["price_max"],
            "sales": doc.get("sales", 0), "status": doc["status"],
            "created_at": iso(doc.get("created_at")),
            "purchase_limit": limit_view(doc.get("purchase_limit"))}


def sku_view(doc: dict[str, Any], merchant: bool = False) -> dict[str, Any]:
    view = {"id": doc["_id"], "specs": doc.get("specs", {}), "price": doc["price"],
            "stock": doc["stock"], "image": doc.get("image")}
    if doc.get("ar"):  # AR try-on: shared.ar writes it in the shape a shopper reads
        view["ar"] = doc["ar"]
    if merchant:
        view.update(product_id=doc["product_id"], locked=doc.get("locked", 0),
                    sold=doc.get("sold", 0), active=doc.get("active", True))
    return view


def product_view(doc: dict[str, Any], skus: list[dict[str, Any]],
                 merchant: bool = False) -> dict[str, Any]:
    return {**product_summary(doc), "images": doc.get("images", []),
            "description": doc.get("description", ""),
            "skus": [sku_view(s, merchant) for s in skus]}


def category_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc["name"], "sort": doc.get("sort", 0),
            "icon": doc.get("icon", "")}


# ---- shopper actions -----------------------------------------------------------------------

def list_categories(ctx: Context, req: NoInput) -> dict[str, Any]:
    docs = ctx.db.categories.find({}).sort([("sort", 1), ("_id", 1)]).limit(200)
    return {"items": [category_view(d) for d in docs]}


def _product_filter(req: ListProductsInput, status: Optional[str]) -> Optional[dict[str, Any]]:
    """The query of a listing; None when nothing can match (a keyword with nothing
    searchable in it, "!!!" or emoji only, finds nothing rather than everything)."""
    query: dict[str, Any] = {}
    if status:
        query["status"] = status
    if req.category_id:
        query["category_id"] = req.category_id
    if req.keyword:
        tokens = query_tokens(req.keyword)
        if not tokens:
            return None
        query["tokens"] = {"$all": tokens}
    return query


def _list(ctx: Context, req: ListProductsInput, status: Optional[str]) -> dict[str, Any]:
    query = _product_filter(req, status)
    if query is None:
        return page_of([], 0, req)
    cursor = (ctx.db.products.find(query, LIST_FIELDS).sort(SORTS[req.sort])
              .skip(req.skip).limit(req.page_size))
    items = [product_summary(d) for d in cursor]
    return page_of(items, ctx.db.products.count_documents(query), req)


def list_products(ctx: Context, req: ListProductsInput) -> dict[str, Any]:
    return _list(ctx, req, "on_sale")


def _skus_of(db: Any, product_id: str, active_only: bool = True) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"product_id": product_id}
    if active_only:
        query["active"] = True
    return list(db.skus.find(query).sort([("price", 1), ("_id", 1)]))


def get_product(ctx: Context, req: GetProductInput) -> dict[str, Any]:
    doc = ctx.db.products.find_one({"_id": req.product_id, "status": "on_sale"}, {"tokens": 0})
    if doc is None:
        raise not_found("product")
    skus = _skus_of(ctx.db, doc["_id"])
    view = product_view(doc, skus)
    if ctx.user_id and ctx.shopper().get("community"):
        _show_member_prices(ctx, view, skus)
    return view


def _show_member_prices(ctx: Context, view: dict[str, Any], skus: list[dict[str, Any]]) -> None:
    """A community member sees their price beside each SKU's (``member_price``); the hook is
    named in shared.core.actions, since the communities live above the catalog."""
    import importlib

    from shared.core.actions import MEMBER_PRICES
    module, function = MEMBER_PRICES
    prices = getattr(importlib.import_module(module), function)(ctx.db, ctx.shopper(), skus)
    for sku in view["skus"]:
        if sku["id"] in prices:
            sku["member_price"] = prices[sku["id"]]
    if prices:
        view["member_price"] = min(prices.values())


# ---- merchant actions ----------------------------------------------------------------------

def merchant_list_products(ctx: Context, req: MerchantListProductsInput) -> dict[str, Any]:
    return _list(ctx, req, req.status)


def merchant_get_product(ctx: Context, req: GetProductInput) -> dict[str, Any]:
    doc = ctx.db.products.find_one({"_id": req.product_id}, {"tokens": 0})
    if doc is None:
        raise not_found("product")
    return product_view(doc, _skus_of(ctx.db, doc["_id"], active_only=False), merchant=True)


def upsert_category(ctx: Context, req: UpsertCategoryInput) -> dict[str, Any]:
    category_id = req.category_id or new_id("cat")
    doc = {"name": req.name, "sort": req.sort, "icon": req.icon, "updated_at": ctx.now}
    ctx.db.categories.update_one({"_id": category_id},
                                 {"$set": doc, "$setOnInsert": {"created_at": ctx.now}},
                                 upsert=True)
    bump_catalog_version(ctx.db)
    return category_view({"_id": category_id, **doc})


def _save_skus(ctx: Context, product_id: str, skus: list[SkuInput], is_new: bool) -> list[str]:
    existing = {s["_id"] for s in ctx.db.skus.find({"product_id": product_id}, {"_id": 1})}
    kept: list[str] = []
    for sku in skus:
        if sku.sku_id and sku.sku_id not in existing:
            if is_new or ctx.db.skus.find_one({"_id": sku.sku_id}, {"_id": 1}):
                raise ShopError("VALIDATION_ERROR", "the SKU belongs to another product",
                                {"fields": [{"field": "skus.sku_id", "message": sku.sku_id,
                                             "type": "foreign_sku"}]})
        sku_id = sku.sku_id or new_id("sku")
        fields = {"product_id": product_id, "specs": sku.specs, "price": sku.price,
                  "image": sku.image, "active": True, "updated_at": ctx.now}
        on_insert = {"stock": sku.stock or 0, "locked": 0, "sold": 0, "created_at": ctx.now}
        ctx.db.skus.update_one({"_id": sku_id}, {"$set": fields, "$setOnInsert": on_insert},
                               upsert=True)
        kept.append(sku_id)
    retired = existing - set(kept)
    if retired:
        # SKUs leave the shelf but stay on record: orders point at them
        ctx.db.skus.update_many({"_id": {"$in": sorted(retired)}},
                                {"$set": {"active": False, "updated_at": ctx.now}})
    return kept


def upsert_product(ctx: Context, req: UpsertProductInput) -> dict[str, Any]:
    if ctx.db.categories.find_one({"_id": req.category_id}, {"_id": 1}) is None:
        raise not_found("category")
    is_new = req.product_id is None
    product_id = req.product_id or new_id("prd")
    if not is_new and ctx.db.products.find_one({"_id": product_id}, {"_id": 1}) is None:
        raise not_found("product")
    _save_skus(ctx, product_id, req.skus, is_new)
    prices = [s.price for s in req.skus]
    fields = {"title": req.title, "subtitle": req.subtitle, "category_id": req.category_id,
              "images": req.images, "description": req.description, "status": req.status,
              "price_min": min(prices), "price_max": max(prices),
              "tokens": index_tokens(f"{req.title} {req.subtitle}"),
              "purchase_limit": stored_limit(req.purchase_limit), "updated_at": ctx.now}
    ctx.db.products.update_one({"_id": product_id},
                               {"$set": fields,
                                "$setOnInsert": {"sales": 0, "created_at": ctx.now}},
                               upsert=True)
    bump_catalog_version(ctx.db)
    return merchant_get_product(ctx, GetProductInput(product_id=product_id))


def set_stock(ctx: Context, req: SetStockInput) -> dict[str, Any]:
    from pymongo import ReturnDocument
    before = ctx.db.skus.find_one_and_update(
        {"_id": req.sku_id}, {"$set": {"stock": req.stock, "updated_at": ctx.now}},
        return_document=ReturnDocument.BEFORE)
    if before is None:
        raise not_found("sku")
    ctx.db.stock_adjustments.insert_one({"_id": new_id("adj"), "sku_id": req.sku_id,
                                         "from": before["stock"], "to": req.stock,
                                         "at": ctx.now, "request_id": ctx.request_id})
    return sku_view({**before, "stock": req.stock}, merchant=True)
