"""The merchant's FAQ and synonyms, which the assistant retrieves from (shared.assistant.index).

Every write bumps the version the index is kept by, so warm instances rebuild it.
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, field_validator

from shared.assistant.index import FAQ_VERSION, SYNONYMS_VERSION
from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context, Database
from shared.core.errors import not_found
from shared.nearby.versioned import bump_version


class UpsertFaqInput(Input):
    faq_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=200)
    answer: str = Field(min_length=1, max_length=2000)
    keywords: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("keywords")
    @classmethod
    def short_keywords(cls, value: list[str]) -> list[str]:
        words = [w.strip() for w in value if w.strip()]
        if any(len(w) > 20 for w in words):
            raise ValueError("keywords are at most 20 characters")
        return words


class ListFaqInput(PageInput):
    page_size: int = Field(default=50, ge=1, le=100)


class FaqIdInput(Input):
    faq_id: str = Field(min_length=1, max_length=64)


class UpsertSynonymsInput(Input):
    word: str = Field(min_length=1, max_length=20)
    # an empty list removes the word's synonyms
    synonyms: list[str] = Field(max_length=30)

    @field_validator("synonyms")
    @classmethod
    def short_synonyms(cls, value: list[str]) -> list[str]:
        words = list(dict.fromkeys(w.strip() for w in value if w.strip()))
        if any(len(w) > 20 for w in words):
            raise ValueError("synonyms are at most 20 characters")
        return words


def bump_faq_versions(db: Database) -> None:
    bump_version(db, FAQ_VERSION, "fqv")
    bump_version(db, SYNONYMS_VERSION, "syv")


def faq_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "question": doc["question"], "answer": doc["answer"],
            "keywords": doc.get("keywords", []), "updated_at": iso(doc.get("updated_at"))}


def upsert_faq(ctx: Context, req: UpsertFaqInput) -> dict[str, Any]:
    faq_id = req.faq_id or new_id("faq")
    fields = {"question": req.question, "answer": req.answer, "keywords": req.keywords,
              "updated_at": ctx.now}
    ctx.db.assistant_faq.update_one({"_id": faq_id}, {"$set": fields,
                                                      "$setOnInsert": {"created_at": ctx.now}},
                                    upsert=True)
    bump_version(ctx.db, FAQ_VERSION, "fqv")
    return faq_view({"_id": faq_id, **fields})


def list_faq(ctx: Context, req: ListFaqInput) -> dict[str, Any]:
    docs = ctx.db.assistant_faq.find({}).sort([("_id", 1)]).skip(req.skip).limit(req.page_size)
    items = [faq_view(d) for d in docs]
    return page_of(items, ctx.db.assistant_faq.count_documents({}), req)


def delete_faq(ctx: Context, req: FaqIdInput) -> dict[str, Any]:
    if ctx.db.assistant_faq.delete_one({"_id": req.faq_id}).deleted_count == 0:
        raise not_found("faq")
    bump_version(ctx.db, FAQ_VERSION, "fqv")
    return {"deleted": True, "faq_id": req.faq_id}


def upsert_synonyms(ctx: Context, req: UpsertSynonymsInput) -> dict[str, Any]:
    word = req.word
    synonyms = [w for w in req.synonyms if w != word]
    if synonyms:
        ctx.db.assistant_synonyms.update_one(
            {"_id": word}, {"$set": {"synonyms": synonyms, "updated_at": ctx.now}}, upsert=True)
    else:
        ctx.db.assistant_synonyms.delete_one({"_id": word})
    bump_version(ctx.db, SYNONYMS_VERSION, "syv")
    return {"word": word, "synonyms": synonyms}
