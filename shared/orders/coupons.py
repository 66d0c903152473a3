"""Coupons: the merchant's templates, a shopper's wallet, and use by one order at a time.

``coupon_id`` in ``claim_coupon`` is the template's id; what a shopper holds is a user coupon
(its own id, ``user_coupon_id``), which is what ``place_order`` takes as ``coupon_id``.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Optional

from pydantic import AwareDatetime, Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.ratelimit import hit

__all__ = ["PageInput"]


class CreateCouponInput(Input):
    name: str = Field(min_length=1, max_length=50)
    kind: Literal["fixed", "percent"]
    amount: Optional[int] = Field(default=None, ge=1, le=100_000_000, description="fen off")
    percent: Optional[int] = Field(default=None, ge=1, le=99, description="percent off")
    cap: Optional[int] = Field(default=None, ge=1, le=100_000_000, description="max fen off")
    threshold: int = Field(default=0, ge=0, le=100_000_000, description="min goods total")
    total: int = Field(ge=1, le=10_000_000)
    per_user_limit: int = Field(default=1, ge=1, le=100)
    valid_days: Optional[int] = Field(default=None, ge=1, le=3650)
    valid_from: Optional[AwareDatetime] = None
    valid_to: Optional[AwareDatetime] = None
    # what the coupon applies to: the discount (and the threshold) count the in-scope goods
    scope: Literal["all", "categories", "products"] = "all"
    category_ids: list[str] = Field(default_factory=list, max_length=50)
    product_ids: list[str] = Field(default_factory=list, max_length=200)
    new_user_only: bool = Field(default=False,
                                description="only shoppers who never paid an order may claim")

    @model_validator(mode="after")
    def consistent(self) -> "CreateCouponInput":
        if self.scope == "categories" and not self.category_ids:
            raise ValueError("a categories coupon needs category_ids")
        if self.scope == "products" and not self.product_ids:
            raise ValueError("a products coupon needs product_ids")
        if (self.scope != "categories" and self.category_ids) \
                or (self.scope != "products" and self.product_ids):
            raise ValueError("category_ids go with scope categories, product_ids with products")
        if self.kind == "fixed" and self.amount is None:
            raise ValueError("a fixed coupon needs amount (fen off)")
        if self.kind == "percent" and self.percent is None:
            raise ValueError("a percent coupon needs percent (1-99)")
        # year 1 or 9999 with an offset overflowed when converted to UTC (a 500)
        if any(moment is not None and not 2000 <= moment.year <= 2100
               for moment in (self.valid_from, self.valid_to)):
            raise ValueError("valid_from and valid_to must fall in the years 2000-2100")
        if self.valid_days is None:
            if self.valid_from is None or self.valid_to is None:
                raise ValueError("give valid_days, or both valid_from and valid_to")
            if self.valid_to <= self.valid_from:
                raise ValueError("valid_to must be after valid_from")
        elif self.valid_from is not None or self.valid_to is not None:
            raise ValueError("give valid_days or valid_from/valid_to, not both")
        return self


class ClaimCouponInput(Input):
    coupon_id: str = Field(min_length=1, max_length=64)


class ListCouponsInput(PageInput):
    pass


class ListMyCouponsInput(PageInput):
    status: Optional[Literal["available", "used", "expired"]] = None


TERMS = ("name", "kind", "amount", "percent", "cap", "threshold", "scope", "category_ids",
         "product_ids")


def _terms(doc: dict[str, Any]) -> dict[str, Any]:
    # coupons from before scopes have none: they apply to everything
    return {**{k: doc.get(k) for k in TERMS}, "scope": doc.get("scope") or "all",
            "category_ids": doc.get("category_ids") or [],
            "product_ids": doc.get("product_ids") or []}


def template_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **_terms(doc), "new_user_only": bool(doc.get("new_user_only")),
            "total": doc["total"], "claimed": doc.get("claimed", 0),
            "remaining": doc.get("remaining", 0),
            "per_user_limit": doc["per_user_limit"], "valid_days": doc.get("valid_days"),
            "valid_from": iso(doc.get("valid_from")), "valid_to": iso(doc.get("valid_to")),
            "created_at": iso(doc.get("created_at"))}


def user_coupon_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    status = doc["status"]
    if status == "available" and doc["valid_to"] <= now:
        status = "expired"
    return {"id": doc["_id"], "coupon_id": doc["coupon_id"], **_terms(doc),
            "status": status, "order_id": doc.get("order_id"),
            "valid_from": iso(doc["valid_from"]), "valid_to": iso(doc["valid_to"]),
            "claimed_at": iso(doc.get("claimed_at"))}


def discount_for(coupon: dict[str, Any], goods_total: int) -> int:
    """Fen off ``goods_total``; an order always keeps at least 1 fen to pay."""
    if goods_total < coupon.get("threshold", 0):
        return 0
    if coupon["kind"] == "fixed":
        off = coupon["amount"]
    else:
        off = goods_total * coupon["percent"] // 100
        if coupon.get("cap"):
            off = min(off, coupon["cap"])
    return max(0, min(off, goods_total - 1))


# ---- merchant ------------------------------------------------------------------------------

def create_coupon(ctx: Context, req: CreateCouponInput) -> dict[str, Any]:
    for ids, collection, what in ((req.category_ids, "categories", "category"),
                                  (req.product_ids, "products", "product")):
        if ids and ctx.db[collection].count_documents({"_id": {"$in": ids}}) < len(set(ids)):
            raise not_found(what)
    doc = {"_id": new_id("cpn"), **req.model_dump(), "claimed": 0, "remaining": req.total,
           "status": "active",
           "created_at": ctx.now}
    ctx.db.coupons.insert_one(doc)
    return template_view(doc)


def merchant_list_coupons(ctx: Context, req: PageInput) -> dict[str, Any]:
    docs = ctx.db.coupons.find({}).sort([("created_at", -1), ("_id", -1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([template_view(d) for d in docs], ctx.db.coupons.count_documents({}), req)


# ---- shopper -------------------------------------------------------------------------------

def _claimable_query(now: datetime) -> dict[str, Any]:
    return {"status": "active", "$or": [{"valid_to": None}, {"valid_to": {"$gt": now}}]}


def list_coupons(ctx: Context, req: ListCouponsInput) -> dict[str, Any]:
    """The coupon centre: templates one can still claim, with how many the caller holds."""
    query = _claimable_query(ctx.now)
    docs = list(ctx.db.coupons.find(query).sort([("created_at", -1), ("_id", -1)])
                .skip(req.skip).limit(req.page_size))
    mine = {c["_id"].split(":", 1)[0]: c["count"] for c in ctx.db.coupon_claims.find(
        {"_id": {"$in": [f"{d['_id']}:{ctx.user_id}" for d in docs]}})}
    items = [{**template_view(d), "claimed_by_me": mine.get(d["_id"], 0)} for d in docs]
    return page_of(items, ctx.db.coupons.count_documents(query), req)


def validity(template: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    if template.get("valid_days"):
        return now, now + timedelta(days=template["valid_days"])
    return template["valid_from"], template["valid_to"]


def _count_user_claim(db: Any, template: dict[str, Any], user_id: str) -> str:
    """Take one of the user's claims of this template, or refuse at the limit, atomically."""
    claim_id = f"{template['_id']}:{user_id}"
    try:
        # at the limit the filter matches nothing, the upsert collides on _id and is refused
        db.coupon_claims.update_one({"_id": claim_id,
                                     "count": {"$lt": template["per_user_limit"]}},
                                    {"$inc": {"count": 1}}, upsert=True)
    except DuplicateKeyError:
        raise ShopError("COUPON_LIMIT_REACHED",
                        details={"per_user_limit": template["per_user_limit"]}) from None
    return claim_id


