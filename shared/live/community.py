"""Communities (社群/团长): a leader, their members, member prices, and group-chat shares.

A shopper belongs to one community at a time: ``join_community`` (through the leader's share)
moves them, the latest join wins, and each join is kept, dated (``community_members``). The
membership is on the user (``users.community``: community_id, leader_user_id, joined_at), so
that checkout reads it from the caller's document it already has, with no extra round trip.

Member prices (``community_prices``): one per (community, SKU), or per SKU for all communities
(``community_id`` null); a community's own price wins over the all-communities one, and a
member never pays more than the catalog price. Checkout charges them (one read, members only);
``get_product`` shows them to members through the ``MEMBER_PRICES`` hook of
``shared.core.actions`` (catalog is below this package and cannot import it).

Group chats: a share into a group carries a ``shareTicket``; the mini-program hands
``wx.getShareInfo``'s encrypted data here, the server decrypts the group id (openGId) with the
caller's session key, counts the open per (community, group) and remembers the group on the
user, so that their next paid order counts for it too.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import Field

from shared.core.common import Input, iso, new_id
from shared.core.context import Context, Database
from shared.core.errors import ShopError, not_found
from shared.core.log import get_logger, log_event

logger = get_logger("shop.live")


class CreateCommunityInput(Input):
    name: str = Field(min_length=1, max_length=32)
    leader_user_id: str = Field(min_length=1, max_length=64)
    commission_percent: int = Field(ge=0, le=50, description="of the paid goods amount")
    pickup_store_id: Optional[str] = Field(default=None, min_length=1, max_length=64)


class CommunityIdInput(Input):
    community_id: str = Field(min_length=1, max_length=64)


class CommunityPriceInput(Input):
    community_id: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                        description="unset: every community")
    sku_id: str = Field(min_length=1, max_length=64)
    price: int = Field(ge=1, le=100_000_000, description="fen")


class GroupShareInput(Input):
    community_id: str = Field(min_length=1, max_length=64)
    encrypted_data: str = Field(min_length=16, max_length=4096)
    iv: str = Field(min_length=16, max_length=64)


def community_view(doc: dict[str, Any], leader: Optional[dict[str, Any]] = None,
                   store: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc["name"], "leader_user_id": doc["leader_user_id"],
            "leader_nickname": (leader or {}).get("nickname"),
            "commission_percent": doc["commission_percent"],
            "pickup_store_id": doc.get("pickup_store_id"),
            "pickup_store": ({"id": store["_id"], "name": store["name"],
                              "address": store.get("address", "")} if store else None),
            "members": doc.get("members", 0), "created_at": iso(doc.get("created_at"))}


def _members(db: Database, community_id: str) -> int:
    """Counted from the users (indexed), not kept as a counter a crash could leave off."""
    return int(db.users.count_documents({"community.community_id": community_id}))


def find_community(db: Database, community_id: str) -> dict[str, Any]:
    doc = db.communities.find_one({"_id": community_id})
    if doc is None:
        raise ShopError("NOT_FOUND", "community not found", {"resource": "community"},
                        message_zh="社群不存在")
    return doc


# ---- the merchant --------------------------------------------------------------------------

def create_community(ctx: Context, req: CreateCommunityInput) -> dict[str, Any]:
    """A community led by a shopper, earning commission_percent of members' paid goods."""
    leader = ctx.db.users.find_one({"_id": req.leader_user_id}, {"nickname": 1})
    if leader is None:
        raise not_found("user")
    store = None
    if req.pickup_store_id:
        store = ctx.db.stores.find_one({"_id": req.pickup_store_id}, {"name": 1, "address": 1})
        if store is None:
            raise not_found("store")
    doc = {"_id": new_id("com"), **req.model_dump(), "created_at": ctx.now}
    ctx.db.communities.insert_one(doc)
    log_event(logger, "community created", community_id=doc["_id"])
    return community_view(doc, leader, store)


