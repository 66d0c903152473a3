"""Referral and fission: share codes, first touch, attribution, rewards once per invitee (and
taken back by a full refund), the fission report on a generated invite graph, and mini-program
codes (the dev sandbox PNG, and the real WeChat path against a loopback server).

Payments go through the loopback WeChat Pay sandbox and refunds through the after-sale flow,
whose notify the sandbox (synchronous in tests) has delivered when the approval returns.
"""
from __future__ import annotations

import itertools
import json
import random
import re
import struct
import threading
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import Shopper, merchant, new_address, new_product, new_shopper, run_threads
from tests.helpers import deliver_owed_events

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_request_ids = itertools.count(1)


# ---- helpers -------------------------------------------------------------------------------

def share(shopper: Shopper, target_id: str, target: str = "product",
          channel: Optional[str] = None) -> dict:
    payload = {"target": target, "target_id": target_id}
    if channel:
        payload["channel"] = channel
    return shopper.call("create_share", payload).data


def open_share(shopper: Shopper, code: str) -> dict:
    return shopper.call("track_share_open", {"scene": code}).data


def place(shopper: Shopper, sku_id: str, quantity: int = 1) -> dict:
    return shopper.call("place_order", {
        "request_id": f"req-ref-{next(_request_ids):05d}", "address_id": new_address(shopper),
        "items": [{"sku_id": sku_id, "quantity": quantity}]}).data


def pay(shopper: Shopper, order_id: str) -> dict:
    """Pay, and let the paid order's aftermath (the referral reward...) run, as the
    order_events timer does after the answer."""
    paid = shopper.call("sandbox_pay", {"order_id": order_id}).data
    assert paid["order"]["status"] == "paid", paid
    deliver_owed_events()
    return paid["order"]


def refund(shopper: Shopper, order_id: str, items: Optional[list[tuple[str, int]]] = None) \
        -> dict:
    """Ask for a refund and have the merchant approve it: the money is back at once."""
    payload: dict[str, Any] = {"order_id": order_id, "type": "refund_only", "reason": "不要了"}
    if items:
        payload["items"] = [{"sku_id": s, "quantity": q} for s, q in items]
    asked = shopper.call("request_after_sale", payload).data
    merchant("merchant_review_after_sale", {"after_sale_id": asked["id"],
                                            "decision": "approve"}).data
    doc = shopper.call("get_after_sale", {"after_sale_id": asked["id"]}).data
    assert doc["status"] == "refunded", doc
    return shopper.call("get_order", {"order_id": order_id}).data


def user(db: Any, shopper: Shopper) -> dict:
    return db.users.find_one({"_id": shopper.user_id})


@pytest.fixture
def product() -> dict:
    return new_product(price=2000, stock=100)


@pytest.fixture
def sku(product: dict) -> str:
    return product["skus"][0]["id"]


@pytest.fixture
def invited(product: dict) -> tuple[Shopper, Shopper, dict]:
    """An inviter, a shopper who opened the inviter's share first, and the share."""
    inviter, invitee = new_shopper(), new_shopper()
    made = share(inviter, product["id"])
    assert open_share(invitee, made["code"])["first_touch"] is True
    return inviter, invitee, made


def points_reward(points: int = 100) -> None:
    merchant("merchant_set_referral_reward", {"kind": "points", "points": points}).data


# ---- shares --------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["product", "team", "bargain", "assist", "campaign"])
def test_share_code_is_at_most_32_url_safe_characters_and_the_path_carries_it(product, target):
    target_id = product["id"] if target == "product" else f"{target}_0123456789abcdef"

    made = share(new_shopper(), target_id, target, channel="moments")

    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", made["code"])
    assert quote(made["code"], safe="") == made["code"]
    # the landing page gets the target's id and the share code: ...?<param>=<id>&s=<code>
    assert made["path"].endswith(f"={target_id}&s={made['code']}")
    assert made["share_id"]


def test_sharing_the_same_thing_on_the_same_channel_again_gives_the_same_share(product):
    sharer = new_shopper()

    first, again = share(sharer, product["id"], channel="chat"), share(sharer, product["id"],
                                                                       channel="chat")
    other_channel = share(sharer, product["id"], channel="poster")

    assert first == again
    assert other_channel["code"] != first["code"]