def claim_coupon(ctx: Context, req: ClaimCouponInput) -> dict[str, Any]:
    hit(ctx.db, f"claim:{ctx.user_id}", ctx.settings.COUPON_CLAIM_RATE_LIMIT_PER_MINUTE, ctx.now)
    template = ctx.db.coupons.find_one({"_id": req.coupon_id, **_claimable_query(ctx.now)})
    if template is None:
        raise not_found("coupon")
    if template.get("new_user_only") and has_paid_order(ctx.db, ctx.shopper_id):
        raise ShopError("COUPON_UNAVAILABLE", "this coupon is for shoppers' first order only",
                        {"new_user_only": True})
    claim_id = _count_user_claim(ctx.db, template, ctx.shopper_id)
    taken = ctx.db.coupons.update_one(
        {"_id": template["_id"], "remaining": {"$gt": 0}},
        {"$inc": {"claimed": 1, "remaining": -1}})
    if taken.modified_count == 0:
        ctx.db.coupon_claims.update_one({"_id": claim_id}, {"$inc": {"count": -1}})
        raise ShopError("COUPON_SOLD_OUT")
    valid_from, valid_to = validity(template, ctx.now)
    doc = {"_id": new_id("ucp"), "user_id": ctx.user_id, "coupon_id": template["_id"],
           **{k: template.get(k) for k in TERMS}, "status": "available", "order_id": None,
           "valid_from": valid_from, "valid_to": valid_to, "claimed_at": ctx.now}
    ctx.db.user_coupons.insert_one(doc)
    return user_coupon_view(doc, ctx.now)


def list_my_coupons(ctx: Context, req: ListMyCouponsInput) -> dict[str, Any]:
    query: dict[str, Any] = {"user_id": ctx.user_id}
    if req.status == "available":
        query.update(status="available", valid_to={"$gt": ctx.now})
    elif req.status == "expired":
        query.update(status="available", valid_to={"$lte": ctx.now})
    elif req.status == "used":
        query["status"] = "used"
    docs = ctx.db.user_coupons.find(query).sort([("claimed_at", -1), ("_id", -1)]) \
        .skip(req.skip).limit(req.page_size)
    return page_of([user_coupon_view(d, ctx.now) for d in docs],
                   ctx.db.user_coupons.count_documents(query), req)


# ---- use by orders -------------------------------------------------------------------------

