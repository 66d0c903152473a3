"""How scripts/deploy shows its work: the plan as a table, and a progress bar while applying.

The bar is rich's (the console's library) on a terminal; elsewhere, or without rich, one line
per step, so logs of a CI deploy read top to bottom.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Iterable, Optional, TextIO


@dataclass(frozen=True)
class Row:
    resource: str
    declared: str
    exists: str
    change: str


def table(rows: Iterable[Row], out: TextIO) -> None:
    rows = list(rows)
    header = Row("resource", "declared", "exists", "change")
    widths = [max(len(getattr(r, f)) for r in [header] + rows)
              for f in ("resource", "declared", "exists")]

    def line(row: Row) -> str:
        cells = [row.resource.ljust(widths[0]), row.declared.ljust(widths[1]),
                 row.exists.ljust(widths[2]), row.change]
        return "  ".join(cells).rstrip()
    out.write(line(header) + "\n")
    out.write("  ".join("-" * w for w in widths) + "  ------\n")
    for row in rows:
        out.write(line(row) + "\n")


class Progress:
    """``with Progress(total) as bar: bar.step("creating login")``"""

    def __init__(self, total: int, out: Optional[TextIO] = None) -> None:
        self.total, self.done = max(total, 1), 0
        self.out = out or sys.stderr
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self.out.isatty():
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
                from rich.progress import Progress as RichProgress
            except ImportError:
                return self
            self._rich = RichProgress(TextColumn("{task.description:<44}"), BarColumn(),
                                      MofNCompleteColumn(), transient=False)
            self._rich.__enter__()
            self._task = self._rich.add_task("deploying", total=self.total)
        return self

    def step(self, what: str) -> None:
        self.done += 1
        if self._rich is not None:
            self._rich.update(self._task, advance=1, description=what[:44])
            return
        filled = int(20 * self.done / self.total)
        self.out.write(f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} {what}\n")
        self.out.flush()

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
