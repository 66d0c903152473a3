"""Dev action dev_import_orders: a public purchase history (UCI Online Retail) loaded into the
shop, so that the dev gateway recommends from real purchases (`shopctl import online-retail`).

What it writes is what the shop writes: one category, a product and its SKU per StockCode (as
merchant_upsert_product, tokens included), a shopper per CustomerID (as a CloudBase login,
openid ``online-retail:<CustomerID>``), and a completed order per invoice (as placement and the
lifecycle leave one, marked ``imported``). Ids come from the data (``prd_or_<StockCode>``,
``ord_or_<InvoiceNo>``), so importing a file twice adds nothing the second time; each batch
reads what exists with one query per collection, not one per line.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import Field, field_validator

from shared.accounts.users import ensure_user_for_openid
from shared.catalog.products import index_tokens
from shared.core.common import Input
from shared.core.context import Context

CATEGORY_ID = "cat_online_retail"
STOCK = 1000


class ImportLine(Input):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    title: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000)
    price: int = Field(ge=1, le=100_000_000)      # fen


class ImportInvoice(Input):
    invoice: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    customer: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    at: datetime
    lines: list[ImportLine] = Field(min_length=1, max_length=500)

    @field_validator("at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        # the data set's times carry no zone: they are read as UTC
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class ImportOrdersInput(Input):
    invoices: list[ImportInvoice] = Field(min_length=1, max_length=500)


def dev_import_orders(ctx: Context, req: ImportOrdersInput) -> dict[str, Any]:
    db = ctx.db
    db.categories.update_one({"_id": CATEGORY_ID}, {"$setOnInsert": {
        "name": "Online Retail 礼品", "sort": 900, "icon": "", "created_at": ctx.now}},
        upsert=True)
    lines = {line.code: line for invoice in req.invoices for line in invoice.lines}
    new_products = _add_products(ctx, lines)
    customers = sorted({invoice.customer for invoice in req.invoices})
    users = {c: ensure_user_for_openid(db, f"online-retail:{c}", ctx.now) for c in customers}
    ids = [f"ord_or_{invoice.invoice}" for invoice in req.invoices]
    existing = {d["_id"] for d in db.orders.find({"_id": {"$in": ids}}, {"_id": 1})}
    orders = [_order(invoice, users[invoice.customer]) for invoice in req.invoices
              if f"ord_or_{invoice.invoice}" not in existing]
    if orders:
        db.orders.insert_many(orders)
    sold: dict[str, int] = {}
    for order in orders:
        for item in order["items"]:
            sold[item["product_id"]] = sold.get(item["product_id"], 0) + item["quantity"]
    for product_id, units in sold.items():
        db.products.update_one({"_id": product_id}, {"$inc": {"sales": units}})
    return {"orders": len(orders), "skipped": len(existing), "products": new_products,
            "shoppers": len(users)}


def _add_products(ctx: Context, lines: dict[str, ImportLine]) -> int:
    product_ids = {f"prd_or_{code}": line for code, line in lines.items()}
    known = {d["_id"] for d in ctx.db.products.find({"_id": {"$in": list(product_ids)}},
                                                    {"_id": 1})}
    products, skus = [], []
    for product_id, line in product_ids.items():
        if product_id in known:
            continue
        title = line.title.title()
        products.append({
            "_id": product_id, "title": title, "subtitle": "", "category_id": CATEGORY_ID,
            "images": [], "description": "", "status": "on_sale", "price_min": line.price,
            "price_max": line.price, "tokens": index_tokens(title), "purchase_limit": None,
            "sales": 0, "created_at": ctx.now, "updated_at": ctx.now})
        skus.append({"_id": f"sku_or_{line.code}", "product_id": product_id, "specs": {},
                     "price": line.price, "image": None, "active": True, "stock": STOCK,
                     "locked": 0, "sold": 0, "created_at": ctx.now, "updated_at": ctx.now})
    if products:
        ctx.db.products.insert_many(products)
        ctx.db.skus.insert_many(skus)
    return len(products)


def _order(invoice: ImportInvoice, user_id: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{
        "sku_id": f"sku_or_{line.code}", "product_id": f"prd_or_{line.code}",
        "title": line.title.title(), "specs": {}, "image": None, "price": line.price,
        "quantity": line.quantity, "subtotal": line.price * line.quantity}
        for line in invoice.lines]
    total = sum(line.price * line.quantity for line in invoice.lines)
    at = invoice.at
    return {"_id": f"ord_or_{invoice.invoice}", "user_id": user_id,
            "request_id": f"online-retail-{invoice.invoice}", "status": "completed",
            "items": items, "goods_total": total, "discount": 0, "shipping_fee": 0,
            "total": total, "coupon_id": None, "member_level": None, "level_discount": 0,
            "points_used": 0, "address": None, "pickup": None, "note": "", "deal": None,
            "created_at": at, "pay_deadline": at, "paid_at": at, "completed_at": at,
            "hold_shipping": False, "imported": "online_retail"}
