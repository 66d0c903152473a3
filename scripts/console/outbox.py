"""shopctl outbox: the subscribe messages, queued, sent, skipped (and why) or dead."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer
from rich.text import Text

from .options import list_page, page_option, page_size_option
from .views import cell, fitted_table, id_width, is_wide, print_page, status_text, when

app = typer.Typer(help="The outbox of subscribe messages: queued, sent, skipped (and why) "
                       "or dead.", no_args_is_help=True)


class OutboxStatus(str, Enum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    skipped = "skipped"
    dead = "dead"


def outbox_table(data: dict[str, Any]) -> None:
    # the id is purpose:occasion:user, each shown in its column
    wide = is_wide()
    table = fitted_table(narrow_padding=0)
    table.add_column("user", overflow="fold", min_width=id_width())
    table.add_column("purpose", overflow="fold")
    table.add_column("occasion", overflow="fold", min_width=id_width(narrow=8))
    table.add_column("status", no_wrap=True)
    table.add_column("reason", overflow="fold")
    if wide:
        table.add_column("template", overflow="fold")
        table.add_column("tries", justify="right")
    table.add_column("created", min_width=10)
    table.add_column("sent", min_width=10)
    for message in data["items"]:
        extra: list[Text | str] = [cell(message.get("template_id")),
                                   str(message.get("attempts", 0))] if wide else []
        table.add_row(message["user_id"], message["purpose"], cell(message.get("occasion")),
                      status_text(message["status"]), cell(message.get("reason")), *extra,
                      when(message.get("created_at")), when(message.get("sent_at")))
    print_page(table, data, "messages")


@app.command("list")
def outbox_list(
    ctx: typer.Context,
    purpose: Optional[str] = typer.Option(
        None, help="cart_reminder, birthday, campaign, nearby_campaign, coupon_expiry, ..."),
    user_id: Optional[str] = typer.Option(None, help="Only this shopper's messages."),
    status: Optional[OutboxStatus] = typer.Option(None, help="Default: all."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """List subscribe messages, newest first; in dev, sends are recorded here only."""
    list_page(ctx, "merchant_list_outbox", outbox_table, purpose=purpose, user_id=user_id,
              status=status, page=page, page_size=page_size)
