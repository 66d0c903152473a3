"""Offline tools on invoice-line CSVs (UCI Online Retail format): train, recommend, evaluate.

Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country; gzip when the name ends in .gz. A purchase is a line with a CustomerID, Quantity > 0
and an InvoiceNo not starting with C (C marks a cancellation).

Protocol of `evaluate` (the issue's): users = customers with purchases in both files; relevant =
the StockCodes a user bought in the test file; 10 StockCodes ranked per user, already bought
items allowed; HR@10, Recall@10, NDCG@10 averaged over users, catalogue coverage = distinct
items recommended.
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import IO, Any, Callable, Iterable

import numpy as np

from shared.reco.model import Purchase, RecoModel, top_k, train

RECENT_DAYS = 30            # "recently popular" of the own-past-then-popular baseline


def _open(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_purchases(path: str) -> list[Purchase]:
    out = []
    with _open(path) as fh:
        for row in csv.DictReader(fh):
            user = (row.get("CustomerID") or "").strip()
            if not user or row["InvoiceNo"].startswith("C"):
                continue
            try:
                if float(row["Quantity"]) <= 0:
                    continue
                when = datetime.fromisoformat(row["InvoiceDate"].strip())
            except ValueError:
                continue
            if user.endswith(".0"):          # some exports write ids as floats
                user = user[:-2]
            out.append(Purchase(user, row["StockCode"].strip(), when))
    return out


PRODUCT_CODE = re.compile(r"^[0-9]{5}[A-Za-z]*$")   # POST, DOT, M, BANK CHARGES are not goods


def read_invoices(path: str) -> list[dict[str, Any]]:
    """The purchases of a file grouped by invoice, as dev_import_orders takes them (goods
    only, prices in fen: UnitPrice x 100, so a price reads the same in yuan)."""
    invoices: dict[str, dict[str, Any]] = {}
    with _open(path) as fh:
        for row in csv.DictReader(fh):
            user = (row.get("CustomerID") or "").strip().removesuffix(".0")
            code = row["StockCode"].strip()
            if not user or row["InvoiceNo"].startswith("C") or not PRODUCT_CODE.match(code):
                continue
            try:
                quantity = int(float(row["Quantity"]))
                price = round(float(row["UnitPrice"]) * 100)
                when = datetime.fromisoformat(row["InvoiceDate"].strip())
            except ValueError:
                continue
            if quantity <= 0 or price <= 0:
                continue
            invoice = invoices.setdefault(row["InvoiceNo"], {
                "invoice": row["InvoiceNo"], "customer": user, "at": when.isoformat(),
                "lines": []})
            invoice["lines"].append({"code": code, "title": (row["Description"].strip()
                                                             or code)[:100],
                                     "quantity": min(quantity, 100_000), "price": price})
    return list(invoices.values())


def end_of(purchases: list[Purchase]) -> datetime:
    """`now` of a training file: the day after its last purchase."""
    last = max(p.when for p in purchases)
    return datetime(last.year, last.month, last.day) + timedelta(days=1)


def histories(purchases: Iterable[Purchase]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for p in purchases:
        seen = out[p.user]
        seen[p.item] = seen.get(p.item, 0.0) + 1.0
    return out


def recommend_file(train_path: str, users_path: str, k: int, out_path: str) -> int:
    """`reco offline`: train on all of train_path, write k items per listed user as JSON lines."""
    purchases = read_purchases(train_path)
    model = train(purchases, end_of(purchases))
    past = histories(purchases)
    written = 0
    with _open(users_path) as fh, open(out_path, "w", encoding="utf-8") as out:
        for line in fh:
            user = line.strip()
            if user.endswith(".0"):
                user = user[:-2]
            if not user:
                continue
            items = model.recommend(past.get(user, {}), k)
            out.write(json.dumps({"user": user, "items": items}) + "\n")
            written += 1
    return written


# --- evaluation ------------------------------------------------------------------------------
Ranker = Callable[[str], list[str]]


def metrics(rank: Ranker, relevant: dict[str, set[str]], k: int = 10) -> dict[str, float]:
    hr = recall = ndcg = 0.0
    covered: set[str] = set()
    for user, rel in relevant.items():
        got = rank(user)[:k]
        covered.update(got)
        hits = [1.0 if item in rel else 0.0 for item in got]
        hr += 1.0 if any(hits) else 0.0
        recall += sum(hits) / len(rel)
        dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
        ndcg += dcg / ideal
    n = max(len(relevant), 1)
    return {"HR@10": hr / n, "Recall@10": recall / n, "NDCG@10": ndcg / n,
            "coverage": float(len(covered))}


def baselines(purchases: list[Purchase], now: datetime, k: int = 10) -> dict[str, Ranker]:
    """The issue's three baselines: popularity, item-kNN, own past items then recently popular."""
    items = sorted({p.item for p in purchases})
    index = {item: n for n, item in enumerate(items)}
    past = histories(purchases)
    buyers: dict[int, set[str]] = defaultdict(set)
    recent = np.zeros(len(items))
    last_seen: dict[tuple[str, str], datetime] = {}
    for p in purchases:
        buyers[index[p.item]].add(p.user)
        if now - p.when <= timedelta(days=RECENT_DAYS):
            recent[index[p.item]] += 1
        key = (p.user, p.item)
        last_seen[key] = max(last_seen.get(key, p.when), p.when)
    counts = np.array([len(buyers[n]) for n in range(len(items))], dtype=np.float64)
    popular = [items[n] for n in top_k(counts, k)]
    recently = [items[n] for n in top_k(recent * 1e6 + counts, 10 * k)]
    # item-kNN: cosine of the binary user-item matrix, score = sum of similarities to owned items
    users = sorted(past)
    uindex = {u: n for n, u in enumerate(users)}
    matrix = np.zeros((len(users), len(items)), dtype=np.float32)
    for p in purchases:
        matrix[uindex[p.user], index[p.item]] = 1.0
    norm = np.sqrt(matrix.sum(axis=0)) + 1e-9
    sims = (matrix.T @ matrix) / norm[:, None] / norm[None, :]
    np.fill_diagonal(sims, 0.0)

    def item_knn(user: str) -> list[str]:
        if user not in uindex:
            return popular
        return [items[n] for n in top_k(matrix[uindex[user]] @ sims, k)]

    def own_then_popular(user: str) -> list[str]:
        own = sorted(past.get(user, {}).items(),
                     key=lambda kv: (-kv[1], -last_seen[(user, kv[0])].timestamp()))
        out = [item for item, _ in own][:k]
        out += [item for item in recently if item not in out][: k - len(out)]
        return out

    return {"popularity": lambda user: popular, "item-kNN": item_knn,
            "own past then popular": own_then_popular}


