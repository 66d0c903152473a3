"""Trace batches and their events: created and appended by the merchant, read by anyone.

Append-only: no action edits or deletes an event. Each event links to the one before by its
hash and carries the shop's signature (shared.trace.chain), so an event changed in the
database shows in ``get_trace`` as ``verified: false`` with the first bad seq.

Two appends to one batch race for the next seq: the unique index on (batch_id, seq) lets one
insert win, and the other reads the new last event and tries again on top of it.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Optional

from pydantic import Field, field_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context, Database
from shared.core.errors import ShopError, not_found
from shared.trace.anchor import day_of, proofs
from shared.trace.chain import (
    GENESIS,
    check_plain,
    event_hash,
    first_bad_seq,
    public_key_b64,
    sign,
    signing_key,
)

# GS1 CBV 2.0 business steps; the URN form urn:epcglobal:cbv:bizstep:<step> is accepted too
BIZ_STEPS = frozenset({
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
    "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
    "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
    "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
    "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
    "transporting", "unloading", "unpacking", "void_shipping"})
BIZ_STEP_URN = "urn:epcglobal:cbv:bizstep:"
APPEND_ATTEMPTS = 50
TRACE_PAGE = "packages/trace/pages/trace/trace"
_CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read aloud off a label


def _plain(value: Optional[dict[str, Any]], name: str) -> Optional[dict[str, Any]]:
    if value is not None:
        check_plain(value, name)
    return value


class CreateTraceBatchInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    batch_no: str = Field(min_length=1, max_length=64)
    origin: str = Field(min_length=1, max_length=200, description="产地, e.g. 云南省昆明市")
    produced_at: datetime
    attributes: Optional[dict[str, Any]] = Field(
        default=None, description="strings and integers only (no floats)")

    @field_validator("attributes")
    @classmethod
    def _attributes_plain(cls, value: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        return _plain(value, "attributes")


class AppendTraceEventInput(Input):
    batch_id: str = Field(min_length=1, max_length=64)
    biz_step: str = Field(min_length=1, max_length=80,
                          description="a GS1 CBV bizStep: shipping, or "
                                      "urn:epcglobal:cbv:bizstep:shipping")
    event_time: datetime
    read_point: str = Field(min_length=1, max_length=200,
                            description="where: a GLN URN (urn:epc:id:sgln:...) or a place")
    data: Optional[dict[str, Any]] = Field(default=None,
                                           description="strings and integers only (no floats)")
    # a retry with the same request_id returns the first event instead of a second one
    request_id: Optional[str] = Field(default=None, min_length=1, max_length=64)

    @field_validator("biz_step")
    @classmethod
    def _cbv_step(cls, value: str) -> str:
        step = value[len(BIZ_STEP_URN):] if value.startswith(BIZ_STEP_URN) else value
        if step not in BIZ_STEPS:
            raise ValueError("not a GS1 CBV bizStep (commissioning, inspecting, storing, "
                             "packing, shipping, receiving, ...)")
        return step

    @field_validator("data")
    @classmethod
    def _data_plain(cls, value: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        return _plain(value, "data")


class TraceBatchIdInput(Input):
    batch_id: str = Field(min_length=1, max_length=64)


class TraceCodeInput(Input):
    code: str = Field(min_length=1, max_length=32)


class ListTraceBatchesInput(PageInput):
    sku_id: Optional[str] = Field(default=None, max_length=64)


# ---- views ---------------------------------------------------------------------------------

def batch_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": doc["_id"], "code": doc["code"], "sku_id": doc["sku_id"],
            "product_id": doc.get("product_id"), "batch_no": doc["batch_no"],
            "origin": doc["origin"], "produced_at": iso(doc["produced_at"]),
            "attributes": doc.get("attributes") or {}, "created_at": iso(doc["created_at"])}


def event_view(doc: dict[str, Any], proof: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {"batch_id": doc["batch_id"], "seq": doc["seq"], "biz_step": doc["biz_step"],
            "event_time": doc["event_time"], "read_point": doc["read_point"],
            "data": doc["data"], "prev_hash": doc["prev_hash"], "hash": doc["hash"],
            "signature": doc["signature"], "recorded_at": iso(doc.get("recorded_at")),
            "anchor": proof}


# ---- merchant actions ----------------------------------------------------------------------

def _new_code() -> str:
    return "t" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(11))


def create_trace_batch(ctx: Context, req: CreateTraceBatchInput) -> dict[str, Any]:
    """A batch of one SKU (批次), with the code shoppers scan; the same batch_no of the same SKU
    answers the batch made first."""
    sku = ctx.db.skus.find_one({"_id": req.sku_id}, {"product_id": 1})
    if sku is None:
        raise not_found("sku")
    fields = {"origin": req.origin, "produced_at": req.produced_at,
              "attributes": req.attributes or {}}
    doc = {"_id": new_id("tb"), "code": _new_code(), "sku_id": req.sku_id,
           "product_id": sku.get("product_id"), "batch_no": req.batch_no, **fields,
           "created_at": ctx.now}
    try:
        ctx.db.trace_batches.insert_one(doc)
    except DuplicateKeyError:
        # (sku_id, batch_no) is one batch: a retry gets it, a different one is a conflict
        earlier = ctx.db.trace_batches.find_one({"sku_id": req.sku_id, "batch_no": req.batch_no})
        if earlier is None:  # a code collision (32^11): try once more with a fresh code
            return create_trace_batch(ctx, req)
        same = (earlier["origin"], iso(earlier["produced_at"]), earlier.get("attributes") or {}) \
            == (req.origin, iso(req.produced_at), req.attributes or {})
        if not same:
            raise ShopError("CONFLICT", "this SKU has a batch of this number already",
                            {"batch_id": earlier["_id"]},
                            message_zh="该商品已有相同批次号的批次") from None
        doc = earlier
    return {"batch_id": doc["_id"], "code": doc["code"], "batch": batch_view(doc)}


def append_event(db: Database, settings: Any, batch_id: str, step: dict[str, Any],
                 now: datetime, request_id: Optional[str] = None) -> dict[str, Any]:
    """Append one event at the end of the batch's chain; returns the stored event."""
    key = signing_key(db, settings)
    for _ in range(APPEND_ATTEMPTS):
        last = db.trace_events.find_one({"batch_id": batch_id}, {"seq": 1, "hash": 1},
                                        sort=[("seq", -1)])
        event = {"batch_id": batch_id, "seq": (last["seq"] + 1) if last else 1,
                 "prev_hash": last["hash"] if last else GENESIS, **step}
        event["hash"] = event_hash(event)
        event["signature"] = sign(key, event["hash"])
        doc = {"_id": f"{batch_id}:{event['seq']}", **event, "recorded_at": now,
               "day": day_of(now), "unanchored": True}
        if request_id:
            doc["request_id"] = request_id
        try:
            db.trace_events.insert_one(doc)
            return doc
        except DuplicateKeyError:
            if request_id:
                earlier = db.trace_events.find_one({"batch_id": batch_id,
                                                    "request_id": request_id})
                if earlier is not None:
                    return earlier
            continue  # another append took this seq: build on top of it
    raise ShopError("CONFLICT", "too many appends to this batch at once, try again",
                    {"batch_id": batch_id}, message_zh="该批次正在写入，请稍后重试")


