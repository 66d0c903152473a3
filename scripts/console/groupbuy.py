"""shopctl groupbuy (拼团): campaigns whose teams buy at the group price."""
from __future__ import annotations

import re
from enum import Enum
from typing import Any, List, Optional

import typer
from rich.text import Text

from .base import done, emit, out, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import details, price_range, status_text, when, yuan

app = typer.Typer(help="Group-buy (拼团) campaigns: teams of shoppers buy a product at "
                       "the group price once every seat is paid; teams that do not "
                       "fill in time are refunded. Prices in fen.",
                  no_args_is_help=True)


class GroupBuyStatus(str, Enum):
    active = "active"
    ended = "ended"


def parse_sku_prices(pairs: List[str]) -> list[dict[str, Any]]:
    """--sku-price SKU=FEN, repeatable: each SKU on offer and its group price in fen."""
    prices: dict[str, int] = {}
    for pair in pairs:
        sku_id, sep, fen = pair.partition("=")
        sku_id, fen = sku_id.strip(), fen.strip()
        if not sep or not sku_id or not re.fullmatch(r"\d+", fen):
            raise typer.BadParameter(f"{pair!r} is not SKU=FEN, e.g. sku_1a2b=990 (¥9.90)",
                                     param_hint="--sku-price")
        if sku_id in prices:
            raise typer.BadParameter(f"{sku_id} is given twice", param_hint="--sku-price")
        prices[sku_id] = int(fen)
    if not prices:
        raise typer.BadParameter("give at least one SKU=FEN", param_hint="--sku-price")
    return [{"sku_id": sku_id, "group_price": fen} for sku_id, fen in prices.items()]


def group_prices_text(campaign: dict[str, Any]) -> str:
    return "\n".join(f"{p['sku_id']} {yuan(p['group_price'])}" for p in campaign["sku_prices"])


def group_limits_text(campaign: dict[str, Any]) -> str:
    parts = []
    if campaign.get("stock_limit") is not None:
        parts.append(f"{campaign.get('remaining')}/{campaign['stock_limit']} left")
    if campaign.get("per_user_limit"):
        parts.append(f"{campaign['per_user_limit']} per user")
    return "\n".join(parts) or "-"


def group_price_range(campaign: dict[str, Any]) -> str:
    prices = [p["group_price"] for p in campaign["sku_prices"]]
    return price_range(min(prices), max(prices))


def team_text(campaign: dict[str, Any]) -> str:
    team = f"{campaign['team_size']} in {campaign['team_ttl_minutes']} min"
    if campaign.get("auto_fill"):
        team += "\nauto-fill"
    return team


GROUP_BUY_COLUMNS = (Col("id", "id"), Col("product"), Col("status", "fixed"), Col("team", min=8),
                     Col("price", "fixed"), Col("window", min=12), Col("limits", min=8),
                     Col("ok", "fixed", "right"))


def group_buys_table(data: dict[str, Any]) -> None:
    print_list(GROUP_BUY_COLUMNS, [
        (campaign["id"], campaign["product"]["title"], status_text(campaign["status"]),
         team_text(campaign), group_price_range(campaign),
         f"{when(campaign['starts_at'])} →\n{when(campaign['ends_at'])}",
         group_limits_text(campaign), str(campaign.get("teams_succeeded", 0)))
        for campaign in data["items"]], data, "group-buys")
    if data["items"]:
        out.print(Text("ok: teams that succeeded", style="dim"))


def show_group_buy(campaign: dict[str, Any]) -> None:
    details([("group-buy", campaign["id"]),
             ("product", f"{campaign['product']['title']} ({campaign['product']['id']})"),
             ("status", status_text(campaign["status"])),
             ("team", f"{campaign['team_size']} people within "
                      f"{campaign['team_ttl_minutes']} minutes"),
             ("group prices", group_prices_text(campaign)),
             ("window", f"{when(campaign['starts_at'])} → {when(campaign['ends_at'])}"),
             ("limits", group_limits_text(campaign).replace("\n", ", ")),
             ("auto-fill", "yes: a team one seat short at its deadline succeeds"
              if campaign.get("auto_fill") else "no"),
             ("teams succeeded", str(campaign.get("teams_succeeded", 0)))])


@app.command("create")
def groupbuy_create(
    ctx: typer.Context,
    product_id: str = typer.Option(..., help="The product on offer (see `products list`)."),
    sku_price: List[str] = typer.Option(
        ..., "--sku-price", help="SKU=FEN: a SKU of the product and its group price in fen "
                                 "(990 = ¥9.90), below its usual price; repeatable."),
    team_size: int = typer.Option(..., help="People in a team, 2-50, the leader included."),
    ttl_minutes: int = typer.Option(..., help="Minutes a team has to fill once its leader "
                                              "paid; then it fails and is refunded."),
    starts_at: str = typer.Option(..., help="Start: a date or ISO datetime (no zone means "
                                            "Beijing time)."),
    ends_at: str = typer.Option(..., help="End, as --starts-at: no new teams or joins after."),
    stock_limit: Optional[int] = typer.Option(None, help="At most this many units in all."),
    per_user_limit: Optional[int] = typer.Option(None, help="At most this many per shopper."),
    auto_fill: bool = typer.Option(False, "--auto-fill",
                                   help="A team one seat short at its deadline succeeds."),
) -> None:
    """Create a group-buy campaign for one product."""
    payload = {"product_id": product_id, "sku_prices": parse_sku_prices(sku_price),
               "team_size": team_size, "team_ttl_minutes": ttl_minutes,
               "starts_at": parse_moment(starts_at, "--starts-at"),
               "ends_at": parse_moment(ends_at, "--ends-at"), "stock_limit": stock_limit,
               "per_user_limit": per_user_limit, "auto_fill": auto_fill}
    campaign = shop(ctx).call("merchant_create_group_buy", present(payload))
    done(ctx, f"created group-buy {campaign['id']}")
    emit(ctx, campaign, show_group_buy)


@app.command("list")
def groupbuy_list(
    ctx: typer.Context,
    status: Optional[GroupBuyStatus] = typer.Option(None, help="Only active or ended ones."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List group-buy campaigns, newest first, with how many teams succeeded."""
    list_page(ctx, "merchant_list_group_buys", group_buys_table, page=page,
              page_size=page_size, status=status)


@app.command("end")
def groupbuy_end(ctx: typer.Context, campaign_id: str = typer.Argument(...)) -> None:
    """End a campaign now: no new teams or joins; teams already forming run to their deadline."""
    campaign = shop(ctx).call("merchant_end_group_buy", {"campaign_id": campaign_id})
    done(ctx, f"ended group-buy {campaign['id']}")
    emit(ctx, campaign, show_group_buy)
