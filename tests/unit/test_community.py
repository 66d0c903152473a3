"""Community selling (社群/团长): joining, member prices (shown and charged), the leader's
commission (pending, available, paid, reversed by refunds, partial ones too), settlement
exactly once, the leader's dashboard and group-chat shares decrypted with the session key.

Orders are paid through the WeChat Pay sandbox and refunded through after-sales (as
tests/unit/test_members.py does); the paid order's aftermath runs when the test says so.
"""
from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import call, merchant, new_product, run_threads
from tests.faults import run_timer
from tests.helpers import deliver_owed_events
from tests.unit.test_members import Member, sku

IV = base64.b64encode(b"0123456789abcdef").decode()


def community(leader: Member, percent: int = 10, **extra: Any) -> str:
    return merchant("merchant_create_community", {
        "name": "阳光小区团购群", "leader_user_id": leader.user_id,
        "commission_percent": percent, **extra}).data["id"]


def joined(community_id: str) -> Member:
    member = Member()
    member.call("join_community", {"community_id": community_id}).data
    return member


def entry(db: Any, order_id: str) -> dict:
    return db.commissions.find_one({"_id": f"comm:{order_id}"})


def receive(member: Member, order_id: str) -> None:
    merchant("merchant_ship_order", {"order_id": order_id, "carrier": "SF",
                                     "tracking_no": "SF1001"}).data
    member.call("confirm_receipt", {"order_id": order_id}).data


# ---- members and prices ----------------------------------------------------------------------

def test_a_member_belongs_to_the_latest_community_joined(db):
    first, second = community(Member()), community(Member())
    member = joined(first)
    moved = member.call("join_community", {"community_id": second}).data

    assert moved["moved_from"] == first
    assert db.users.find_one({"_id": member.user_id})["community"]["community_id"] == second
    assert db.community_members.count_documents({"user_id": member.user_id}) == 2
    assert call("get_community", {"community_id": first}).data["members"] == 0
    assert member.call("get_community", {"community_id": second}).data["is_member"] is True


def test_get_product_shows_the_member_price_to_members_only(db):
    product = new_product(price=1000)
    sku_id = product["skus"][0]["id"]
    cid = community(Member())
    merchant("merchant_set_community_price", {"sku_id": sku_id, "price": 800}).data
    member, stranger = joined(cid), Member()

    shown = member.call("get_product", {"product_id": product["id"]}).data
    assert shown["skus"][0]["member_price"] == 800
    assert "member_price" not in stranger.call("get_product",
                                               {"product_id": product["id"]}).data["skus"][0]
    anonymous = call("get_product", {"product_id": product["id"]}).data
    assert "member_price" not in anonymous["skus"][0]


def test_a_communitys_own_price_wins_over_the_all_communities_price(db):
    apple = sku(1000)
    cid = community(Member())
    merchant("merchant_set_community_price", {"sku_id": apple, "price": 900}).data
    merchant("merchant_set_community_price", {"community_id": cid, "sku_id": apple,
                                              "price": 700}).data
    order = joined(cid).place([(apple, 2)]).data
    assert order["items"][0]["price"] == 700 and order["total"] == 1400


def test_members_read_each_member_price_by_its_products_title_and_spec(db):
    apple = sku(1000)
    cid = community(Member())
    merchant("merchant_set_community_price", {"community_id": cid, "sku_id": apple,
                                              "price": 700}).data
    shown = joined(cid).call("get_community", {"community_id": cid}).data["member_prices"]
    product = db.products.find_one({"_id": db.skus.find_one({"_id": apple})["product_id"]})
    assert [(p["sku_id"], p["price"]) for p in shown] == [(apple, 700)]
    assert shown[0]["title"].startswith(product["title"])


def test_place_order_charges_members_their_price_and_others_the_catalog(db):
    apple = sku(1000)
    cid = community(Member())
    merchant("merchant_set_community_price", {"community_id": cid, "sku_id": apple,
                                              "price": 850}).data
    member_order = joined(cid).place([(apple, 1)]).data
    other_order = Member().place([(apple, 1)]).data

    assert member_order["total"] == 850 and other_order["total"] == 1000
    assert member_order["community"]["community_id"] == cid
    assert other_order["community"] is None


