"""Tables that fit the terminal: every column kept, ids shortened only when they must be.

A list is drawn the first way that fits the terminal's width: boxed with whole ids; without
borders with whole ids; without borders with each id cut to the shortest prefix that is still
unique among the ids shown (like git's short hashes; ``--full-ids`` keeps them whole); then
free text folded narrower. Ids, money and statuses never wrap, times break only at their
space; free text (titles, reasons, nicknames) folds onto more lines rather than ending in "…"
or pushing a column out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .base import out
from .views import page_footer

Kind = Literal["id", "text", "fixed"]
# the hex after "ord_" kept at least: 16 million values, so a page of ids rarely needs more
MIN_ID_HEX = 6
# a folding column is given at least this many cells (3 Chinese characters) before ids are cut
MIN_TEXT = 6
# a time ("2026-12-02 15:30") may break at its space: the date above the hour
TIME = 10
SHORTENED_NOTE = "ids shortened to a unique prefix; --full-ids shows them whole"


@dataclass
class Display:
    full_ids: bool = False


# set once from the global options (shopctl --full-ids)
DISPLAY = Display()


@dataclass(frozen=True)
class Col:
    header: str
    kind: Kind = "text"
    justify: Literal["left", "right"] = "left"
    # text only: the fewest cells it may fold to (default MIN_TEXT)
    min: Optional[int] = None

    @property
    def fold_to(self) -> int:
        return self.min if self.min is not None else MIN_TEXT


def time_col(header: str) -> Col:
    return Col(header, "text", min=TIME)


def _plain(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def _width(value: Any) -> int:
    return max((cell_len(line) for line in _plain(value).splitlines()), default=0)


def short_ids(ids: Sequence[str]) -> dict[str, str]:
    """Each id -> its shortest prefix (the kind, "_" and MIN_ID_HEX more) that no other id
    shown starts with, as git shortens hashes; an id that short already stays whole."""
    distinct = set(ids)
    cut = {}
    for id_ in distinct:
        length = id_.find("_") + 1 + MIN_ID_HEX
        while length < len(id_) and any(other != id_ and other.startswith(id_[:length])
                                         for other in distinct):
            length += 1
        cut[id_] = id_[:length]
    return cut


def _widest(index: int, column: Col, rows: Sequence[Sequence[Any]]) -> int:
    return max([_width(column.header)] + [_width(row[index]) for row in rows])


def _widths(columns: Sequence[Col], rows: Sequence[Sequence[Any]],
            room: int) -> Optional[list[int]]:
    """Each column's width in ``room`` cells: ids and fixed columns whole, free text sharing
    the rest (each at least its fold_to); None when even that does not fit."""
    widest = [_widest(i, column, rows) for i, column in enumerate(columns)]
    widths = [w if column.kind != "text" else min(w, column.fold_to)
              for w, column in zip(widest, columns)]
    spare = room - sum(widths)
    if spare < 0:
        return None
    # water-filling: the spare cells go to the text columns that still want them, evenly
    wanting = [i for i, column in enumerate(columns) if column.kind == "text"]
    while spare > 0:
        wanting = [i for i in wanting if widths[i] < widest[i]]
        if not wanting:
            break
        share = max(spare // len(wanting), 1)
        for i in wanting:
            extra = min(share, widest[i] - widths[i], spare)
            widths[i] += extra
            spare -= extra
            if spare == 0:
                break
    return widths


def _least(columns: Sequence[Col], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Each column at its narrowest: ids and fixed columns whole, text folded to fold_to."""
    return [_widest(i, column, rows) if column.kind != "text"
            else min(_widest(i, column, rows), column.fold_to)
            for i, column in enumerate(columns)]


def _table(columns: Sequence[Col], rows: Sequence[Sequence[Any]],
           widths: Optional[list[int]], title: Optional[str], boxed: bool = False) -> Table:
    if boxed:  # everything fits whole: the usual boxes
        table = Table(title=title, title_justify="left")
    else:
        # no edges and one space between columns: the width goes to the values
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=0,
                      show_edge=False)
    for index, column in enumerate(columns):
        width = None if widths is None else widths[index]
        table.add_column(column.header, justify=column.justify, width=width,
                         no_wrap=column.kind != "text", overflow="fold")
    for row in rows:
        table.add_row(*[value if isinstance(value, Text) else Text(_plain(value))
                        for value in row])
    return table


def _shortened(columns: Sequence[Col], rows: list[list[Any]]) -> list[list[Any]]:
    shortened = [list(row) for row in rows]
    for index, column in enumerate(columns):
        if column.kind != "id":
            continue
        cut = short_ids([_plain(row[index]) for row in rows if row[index] != "-"])
        for row in shortened:
            if row[index] != "-":
                row[index] = cut[_plain(row[index])]
    return shortened


@dataclass
class Fitted:
    table: Table
    shortened: bool = False  # ids cut to a unique prefix
    # --full-ids wider than the terminal: the width to print it at (the terminal wraps it)
    width: Optional[int] = None


def grid(columns: Sequence[Col], rows: Sequence[Sequence[Any]],
         title: Optional[str] = None) -> Fitted:
    """The table drawn the first way that fits.

    In order: boxed, all whole; borderless, all whole; borderless with ids cut short; then
    free text folded too. With --full-ids, ids stay whole even if the table is then wider
    than the terminal."""
    whole = [["-" if value in (None, "") else value for value in row] for row in rows]
    width = out.width
    widest = sum(_widest(i, column, whole) for i, column in enumerate(columns))
    # boxed: "│ " before each value and " │" after the last; borderless: one space between
    if widest + 3 * len(columns) + 1 <= width:
        return Fitted(_table(columns, whole, None, title, boxed=True))
    separators = max(len(columns) - 1, 0)
    room = width - separators
    if widest <= room:
        return Fitted(_table(columns, whole, _widths(columns, whole, room), title))
    if DISPLAY.full_ids or not any(column.kind == "id" for column in columns):
        widths = _widths(columns, whole, room)
        if widths is not None or not DISPLAY.full_ids:
            return Fitted(_table(columns, whole, widths, title))
        # the narrowest table with whole ids, wider than the terminal: asked for
        narrowest = _least(columns, whole)
        return Fitted(_table(columns, whole, narrowest, title), width=sum(narrowest) + separators)
    shortened = _shortened(columns, whole)
    # narrower still than the folded text needs: rich shares out what there is
    return Fitted(_table(columns, shortened, _widths(columns, shortened, room), title),
                  shortened=True)


def print_grid(columns: Sequence[Col], rows: Sequence[Sequence[Any]],
               title: Optional[str] = None) -> None:
    fitted = grid(columns, rows, title)
    if fitted.width is None:
        out.print(fitted.table)
    else:  # a console as wide as the table: rich never draws wider than its console
        Console(width=fitted.width, file=out.file, soft_wrap=False,
                force_terminal=out.is_terminal,
                color_system=out.color_system).print(fitted.table)  # type: ignore[arg-type]
    if fitted.shortened:
        out.print(Text(SHORTENED_NOTE, style="dim"))


def print_list(columns: Sequence[Col], rows: Sequence[Sequence[Any]], data: dict[str, Any],
               noun: str) -> None:
    """A page of a list: its table, then which page it is (created items have no footer)."""
    print_grid(columns, rows)
    if "total" in data and "page" in data:
        page_footer(data, noun)
