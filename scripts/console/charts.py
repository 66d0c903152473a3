"""PNG charts of the reports (--png): two panels side by side, drawn with matplotlib.

matplotlib is imported only when a chart is asked for: the console runs without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

from .base import fail

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Colours = Union[str, Sequence[str]]


def two_panels() -> tuple[Figure, Axes, Axes]:
    """A figure with a wide left panel and a narrower right one."""
    try:
        import matplotlib
    except ImportError:
        fail("--png needs matplotlib: pip install 'shop-backend[console]'")
    matplotlib.use("Agg")  # no display: draw to a file only
    from matplotlib.figure import Figure
    figure = Figure(figsize=(11, 4.5), dpi=100)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    return figure, left, right


def horizontal_bars(axes: Axes, labels: list[str], values: list[Any], colour: Colours) -> None:
    """One bar per label, the first on top, each with its value."""
    from matplotlib.ticker import MaxNLocator
    if not isinstance(colour, str):
        colour = list(colour)[::-1]
    bars = axes.barh(labels[::-1], values[::-1], color=colour)
    axes.bar_label(bars, padding=3)
    axes.margins(x=0.15)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def vertical_bars(axes: Axes, labels: list[str], values: list[Any], colour: str) -> None:
    """One column per label, each with its value."""
    from matplotlib.ticker import MaxNLocator
    bars = axes.bar(labels, values, color=colour)
    axes.bar_label(bars, padding=2)
    axes.margins(y=0.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def empty_panel(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)


def save_png(figure: Figure, title: str, path: Path) -> None:
    figure.suptitle(title)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
