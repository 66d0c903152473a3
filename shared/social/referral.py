"""Shares, invitations, referral rewards and the fission report.

A share is one shopper's link to one thing (a product, a team, a bargain, an assist, a
campaign) on one channel; sharing the same thing on the same channel again gives the same
share. Its short ``code`` travels as the ``scene`` of a mini-program code or as ``?s=`` in a
page path, and the landing page hands it to ``track_share_open``.

The invite tree: a shopper's first touch (the first share of someone else they open) sets
``users.invited_by`` and ``invited_via_share`` once, by a conditional update on their
absence; nothing changes them later. A share made by an invited shopper hangs under the share
that invited them (``parent_share_id``; ``depth`` = the parent's + 1, roots are 0), so an
invitee sits at their share's depth + 1. Every open also moves ``users.last_share``, which
``place_order`` copies into the order's ``attribution`` (within 7 days).

Rewards: when an invitee's first order is paid, their inviter earns the merchant's reward
(points or a coupon). ``referral_rewards`` has one document per invitee (``_id`` = the invitee),
inserted once, so two payments racing each other reward once; a full refund of that order
moves it granted -> reversed by a conditional update and takes the reward back.

Collections: shares, share_opens (one per share, opener and Beijing day), referral_rewards,
shop_settings (``_id: "referral_reward"``), points_ledger (shared.loyalty.points).
"""
from __future__ import annotations

import secrets
import string
from collections import Counter, defaultdict, deque
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Literal, Optional

from pydantic import AwareDatetime, ConfigDict, Field, model_validator
from pymongo.errors import DuplicateKeyError

from shared.core.common import Input, iso
from shared.core.context import Context
from shared.core.errors import ShopError, not_found
from shared.core.events import OrderEvent
from shared.core.log import get_logger
from shared.core.shopsettings import save_shop_setting, shop_setting

logger = get_logger("shop.referral")

ShareTarget = Literal["product", "team", "bargain", "assist", "campaign"]

# the mini-program page each kind of share opens; it reads the code from ?s= or the scene
# the mini-program page a share lands on, and the query parameter that names the target
# (a mini-program code's scene carries the share code only; the page resolves it with
# track_share_open)
LANDING_PAGES: dict[str, tuple[str, str]] = {
    "product": ("pages/product/product", "id"),
    "team": ("packages/social/pages/team/team", "team_id"),
    "campaign": ("packages/social/pages/team/team", "campaign_id"),
    "bargain": ("packages/social/pages/bargain/bargain", "id"),
    "assist": ("packages/social/pages/assist/assist", "id"),
}
# letters and digits only: valid in a wxacode scene (at most 32 visible characters) and in
# a URL query without escaping; 62**12 codes leave collisions to the unique index
CODE_ALPHABET = string.digits + string.ascii_letters
CODE_LENGTH = 12
# login comes before the landing page reports the open, so an account made this long before
# its first touch still counts as brought in by the share
NEW_USER_GRACE = timedelta(minutes=5)
# the invite tree is walked this far up when refusing a loop (A invites B, B "invites" A)
MAX_TREE_WALK = 200
BEIJING = timezone(timedelta(hours=8))
REWARD_SETTING = "referral_reward"


class CreateShareInput(Input):
    target: ShareTarget
    target_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    channel: Optional[str] = Field(default=None, min_length=1, max_length=32,
                                   pattern=r"^[A-Za-z0-9_.-]+$",
                                   description="e.g. chat, moments, poster")


class ShareIdInput(Input):
    share_id: str = Field(min_length=1, max_length=64)


class TrackShareOpenInput(Input):
    scene: str = Field(min_length=1, max_length=128, description="the code: scene or ?s=")


class ReferralRewardInput(Input):
    kind: Literal["points", "coupon", "none"]
    points: Optional[int] = Field(default=None, ge=1, le=1_000_000)
    coupon_id: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                     description="a coupon template id")

    @model_validator(mode="after")
    def consistent(self) -> "ReferralRewardInput":
        if self.kind == "points" and (self.points is None or self.coupon_id is not None):
            raise ValueError("a points reward takes points (and no coupon_id)")
        if self.kind == "coupon" and (self.coupon_id is None or self.points is not None):
            raise ValueError("a coupon reward takes coupon_id (and no points)")
        if self.kind == "none" and (self.points is not None or self.coupon_id is not None):
            raise ValueError("no reward takes neither points nor coupon_id")
        return self


