"""shopctl campaigns: a subscribe message to an audience at a set time, and what it sold."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import Shop, done, emit, err, fail, out, shop
from .charts import empty_panel, horizontal_bars, save_png, two_panels, vertical_bars
from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import details, status_text, when, yuan

app = typer.Typer(help="Merchant campaigns: one subscribe message (and maybe a coupon) "
                       "to an audience at a set time; stats of what it sent and sold.",
                  no_args_is_help=True)


def parse_names(values: List[str]) -> Optional[List[str]]:
    """Repeatable and comma-separated alike: --tags vip --tags new, or --tags vip,new."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def parse_template_data(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint="--data") from None
    if not isinstance(data, dict):
        raise typer.BadParameter('a JSON object of template fields, e.g. '
                                 '\'{"thing1": "全场八折", "time2": "2030-05-01"}\'',
                                 param_hint="--data")
    return data


def parse_send_at(send_at: str) -> Optional[str]:
    if send_at.strip().lower() == "now":
        return datetime.now(timezone.utc).isoformat()
    return parse_moment(send_at, "--send-at")


def audience_text(audience: dict[str, Any]) -> str:
    parts = []
    if audience.get("tags"):
        parts.append("tags " + "|".join(audience["tags"]))
    if audience.get("member_levels"):
        parts.append("levels " + "|".join(audience["member_levels"]))
    if audience.get("last_order_after"):
        parts.append(f"last order ≥ {when(audience['last_order_after'])}")
    if audience.get("last_order_before"):
        parts.append(f"last order < {when(audience['last_order_before'])}")
    if audience.get("min_total_spent"):
        parts.append(f"spent ≥ {yuan(audience['min_total_spent'])}")
    parts.append(f"subscribed to {audience.get('subscribed_template')}")
    return ", ".join(parts)


CAMPAIGN_COLUMNS = (Col("id", "id"), Col("name"), Col("status", "fixed"), time_col("send at"),
                    Col("audience", min=12), Col("coupon", "id"))


def campaigns_table(data: dict[str, Any]) -> None:
    print_list(CAMPAIGN_COLUMNS, [
        (campaign["id"], campaign["name"], status_text(campaign["status"]),
         when(campaign["send_at"]), audience_text(campaign["audience"]),
         campaign.get("coupon_id")) for campaign in data["items"]], data, "campaigns")


def show_campaign(campaign: dict[str, Any]) -> None:
    details([("campaign", campaign["id"]), ("name", campaign["name"]),
             ("status", status_text(campaign["status"])), ("send at", when(campaign["send_at"])),
             ("audience", audience_text(campaign["audience"])),
             ("template", campaign["template_id"]), ("page", campaign["page"]),
             ("data", json.dumps(campaign.get("data") or {}, ensure_ascii=False)),
             ("coupon", campaign.get("coupon_id")), ("created", when(campaign["created_at"]))])


@app.command("create")
def campaigns_create(
    ctx: typer.Context,
    name: str = typer.Option(..., help="Name, for you (shoppers see the message only)."),
    template_id: str = typer.Option(..., help="Subscribe-message template id."),
    page: str = typer.Option(..., help="Mini-program page the message opens, e.g. "
                                       "pages/index/index."),
    data: str = typer.Option(..., "--data", help='Template fields as JSON, e.g. '
                                                 '\'{"thing1": "全场八折", "time2": "5月1日"}\'.'),
    send_at: str = typer.Option(..., help="When to send: a date or ISO datetime (no zone means "
                                          "Beijing time), or now."),
    tags: List[str] = typer.Option([], "--tags", help="Users with any of these tags; "
                                                      "repeatable or comma-separated."),
    member_levels: List[str] = typer.Option(
        [], "--member-levels", help="Users at any of these member levels (normal: also users "
                                    "with no level); repeatable or comma-separated."),
    last_order_before: Optional[str] = typer.Option(
        None, help="Last paid order before this moment (users who never ordered are out)."),
    last_order_after: Optional[str] = typer.Option(
        None, help="Last paid order at or after this moment."),
    min_total_spent: Optional[int] = typer.Option(
        None, min=0, help="Paid at least this much in all, in fen (10000 = ¥100.00)."),
    subscribed_template: Optional[str] = typer.Option(
        None, help="Only users holding a subscription to this template (default: "
                   "--template-id, the one the message is sent with)."),
    coupon_id: Optional[str] = typer.Option(None, help="Also give each messaged user this "
                                                       "coupon (see `coupons list`), once."),
    request_id: Optional[str] = typer.Option(
        None, help="Any unique text: creating again with it returns the first campaign."),
) -> None:
    """Schedule a campaign; the campaign_dispatch timer sends it once its time has come."""
    moment = parse_send_at(send_at)
    audience = {"tags": parse_names(tags), "member_levels": parse_names(member_levels),
                "last_order_before": parse_moment(last_order_before, "--last-order-before"),
                "last_order_after": parse_moment(last_order_after, "--last-order-after"),
                "min_total_spent": min_total_spent,
                "subscribed_template": subscribed_template or template_id}
    payload = {"name": name, "template_id": template_id, "page": page,
               "data": parse_template_data(data), "send_at": moment, "coupon_id": coupon_id,
               "request_id": request_id, "audience": present(audience)}
    campaign = shop(ctx).call("merchant_create_campaign", present(payload))
    done(ctx, f"scheduled campaign {campaign['id']} for {when(campaign['send_at'])}")
    emit(ctx, campaign, show_campaign)