def test_a_member_price_costs_members_one_round_trip_and_others_none(db):
    from tests.roundtrips import count_round_trips
    apple = sku(1000)
    cid = community(Member())
    merchant("merchant_set_community_price", {"sku_id": apple, "price": 900}).data
    member, other = joined(cid), Member()
    member.place([(apple, 1)]), other.place([(apple, 1)])  # warm

    def trips(who: Member) -> tuple[int, str]:
        with count_round_trips() as counted:
            assert who.place([(apple, 1)]).ok
        return counted.count, counted.describe()

    trips(other)  # this warm instance reads the member levels once (cached after)
    member_trips, member_ops = trips(member)
    other_trips, other_ops = trips(other)
    assert "community_prices" not in other_ops
    assert member_trips == other_trips + 1, (member_ops, other_ops)


# ---- commission ----------------------------------------------------------------------------

def test_a_members_paid_order_earns_the_leader_pending_commission_once(db):
    apple = sku(2000)
    leader = Member()
    cid = community(leader, percent=10)
    member = joined(cid)
    order = member.paid_order([(apple, 1)])
    deliver_owed_events()  # a second delivery earns nothing more

    doc = entry(db, order["id"])
    assert (doc["status"], doc["amount"], doc["leader_user_id"]) == ("pending", 200,
                                                                     leader.user_id)
    assert db.commissions.count_documents({}) == 1


def test_commission_is_on_the_paid_goods_after_discounts(db):
    apple = sku(2000)
    cid = community(Member(), percent=10)
    merchant("merchant_set_community_price", {"community_id": cid, "sku_id": apple,
                                              "price": 1500}).data
    order = joined(cid).paid_order([(apple, 2)])
    assert order["total"] == 3000
    assert entry(db, order["id"])["amount"] == 300


def test_a_leaders_own_orders_earn_nothing(db):
    apple = sku(2000)
    leader = Member()
    cid = community(leader)
    leader.call("join_community", {"community_id": cid}).data
    leader.paid_order([(apple, 1)])
    assert db.commissions.count_documents({}) == 0


def test_commission_becomes_available_after_receipt_and_the_after_sale_window(db, clock):
    apple = sku(2000)
    member = joined(community(Member()))
    order = member.paid_order([(apple, 1)])
    run_timer("commission_release")
    assert entry(db, order["id"])["status"] == "pending"  # not received yet

    receive(member, order["id"])
    clock.advance(days=6)
    run_timer("commission_release")
    assert entry(db, order["id"])["status"] == "pending"  # the window is still open

    clock.advance(days=1, minutes=1)
    assert run_timer("commission_release")["released"] == 1
    assert entry(db, order["id"])["status"] == "available"


def test_partial_refunds_reverse_their_share_and_a_full_refund_all(db):
    apple = sku(1000)
    member = joined(community(Member(), percent=10))
    order = member.paid_order([(apple, 3)])               # 3000, commission 300
    member.refunded(member.refund(order["id"], [(apple, 1)]))
    deliver_owed_events()
    doc = entry(db, order["id"])
    assert (doc["reversed"], doc["status"]) == (100, "pending")

    member.refunded(member.refund(order["id"]))           # the rest
    deliver_owed_events()
    doc = entry(db, order["id"])
    assert (doc["reversed"], doc["status"]) == (300, "reversed")


def test_a_refund_after_settlement_is_clawed_back_from_the_next(db, clock):
    apple = sku(1000)
    leader = Member()
    member = joined(community(leader, percent=10))
    order = member.paid_order([(apple, 2)])                # commission 200
    db.commissions.update_one({"_id": f"comm:{order['id']}"},
                              {"$set": {"status": "available", "available_at": clock.now}})
    settled = merchant("merchant_settle_commissions", {"leader_user_id": leader.user_id,
                                                       "up_to": clock.now.isoformat()}).data
    assert settled["amount"] == 200
    member.refunded(member.refund(order["id"], [(apple, 1)]))
    deliver_owed_events()

    claw = db.commissions.find_one({"kind": "clawback"})
    assert (claw["amount"], claw["status"]) == (-100, "available")
    nxt = merchant("merchant_settle_commissions", {"leader_user_id": leader.user_id,
                                                   "up_to": clock.now.isoformat()}).data
    assert nxt["amount"] == -100