class FissionReportInput(Input):
    model_config = ConfigDict(populate_by_name=True)

    campaign_id: Optional[str] = Field(default=None, min_length=1, max_length=64,
                                       description="only shares whose target_id is this")
    from_: Optional[AwareDatetime] = Field(default=None, alias="from")
    to: Optional[AwareDatetime] = None
    top: int = Field(default=10, ge=1, le=100, description="how many top contributors")

    @model_validator(mode="after")
    def ordered(self) -> "FissionReportInput":
        if any(moment is not None and not 2000 <= moment.year <= 2100
               for moment in (self.from_, self.to)):
            raise ValueError("from and to must fall in the years 2000-2100")
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError("to must be after from")
        return self


# ---- shares --------------------------------------------------------------------------------

def share_path(share: dict[str, Any]) -> str:
    page, param = LANDING_PAGES[share["target"]]
    return f"{page}?{param}={share['target_id']}&s={share['code']}"


def _share_answer(share: dict[str, Any]) -> dict[str, Any]:
    return {"share_id": share["_id"], "code": share["code"], "path": share_path(share)}


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _place_in_tree(db: Any, user_id: str) -> tuple[Optional[str], int]:
    """The share that invited this user (the parent of their shares) and their depth."""
    user = db.users.find_one({"_id": user_id}, {"invited_via_share": 1}) or {}
    parent_id = user.get("invited_via_share")
    if parent_id:
        parent = db.shares.find_one({"_id": parent_id}, {"depth": 1})
        if parent is not None:
            return parent_id, parent.get("depth", 0) + 1
    return None, 0


def _check_target(db: Any, target: str, target_id: str) -> None:
    # the other targets belong to campaign modules; their pages say when one is over
    if target == "product" and db.products.find_one(
            {"_id": target_id, "status": "on_sale"}, {"_id": 1}) is None:
        raise not_found("product")


def create_share(ctx: Context, req: CreateShareInput) -> dict[str, Any]:
    from pymongo import ReturnDocument

    from shared.core.common import new_id
    db = ctx.db
    _check_target(db, req.target, req.target_id)
    key = {"sharer_id": ctx.user_id, "target": req.target, "target_id": req.target_id,
           "channel": req.channel}
    for _ in range(5):
        parent_id, depth = _place_in_tree(db, ctx.shopper_id)
        found = db.shares.find_one_and_update(
            key, {"$inc": {"times": 1}, "$set": {"last_shared_at": ctx.now}},
            return_document=ReturnDocument.AFTER)
        if found is not None:
            if parent_id and not found.get("parent_share_id"):
                # shared before being invited: it joins the tree where its sharer now is
                db.shares.update_one({"_id": found["_id"], "parent_share_id": None},
                                     {"$set": {"parent_share_id": parent_id, "depth": depth}})
            return _share_answer(found)
        share = {"_id": new_id("shr"), "code": _new_code(), **key,
                 "parent_share_id": parent_id, "depth": depth, "times": 1,
                 "created_at": ctx.now, "last_shared_at": ctx.now}
        try:
            db.shares.insert_one(share)
            return _share_answer(share)
        except DuplicateKeyError:
            continue  # the same share made concurrently, or a code collision: look again
    raise ShopError("CONFLICT", "the share could not be made; retry in a moment")


def _owned_share(db: Any, user_id: str, share_id: str) -> dict[str, Any]:
    share = db.shares.find_one({"_id": share_id, "sharer_id": user_id})
    if share is None:
        raise not_found("share")
    return share


def get_share_code(ctx: Context, req: ShareIdInput) -> dict[str, Any]:
    """The share's mini-program code image in object storage, made on first request."""
    share = _owned_share(ctx.db, ctx.shopper_id, req.share_id)
    if share.get("code_image"):
        return {"url": share["code_image"]["url"]}
    from shared.wechat.wxacode import unlimited_code
    image = unlimited_code(ctx.db, ctx.settings, share["code"], LANDING_PAGES[share["target"]][0])
    key = f"share-codes/{share['_id']}.png"
    url = _store_image(ctx.settings, key, image.content, image.content_type)
    # two first requests racing both store the same key; the first record stays
    ctx.db.shares.update_one({"_id": share["_id"], "code_image": {"$exists": False}},
                             {"$set": {"code_image": {"key": key, "url": url,
                                                      "content_type": image.content_type,
                                                      "created_at": ctx.now}}})
    return {"url": url}


