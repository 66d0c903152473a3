"""shopctl categories: product categories."""
from __future__ import annotations

from typing import Any, Optional

import typer

from .base import done, emit, shop
from .grid import Col, print_list

app = typer.Typer(help="Product categories.", no_args_is_help=True)


CATEGORY_COLUMNS = (Col("id", "id"), Col("name"), Col("sort", "fixed", "right"))


def categories_table(data: dict[str, Any]) -> None:
    print_list(CATEGORY_COLUMNS, [(item["id"], item["name"], str(item.get("sort", 0)))
                                  for item in data["items"]], data, "categories")


@app.command("list")
def categories_list(ctx: typer.Context) -> None:
    """List categories in display order."""
    emit(ctx, shop(ctx).call("list_categories"), categories_table)


@app.command("add")
def categories_add(
    ctx: typer.Context,
    name: str = typer.Option(..., help="Name, up to 20 characters."),
    sort: int = typer.Option(0, help="Display order, smallest first."),
    icon: str = typer.Option("", help="Icon URL."),
    category_id: Optional[str] = typer.Option(None, "--id", help="Rename this category instead."),
) -> None:
    """Add a category (or, with --id, change one)."""
    payload: dict[str, Any] = {"name": name, "sort": sort, "icon": icon}
    if category_id:
        payload["category_id"] = category_id
    category = shop(ctx).call("merchant_upsert_category", payload)
    done(ctx, f"saved category {category['id']}")
    emit(ctx, {"items": [category]}, categories_table)
