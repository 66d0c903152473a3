"""The WeChat customer-service channel: ``GET|POST /wechat/message`` (客服消息 pushes).

- ``GET`` is WeChat's URL verification: the ``signature`` of the shop's token, ``timestamp``
  and ``nonce`` checked, ``echostr`` answered as is.
- ``POST`` is a message: signed the same way; in safe mode (``encrypt_type=aes``) its
  ``Encrypt`` is checked against ``msg_signature`` and decrypted (shared.wechat.msg_crypt).
  JSON or XML, as chosen in WeChat's console: read from the push, answered in the same.
- WeChat pushes a message again when the answer is slow: each is recorded once by its MsgId
  (``assistant_inbox``), and a repeat is answered ``success`` and nothing more.
- The assistant answers from the database alone (fast), then WeChat gets ``success`` at once
  and the answer goes out through ``cgi-bin/message/custom/send`` after the answer (a thread;
  in tests, and for what a frozen or dead instance left, the ``assistant_inbox`` timer). A
  handoff is answered with ``transfer_customer_service`` instead: WeChat's own customer-service
  console takes the conversation, and it is in the merchant's queue too.
- WeChat's window: 48 hours after the shopper's last message, at most 5 messages in it.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Optional
from xml.etree import ElementTree

from shared.core.common import new_id, utcnow
from shared.core.config import Settings, get_settings
from shared.core.context import Context, Database
from shared.core.db import get_db, insert_once
from shared.core.log import get_logger
from shared.wechat.msg_crypt import CryptError, check_signature, decrypt, encrypt, signature

logger = get_logger("shop.assistant")

TEXT = "text/plain; charset=utf-8"
WINDOW = timedelta(hours=48)
WINDOW_MESSAGES = 5
SEND_LEASE = timedelta(seconds=60)
# WeChat waits 5 s for an answer and pushes again (3 times in all): a message being answered
# is left alone that long
ANSWER_LEASE = timedelta(seconds=5)
MAX_SEND_ATTEMPTS = 5
Reply = tuple[int, str, bytes]


def accept_push(method: str, query: dict[str, str], body: bytes) -> Reply:
    """One request of WeChat's message push: (status, content type, body)."""
    settings = get_settings()
    token = settings.WX_MESSAGE_TOKEN
    if not token:
        return 404, TEXT, b"the message push is not configured"
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    try:
        check_signature(query.get("signature", ""), token, timestamp, nonce)
    except CryptError:
        return 401, TEXT, b"invalid signature"
    if method == "GET":
        return 200, TEXT, query.get("echostr", "").encode("utf-8")
    safe = query.get("encrypt_type") == "aes"
    try:
        message = read_message(settings, query, body, safe)
    except (CryptError, ValueError) as exc:
        logger.warning("unreadable message push: %s", exc)
        return 400, TEXT, b"unreadable message"
    transfer = receive(get_db(), settings, message, utcnow())
    if transfer is None:
        return 200, TEXT, b"success"
    xml = _is_xml(body.decode("utf-8", "replace"))
    return 200, *_reply(settings, transfer, timestamp, nonce, safe, xml)


# ---- the wire formats ------------------------------------------------------------------------

def _is_xml(raw: str) -> bool:
    return raw.lstrip().startswith("<")


def _parse(raw: str) -> dict[str, Any]:
    if not _is_xml(raw):
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("the message is not a JSON object")
        return value
    if "<!DOCTYPE" in raw.upper() or "<!ENTITY" in raw.upper():
        raise ValueError("XML with a DOCTYPE is refused")
    root = ElementTree.fromstring(raw)
    return {child.tag: (child.text or "") for child in root}


def _render(xml: bool, fields: dict[str, Any]) -> tuple[str, bytes]:
    if not xml:
        return "application/json; charset=utf-8", json.dumps(fields, ensure_ascii=False) \
            .encode("utf-8")
    parts = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
                    for k, v in fields.items())
    return "application/xml; charset=utf-8", f"<xml>{parts}</xml>".encode("utf-8")


