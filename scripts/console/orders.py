"""shopctl orders: list, show and ship orders."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer
from rich.table import Table

from .base import done, emit, out, shop
from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option
from .views import cell, details, shipment_text, specs_text, status_text, when, yuan

app = typer.Typer(help="Orders: list, show, ship.", no_args_is_help=True)


class OrderStatus(str, Enum):
    pending_payment = "pending_payment"
    paid = "paid"
    shipped = "shipped"
    completed = "completed"
    cancelled = "cancelled"
    refunding = "refunding"
    refunded = "refunded"


def units(order: dict[str, Any]) -> int:
    return sum(line.get("quantity", 0) for line in order.get("items", []))


ORDER_COLUMNS = (Col("id", "id"), Col("status", "fixed"), Col("total", "fixed", "right"),
                 Col("items", "fixed", "right"), time_col("created"))


def orders_table(data: dict[str, Any]) -> None:
    print_list(ORDER_COLUMNS, [
        (order["id"], status_text(order["status"]), yuan(order["total"]), str(units(order)),
         when(order.get("created_at"))) for order in data["items"]], data, "orders")


def address_text(address: Optional[dict[str, Any]]) -> str:
    if not address:
        return "-"
    place = "".join(address.get(k, "") for k in ("province", "city", "district", "detail"))
    return f"{address.get('name', '')} {address.get('phone', '')} {place}".strip()


def order_lines_table(order: dict[str, Any]) -> Table:
    table = Table()
    for name in ("title", "specs", "price", "qty", "subtotal"):
        table.add_column(name, justify="right" if name in ("price", "qty", "subtotal") else "left")
    for line in order.get("items", []):
        table.add_row(cell(line.get("title")), cell(specs_text(line.get("specs"))),
                      yuan(line.get("price")), str(line.get("quantity")),
                      yuan(line.get("subtotal")))
    return table


def show_order(order: dict[str, Any]) -> None:
    details([("order", order["id"]), ("status", status_text(order["status"])),
             ("user", order.get("user_id")), ("created", when(order.get("created_at"))),
             ("paid", when(order.get("paid_at"))), ("shipped", when(order.get("shipped_at"))),
             ("shipment", shipment_text(order.get("shipment"))),
             ("address", address_text(order.get("address"))), ("note", order.get("note"))])
    out.print(order_lines_table(order))
    money = [("goods", yuan(order.get("goods_total"))),
             ("discount", yuan(-(order.get("discount") or 0))),
             ("shipping", yuan(order.get("shipping_fee"))), ("total", yuan(order["total"]))]
    if order.get("refunded_amount"):
        money.append(("refunded", yuan(order["refunded_amount"])))
    details(money)


@app.command("list")
def orders_list(
    ctx: typer.Context,
    status: Optional[OrderStatus] = typer.Option(None, help="Default: all."),
    page: int = page_option(),
    page_size: int = page_size_option(),
    user_id: Optional[str] = typer.Option(None, help="Only this shopper's orders."),
) -> None:
    """List orders, newest first (totals in yuan)."""
    list_page(ctx, "merchant_list_orders", orders_table, status=status, page=page,
              page_size=page_size, user_id=user_id)


@app.command("show")
def orders_show(ctx: typer.Context, order_id: str = typer.Argument(...)) -> None:
    """One order: lines, address, payment and shipment."""
    emit(ctx, shop(ctx).call("merchant_get_order", {"order_id": order_id}), show_order)


@app.command("ship")
def orders_ship(
    ctx: typer.Context,
    order_id: str = typer.Argument(...),
    carrier: str = typer.Option(..., help="Carrier, e.g. SF or 顺丰."),
    tracking_no: str = typer.Option(..., help="Tracking number (letters, digits, -)."),
    batch: Optional[list[str]] = typer.Option(
        None, "--batch", help="SKU_ID=BATCH_ID: the trace batch of a line (repeat per line); "
                              "the shopper's order then links to its trace."),
) -> None:
    """Ship a paid order (shipping it again with the same tracking number is harmless)."""
    payload: dict[str, Any] = {"order_id": order_id, "carrier": carrier,
                               "tracking_no": tracking_no}
    if batch:
        pairs = [item.split("=", 1) for item in batch]
        if any(len(pair) != 2 or not all(pair) for pair in pairs):
            raise typer.BadParameter("give SKU_ID=BATCH_ID", param_hint="--batch")
        payload["batches"] = [{"sku_id": sku, "batch_id": batch_id} for sku, batch_id in pairs]
    order = shop(ctx).call("merchant_ship_order", payload)
    done(ctx, f"shipped {order['id']} with {carrier} {tracking_no}")
    emit(ctx, order, show_order)
