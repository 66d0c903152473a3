"""shopctl stores, deals, nearby, pickup: stores on the map, their deals, self-pickup (自提)."""
from __future__ import annotations

from enum import Enum
from typing import Any, List, Optional

import typer
from rich.text import Text

from .base import done, emit, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .orders import show_order
from .views import details, when, yuan

stores = typer.Typer(help="Stores on the map (GCJ-02 coordinates, as wx.getLocation gives "
                          "them), which shoppers find with nearby_stores.", no_args_is_help=True)
deals = typer.Typer(help="Nearby deals: a SKU at a deal price in some stores (or all), "
                         "optionally so many per day; ordered for self-pickup. Prices in fen.",
                    no_args_is_help=True)
nearby = typer.Typer(help="Nearby campaigns: a subscribe message to the shoppers who opted in "
                          "to nearby offers around a store.", no_args_is_help=True)
pickup = typer.Typer(help="Self-pickup (自提): verify the 8-digit code a shopper shows at the "
                          "store.", no_args_is_help=True)


class DealKind(str, Enum):
    featured = "featured"
    today_special = "today_special"


STORE_COLUMNS = (Col("id", "id"), Col("name"), Col("address", min=8), Col("lng,lat", "fixed"),
                 Col("hours", "fixed"), Col("phone", "fixed"), Col("tags"),
                 Col("active", "fixed"))


def active_text(active: bool) -> Text:
    return Text("yes") if active else Text("no", style="dim")


def stores_table(data: dict[str, Any]) -> None:
    print_list(STORE_COLUMNS, [
        (store["id"], store["name"], store["address"], f"{store['lng']:.5f},{store['lat']:.5f}",
         store.get("hours"), store.get("phone"), " ".join(store.get("tags") or []),
         active_text(store.get("active", True))) for store in data["items"]], data, "stores")


