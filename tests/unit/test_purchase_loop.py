"""The core loop through the dispatcher: login, browse, cart, order, pay (dev), ship, receive."""
from tests.conftest import merchant, new_address, new_product, new_shopper


def test_a_shopper_buys_from_the_cart_and_the_merchant_ships():
    product = new_product(price=1250, stock=10)
    sku_id = product["skus"][0]["id"]
    alice = new_shopper("alice")
    address_id = new_address(alice)

    cart = alice.call("cart_add", {"sku_id": sku_id, "quantity": 2}).data
    assert cart["selected_total"] == 2500

    order = alice.call("place_order", {"request_id": "req-0001", "from_cart": True,
                                       "address_id": address_id}).data
    assert order["status"] == "pending_payment"
    assert order["total"] == 2500
    assert alice.call("cart_list").data["items"] == []

    assert merchant("merchant_mark_paid", {"order_id": order["id"]}).data["status"] == "paid"
    shipped = merchant("merchant_ship_order", {"order_id": order["id"], "carrier": "SF",
                                               "tracking_no": "SF123"}).data
    assert shipped["status"] == "shipped"
    done = alice.call("confirm_receipt", {"order_id": order["id"]}).data
    assert done["status"] == "completed"

    sku = merchant("merchant_get_product", {"product_id": product["id"]}).data["skus"][0]
    assert (sku["stock"], sku["locked"], sku["sold"]) == (8, 0, 2)


def test_cancelling_returns_stock_and_coupon(db):
    product = new_product(price=20000, stock=5)
    sku_id = product["skus"][0]["id"]
    coupon = merchant("merchant_create_coupon", {
        "name": "满100减20", "kind": "fixed", "amount": 2000, "threshold": 10000,
        "total": 10, "per_user_limit": 1, "valid_days": 7}).data
    bob = new_shopper("bob")
    mine = bob.call("claim_coupon", {"coupon_id": coupon["id"]}).data
    order = bob.call("place_order", {"request_id": "req-0002", "address_id": new_address(bob),
                                     "items": [{"sku_id": sku_id, "quantity": 1}],
                                     "coupon_id": mine["id"]}).data
    assert order["total"] == 18000 and order["discount"] == 2000
    cancelled = bob.call("cancel_order", {"order_id": order["id"]}).data
    assert cancelled["status"] == "cancelled"
    sku = db.skus.find_one({"_id": sku_id})
    assert (sku["stock"], sku["locked"]) == (5, 0)
    wallet = bob.call("list_my_coupons", {"status": "available"}).data
    assert [c["id"] for c in wallet["items"]] == [mine["id"]]
