"""Placing an order: price the lines, take what the order needs, reserve stock, once per request.

Placement knows only orders, stock and coupons. What other areas decide arrives as values in
``Terms``: a campaign's prices (``Special``), the member's level, a deal's price, the pickup
store. What other areas set aside for the order (a deal's daily unit, points) arrives as
``Hold``s: taken once the order exists, given back here if placement fails, and given back by
their owners on the ``order_released`` event if the order is cancelled later.

Each order line records where its units are (``stock``: none -> locked -> sold | released),
and the order exists (status ``reserving``) before anything is taken, naming what it will
take, so that the ``order_timeout`` reconciler can give back what a crash left behind.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Callable, Literal, Optional, Protocol

from pydantic import Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, new_id
from shared.core.context import Context, Database
from shared.core.errors import ShopError
from shared.core.events import DUE, due, owe
from shared.core.records import field, record
from shared.orders import limits
from shared.orders.aftermath import after_answer, line_key, move_lines
from shared.orders.lifecycle import PLACEMENT_DEADLINE, abandon_placement, order_view, settle_paid

MAX_LINES = 50


class OrderLineInput(Input):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=999)


class OrderSourceInput(Input):
    """Where an order comes from: a live room (the plugin passes room_id and share_openid to
    the goods page; a channels live entry its room); checkout checks the room exists."""
    type: Literal["live"]
    room_id: str = Field(min_length=1, max_length=64)
    share_openid: Optional[str] = Field(default=None, min_length=1, max_length=64)


class OrderTermsInput(Input):
    """What an order is made of: ``place_order``'s input less its ``request_id``, which is what
    ``preview_order`` takes (the price before paying)."""
    items: Optional[list[OrderLineInput]] = Field(default=None, min_length=1,
                                                  max_length=MAX_LINES)
    from_cart: bool = False
    address_id: Optional[str] = Field(default=None, min_length=1, max_length=64)
    coupon_id: Optional[str] = Field(default=None, max_length=64)
    deal_id: Optional[str] = Field(default=None, max_length=64)
    store_id: Optional[str] = Field(default=None, max_length=64,
                                    description="self-pickup (自提) at this store")
    note: str = Field(default="", max_length=200)
    points: Optional[int] = Field(default=None, ge=0, le=100_000_000,
                                  description="points to pay with: 100 points = ¥1, at most "
                                              "POINTS_MAX_SHARE_PERCENT of the total")
    source: Optional[OrderSourceInput] = None

    @model_validator(mode="after")
    def one_source(self) -> "OrderTermsInput":
        if bool(self.items) == self.from_cart:
            raise ValueError("give either items or from_cart: true")
        if not self.address_id and not self.store_id:
            raise ValueError("give address_id for delivery, or store_id for self-pickup")
        return self


class PlaceOrderInput(OrderTermsInput):
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


@record
class Special:
    """An order that a campaign places (group-buy, bargain, gift) rather than the catalog."""
    prices: dict[str, int]                  # sku_id -> the campaign's unit price
    fields: dict[str, Any]                  # stored on the order: group, bargain, gift, ...
    hold_shipping: bool = False             # paid, but not to ship until the campaign says so


@record(frozen=True)
class MemberLevel:
    name: Optional[str]
    discount_percent: int


@record(frozen=True)
class DealPrice:
    """A nearby deal's price for one SKU of the order, as the deal's owner worked it out."""
    deal_id: str
    sku_id: str
    price: int
    daily_quantity: Optional[int]
    day_key: Optional[str] = None  # the daily counter the order's units count against


class Hold(Protocol):
    """Something another area sets aside for the order while it is placed."""
    after_stock: bool  # taken after the stock is reserved (else before)

    def take(self, db: Database, order: dict[str, Any]) -> None:
        """Take it; may note what it took on the order (saved with it); may raise ShopError."""

    def give_back(self, db: Database, order: dict[str, Any]) -> None:
        """Give back what ``take`` took, when placement fails after it."""

    def check(self, db: Database, order: dict[str, Any]) -> None:
        """Raise what ``take`` would raise now, reading only (``preview_order``)."""


@record
class Terms:
    """What the rest of the shop decided about this order, handed over as values."""
    level: MemberLevel
    special: Optional[Special] = None
    deal: Optional[DealPrice] = None
    pickup: Optional[dict[str, Any]] = None       # {store_id, store_name, store_address}
    address: Optional[dict[str, Any]] = None      # the delivery address snapshot
    holds: list[Hold] = field(default_factory=list)
    # a community member's prices (sku_id -> price, final like a campaign's) and the order's
    # community record (community_id, leader_user_id); where the order came from (a live room)
    member_prices: dict[str, int] = field(default_factory=dict)
    community: Optional[dict[str, Any]] = None
    source: Optional[dict[str, Any]] = None


@record(frozen=True)
class Alongside:
    """A document the terms need (the delivery address), read by ``_id`` in the same round
    trip as the SKUs: on a real server every operation is a round trip a shopper waits for.
    Whoever asks for it judges what comes back (ownership): placement only fetches it."""
    collection: str
    id: str


# works out the terms of an order from its catalog-priced lines and the ``Alongside`` document
# (None when none was asked for or none has that id); called once the lines are known and no
# earlier order answers the request (a retry never re-decides them)
TermsFor = Callable[[list[dict[str, Any]], Optional[dict[str, Any]]], Terms]


# ---- the lines -----------------------------------------------------------------------------

def requested_lines(ctx: Context, req: OrderTermsInput) -> list[tuple[str, int]]:
    """(sku_id, quantity) of the order, from its items or the caller's selected cart lines."""
    if req.from_cart:
        rows = [(c["sku_id"], c["quantity"]) for c in ctx.db.cart_items.find(
            {"user_id": ctx.user_id, "selected": True}).sort([("added_at", 1), ("_id", 1)])]
        if not rows:
            raise ShopError("VALIDATION_ERROR", "no selected lines in the cart",
                            {"fields": [{"field": "from_cart", "message": "the cart is empty",
                                         "type": "empty_cart"}]})
    else:
        rows = [(line.sku_id, line.quantity) for line in req.items or []]
    merged: dict[str, int] = {}
    for sku_id, quantity in rows:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    if len(merged) > MAX_LINES:
        raise ShopError("LIMIT_EXCEEDED", f"at most {MAX_LINES} lines in an order")
    return list(merged.items())