def _store_image(settings: Any, key: str, content: bytes, content_type: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.core.log import log_event
    from shared.storage.uploads import s3_client
    client, endpoint = s3_client(settings)
    try:
        client.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=content,
                          ContentType=content_type)
    except (BotoCoreError, ClientError) as exc:
        log_event(logger, "object storage refused a share code", error=type(exc).__name__)
        raise ShopError("UNAVAILABLE", "object storage is unavailable") from None
    return f"{endpoint.rstrip('/')}/{settings.S3_BUCKET}/{key}"


# ---- opens and the invite tree -------------------------------------------------------------

def _invites_in_chain(db: Any, user_id: str, sharer_id: str) -> bool:
    """Whether ``user_id`` is the sharer or above them in the tree (inviting them would loop)."""
    current: Optional[str] = sharer_id
    for _ in range(MAX_TREE_WALK):
        if current is None:
            return False
        if current == user_id:
            return True
        current = (db.users.find_one({"_id": current}, {"invited_by": 1}) or {}).get("invited_by")
    return True  # deeper than any real tree: refuse rather than risk a loop


def _first_touch(db: Any, opener_id: str, share: dict[str, Any], now: datetime) -> bool:
    """Make this share the opener's inviter if nothing has yet; True when it did."""
    user = db.users.find_one({"_id": opener_id}, {"invited_by": 1})
    if user is None or user.get("invited_by"):
        return False
    if _invites_in_chain(db, opener_id, share["sharer_id"]):
        return False
    taken = db.users.update_one(
        {"_id": opener_id, "invited_by": {"$exists": False}},
        {"$set": {"invited_by": share["sharer_id"], "invited_via_share": share["_id"],
                  "invited_at": now}})
    return taken.modified_count == 1


def _record_open(db: Any, share: dict[str, Any], opener_id: str, now: datetime,
                 first_touch: bool) -> None:
    from shared.core.db import insert_once
    day = now.astimezone(BEIJING).strftime("%Y%m%d")
    # opened again today: one open per opener, share and day
    insert_once(db.share_opens, {"_id": f"{share['_id']}:{opener_id}:{day}",
                                 "share_id": share["_id"], "sharer_id": share["sharer_id"],
                                 "opener_id": opener_id, "at": now, "first_touch": first_touch})


def track_share_open(ctx: Context, req: TrackShareOpenInput) -> dict[str, Any]:
    from shared.insight.facts import record_share_open
    db = ctx.db
    share = db.shares.find_one({"code": req.scene})
    if share is None:
        raise not_found("share")
    is_own = share["sharer_id"] == ctx.user_id
    first_touch = False
    # one's own share neither counts as an open nor attributes one's own orders to it
    if not is_own:
        first_touch = _first_touch(db, ctx.shopper_id, share, ctx.now)
        _record_open(db, share, ctx.shopper_id, ctx.now, first_touch)
        record_share_open(db, share, ctx.shopper_id, ctx.now, first_touch)   # 埋点: a fact
        db.users.update_one({"_id": ctx.user_id}, {"$set": {"last_share": {
            "share_id": share["_id"], "sharer_id": share["sharer_id"], "at": ctx.now}}})
    sharer = db.users.find_one({"_id": share["sharer_id"]}, {"nickname": 1, "avatar_url": 1})
    return {"share_id": share["_id"], "target": share["target"],
            "target_id": share["target_id"], "path": share_path(share),
            "sharer": {"nickname": (sharer or {}).get("nickname") or "",
                       "avatar_url": (sharer or {}).get("avatar_url") or ""},
            "is_own": is_own, "first_touch": first_touch}


# ---- incentives ----------------------------------------------------------------------------

