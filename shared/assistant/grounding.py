"""The optional LLM's wording of an answer, grounded in the facts retrieval found.

The prompt holds the facts (products and prices shown, the FAQ answer, the caller's own orders)
and nothing else of the shop. The reply is checked sentence by sentence: a sentence naming a
price, or a product of the catalogue, that the facts do not hold is dropped. The call has
BUDGET_SECONDS (3 s); late, failed or emptied by the check, the answer stays
the retrieval's own.
"""
from __future__ import annotations

import re
import threading
from dataclasses import replace
from typing import Any, Optional

from shared.assistant.answers import Answer
from shared.assistant.index import get_index
from shared.core.context import Context
from shared.core.log import get_logger

logger = get_logger("shop.assistant")

BUDGET_SECONDS = 3.0
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]?")
_PRICE = re.compile(r"(?:¥|￥)\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:元|块)")
SYSTEM = ("你是网店的客服助手。只能根据下面给出的事实回答，不要编造商品、价格、库存或订单；"
          "事实里没有的就说不知道并建议转人工。回答简短、礼貌，用中文。")


def prompt(question: str, answer: Answer) -> list[dict[str, str]]:
    facts = "\n".join(f"- {fact}" for fact in [*answer.facts, answer.answer])
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"事实：\n{facts}\n\n顾客的问题：{question}"}]


def _prices(text: str) -> set[float]:
    return {float(a or b) for a, b in _PRICE.findall(text)}


def grounded(reply: str, answer: Answer, titles: list[str]) -> str:
    """The sentences of ``reply`` whose prices and products the facts hold."""
    facts = " ".join([*answer.facts, answer.answer])
    known = _prices(facts)
    kept = []
    for sentence in _SENTENCE.findall(reply):
        if any(price not in known for price in _prices(sentence)):
            continue
        if any(title in sentence and title not in facts for title in titles):
            continue
        kept.append(sentence)
    return "".join(kept).strip()


def _call(ctx: Context, messages: list[dict[str, str]]) -> Optional[str]:
    """The model's reply within the budget, else None (the call runs on in its thread)."""
    from shared.cloud.hunyuan import chat
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["reply"] = chat(ctx.settings, messages, BUDGET_SECONDS)
        except Exception as exc:   # any failure of the LLM: the retrieval answer stands
            result["error"] = type(exc).__name__
    worker = threading.Thread(target=run, daemon=True, name="hunyuan")
    worker.start()
    worker.join(BUDGET_SECONDS)
    if "error" in result:
        logger.warning("hunyuan failed: %s", result["error"])
    return result.get("reply")


def phrase(ctx: Context, question: str, answer: Answer) -> Answer:
    reply = _call(ctx, prompt(question, answer))
    if not reply:
        return answer
    checked = grounded(reply, answer, list(get_index(ctx.db).titles.values()))
    return replace(answer, answer=checked) if checked else answer
