"""shopctl forecast: offline forecasts and backtests of an invoice history (no gateway), and the
shop's restock advice and sales forecast (over HTTP)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from .base import ROOT, done, emit, emit_json, emit_line, fail, out, shop
from .grid import Col, print_grid
from .views import page_footer, specs_text, yuan

app = typer.Typer(help="Sales forecasts and restock advice: offline tools on an invoice CSV "
                       "(offline, backtest) and the shop's own (report, lead-time).",
                  no_args_is_help=True)


def _library() -> Any:
    """shared.forecast.offline, imported here: the other commands run without numpy."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from shared.forecast import offline
    return offline


def _history(path: Path) -> Path:
    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint="--history")
    return path


@app.command("offline")
def forecast_offline(
    history: Path = typer.Option(..., "--history", help="Invoice lines CSV (.csv or .csv.gz): "
                                                         "InvoiceNo, StockCode, Quantity, "
                                                         "InvoiceDate, UnitPrice, ..."),
    horizon: int = typer.Option(28, "--horizon", min=1, max=366, help="Days to forecast."),
    out_path: Path = typer.Option(..., "--out", help="CSV to write: date,revenue,p10,p90."),
) -> None:
    """Forecast daily revenue for the HORIZON days after the history's last date, with the
    10% and 90% quantiles; the model is chosen by a rolling-origin backtest on the history."""
    try:
        summary = _library().write_forecast(_history(history), horizon, out_path)
    except (ValueError, KeyError) as exc:
        fail(f"cannot read {history}: {exc}")
    except OSError as exc:
        fail(f"cannot write {out_path}: {exc.strerror or exc}")
    out.print(Text(f"{summary['from']} → {summary['to']}: model {summary['model']}, "
                   f"wrote {out_path}", style="green"))


def backtest_tables(report: dict[str, Any]) -> None:
    info = report["history"]
    out.print(Text(f"history {info['from']} → {info['to']} ({info['days']} days, "
                   f"{info['skus']} SKUs); horizon {report['horizon']} days; "
                   f"{len(report['origins'])} origins {report['origins'][0]} … "
                   f"{report['origins'][-1]}", style="dim"))
    revenue = Table(title="Daily revenue: MASE over rolling origins (lower is better)",
                    title_justify="left")
    revenue.add_column("model")
    revenue.add_column("mean MASE", justify="right")
    revenue.add_column("last 4 origins", justify="right")
    for name, row in report["revenue_mase"].items():
        style = "bold" if name == report["chosen"] else ""
        label = f"{name} (chosen)" if name == report["chosen"] else name
        revenue.add_row(Text(label, style=style), f"{row['mean']:.3f}",
                        " ".join(f"{m:.2f}" for m in row["per_origin"][-4:]))
    out.print(revenue)
    sku = Table(title="SKU weekly units: pinball loss of the 10/50/90% quantiles",
                title_justify="left")
    sku.add_column("method")
    sku.add_column("pinball", justify="right")
    for name, loss in report["sku_pinball"].items():
        sku.add_row(name, f"{loss:.4f}")
    out.print(sku)


@app.command("backtest")
def forecast_backtest(
    ctx: typer.Context,
    history: Path = typer.Option(..., "--history", help="Invoice lines CSV (.csv or .csv.gz)."),
    horizon: int = typer.Option(28, "--horizon", min=7, max=91, help="Days per origin."),
    origins: int = typer.Option(12, "--origins", min=2, max=52,
                                help="Rolling origins, a week apart, the last ending with the "
                                     "history."),
) -> None:
    """MASE of our models and the two baselines (last week repeated; weekday mean of the last
    4 weeks) over rolling origins, and the pinball loss of the SKU quantiles."""
    try:
        report = _library().backtest_report(_history(history), horizon, origins)
    except (ValueError, KeyError) as exc:
        fail(f"cannot read {history}: {exc}")
    emit(ctx, report, backtest_tables)


ADVICE_COLUMNS = (Col("sku", "id"), Col("product"), Col("specs"),
                  *(Col(name, "fixed", "right") for name in
                    ("stock", "per day", "lead", "lead demand", "safety", "reorder at",
                     "cover days", "order")))


