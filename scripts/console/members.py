"""shopctl members: levels by growth, and points."""
from __future__ import annotations

from typing import Any, List, Optional

import typer
from rich.table import Table

from .base import done, emit, emit_line, out, shop
from .options import list_page, page_option, page_size_option, present
from .views import cell, print_page, when, yuan

app = typer.Typer(help="Members: levels by growth (fen paid, net of refunds), "
                       "points (1 point = 1 fen at checkout), and blocking a shopper.",
                  no_args_is_help=True)


def members_table(data: dict[str, Any]) -> None:
    table = Table()
    table.add_column("user", no_wrap=True)
    table.add_column("nickname")
    table.add_column("level", no_wrap=True)
    table.add_column("growth", justify="right", no_wrap=True)
    table.add_column("points", justify="right")
    table.add_column("last order", no_wrap=True)
    for member in data["items"]:
        table.add_row(member["user_id"], cell(member.get("nickname")), cell(member["level"]),
                      yuan(member.get("growth", 0)), str(member.get("points", 0)),
                      when(member.get("last_order_at")))
    print_page(table, data, "members")


def levels_table(data: dict[str, Any]) -> None:
    table = Table(title="Member levels", title_justify="left")
    table.add_column("level")
    table.add_column("from growth", justify="right", no_wrap=True)
    table.add_column("discount", justify="right")
    for level in data["levels"]:
        table.add_row(cell(level["name"]), yuan(level["min_growth"]),
                      f"{level.get('discount_percent', 0)}%")
    out.print(table)


def parse_level(text: str) -> dict[str, Any]:
    name, _, rest = text.partition(":")
    growth, _, discount = rest.partition(":")
    try:
        return {"name": name.strip(), "min_growth": int(growth),
                "discount_percent": int(discount or 0)}
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not NAME:MIN_GROWTH_FEN[:DISCOUNT_PERCENT], e.g. "
                                 f"silver:100000:2", param_hint="--set") from None


@app.command("list")
def members_list(
    ctx: typer.Context,
    level: Optional[str] = typer.Option(None, help="Only members at this level."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List members by growth, highest first (growth in yuan: what they paid, net of refunds)."""
    list_page(ctx, "merchant_list_members", members_table, level=level, page=page,
              page_size=page_size)


def adjustment_text(data: dict[str, Any]) -> str:
    entry = data["entry"]
    return (f"{data['user_id']}: {entry['points']:+d} points ({entry['reason']}), "
            f"balance {data['points']}")


@app.command("adjust-points", context_settings={"ignore_unknown_options": True})
def members_adjust_points(
    ctx: typer.Context,
    user_id: str = typer.Argument(...),
    points: int = typer.Argument(..., help="Signed: 500 adds, -200 takes away (never below 0)."),
    reason: str = typer.Option(..., "--reason", help="Why; the shopper sees it in their ledger."),
    request_id: Optional[str] = typer.Option(
        None, help="Any unique text (8+ characters): adjusting again with it does nothing."),
) -> None:
    """Add or take points: one ledger entry with your reason."""
    if points == 0:
        raise typer.BadParameter("points must not be 0", param_hint="POINTS")
    payload = {"user_id": user_id, "points": points, "reason": reason, "request_id": request_id}
    data = shop(ctx).call("merchant_adjust_points", present(payload))
    emit_line(ctx, data, adjustment_text)


@app.command("levels")
def members_levels(
    ctx: typer.Context,
    set_: List[str] = typer.Option(
        [], "--set", help="Replace the levels: NAME:MIN_GROWTH:DISCOUNT_PERCENT, repeatable; "
                          "growth in fen (100000 = ¥1000 paid), discount 0-50, the lowest "
                          "level from 0. E.g. --set normal:0:0 --set silver:100000:2."),
) -> None:
    """Show the member levels, or set them with --set (members move to the new levels)."""
    client = shop(ctx)
    if set_:
        data = client.call("merchant_set_member_levels",
                           {"levels": [parse_level(text) for text in set_]})
        done(ctx, f"set {len(data['levels'])} levels; {data.get('members_moved', 0)} members "
                  f"changed level")
    else:
        data = {"levels": client.call("merchant_list_members", {"page_size": 1})["levels"]}
    emit(ctx, data, levels_table)


@app.command("block")
def members_block(
    ctx: typer.Context,
    user_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the user, for the books)."),
) -> None:
    """Block a shopper: every token they hold stops working now, and they cannot log in."""
    data = shop(ctx).call("merchant_block_user", {"user_id": user_id, "reason": reason})
    emit_line(ctx, data, lambda d: f"blocked {d['user_id']} ({d['reason']}): logged out "
                                   f"everywhere, login refused")


@app.command("unblock")
def members_unblock(ctx: typer.Context, user_id: str = typer.Argument(...)) -> None:
    """Let a blocked shopper log in again (they log in afresh; old sessions stay ended)."""
    data = shop(ctx).call("merchant_unblock_user", {"user_id": user_id})
    emit_line(ctx, data, lambda d: f"unblocked {d['user_id']}: they may log in again")