def append_trace_event(ctx: Context, req: AppendTraceEventInput) -> dict[str, Any]:
    """Append an event (biz_step, event_time, read_point, data) to a batch's chain: hashed,
    linked to the one before, signed. There is no edit and no delete."""
    if ctx.db.trace_batches.find_one({"_id": req.batch_id}, {"_id": 1}) is None:
        raise not_found("trace batch")
    if req.request_id:
        earlier = ctx.db.trace_events.find_one({"batch_id": req.batch_id,
                                                "request_id": req.request_id})
        if earlier is not None:
            return event_view(earlier)
    step = {"biz_step": req.biz_step, "event_time": iso(req.event_time),
            "read_point": req.read_point, "data": req.data or {}}
    return event_view(append_event(ctx.db, ctx.settings, req.batch_id, step, ctx.now,
                                   req.request_id))


def merchant_list_trace_batches(ctx: Context, req: ListTraceBatchesInput) -> dict[str, Any]:
    query = {"sku_id": req.sku_id} if req.sku_id else {}
    docs = ctx.db.trace_batches.find(query).sort([("created_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([batch_view(d) for d in docs], ctx.db.trace_batches.count_documents(query),
                   req)


def trace_code(ctx: Context, req: TraceBatchIdInput) -> dict[str, Any]:
    """The batch's mini-program code (getwxacodeunlimit, scene = the trace code) in object
    storage, made on first request: print it on the package."""
    batch = ctx.db.trace_batches.find_one({"_id": req.batch_id})
    if batch is None:
        raise not_found("trace batch")
    if not batch.get("code_image"):
        from shared.storage.uploads import put_file
        from shared.wechat.wxacode import unlimited_code
        image = unlimited_code(ctx.db, ctx.settings, batch["code"], TRACE_PAGE)
        url = put_file(ctx.settings, f"trace-codes/{batch['_id']}.png", image.content,
                       image.content_type)
        # two first requests racing both store the same key; the first record stays
        ctx.db.trace_batches.update_one({"_id": batch["_id"], "code_image": {"$exists": False}},
                                        {"$set": {"code_image": {"url": url,
                                                                 "created_at": ctx.now}}})
        batch = ctx.db.trace_batches.find_one({"_id": req.batch_id})
    return {"batch_id": batch["_id"], "code": batch["code"], "page": TRACE_PAGE,
            "scene": batch["code"], "url": batch["code_image"]["url"]}


def export_trace(ctx: Context, req: TraceBatchIdInput) -> dict[str, Any]:
    """The batch and its events as an EPCIS 2.0 JSON document (EPCISDocument of ObjectEvents)."""
    from shared.trace.epcis import epcis_document
    batch = ctx.db.trace_batches.find_one({"_id": req.batch_id})
    if batch is None:
        raise not_found("trace batch")
    events = list(ctx.db.trace_events.find({"batch_id": batch["_id"]}).sort([("seq", 1)]))
    return epcis_document(batch, events, ctx.now)


# ---- the public trace ----------------------------------------------------------------------

def get_trace(ctx: Context, req: TraceCodeInput) -> dict[str, Any]:
    """A batch's history by its code, with the shop's public key and whether the chain holds
    (anyone can repeat the check offline: see the README)."""
    batch = ctx.db.trace_batches.find_one({"code": req.code})
    if batch is None:
        raise not_found("trace")
    events = list(ctx.db.trace_events.find({"batch_id": batch["_id"]}).sort([("seq", 1)]))
    key = signing_key(ctx.db, ctx.settings)
    bad = first_bad_seq(batch["_id"], events, key.public_key())
    anchored = proofs(ctx.db, events)
    product = ctx.db.products.find_one({"_id": batch.get("product_id")},
                                       {"title": 1, "images": 1}) or {}
    return {"batch": {**batch_view(batch), "product_title": product.get("title"),
                      "product_image": (product.get("images") or [None])[0]},
            "events": [event_view(e, anchored.get(e["_id"])) for e in events],
            "public_key": public_key_b64(key), "algorithm": "Ed25519",
            "hash": "SHA-256 of canonical JSON", "verified": bad is None, "first_bad_seq": bad}

