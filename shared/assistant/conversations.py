"""The people's side of the assistant: conversations handed over (转人工, 投诉, or two guesses in
a row) wait in a queue the merchant answers from (``shopctl cs``).

Statuses: ``bot`` (the assistant answers), ``waiting`` (handed over, a person owes an answer),
``replied`` (a person answered; the assistant takes the next question again).
A conversation is kept ASSISTANT_RETENTION_DAYS after its last message (the assistant_purge
timer deletes older ones; a server's TTL index does too) and erased with the account.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, Optional

from pydantic import Field

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.context import Context, Database
from shared.core.errors import not_found

Status = Literal["bot", "waiting", "replied"]


class ListConversationsInput(PageInput):
    status: Optional[Status] = "waiting"


class ConversationIdInput(Input):
    conversation_id: str = Field(min_length=1, max_length=64)


class ReplyInput(Input):
    conversation_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=1000)


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "user_id": doc.get("user_id"), "channel": doc.get("channel"),
            "status": doc.get("status"), "last_message": doc.get("last_message", ""),
            "last_message_at": iso(doc.get("last_message_at")),
            "handoff_at": iso(doc.get("handoff_at"))}


def _live(ctx: Context, query: dict[str, Any]) -> dict[str, Any]:
    return {**query, "expires_at": {"$gt": ctx.now}}


def merchant_list_conversations(ctx: Context, req: ListConversationsInput) -> dict[str, Any]:
    query = _live(ctx, {"status": req.status} if req.status else {})
    # the longest waiting first: a queue
    order = [("handoff_at", 1), ("_id", 1)] if req.status == "waiting" else \
        [("last_message_at", -1), ("_id", 1)]
    docs = ctx.db.assistant_sessions.find(query, {"messages": 0}).sort(order) \
        .skip(req.skip).limit(req.page_size)
    return page_of([_summary(d) for d in docs],
                   ctx.db.assistant_sessions.count_documents(query), req)


def merchant_get_conversation(ctx: Context, req: ConversationIdInput) -> dict[str, Any]:
    doc = ctx.db.assistant_sessions.find_one(_live(ctx, {"_id": req.conversation_id}))
    if doc is None:
        raise not_found("conversation")
    return {**_summary(doc), "messages": [
        {"role": m["role"], "text": m["text"], "intent": m.get("intent"), "at": iso(m["at"])}
        for m in doc.get("messages", [])]}


def merchant_reply(ctx: Context, req: ReplyInput) -> dict[str, Any]:
    doc = ctx.db.assistant_sessions.find_one(_live(ctx, {"_id": req.conversation_id}),
                                             {"channel": 1, "openid": 1})
    # a person's answer: the conversation is the assistant's again from the next question
    if doc is None:
        raise not_found("conversation")
    message = {"role": "merchant", "text": req.text, "at": ctx.now}
    ctx.db.assistant_sessions.update_one(
        {"_id": req.conversation_id},
        {"$set": {"status": "replied", "last_message_at": ctx.now, "replied_at": ctx.now,
                  "expires_at": ctx.now + timedelta(days=ctx.settings.ASSISTANT_RETENTION_DAYS)},
         "$push": {"messages": {"$each": [message], "$slice": -100}}})
    delivered = None
    if doc.get("channel") == "wechat" and doc.get("openid"):
        from shared.assistant.channel import send_in_window
        delivered = send_in_window(ctx.db, ctx.settings, req.conversation_id, doc["openid"],
                                   req.text, ctx.now)
    return {"conversation_id": req.conversation_id, "status": "replied",
            "delivered": delivered, "at": iso(ctx.now)}


def erase_user(db: Database, user_id: str) -> int:
    """注销账号: the shopper's conversations go with the account (an ERASERS entry, run
    while the user still has their openid): those of the app and those of WeChat's
    customer-service messages, and the messages WeChat pushed."""
    user = db.users.find_one({"_id": user_id}, {"openid": 1}) or {}
    deleted = db.assistant_sessions.delete_many({"user_id": user_id}).deleted_count
    if user.get("openid"):
        deleted += db.assistant_sessions.delete_many({"openid": user["openid"]}).deleted_count
        db.assistant_inbox.delete_many({"openid": user["openid"]})
    return int(deleted)


def purge_expired(ctx: Context) -> dict[str, Any]:
    """The assistant_purge timer: conversations past their retention, in one bounded pass."""
    ids = [d["_id"] for d in ctx.db.assistant_sessions.find(
        {"expires_at": {"$lte": ctx.now}}, {"_id": 1}).limit(ctx.settings.TIMER_BATCH_SIZE)]
    deleted = ctx.db.assistant_sessions.delete_many(
        {"_id": {"$in": ids}, "expires_at": {"$lte": ctx.now}}).deleted_count if ids else 0
    ctx.db.assistant_inbox.delete_many({"received_at": {
        "$lte": ctx.now - timedelta(days=ctx.settings.ASSISTANT_RETENTION_DAYS)}})
    return {"deleted": int(deleted)}