def _priced_lines(db: Database, lines: list[tuple[str, int]],
                  alongside: Optional[Alongside] = None) \
        -> tuple[list[dict[str, Any]], dict[str, Any], Optional[dict[str, Any]]]:
    """Order lines priced from the catalog (the client never says what anything costs), the
    purchase limits of their products, and the ``alongside`` document: one round trip for
    SKUs, products and that document together."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"_id": {"$in": [s for s, _ in lines]}}},
        # the SKU's fields first: not its locks (a key per unpaid order, thousands in a sale)
        {"$project": {"product_id": 1, "specs": 1, "price": 1, "image": 1, "active": 1,
                      "stock": 1}},
        {"$lookup": {"from": "products", "localField": "product_id", "foreignField": "_id",
                     "as": "product"}}]
    if alongside is not None:
        # an equality $lookup on _id (the index) from a constant: mongomock has neither
        # $unionWith nor $lookup sub-pipelines, and a server runs this one the same way
        pipeline += [{"$addFields": {"_alongside_id": {"$literal": alongside.id}}},
                     {"$lookup": {"from": alongside.collection, "localField": "_alongside_id",
                                  "foreignField": "_id", "as": "alongside"}}]
    skus = {s["_id"]: s for s in db.skus.aggregate(pipeline)}
    fetched = next((s["alongside"][0] for s in skus.values() if s.get("alongside")), None)
    priced, limits = [], {}
    for sku_id, quantity in lines:
        sku = skus.get(sku_id)
        if sku is None or not sku.get("active", True):
            raise ShopError("NOT_FOUND", "sku not found", {"resource": "sku", "sku_id": sku_id})
        product = (sku.get("product") or [None])[0]
        if product is None or product["status"] != "on_sale":
            raise ShopError("PRODUCT_UNAVAILABLE", details={"sku_id": sku_id})
        if product.get("purchase_limit"):
            limits[product["_id"]] = product["purchase_limit"]
        priced.append({"sku_id": sku_id, "product_id": sku["product_id"],
                       "title": product["title"], "specs": sku.get("specs", {}),
                       "image": sku.get("image") or (product.get("images") or [""])[0],
                       "price": sku["price"], "quantity": quantity,
                       "subtotal": sku["price"] * quantity, "stock": "none"})
        if sku.get("stock", 0) < quantity:
            # refused before anything is written; the conditional $inc stays the judge
            # of a race between two buyers of the last units (_reserve_lines)
            raise _out_of_stock(priced[-1], sku.get("stock", 0))
    return priced, limits, fetched


def _out_of_stock(line: dict[str, Any], available: int) -> ShopError:
    return ShopError("OUT_OF_STOCK", f"only {available} left of {line['title']}",
                     {"sku_id": line["sku_id"], "available": available,
                      "requested": line["quantity"]})


def _set_price(line: dict[str, Any], price: int) -> None:
    line.update(price=price, subtotal=price * line["quantity"])


def _apply_prices(terms: Terms, lines: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """Campaign and deal prices on their lines; the order's ``deal`` record, if any."""
    special = terms.special
    for line in lines:
        if special and line["sku_id"] in special.prices:
            _set_price(line, special.prices[line["sku_id"]])
        elif line["sku_id"] in terms.member_prices:
            _set_price(line, terms.member_prices[line["sku_id"]])
    if terms.deal is None:
        return None
    line = next(l for l in lines if l["sku_id"] == terms.deal.sku_id)
    _set_price(line, terms.deal.price)
    # the day key is on the order from the start, so that a crash after the units were
    # counted still lets the release find them (the counter knows which orders it holds)
    return {"deal_id": terms.deal.deal_id, "quantity": line["quantity"],
            "day_key": terms.deal.day_key, "daily_quantity": terms.deal.daily_quantity}


