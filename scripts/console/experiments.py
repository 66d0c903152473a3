"""shopctl experiments: A/B tests, their split, and the report (table and PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import done, emit, out, shop
from .charts import save_png, two_panels
from .grid import Col, print_list
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import when, yuan

app = typer.Typer(help="A/B tests: create an experiment (its variants and weights, its "
                       "metric), list them, and report each variant with its statistics.",
                  no_args_is_help=True)


def parse_variant(text: str) -> dict[str, Any]:
    name, _, weight = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        number = float(weight) if weight else 1.0
        return {"name": name.strip(), "weight": int(number) if number.is_integer() else number}
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give NAME or NAME:WEIGHT, e.g. grid:1",
                                 param_hint="--variant") from None


def split_text(experiment: dict[str, Any]) -> str:
    return " / ".join(f"{v['name']}:{v['weight']}" for v in experiment.get("variants") or [])


def window_text(experiment: dict[str, Any]) -> str:
    start = when(experiment.get("starts_at")) if experiment.get("starts_at") else "now"
    end = when(experiment.get("ends_at")) if experiment.get("ends_at") else "open-ended"
    return f"{start} → {end}"


EXPERIMENT_COLUMNS = (Col("key", "fixed"), Col("metric", "fixed"), Col("split", min=10),
                      Col("status", "fixed"), Col("window", min=10))


def experiments_table(data: dict[str, Any]) -> None:
    print_list(EXPERIMENT_COLUMNS, [
        (e["key"], e["metric"], split_text(e), e["status"], window_text(e))
        for e in data["items"]], data, "experiments")


@app.command("create")
def experiments_create(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="The key the mini-program asks for, e.g. home_layout."),
    variant: list[str] = typer.Option(
        ..., "--variant", help="NAME or NAME:WEIGHT, at least two; the first is the control "
                               "(what everyone sees outside the window)."),
    metric: str = typer.Option("order_paid", help="order_paid (conversion), revenue (paid fen "
                                                  "per user) or a tracked event name."),
    starts_at: Optional[str] = typer.Option(
        None, help="Start, a date or ISO datetime; no zone means Beijing time (default: now)."),
    ends_at: Optional[str] = typer.Option(None, help="End (as --starts-at; default: none)."),
) -> None:
    """Create an experiment; its split never changes afterwards (a new split is a new key)."""
    payload = {"key": key, "variants": [parse_variant(v) for v in variant], "metric": metric,
               "starts_at": parse_moment(starts_at, "--starts-at"),
               "ends_at": parse_moment(ends_at, "--ends-at")}
    experiment = shop(ctx).call("merchant_create_experiment", present(payload))
    done(ctx, f"created experiment {experiment['key']}")
    emit(ctx, experiment, lambda e: experiments_table({"items": [e]}))


@app.command("list")
def experiments_list(ctx: typer.Context, page: int = page_option(),
                     page_size: int = page_size_option()) -> None:
    """List experiments, newest first, with their split and window."""
    list_page(ctx, "merchant_list_experiments", experiments_table, page=page,
              page_size=page_size)


def percent(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def interval(values: Optional[list[float]], show: Any) -> str:
    return "-" if not values else f"[{show(values[0])}, {show(values[1])}]"


def p_text(value: Optional[float]) -> str:
    if value is None:
        return "- (a variant has too few users)"
    return f"{value:.4g}" + (" (significant at 5%)" if value < 0.05 else "")


def fen(value: Optional[float]) -> str:
    return "-" if value is None else yuan(round(value))


def variants_table(data: dict[str, Any]) -> Table:
    table = Table(title=f"Experiment {data['key']} · metric {data['metric']} · "
                        f"{data['status']}", title_justify="left")
    for header in ("variant", "weight", "users", "conversions", "rate", "rate 95% CI",
                   "revenue", "revenue/user"):
        table.add_column(header, justify="left" if header == "variant" else "right")
    for row in data["variants"]:
        table.add_row(row["name"], str(row["weight"]), str(row["users"]),
                      str(row["conversions"]), percent(row["rate"]),
                      interval(row.get("rate_ci"), percent), yuan(row["revenue"]),
                      fen(row["revenue_per_user"]))
    return table


def tests_table(data: dict[str, Any]) -> Table:
    table = Table(title="Treatment vs control (the first variant)", title_justify="left")
    table.add_column("comparison")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for c in data.get("comparisons") or []:
        label = f"{c['variant']} − {c['control']}"
        cuped = c.get("cuped") or {}
        table.add_row(label, "rate difference", percent(c["rate_difference"]))
        table.add_row("", "95% CI", interval(c["rate_difference_ci"], percent))
        table.add_row("", "p-value (z-test)", p_text(c["p_value"]))
        table.add_row("", "revenue/user difference", fen(c["revenue_difference"]))
        table.add_row("", "95% CI", interval(c["revenue_difference_ci"], fen))
        table.add_row("", "p-value (Welch)", p_text(c["revenue_p_value"]))
        table.add_row("", "CUPED difference", fen(cuped.get("revenue_difference")))
        table.add_row("", "CUPED 95% CI", interval(cuped.get("revenue_difference_ci"), fen))
        table.add_row("", "CUPED p-value", p_text(cuped.get("p_value")))
    return table


def report_tables(data: dict[str, Any]) -> None:
    out.print(Text(f"{split_text(data)} · {window_text(data)} · {data['users']} users",
                   style="dim"))
    out.print(variants_table(data))
    out.print(tests_table(data))
    srm = data.get("srm_p_value")
    line = f"SRM check (users against the weights): p = {'-' if srm is None else f'{srm:.4g}'}"
    if data.get("srm_warning"):
        out.print(Text(line + " · WARNING: the split is broken, do not trust the results",
                       style="bold red"))
    else:
        out.print(Text(line, style="dim"))


def write_report_png(data: dict[str, Any], path: Path) -> None:
    """Rates with their 95% intervals, and revenue per user, one bar per variant."""
    figure, rate_ax, revenue_ax = two_panels()
    rows = data["variants"]
    names = [row["name"] for row in rows]
    rates = [100 * row["rate"] for row in rows]
    # the answer rounds rate and interval apart: a bound a hair past the rate is no negative bar
    below = [max(0.0, 100 * (row["rate"] - row["rate_ci"][0])) if row.get("rate_ci") else 0
             for row in rows]
    above = [max(0.0, 100 * (row["rate_ci"][1] - row["rate"])) if row.get("rate_ci") else 0
             for row in rows]
    rate_ax.bar(names, rates, color="#07c160", yerr=[below, above], capsize=8)
    for x, (rate, row) in enumerate(zip(rates, rows)):
        rate_ax.annotate(f"{rate:.2f}%\n{row['conversions']}/{row['users']}", (x, rate),
                         textcoords="offset points", xytext=(14, 4), fontsize=8)
    rate_ax.set_ylabel("conversion rate (%), 95% interval")
    rate_ax.set_title(f"p = {p_text(data.get('p_value'))}")
    revenue = [row["revenue_per_user"] / 100 for row in rows]
    bars = revenue_ax.bar(names, revenue, color="#576b95")
    revenue_ax.bar_label(bars, labels=[f"¥{v:.2f}" for v in revenue], padding=2)
    revenue_ax.margins(y=0.15)
    revenue_ax.set_ylabel("revenue per user (¥)")
    revenue_ax.set_title(f"Welch p = {p_text(data.get('revenue_p_value'))}")
    warning = " · SRM WARNING" if data.get("srm_warning") else ""
    save_png(figure, f"Experiment {data['key']} · {data['metric']}{warning}", path)


@app.command("report")
def experiments_report(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="The experiment's key."),
    png: Optional[Path] = typer.Option(
        None, "--png", help="Where to draw the rates with their intervals (default: "
                            "experiment-KEY.png here)."),
    no_png: bool = typer.Option(False, "--no-png", help="Print the tables only."),
) -> None:
    """Per variant users, conversions, rate (95% interval) and revenue per user; the z-test
    and Welch p-values against the control, CUPED, and the SRM check. Writes a PNG."""
    data = shop(ctx).call("merchant_experiment_report", {"key": key})
    emit(ctx, data, report_tables)
    if not no_png:
        path = png or Path(f"experiment-{key}.png")
        write_report_png(data, path)
        done(ctx, f"wrote {path}")