def advice_table(data: dict[str, Any]) -> None:
    rows = []
    for item in data["items"]:
        flag = "!" if item["runs_out_within_lead_time"] else \
            "*" if item["below_reorder_point"] else ""
        rows.append((item["sku_id"], item["title"], specs_text(item.get("specs")),
                     f"{item['stock']}{flag}", f"{item['daily_rate']:.2f}",
                     f"{item['lead_time_days']}d", f"{item['lead_time_demand']:.1f}",
                     f"{item['safety_stock']:.1f}", f"{item['reorder_point']:.1f}",
                     "-" if item["days_of_cover"] is None else f"{item['days_of_cover']:.1f}",
                     str(item["suggested_order_qty"])))
    print_grid(ADVICE_COLUMNS, rows,
               title=f"Restock advice (service level {data['service_level']:.0%}; "
                     f"* below the reorder point, ! runs out within the lead time)")
    page_footer(data, "SKUs")


def forecast_table(data: dict[str, Any]) -> None:
    table = Table(title=f"Revenue forecast ({data['model']})", title_justify="left")
    for name in ("date", "p10", "forecast", "p90"):
        table.add_column(name, justify="right")
    for day in data["forecast"][:14]:
        table.add_row(day["date"], yuan(day["p10"]), yuan(day["revenue"]), yuan(day["p90"]))
    out.print(table)


def write_report_png(sales: dict[str, Any], path: Path) -> None:
    """Recent daily sales, the forecast and its 10-90% band."""
    from .charts import save_png, two_panels
    figure, axes, side = two_panels()
    recent, ahead = sales["recent"], sales["forecast"]
    x_recent = list(range(-len(recent) + 1, 1))
    x_ahead = list(range(1, len(ahead) + 1))
    axes.plot(x_recent, [d["revenue"] / 100 for d in recent], color="#576b95", label="sales")
    axes.plot(x_ahead, [d["revenue"] / 100 for d in ahead], color="#07c160", label="forecast")
    axes.fill_between(x_ahead, [d["p10"] / 100 for d in ahead], [d["p90"] / 100 for d in ahead],
                      color="#07c160", alpha=0.2, label="10-90%")
    axes.axvline(0.5, color="grey", linewidth=0.8)
    axes.set_xlabel("days from today")
    axes.set_ylabel("yuan per day")
    axes.legend(loc="upper left")
    axes.set_title(f"Daily sales and forecast ({sales['model']})")
    week = [sum(d["revenue"] for d in ahead[i:i + 7]) / 100 for i in range(0, len(ahead), 7)]
    side.bar([f"wk {i + 1}" for i in range(len(week))], week, color="#07c160")
    side.set_title("Forecast per week (yuan)")
    save_png(figure, "Sales forecast", path)


@app.command("report")
def forecast_report(
    ctx: typer.Context,
    only_below_reorder_point: bool = typer.Option(False, "--only-below-reorder-point",
                                                  help="Only SKUs to reorder now."),
    page: int = typer.Option(1, min=1),
    page_size: int = typer.Option(20, min=1, max=100),
    png: Path = typer.Option(Path("forecast.png"), "--png",
                             help="Where to draw recent sales, the forecast and its band."),
    no_png: bool = typer.Option(False, "--no-png", help="Tables only."),
) -> None:
    """The restock advice of every SKU (to reorder first) and the revenue forecast, as tables
    and a PNG."""
    advice = shop(ctx).call("merchant_restock_advice",
                            {"page": page, "page_size": page_size,
                             "only_below_reorder_point": only_below_reorder_point})
    sales = shop(ctx).call("merchant_sales_forecast", {})
    if shop(ctx).as_json:
        emit_json({"advice": advice, "sales_forecast": sales})
    else:
        advice_table(advice)
        forecast_table(sales)
    if not no_png:
        write_report_png(sales, png)
        done(ctx, f"wrote {png}")


@app.command("lead-time")
def forecast_lead_time(
    ctx: typer.Context,
    product_id: str = typer.Argument(..., help="The product."),
    days: Optional[int] = typer.Argument(None, min=1, max=365,
                                         help="Days from ordering stock to selling it; "
                                              "leave out for the shop's default."),
) -> None:
    """Set a product's restock lead time (its SKUs' advice covers it)."""
    result = shop(ctx).call("merchant_set_lead_time",
                            {"product_id": product_id, "lead_time_days": days})
    emit_line(ctx, result, lambda r: f"{r['product_id']}: lead time {r['lead_time_days']} days"
                                     + (" (the default)" if r["is_default"] else ""))