# ---- stock -----------------------------------------------------------------------------------

def _reserve_lines(db: Database, order: dict[str, Any]) -> None:
    """Take each line's units from stock into locked. The SKU keeps the line's key
    (``locks``) while the units are locked, so that whoever sells or gives them back, after
    a crash too, moves exactly what was taken (shared.orders.aftermath)."""
    for index, line in enumerate(order["items"]):
        taken = db.skus.update_one(
            {"_id": line["sku_id"], "active": True, "stock": {"$gte": line["quantity"]}},
            {"$inc": {"stock": -line["quantity"], "locked": line["quantity"]},
             "$push": {"locks": line_key(order["_id"], index)}})
        if taken.modified_count == 0:
            sku = db.skus.find_one({"_id": line["sku_id"]}, {"stock": 1}) or {"stock": 0}
            raise _out_of_stock(line, sku["stock"])


def _undo_placement(db: Database, order: dict[str, Any], taken: list[Hold]) -> None:
    """Give back what a failed placement took; each step is conditional, so the timer that
    finishes an undo cut short by a crash (as an abandoned placement) gives nothing twice."""
    limits.give_back(db, order)
    move_lines(db, order, "released")
    if order.get("coupon_id"):
        from shared.orders import coupons  # only orders with a coupon load coupons
        coupons.return_from_order(db, order["coupon_id"], order["_id"])
    for hold in reversed(taken):
        hold.give_back(db, order)
    db.orders.delete_one({"_id": order["_id"], "status": "reserving"})


# ---- placing -------------------------------------------------------------------------------

def _wait_for_placement(db: Database, user_id: str, request_id: str,
                        now: datetime) -> Optional[dict[str, Any]]:
    """The order a concurrent call with this request_id is placing, once it settles; a
    placement whose instance died (still reserving past PLACEMENT_DEADLINE) is given up."""
    for _ in range(60):
        doc = db.orders.find_one({"user_id": user_id, "request_id": request_id})
        if doc is None or doc["status"] != "reserving":
            return doc
        if doc["created_at"] <= now - PLACEMENT_DEADLINE:
            return abandon_placement(db, doc["_id"], now) or doc
        time.sleep(0.05)
    raise ShopError("CONFLICT", "this order is still being placed; retry in a moment")


