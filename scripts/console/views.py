"""How values and tables are shown: money in yuan, Beijing time, statuses in colour."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from rich.table import Table
from rich.text import Text

from .base import BEIJING, out

STATUS_STYLES = {"on_sale": "green", "off_shelf": "dim", "pending_payment": "yellow",
                 "paid": "cyan", "shipped": "blue", "completed": "green", "cancelled": "dim",
                 "refunding": "magenta", "refunded": "dim",
                 # after-sales: what waits for the merchant stands out
                 "pending_review": "bold yellow", "awaiting_return": "yellow",
                 "return_shipped": "bold yellow", "rejected": "dim",
                 "refund_failed": "bold red",
                 # group-buy campaigns
                 "active": "green", "ended": "dim",
                 # campaigns and the outbox
                 "scheduled": "yellow", "sending": "cyan", "done": "green",
                 "queued": "yellow", "sent": "green", "skipped": "dim", "dead": "bold red"}

def yuan(fen: Optional[int]) -> str:
    if fen is None:
        return "-"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def price_range(low: int, high: Optional[int]) -> str:
    return yuan(low) if high in (None, low) else f"{yuan(low)}–{yuan(high)}"


def when(value: Optional[str]) -> str:
    """An API timestamp (ISO, UTC) in Beijing time, the shop's business clock."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def specs_text(specs: Optional[dict[str, str]]) -> str:
    return " ".join(f"{k}:{v}" for k, v in (specs or {}).items()) or "-"


def shipment_text(shipment: Optional[dict[str, Any]]) -> str:
    """Carrier and tracking number of a shipment (an order's, or an after-sale's return)."""
    shipment = shipment or {}
    return " ".join(filter(None, [shipment.get("carrier"), shipment.get("tracking_no")]))


def cell(value: Any) -> Text:
    # Text, never markup: a title such as "[限时]苹果" must print as typed
    return Text("-" if value in (None, "") else str(value))


def page_footer(data: dict[str, Any], noun: str) -> None:
    if not data["total"]:
        out.print(Text(f"no {noun}", style="dim"))
        return
    out.print(Text(f"page {data['page']} of {max(data.get('pages', 1), 1)} · "
                   f"{data['total']} {noun}", style="dim"))


def details(rows: list[tuple[str, Any]]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else cell(value))
    out.print(grid)
