"""shopctl fission: shares, invitations and what they sold."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import done, emit, emit_line, out, shop
from .charts import empty_panel, horizontal_bars, save_png, two_panels, vertical_bars
from .grid import Col, print_grid
from .options import parse_moment, present
from .views import when, yuan

app = typer.Typer(help="Referral and fission: shares, opens, new and paying users, "
                       "revenue, K-factor and the invite tree.", no_args_is_help=True)

FUNNEL = (("shares", "shares"), ("sharing users", "sharing_users"), ("opens", "opens"),
          ("unique openers", "unique_openers"), ("invited users", "invited_users"),
          ("new users", "new_users"), ("paying users", "paying_users"),
          ("attributed orders", "orders"))


def reward_text(reward: Optional[dict[str, Any]]) -> str:
    if not reward or reward.get("kind") in (None, "none"):
        return "no referral reward set"
    if reward["kind"] == "points":
        return f"{reward.get('points')} points to the inviter per invitee's first paid order"
    return f"coupon {reward.get('coupon_id')} to the inviter per invitee's first paid order"


def scope_text(data: dict[str, Any]) -> str:
    scope = [f"campaign {data['campaign_id']}" if data.get("campaign_id") else "all shares",
             f"{when(data.get('from')) if data.get('from') else 'the start'} → "
             f"{when(data.get('to')) if data.get('to') else 'now'}"]
    return " · ".join(scope)


def funnel_table(data: dict[str, Any]) -> Table:
    summary = Table(title="Fission funnel", title_justify="left")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for label, key in FUNNEL:
        summary.add_row(label, str(data.get(key, 0)))
    summary.add_row("revenue", yuan(data.get("revenue", 0)))
    summary.add_row(Text("K-factor", style="bold"),
                    Text(f"{data.get('k_factor', 0):.2f}", style="bold"))
    return summary


def depth_table(rows: list[dict[str, Any]]) -> Table:
    depth = Table(title="Invite tree depth", title_justify="left")
    depth.add_column("depth", justify="right")
    depth.add_column("users", justify="right")
    depth.add_column("share", justify="right")
    total = sum(row["users"] for row in rows)
    for row in rows:
        depth.add_row(str(row["depth"]), str(row["users"]),
                      f"{100 * row['users'] / total:.0f}%" if total else "-")
    return depth


CONTRIBUTOR_COLUMNS = (Col("user", "id"), Col("nickname"),
                       *(Col(name, "fixed", "right") for name in
                         ("shares", "direct", "downstream", "new users", "revenue")))


def contributors_table(rows: list[dict[str, Any]]) -> None:
    print_grid(CONTRIBUTOR_COLUMNS, [
        (row["user_id"], row.get("nickname"), str(row["shares"]), str(row["direct"]),
         str(row["downstream"]), str(row["new_users"]), yuan(row["revenue"])) for row in rows],
        title="Top contributors (downstream: everyone below them in the tree)")


def fission_tables(data: dict[str, Any]) -> None:
    out.print(Text(scope_text(data), style="dim"))
    out.print(funnel_table(data))
    rows = data.get("depth_distribution") or []
    out.print(depth_table(rows))
    if not rows:
        out.print(Text("nobody invited yet", style="dim"))
    contributors_table(data.get("top_contributors") or [])
    rewards = data.get("rewards") or {}
    out.print(Text(f"{reward_text(data.get('reward'))}; granted {rewards.get('granted', 0)}, "
                   f"reversed {rewards.get('reversed', 0)}", style="dim"))


def write_fission_png(data: dict[str, Any], path: Path) -> None:
    """The funnel and the depth chart side by side, as a PNG."""
    figure, funnel_ax, depth_ax = two_panels()
    shown = [(label, key) for label, key in FUNNEL if label != "attributed orders"]
    horizontal_bars(funnel_ax, [label for label, _ in shown],
                    [data.get(key, 0) for _, key in shown], "#07c160")
    funnel_ax.set_title(f"Funnel · revenue {yuan(data.get('revenue', 0))} · "
                        f"K-factor {data.get('k_factor', 0):.2f}")
    rows = data.get("depth_distribution") or []
    if rows:
        vertical_bars(depth_ax, [str(row["depth"]) for row in rows],
                      [row["users"] for row in rows], "#576b95")
    else:
        empty_panel(depth_ax, "nobody invited yet")
    depth_ax.set_title("Invited users by depth in the invite tree")
    depth_ax.set_xlabel("depth")
    depth_ax.set_ylabel("users")
    title = f"Campaign {data['campaign_id']}" if data.get("campaign_id") else "All shares"
    save_png(figure, title, path)


@app.command("report")
def fission_report(
    ctx: typer.Context,
    campaign_id: Optional[str] = typer.Option(
        None, help="Only shares of this campaign (shares whose target is this id)."),
    from_: Optional[str] = typer.Option(
        None, "--from", help="Start, a date or ISO datetime; no zone means Beijing time."),
    to: Optional[str] = typer.Option(None, help="End, exclusive (as --from)."),
    top: int = typer.Option(10, min=1, max=100, help="How many top contributors."),
    png: Optional[Path] = typer.Option(
        None, "--png", help="Also draw the funnel and the depth chart into this PNG file."),
) -> None:
    """Shares, opens, new and paying users, revenue (yuan), K-factor and who brought whom.

    Depth 1: invited by a shopper nobody invited. Downstream: everyone below, not only direct.
    """
    payload = {"campaign_id": campaign_id, "from": parse_moment(from_, "--from"),
               "to": parse_moment(to, "--to"), "top": top}
    data = shop(ctx).call("merchant_fission_report", present(payload))
    emit(ctx, data, fission_tables)
    if png is not None:
        write_fission_png(data, png)
        done(ctx, f"wrote {png}")


@app.command("reward")
def fission_reward(
    ctx: typer.Context,
    points: Optional[int] = typer.Option(None, help="Points to the inviter (1 point = 1 fen "
                                                    "at checkout)."),
    coupon_id: Optional[str] = typer.Option(None, help="Or a coupon template (see `coupons "
                                                       "list`) to the inviter."),
    none: bool = typer.Option(False, "--none", help="Or no reward from now on."),
) -> None:
    """Set what an inviter earns per invitee's first paid order: --points, --coupon-id or
    --none (a full refund takes it back)."""
    if sum([points is not None, coupon_id is not None, none]) != 1:
        raise typer.BadParameter("give one of --points, --coupon-id or --none")
    kind = "points" if points is not None else "coupon" if coupon_id else "none"
    reward = shop(ctx).call("merchant_set_referral_reward",
                            present({"kind": kind, "points": points, "coupon_id": coupon_id}))
    emit_line(ctx, reward, reward_text)