def find_by_request(db: Database, user_id: str, request_id: str) -> Optional[dict[str, Any]]:
    return db.orders.find_one({"user_id": user_id, "request_id": request_id,
                               "status": {"$ne": "reserving"}})


def place_order(ctx: Context, req: PlaceOrderInput, terms_for: TermsFor,
                alongside: Optional[Alongside] = None) -> dict[str, Any]:
    """Place the order once per (user, request_id): a retry answers the first order. A retry
    whose first placement died half-way (given up by now) places the order afresh.

    A first call reads nothing of earlier calls: the unique (user_id, request_id) of the
    insert finds a retry, and a refusal asks whether this request was placed before."""
    for _ in range(3):
        try:
            return _place(ctx, req, terms_for, alongside)
        except DuplicateKeyError:
            # placed before (a retry), or being placed by a concurrent call: answer with it
            existing = _wait_for_placement(ctx.db, ctx.shopper_id, req.request_id, ctx.now)
        except ShopError as refused:
            # sold out or a full counter, maybe by this very request's earlier order
            if refused.code not in REFUSALS_A_RETRY_MAY_EXPLAIN or ctx.db.orders.find_one(
                    {"user_id": ctx.shopper_id, "request_id": req.request_id},
                    {"_id": 1}) is None:
                raise
            existing = _wait_for_placement(ctx.db, ctx.shopper_id, req.request_id, ctx.now)
        if existing is None:
            continue
        if existing["status"] == "failed":
            # everything it held is back (nothing owed any more): make room for the retry
            ctx.db.orders.delete_one({"_id": existing["_id"], "status": "failed",
                                      "events_due.0": {"$exists": False}})
            continue
        return order_view(existing)
    raise ShopError("CONFLICT", "this order is still being placed; retry in a moment")


REFUSALS_A_RETRY_MAY_EXPLAIN = ("OUT_OF_STOCK", *limits.CODES)


def _member_prices(ctx: Context, req: OrderTermsInput, order: dict[str, Any],
                   member_goods: int, level: MemberLevel) -> None:
    """The level discount on the catalog-priced goods, then the cap on points; at least one
    fen is always left to pay (the points themselves are taken last, see _place)."""
    off = member_goods * level.discount_percent // 100
    order["level_discount"] = max(0, min(off, order["total"] - 1))
    order["total"] -= order["level_discount"]
    if req.points:
        cap = order["total"] * ctx.settings.POINTS_MAX_SHARE_PERCENT // 100
        if req.points > cap:
            raise ShopError("LIMIT_EXCEEDED", f"at most {cap} points can pay for this order",
                            {"max_points": cap, "requested": req.points})


def _new_order(ctx: Context, req: OrderTermsInput, terms: Terms,
               lines: list[dict[str, Any]], deal: Optional[dict[str, Any]]) -> dict[str, Any]:
    goods_total = sum(line["subtotal"] for line in lines)
    special = terms.special
    # coupon_id and points_used are written before the coupon is bound and the points are
    # taken, so that if the instance dies after, the reconciler knows what to give back (the
    # returns are conditional on the coupon being bound / the points being spent for this order)
    return {"_id": new_id("ord"), "user_id": ctx.user_id,
            "request_id": getattr(req, "request_id", None),
            "status": "reserving", "items": lines, "goods_total": goods_total, "discount": 0,
            "shipping_fee": 0, "total": goods_total, "coupon_id": req.coupon_id,
            "member_level": terms.level.name, "level_discount": 0,
            "points_used": req.points or 0,
            "address": terms.address, "pickup": terms.pickup,
            "note": req.note, "created_at": ctx.now, "deal": deal,
            "pay_deadline": ctx.now + timedelta(seconds=ctx.settings.ORDER_PAY_TIMEOUT_SECONDS),
            **(special.fields if special else {}),
            "hold_shipping": bool(special and special.hold_shipping),
            "attribution": _attribution(ctx),
            "source": terms.source, "community": terms.community,
            "locks_on_skus": True}  # its units are moved by their keys (aftermath)


