"""shopctl coupons: coupon templates that shoppers claim."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer

from .base import done, emit, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import when, yuan

app = typer.Typer(help="Coupon templates that shoppers claim. Amounts in fen.",
                  no_args_is_help=True)


class CouponKind(str, Enum):
    fixed = "fixed"
    percent = "percent"


def coupon_terms(coupon: dict[str, Any]) -> str:
    if coupon.get("kind") == "percent":
        terms = f"{coupon.get('percent')}% off"
        if coupon.get("cap"):
            terms += f" (at most {yuan(coupon['cap'])})"
    else:
        terms = f"{yuan(coupon.get('amount'))} off"
    if coupon.get("threshold"):
        terms += f" over {yuan(coupon['threshold'])}"
    return terms


def coupon_validity(coupon: dict[str, Any]) -> str:
    if coupon.get("valid_days"):
        return f"{coupon['valid_days']} days from claim"
    return f"{when(coupon.get('valid_from'))} → {when(coupon.get('valid_to'))}"


COUPON_COLUMNS = (Col("id", "id"), Col("name"), Col("terms", min=10),
                  Col("claimed", "fixed", "right"), Col("valid", min=10))


def coupons_table(data: dict[str, Any]) -> None:
    print_list(COUPON_COLUMNS, [
        (coupon["id"], coupon.get("name"), coupon_terms(coupon),
         f"{coupon.get('claimed', 0)}/{coupon.get('total')}", coupon_validity(coupon))
        for coupon in data["items"]], data, "coupons")


@app.command("create")
def coupons_create(
    ctx: typer.Context,
    name: str = typer.Option(..., help="Name shown to shoppers."),
    kind: CouponKind = typer.Option(..., help="fixed: an amount off; percent: a percentage off."),
    amount: Optional[int] = typer.Option(None, help="fixed: fen off (1000 = ¥10.00)."),
    percent: Optional[int] = typer.Option(None, help="percent: percent off, 1-99."),
    cap: Optional[int] = typer.Option(None, help="percent: at most this many fen off."),
    threshold: int = typer.Option(0, help="Minimum goods total in fen (9900 = ¥99.00)."),
    total: int = typer.Option(..., help="How many can be claimed in all."),
    per_user_limit: int = typer.Option(1, help="How many one shopper may claim."),
    valid_days: Optional[int] = typer.Option(None, help="Valid for N days after each claim."),
    valid_from: Optional[str] = typer.Option(
        None, help="Or a fixed window: start, a date or ISO datetime; no zone means Beijing time."),
    valid_to: Optional[str] = typer.Option(None, help="End of the fixed window (as --valid-from)."),
) -> None:
    """Create a coupon template: give --valid-days, or --valid-from and --valid-to."""
    payload = {"name": name, "kind": kind.value, "amount": amount, "percent": percent, "cap": cap,
               "threshold": threshold, "total": total, "per_user_limit": per_user_limit,
               "valid_days": valid_days,
               "valid_from": parse_moment(valid_from, "--valid-from"),
               "valid_to": parse_moment(valid_to, "--valid-to")}
    coupon = shop(ctx).call("merchant_create_coupon", present(payload))
    done(ctx, f"created coupon {coupon['id']}")
    emit(ctx, coupon, lambda c: coupons_table({"items": [c]}))


@app.command("list")
def coupons_list(ctx: typer.Context, page: int = page_option(),
                 page_size: int = page_size_option()) -> None:
    """List coupon templates, newest first, with how many were claimed."""
    list_page(ctx, "merchant_list_coupons", coupons_table, page=page, page_size=page_size)
