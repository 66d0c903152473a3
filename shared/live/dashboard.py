"""What a leader sees (``get_leader_dashboard``) and the merchant's live report
(``merchant_live_report``).

The live report reads the orders that carry the room (``source.room_id``) and the tracked
events (collection ``events``: user_id, device_id, name, ts, props {product_id, room_id?})
that another area writes: viewers who tapped a product of the room are the distinct users (or
devices) with a ``product_view`` of the room, or of one of its products while it was live.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from shared.core.common import NoInput, iso
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.live.commission import totals
from shared.live.rooms import LiveRoomIdInput, room_status

__all__ = ["LiveRoomIdInput", "NoInput"]

SHANGHAI = timezone(timedelta(hours=8))
VIEW_EVENT = "product_view"


def month_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0) \
        .astimezone(timezone.utc)


def get_leader_dashboard(ctx: Context, req: NoInput) -> dict[str, Any]:
    """The caller's communities as their leader: members, orders, commission by status,
    this month (Asia/Shanghai), and the group chats their shares were opened in."""
    db, me = ctx.db, ctx.shopper_id
    communities = list(db.communities.find({"leader_user_id": me}).sort([("created_at", 1)]))
    if not communities:
        raise ShopError("FORBIDDEN", "only a community leader has a dashboard",
                        message_zh="你还不是团长")
    ids = [c["_id"] for c in communities]
    since = month_start(ctx.now)
    mine = {"leader_user_id": me}
    month = {**mine, "created_at": {"$gte": since}}
    # members' paid orders (the leader's own and those earning nothing included)
    paid = {"community.community_id": {"$in": ids}, "paid_at": {"$exists": True}}
    orders = db.orders.count_documents(paid)
    month_orders = db.orders.count_documents(
        {"community.community_id": {"$in": ids}, "paid_at": {"$gte": since}})
    sold = {row["_id"]: row for row in db.group_share_orders.aggregate([
        {"$match": {"community_id": {"$in": ids}}},
        {"$group": {"_id": "$group_id", "orders": {"$sum": 1}, "amount": {"$sum": "$amount"}}}])}
    groups = [{"community_id": g["community_id"], "open_gid": g["open_gid"],
               "opens": g.get("opens", 0), "orders": sold.get(g["_id"], {}).get("orders", 0),
               "paid_amount": sold.get(g["_id"], {}).get("amount", 0)}
              for g in db.group_shares.find({"community_id": {"$in": ids}})
              .sort([("opens", -1), ("_id", 1)]).limit(50)]
    commission = totals(db, mine)
    return {
        "communities": [{"id": c["_id"], "name": c["name"],
                         "commission_percent": c["commission_percent"],
                         "members": db.users.count_documents(
                             {"community.community_id": c["_id"]})} for c in communities],
        "members": db.users.count_documents({"community.community_id": {"$in": ids}}),
        "orders": orders,
        "commission": commission,
        "pending_commission": commission["pending"],
        "available_commission": commission["available"],
        "paid_commission": commission["paid"],
        "this_month": {"since": iso(since),
                       "orders": month_orders,
                       "commission": totals(db, month)},
        "groups": groups,
    }


# ---- the live report -----------------------------------------------------------------------

def _viewers(ctx: Context, room: dict[str, Any]) -> set[str]:
    products = room.get("product_ids") or []
    query: dict[str, Any] = {"name": VIEW_EVENT, "$or": [
        {"props.room_id": room["_id"]},
        *([{"props.product_id": {"$in": products},
            "ts": {"$gte": room["starts_at"], "$lt": room["ends_at"]}}] if products else [])]}
    seen = set()
    for event in ctx.db.events.find(query, {"user_id": 1, "device_id": 1}).limit(200_000):
        who = event.get("user_id") or event.get("device_id")
        if who:
            seen.add(str(who))
    return seen


def live_report(ctx: Context, req: LiveRoomIdInput) -> dict[str, Any]:
    """A room's orders, paid GMV, refunds, buyers, top products, and the viewers who tapped
    a product of it -> buyers conversion."""
    room = ctx.db.live_rooms.find_one({"_id": req.room_id})
    if room is None:
        raise not_found("live_room")
    orders = list(ctx.db.orders.find(
        {"source.room_id": room["_id"], "status": {"$nin": ["reserving", "failed"]}},
        {"user_id": 1, "status": 1, "total": 1, "paid_at": 1, "refunded_amount": 1,
         "items": 1}).limit(100_000))
    paid = [o for o in orders if o.get("paid_at")]
    buyers = {o["user_id"] for o in paid}
    products: dict[str, dict[str, Any]] = {}
    for order in paid:
        for line in order.get("items", []):
            row = products.setdefault(line["product_id"], {
                "product_id": line["product_id"], "title": line.get("title", ""),
                "quantity": 0, "amount": 0, "orders": 0})
            row["quantity"] += line["quantity"]
            row["amount"] += line["subtotal"]
            row["orders"] += 1
    viewers = _viewers(ctx, room)
    tapped_buyers = buyers & viewers
    gmv = sum(o.get("total", 0) for o in paid)
    refunds = sum(o.get("refunded_amount", 0) for o in paid)
    return {
        "room": {"id": room["_id"], "title": room["title"], "source": room["source"],
                 "status": room_status(room, ctx.now), "starts_at": iso(room["starts_at"]),
                 "ends_at": iso(room["ends_at"])},
        "orders": len(orders), "paid_orders": len(paid), "paid_gmv": gmv,
        "refunds": refunds, "net_gmv": gmv - refunds, "buyers": len(buyers),
        "viewers": len(viewers), "viewer_buyers": len(tapped_buyers),
        "conversion": round(len(tapped_buyers) / len(viewers), 4) if viewers else 0.0,
        "top_products": sorted(products.values(),
                               key=lambda r: (-r["amount"], r["product_id"]))[:10],
    }