def _priced_order(ctx: Context, req: OrderTermsInput, terms_for: TermsFor,
                  alongside: Optional[Alongside]) \
        -> tuple[dict[str, Any], Terms, int, dict[str, int]]:
    """The order as it would be written (not written), its terms, the goods that the member's
    level discounts, and the catalog's unit prices: what ``place_order`` and ``preview_order``
    both start from."""
    lines, purchase_limits, fetched = _priced_lines(ctx.db, requested_lines(ctx, req),
                                                    alongside)
    counts = limits.check(ctx, lines, purchase_limits)  # what the order counts in
    catalog = {line["sku_id"]: line["price"] for line in lines}  # before any campaign's
    terms = terms_for(lines, fetched)
    deal = _apply_prices(terms, lines)
    # the member's level discount is for catalog prices; campaign and deal prices are final
    campaign_priced = set(terms.special.prices if terms.special else ()) | \
        ({terms.deal.sku_id} if terms.deal else set()) | set(terms.member_prices)
    member_goods = sum(l["subtotal"] for l in lines if l["sku_id"] not in campaign_priced)
    order = _new_order(ctx, req, terms, lines, deal)
    order["purchase_counts"] = counts  # recorded before taken: the order's end gives them back
    return order, terms, member_goods, catalog


def _place(ctx: Context, req: PlaceOrderInput, terms_for: TermsFor,
           alongside: Optional[Alongside]) -> dict[str, Any]:
    db = ctx.db
    order, terms, member_goods, _ = _priced_order(ctx, req, terms_for, alongside)
    db.orders.insert_one(order)  # the unique (user_id, request_id) makes a retry collide here
    taken: list[Hold] = []
    try:
        limits.take(db, order)
        if req.coupon_id:
            from shared.orders import coupons  # only orders with a coupon load coupons
            discount = coupons.use_for_order(db, ctx.shopper_id, req.coupon_id, order["_id"],
                                             order["goods_total"], ctx.now, order["items"])
            order.update(discount=discount, total=order["goods_total"] - discount)
        _member_prices(ctx, req, order, member_goods, terms.level)
        for hold in (h for h in terms.holds if not h.after_stock):
            hold.take(db, order)
            taken.append(hold)
        _reserve_lines(db, order)
        # points last, so that a line out of stock does not write a spend and its return
        for hold in (h for h in terms.holds if h.after_stock):
            hold.take(db, order)
            taken.append(hold)
        order["total"] -= order["points_used"]
    except Exception:
        # a dying instance (BaseException) undoes nothing: the order stays reserving and the
        # order_timeout timer gives it up later, giving back what it took
        _undo_placement(db, order, taken)
        raise
    return _confirm(ctx, req, order)


def _confirm(ctx: Context, req: PlaceOrderInput, order: dict[str, Any]) -> dict[str, Any]:
    """reserving -> pending_payment, with every line locked; a free order is paid at once."""
    db = ctx.db
    for line in order["items"]:
        line["stock"] = "locked"
    confirmed = db.orders.update_one(
        {"_id": order["_id"], "status": "reserving"},
        {"$set": {"status": "pending_payment", "items": order["items"],
                  "coupon_id": order["coupon_id"], "discount": order["discount"],
                  "level_discount": order["level_discount"], "total": order["total"],
                  "deal": order["deal"]},
         # the order_placed event is heard after the answer (tracking's fact): owed here, in
         # the confirming write, so a placement costs no extra round trip for it
         "$push": owe(ctx.now, "order_placed")})
    if confirmed.modified_count == 0:
        # this placement took so long that the timer gave it up (and gave back what it held)
        raise ShopError("CONFLICT", "placing this order took too long; place it again")
    order["status"] = "pending_payment"
    if req.from_cart:
        db.cart_items.delete_many({"user_id": ctx.user_id,
                                   "sku_id": {"$in": [line["sku_id"] for line in order["items"]]}})
    order[DUE] = [*(order.get(DUE) or []), due("order_placed", ctx.now)]
    if order["total"] == 0:
        # a gift: nothing to pay, so it is paid now
        paid = settle_paid(db, order["_id"], ctx.now, {"payment.method": "free"}, order)
        return order_view(paid or order)
    after_answer(order["_id"])
    return order_view(order)


