"""shopctl products: products and their SKUs."""
from __future__ import annotations

import json
from enum import Enum
from typing import Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import done, emit, emit_line, fail, out, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, present
from .views import cell, details, price_range, specs_text, status_text, yuan

app = typer.Typer(help="Products and their SKUs. Prices in fen (1250 = ¥12.50).",
                  no_args_is_help=True)


# The choices the shop accepts, so that a typo is caught (and listed in --help) before a call.
class ProductStatus(str, Enum):
    on_sale = "on_sale"
    off_shelf = "off_shelf"


class Sort(str, Enum):
    newest = "newest"
    price_asc = "price_asc"
    price_desc = "price_desc"
    sales = "sales"


def parse_specs(pairs: List[str]) -> dict[str, str]:
    specs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--spec")
        specs[key.strip()] = value.strip()
    return specs


def parse_skus(raw: str) -> list[dict[str, Any]]:
    try:
        skus = json.loads(raw)
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint="--skus-json") from None
    if not isinstance(skus, list) or not skus or not all(isinstance(s, dict) for s in skus):
        raise typer.BadParameter("a non-empty JSON list of SKU objects, e.g. "
                                 '\'[{"specs": {"size": "L"}, "price": 1250, "stock": 10}]\'',
                                 param_hint="--skus-json")
    return skus


LIMIT_FIELDS = ("per_order", "per_shopper_per_day", "per_shopper_per_campaign", "campaign")


def limit_text(limit: Optional[dict[str, Any]]) -> str:
    """The purchase limit (限购) in one line: "2 per order, 5 per shopper a day"."""
    if not limit:
        return "none"
    parts = []
    if limit.get("per_order"):
        parts.append(f"{limit['per_order']} per order")
    if limit.get("per_shopper_per_day"):
        parts.append(f"{limit['per_shopper_per_day']} per shopper a day")
    if limit.get("per_shopper_per_campaign"):
        campaign = f" of {limit['campaign']}" if limit.get("campaign") else ""
        parts.append(f"{limit['per_shopper_per_campaign']} per shopper in the campaign{campaign}")
    return ", ".join(parts) or "none"


def limit_options(per_order: Optional[int], per_shopper_per_day: Optional[int],
                  per_shopper_per_campaign: Optional[int],
                  campaign: Optional[str]) -> dict[str, Any]:
    return present({"per_order": per_order, "per_shopper_per_day": per_shopper_per_day,
                    "per_shopper_per_campaign": per_shopper_per_campaign, "campaign": campaign})


def per_order_option() -> Any:
    return typer.Option(None, min=1, help="限购: units of the product in one order.")


def per_day_option() -> Any:
    return typer.Option(None, min=1, help="限购: units one shopper may order per day "
                                          "(Asia/Shanghai), paid or unpaid.")


def per_campaign_option() -> Any:
    return typer.Option(None, min=1, help="限购: units one shopper may order during the "
                                          "campaign named by --campaign (unnamed: ever).")


def campaign_option() -> Any:
    return typer.Option(None, help="Name of the campaign --per-shopper-per-campaign counts "
                                   "in; a new name starts counting afresh.")


def show_product(product: dict[str, Any]) -> None:
    details([("product", product["id"]), ("title", product["title"]),
             ("subtitle", product.get("subtitle")), ("category", product["category_id"]),
             ("status", status_text(product["status"])),
             ("price", price_range(product["price"], product.get("price_max"))),
             ("sales", product.get("sales", 0)),
             ("purchase limit", limit_text(product.get("purchase_limit"))),
             ("images", " ".join(product.get("images", [])))])
    table = Table(title="SKUs", title_justify="left")
    for name in ("sku", "specs", "price", "stock", "locked", "sold", "active"):
        # fold, not "…": a cut spec such as "规格:5…" would hide which SKU it is
        table.add_column(name, justify="right" if name in ("price", "stock", "locked", "sold")
                         else "left", no_wrap=name == "sku", overflow="fold")
    for sku in product.get("skus", []):
        table.add_row(sku["id"], cell(specs_text(sku.get("specs"))), yuan(sku["price"]),
                      str(sku["stock"]), str(sku.get("locked", 0)), str(sku.get("sold", 0)),
                      "yes" if sku.get("active", True) else Text("retired", style="dim"))
    out.print(table)


