"""The offline tools: CSV reading, the protocol of evaluate, and our model against the baselines
on a time split of the real sample (../shared/data/online_retail)."""
from __future__ import annotations

import csv
import gzip
import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from shared.reco.model import Purchase, RecoModel, train
from shared.reco.offline import (
    evaluate,
    metrics,
    read_purchases,
    recommend_file,
    split,
)
from tests.conftest import ROOT
from tests.e2e.test_shopctl import shopctl

DATA = ROOT.parent / "shared" / "data" / "online_retail" / "train.csv.gz"
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"]


def write_csv(path: Path, rows: list[list[str]]) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def line(invoice: str, code: str, day: str, user: str, qty: str = "1") -> list[str]:
    return [invoice, code, f"ITEM {code}, boxed", qty, f"{day} 10:00:00", "1.25", user, "UK"]


def test_cancellations_returns_and_anonymous_lines_are_not_purchases(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv.gz", [
        line("1", "A", "2011-01-01", "17850.0"), line("C2", "B", "2011-01-02", "17850"),
        line("3", "C", "2011-01-03", "17850", qty="-2"), line("4", "D", "2011-01-04", ""),
    ])

    assert read_purchases(path) == [Purchase("17850", "A", datetime(2011, 1, 1, 10))]


def test_metrics_follow_the_protocol() -> None:
    relevant = {"u1": {"A", "B"}, "u2": {"C"}}
    ranked = {"u1": ["X", "A", "B"], "u2": ["Y"]}

    got = metrics(lambda u: ranked[u], relevant)

    ideal = 1 + 1 / math.log2(3)
    assert got["HR@10"] == 0.5 and got["Recall@10"] == 0.5
    assert got["NDCG@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal / 2)
    assert got["coverage"] == 4


def test_bought_items_come_first_then_the_recently_popular() -> None:
    now = datetime(2011, 3, 1)
    rows = [Purchase(f"u{n}", "HOT", datetime(2011, 2, 25)) for n in range(5)]
    rows += [Purchase(f"u{n}", "OLD", datetime(2010, 6, 1)) for n in range(8)]
    rows += [Purchase("me", "MINE", datetime(2010, 12, 1))]

    model = train(rows, now)

    assert model.recommend({"MINE": 1}, 3) == ["MINE", "HOT", "OLD"]
    assert model.popular(1) == ["HOT"]


def test_items_bought_together_are_neighbours() -> None:
    now = datetime(2011, 3, 1)
    rows = [Purchase(u, item, datetime(2011, 2, 1)) for u in ("a", "b", "c")
            for item in ("TEA", "CUP")] + [Purchase("d", "SPOON", datetime(2011, 2, 1))]

    model = train(rows, now)

    assert [item for item, _ in model.similar("TEA", 5)] == ["CUP"]
    assert model.similar("SPOON", 5) == []


def test_the_artefact_round_trips_without_pickle() -> None:
    rows = [Purchase(u, item, datetime(2011, 2, 1)) for u in ("a", "b") for item in ("X", "Y")]
    model = train(rows, datetime(2011, 3, 1), version="v1")

    back = RecoModel.from_bytes(model.to_bytes())

    assert back.items == ["X", "Y"] and back.version == "v1"
    assert back.recommend({"X": 1}, 2) == model.recommend({"X": 1}, 2)


def test_offline_writes_k_items_per_listed_user_best_first(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", [
        line("1", "A", "2011-01-01", "1"), line("2", "B", "2011-01-02", "2"),
        line("3", "B", "2011-01-03", "3"), line("4", "C", "2011-01-03", "3")])
    users = tmp_path / "users.txt"
    users.write_text("1\n99\n")

    assert recommend_file(path, str(users), 2, str(tmp_path / "out.jsonl")) == 2

    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [{"user": "1", "items": ["A", "B"]}, {"user": "99", "items": ["B", "C"]}]


def test_shopctl_reco_offline_and_evaluate_run_on_files(tmp_path: Path) -> None:
    rows = [line(str(n), code, day, user) for n, (code, day, user) in enumerate([
        ("A", "2011-01-01", "1"), ("B", "2011-01-02", "1"), ("A", "2011-01-05", "2"),
        ("A", "2011-02-01", "1"), ("B", "2011-02-02", "2")])]
    train_path = write_csv(tmp_path / "train.csv.gz", rows[:3])
    test_path = write_csv(tmp_path / "test.csv", rows[3:])
    users = tmp_path / "users.txt"
    users.write_text("1\n2\n")

    offline = shopctl("reco", "offline", "--train", train_path, "--users", str(users),
                      "--k", "10", "--out", str(tmp_path / "out.jsonl"))
    table = shopctl("reco", "evaluate", "--train", train_path, "--test", test_path)

    assert offline.returncode == 0, offline.stderr
    assert [json.loads(x)["user"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] \
        == ["1", "2"]
    assert table.returncode == 0, table.stderr
    for name in ("popularity", "item-kNN", "own past then popular", "ours", "NDCG@10",
                 "coverage"):
        assert name in table.stdout


@pytest.mark.skipif(not DATA.exists(), reason="the Online Retail sample is not checked out")
@pytest.mark.parametrize("cut, end", [("2011-07-01", "2011-10-01"), ("2011-06-01", "2011-09-01")])
def test_ours_beats_every_baseline_on_a_time_split(cut: str, end: str) -> None:
    purchases = read_purchases(str(DATA))
    train_part, test_part = split(purchases, datetime.fromisoformat(cut),
                                  datetime.fromisoformat(end))

    results = evaluate(train_part, test_part)

    ours = results.pop("ours")
    best = max(m["NDCG@10"] for m in results.values())
    assert ours["NDCG@10"] >= 1.1 * best
    assert ours["HR@10"] > max(m["HR@10"] for m in results.values())
