"""A shopper's delivery addresses. Every read and write is scoped to the owner."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from shared.core.common import Input, NoInput, iso, new_id
from shared.core.context import Context
from shared.core.errors import ShopError, not_found

__all__ = ["NoInput"]

MAX_ADDRESSES = 20
PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"


class AddAddressInput(Input):
    name: str = Field(min_length=1, max_length=32)
    phone: str = Field(pattern=PHONE_PATTERN)
    province: str = Field(min_length=1, max_length=32)
    city: str = Field(min_length=1, max_length=32)
    district: str = Field(default="", max_length=32)
    detail: str = Field(min_length=1, max_length=200)
    is_default: bool = False


class UpdateAddressInput(Input):
    address_id: str = Field(min_length=1, max_length=64)
    name: Optional[str] = Field(default=None, min_length=1, max_length=32)
    phone: Optional[str] = Field(default=None, pattern=PHONE_PATTERN)
    province: Optional[str] = Field(default=None, min_length=1, max_length=32)
    city: Optional[str] = Field(default=None, min_length=1, max_length=32)
    district: Optional[str] = Field(default=None, max_length=32)
    detail: Optional[str] = Field(default=None, min_length=1, max_length=200)
    is_default: Optional[bool] = None


class AddressIdInput(Input):
    address_id: str = Field(min_length=1, max_length=64)


SNAPSHOT_FIELDS = ("name", "phone", "province", "city", "district", "detail")


def address_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{f: doc.get(f, "") for f in SNAPSHOT_FIELDS},
            "is_default": bool(doc.get("is_default")), "created_at": iso(doc.get("created_at"))}


def find_owned(db: Any, user_id: str, address_id: str) -> dict[str, Any]:
    """The user's own address; someone else's id is simply not found."""
    return check_owned(db.addresses.find_one({"_id": address_id, "user_id": user_id}), user_id)


def check_owned(doc: Optional[dict[str, Any]], user_id: str) -> dict[str, Any]:
    """``doc`` if it is an address of the user (read by whoever saved a round trip reading it
    by its id alone); someone else's, or none, is simply not found."""
    if doc is None or doc.get("user_id") != user_id:
        raise not_found("address")
    return doc


def _make_only_default(db: Any, user_id: str, address_id: str) -> None:
    db.addresses.update_many({"user_id": user_id, "_id": {"$ne": address_id}},
                             {"$set": {"is_default": False}})
    db.addresses.update_one({"_id": address_id, "user_id": user_id},
                            {"$set": {"is_default": True}})


def add_address(ctx: Context, req: AddAddressInput) -> dict[str, Any]:
    count = ctx.db.addresses.count_documents({"user_id": ctx.user_id})
    if count >= MAX_ADDRESSES:
        raise ShopError("LIMIT_EXCEEDED", f"at most {MAX_ADDRESSES} addresses",
                        {"max": MAX_ADDRESSES})
    doc = {"_id": new_id("adr"), "user_id": ctx.user_id, **req.model_dump(),
           "created_at": ctx.now, "updated_at": ctx.now}
    doc["is_default"] = req.is_default or count == 0
    ctx.db.addresses.insert_one(doc)
    if doc["is_default"]:
        _make_only_default(ctx.db, ctx.shopper_id, doc["_id"])
    return address_view(doc)


def list_addresses(ctx: Context, req: NoInput) -> dict[str, Any]:
    docs = ctx.db.addresses.find({"user_id": ctx.user_id}).sort([("created_at", 1), ("_id", 1)])
    items = sorted((address_view(d) for d in docs), key=lambda a: not a["is_default"])
    return {"items": items, "total": len(items)}


def update_address(ctx: Context, req: UpdateAddressInput) -> dict[str, Any]:
    find_owned(ctx.db, ctx.shopper_id, req.address_id)
    changes = {k: v for k, v in req.model_dump(exclude_unset=True).items()
               if k != "address_id" and v is not None}
    changes["updated_at"] = ctx.now
    ctx.db.addresses.update_one({"_id": req.address_id, "user_id": ctx.user_id},
                                {"$set": changes})
    if req.is_default:
        _make_only_default(ctx.db, ctx.shopper_id, req.address_id)
    return address_view(find_owned(ctx.db, ctx.shopper_id, req.address_id))


def delete_address(ctx: Context, req: AddressIdInput) -> dict[str, Any]:
    doc = find_owned(ctx.db, ctx.shopper_id, req.address_id)
    ctx.db.addresses.delete_one({"_id": req.address_id, "user_id": ctx.user_id})
    if doc.get("is_default"):
        successor = ctx.db.addresses.find_one({"user_id": ctx.user_id},
                                              sort=[("created_at", 1)])
        if successor:
            _make_only_default(ctx.db, ctx.shopper_id, successor["_id"])
    return {"deleted": True, "address_id": req.address_id}
