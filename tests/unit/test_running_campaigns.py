"""list_bargains and list_assists (issue 21): the running campaigns a shopper can join, paged,
each with its product's title, image and price; scheduled, ended, stopped and sold-out ones
left out; anyone may call them (through the dispatcher, without a token)."""
from datetime import timedelta

from tests.conftest import call, new_product, new_shopper
from tests.helpers import Clock
from tests.unit.test_assist import _coupon_template
from tests.unit.test_assist import _create as create_assist
from tests.unit.test_bargain import _create as create_bargain
from tests.unit.test_bargain import _iso


def ids(answer):
    return [item["id"] for item in answer.data["items"]]


def test_list_bargains_shows_running_ones_with_their_product(db):
    product = new_product(price=1500, stock=10)
    sku_id = product["skus"][0]["id"]
    running = create_bargain(sku_id, start_price=1200, ends_at=_iso(Clock().now +
                                                                    timedelta(hours=2))).data
    later = create_bargain(sku_id, starts_at=_iso(Clock().now + timedelta(hours=1))).data
    sold_out = create_bargain(sku_id).data
    stopped = create_bargain(sku_id).data
    db.bargain_campaigns.update_one({"_id": sold_out["id"]}, {"$set": {"sold": 10}})
    db.bargain_campaigns.update_one({"_id": stopped["id"]}, {"$set": {"active": False}})

    answer = call("list_bargains", {})

    assert answer.status == 200 and ids(answer) == [running["id"]]
    item = answer.data["items"][0]
    assert (item["title"], item["price"], item["start_price"], item["product_id"],
            item["sku_id"]) == (product["title"], 1500, 1200, product["id"], sku_id)
    assert item["image"] and answer.data["total"] == 1
    assert later["id"] not in ids(answer)


def test_list_bargains_finds_a_products_bargain_and_pages(db):
    apple, pear = (new_product(price=1000, stock=10) for _ in range(2))
    mine = [create_bargain(apple["skus"][0]["id"]).data for _ in range(3)]
    create_bargain(pear["skus"][0]["id"]).data

    first = call("list_bargains", {"product_id": apple["id"], "page_size": 2})
    second = call("list_bargains", {"product_id": apple["id"], "page_size": 2, "page": 2})

    assert first.data["total"] == 3 and len(ids(first)) == 2
    assert sorted(ids(first) + ids(second)) == sorted(c["id"] for c in mine)


def test_an_ended_bargain_leaves_the_list(db, clock):
    create_bargain(new_product(price=1000, stock=10)["skus"][0]["id"],
                   ends_at=_iso(clock.now + timedelta(minutes=30))).data
    assert len(ids(call("list_bargains", {}))) == 1

    clock.advance(minutes=31)

    assert ids(call("list_bargains", {})) == []


def test_list_assists_shows_running_ones_with_their_reward(db):
    product = new_product(price=2000, stock=10)
    gift = create_assist({"kind": "gift", "sku_id": product["skus"][0]["id"]}).data
    coupon = create_assist({"kind": "coupon", "coupon_id": _coupon_template()}).data
    full = create_assist({"kind": "coupon", "coupon_id": _coupon_template()}).data
    db.assist_campaigns.update_one({"_id": full["id"]}, {"$set": {"rewarded": 10}})

    answer = call("list_assists", {}, token=new_shopper().token)

    assert sorted(ids(answer)) == sorted([gift["id"], coupon["id"]])
    by_id = {item["id"]: item for item in answer.data["items"]}
    assert (by_id[gift["id"]]["title"], by_id[gift["id"]]["price"],
            by_id[gift["id"]]["product_id"]) == (product["title"], 2000, product["id"])
    assert by_id[coupon["id"]]["title"] == "助力券" and by_id[coupon["id"]]["price"] is None
    assert ids(call("list_assists", {"product_id": product["id"]})) == [gift["id"]]


def test_unknown_fields_are_refused(db):
    assert call("list_bargains", {"surprise": 1}).status == 422
    assert call("list_assists", {"page_size": 1000}).status == 422


def test_the_lists_over_http_and_as_callfunction_events(gateway, db):
    import requests

    from tests.functions.test_handlers import invoke
    running = create_bargain(new_product(price=1000, stock=10)["skus"][0]["id"]).data
    gift = create_assist({"kind": "coupon", "coupon_id": _coupon_template()}).data

    over_http = requests.post(f"{gateway}/api/list_bargains", json={}, timeout=10).json()
    as_event = invoke("list_assists", {"page": 1})

    assert [b["id"] for b in over_http["data"]["items"]] == [running["id"]]
    assert [a["id"] for a in as_event["data"]["items"]] == [gift["id"]]