def test_sharing_a_product_that_does_not_exist_is_404():
    answer = new_shopper().call("create_share", {"target": "product", "target_id": "prd_nope"})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


def test_opening_an_unknown_scene_is_404():
    answer = new_shopper().call("track_share_open", {"scene": "NoSuchCode12"})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


# ---- first touch and the invite tree -------------------------------------------------------

def test_first_touch_decides_who_invited_and_a_later_share_never_changes_it(db, product):
    first, second, opener = new_shopper(), new_shopper(), new_shopper()
    first_share, second_share = share(first, product["id"]), share(second, product["id"])

    opened_first = open_share(opener, first_share["code"])
    opened_second = open_share(opener, second_share["code"])

    stored = user(db, opener)
    assert (opened_first["first_touch"], opened_second["first_touch"]) == (True, False)
    assert stored["invited_by"] == first.user_id
    assert stored["invited_via_share"] == first_share["share_id"]
    # the last share still moves, for order attribution
    assert stored["last_share"]["share_id"] == second_share["share_id"]
    assert stored["last_share"]["sharer_id"] == second.user_id


def test_opening_ones_own_share_does_not_make_one_ones_own_invitee(db, product):
    sharer, friend = new_shopper(), new_shopper()
    mine, theirs = share(sharer, product["id"]), share(friend, product["id"])

    own = open_share(sharer, mine["code"])
    assert own["is_own"] is True and own["first_touch"] is False
    assert "invited_by" not in user(db, sharer)
    assert db.share_opens.count_documents({"share_id": mine["share_id"]}) == 0

    assert open_share(sharer, theirs["code"])["first_touch"] is True
    assert user(db, sharer)["invited_by"] == friend.user_id


def test_concurrent_first_touches_leave_exactly_one_inviter(db, product):
    sharers = [new_shopper() for _ in range(12)]
    codes = [share(s, product["id"])["code"] for s in sharers]
    opener = new_shopper()

    results = run_threads(len(codes), lambda i: open_share(opener, codes[i]))

    assert sum(1 for r in results if r["first_touch"]) == 1
    winner = next(r for r in results if r["first_touch"])
    assert user(db, opener)["invited_via_share"] == winner["share_id"]
    assert db.share_opens.count_documents({"opener_id": opener.user_id}) == 12


def test_an_inviter_opening_their_invitees_share_is_not_invited_by_them(db, invited, product):
    inviter, invitee, _ = invited
    invitees_share = share(invitee, product["id"])

    assert open_share(inviter, invitees_share["code"])["first_touch"] is False
    assert "invited_by" not in user(db, inviter)


def test_shares_of_invitees_hang_under_the_share_that_invited_them(db, product):
    a, b, c = new_shopper(), new_shopper(), new_shopper()
    root = share(a, product["id"])
    open_share(b, root["code"])
    middle = share(b, product["id"])
    open_share(c, middle["code"])
    leaf = share(c, product["id"])

    docs = {d["_id"]: d for d in db.shares.find()}
    assert (docs[root["share_id"]]["depth"], docs[root["share_id"]]["parent_share_id"]) == (0, None)
    assert (docs[middle["share_id"]]["depth"],
            docs[middle["share_id"]]["parent_share_id"]) == (1, root["share_id"])
    assert (docs[leaf["share_id"]]["depth"],
            docs[leaf["share_id"]]["parent_share_id"]) == (2, middle["share_id"])


def test_opens_are_counted_once_per_opener_share_and_day(db, invited):
    _, invitee, made = invited

    open_share(invitee, made["code"])
    open_share(invitee, made["code"])

    assert db.share_opens.count_documents({"share_id": made["share_id"]}) == 1


# ---- attribution ---------------------------------------------------------------------------

def test_order_is_attributed_to_the_share_that_led_to_it(db, product, sku):
    first, second, buyer = new_shopper(), new_shopper(), new_shopper()
    open_share(buyer, share(first, product["id"])["code"])
    leading = share(second, product["id"])
    open_share(buyer, leading["code"])

    order = place(buyer, sku)

    stored = db.orders.find_one({"_id": order["id"]})
    assert stored["attribution"] == {"share_id": leading["share_id"],
                                     "sharer_id": second.user_id}


