"""The root command: global options, and the command groups in the order --help lists them."""
from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.text import Text

from . import (
    aftersales,
    assistant,
    campaigns,
    categories,
    coupons,
    db,
    dev,
    experiments,
    fission,
    forecast,
    groupbuy,
    insight,
    live,
    members,
    nearby,
    orders,
    outbox,
    products,
    reco,
    social,
    trace,
)
from .base import DEFAULT_API, DEV_MERCHANT_TOKEN, Shop, default_api, err
from .grid import DISPLAY

HELP = ("The shop's merchant console: products, categories, orders, after-sales, coupons, "
        "group-buys, bargains, assists, fission, campaigns, members, stores, deals, "
        "self-pickup, funnels, profiles and tags, A/B experiments, traceability, AR try-on.\n\n"
        "self-pickup, live rooms, communities.\n\n"
        "It talks to a shop gateway over HTTP with the merchant token; global options go "
        "before the command: shopctl --api URL --json products list (--json and --full-ids "
        "may also follow it).\n\n"
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
app.add_typer(social.bargains, name="bargains")
app.add_typer(social.assists, name="assists")
app.add_typer(nearby.stores, name="stores")
app.add_typer(nearby.deals, name="deals")
app.add_typer(nearby.nearby, name="nearby")
app.add_typer(nearby.pickup, name="pickup")
app.add_typer(insight.insight, name="insight")
app.add_typer(insight.tags, name="tags")
app.add_typer(experiments.app, name="experiments")
app.add_typer(trace.app, name="trace")
app.add_typer(trace.ar, name="ar")
app.add_typer(forecast.app, name="forecast")
app.add_typer(reco.app, name="reco")
app.add_typer(reco.imports, name="import")
app.add_typer(assistant.app, name="assistant")
app.add_typer(assistant.cs, name="cs")
app.add_typer(live.live, name="live")
app.add_typer(live.community, name="community")
app.add_typer(dev.app, name="dev")


@app.callback()
def main(
    ctx: typer.Context,
    api: Optional[str] = typer.Option(
        None, "--api", envvar="SHOP_API", show_default=False,
        help=f"Base URL of the shop gateway (default: the dev gateway `make run` starts, "
             f"{DEFAULT_API}, or the port in $PORT)."),
    token: str = typer.Option(DEV_MERCHANT_TOKEN, "--token", envvar="MERCHANT_TOKEN",
                              show_default=False,
                              help="Merchant token (default: the dev token)."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON data, no tables "
                                                       "(for scripts; every list has it)."),
    full_ids: bool = typer.Option(False, "--full-ids",
                                  help="Whole ids in tables, even when the terminal is narrow "
                                       "(otherwise cut to a unique prefix to fit)."),
) -> None:
    DISPLAY.full_ids = full_ids
    # the default gateway is only a guess (the one `make run` starts): say how to point
    # elsewhere when nothing answers there
    ctx.obj = Shop((api or default_api()).rstrip("/"), token, as_json, api_guessed=api is None)


# flags that may also come after the command: `shopctl orders list --json`
ANYWHERE_FLAGS = ("--json", "--full-ids")


def hoist_flags(argv: list[str]) -> list[str]:
    """The global flags moved before the command, so that they work after it too."""
    if "--" in argv:
        head, tail = argv[:argv.index("--")], argv[argv.index("--"):]
    else:
        head, tail = argv, []
    flags = [arg for arg in head if arg in ANYWHERE_FLAGS]
    return flags + [arg for arg in head if arg not in ANYWHERE_FLAGS] + tail


def run() -> None:
    try:
        app(args=hoist_flags(sys.argv[1:]), prog_name="shopctl")
    except Exception as exc:  # a bug in the console: say so in one line, not a traceback
        err.print(Text(f"shopctl: unexpected error: {type(exc).__name__}: {exc}", style="bold red"))
        sys.exit(1)
