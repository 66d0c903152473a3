"""The root command: global options, and the command groups in the order --help lists them."""
from __future__ import annotations

import sys

import typer
from rich.text import Text

from . import (
    aftersales,
    campaigns,
    categories,
    coupons,
    db,
    fission,
    groupbuy,
    members,
    orders,
    outbox,
    products,
)
from .base import DEFAULT_API, DEV_MERCHANT_TOKEN, Shop, err

HELP = ("The shop's merchant console: products, categories, orders, after-sales, coupons.\n\n"
        "It talks to a shop gateway over HTTP with the merchant token; global options go "
        "before the command: shopctl --api URL --json products list.\n\n"
        "Money is entered in fen (1250 means ¥12.50) and shown in yuan. "
        "Times are Beijing time (UTC+8).\n\n"
        "Exit codes: 0 done; 1 refused by the shop; 2 cannot reach the gateway or database, "
        "or a wrong command line.")

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
app.add_typer(products.app, name="products")
app.add_typer(categories.app, name="categories")
app.add_typer(orders.app, name="orders")
app.add_typer(aftersales.app, name="aftersales")
app.add_typer(coupons.app, name="coupons")
app.add_typer(fission.app, name="fission")
app.add_typer(db.app, name="db")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(outbox.app, name="outbox")
app.add_typer(groupbuy.app, name="groupbuy")
app.add_typer(members.app, name="members")


@app.callback()
def main(
    ctx: typer.Context,
    api: str = typer.Option(DEFAULT_API, "--api", envvar="SHOP_API",
                            help="Base URL of the shop gateway."),
    token: str = typer.Option(DEV_MERCHANT_TOKEN, "--token", envvar="MERCHANT_TOKEN",
                              show_default=False,
                              help="Merchant token (default: the dev token)."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON data, no tables."),
) -> None:
    ctx.obj = Shop(api.rstrip("/"), token, as_json)


def run() -> None:
    try:
        app(prog_name="shopctl")
    except Exception as exc:  # a bug in the console: say so in one line, not a traceback
        err.print(Text(f"shopctl: unexpected error: {type(exc).__name__}: {exc}", style="bold red"))
        sys.exit(1)