def test_order_without_a_recent_share_has_no_attribution(db, invited, sku):
    _, invitee, _ = invited
    plain = place(new_shopper(), sku)
    db.users.update_one({"_id": invitee.user_id},
                        {"$set": {"last_share.at": datetime.now(timezone.utc)
                                  - timedelta(days=8)}})

    stale = place(invitee, sku)

    assert db.orders.find_one({"_id": plain["id"]})["attribution"] is None
    assert db.orders.find_one({"_id": stale["id"]})["attribution"] is None


# ---- rewards -------------------------------------------------------------------------------

def test_reward_setting_checks_its_terms():
    assert merchant("merchant_set_referral_reward", {"kind": "points"}).code == \
        "VALIDATION_ERROR"
    assert merchant("merchant_set_referral_reward",
                    {"kind": "coupon", "coupon_id": "cpn_nope"}).code == "NOT_FOUND"
    assert new_shopper().call("merchant_set_referral_reward",
                              {"kind": "points", "points": 5}).status in (401, 403)


def test_invitees_first_paid_order_earns_the_inviter_points_once(db, invited, sku):
    inviter, invitee, made = invited
    points_reward(100)

    pay(invitee, place(invitee, sku)["id"])
    pay(invitee, place(invitee, sku)["id"])

    assert user(db, inviter).get("points") == 100
    [entry] = list(db.points_ledger.find({"user_id": inviter.user_id}))
    assert (entry["points"], entry["reason"]) == (100, "referral")
    reward = db.referral_rewards.find_one({"_id": invitee.user_id})
    assert (reward["status"], reward["inviter_id"], reward["share_id"]) == \
        ("granted", inviter.user_id, made["share_id"])


def test_two_orders_paid_concurrently_reward_the_inviter_exactly_once(db, invited, sku):
    inviter, invitee, _ = invited
    points_reward(100)
    orders = [place(invitee, sku)["id"] for _ in range(4)]

    paid = run_threads(len(orders), lambda i: pay(invitee, orders[i]))

    assert all(isinstance(p, dict) and p["status"] == "paid" for p in paid), paid
    assert user(db, inviter).get("points") == 100
    assert db.points_ledger.count_documents({"user_id": inviter.user_id}) == 1
    assert db.referral_rewards.count_documents({"inviter_id": inviter.user_id}) == 1


def test_shopper_who_paid_before_being_invited_earns_their_inviter_nothing(db, product, sku):
    points_reward(100)
    inviter, customer = new_shopper(), new_shopper()
    pay(customer, place(customer, sku)["id"])
    open_share(customer, share(inviter, product["id"])["code"])

    pay(customer, place(customer, sku)["id"])

    assert user(db, inviter).get("points", 0) == 0
    assert db.referral_rewards.count_documents({}) == 0


def test_full_refund_of_the_first_order_takes_the_points_back(db, invited, sku):
    inviter, invitee, _ = invited
    points_reward(100)
    order = pay(invitee, place(invitee, sku)["id"])

    assert refund(invitee, order["id"])["status"] == "refunded"

    assert user(db, inviter)["points"] == 0
    ledger = sorted(e["points"] for e in db.points_ledger.find({"user_id": inviter.user_id}))
    assert ledger == [-100, 100]
    assert db.referral_rewards.find_one({"_id": invitee.user_id})["status"] == "reversed"


def test_partial_refund_keeps_the_reward(db, invited, sku):
    inviter, invitee, _ = invited
    points_reward(100)
    order = pay(invitee, place(invitee, sku, quantity=2)["id"])

    after = refund(invitee, order["id"], items=[(sku, 1)])

    assert (after["status"], after["refunded_amount"]) == ("paid", 2000)
    assert user(db, inviter)["points"] == 100
    assert db.referral_rewards.find_one({"_id": invitee.user_id})["status"] == "granted"


def test_coupon_reward_lands_in_the_wallet_and_an_unused_one_is_revoked_on_full_refund(
        db, invited, sku):
    inviter, invitee, _ = invited
    template = merchant("merchant_create_coupon", {
        "name": "邀请奖励", "kind": "fixed", "amount": 500, "total": 1, "per_user_limit": 1,
        "valid_days": 30}).data
    merchant("merchant_set_referral_reward", {"kind": "coupon", "coupon_id": template["id"]}).data
    order = pay(invitee, place(invitee, sku)["id"])

    wallet = inviter.call("list_my_coupons", {"status": "available"}).data["items"]
    assert [(c["coupon_id"], c["amount"]) for c in wallet] == [(template["id"], 500)]

    refund(invitee, order["id"])

    assert inviter.call("list_my_coupons", {"status": "available"}).data["total"] == 0
    reward = db.referral_rewards.find_one({"_id": invitee.user_id})
    assert (reward["status"], reward["coupon_revoked"]) == ("reversed", True)


