"""shopctl live / community: live rooms and their report; communities, member prices, leaders'
commission and its settlement (the CSV is written here, from the settlement the shop made)."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import done, emit, emit_line, out, shop
from .charts import empty_panel, horizontal_bars, save_png, two_panels
from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import when, yuan

live = typer.Typer(help="Live rooms (直播): channels rooms entered here, plugin rooms synced by "
                        "the live_sync timer; a room's report.", no_args_is_help=True)
community = typer.Typer(help="Communities (社群/团长): leaders, member prices, commission and "
                             "its settlement.", no_args_is_help=True)


class RoomSource(str, Enum):
    plugin = "plugin"
    channels = "channels"


class RoomStatus(str, Enum):
    upcoming = "upcoming"
    live = "live"
    ended = "ended"


class CommissionStatus(str, Enum):
    pending = "pending"
    available = "available"
    paid = "paid"
    reversed = "reversed"


ROOM_COLUMNS = (Col("room", "id"), Col("source", "fixed"), Col("title"), Col("status", "fixed"),
                time_col("starts"), time_col("ends"), Col("products", "fixed", "right"),
                Col("subscribers", "fixed", "right"))


def rooms_table(data: dict[str, Any]) -> None:
    print_list(ROOM_COLUMNS, [
        (r["id"], r["source"], r["title"], r["status"], when(r["starts_at"]), when(r["ends_at"]),
         str(len(r.get("product_ids") or [])), str(r.get("subscribers", 0)))
        for r in data["items"]], data, "rooms")


@live.command("list")
def live_list(
    ctx: typer.Context,
    status: Optional[RoomStatus] = typer.Option(None, help="Only rooms in this status."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List rooms: upcoming first by start, the others latest first."""
    list_page(ctx, "list_live_rooms", rooms_table, status=status, page=page,
              page_size=page_size)


@live.command("upsert")
def live_upsert(
    ctx: typer.Context,
    title: str = typer.Option(..., help="The room's title."),
    external_id: str = typer.Option(..., help="The plugin's roomid, or the channels live id "
                                              "the mini-program opens."),
    starts_at: str = typer.Option(..., help="Start, ISO; no zone means Beijing time."),
    ends_at: str = typer.Option(..., help="Planned end, as --starts-at."),
    source: RoomSource = typer.Option(RoomSource.channels, help="channels or plugin."),
    room_id: Optional[str] = typer.Option(None, help="Update this room."),
    anchor_name: str = typer.Option("", help="The anchor (主播)."),
    cover: str = typer.Option("", help="Cover image URL."),
    product: Optional[List[str]] = typer.Option(None, "--product",
                                                help="A product shown in the room (repeat)."),
) -> None:
    """Enter or update a live room (channels rooms are entered here; plugin rooms sync)."""
    payload = {"room_id": room_id, "source": source.value, "external_id": external_id,
               "title": title, "anchor_name": anchor_name, "cover": cover,
               "starts_at": parse_moment(starts_at, "--starts-at"),
               "ends_at": parse_moment(ends_at, "--ends-at"), "product_ids": product or []}
    room = shop(ctx).call("merchant_upsert_live_room", present(payload))
    emit_line(ctx, room, lambda r: f"room {r['id']} saved: {r['title']} ({r['status']})")


def report_tables(data: dict[str, Any]) -> None:
    room = data["room"]
    out.print(Text(f"{room['title']} · {room['source']} · {room['status']} · "
                   f"{when(room['starts_at'])} → {when(room['ends_at'])}", style="dim"))
    summary = Table(title="Live report", title_justify="left")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for label, value in (("orders", data["orders"]), ("paid orders", data["paid_orders"]),
                         ("paid GMV", yuan(data["paid_gmv"])), ("refunds", yuan(data["refunds"])),
                         ("net GMV", yuan(data["net_gmv"])), ("buyers", data["buyers"]),
                         ("viewers who tapped a product", data["viewers"]),
                         ("of them buyers", data["viewer_buyers"]),
                         ("conversion", f"{100 * data['conversion']:.1f}%")):
        summary.add_row(label, str(value))
    out.print(summary)
    top = Table(title="Top products", title_justify="left")
    for header in ("product", "title", "quantity", "amount"):
        top.add_column(header, justify="right" if header in ("quantity", "amount") else "left")
    for row in data["top_products"]:
        top.add_row(row["product_id"], row["title"], str(row["quantity"]), yuan(row["amount"]))
    out.print(top)