def set_community_price(ctx: Context, req: CommunityPriceInput) -> dict[str, Any]:
    """A SKU's member price, for one community or (community_id unset) every one."""
    sku = ctx.db.skus.find_one({"_id": req.sku_id}, {"price": 1, "product_id": 1})
    if sku is None:
        raise not_found("sku")
    if req.community_id:
        find_community(ctx.db, req.community_id)
    key = f"{req.community_id or '*'}:{req.sku_id}"
    ctx.db.community_prices.update_one(
        {"_id": key}, {"$set": {"community_id": req.community_id, "sku_id": req.sku_id,
                                "product_id": sku["product_id"], "price": req.price,
                                "updated_at": ctx.now}}, upsert=True)
    return {"community_id": req.community_id, "sku_id": req.sku_id, "price": req.price,
            "catalog_price": sku["price"]}


# ---- members -------------------------------------------------------------------------------

def membership(user: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The caller's community (from their user document), or None."""
    found = user.get("community")
    return found if isinstance(found, dict) and found.get("community_id") else None


def get_community(ctx: Context, req: CommunityIdInput) -> dict[str, Any]:
    """The community, its leader and pickup store; member prices for members and leader."""
    doc = find_community(ctx.db, req.community_id)
    leader = ctx.db.users.find_one({"_id": doc["leader_user_id"]}, {"nickname": 1})
    store = ctx.db.stores.find_one({"_id": doc["pickup_store_id"]}, {"name": 1, "address": 1}) \
        if doc.get("pickup_store_id") else None
    view = community_view({**doc, "members": _members(ctx.db, doc["_id"])}, leader, store)
    mine = membership(ctx.shopper()) if ctx.user_id else None
    view["is_member"] = bool(mine and mine["community_id"] == doc["_id"])
    view["is_leader"] = ctx.user_id == doc["leader_user_id"]
    if view["is_member"] or view["is_leader"]:
        prices = list(ctx.db.community_prices.find(
            {"community_id": {"$in": [doc["_id"], None]}}).limit(200))
        titles = _sku_titles(ctx.db, [p["sku_id"] for p in prices])
        view["member_prices"] = [
            {"sku_id": p["sku_id"], "product_id": p.get("product_id"), "price": p["price"],
             "title": titles.get(p["sku_id"], "")} for p in prices]
    return view


def _sku_titles(db: Database, sku_ids: list[str]) -> dict[str, str]:
    """SKU id -> "product title spec values", so a member reads what the price is for."""
    skus = list(db.skus.find({"_id": {"$in": sku_ids}}, {"product_id": 1, "specs": 1}))
    products = {p["_id"]: p.get("title", "") for p in db.products.find(
        {"_id": {"$in": sorted({s["product_id"] for s in skus})}}, {"title": 1})}
    return {s["_id"]: " ".join([products.get(s["product_id"], ""),
                                *[str(v) for v in (s.get("specs") or {}).values()]]).strip()
            for s in skus}


def join_community(ctx: Context, req: CommunityIdInput) -> dict[str, Any]:
    """Join (or move to) this community: the latest join wins; the join is kept, dated."""
    from pymongo import ReturnDocument
    doc = find_community(ctx.db, req.community_id)
    current = membership(ctx.shopper())
    if current and current["community_id"] == doc["_id"]:
        return {"community_id": doc["_id"], "joined_at": iso(current.get("joined_at")),
                "moved_from": None}
    record = {"community_id": doc["_id"], "leader_user_id": doc["leader_user_id"],
              "joined_at": ctx.now}
    before = ctx.db.users.find_one_and_update(
        {"_id": ctx.shopper_id}, {"$set": {"community": record}},
        projection={"community": 1}, return_document=ReturnDocument.BEFORE)
    left = membership(before or {})
    # the dated record of the join, after the move: a death in between loses a history line,
    # never the membership
    ctx.db.community_members.insert_one({"_id": new_id("cjn"), "community_id": doc["_id"],
                                         "user_id": ctx.shopper_id, "joined_at": ctx.now,
                                         "moved_from": left["community_id"] if left else None})
    return {"community_id": doc["_id"], "joined_at": iso(ctx.now),
            "moved_from": left["community_id"] if left else None}


def member_prices(db: Database, user: dict[str, Any], sku_prices: dict[str, int]) \
        -> dict[str, int]:
    """sku_id -> what this member pays, for the SKUs given with their catalog prices; empty
    for a non-member, without reading anything. One read for a member."""
    mine = membership(user)
    if mine is None or not sku_prices:
        return {}
    found: dict[str, int] = {}
    own: set[str] = set()
    for doc in db.community_prices.find(
            {"sku_id": {"$in": list(sku_prices)}, "community_id": {"$in": [
                mine["community_id"], None]}}, {"sku_id": 1, "community_id": 1, "price": 1}):
        sku_id = doc["sku_id"]
        if doc.get("community_id") or sku_id not in own:
            found[sku_id] = doc["price"]
            if doc.get("community_id"):
                own.add(sku_id)
    return {s: min(p, sku_prices[s]) for s, p in found.items() if p < sku_prices[s]}


def checkout_terms(db: Database, user: dict[str, Any], lines: list[dict[str, Any]]) \
        -> tuple[Optional[dict[str, Any]], dict[str, int]]:
    """What checkout hands placement for a member: the order's ``community`` record (who
    leads, the group their share came from) and the member prices of its lines."""
    mine = membership(user)
    if mine is None:
        return None, {}
    record = {"community_id": mine["community_id"], "leader_user_id": mine["leader_user_id"]}
    group = user.get("last_group")
    if isinstance(group, dict) and group.get("community_id") == mine["community_id"]:
        record["open_gid"] = group.get("open_gid")
    return record, member_prices(db, user, {l["sku_id"]: l["price"] for l in lines})


def member_price_hook(db: Database, user: dict[str, Any], skus: list[dict[str, Any]]) \
        -> dict[str, int]:
    """``MEMBER_PRICES``: what get_product shows a member (catalog calls this by name)."""
    return member_prices(db, user, {s["_id"]: s["price"] for s in skus})


# ---- group chats ---------------------------------------------------------------------------

def track_group_share(ctx: Context, req: GroupShareInput) -> dict[str, Any]:
    """An open of a share into a group chat: decrypt openGId with the caller's session key,
    count the open for (community, group), and remember the group on the caller."""
    from shared.wechat.opendata import decrypt_open_data
    find_community(ctx.db, req.community_id)
    user = ctx.db.users.find_one({"_id": ctx.shopper_id}, {"session_key": 1})
    if not user or not user.get("session_key"):
        raise ShopError("SHARE_DATA_INVALID", "no session to decrypt with; log in again")
    body = decrypt_open_data(user["session_key"], req.encrypted_data, req.iv,
                             ctx.settings.WX_APPID)
    open_gid = body.get("openGId")
    if not isinstance(open_gid, str) or not open_gid:
        raise ShopError("SHARE_DATA_INVALID", "the share data names no group")
    _count_open(ctx.db, req.community_id, open_gid, ctx.shopper_id, ctx.now)
    return {"community_id": req.community_id, "open_gid": open_gid}


def _count_open(db: Database, community_id: str, open_gid: str, user_id: str,
                now: datetime) -> None:
    key = f"{community_id}:{open_gid}"
    db.group_shares.update_one({"_id": key},
                               {"$inc": {"opens": 1}, "$set": {"last_open_at": now},
                                "$setOnInsert": {"community_id": community_id,
                                                 "open_gid": open_gid, "orders": 0,
                                                 "first_open_at": now}}, upsert=True)
    db.users.update_one({"_id": user_id}, {"$set": {"last_group": {
        "community_id": community_id, "open_gid": open_gid, "at": now}}})
