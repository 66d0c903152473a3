"""The shopping cart: lines of (sku, quantity), priced from the catalog when read."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from shared.core.common import Input, NoInput, iso
from shared.core.context import Context
from shared.core.errors import ShopError, not_found

__all__ = ["NoInput"]

MAX_LINES = 100
MAX_QUANTITY = 999


class CartAddInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class CartUpdateInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: Optional[int] = Field(default=None, ge=1, le=MAX_QUANTITY)
    selected: Optional[bool] = None


class CartRemoveInput(Input):
    sku_ids: list[str] = Field(min_length=1, max_length=MAX_LINES)


def _line_id(user_id: str, sku_id: str) -> str:
    return f"{user_id}:{sku_id}"


def _sellable_sku(db: Any, sku_id: str) -> dict[str, Any]:
    sku = db.skus.find_one({"_id": sku_id, "active": True})
    if sku is None:
        raise not_found("sku")
    product = db.products.find_one({"_id": sku["product_id"]}, {"status": 1})
    if product is None or product["status"] != "on_sale":
        raise ShopError("PRODUCT_UNAVAILABLE")
    return sku


def cart_add(ctx: Context, req: CartAddInput) -> dict[str, Any]:
    from pymongo import ReturnDocument
    _sellable_sku(ctx.db, req.sku_id)
    line_id = _line_id(ctx.shopper_id, req.sku_id)
    if not ctx.db.cart_items.find_one({"_id": line_id}, {"_id": 1}):
        if ctx.db.cart_items.count_documents({"user_id": ctx.user_id}) >= MAX_LINES:
            raise ShopError("LIMIT_EXCEEDED", f"at most {MAX_LINES} lines in a cart",
                            {"max": MAX_LINES})
    line = ctx.db.cart_items.find_one_and_update(
        {"_id": line_id},
        {"$inc": {"quantity": req.quantity},
         "$set": {"selected": True, "updated_at": ctx.now},
         "$setOnInsert": {"user_id": ctx.user_id, "sku_id": req.sku_id, "added_at": ctx.now}},
        upsert=True, return_document=ReturnDocument.AFTER)
    if line["quantity"] > MAX_QUANTITY:
        ctx.db.cart_items.update_one({"_id": line_id}, {"$set": {"quantity": MAX_QUANTITY}})
    return cart_list(ctx, NoInput())


def cart_update(ctx: Context, req: CartUpdateInput) -> dict[str, Any]:
    changes: dict[str, Any] = {"updated_at": ctx.now}
    if req.quantity is not None:
        changes["quantity"] = req.quantity
    if req.selected is not None:
        changes["selected"] = req.selected
    result = ctx.db.cart_items.update_one({"_id": _line_id(ctx.shopper_id, req.sku_id),
                                           "user_id": ctx.user_id}, {"$set": changes})
    if result.matched_count == 0:
        raise not_found("cart line")
    return cart_list(ctx, NoInput())


def cart_remove(ctx: Context, req: CartRemoveInput) -> dict[str, Any]:
    ctx.db.cart_items.delete_many({"user_id": ctx.user_id, "sku_id": {"$in": req.sku_ids}})
    return cart_list(ctx, NoInput())


def _problem(sku: Optional[dict], product: Optional[dict], quantity: int) -> Optional[str]:
    if sku is None or not sku.get("active", True):
        return "sku_removed"
    if product is None or product.get("status") != "on_sale":
        return "off_shelf"
    if sku["stock"] <= 0:
        return "out_of_stock"
    if sku["stock"] < quantity:
        return "insufficient_stock"
    return None


def cart_list(ctx: Context, req: NoInput) -> dict[str, Any]:
    lines = list(ctx.db.cart_items.find({"user_id": ctx.user_id}).sort([("added_at", -1),
                                                                        ("_id", 1)]))
    sku_ids = [line["sku_id"] for line in lines]
    skus = {s["_id"]: s for s in ctx.db.skus.find({"_id": {"$in": sku_ids}})}
    product_ids = sorted({s["product_id"] for s in skus.values()})
    products = {p["_id"]: p for p in ctx.db.products.find(
        {"_id": {"$in": product_ids}}, {"title": 1, "images": 1, "status": 1})}
    items = []
    for line in lines:
        sku = skus.get(line["sku_id"])
        product = products.get(sku["product_id"]) if sku else None
        problem = _problem(sku, product, line["quantity"])
        items.append({
            "sku_id": line["sku_id"], "quantity": line["quantity"],
            "selected": line.get("selected", True),
            "product_id": sku["product_id"] if sku else None,
            "title": product["title"] if product else "",
            "image": (sku or {}).get("image") or ((product or {}).get("images") or [""])[0],
            "specs": sku.get("specs", {}) if sku else {},
            "price": sku["price"] if sku else 0,
            "stock": sku["stock"] if sku else 0,
            "valid": problem is None, "invalid_reason": problem,
            "added_at": iso(line.get("added_at")),
        })
    chosen = [i for i in items if i["selected"] and i["valid"]]
    return {"items": items, "selected_count": sum(i["quantity"] for i in chosen),
            "selected_total": sum(i["price"] * i["quantity"] for i in chosen),
            "total_lines": len(items)}