def evaluate(train_purchases: list[Purchase], test_purchases: list[Purchase],
             k: int = 10) -> dict[str, dict[str, float]]:
    now = end_of(train_purchases)
    past = histories(train_purchases)
    relevant: dict[str, set[str]] = defaultdict(set)
    for p in test_purchases:
        if p.user in past:
            relevant[p.user].add(p.item)
    rankers = baselines(train_purchases, now, k)
    model: RecoModel = train(train_purchases, now)
    rankers["ours"] = lambda user: model.recommend(past.get(user, {}), k)
    return {name: metrics(rank, dict(relevant), k) for name, rank in rankers.items()}


def evaluate_files(train_path: str, test_path: str) -> dict[str, dict[str, float]]:
    return evaluate(read_purchases(train_path), read_purchases(test_path))


def split(purchases: list[Purchase], cut: datetime,
          end: datetime) -> tuple[list[Purchase], list[Purchase]]:
    return ([p for p in purchases if p.when < cut], [p for p in purchases if cut <= p.when < end])


def format_table(results: dict[str, dict[str, float]]) -> str:
    lines = [f"{'model':<24}{'HR@10':>8}{'Recall@10':>11}{'NDCG@10':>9}{'coverage':>10}"]
    for name, m in results.items():
        lines.append(f"{name:<24}{m['HR@10']:>8.3f}{m['Recall@10']:>11.3f}"
                     f"{m['NDCG@10']:>9.4f}{int(m['coverage']):>10}")
    return "\n".join(lines)
