"""shopctl reco: the recommendation model offline (CSV files) and its nightly training.

`offline` and `evaluate` read invoice-line CSVs (UCI Online Retail columns) and need no shop.
"""
from __future__ import annotations

import sys
import time

import typer

from .base import ROOT, emit_line, fail, shop

app = typer.Typer(help="Recommendations: train and evaluate on CSV files offline.",
                  no_args_is_help=True)


def _library() -> None:
    # imported lazily: every other command runs without the backend's dependencies
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


@app.command("offline")
def reco_offline(
    ctx: typer.Context,
    train: str = typer.Option(..., "--train", help="Invoice-line CSV (.csv or .csv.gz)."),
    users: str = typer.Option(..., "--users", help="CustomerIDs, one per line."),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Items per user."),
    out: str = typer.Option(..., "--out", help="JSON lines {user, items} written here."),
) -> None:
    """Train on all of --train and write k StockCodes (best first) per user listed in --users."""
    _library()
    from shared.reco.offline import recommend_file
    started = time.monotonic()
    try:
        written = recommend_file(train, users, k, out)
    except (OSError, KeyError, ValueError) as exc:
        fail(f"reco offline: {type(exc).__name__}: {exc}")
    emit_line(ctx, {"users": written, "out": out, "seconds": round(time.monotonic() - started, 1)},
              lambda d: f"{d['users']} users written to {d['out']} in {d['seconds']} s")


@app.command("evaluate")
def reco_evaluate(
    ctx: typer.Context,
    train: str = typer.Option(..., "--train", help="Invoice-line CSV the models learn from."),
    test: str = typer.Option(..., "--test", help="Invoice-line CSV of the later period."),
) -> None:
    """HR@10, Recall@10, NDCG@10 and coverage of our model and the baselines, side by side."""
    _library()
    from shared.reco.offline import evaluate_files, format_table
    try:
        results = evaluate_files(train, test)
    except (OSError, KeyError, ValueError) as exc:
        fail(f"reco evaluate: {type(exc).__name__}: {exc}")
    emit_line(ctx, results, lambda r: format_table(r))


imports = typer.Typer(help="Load public data sets into the shop (dev gateway, dev token).",
                      no_args_is_help=True)


@imports.command("online-retail")
def import_online_retail(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="UCI Online Retail CSV (.csv or .csv.gz)."),
    batch: int = typer.Option(200, "--batch", min=1, max=500, help="Invoices per call."),
    train_after: bool = typer.Option(True, "--train/--no-train",
                                     help="Run reco_train once loaded."),
) -> None:
    """Products, shoppers and paid orders from the file (twice adds nothing), then a model."""
    _library()
    from shared.reco.offline import read_invoices
    try:
        invoices = read_invoices(file)
    except (OSError, KeyError, ValueError) as exc:
        fail(f"import online-retail: {type(exc).__name__}: {exc}")
    client = shop(ctx)
    totals = {"orders": 0, "skipped": 0, "products": 0}
    for start in range(0, len(invoices), batch):
        done = client.call("dev_import_orders", {"invoices": invoices[start:start + batch]},
                           quiet=True)
        for key in totals:
            totals[key] += done[key]
    result: dict[str, object] = {**totals, "invoices": len(invoices)}
    if train_after:
        result["model"] = client.call("dev_run_timer", {"name": "reco_train"})["result"]
    emit_line(ctx, result, lambda d: f"{d['orders']} orders imported ({d['skipped']} there "
                                     f"already), {d['products']} new products"
                                     + (f"; model {d['model']['version']}" if "model" in d
                                        else ""))