PRODUCT_COLUMNS = (Col("id", "id"), Col("title"), Col("price", "fixed", "right"),
                   Col("sales", "fixed", "right"), Col("status", "fixed"))


def products_table(data: dict[str, Any]) -> None:
    print_list(PRODUCT_COLUMNS, [
        (item["id"], item["title"], price_range(item["price"], item.get("price_max")),
         str(item.get("sales", 0)), status_text(item["status"])) for item in data["items"]],
        data, "products")


def new_skus(skus_json: Optional[str], price: Optional[int], stock: Optional[int],
             spec: List[str]) -> list[dict[str, Any]]:
    """The SKUs of a new product: several from --skus-json, or one from the other options."""
    if skus_json is not None:
        if price is not None or stock is not None or spec:
            raise typer.BadParameter("give --skus-json, or --price/--stock/--spec, not both")
        return parse_skus(skus_json)
    if price is None or stock is None:
        raise typer.BadParameter("--price and --stock are required (or use --skus-json)")
    return [{"specs": parse_specs(spec), "price": price, "stock": stock}]


@app.command("add")
def products_add(
    ctx: typer.Context,
    title: str = typer.Option(..., help="Product title."),
    category_id: str = typer.Option(..., help="Category id (see `categories list`)."),
    price: Optional[int] = typer.Option(None, help="Price of the one SKU in fen (1250 = ¥12.50)."),
    stock: Optional[int] = typer.Option(None, help="Initial stock of the one SKU."),
    spec: List[str] = typer.Option([], help="A spec of the one SKU as KEY=VALUE; repeatable."),
    image: List[str] = typer.Option([], help="Image URL; repeatable, the first is the cover."),
    subtitle: str = typer.Option("", help="Subtitle."),
    description: str = typer.Option("", help="Description."),
    off_shelf: bool = typer.Option(False, "--off-shelf", help="Create it off the shelf."),
    skus_json: Optional[str] = typer.Option(
        None, help='Several SKUs instead of --price/--stock/--spec: a JSON list such as '
                   '\'[{"specs": {"size": "L"}, "price": 1250, "stock": 10}]\' (price in fen).'),
    per_order: Optional[int] = per_order_option(),
    per_shopper_per_day: Optional[int] = per_day_option(),
    per_shopper_per_campaign: Optional[int] = per_campaign_option(),
    campaign: Optional[str] = campaign_option(),
) -> None:
    """Add a product: one SKU from --price/--stock/--spec, or several from --skus-json."""
    skus = new_skus(skus_json, price, stock, spec)
    payload: dict[str, Any] = {"title": title, "subtitle": subtitle, "category_id": category_id,
                               "images": image, "description": description,
                               "status": "off_shelf" if off_shelf else "on_sale", "skus": skus}
    limit = limit_options(per_order, per_shopper_per_day, per_shopper_per_campaign, campaign)
    if limit:
        payload["purchase_limit"] = limit
    product = shop(ctx).call("merchant_upsert_product", payload)
    done(ctx, f"added product {product['id']}")
    emit(ctx, product, show_product)


@app.command("list")
def products_list(
    ctx: typer.Context,
    page: int = page_option(),
    page_size: int = page_size_option(),
    status: Optional[ProductStatus] = typer.Option(None, help="Default: both."),
    keyword: Optional[str] = typer.Option(None, help="Words of the title or subtitle."),
    category_id: Optional[str] = typer.Option(None),
    sort: Sort = typer.Option(Sort.newest),
) -> None:
    """List products, on sale and off the shelf (prices shown in yuan)."""
    list_page(ctx, "merchant_list_products", products_table, page=page, page_size=page_size,
              status=status, keyword=keyword, category_id=category_id, sort=sort)


@app.command("show")
def products_show(ctx: typer.Context, product_id: str = typer.Argument(...)) -> None:
    """A product with every SKU: stock for sale, locked by unpaid orders, sold."""
    emit(ctx, shop(ctx).call("merchant_get_product", {"product_id": product_id}), show_product)


