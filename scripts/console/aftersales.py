"""shopctl aftersales: review refunds and returns; an approval refunds through WeChat Pay."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import done, emit, out, shop
from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option
from .views import cell, details, shipment_text, status_text, when, yuan

app = typer.Typer(help="After-sales (refund only, or return and refund): review "
                       "them; an approval refunds through WeChat Pay.",
                  no_args_is_help=True)

AFTER_SALE_TYPES = {"refund_only": "refund", "return_refund": "return"}


class AfterSaleStatus(str, Enum):
    pending_review = "pending_review"
    awaiting_return = "awaiting_return"
    return_shipped = "return_shipped"
    refunding = "refunding"
    refunded = "refunded"
    rejected = "rejected"
    cancelled = "cancelled"
    refund_failed = "refund_failed"


AFTER_SALE_COLUMNS = (Col("id", "id"), Col("order", "id"), Col("type", "fixed"),
                      Col("status", "fixed"), Col("amount", "fixed", "right"), Col("reason"),
                      time_col("created"))


def after_sales_table(data: dict[str, Any]) -> None:
    print_list(AFTER_SALE_COLUMNS, [
        (item["id"], item["order_id"], AFTER_SALE_TYPES.get(item["type"], item["type"]),
         status_text(item["status"]), yuan(item["amount"]), item.get("reason"),
         when(item.get("created_at"))) for item in data["items"]], data, "after-sales")


def show_after_sale(doc: dict[str, Any]) -> None:
    details([("after-sale", doc["id"]), ("order", doc["order_id"]), ("user", doc.get("user_id")),
             ("type", doc["type"]), ("status", status_text(doc["status"])),
             ("amount", yuan(doc["amount"])), ("reason", doc.get("reason")),
             ("images", " ".join(doc.get("images") or [])),
             ("return", shipment_text(doc.get("return_shipment"))),
             ("note", doc.get("merchant_note")), ("refund", doc.get("refund_id")),
             ("failure", Text(doc["failure"], style="red") if doc.get("failure") else None),
             ("created", when(doc.get("created_at"))), ("updated", when(doc.get("updated_at")))])
    table = Table()
    for name in ("title", "sku", "qty"):
        table.add_column(name, justify="right" if name == "qty" else "left")
    for line in doc.get("items", []):
        table.add_row(cell(line.get("title")), cell(line.get("sku_id")), str(line.get("quantity")))
    out.print(table)


def after_sale_outcome(doc: dict[str, Any]) -> str:
    """What the merchant's decision led to, in words."""
    status, amount = doc["status"], yuan(doc["amount"])
    if status == "refunding":
        return f"{doc['id']}: refund of {amount} sent to WeChat Pay"
    if status == "refunded":
        return f"{doc['id']}: refunded {amount}"
    if status == "awaiting_return":
        return (f"{doc['id']}: approved; once the goods are back, `aftersales receive` "
                f"refunds {amount}")
    return f"{doc['id']}: {status}"


@app.command("list")
def aftersales_list(
    ctx: typer.Context,
    status: Optional[AfterSaleStatus] = typer.Option(
        None, help="Default: all; pending_review and return_shipped wait for you."),
    order_id: Optional[str] = typer.Option(None, help="Only this order's after-sales."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List after-sales, newest first (amounts in yuan)."""
    list_page(ctx, "merchant_list_after_sales", after_sales_table, status=status,
              order_id=order_id, page=page, page_size=page_size)


@app.command("show")
def aftersales_show(ctx: typer.Context, after_sale_id: str = typer.Argument(...)) -> None:
    """One after-sale: its lines, amount, reason, return shipment and refund."""
    emit(ctx, shop(ctx).call("merchant_get_after_sale", {"after_sale_id": after_sale_id}),
         show_after_sale)


def review(ctx: typer.Context, after_sale_id: str, decision: str, note: str) -> dict[str, Any]:
    doc: dict[str, Any] = shop(ctx).call("merchant_review_after_sale", {
        "after_sale_id": after_sale_id, "decision": decision, "note": note})
    return doc


@app.command("approve")
def aftersales_approve(
    ctx: typer.Context,
    after_sale_id: str = typer.Argument(...),
    note: str = typer.Option("", help="A note the shopper sees."),
) -> None:
    """Approve a pending after-sale: refund only is refunded now, a return after `receive`."""
    doc = review(ctx, after_sale_id, "approve", note)
    done(ctx, after_sale_outcome(doc))
    emit(ctx, doc, show_after_sale)


@app.command("reject")
def aftersales_reject(
    ctx: typer.Context,
    after_sale_id: str = typer.Argument(...),
    note: str = typer.Option("", help="Why, for the shopper."),
) -> None:
    """Reject a pending after-sale; its amount can be asked for again."""
    doc = review(ctx, after_sale_id, "reject", note)
    done(ctx, f"rejected {doc['id']}")
    emit(ctx, doc, show_after_sale)


@app.command("receive")
def aftersales_receive(ctx: typer.Context, after_sale_id: str = typer.Argument(...)) -> None:
    """The returned goods arrived: refund the after-sale through WeChat Pay."""
    doc = shop(ctx).call("merchant_confirm_return_received", {"after_sale_id": after_sale_id})
    done(ctx, after_sale_outcome(doc))
    emit(ctx, doc, show_after_sale)