def has_paid_order(db: Any, user_id: str) -> bool:
    """Paid at least once (refunded later or not): no longer a new customer."""
    return db.orders.find_one({"user_id": user_id, "paid_at": {"$ne": None}},
                              {"_id": 1}) is not None


def in_scope_total(db: Any, coupon: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    """What the order's lines in the coupon's scope cost (all of them for scope all)."""
    scope = coupon.get("scope") or "all"
    if scope == "products":
        wanted = set(coupon.get("product_ids") or [])
        return sum(line["subtotal"] for line in lines if line["product_id"] in wanted)
    if scope == "categories":
        wanted = set(coupon.get("category_ids") or [])
        category_of = {p["_id"]: p.get("category_id") for p in db.products.find(
            {"_id": {"$in": sorted({line["product_id"] for line in lines})}}, {"category_id": 1})}
        return sum(line["subtotal"] for line in lines
                   if category_of.get(line["product_id"]) in wanted)
    return sum(line["subtotal"] for line in lines)


def use_for_order(db: Any, user_id: str, user_coupon_id: str, order_id: str,
                  goods_total: int, now: datetime,
                  lines: Optional[list[dict[str, Any]]] = None) -> int:
    """Bind the user's coupon to one order and return the fen off; at most one order wins.

    With the order's ``lines``, a scoped coupon counts only the goods in its scope, for its
    threshold and its discount."""
    coupon, goods_total = _usable(db, user_id, user_coupon_id, goods_total, now, lines)
    bound = db.user_coupons.update_one(
        {"_id": user_coupon_id, "user_id": user_id, "status": "available"},
        {"$set": {"status": "used", "order_id": order_id, "used_at": now}})
    if bound.modified_count == 0:
        raise ShopError("COUPON_UNAVAILABLE", "the coupon was just used by another order")
    return discount_for(coupon, goods_total)


def preview_discount(db: Any, user_id: str, user_coupon_id: str, goods_total: int,
                     now: datetime, lines: Optional[list[dict[str, Any]]] = None) -> int:
    """The fen off that ``use_for_order`` would give now, binding nothing (the preview)."""
    coupon, goods_total = _usable(db, user_id, user_coupon_id, goods_total, now, lines)
    return discount_for(coupon, goods_total)


def _usable(db: Any, user_id: str, user_coupon_id: str, goods_total: int, now: datetime,
            lines: Optional[list[dict[str, Any]]]) -> tuple[dict[str, Any], int]:
    """The user's coupon if this order may use it now, and the goods total it counts."""
    coupon = db.user_coupons.find_one({"_id": user_coupon_id, "user_id": user_id})
    if coupon is None:
        raise not_found("coupon")
    if coupon["status"] != "available" or not coupon["valid_from"] <= now < coupon["valid_to"]:
        raise ShopError("COUPON_UNAVAILABLE", "the coupon is used or not valid now")
    if lines is not None and (coupon.get("scope") or "all") != "all":
        goods_total = in_scope_total(db, coupon, lines)
        if goods_total == 0:
            raise ShopError("COUPON_UNAVAILABLE", "nothing in the order is in the coupon's scope",
                            {"scope": coupon["scope"]})
    if goods_total < (coupon.get("threshold") or 0):
        raise ShopError("COUPON_UNAVAILABLE", "the order does not reach the coupon's threshold",
                        {"threshold": coupon["threshold"]})
    return coupon, goods_total


def return_from_order(db: Any, user_coupon_id: str, order_id: str) -> bool:
    """Give the coupon back when its order is cancelled; only the order that holds it can."""
    result = db.user_coupons.update_one(
        {"_id": user_coupon_id, "status": "used", "order_id": order_id},
        {"$set": {"status": "available", "order_id": None}, "$unset": {"used_at": ""}})
    return result.modified_count == 1


# ---- expiry reminders (run by the points_expiry daily timer) -------------------------------

def remind_expiring(db: Any, now: datetime, within_days: int, template_id: Optional[str],
                    batch: int) -> dict[str, Any]:
    """One outbox message (purpose coupon_expiry, occasion the user coupon) for each coupon
    still unused that expires within ``within_days``; the outbox key makes a repeat harmless."""
    from shared.messaging.outbox import SHANGHAI, enqueue
    query = {"status": "available", "expiry_reminded": {"$ne": True},
             "valid_to": {"$gt": now, "$lte": now + timedelta(days=within_days)}}
    docs = list(db.user_coupons.find(query, {"user_id": 1, "name": 1, "valid_to": 1})
                .sort([("valid_to", 1), ("_id", 1)]).limit(batch))
    queued = 0
    for doc in docs:
        expires = doc["valid_to"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        queued += enqueue(db, doc["user_id"], "coupon_expiry", doc["_id"], now,
                          template_id=template_id, page="pages/coupons/index",
                          data={"thing1": doc.get("name") or "", "time2": expires})
        db.user_coupons.update_one({"_id": doc["_id"]}, {"$set": {"expiry_reminded": True}})
    return {"coupon_reminders": queued, "coupon_reminders_more": len(docs) == batch}
