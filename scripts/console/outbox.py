"""shopctl outbox: the subscribe messages, queued, sent, skipped (and why) or dead."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer

from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option
from .views import status_text, when

app = typer.Typer(help="The outbox of subscribe messages: queued, sent, skipped (and why) "
                       "or dead.", no_args_is_help=True)


class OutboxStatus(str, Enum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    skipped = "skipped"
    dead = "dead"


# the message's id is purpose:occasion:user, each shown in its column
OUTBOX_COLUMNS = (Col("user", "id"), Col("purpose"), Col("occasion", "id"), Col("status", "fixed"),
                  Col("reason"), Col("template", "id"), Col("tries", "fixed", "right"),
                  time_col("created"), time_col("sent"))


def outbox_table(data: dict[str, Any]) -> None:
    print_list(OUTBOX_COLUMNS, [
        (message["user_id"], message["purpose"], message.get("occasion"),
         status_text(message["status"]), message.get("reason"), message.get("template_id"),
         str(message.get("attempts", 0)), when(message.get("created_at")),
         when(message.get("sent_at"))) for message in data["items"]], data, "messages")


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