def write_report_png(data: dict[str, Any], path: Path) -> None:
    """The funnel (viewers, buyers, orders) and the top products, as a PNG."""
    figure, funnel_ax, top_ax = two_panels()
    horizontal_bars(funnel_ax, ["viewers who tapped", "buyers", "of them viewers", "paid orders"],
                    [data["viewers"], data["buyers"], data["viewer_buyers"],
                     data["paid_orders"]], "#07c160")
    funnel_ax.set_title(f"GMV {yuan(data['paid_gmv'])} · refunds {yuan(data['refunds'])} · "
                        f"conversion {100 * data['conversion']:.1f}%")
    rows = data["top_products"][:8]
    if rows:
        horizontal_bars(top_ax, [r["title"][:12] or r["product_id"] for r in rows],
                        [r["quantity"] for r in rows], "#576b95")
    else:
        empty_panel(top_ax, "nothing sold yet")
    top_ax.set_title("Units sold by product")
    save_png(figure, f"Live room {data['room']['title']}", path)


@live.command("report")
def live_report(
    ctx: typer.Context,
    room_id: str = typer.Argument(...),
    png: Optional[Path] = typer.Option(None, "--png", help="Also draw the report into this PNG."),
) -> None:
    """A room's orders, paid GMV, refunds, buyers, top products, and the viewers who tapped a
    product (tracking events) -> buyers conversion."""
    data = shop(ctx).call("merchant_live_report", {"room_id": room_id})
    emit(ctx, data, report_tables)
    if png is not None:
        write_report_png(data, png)
        done(ctx, f"wrote {png}")


# ---- communities -------------------------------------------------------------------------------

@community.command("create")
def community_create(
    ctx: typer.Context,
    name: str = typer.Option(..., help="The community's name."),
    leader_user_id: str = typer.Option(..., help="The leader (团长), a shopper's user id."),
    commission_percent: int = typer.Option(..., min=0, max=50,
                                           help="Of the paid goods amount of members' orders."),
    pickup_store_id: Optional[str] = typer.Option(None, help="Where members pick up."),
) -> None:
    """Create a community led by a shopper."""
    made = shop(ctx).call("merchant_create_community", present({
        "name": name, "leader_user_id": leader_user_id,
        "commission_percent": commission_percent, "pickup_store_id": pickup_store_id}))
    emit_line(ctx, made, lambda c: f"community {c['id']} created: {c['name']}, "
                                   f"{c['commission_percent']}% to {c['leader_user_id']}")


@community.command("price")
def community_price(
    ctx: typer.Context,
    sku_id: str = typer.Argument(...),
    price: int = typer.Argument(..., help="The member price in fen."),
    community_id: Optional[str] = typer.Option(None, help="Only this community (default: all)."),
) -> None:
    """Set a SKU's member price, for one community or all."""
    set_ = shop(ctx).call("merchant_set_community_price", present(
        {"sku_id": sku_id, "price": price, "community_id": community_id}))
    emit_line(ctx, set_, lambda p: f"{p['sku_id']}: members pay {yuan(p['price'])} "
                                   f"(catalog {yuan(p['catalog_price'])})")


COMMISSION_COLUMNS = (Col("entry", "id"), Col("leader", "id"), Col("order", "id"),
                      Col("status", "fixed"), Col("amount", "fixed", "right"),
                      Col("reversed", "fixed", "right"), Col("net", "fixed", "right"),
                      time_col("available"))


def commissions_table(data: dict[str, Any]) -> None:
    print_list(COMMISSION_COLUMNS, [
        (c["id"], c["leader_user_id"], c.get("order_id") or "", c["status"], yuan(c["amount"]),
         yuan(c["reversed"]), yuan(c["net"]), when(c.get("available_at")))
        for c in data["items"]], data, "entries")
    totals = data.get("totals") or {}
    out.print(Text(" · ".join(f"{k} {yuan(v)}" for k, v in totals.items()), style="dim"))


@community.command("commissions")
def community_commissions(
    ctx: typer.Context,
    leader_user_id: Optional[str] = typer.Option(None, help="Only this leader's."),
    status: Optional[CommissionStatus] = typer.Option(None, help="Only in this status."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """Leaders' commission entries, newest first, with the net totals by status."""
    list_page(ctx, "merchant_list_commissions", commissions_table,
              leader_user_id=leader_user_id, status=status, page=page, page_size=page_size)


@community.command("settle")
def community_settle(
    ctx: typer.Context,
    leader_user_id: str = typer.Argument(...),
    up_to: str = typer.Option(..., help="Settle what became available up to this moment (ISO; "
                                        "no zone means Beijing time)."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write the settlement's CSV here "
                                                                "(default: settlement-<id>.csv)."),
) -> None:
    """Mark a leader's available commission paid (once), and write the settlement CSV."""
    settled = shop(ctx).call("merchant_settle_commissions", {
        "leader_user_id": leader_user_id, "up_to": parse_moment(up_to, "--up-to")})
    path = csv_path or Path(f"settlement-{settled['id']}.csv")
    try:
        path.write_text(settled["csv"], encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror or exc}") from None
    emit_line(ctx, settled, lambda s: f"settlement {s['id']}: {s['entries']} entries, "
                                      f"{yuan(s['amount'])}; wrote {path}")
