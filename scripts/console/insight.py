"""shopctl insight and shopctl tags: funnels, a shopper's profile, rule tags."""
from __future__ import annotations

import json
from typing import Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import emit, emit_line, out, shop
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import cell, yuan

insight = typer.Typer(help="Tracking (埋点): funnels over tracked events, a shopper's profile "
                           "(画像).", no_args_is_help=True)
tags = typer.Typer(help="Rule tags (标签): interest, RFM segment, spend, events in a window, "
                        "other tags; evaluated hourly and on demand.", no_args_is_help=True)


# ---- insight -------------------------------------------------------------------------------

def funnel_table(data: dict[str, Any]) -> None:
    table = Table(title=f"Funnel {data['from']} → {data['to']} "
                        f"(window {data['window_hours']} h)", title_justify="left")
    table.add_column("step")
    table.add_column("users", justify="right")
    table.add_column("from previous", justify="right")
    for step in data["steps"]:
        table.add_row(cell(step["name"]), str(step["users"]), f"{100 * step['conversion']:.1f}%")
    table.add_row(Text("overall", style="bold"), "", Text(f"{100 * data['overall']:.1f}%",
                                                          style="bold"))
    out.print(table)


@insight.command("funnel")
def insight_funnel(
    ctx: typer.Context,
    steps: List[str] = typer.Argument(..., help="Event names in order, e.g. page_view "
                                                "product_view add_to_cart order_paid."),
    from_: str = typer.Option(..., "--from", help="Entry from, a date or ISO datetime; no "
                                                  "zone means Beijing time."),
    to: str = typer.Option(..., help="Entry until (as --from)."),
    window_hours: int = typer.Option(24, min=1, max=2160,
                                     help="Hours from the first step to finish the funnel."),
) -> None:
    """Shoppers at each step (after the step before, within the window) and conversions."""
    payload = {"steps": steps, "from": parse_moment(from_, "--from"),
               "to": parse_moment(to, "--to"), "window_hours": window_hours}
    emit(ctx, shop(ctx).call("merchant_funnel", payload), funnel_table)


def profile_view(data: dict[str, Any]) -> None:
    rfm = data["rfm"]
    out.print(Text(f"{data['user_id']}  tags: {', '.join(data['tags']) or '-'}", style="bold"))
    out.print(f"RFM: last order {rfm['recency_days'] if rfm['recency_days'] is not None else '-'}"
              f" days ago, {rfm['frequency']} orders, {yuan(rfm['monetary'])} · segment "
              f"{rfm['segment']} · spending band {data['spending_band']}")
    hours = ", ".join(f"{hour:02d}:00" for hour in data["active_hours"]) or "-"
    out.print(f"active hours (Beijing): {hours}")
    table = Table(title="Interest", title_justify="left")
    table.add_column("category")
    table.add_column("score", justify="right")
    for row in data["interests"]:
        table.add_row(cell(row["category_id"]), f"{row['score']:.2f}")
    out.print(table)


@insight.command("profile")
def insight_profile(ctx: typer.Context, user_id: str = typer.Argument(...)) -> None:
    """A shopper's tags, interest per category, RFM, active hours and spending band."""
    emit(ctx, shop(ctx).call("merchant_get_user_profile", {"user_id": user_id}), profile_view)


# ---- tags ----------------------------------------------------------------------------------

TAG_COLUMNS = (Col("tag"), Col("users", "fixed", "right"), Col("rule"))


def tags_table(data: dict[str, Any]) -> None:
    print_list(TAG_COLUMNS, [
        (tag["name"], str(tag["users"]), json.dumps(tag["rule"], ensure_ascii=False))
        for tag in data["items"]], data, "tags")


USER_COLUMNS = (Col("user", "id"), Col("nickname"), Col("tags"))


def tag_users_table(data: dict[str, Any]) -> None:
    print_list(USER_COLUMNS, [(user["user_id"], user.get("nickname"), ", ".join(user["tags"]))
                              for user in data["items"]], data, "users")


def parse_rule(text: str) -> dict[str, Any]:
    try:
        rule = json.loads(text)
    except ValueError:
        raise typer.BadParameter("not JSON, e.g. '{\"segment\": [\"important_value\"]}'",
                                 param_hint="--rule") from None
    if not isinstance(rule, dict):
        raise typer.BadParameter("a rule is a JSON object", param_hint="--rule")
    return rule


@tags.command("upsert")
def tags_upsert(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The tag, e.g. 彩妆爱好者."),
    rule: str = typer.Option(..., help="The rule as JSON: one of all, any, interest, segment, "
                                       "spend, events, tag (see the README, Profiles and tags)."),
    description: Optional[str] = typer.Option(None, help="What the tag means."),
) -> None:
    """Create or change a rule tag; `tags refresh` applies it now (the timer within the hour)."""
    data = shop(ctx).call("merchant_upsert_tag", present({
        "name": name, "rule": parse_rule(rule), "description": description}))
    emit_line(ctx, data, lambda tag: f"tag {tag['name']} saved ({tag['users']} users now)")


@tags.command("refresh")
def tags_refresh(
    ctx: typer.Context,
    name: Optional[str] = typer.Option(None, help="Also answer this tag's count."),
) -> None:
    """Roll up the new events and evaluate every rule tag for the shoppers now."""
    data = shop(ctx).call("merchant_refresh_tags", present({"name": name}))

    def line(result: dict[str, Any]) -> str:
        text = (f"{result['evaluated']} shoppers evaluated, {result['changed']} changed"
                + ("" if result["complete"] else " (the timer goes on with the rest)"))
        return text + (f"; {result['tag']['name']}: {result['tag']['users']} users"
                       if result.get("tag") else "")
    emit_line(ctx, data, line)


@tags.command("list")
def tags_list(ctx: typer.Context, page: int = page_option(),
              page_size: int = page_size_option()) -> None:
    """The rule tags, their shoppers and rules."""
    list_page(ctx, "merchant_list_tags", tags_table, page=page, page_size=page_size)


@tags.command("users")
def tags_users(ctx: typer.Context, name: str = typer.Argument(...),
               page: int = page_option(), page_size: int = page_size_option()) -> None:
    """The shoppers who have a tag."""
    list_page(ctx, "merchant_list_tag_users", tag_users_table, name=name, page=page,
              page_size=page_size)
