"""shopctl categories: product categories."""
from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from .base import done, emit, out, shop
from .views import cell

app = typer.Typer(help="Product categories.", no_args_is_help=True)


def categories_table(data: dict[str, Any]) -> None:
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("sort", justify="right")
    for item in data["items"]:
        table.add_row(item["id"], cell(item["name"]), str(item.get("sort", 0)))
    out.print(table)


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