def test_settlement_pays_available_entries_up_to_a_moment_and_writes_a_csv(db, clock):
    apple = sku(1000)
    leader = Member()
    cid = community(leader, percent=10)
    member = joined(cid)
    early, late = member.paid_order([(apple, 1)]), member.paid_order([(apple, 2)])
    db.commissions.update_one({"_id": f"comm:{early['id']}"},
                              {"$set": {"status": "available",
                                        "available_at": clock.now - timedelta(days=2)}})
    db.commissions.update_one({"_id": f"comm:{late['id']}"},
                              {"$set": {"status": "available", "available_at": clock.now}})
    up_to = (clock.now - timedelta(days=1)).isoformat()
    settled = merchant("merchant_settle_commissions", {"leader_user_id": leader.user_id,
                                                       "up_to": up_to}).data

    assert (settled["entries"], settled["amount"]) == (1, 100)
    assert settled["csv"].splitlines()[0].startswith("entry_id,")
    assert f"comm:{early['id']}" in settled["csv"]
    assert entry(db, early["id"])["status"] == "paid"
    assert entry(db, late["id"])["status"] == "available"
    assert db.commission_settlements.count_documents({"status": "settled"}) == 1
    listed = merchant("merchant_list_commissions", {"leader_user_id": leader.user_id,
                                                    "status": "paid"}).data
    assert [i["order_id"] for i in listed["items"]] == [early["id"]]


def test_two_concurrent_settlements_pay_each_entry_exactly_once(db, clock):
    apple = sku(1000)
    leader = Member()
    member = joined(community(leader, percent=10))
    for _ in range(4):
        member.paid_order([(apple, 1)])
    db.commissions.update_many({}, {"$set": {"status": "available",
                                             "available_at": clock.now}})

    answers = run_threads(2, lambda i: merchant("merchant_settle_commissions", {
        "leader_user_id": leader.user_id, "up_to": clock.now.isoformat()}))

    assert [a.data["amount"] for a in answers] == [400, 400]
    assert answers[0].data["id"] == answers[1].data["id"]
    assert db.commissions.count_documents({"status": "paid"}) == 4
    assert len({d["settlement_id"] for d in db.commissions.find()}) == 1


def test_the_leader_dashboard_counts_members_orders_and_commission(db):
    apple = sku(1000)
    leader = Member()
    cid = community(leader, percent=10)
    member = joined(cid)
    joined(cid)
    member.paid_order([(apple, 1)])

    board = leader.call("get_leader_dashboard").data
    assert board["members"] == 2 and board["orders"] == 1
    assert board["commission"]["pending"] == board["pending_commission"] == 100
    assert board["this_month"]["orders"] == 1
    assert member.call("get_leader_dashboard").code == "FORBIDDEN"


# ---- group chats -----------------------------------------------------------------------------

def share_data(db: Any, member: Member, open_gid: str, appid: Any = None) -> str:
    from shared.wechat.opendata import encrypt_open_data
    session_key = db.users.find_one({"_id": member.user_id})["session_key"]
    return encrypt_open_data(session_key, IV, {"openGId": open_gid,
                                               "watermark": {"appid": appid, "timestamp": 1}})


def test_a_group_share_is_decrypted_with_the_session_key_and_counts_opens_and_orders(db):
    apple = sku(1000)
    leader = Member()
    cid = community(leader)
    member = joined(cid)
    opened = member.call("track_group_share", {
        "community_id": cid, "encrypted_data": share_data(db, member, "tGroup123"),
        "iv": IV}).data
    assert opened["open_gid"] == "tGroup123"
    member.paid_order([(apple, 1)])

    group = leader.call("get_leader_dashboard").data["groups"][0]
    assert (group["open_gid"], group["opens"], group["orders"]) == ("tGroup123", 1, 1)