def _attribution(ctx: Context) -> Optional[dict[str, Any]]:
    """The share that last brought this shopper here (within 7 days), for fission reports."""
    touch = ctx.shopper().get("last_share")
    if not touch or touch["at"] < ctx.now - timedelta(days=7):
        return None
    return {"share_id": touch["share_id"], "sharer_id": touch["sharer_id"]}


# ---- the price before paying ---------------------------------------------------------------

# discount kinds of a preview, and their rows' labels (shown as they are at checkout)
DISCOUNT_LABELS = {"coupon": "优惠券", "member": "会员折扣", "points": "积分抵扣",
                   "deal": "门店特惠", "group": "拼团价", "bargain": "砍价",
                   "community": "社群会员价"}


def preview_order(ctx: Context, req: OrderTermsInput, terms_for: TermsFor,
                  alongside: Optional[Alongside] = None) -> dict[str, Any]:
    """What ``place_order`` would charge for ``req`` now, writing nothing: the same pricing,
    and the same refusals (sold out, limits, the coupon, points, a deal's day), each judged
    by a read where placement judges it by its conditional write. A race may still refuse
    the order that follows (the last unit, a coupon used meanwhile): placement decides.

    ``goods_total`` is at catalog prices; each way the price comes down is a row of
    ``discounts`` (a deal, group or community price too), so that
    ``goods_total - sum(discounts) + freight == payable``, the order's ``total``."""
    db = ctx.db
    order, terms, member_goods, catalog = _priced_order(ctx, req, terms_for, alongside)
    limits.check_counters(db, order["purchase_counts"])
    if req.coupon_id:
        from shared.orders import coupons  # only orders with a coupon load coupons
        discount = coupons.preview_discount(db, ctx.shopper_id, req.coupon_id,
                                            order["goods_total"], ctx.now, order["items"])
        order.update(discount=discount, total=order["goods_total"] - discount)
    _member_prices(ctx, req, order, member_goods, terms.level)
    # the most points this order could take (what the points field may ask for)
    points_max = order["total"] * ctx.settings.POINTS_MAX_SHARE_PERCENT // 100
    for hold in terms.holds:
        hold.check(db, order)
    order["total"] -= order["points_used"]
    return {**_preview_view(order, terms, catalog), "points_max": points_max}


def _price_kind(terms: Terms, sku_id: str) -> str:
    if terms.special and sku_id in terms.special.prices:
        fields = terms.special.fields
        return "group" if "group" in fields else "bargain"
    if terms.deal and terms.deal.sku_id == sku_id:
        return "deal"
    return "community"


def _preview_view(order: dict[str, Any], terms: Terms,
                  catalog: dict[str, int]) -> dict[str, Any]:
    items, off = [], {kind: 0 for kind in DISCOUNT_LABELS}
    for line in order["items"]:
        listed = catalog[line["sku_id"]]
        items.append({"sku_id": line["sku_id"], "product_id": line["product_id"],
                      "title": line["title"], "image": line["image"], "specs": line["specs"],
                      "price": listed, "quantity": line["quantity"],
                      "subtotal": listed * line["quantity"],
                      # what the line is charged at (a deal's, a group's or a member's price)
                      "final_price": line["price"], "final_subtotal": line["subtotal"]})
        if line["price"] != listed:
            off[_price_kind(terms, line["sku_id"])] += (listed - line["price"]) * line["quantity"]
    off["coupon"] += order["discount"]
    off["member"] += order["level_discount"]
    off["points"] += order["points_used"]
    labels = dict(DISCOUNT_LABELS)
    if terms.special and terms.special.fields.get("gift"):
        labels["bargain"] = "助力赠品"  # an assist's gift: its kind is the nearest of the list
    if terms.level.name:
        labels["member"] = f"会员折扣（{terms.level.name}）"
    freight = order.get("shipping_fee", 0)
    return {"items": items, "goods_total": sum(i["subtotal"] for i in items),
            "discounts": [{"kind": kind, "amount": amount, "label": labels[kind]}
                          for kind, amount in off.items() if amount],
            "freight": freight, "payable": order["total"],
            "member_level": terms.level.name, "pickup": order["pickup"] is not None}