def read_message(settings: Settings, query: dict[str, str], body: bytes,
                 safe: bool) -> dict[str, Any]:
    outer = _parse(body.decode("utf-8"))
    if not safe:
        return outer
    if not settings.WX_MESSAGE_AES_KEY:
        raise CryptError("a safe-mode push, and no EncodingAESKey configured")
    encrypted = str(outer.get("Encrypt") or "")
    check_signature(query.get("msg_signature", ""), settings.WX_MESSAGE_TOKEN or "",
                    query.get("timestamp", ""), query.get("nonce", ""), encrypted)
    return _parse(decrypt(settings.WX_MESSAGE_AES_KEY, encrypted, settings.WX_APPID))


def _reply(settings: Settings, fields: dict[str, Any], timestamp: str, nonce: str,
           safe: bool, xml: bool) -> tuple[str, bytes]:
    if not safe:
        return _render(xml, fields)
    _, plain = _render(xml, fields)
    encrypted = encrypt(settings.WX_MESSAGE_AES_KEY or "", plain.decode("utf-8"),
                        settings.WX_APPID or "")
    return _render(xml, {
        "Encrypt": encrypted, "TimeStamp": timestamp, "Nonce": nonce,
        "MsgSignature": signature(settings.WX_MESSAGE_TOKEN or "", timestamp, nonce, encrypted)})


# ---- receiving a message ---------------------------------------------------------------------

def _session(ctx: Context, openid: str) -> dict[str, Any]:
    doc = ctx.db.assistant_sessions.find_one(
        {"openid": openid, "expires_at": {"$gt": ctx.now}}, sort=[("last_message_at", -1)])
    if doc is not None:
        return dict(doc)
    return {"_id": new_id("ses"), "user_id": ctx.user_id, "channel": "wechat", "openid": openid,
            "status": "bot", "context": {}, "guesses": 0, "created_at": ctx.now, "new": True}


def receive(db: Database, settings: Settings, message: dict[str, Any],
            now: datetime) -> Optional[dict[str, Any]]:
    """Record and answer one pushed message; the transfer reply when it hands over.

    A message is taken by its MsgId with a short lease: WeChat's retry of a message being
    answered, or answered, finds nothing to do; a retry after an instance died while
    answering (the lease run out, the message still ``received``) answers it."""
    openid = str(message.get("FromUserName") or "")
    if not openid:
        raise ValueError("the message names no sender")
    inbox_id = f"msg:{message.get('MsgId') or openid + ':' + str(message.get('CreateTime'))}"
    doc = {"_id": inbox_id, "openid": openid, "to": str(message.get("ToUserName") or ""),
           "type": str(message.get("MsgType") or ""),
           "text": str(message.get("Content") or "").strip()[:500], "received_at": now,
           "status": "received", "lease_until": now + ANSWER_LEASE, "attempts": 0}
    if not insert_once(db.assistant_inbox, doc):
        taken = db.assistant_inbox.find_one_and_update(
            {"_id": inbox_id, "status": "received", "lease_until": {"$lte": now}},
            {"$set": {"lease_until": now + ANSWER_LEASE}})
        if taken is None:
            return None   # WeChat's retry of a message being answered or answered
        doc = taken
    return answer_message(db, settings, doc, now, passive=True)


def answer_message(db: Database, settings: Settings, doc: dict[str, Any], now: datetime,
                   passive: bool) -> Optional[dict[str, Any]]:
    """The assistant's answer to a taken message: queued for custom/send, or (a handoff) the
    transfer reply when WeChat still waits for one (``passive``)."""
    from shared.assistant.ask import HANDOFF_ANSWER, respond
    if doc["type"] != "text" or not doc["text"]:
        db.assistant_inbox.update_one({"_id": doc["_id"]}, {"$set": {"status": "ignored"}})
        return None
    openid = doc["openid"]
    user = db.users.find_one({"openid": openid}, {"_id": 1})
    ctx = Context(db=db, settings=settings, now=now, request_id=new_id("wxm"),
                  user_id=user["_id"] if user else None)
    session = _session(ctx, openid)
    answer = respond(ctx, session, doc["text"])
    # the shopper's message opens WeChat's window again: 48 hours, 5 messages
    db.assistant_sessions.update_one({"_id": session["_id"]}, {"$set": {
        "openid": openid, "channel": "wechat", "window_opened_at": now, "window_sent": 0}})
    if answer["handoff"] and passive:
        db.assistant_inbox.update_one({"_id": doc["_id"]}, {"$set": {
            "status": "transferred", "session_id": session["_id"]}})
        return {"ToUserName": openid, "FromUserName": doc.get("to", ""),
                "CreateTime": int(now.timestamp()), "MsgType": "transfer_customer_service"}
    text = HANDOFF_ANSWER if answer["handoff"] else answer["answer"]
    db.assistant_inbox.update_one({"_id": doc["_id"]}, {"$set": {
        "status": "to_send", "answer": text, "session_id": session["_id"]}})
    if passive:
        _send_after_answer(doc["_id"], settings)
    return None