def test_share_data_of_another_session_is_refused(db):
    cid = community(Member())
    member, other = joined(cid), Member()
    answer = member.call("track_group_share", {
        "community_id": cid, "encrypted_data": share_data(db, other, "tGroupX"), "iv": IV})
    assert answer.status == 422 and answer.code == "SHARE_DATA_INVALID"
    assert answer.body["error"]["message_zh"]


def test_share_data_for_another_appid_is_refused(db, monkeypatch):
    from shared.core.config import reset_settings
    cid = community(Member())
    member = joined(cid)
    data = share_data(db, member, "tGroupY", appid="wx_someone_else")
    monkeypatch.setenv("WX_APPID", "wx_ours")
    reset_settings()
    answer = member.call("track_group_share", {"community_id": cid,
                                               "encrypted_data": data, "iv": IV})
    assert answer.code == "SHARE_DATA_INVALID"


# WeChat's own sample of open data (its decryption demo): same algorithm as wx.getShareInfo's
SAMPLE_KEY, SAMPLE_IV, SAMPLE_APPID = ("tiihtNczf5v6AKRyjwEUhQ==", "r7BXXKkLb8qrSNn05n0qiA==",
                                       "wx4f4bc4dec97d474b")
SAMPLE_DATA = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC"
    "+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poO"
    "FtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8"
    "xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB"
    "6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJd"
    "NiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOy"
    "uxINew==")


def test_wechats_documented_sample_decrypts_and_its_watermark_is_checked():
    from shared.core.errors import ShopError
    from shared.wechat.opendata import decrypt_open_data
    body = decrypt_open_data(SAMPLE_KEY, SAMPLE_DATA, SAMPLE_IV, SAMPLE_APPID)
    assert body["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert body["watermark"]["appid"] == SAMPLE_APPID
    with pytest.raises(ShopError, match="another mini-program"):
        decrypt_open_data(SAMPLE_KEY, SAMPLE_DATA, SAMPLE_IV, "wx_other")


# ---- deaths between writes -------------------------------------------------------------------

def _available_entries(db: Any, leader: Member, count: int, now: Any) -> int:
    apple = sku(1000)
    member = joined(community(leader, percent=10))
    for _ in range(count):
        member.paid_order([(apple, 1)])
    db.commissions.update_many({}, {"$set": {"status": "available", "available_at": now}})
    return sum(d["amount"] for d in db.commissions.find())


@pytest.mark.parametrize("k", range(1, 8))
def test_a_settlement_cut_short_is_finished_by_its_retry_paying_each_entry_once(
        faulty_db, clock, k):
    from tests.faults import die_after_write
    leader = Member()
    total = _available_entries(faulty_db, leader, 3, clock.now)
    payload = {"leader_user_id": leader.user_id, "up_to": clock.now.isoformat()}

    with die_after_write(faulty_db, k) as fault:
        merchant("merchant_settle_commissions", payload)
    clock.advance(minutes=1)  # the dead call's lease runs out
    retried = merchant("merchant_settle_commissions", payload).data

    entries = list(faulty_db.commissions.find())
    assert all(e["status"] == "paid" for e in entries)
    settlements = list(faulty_db.commission_settlements.find())
    assert all(s["status"] == "settled" for s in settlements)
    assert sum(s["amount"] for s in settlements) == total
    assert sorted(i for s in settlements for i in s["entry_ids"]) == \
        sorted(e["_id"] for e in entries)
    assert fault.died or k > 5
    assert retried["amount"] == total  # the retry answers with the first settlement
    assert len({e["settlement_id"] for e in entries}) == 1


@pytest.mark.parametrize("k", range(1, 4))
def test_commission_of_a_paid_order_survives_a_death_in_its_aftermath(faulty_db, clock, k):
    from tests.faults import die_after_write
    apple = sku(2000)
    member = joined(community(Member(), percent=10))
    order = member.place([(apple, 1)]).data
    member.call("sandbox_pay", {"order_id": order["id"]}).data
    with die_after_write(faulty_db, k):
        deliver_owed_events()
    clock.advance(minutes=5)
    run_timer("order_events")
    deliver_owed_events()
    assert faulty_db.commissions.count_documents({}) == 1
    assert entry(faulty_db, order["id"])["amount"] == 200