@app.command("list")
def campaigns_list(ctx: typer.Context, page: int = page_option(),
                   page_size: int = page_size_option()) -> None:
    """List campaigns, newest first: status, send time and audience."""
    list_page(ctx, "merchant_list_campaigns", campaigns_table, page=page, page_size=page_size)


def skipped_total(data: dict[str, Any]) -> int:
    return sum((data.get("skipped") or {}).values())


def batches_text(job: dict[str, Any]) -> str:
    text = f"{job.get('batches_done', 0)}/{job.get('batches', 0)} batches done" if job else "-"
    if job and not job.get("batches"):
        text = "none: nobody matched the audience"
    if job.get("batches_failed"):
        text += f", {job['batches_failed']} failed (the next timer run retries them)"
    return text


def stats_table(data: dict[str, Any]) -> Table:
    table = Table(title="Messages and orders", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    audience = str(data["audience"]) + (" (estimate)" if data.get("audience_is_estimate") else "")
    table.add_row("audience", audience)
    table.add_row("queued", str(data["queued"]))
    table.add_row("waiting to send", str(data["pending"]))
    table.add_row(Text("sent", style="green"), str(data["sent"]))
    for reason, count in sorted((data.get("skipped") or {}).items()):
        table.add_row(Text(f"skipped: {reason}", style="dim"), str(count))
    table.add_row(Text("failed (dead)", style="red" if data["failed"] else ""),
                  str(data["failed"]))
    table.add_row("coupons granted", str(data.get("coupons_granted", 0)))
    table.add_row(f"orders within {data['attribution_days']} days", str(data["orders"]))
    table.add_row("buyers", str(data["buyers"]))
    table.add_row(Text("revenue (net of refunds)", style="bold"),
                  Text(yuan(data["revenue"]), style="bold"))
    table.add_row("refunds", yuan(data["refunds"]))
    return table


def campaign_stats_tables(data: dict[str, Any]) -> None:
    details([("campaign", data["campaign_id"]), ("name", data["name"]),
             ("status", status_text(data["status"])), ("send at", when(data["send_at"])),
             ("batches", batches_text(data.get("job") or {}))])
    out.print(stats_table(data))


def write_campaign_png(data: dict[str, Any], path: Path) -> None:
    """Where the messages went and the reasons for skips, side by side, as a PNG."""
    figure, funnel_ax, skipped_ax = two_panels()
    rows = [("audience", data["audience"]), ("queued", data["queued"]),
            ("sent", data["sent"]), ("skipped", skipped_total(data)),
            ("failed", data["failed"]), ("waiting", data["pending"]),
            ("orders (7 days)", data["orders"])]
    colours = ["#576b95", "#576b95", "#07c160", "#b2b2b2", "#fa5151", "#ffc300", "#10aeff"]
    horizontal_bars(funnel_ax, [r[0] for r in rows], [r[1] for r in rows], colours)
    funnel_ax.set_title(f"Messages · revenue {yuan(data['revenue'])} from {data['buyers']} "
                        f"buyers")
    skipped = sorted((data.get("skipped") or {}).items())
    if skipped:
        vertical_bars(skipped_ax, [reason for reason, _ in skipped],
                      [count for _, count in skipped], "#b2b2b2")
        skipped_ax.tick_params(axis="x", labelrotation=15)
    else:
        empty_panel(skipped_ax, "nobody skipped")
        skipped_ax.set_xticks([])
        skipped_ax.set_yticks([])
    skipped_ax.set_title("Skipped, by reason")
    skipped_ax.set_ylabel("users")
    save_png(figure, f"Campaign {data['campaign_id']} ({data['status']})", path)


def wait_until_done(client: Shop, campaign_id: str, interval: float,
                    timeout: float) -> dict[str, Any]:
    """Poll the stats until the campaign is done, with a progress bar of its batches."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    payload = {"campaign_id": campaign_id}
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("batches"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) \
            as progress:
        task = progress.add_task(campaign_id, total=None)
        while True:
            data: dict[str, Any] = client.call("merchant_campaign_stats", payload, quiet=True)
            job = data.get("job") or {}
            progress.update(task, total=job.get("batches") or None,
                            completed=job.get("batches_done", 0),
                            description=f"{campaign_id} {data['status']} · {data['queued']} "
                                        f"queued, {data['sent']} sent")
            if data["status"] == "done":
                return data
            if time.monotonic() >= deadline:
                fail(f"{campaign_id} is still {data['status']} after {timeout:g} s "
                     f"(the campaign_dispatch timer runs every minute)")
            time.sleep(interval)


@app.command("stats")
def campaigns_stats(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(...),
    png: Optional[Path] = typer.Option(None, "--png", help="Also draw the stats into this "
                                                           "PNG file."),
    wait: bool = typer.Option(False, "--wait", help="First wait, with a progress bar, until "
                                                    "the campaign is done."),
    interval: float = typer.Option(5.0, min=0.05, help="--wait: seconds between polls."),
    timeout: float = typer.Option(900.0, min=0.0, help="--wait: give up after this many "
                                                       "seconds (exit 1)."),
) -> None:
    """Audience, sent, skipped by reason, failed; orders and revenue (yuan, net of refunds) \
paid by messaged users within 7 days after their message."""
    client = shop(ctx)
    if wait:
        data = wait_until_done(client, campaign_id, interval, timeout)
    else:
        data = client.call("merchant_campaign_stats", {"campaign_id": campaign_id})
    emit(ctx, data, campaign_stats_tables)
    if png is not None:
        write_campaign_png(data, png)
        done(ctx, f"wrote {png}")
