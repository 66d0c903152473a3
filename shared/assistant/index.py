"""The assistant's retrieval index: BM25 over the products on sale (title, subtitle,
description, spec values, category) and over the merchant's FAQ, with the merchant's synonyms.

A warm instance keeps the index until the catalogue, the FAQ or the synonyms change, as told by
their version documents (``shared.nearby.versioned``): the catalogue's version is bumped by
every product and category write (shared.catalog.products), the FAQ's and the synonyms' by
the merchant actions of shared.assistant.faq. Stock and sales are not in the index: they are
read live when an answer needs them.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from shared.assistant.text import tokenize
from shared.nearby.versioned import VersionedIndex

CATALOG_VERSION = "catalog_version"      # bumped by shared.catalog.products
FAQ_VERSION = "assistant_faq_version"
SYNONYMS_VERSION = "assistant_synonyms_version"

K1, B = 1.2, 0.75
# fields of a product and how much a word there counts (a title says more than a description)
PRODUCT_FIELDS = (("title", 3), ("subtitle", 1), ("category", 2), ("specs", 1),
                  ("description", 1))


class BM25:
    """Okapi BM25 over token lists; small (a shop's catalogue), so plain dicts."""

    def __init__(self, docs: list[list[str]]) -> None:
        self.size = len(docs)
        self.lengths = [len(d) for d in docs]
        self.average = (sum(self.lengths) / self.size) if self.size else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for index, doc in enumerate(docs):
            for term, count in Counter(doc).items():
                self.postings.setdefault(term, []).append((index, count))
        self.idf = {term: math.log(1 + (self.size - len(p) + 0.5) / (len(p) + 0.5))
                    for term, p in self.postings.items()}

    def scores(self, query: list[str]) -> dict[int, float]:
        scores: dict[int, float] = {}
        for term, weight in Counter(query).items():
            for index, count in self.postings.get(term, ()):
                norm = K1 * (1 - B + B * self.lengths[index] / (self.average or 1.0))
                part = self.idf[term] * count * (K1 + 1) / (count + norm)
                scores[index] = scores.get(index, 0.0) + part * weight
        return scores

    def max_score(self, query: list[str]) -> float:
        """What a document holding every query term once would score: a scale for confidence."""
        # a term no document has weighs as the rarest: a question mostly about something
        # else is a weak match, however well its one common word matches
        rarest = math.log(1 + (self.size + 0.5) / 0.5)
        return sum(self.idf.get(term, rarest) * weight
                   for term, weight in Counter(query).items())


@dataclass
class ProductEntry:
    id: str
    title: str
    price: int
    price_max: int
    image: str
    category_id: str
    spec_values: list[str]
    words: set[str]
    prices: list[int] = field(default_factory=list)   # of its SKUs on sale


@dataclass
class FaqEntry:
    id: str
    question: str
    answer: str
    keywords: list[str]


@dataclass
class AssistantIndex:
    products: list[ProductEntry]
    product_bm25: BM25
    faqs: list[FaqEntry]
    faq_bm25: BM25
    synonyms: dict[str, set[str]]
    # a word of a category's name -> the category id ("茶" and "茶饮冲调" -> cat_tea)
    categories: dict[str, str]
    titles: dict[str, str] = field(default_factory=dict)   # product id -> title
    synonym_words: set[str] = field(default_factory=set)

    def expand(self, tokens: list[str]) -> list[str]:
        """The query's tokens and, once each, those of every synonym of its words."""
        out = list(tokens)
        seen = set(tokens)
        for token in tokens:
            for synonym in self.synonyms.get(token, ()):
                for extra in tokenize(synonym):
                    if extra not in seen:
                        seen.add(extra)
                        out.append(extra)
        return out

    def search_products(self, tokens: list[str], limit: int = 10) \
            -> list[tuple[ProductEntry, float]]:
        ranked = sorted(self.product_bm25.scores(tokens).items(), key=lambda kv: -kv[1])
        return [(self.products[i], s) for i, s in ranked[:limit]]

    def search_faq(self, tokens: list[str], limit: int = 3) -> list[tuple[FaqEntry, float]]:
        ranked = sorted(self.faq_bm25.scores(tokens).items(), key=lambda kv: -kv[1])
        return [(self.faqs[i], s) for i, s in ranked[:limit]]

    def product(self, product_id: str) -> Optional[ProductEntry]:
        for entry in self.products:
            if entry.id == product_id:
                return entry
        return None


def _category_words(categories: dict[str, str]) -> dict[str, str]:
    """Each category's name and its halves ("水果生鲜" -> "水果", "生鲜")."""
    words: dict[str, str] = {}
    for cat_id, name in categories.items():
        words[name] = cat_id
        if len(name) == 4:
            words.setdefault(name[:2], cat_id)
            words.setdefault(name[2:], cat_id)
    return words


def build(db: Any) -> AssistantIndex:
    from shared.assistant.text import add_words
    categories = {c["_id"]: c["name"] for c in db.categories.find({}, {"name": 1})}
    synonyms: dict[str, set[str]] = {}
    for doc in db.assistant_synonyms.find({}):
        group = {doc["_id"], *doc.get("synonyms", [])}
        for word in group:
            synonyms.setdefault(word, set()).update(group - {word})
    docs = list(db.products.find({"status": "on_sale"}, {
        "title": 1, "subtitle": 1, "description": 1, "category_id": 1, "images": 1,
        "price_min": 1, "price_max": 1}).sort([("_id", 1)]))
    specs: dict[str, list[str]] = {}
    prices: dict[str, list[int]] = {}
    for sku in db.skus.find({"product_id": {"$in": [d["_id"] for d in docs]}, "active": True},
                            {"product_id": 1, "specs": 1, "price": 1}):
        specs.setdefault(sku["product_id"], []).extend((sku.get("specs") or {}).values())
        prices.setdefault(sku["product_id"], []).append(sku["price"])
    add_words([d["title"] for d in docs] + list(synonyms)
              + [w for group in synonyms.values() for w in group])
    products, product_tokens = [], []
    for doc in docs:
        values = sorted(set(specs.get(doc["_id"], [])))
        fields = {"title": doc["title"], "subtitle": doc.get("subtitle", ""),
                  "category": categories.get(doc["category_id"], ""),
                  "specs": " ".join(values), "description": doc.get("description", "")}
        tokens = [t for name, weight in PRODUCT_FIELDS for t in tokenize(fields[name]) * weight]
        products.append(ProductEntry(
            id=doc["_id"], title=doc["title"], price=doc["price_min"],
            price_max=doc["price_max"], image=(doc.get("images") or [""])[0],
            category_id=doc["category_id"], spec_values=values, words=set(tokens),
            prices=sorted(prices.get(doc["_id"], [doc["price_min"]]))))
        product_tokens.append(tokens)
    faqs, faq_tokens = [], []
    for doc in db.assistant_faq.find({}).sort([("_id", 1)]):
        entry = FaqEntry(doc["_id"], doc["question"], doc["answer"], doc.get("keywords", []))
        faqs.append(entry)
        faq_tokens.append(tokenize(entry.question) * 2 + tokenize(" ".join(entry.keywords)) * 2
                          + tokenize(entry.answer))
    return AssistantIndex(products, BM25(product_tokens), faqs, BM25(faq_tokens), synonyms,
                          _category_words(categories),
                          {p.id: p.title for p in products},
                          {t for w in synonyms for t in tokenize(w)})


INDEX: VersionedIndex[AssistantIndex] = VersionedIndex(
    (CATALOG_VERSION, FAQ_VERSION, SYNONYMS_VERSION), build)


def get_index(db: Any) -> AssistantIndex:
    return INDEX.get(db)