def updated_skus(product: dict[str, Any], price: Optional[int],
                 skus_json: Optional[str]) -> list[dict[str, Any]]:
    if skus_json is not None:
        return parse_skus(skus_json)
    # Only active SKUs are sent back: sending a retired one would put it on the shelf again.
    skus = [{"sku_id": s["id"], "specs": s.get("specs", {}), "price": s["price"],
             "image": s.get("image")} for s in product["skus"] if s.get("active", True)]
    if price is not None:
        if len(skus) != 1:
            fail(f"--price applies to a single-SKU product; {product['id']} has {len(skus)} "
                 f"SKUs: give them all with --skus-json (keep each sku_id)")
        skus[0]["price"] = price
    return skus


def product_fields(product: dict[str, Any]) -> dict[str, Any]:
    """What merchant_upsert_product needs of a product as the shop has it now."""
    return {"title": product["title"],
            "subtitle": product.get("subtitle", ""), "category_id": product["category_id"],
            "images": product.get("images", []), "description": product.get("description", ""),
            "status": product["status"],
            # kept as it is: an update that leaves it out would lift the limit
            "purchase_limit": present({k: (product.get("purchase_limit") or {}).get(k)
                                       for k in LIMIT_FIELDS}) or None}


@app.command("update")
def products_update(
    ctx: typer.Context,
    product_id: str = typer.Argument(...),
    title: Optional[str] = typer.Option(None),
    subtitle: Optional[str] = typer.Option(None),
    category_id: Optional[str] = typer.Option(None),
    status: Optional[ProductStatus] = typer.Option(None),
    description: Optional[str] = typer.Option(None),
    image: List[str] = typer.Option([], help="Image URLs replacing the current ones; repeatable."),
    price: Optional[int] = typer.Option(None, help="New price in fen; single-SKU products only."),
    skus_json: Optional[str] = typer.Option(
        None, help="Replace the SKU list (JSON, as in `products add`); keep each existing "
                   "sku_id, SKUs left out are retired. Stock is set with `products stock`."),
    per_order: Optional[int] = per_order_option(),
    per_shopper_per_day: Optional[int] = per_day_option(),
    per_shopper_per_campaign: Optional[int] = per_campaign_option(),
    campaign: Optional[str] = campaign_option(),
    no_limit: bool = typer.Option(False, "--no-limit",
                                  help="Lift the purchase limit; with --per-* options, replace "
                                       "it (without, they change only what they name)."),
) -> None:
    """Change a product; what you do not give stays as it is."""
    changes = present({"title": title, "subtitle": subtitle, "category_id": category_id,
                       "status": status and status.value, "description": description,
                       "images": image or None})
    limit = limit_options(per_order, per_shopper_per_day, per_shopper_per_campaign, campaign)
    if not changes and price is None and skus_json is None and not limit and not no_limit:
        raise typer.BadParameter("nothing to change: give at least one option")
    client = shop(ctx)
    product = client.call("merchant_get_product", {"product_id": product_id})
    payload = {"product_id": product_id, **product_fields(product),
               "skus": updated_skus(product, price, skus_json), **changes}
    if limit or no_limit:
        kept = {} if no_limit else payload["purchase_limit"] or {}
        payload["purchase_limit"] = {**kept, **limit} or None
    product = client.call("merchant_upsert_product", payload)
    done(ctx, f"updated product {product['id']}")
    emit(ctx, product, show_product)


@app.command("stock")
def products_stock(
    ctx: typer.Context,
    sku_id: str = typer.Argument(...),
    stock: int = typer.Argument(..., min=0, help="Units for sale from now on."),
) -> None:
    """Set the stock for sale of one SKU (units locked by unpaid orders and sold are kept apart)."""
    sku = shop(ctx).call("merchant_set_stock", {"sku_id": sku_id, "stock": stock})
    emit_line(ctx, sku, lambda s: f"{s['id']}: stock {s['stock']} (locked {s.get('locked', 0)}, "
                                  f"sold {s.get('sold', 0)})")
