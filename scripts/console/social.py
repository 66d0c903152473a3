"""shopctl bargains (砍价) and assists (好友助力): campaigns shoppers share with friends."""
from __future__ import annotations

from typing import Any, Optional

import typer

from .base import done, emit, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import status_text, when, yuan

bargains = typer.Typer(help="Bargain (砍价) campaigns: friends' helps cut a SKU's price from "
                            "a start price down to a floor; the shopper buys at the price "
                            "reached. Prices in fen.", no_args_is_help=True)
assists = typer.Typer(help="Friend assist (好友助力) campaigns: enough friends' helps earn a "
                           "coupon or a gift.", no_args_is_help=True)

WINDOW_HELP = "a date or ISO datetime (no zone means Beijing time)"


def window_text(campaign: dict[str, Any]) -> str:
    return f"{when(campaign['starts_at'])} →\n{when(campaign['ends_at'])}"


BARGAIN_COLUMNS = (Col("id", "id"), Col("product"), Col("sku", "id"), Col("price", min=8),
                   Col("helps", "fixed", "right"), Col("ttl", "fixed", "right"),
                   Col("sold", "fixed", "right"), Col("status", "fixed"),
                   Col("window", min=12))


def bargains_table(data: dict[str, Any]) -> None:
    print_list(BARGAIN_COLUMNS, [
        (campaign["id"], campaign.get("title"), campaign["sku_id"],
         f"{yuan(campaign['start_price'])} → {yuan(campaign['floor_price'])}",
         str(campaign["helpers_needed"]), f"{campaign['ttl_minutes']} min",
         f"{campaign['sold']}/{campaign['stock_limit']}", status_text(campaign["status"]),
         window_text(campaign)) for campaign in data["items"]], data, "bargains")


@bargains.command("create")
def bargains_create(
    ctx: typer.Context,
    sku_id: str = typer.Option(..., help="The SKU bargained for."),
    start_price: int = typer.Option(..., help="Price in fen before any help, at most the "
                                              "SKU's price."),
    floor_price: int = typer.Option(..., help="Price in fen once fully cut (0: free)."),
    helpers_needed: int = typer.Option(..., help="Helps that cut it to the floor, 1-100."),
    ttl_minutes: int = typer.Option(..., help="Minutes one shopper's bargain runs."),
    stock_limit: int = typer.Option(..., help="Bargain orders at most."),
    starts_at: str = typer.Option(..., help=f"Start: {WINDOW_HELP}."),
    ends_at: str = typer.Option(..., help="End, as --starts-at."),
) -> None:
    """Create a bargain campaign for one SKU."""
    campaign = shop(ctx).call("merchant_create_bargain", {
        "sku_id": sku_id, "start_price": start_price, "floor_price": floor_price,
        "helpers_needed": helpers_needed, "ttl_minutes": ttl_minutes,
        "stock_limit": stock_limit, "starts_at": parse_moment(starts_at, "--starts-at"),
        "ends_at": parse_moment(ends_at, "--ends-at")})
    done(ctx, f"created bargain campaign {campaign['id']}")
    emit(ctx, campaign, lambda value: bargains_table({"items": [value]}))


@bargains.command("list")
def bargains_list(ctx: typer.Context, page: int = page_option(),
                  page_size: int = page_size_option()) -> None:
    """List bargain campaigns, newest first, with how many were sold."""
    list_page(ctx, "merchant_list_bargains", bargains_table, page=page, page_size=page_size)


def reward_text(reward: dict[str, Any]) -> str:
    what = (f"coupon {reward.get('coupon_id')}" if reward.get("kind") == "coupon"
            else f"gift {reward.get('sku_id')}")
    return f"{reward['title']} ({what})" if reward.get("title") else what


ASSIST_COLUMNS = (Col("id", "id"), Col("reward", min=10), Col("helps", "fixed", "right"),
                  Col("new only", "fixed"), Col("ttl", "fixed", "right"),
                  Col("rewarded", "fixed", "right"), Col("status", "fixed"),
                  Col("window", min=12))


def assists_table(data: dict[str, Any]) -> None:
    print_list(ASSIST_COLUMNS, [
        (campaign["id"], reward_text(campaign["reward"]), str(campaign["assists_needed"]),
         "yes" if campaign.get("new_users_only") else "no", f"{campaign['ttl_minutes']} min",
         f"{campaign['rewarded']}/{campaign['reward_limit']}", status_text(campaign["status"]),
         window_text(campaign)) for campaign in data["items"]], data, "assists")


@assists.command("create")
def assists_create(
    ctx: typer.Context,
    assists_needed: int = typer.Option(..., help="Helps that earn the reward, 1-100."),
    ttl_minutes: int = typer.Option(..., help="Minutes one shopper's assist runs."),
    reward_limit: int = typer.Option(..., help="Rewards granted at most."),
    starts_at: str = typer.Option(..., help=f"Start: {WINDOW_HELP}."),
    ends_at: str = typer.Option(..., help="End, as --starts-at."),
    coupon_id: Optional[str] = typer.Option(None, help="Reward: this coupon template."),
    gift_sku_id: Optional[str] = typer.Option(None, help="Reward: this SKU, shipped free."),
    new_users_only: bool = typer.Option(False, "--new-users-only",
                                        help="Only helps from new users count."),
) -> None:
    """Create a friend-assist campaign: give --coupon-id or --gift-sku-id as the reward."""
    if bool(coupon_id) == bool(gift_sku_id):
        raise typer.BadParameter("give the reward: --coupon-id or --gift-sku-id, one of them")
    reward = ({"kind": "coupon", "coupon_id": coupon_id} if coupon_id
              else {"kind": "gift", "sku_id": gift_sku_id})
    campaign = shop(ctx).call("merchant_create_assist", present({
        "reward": reward, "assists_needed": assists_needed, "ttl_minutes": ttl_minutes,
        "reward_limit": reward_limit, "new_users_only": new_users_only,
        "starts_at": parse_moment(starts_at, "--starts-at"),
        "ends_at": parse_moment(ends_at, "--ends-at")}))
    done(ctx, f"created assist campaign {campaign['id']}")
    emit(ctx, campaign, lambda value: assists_table({"items": [value]}))


@assists.command("list")
def assists_list(ctx: typer.Context, page: int = page_option(),
                 page_size: int = page_size_option()) -> None:
    """List friend-assist campaigns, newest first, with how many rewards were granted."""
    list_page(ctx, "merchant_list_assists", assists_table, page=page, page_size=page_size)
