"""assistant_ask: a shopper's question, answered from the shop's own facts, in a session that
remembers the product talked about ("那红色的呢") and hands over to a person on 转人工/投诉 or
after two answers in a row the assistant was not sure of.

A session is also the conversation the merchant sees (shared.assistant.conversations): one
document with its last messages, kept ASSISTANT_RETENTION_DAYS after its last message and
erased with the shopper's account. An ask costs one read and one write of it.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from pydantic import Field

from shared.assistant import answers
from shared.assistant.answers import SUGGESTIONS, Answer
from shared.assistant.index import AssistantIndex, get_index
from shared.assistant.intent import Reading, classify
from shared.assistant.text import parse_filters, tokenize
from shared.core.common import Input, new_id
from shared.core.context import Context

LOW_CONFIDENCE = 0.5          # an answer under this is a guess
HANDOFF_AFTER_GUESSES = 2     # guesses in a row before a person takes over
KEPT_MESSAGES = 100           # a conversation keeps its last messages only
HANDOFF_ANSWER = "已为您转接人工客服，请稍候，客服上线后会第一时间回复您。"
WAITING_ANSWER = "人工客服会尽快回复您，请稍候。"


class AskInput(Input):
    message: str = Field(min_length=1, max_length=500)
    session_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    # where the shopper is (GCJ-02), for the deals of stores nearby
    lat: Optional[float] = Field(default=None, ge=-90, le=90)
    lng: Optional[float] = Field(default=None, ge=-180, le=180)


def load_session(ctx: Context, session_id: Optional[str], channel: str = "app") \
        -> dict[str, Any]:
    """The caller's session, or a new one: another caller's id, or an expired one, starts
    afresh (a session never carries one shopper's context to another)."""
    if session_id:
        doc = ctx.db.assistant_sessions.find_one({"_id": session_id})
        if doc is not None and doc.get("user_id") == ctx.user_id \
                and doc.get("expires_at") and doc["expires_at"] > ctx.now:
            return doc
    return {"_id": new_id("ses"), "user_id": ctx.user_id, "channel": channel,
            "status": "bot", "context": {}, "guesses": 0, "created_at": ctx.now, "new": True}


def _location(req: AskInput) -> Optional[tuple[float, float]]:
    return (req.lat, req.lng) if req.lat is not None and req.lng is not None else None


def answer_for(ctx: Context, index: AssistantIndex, session: dict[str, Any], text: str,
               location: Optional[tuple[float, float]] = None) -> tuple[Answer, float]:
    """The answer to ``text`` in ``session`` and how sure the assistant is of it."""
    context = session.get("context") or {}
    filters, rest = parse_filters(text, index.categories)
    reading: Reading = classify(index, text, tokenize(rest), filters, context.get("product_id"))
    intent = reading.intent
    if intent == "handoff":
        return Answer("handoff", HANDOFF_ANSWER, handoff=True), 1.0
    if intent == "order_status":
        return answers.order_status(ctx), reading.confidence
    if intent == "after_sale":
        return answers.after_sale(ctx, index, reading, text), reading.confidence
    if intent == "promotion":
        return answers.promotion(ctx, index, location), reading.confidence
    if intent == "recommend":
        return answers.recommend(ctx, index, filters), reading.confidence
    if intent == "product_question":
        entry = reading.named or index.product(context.get("product_id") or "")
        if entry is not None:
            return answers.product_question(ctx, entry, filters, text), reading.confidence
        intent = "product_search"
    if intent == "faq" and reading.faq is not None:
        faq = reading.faq
        return Answer("faq", faq.answer, faq_id=faq.id, facts=[faq.answer]), reading.confidence
    if intent == "product_search":
        has_terms = any(t for t in tokenize(rest) if len(t) >= 2 or t.isalnum())
        found = answers.search(index, reading, filters, has_terms and bool(reading.products))
        sure = reading.confidence if found.products else min(reading.confidence, 0.3)
        return found, sure
    return Answer("other", "抱歉，我没太明白您的意思。可以问我商品、订单、售后或优惠，"
                           "也可以说「转人工」。"), reading.confidence


def _save(ctx: Context, session: dict[str, Any], text: str, answer: Answer,
          guesses: int, status: str) -> None:
    context = dict(session.get("context") or {})
    if answer.context_product:
        context["product_id"] = answer.context_product
    context["intent"] = answer.intent
    messages = [{"role": "user", "text": text, "at": ctx.now},
                {"role": "assistant", "text": answer.answer, "intent": answer.intent,
                 "at": ctx.now}]
    fields: dict[str, Any] = {
        "context": context, "guesses": guesses, "status": status,
        "last_message": text[:100], "last_message_at": ctx.now,
        "expires_at": ctx.now + timedelta(days=ctx.settings.ASSISTANT_RETENTION_DAYS)}
    if answer.handoff and session.get("status") != "waiting":
        fields["handoff_at"] = ctx.now
    on_insert = {k: session[k] for k in ("user_id", "channel", "created_at", "openid")
                 if k in session}
    ctx.db.assistant_sessions.update_one(
        {"_id": session["_id"]},
        {"$set": fields, "$setOnInsert": on_insert,
         "$push": {"messages": {"$each": messages, "$slice": -KEPT_MESSAGES}}}, upsert=True)


def respond(ctx: Context, session: dict[str, Any], text: str,
            location: Optional[tuple[float, float]] = None) -> dict[str, Any]:
    """Answer ``text`` in ``session`` and record both; the shape assistant_ask answers."""
    if session.get("status") == "waiting":
        # a person has the conversation: the shopper's words wait for them
        answer, sure = Answer("handoff", WAITING_ANSWER, handoff=True), 1.0
    else:
        answer, sure = answer_for(ctx, get_index(ctx.db), session, text, location)
        answer = _phrase(ctx, text, answer)
    guesses = session.get("guesses", 0) + 1 if sure < LOW_CONFIDENCE else 0
    if guesses >= HANDOFF_AFTER_GUESSES and not answer.handoff:
        answer = Answer("handoff", "抱歉没能帮到您。" + HANDOFF_ANSWER, handoff=True)
        guesses = 0
    status = "waiting" if answer.handoff else session.get("status", "bot")
    _save(ctx, session, text, answer, guesses, status)
    return {"session_id": session["_id"], "intent": answer.intent, "answer": answer.answer,
            "products": answer.products, "faq_id": answer.faq_id, "orders": answer.orders,
            "handoff": answer.handoff, "suggestions": SUGGESTIONS.get(answer.intent, [])}


def _phrase(ctx: Context, text: str, answer: Answer) -> Answer:
    """The LLM's wording of the answer when one is configured (shared.assistant.grounding),
    else the answer as retrieval built it."""
    if not ctx.settings.HUNYUAN_MODEL or not answer.facts:
        return answer
    from shared.assistant.grounding import phrase
    return phrase(ctx, text, answer)


def assistant_ask(ctx: Context, req: AskInput) -> dict[str, Any]:
    session = load_session(ctx, req.session_id)
    return respond(ctx, session, req.message, _location(req))