@stores.command("list")
def stores_list(
    ctx: typer.Context,
    active: Optional[bool] = typer.Option(None, "--active/--inactive",
                                          help="Only open or only closed stores; default both."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List stores with their location (lng,lat in GCJ-02), hours and tags."""
    list_page(ctx, "merchant_list_stores", stores_table, active=active, page=page,
              page_size=page_size)


@stores.command("save")
def stores_save(
    ctx: typer.Context,
    name: str = typer.Option(..., help="Store name, up to 50 characters."),
    address: str = typer.Option(..., help="Street address shoppers read."),
    lng: float = typer.Option(..., help="Longitude."),
    lat: float = typer.Option(..., help="Latitude."),
    wgs84: bool = typer.Option(False, "--wgs84",
                               help="The coordinates are WGS-84 (GPS); converted to GCJ-02."),
    phone: str = typer.Option("", help="Phone number shoppers may call."),
    hours: str = typer.Option("00:00-24:00", help="Opening hours, HH:MM-HH:MM, Beijing time."),
    tag: List[str] = typer.Option([], help="A tag, e.g. 停车; repeatable, up to 10."),
    inactive: bool = typer.Option(False, "--inactive", help="Closed: not found nearby."),
    store_id: Optional[str] = typer.Option(None, "--id",
                                           help="Replace this store instead of adding one."),
) -> None:
    """Add a store (or, with --id, replace one: give every option again)."""
    payload = {"store_id": store_id, "name": name, "address": address, "lng": lng, "lat": lat,
               "coord_system": "wgs84" if wgs84 else "gcj02", "phone": phone, "hours": hours,
               "tags": tag, "active": not inactive}
    store = shop(ctx).call("merchant_upsert_store", present(payload))
    done(ctx, f"saved store {store['id']}")
    emit(ctx, store, lambda value: stores_table({"items": [value]}))


DEAL_COLUMNS = (Col("id", "id"), Col("kind", "fixed"), Col("product"), Col("sku", "id"),
                Col("price", "fixed", "right"), Col("usual", "fixed", "right"),
                Col("per day", "fixed", "right"), Col("stores", min=6), Col("window", min=12))


def deal_stores(deal: dict[str, Any]) -> str:
    ids = deal["store_ids"]
    return "all" if ids == "all" else " ".join(ids)


def deals_table(data: dict[str, Any]) -> None:
    print_list(DEAL_COLUMNS, [
        (deal["id"], deal["kind"], deal["product"]["title"], deal["sku_id"],
         yuan(deal["deal_price"]), yuan(deal["original_price"]),
         str(deal["daily_quantity"]) if deal.get("daily_quantity") else "no limit",
         deal_stores(deal), f"{when(deal['starts_at'])} →\n{when(deal['ends_at'])}")
        for deal in data["items"]], data, "deals")


@deals.command("create")
def deals_create(
    ctx: typer.Context,
    sku_id: str = typer.Option(..., help="The SKU on offer (see `products show`)."),
    deal_price: int = typer.Option(..., help="Deal price in fen, below the SKU's price."),
    kind: DealKind = typer.Option(..., help="featured, or today_special."),
    starts_at: str = typer.Option(..., help="Start: a date or ISO datetime (no zone means "
                                            "Beijing time)."),
    ends_at: str = typer.Option(..., help="End, as --starts-at."),
    store_id: List[str] = typer.Option([], help="A store that offers it; repeatable."),
    all_stores: bool = typer.Option(False, "--all-stores", help="Every store offers it."),
    daily_quantity: Optional[int] = typer.Option(
        None, help="At most this many a day (Asia/Shanghai days); default no limit."),
) -> None:
    """Create a nearby deal in some stores (--store-id, repeatable) or all (--all-stores)."""
    if bool(store_id) == all_stores:
        raise typer.BadParameter("give --store-id (repeatable) or --all-stores, one of them")
    payload = {"store_ids": "all" if all_stores else store_id, "sku_id": sku_id,
               "deal_price": deal_price, "kind": kind.value,
               "starts_at": parse_moment(starts_at, "--starts-at"),
               "ends_at": parse_moment(ends_at, "--ends-at"), "daily_quantity": daily_quantity}
    deal = shop(ctx).call("merchant_create_deal", present(payload))
    done(ctx, f"created deal {deal['id']}")
    emit(ctx, deal, lambda value: deals_table({"items": [value]}))


@deals.command("list")
def deals_list(
    ctx: typer.Context,
    store_id: Optional[str] = typer.Option(None, help="Only deals this store offers."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List nearby deals, newest first (prices in yuan)."""
    list_page(ctx, "merchant_list_deals", deals_table, store_id=store_id, page=page,
              page_size=page_size)


@nearby.command("campaign")
def nearby_campaign(
    ctx: typer.Context,
    store_id: str = typer.Option(..., help="The store the shoppers are near."),
    radius_m: int = typer.Option(..., help="How far from the store, in metres (100 and up)."),
    deal_id: str = typer.Option(..., help="The deal the message is about."),
    message: str = typer.Option(..., help="The message, up to 100 characters."),
) -> None:
    """Queue one message per shopper who opted in and is within reach; once per shopper."""
    data = shop(ctx).call("merchant_nearby_campaign", {
        "store_id": store_id, "radius_m": radius_m, "deal_id": deal_id, "message": message})
    emit(ctx, data, lambda d: details([
        ("campaign", d["campaign_id"]), ("queued", f"{d['queued']} messages (see `outbox list "
                                                   f"--purpose nearby_campaign`)"),
        ("cells", d.get("cells"))]))


@pickup.command("verify")
def pickup_verify(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The 8-digit code the shopper shows."),
) -> None:
    """The shopper collected a paid self-pickup order: it becomes completed."""
    order = shop(ctx).call("merchant_verify_pickup", {"code": code})
    done(ctx, f"picked up: order {order['id']} is {order['status']}")
    emit(ctx, order, show_order)
