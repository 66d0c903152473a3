"""shopctl reco: the recommendation model offline (CSV files) and its nightly training.

`offline` and `evaluate` read invoice-line CSVs (UCI Online Retail columns) and need no shop.
"""
from __future__ import annotations

import sys
import time

import typer

from .base import ROOT, emit_line, fail

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