def _reward_view(doc: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not doc:
        return None
    return {"kind": doc["kind"], "points": doc.get("points"), "coupon_id": doc.get("coupon_id"),
            "updated_at": iso(doc.get("updated_at"))}


def set_referral_reward(ctx: Context, req: ReferralRewardInput) -> Optional[dict[str, Any]]:
    if req.kind == "coupon" and ctx.db.coupons.find_one(
            {"_id": req.coupon_id, "status": "active"}, {"_id": 1}) is None:
        raise not_found("coupon")
    doc = {"kind": req.kind, "points": req.points, "coupon_id": req.coupon_id,
           "updated_at": ctx.now}
    save_shop_setting(ctx.db, REWARD_SETTING, doc)
    return _reward_view(doc)


def on_order_paid(db: Any, event: OrderEvent) -> None:
    """An invitee's first paid order earns their inviter a reward, once."""
    order = event.order
    try:
        _reward_first_order(db, order, event.now)
    except Exception:  # a reward never stands in the way of a payment being taken in
        logger.exception("referral reward failed for order %s", order.get("_id"))


def on_order_refunded(db: Any, event: OrderEvent) -> None:
    """A fully refunded first order takes the inviter's reward back."""
    order = event.order
    try:
        _reverse(db, order["user_id"], order["_id"], event.now)
    except Exception:
        logger.exception("referral reversal failed for order %s", order.get("_id"))


def _reward_first_order(db: Any, order: dict[str, Any], now: datetime) -> None:
    if order.get("total", 0) <= 0:
        return  # a gift order pays nothing, so it earns nothing
    invitee_id = order["user_id"]
    user = db.users.find_one({"_id": invitee_id},
                             {"invited_by": 1, "invited_via_share": 1, "invited_at": 1})
    if not user or not user.get("invited_by"):
        return
    # a shopper who had paid before being invited was not brought in by the invitation;
    # orders paid after it race for the one reward document below
    if user.get("invited_at") and db.orders.find_one(
            {"user_id": invitee_id, "_id": {"$ne": order["_id"]},
             "paid_at": {"$lt": user["invited_at"]}}, {"_id": 1}):
        return
    setting = shop_setting(db, REWARD_SETTING) or {"kind": "none"}
    kind = setting.get("kind") or "none"
    reward = {"_id": invitee_id, "inviter_id": user["invited_by"],
              "share_id": user.get("invited_via_share"), "order_id": order["_id"],
              "kind": kind, "points": setting.get("points") if kind == "points" else None,
              "coupon_id": setting.get("coupon_id") if kind == "coupon" else None,
              # "none": the first order happened while no reward was set, which uses it up
              "status": "granting" if kind != "none" else "none", "created_at": now}
    try:
        db.referral_rewards.insert_one(reward)
    except DuplicateKeyError:
        reward = db.referral_rewards.find_one({"_id": invitee_id})
        # a repeat of this order's aftermath finishes a grant a crash cut short
        if reward is None or reward["order_id"] != order["_id"] \
                or reward["status"] != "granting":
            return
    if reward["status"] == "granting":
        _grant(db, reward, now)


def _grant(db: Any, reward: dict[str, Any], now: datetime) -> None:
    """Hand the reward over; each step is idempotent, so a repeat completes a cut grant."""
    from shared.loyalty.points import add_points
    changes: dict[str, Any] = {"status": "granted", "granted_at": now}
    if reward["kind"] == "points":
        add_points(db, reward["inviter_id"], reward["points"], "referral",
                   f"referral:{reward['_id']}", now)
    else:
        coupon_id = _give_coupon(db, reward, now)
        if coupon_id is None:
            changes = {"status": "unavailable", "granted_at": None}
        changes["user_coupon_id"] = coupon_id
    granted = db.referral_rewards.update_one({"_id": reward["_id"], "status": "granting"},
                                             {"$set": changes})
    # a full refund that landed while the reward was being granted found nothing to reverse
    if granted.modified_count and changes["status"] == "granted" and db.orders.find_one(
            {"_id": reward["order_id"], "status": "refunded"}, {"_id": 1}):
        _reverse(db, reward["_id"], reward["order_id"], now)


def _give_coupon(db: Any, reward: dict[str, Any], now: datetime) -> Optional[str]:
    """Put a coupon of the reward's template into the inviter's wallet; None if it is gone.

    Reward coupons are issued by the shop, so they do not draw on the template's claimable
    stock, nor count against its per-user claim limit."""
    from shared.core.db import insert_once
    from shared.orders.coupons import TERMS
    template = db.coupons.find_one({"_id": reward["coupon_id"]})
    if template is None or template.get("status") != "active":
        return None
    if template.get("valid_days"):
        valid_from, valid_to = now, now + timedelta(days=template["valid_days"])
    else:
        valid_from, valid_to = template["valid_from"], template["valid_to"]
    if valid_to <= now:
        return None
    coupon_id = f"ucp_ref_{reward['_id']}"  # one per invitee, so a repeat inserts nothing
    insert_once(db.user_coupons, {
        "_id": coupon_id, "user_id": reward["inviter_id"], "coupon_id": template["_id"],
        **{k: template.get(k) for k in TERMS}, "status": "available", "order_id": None,
        "valid_from": valid_from, "valid_to": valid_to, "claimed_at": now,
        "source": "referral", "referral_invitee_id": reward["_id"]})
    return coupon_id


def _reverse(db: Any, invitee_id: str, order_id: str, now: datetime) -> None:
    from pymongo import ReturnDocument

    from shared.loyalty.points import add_points
    reward = db.referral_rewards.find_one_and_update(
        {"_id": invitee_id, "order_id": order_id, "status": "granted"},
        {"$set": {"status": "reversed", "reversed_at": now}},
        return_document=ReturnDocument.AFTER)
    if reward is None:
        # not granted by this order; or reversed already, when a repeat finishes the undoing
        reward = db.referral_rewards.find_one({"_id": invitee_id, "order_id": order_id,
                                               "status": "reversed"})
        if reward is None:
            return
    if reward["kind"] == "points":
        add_points(db, reward["inviter_id"], -reward["points"], "referral_reversed",
                   f"referral_reversed:{invitee_id}", now)
    elif reward.get("user_coupon_id"):
        # a coupon already spent stays spent; one still in the wallet is taken back
        db.user_coupons.update_one({"_id": reward["user_coupon_id"], "status": "available"},
                                   {"$set": {"status": "revoked", "revoked_at": now}})
        coupon = db.user_coupons.find_one({"_id": reward["user_coupon_id"]}, {"status": 1})
        db.referral_rewards.update_one(
            {"_id": invitee_id},
            {"$set": {"coupon_revoked": (coupon or {}).get("status") == "revoked"}})


# ---- the fission report --------------------------------------------------------------------

def _utc(moment: Optional[datetime]) -> Optional[datetime]:
    return moment.astimezone(timezone.utc) if moment is not None else None


def _between(start: Optional[datetime], end: Optional[datetime]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if start is not None:
        bounds["$gte"] = start
    if end is not None:
        bounds["$lt"] = end
    return bounds


def _descendants(children: dict[str, list[str]], root: str) -> int:
    """Everyone below ``root`` in the invite tree (guarded against a loop two racing first
    touches could in theory make)."""
    seen = {root}
    queue = deque(children.get(root, ()))
    while queue:
        user_id = queue.popleft()
        if user_id in seen:
            continue
        seen.add(user_id)
        queue.extend(children.get(user_id, ()))
    return len(seen) - 1


def _nicknames(db: Any, user_ids: Iterable[str]) -> dict[str, str]:
    return {u["_id"]: u.get("nickname") or "" for u in db.users.find(
        {"_id": {"$in": list(user_ids)}}, {"nickname": 1})}


def fission_report(ctx: Context, req: FissionReportInput) -> dict[str, Any]:
    """Shares, opens, invitees, new and paying users, revenue, K-factor and the invite tree.

    Each figure counts its own events in [from, to): shares by creation, opens by time,
    invitees (and the new users among them) by their first touch, revenue by payment.
    ``campaign_id`` keeps the shares whose target is that campaign, and what came of them.
    A new user is an invitee whose account was made after the share and at most
    NEW_USER_GRACE before the first touch; a paying user is an invitee with an order paid
    after the invitation and not fully refunded. Revenue is what orders attributed to the
    shares paid, less their refunds. K-factor is new users per sharing user.
    """
    db = ctx.db
    start, end = _utc(req.from_), _utc(req.to)
    window = _between(start, end)
    shares_query: dict[str, Any] = {"target_id": req.campaign_id} if req.campaign_id else {}
    # which share ids are in scope: a list for a campaign, any share otherwise
    share_ids: Any = {"$gt": ""}
    if req.campaign_id:
        share_ids = {"$in": [s["_id"] for s in db.shares.find(shares_query, {"_id": 1})]}

    made = list(db.shares.find({**shares_query, **({"created_at": window} if window else {})},
                               {"sharer_id": 1}))
    sharers = Counter(s["sharer_id"] for s in made)

    opens_query = {"share_id": share_ids, **({"at": window} if window else {})}
    opens = db.share_opens.count_documents(opens_query)
    openers = len(db.share_opens.distinct("opener_id", opens_query))

    invitees = list(db.users.find(
        {"invited_via_share": share_ids, **({"invited_at": window} if window else {})},
        {"created_at": 1, "invited_by": 1, "invited_via_share": 1, "invited_at": 1}))
    their_shares = {s["_id"]: s for s in db.shares.find(
        {"_id": {"$in": sorted({u["invited_via_share"] for u in invitees})}},
        {"created_at": 1, "depth": 1})}
    new_users = {u["_id"] for u in invitees if _is_new(u, their_shares.get(u["invited_via_share"]))}
    invited_at = {u["_id"]: u["invited_at"] for u in invitees}
    paying = {o["user_id"] for o in db.orders.find(
        {"user_id": {"$in": list(invited_at)}, "status": {"$ne": "refunded"},
         "paid_at": {"$ne": None, **({"$lt": end} if end else {})}},
        {"user_id": 1, "paid_at": 1}) if o["paid_at"] >= invited_at[o["user_id"]]}

    revenue_by_sharer: Counter[str] = Counter()
    orders = 0
    for order in db.orders.find({"attribution.share_id": share_ids,
                                 "paid_at": window or {"$ne": None}},
                                {"total": 1, "refunded_amount": 1, "attribution": 1}):
        orders += 1
        revenue_by_sharer[order["attribution"]["sharer_id"]] += \
            order["total"] - order.get("refunded_amount", 0)

    depths = Counter(their_shares.get(u["invited_via_share"], {}).get("depth", 0) + 1
                     for u in invitees)
    children: dict[str, list[str]] = defaultdict(list)
    direct_new: Counter[str] = Counter()
    for user in invitees:
        children[user["invited_by"]].append(user["_id"])
        if user["_id"] in new_users:
            direct_new[user["invited_by"]] += 1
    contributors: list[dict[str, Any]] = [{"user_id": user_id, "shares": sharers.get(user_id, 0),
                     "direct": len(children.get(user_id, ())),
                     "downstream": _descendants(children, user_id),
                     "new_users": direct_new.get(user_id, 0),
                     "revenue": revenue_by_sharer.get(user_id, 0)}
                    for user_id in set(sharers) | set(children)]
    contributors.sort(key=lambda c: (-c["downstream"], -c["direct"], -c["revenue"],
                                     c["user_id"]))
    top = contributors[:req.top]
    names = _nicknames(db, [c["user_id"] for c in top])
    rewards = Counter(r["status"] for r in db.referral_rewards.find(
        {"_id": {"$in": list(invited_at)}}, {"status": 1}))
    return {
        "campaign_id": req.campaign_id, "from": iso(start), "to": iso(end),
        "shares": len(made), "sharing_users": len(sharers),
        "opens": opens, "unique_openers": openers,
        "invited_users": len(invitees), "new_users": len(new_users),
        "paying_users": len(paying), "orders": orders,
        "revenue": sum(revenue_by_sharer.values()),
        "k_factor": round(len(new_users) / len(sharers), 2) if sharers else 0.0,
        "depth_distribution": [{"depth": d, "users": n} for d, n in sorted(depths.items())],
        "top_contributors": [{**c, "nickname": names.get(c["user_id"], "")} for c in top],
        "rewards": {"granted": rewards.get("granted", 0),
                    "reversed": rewards.get("reversed", 0)},
        "reward": _reward_view(db.shop_settings.find_one({"_id": REWARD_SETTING})),
    }


def _is_new(user: dict[str, Any], share: Optional[dict[str, Any]]) -> bool:
    created = user.get("created_at")
    if created is None or share is None:
        return False
    return created >= max(share["created_at"], user["invited_at"] - NEW_USER_GRACE)