# ---- sending the answer ----------------------------------------------------------------------

def _send_after_answer(inbox_id: str, settings: Settings) -> None:
    if settings.SHOP_ENV == "test":
        return   # the assistant_inbox timer sends: each test says when
    import threading
    threading.Thread(target=_send_by_id, args=(inbox_id,), daemon=True,
                     name=f"wechat-reply-{inbox_id}").start()


def _send_by_id(inbox_id: str) -> Optional[str]:
    try:
        return send_pending(get_db(), get_settings(), inbox_id, utcnow())
    except Exception:   # the timer is the safety net
        logger.exception("could not send the answer of %s", inbox_id)
        return None


def send_in_window(db: Database, settings: Settings, session_id: str, openid: str,
                   text: str, now: datetime) -> str:
    """Send ``text`` if WeChat's window of the conversation allows one more message."""
    taken = db.assistant_sessions.update_one(
        {"_id": session_id, "window_opened_at": {"$gt": now - WINDOW},
         "window_sent": {"$lt": WINDOW_MESSAGES}}, {"$inc": {"window_sent": 1}})
    if taken.modified_count == 0:
        return "window_closed"
    from shared.wechat.custom import send_text
    outcome = send_text(db, settings, openid, text)
    if outcome != "sent":   # not used: give the message back to the window
        db.assistant_sessions.update_one({"_id": session_id}, {"$inc": {"window_sent": -1}})
    return outcome


def send_pending(db: Database, settings: Settings, inbox_id: str, now: datetime) \
        -> Optional[str]:
    """Send one answer still owed, once: claimed by a lease so the thread and the timer never
    both send it."""
    doc = db.assistant_inbox.find_one_and_update(
        {"_id": inbox_id, "$or": [{"status": "to_send"},
                                  {"status": "sending", "lease_until": {"$lte": now}}]},
        {"$set": {"status": "sending", "lease_until": now + SEND_LEASE}})
    if doc is None:
        return None
    outcome = send_in_window(db, settings, doc["session_id"], doc["openid"], doc["answer"], now)
    attempts = doc.get("attempts", 0) + 1
    if outcome in ("sent", "window_closed") or attempts >= MAX_SEND_ATTEMPTS:
        status = "sent" if outcome == "sent" else "failed"
    else:
        status = "to_send"
    db.assistant_inbox.update_one({"_id": inbox_id, "status": "sending"}, {"$set": {
        "status": status, "outcome": outcome, "attempts": attempts, "sent_at": now}})
    return outcome


def drain_inbox(ctx: Context) -> dict[str, Any]:
    """Timer assistant_inbox: answers still owed to WeChat shoppers (a message an instance died
    answering, a thread that died with its instance, a send WeChat refused for now)."""
    for doc in list(ctx.db.assistant_inbox.find(
            {"status": "received", "lease_until": {"$lte": ctx.now}})
            .sort([("received_at", 1)]).limit(ctx.settings.TIMER_BATCH_SIZE)):
        taken = ctx.db.assistant_inbox.find_one_and_update(
            {"_id": doc["_id"], "status": "received", "lease_until": {"$lte": ctx.now}},
            {"$set": {"lease_until": ctx.now + ANSWER_LEASE}})
        if taken is not None:
            answer_message(ctx.db, ctx.settings, taken, ctx.now, passive=False)
    due = [d["_id"] for d in ctx.db.assistant_inbox.find(
        {"$or": [{"status": "to_send"}, {"status": "sending", "lease_until": {"$lte": ctx.now}}]},
        {"_id": 1}).sort([("received_at", 1)]).limit(ctx.settings.TIMER_BATCH_SIZE)]
    outcomes: dict[str, int] = {}
    for inbox_id in due:
        outcome = send_pending(ctx.db, ctx.settings, inbox_id, ctx.now)
        if outcome is not None:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"due": len(due), "outcomes": outcomes}
