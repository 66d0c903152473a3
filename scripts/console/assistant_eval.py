"""The assistant's evaluation: tests/assistant_eval.jsonl asked of the demo shop, in process.

Each line is a question a shopper might type, with the intent expected and the products (any
of them in the top three cards counts) or FAQ expected. Lines marked ``prev`` are the second
turn of a session that asked ``prev`` first; ``login`` questions are asked as a logged-in
shopper. ``split`` is ``tune`` (looked at while tuning the rules) or ``holdout`` (never looked
at while tuning): both are reported.

Prints intent accuracy, top-3 retrieval hit rate (over the questions that expect a product or
an FAQ) and the p50/p95 of assistant_ask's warm latency (through the dispatcher, no LLM).
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Optional

EVAL_FILE = Path(__file__).resolve().parents[2] / "tests" / "assistant_eval.jsonl"


def load(path: Path = EVAL_FILE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _ask(message: str, token: Optional[str], session_id: Optional[str] = None) \
        -> tuple[dict[str, Any], float]:
    from shared.core.dispatch import Credentials, dispatch
    payload: dict[str, Any] = {"message": message}
    if session_id:
        payload["session_id"] = session_id
    started = time.perf_counter()
    outcome = dispatch("assistant_ask", payload, Credentials(bearer=token))
    elapsed = time.perf_counter() - started
    if not outcome.envelope["ok"]:
        raise RuntimeError(f"assistant_ask failed: {outcome.envelope['error']}")
    return outcome.envelope["data"], elapsed


def prepare_demo_shop() -> str:
    """Seed the demo shop in the embedded database; a logged-in shopper's token."""
    import logging

    from shared.core.db import get_db
    from shared.core.dispatch import Credentials, dispatch
    from shared.demo.seed import seed
    logging.getLogger("shop").setLevel(logging.WARNING)
    seed(get_db())
    login = dispatch("login", {"code": "dev:assistant-eval"}, Credentials())
    return str(login.envelope["data"]["token"])


def evaluate(rows: list[dict[str, Any]], token: str) -> dict[str, Any]:
    results = []
    _ask("你好", None)  # the first question loads jieba and builds the index: not warm
    for row in rows:
        caller = token if row.get("login") else None
        session_id = None
        if row.get("prev"):
            session_id = _ask(row["prev"], caller)[0]["session_id"]
        data, elapsed = _ask(row["q"], caller, session_id)
        expected = set(row.get("products") or [])
        shown = [p["id"] for p in data["products"][:3]]
        if row.get("faq"):
            hit: Optional[bool] = data.get("faq_id") == row["faq"]
        elif expected:
            hit = bool(expected & set(shown))
        else:
            hit = None
        results.append({"id": row["id"], "split": row["split"], "q": row["q"],
                        "intent": data["intent"], "expected_intent": row["intent"],
                        "intent_ok": data["intent"] == row["intent"], "hit": hit,
                        "shown": shown, "faq_id": data.get("faq_id"),
                        "ms": elapsed * 1000})
    return {"results": results, "summary": summarise(results)}


def _rate(values: list[bool]) -> Optional[float]:
    return round(sum(values) / len(values), 3) if values else None


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for split in ("tune", "holdout", "all"):
        part = [r for r in results if split == "all" or r["split"] == split]
        hits = [r["hit"] for r in part if r["hit"] is not None]
        summary[split] = {"questions": len(part),
                          "intent_accuracy": _rate([r["intent_ok"] for r in part]),
                          "retrieval_questions": len(hits), "top3_hit_rate": _rate(hits)}
    times = sorted(r["ms"] for r in results)
    summary["latency_ms"] = {"p50": round(statistics.median(times), 2),
                             "p95": round(times[int(len(times) * 0.95) - 1], 2)}
    return summary


def misses(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if not r["intent_ok"] or r["hit"] is False]


def run(path: Path = EVAL_FILE) -> dict[str, Any]:
    """The whole evaluation on a freshly seeded embedded demo shop."""
    from shared.core.config import reset_settings
    from shared.core.db import reset_db
    reset_settings()
    reset_db()
    token = prepare_demo_shop()
    return evaluate(load(path), token)