def test_points_entry_with_a_known_ref_does_nothing(db):
    from shared.loyalty.points import add_points, ledger_balance
    shopper = new_shopper()
    now = datetime.now(timezone.utc)

    assert add_points(db, shopper.user_id, 30, "test", "test:1", now) is True
    assert add_points(db, shopper.user_id, 30, "test", "test:1", now) is False
    assert add_points(db, shopper.user_id, -10, "test", "test:2", now) is True

    assert user(db, shopper)["points"] == 20 == ledger_balance(db, shopper.user_id)


# ---- the fission report on a generated invite graph ----------------------------------------

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
CAMPAIGNS = ("cmp_spring", "cmp_summer")


class Graph:
    """A random invite forest written straight to the database, with its own bookkeeping."""

    def __init__(self, db: Any, seed: int) -> None:
        rng = random.Random(seed)
        self.users: dict[str, dict] = {}
        self.shares: dict[str, dict] = {}
        self.opens: list[dict] = []
        self.orders: list[dict] = []
        self.parent: dict[str, str] = {}      # invitee -> inviter
        for n in range(6):
            self._user(f"usr_root{n}", T0 - timedelta(days=rng.randint(1, 60)))
        for n in range(70):
            inviter = rng.choice(sorted(self.users))
            joined = self._joined(inviter)
            via = self._share(rng, inviter, joined)
            invited_at = via["created_at"] + timedelta(minutes=rng.randint(20, 3 * 24 * 60))
            kind = rng.choice(["new", "new", "old", "late"])
            created = {"new": invited_at - timedelta(seconds=rng.randint(0, 290)),
                       "old": via["created_at"] - timedelta(days=rng.randint(1, 30)),
                       # made after the share, yet well before the open: not brought by it
                       "late": invited_at - timedelta(minutes=rng.randint(6, 15))}[kind]
            invitee = f"usr_inv{n:03d}"
            self._user(invitee, created, invited_by=inviter, via=via["_id"],
                       invited_at=invited_at)
            self.parent[invitee] = inviter
            self._open(via, invitee, invited_at)
        everyone = sorted(self.users)
        for _ in range(60):  # more opens, by anyone, of any share
            chosen = self.shares[rng.choice(sorted(self.shares))]
            opener = rng.choice(everyone)
            if opener != chosen["sharer_id"]:
                self._open(chosen, opener, chosen["created_at"]
                           + timedelta(hours=rng.randint(1, 500)))
        for _ in range(10):  # shares nobody opened
            sharer = rng.choice(everyone)
            self._share(rng, sharer, self._joined(sharer), fresh=True)
        for n in range(90):
            self._order(rng, n, rng.choice(everyone))
        db.users.insert_many(list(self.users.values()))
        db.shares.insert_many(list(self.shares.values()))
        db.share_opens.insert_many(self.opens)
        db.orders.insert_many(self.orders)

    def _user(self, user_id: str, created: datetime, **invite: Any) -> None:
        doc = {"_id": user_id, "openid": f"openid_{user_id}", "nickname": user_id[4:],
               "created_at": created}
        if invite:
            doc.update(invited_by=invite["invited_by"], invited_via_share=invite["via"],
                       invited_at=invite["invited_at"])
        self.users[user_id] = doc

    def _joined(self, user_id: str) -> datetime:
        doc = self.users[user_id]
        return doc.get("invited_at") or doc["created_at"]

    def depth(self, user_id: str) -> int:
        return 0 if user_id not in self.parent else 1 + self.depth(self.parent[user_id])

    def _share(self, rng: random.Random, sharer: str, after: datetime,
               fresh: bool = False) -> dict:
        mine = [s for s in self.shares.values() if s["sharer_id"] == sharer]
        if mine and not fresh and rng.random() < 0.6:
            return rng.choice(mine)
        number = len(self.shares)
        doc = {"_id": f"shr_{number:04d}", "code": f"code{number:04d}", "sharer_id": sharer,
               "target": "campaign", "target_id": rng.choice(CAMPAIGNS),
               "channel": f"ch{number}", "depth": self.depth(sharer),
               "parent_share_id": self.users[sharer].get("invited_via_share"),
               "created_at": after + timedelta(minutes=rng.randint(1, 5 * 24 * 60))}
        self.shares[doc["_id"]] = doc
        return doc

    def _open(self, chosen: dict, opener: str, at: datetime) -> None:
        self.opens.append({"_id": f"{chosen['_id']}:{opener}:{len(self.opens)}",
                           "share_id": chosen["_id"], "sharer_id": chosen["sharer_id"],
                           "opener_id": opener, "at": at})

    def _order(self, rng: random.Random, n: int, buyer: str) -> None:
        total = rng.randint(1, 50) * 100
        status = rng.choice(["paid", "paid", "completed", "refunded", "partial", "unpaid"])
        paid_at = self._joined(buyer) + timedelta(hours=rng.randint(-200, 400))
        chosen = self.shares[rng.choice(sorted(self.shares))]
        attribution = None if rng.random() < 0.25 else {"share_id": chosen["_id"],
                                                        "sharer_id": chosen["sharer_id"]}
        doc = {"_id": f"ord_{n:04d}", "user_id": buyer, "request_id": f"gen-{n:04d}",
               "items": [], "total": total, "attribution": attribution,
               "created_at": paid_at - timedelta(minutes=5),
               "status": "paid" if status == "partial" else status,
               "refunded_amount": {"refunded": total, "partial": total // 3}.get(status, 0)}
        if status == "unpaid":
            doc["status"] = "pending_payment"
        else:
            doc["paid_at"] = paid_at
        self.orders.append(doc)

    def expected(self, campaign: Optional[str], start: Optional[datetime],
                 end: Optional[datetime]) -> dict:
        """The report's figures, worked out from the generator's own records."""
        def within(moment: datetime) -> bool:
            return (start is None or moment >= start) and (end is None or moment < end)

        def scoped(share_id: str) -> bool:
            return campaign is None or self.shares[share_id]["target_id"] == campaign

        made = [s for s in self.shares.values() if scoped(s["_id"]) and within(s["created_at"])]
        opens = [o for o in self.opens if scoped(o["share_id"]) and within(o["at"])]
        invitees = [u for u in self.users.values() if u.get("invited_via_share")
                    and scoped(u["invited_via_share"]) and within(u["invited_at"])]
        new = {u["_id"] for u in invitees
               if u["created_at"] >= self.shares[u["invited_via_share"]]["created_at"]
               and u["created_at"] >= u["invited_at"] - timedelta(minutes=5)}
        invited_ids = {u["_id"] for u in invitees}
        paying = {o["user_id"] for o in self.orders if o["user_id"] in invited_ids
                  and o.get("paid_at") and o["status"] != "refunded"
                  and o["paid_at"] >= self.users[o["user_id"]]["invited_at"]
                  and (end is None or o["paid_at"] < end)}
        attributed = [o for o in self.orders if o.get("paid_at") and o["attribution"]
                      and scoped(o["attribution"]["share_id"]) and within(o["paid_at"])]
        sharers = Counter(s["sharer_id"] for s in made)
        # downstream: walk up from each invitee, crediting every ancestor in the scoped tree
        downstream: Counter[str] = Counter()
        direct: Counter[str] = Counter()
        for invitee in invited_ids:
            direct[self.parent[invitee]] += 1
            node = invitee
            while node in invited_ids:
                node = self.parent[node]
                downstream[node] += 1
        revenue: Counter[str] = Counter()
        for o in attributed:
            revenue[o["attribution"]["sharer_id"]] += o["total"] - o["refunded_amount"]
        direct_new = Counter(self.parent[u] for u in new)
        contributors = {uid: {"user_id": uid, "nickname": uid[4:], "shares": sharers[uid],
                              "direct": direct[uid], "downstream": downstream[uid],
                              "new_users": direct_new[uid], "revenue": revenue[uid]}
                        for uid in set(sharers) | set(direct)}
        return {
            "shares": len(made), "sharing_users": len(sharers), "opens": len(opens),
            "unique_openers": len({o["opener_id"] for o in opens}),
            "invited_users": len(invitees), "new_users": len(new), "paying_users": len(paying),
            "orders": len(attributed), "revenue": sum(revenue.values()),
            "k_factor": round(len(new) / len(sharers), 2) if sharers else 0.0,
            "depth_distribution": [{"depth": d, "users": n} for d, n in sorted(
                Counter(self.depth(u["_id"]) for u in invitees).items())],
            "contributors": contributors,
        }


@pytest.mark.parametrize("campaign, start_day, end_day", [
    (None, None, None), ("cmp_spring", None, None), (None, 5, 20), ("cmp_summer", 3, None)])
def test_fission_report_matches_a_generated_invite_graph(db, campaign, start_day, end_day):
    graph = Graph(db, seed=20260301)
    start = T0 + timedelta(days=start_day) if start_day is not None else None
    end = T0 + timedelta(days=end_day) if end_day is not None else None
    payload: dict[str, Any] = {"top": 100}
    if campaign:
        payload["campaign_id"] = campaign
    if start:
        payload["from"] = start.isoformat()
    if end:
        payload["to"] = end.isoformat()

    report = merchant("merchant_fission_report", payload).data
    expected = graph.expected(campaign, start, end)

    contributors = expected.pop("contributors")
    assert {k: report[k] for k in expected} == expected
    assert expected["invited_users"] > 5 and expected["revenue"] > 0  # the case is not empty
    assert len(report["top_contributors"]) == len(contributors)
    assert {c["user_id"]: c for c in report["top_contributors"]} == contributors
    ranked = [(-c["downstream"], -c["direct"]) for c in report["top_contributors"]]
    assert ranked == sorted(ranked)
    assert max(c["downstream"] for c in contributors.values()) > \
        max(c["direct"] for c in contributors.values())  # deeper than one level


def test_fission_report_rejects_a_window_that_ends_before_it_starts():
    answer = merchant("merchant_fission_report", {"from": "2026-03-02T00:00:00Z",
                                                  "to": "2026-03-01T00:00:00Z"})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_fission_report_counts_a_flow_made_through_the_actions(invited, sku):
    inviter, invitee, _ = invited
    pay(invitee, place(invitee, sku)["id"])

    report = merchant("merchant_fission_report", {}).data

    assert (report["shares"], report["opens"], report["invited_users"],
            report["paying_users"], report["revenue"]) == (1, 1, 1, 1, 2000)
    [top] = report["top_contributors"]
    assert (top["user_id"], top["direct"], top["downstream"]) == (inviter.user_id, 1, 1)


# ---- mini-program codes --------------------------------------------------------------------

def _stored(key: str) -> tuple[bytes, str]:
    from shared.core.config import get_settings
    from shared.storage.uploads import s3_client
    settings = get_settings()
    client, _ = s3_client(settings)
    got = client.get_object(Bucket=settings.S3_BUCKET, Key=key)
    return got["Body"].read(), got["ContentType"]


def _png_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its chunks and pixel data add up."""
    assert content[:8] == PNG_SIGNATURE
    offset, chunks = 8, {}
    while offset < len(content):
        length, kind = struct.unpack(">I4s", content[offset:offset + 8])
        data = content[offset + 8:offset + 8 + length]
        crc, = struct.unpack(">I", content[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + data) & 0xFFFFFFFF == crc
        chunks.setdefault(kind, b"")
        chunks[kind] += data
        offset += 12 + length
    width, height, bit_depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (bit_depth, color_type) == (8, 0)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (width + 1)
    return width, height


def test_share_code_in_dev_is_a_sandbox_png_stored_once_and_reused(invited, monkeypatch):
    import shared.wechat.wxacode as wxacode
    inviter, _, made = invited

    first = inviter.call("get_share_code", {"share_id": made["share_id"]}).data
    monkeypatch.setattr(wxacode, "sandbox_png", lambda scene: pytest.fail("drawn again"))
    again = inviter.call("get_share_code", {"share_id": made["share_id"]}).data

    assert first == again and first["url"].endswith(f"share-codes/{made['share_id']}.png")
    content, content_type = _stored(f"share-codes/{made['share_id']}.png")
    assert content_type == "image/png"
    assert _png_size(content)[0] > 100


def test_sandbox_codes_differ_by_scene():
    from shared.wechat.wxacode import sandbox_png

    assert sandbox_png("abc") == sandbox_png("abc") != sandbox_png("abd")


def test_share_code_of_another_users_share_is_404(invited):
    _, invitee, made = invited

    answer = invitee.call("get_share_code", {"share_id": made["share_id"]})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


CODE_IMAGE = b"\x89PNG\r\n\x1a\n" + b"fake-wechat-code-image"


class FakeWeChat:
    """stable_token and getwxacodeunlimit on 127.0.0.1; tokens in ``rejected`` get 40001."""

    def __init__(self) -> None:
        self.token_requests: list[dict] = []
        self.code_requests: list[tuple[str, dict]] = []
        self.rejected: set[str] = set()
        self.errcode = 40001
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    if url.path == "/cgi-bin/stable_token":
                        fake.token_requests.append(body)
                        answer = {"access_token": f"TOKEN-{len(fake.token_requests)}",
                                  "expires_in": 7200}
                        return self.reply(json.dumps(answer).encode(), "application/json")
                    token = parse_qs(url.query)["access_token"][0]
                    fake.code_requests.append((token, body))
                    if token in fake.rejected or "*" in fake.rejected:
                        error = {"errcode": fake.errcode, "errmsg": "invalid credential"}
                        return self.reply(json.dumps(error).encode(),
                                          "application/json; encoding=utf-8")
                return self.reply(CODE_IMAGE, "image/png")

            def reply(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def wechat(monkeypatch, invited) -> Any:
    """The real WeChat clients, pointed at the fake; shoppers were made before the switch."""
    from shared.core.config import reset_settings
    fake = FakeWeChat()
    monkeypatch.setenv("WX_APPID", "wx1234567890abcdef")
    monkeypatch.setenv("WX_SECRET", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("WECHAT_API_BASE", fake.base)
    monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    reset_settings()
    yield fake
    fake.close()


def test_real_code_fetches_a_token_then_the_code_and_stores_its_bytes(wechat, invited):
    inviter, _, made = invited

    answer = inviter.call("get_share_code", {"share_id": made["share_id"]}).data

    [token_request] = wechat.token_requests
    assert token_request == {"grant_type": "client_credential", "appid": "wx1234567890abcdef",
                             "secret": "0123456789abcdef0123456789abcdef",
                             "force_refresh": False}
    [(token, body)] = wechat.code_requests
    assert token == "TOKEN-1"
    assert body == {"scene": made["code"], "page": "pages/product/product", "check_path": True,
                    "env_version": "release"}
    assert answer["url"].endswith(f"share-codes/{made['share_id']}.png")
    assert _stored(f"share-codes/{made['share_id']}.png") == (CODE_IMAGE, "image/png")


def test_real_code_refreshes_a_refused_token_once_and_caches_the_new_one(wechat, invited,
                                                                         product):
    inviter, _, made = invited
    wechat.rejected.add("TOKEN-1")

    inviter.call("get_share_code", {"share_id": made["share_id"]}).data
    other = share(inviter, product["id"], channel="poster")
    inviter.call("get_share_code", {"share_id": other["share_id"]}).data

    assert [r["force_refresh"] for r in wechat.token_requests] == [False, True]
    assert [token for token, _ in wechat.code_requests] == ["TOKEN-1", "TOKEN-2", "TOKEN-2"]
    assert _stored(f"share-codes/{made['share_id']}.png")[0] == CODE_IMAGE


def test_real_code_still_refused_after_one_refresh_is_an_upstream_error(db, wechat, invited):
    inviter, _, made = invited
    wechat.rejected.add("*")
    wechat.errcode = 42001

    answer = inviter.call("get_share_code", {"share_id": made["share_id"]})

    assert (answer.status, answer.code) == (502, "UPSTREAM_ERROR")
    assert len(wechat.token_requests) == 2 and len(wechat.code_requests) == 2
    assert "code_image" not in db.shares.find_one({"_id": made["share_id"]})


def test_cached_token_is_renewed_shortly_before_it_expires(db, wechat):
    from shared.core.config import get_settings
    from shared.wechat.token import get_access_token
    settings = get_settings()

    assert get_access_token(db, settings) == "TOKEN-1"
    assert get_access_token(db, settings) == "TOKEN-1"
    db.wechat_tokens.update_one({}, {"$set": {"expires_at": datetime.now(timezone.utc)
                                              + timedelta(seconds=60)}})
    assert get_access_token(db, settings) == "TOKEN-2"
    assert len(wechat.token_requests) == 2
