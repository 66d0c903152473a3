"""shopctl assistant and shopctl cs: the AI assistant's FAQ and synonyms, its evaluation, and the
queue of conversations handed over to a person."""
from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import typer
from rich.text import Text

from .base import done, emit, emit_json, out, shop
from .grid import Col, print_list, time_col
from .options import list_page, page_option, page_size_option
from .views import status_text, when

app = typer.Typer(help="The AI assistant: its FAQ and synonyms, and its evaluation.",
                  no_args_is_help=True)
faq = typer.Typer(help="The FAQ the assistant answers from.", no_args_is_help=True)
synonyms = typer.Typer(help="Words shoppers use for the shop's own words.",
                       no_args_is_help=True)
app.add_typer(faq, name="faq")
app.add_typer(synonyms, name="synonyms")
cs = typer.Typer(help="Customer service: the conversations handed over to a person "
                      "(shopctl cs: the queue; show, reply).", invoke_without_command=True)


class ConversationStatus(str, Enum):
    waiting = "waiting"
    replied = "replied"
    bot = "bot"


FAQ_COLUMNS = (Col("id", "id"), Col("question", min=12), Col("keywords"),
               Col("answer", min=16))
QUEUE_COLUMNS = (Col("id", "id"), Col("user", "id"), Col("channel", "fixed"),
                 Col("status", "fixed"), Col("last message", min=12), time_col("handed over"),
                 time_col("last"))


def faq_table(data: dict[str, Any]) -> None:
    print_list(FAQ_COLUMNS, [(f["id"], f["question"], "、".join(f.get("keywords") or []),
                              f["answer"]) for f in data["items"]], data, "FAQ entries")


def queue_table(data: dict[str, Any]) -> None:
    print_list(QUEUE_COLUMNS, [
        (c["id"], c.get("user_id") or "anonymous", c.get("channel"), status_text(c["status"]),
         c.get("last_message", ""), when(c.get("handoff_at")), when(c.get("last_message_at")))
        for c in data["items"]], data, "conversations")


@faq.command("list")
def faq_list(ctx: typer.Context, page: int = page_option(),
             page_size: int = typer.Option(50, min=1, max=100)) -> None:
    """List the FAQ."""
    list_page(ctx, "merchant_list_faq", faq_table, page=page, page_size=page_size)


@faq.command("set")
def faq_set(
    ctx: typer.Context,
    question: str = typer.Option(..., help="The question as shoppers ask it."),
    answer: str = typer.Option(..., help="The shop's answer."),
    keyword: Optional[list[str]] = typer.Option(None, help="A word that means this FAQ "
                                                           "(repeat the option)."),
    faq_id: Optional[str] = typer.Option(None, "--id", help="Change this entry; "
                                                            "default: add one."),
) -> None:
    """Add or change an FAQ entry; the assistant answers with it at once."""
    data = shop(ctx).call("merchant_upsert_faq", {"faq_id": faq_id, "question": question,
                                                  "answer": answer,
                                                  "keywords": list(keyword or [])}
                          if faq_id else {"question": question, "answer": answer,
                                          "keywords": list(keyword or [])})
    emit(ctx, data, lambda d: done(ctx, f"FAQ {d['id']} saved"))


@faq.command("delete")
def faq_delete(ctx: typer.Context, faq_id: str = typer.Argument(..., help="The FAQ's id.")) \
        -> None:
    """Delete an FAQ entry."""
    data = shop(ctx).call("merchant_delete_faq", {"faq_id": faq_id})
    emit(ctx, data, lambda d: done(ctx, f"FAQ {faq_id} deleted"))


@synonyms.command("set")
def synonyms_set(
    ctx: typer.Context,
    word: str = typer.Argument(..., help="The shop's word, e.g. 保温杯."),
    synonym: Optional[list[str]] = typer.Argument(None, help="Shoppers' words for it; none: "
                                                             "remove the word's synonyms."),
) -> None:
    """Set the synonyms of a word (shopctl assistant synonyms set 保温杯 水杯 杯子)."""
    data = shop(ctx).call("merchant_upsert_synonyms", {"word": word,
                                                       "synonyms": list(synonym or [])})
    emit(ctx, data, lambda d: done(ctx, f"{d['word']}: {'、'.join(d['synonyms']) or '-'}"))


@app.command("eval")
def assistant_eval(
    ctx: typer.Context,
    show_misses: bool = typer.Option(False, "--misses", help="List the questions missed."),
) -> None:
    """Ask the evaluation set (tests/assistant_eval.jsonl) of the demo shop, in this process on
    an embedded database (no gateway): intent accuracy, top-3 retrieval hit rate, latency."""
    from .assistant_eval import misses, run
    result = run()
    summary = result["summary"]
    if shop(ctx).as_json:
        emit_json(summary)
        return
    for split in ("tune", "holdout", "all"):
        part = summary[split]
        out.print(f"{split:8} {part['questions']:4d} questions  intent accuracy "
                  f"{part['intent_accuracy']:.3f}  top-3 hit rate {part['top3_hit_rate']:.3f} "
                  f"({part['retrieval_questions']} with a product or FAQ expected)")
    latency = summary["latency_ms"]
    out.print(f"assistant_ask warm latency: p50 {latency['p50']} ms, p95 {latency['p95']} ms")
    if show_misses:
        for miss in misses(result["results"]):
            out.print(Text(f"{miss['id']} [{miss['split']}] {miss['q']}: {miss['intent']} "
                           f"(want {miss['expected_intent']}), shown {miss['shown']} "
                           f"faq {miss['faq_id']}", style="yellow"))


@cs.callback()
def cs_queue(
    ctx: typer.Context,
    status: ConversationStatus = typer.Option(ConversationStatus.waiting,
                                              help="waiting: the queue (oldest first)."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """The conversations waiting for a person, the longest waiting first."""
    if ctx.invoked_subcommand is None:
        list_page(ctx, "merchant_list_conversations", queue_table, status=status, page=page,
                  page_size=page_size)


@cs.command("show")
def cs_show(ctx: typer.Context,
            conversation_id: str = typer.Argument(..., help="The conversation's id.")) -> None:
    """A conversation's messages."""
    data = shop(ctx).call("merchant_get_conversation", {"conversation_id": conversation_id})

    def render(talk: dict[str, Any]) -> None:
        out.print(Text(f"{talk['id']}  {talk.get('user_id') or 'anonymous'}  {talk['status']}",
                       style="bold"))
        for message in talk["messages"]:
            style = {"user": "cyan", "merchant": "green"}.get(message["role"], "")
            out.print(Text(f"{when(message['at'])} {message['role']:9} {message['text']}",
                           style=style))
    emit(ctx, data, render)


@cs.command("reply")
def cs_reply(ctx: typer.Context,
             conversation_id: str = typer.Argument(..., help="The conversation's id."),
             text: str = typer.Argument(..., help="What to say to the shopper.")) -> None:
    """Answer a shopper as a person (sent through WeChat for its conversations)."""
    data = shop(ctx).call("merchant_reply", {"conversation_id": conversation_id, "text": text})
    emit(ctx, data, lambda d: done(ctx, f"replied to {conversation_id}"))
