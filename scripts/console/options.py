"""Options and parsers several command groups share, and the one way a list command runs."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Callable, Optional

import typer

from .base import BEIJING, emit, shop


def page_option() -> Any:
    return typer.Option(1, min=1)


def page_size_option() -> Any:
    return typer.Option(20, min=1, max=100)


def present(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the options left out: the shop applies its defaults to those."""
    return {key: value for key, value in payload.items() if value is not None}


def list_page(ctx: typer.Context, action: str, render: Callable[[Any], None],
              **fields: Any) -> None:
    """One page of a merchant list: filters left out are not sent, choices go by value."""
    payload = {name: value.value if isinstance(value, Enum) else value
               for name, value in fields.items()}
    emit(ctx, shop(ctx).call(action, present(payload)), render)


def parse_moment(value: Optional[str], option: str) -> Optional[str]:
    """A date or ISO datetime typed on the command line, as ISO; no zone means Beijing time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date or ISO datetime",
                                 param_hint=option) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.isoformat()
