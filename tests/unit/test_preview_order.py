"""preview_order (issue 21): the price before paying. What place_order would charge for the
same input (less its request_id), each discount a row, nothing written; the same refusals.

Each case previews, then places the same input and checks the preview's ``payable`` is the
order's ``total`` (and that goods_total - discounts + freight = payable)."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conftest import call, merchant, new_address, new_product, new_shopper
from tests.unit.test_members import Member, give_points, set_levels, sku
from tests.unit.test_purchase_limits import limited_product

_request_ids = itertools.count(1)


def snapshot(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection: what a preview must leave as it found it."""
    return {name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
            for name in sorted(db.list_collection_names())}


def preview_then_place(shopper: Any, payload: dict[str, Any], db: Any) -> tuple[dict, dict]:
    before = snapshot(db)
    preview = shopper.call("preview_order", payload).data
    assert snapshot(db) == before, "a preview wrote something"
    assert preview["goods_total"] - sum(d["amount"] for d in preview["discounts"]) + \
        preview["freight"] == preview["payable"]
    order = shopper.call("place_order", {
        **payload, "request_id": f"req-prev-{next(_request_ids):05d}"}).data
    assert preview["payable"] == order["total"], (preview, order)
    return preview, order


def delivery(member: Member, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {"address_id": member.address_id,
            "items": [{"sku_id": s, "quantity": q} for s, q in lines], **extra}


def kinds(preview: dict[str, Any]) -> dict[str, int]:
    return {d["kind"]: d["amount"] for d in preview["discounts"]}


def test_plain_order_previews_its_lines_and_total(db):
    member = Member()
    product = new_product(price=1250, stock=10)
    sku_id = product["skus"][0]["id"]

    preview, order = preview_then_place(member, delivery(member, [(sku_id, 2)]), db)

    assert preview["items"] == [{
        "sku_id": sku_id, "product_id": product["id"], "title": product["title"],
        "image": order["items"][0]["image"], "specs": order["items"][0]["specs"],
        "price": 1250, "quantity": 2, "subtotal": 2500, "final_price": 1250,
        "final_subtotal": 2500}]
    assert (preview["goods_total"], preview["discounts"], preview["freight"],
            preview["payable"]) == (2500, [], 0, 2500)


def test_coupon_member_level_and_points_are_each_a_row(db):
    set_levels(("normal", 0, 10))
    member = Member()
    give_points(member, 5000)
    template = merchant("merchant_create_coupon", {
        "name": "满20减3", "kind": "fixed", "amount": 300, "threshold": 2000, "total": 5,
        "valid_days": 3}).data
    coupon = member.call("claim_coupon", {"coupon_id": template["id"]}).data

    preview, order = preview_then_place(member, delivery(
        member, [(sku(1000), 3)], coupon_id=coupon["id"], points=500), db)

    assert kinds(preview) == {"coupon": 300, "member": 300, "points": 500}
    assert (order["discount"], order["level_discount"], order["total"]) == (300, 300, 1900)
    assert preview["payable"] == 1900
    assert all(d["label"] for d in preview["discounts"])


def test_member_level_alone(db):
    set_levels(("vip", 0, 20))
    member = Member()

    preview, _ = preview_then_place(member, delivery(member, [(sku(1000), 1)]), db)

    assert kinds(preview) == {"member": 200} and preview["payable"] == 800
    assert preview["member_level"] == "vip"


def test_a_nearby_deal_price_is_a_deal_row(db):
    from tests.unit.test_nearby import LUJIAZUI, add_store, new_deal
    shopper = new_shopper()
    store = add_store(*LUJIAZUI)
    deal = new_deal(sku(1000), [store["id"]], 600, daily_quantity=5)
    payload = {"store_id": store["id"], "deal_id": deal["id"],
               "items": [{"sku_id": deal["sku_id"], "quantity": 2}]}

    preview, order = preview_then_place(shopper, payload, db)

    assert kinds(preview) == {"deal": 800} and preview["payable"] == order["total"] == 1200
    assert preview["items"][0]["final_price"] == 600 and preview["pickup"] is True


def test_a_community_member_price_is_a_community_row(db):
    from tests.unit.test_community import community, joined
    apple = sku(1000)
    cid = community(Member())
    merchant("merchant_set_community_price", {"community_id": cid, "sku_id": apple,
                                              "price": 850}).data
    member = joined(cid)

    preview, order = preview_then_place(member, delivery(member, [(apple, 2)]), db)

    assert kinds(preview) == {"community": 300} and order["total"] == 1700


def test_a_group_buy_price_previews_what_the_group_order_charges(db):
    """A campaign previews with its own prices (``special``), as it places with them."""
    from shared.checkout.placing import PreviewOrderInput, Special, preview_order
    from tests.helpers import Clock
    from tests.unit.test_groupbuy import Buyer, make_campaign
    product = new_product(price=1000, stock=10)
    campaign = make_campaign(product)
    buyer = Buyer()
    sku_id = product["skus"][0]["id"]
    req = PreviewOrderInput(address_id=buyer.address_id,
                            items=[{"sku_id": sku_id, "quantity": 1}])
    preview = preview_order(Clock().context(db, buyer.user_id), req,
                            Special(prices={sku_id: 800}, fields={"group": {}}))

    order = buyer.start(campaign).data["order"]

    assert kinds(preview) == {"group": 200} and preview["payable"] == order["total"] == 800


def test_from_cart_previews_the_selected_lines(db):
    member = Member()
    apple, pear = sku(1000), sku(300)
    member.call("cart_add", {"sku_id": apple, "quantity": 2}).data
    member.call("cart_add", {"sku_id": pear, "quantity": 1}).data

    preview, order = preview_then_place(member, {"address_id": member.address_id,
                                                 "from_cart": True}, db)

    assert preview["payable"] == 2300 and len(preview["items"]) == 2


# ---- refusals: the same codes and Chinese text as place_order's -----------------------------

def refusals(shopper: Any, payload: dict[str, Any]) -> tuple[Any, Any]:
    previewed = shopper.call("preview_order", payload)
    placed = shopper.call("place_order", {**payload, "request_id": "req-refused-0001"})
    return previewed, placed


def same_refusal(previewed: Any, placed: Any, code: str) -> None:
    assert (previewed.status, previewed.code) == (placed.status, placed.code)
    assert previewed.code == code
    assert previewed.body["error"].get("message_zh") == placed.body["error"].get("message_zh")


def test_sold_out_is_refused_like_place_order(db):
    member = Member()
    same_refusal(*refusals(member, delivery(member, [(sku(1000, stock=1), 2)])), "OUT_OF_STOCK")


def test_a_per_order_limit_is_refused_like_place_order(db):
    member = Member()
    product = limited_product({"per_order": 2})
    same_refusal(*refusals(member, delivery(member, [(product["skus"][0]["id"], 3)])),
                 "PURCHASE_LIMIT")


def test_a_daily_limit_reached_is_refused_before_the_order(db):
    member = Member()
    product = limited_product({"per_shopper_per_day": 2})
    sku_id = product["skus"][0]["id"]
    member.place([(sku_id, 2)]).data

    previewed = member.call("preview_order", delivery(member, [(sku_id, 1)]))
    placed = member.place([(sku_id, 1)])

    same_refusal(previewed, placed, "PURCHASE_LIMIT")


def test_a_deal_sold_out_for_today_is_refused(db):
    from tests.unit.test_nearby import LUJIAZUI, add_store, new_deal, order_deal
    store = add_store(*LUJIAZUI)
    deal = new_deal(sku(1000), [store["id"]], 600, daily_quantity=1)
    order_deal(new_shopper(), deal, store["id"]).data
    payload = {"store_id": store["id"], "deal_id": deal["id"],
               "items": [{"sku_id": deal["sku_id"], "quantity": 1}]}

    same_refusal(*refusals(new_shopper(), payload), "OUT_OF_STOCK")


def test_more_points_than_the_balance_is_refused(db):
    member = Member()
    give_points(member, 100)
    same_refusal(*refusals(member, delivery(member, [(sku(1000), 1)], points=300)), "CONFLICT")


def test_a_used_coupon_is_refused(db):
    member = Member()
    template = merchant("merchant_create_coupon", {
        "name": "减1", "kind": "fixed", "amount": 100, "total": 5, "valid_days": 3}).data
    coupon = member.call("claim_coupon", {"coupon_id": template["id"]}).data
    member.place([(sku(1000), 1)], coupon_id=coupon["id"]).data
    same_refusal(*refusals(member, delivery(member, [(sku(1000), 1)],
                                            coupon_id=coupon["id"])), "COUPON_UNAVAILABLE")


@pytest.mark.parametrize("extra", [{"request_id": "req-preview-0001"}, {"surprise": 1}])
def test_request_id_and_unknown_fields_are_refused(db, extra):
    member = Member()
    answer = member.call("preview_order", delivery(member, [(sku(1000), 1)], **extra))
    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_anonymous_callers_are_refused(db):
    shopper = new_shopper()
    answer = call("preview_order", {"address_id": new_address(shopper),
                                    "items": [{"sku_id": sku(1000), "quantity": 1}]})
    assert answer.status == 401


# ---- every entry: HTTP through the dev gateway, and a callFunction event -----------------------

def test_preview_over_http_through_the_gateway_and_as_a_callfunction_event(gateway, db):
    import requests

    from tests.functions.test_handlers import invoke
    member = Member()
    payload = delivery(member, [(sku(1000), 2)])
    headers = {"Authorization": f"Bearer {member.shopper.token}"}

    over_http = requests.post(f"{gateway}/api/preview_order", json=payload, headers=headers,
                              timeout=10)
    as_event = invoke("preview_order", {**payload, "_token": member.shopper.token})
    anonymous = requests.post(f"{gateway}/api/preview_order", json=payload, timeout=10)

    assert over_http.status_code == 200 and over_http.json()["data"]["payable"] == 2000
    assert as_event["ok"] is True and as_event["data"]["payable"] == 2000
    assert anonymous.status_code == 401
    assert db.orders.count_documents({}) == 0
