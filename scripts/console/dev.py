"""shopctl dev: the dev/test-only merchant actions (a deployed shop refuses them)."""
from __future__ import annotations

import json

import typer

from .base import emit, emit_line, shop

app = typer.Typer(help="Dev and test only (the shop answers FORBIDDEN in production): mark "
                       "an order paid, run a timer now.", no_args_is_help=True)


@app.command("mark-paid")
def dev_mark_paid(ctx: typer.Context, order_id: str = typer.Argument(...)) -> None:
    """Mark an unpaid order paid, as a payment notify would (no WeChat Pay involved)."""
    order = shop(ctx).call("merchant_mark_paid", {"order_id": order_id})
    emit_line(ctx, order, lambda value: f"{value['id']}: {value['status']}")


@app.command("run-timer")
def dev_run_timer(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="order_timeout, pay_reconcile, group_buy_expire, "
                                         "outbox_send, cart_reminder, ..."),
) -> None:
    """Run a timer function now and print what it did."""
    data = shop(ctx).call("dev_run_timer", {"name": name})
    emit(ctx, data, lambda value: typer.echo(
        f"{value['timer']}: {json.dumps(value['result'], ensure_ascii=False)}"))
