"""The cart: lines of (sku, quantity), read back with current prices and stock."""
import pytest

from tests.conftest import merchant, new_product, new_shopper


@pytest.fixture
def shopper():
    return new_shopper()


@pytest.fixture
def product():
    return new_product(price=1000, stock=10)


@pytest.fixture
def sku_id(product):
    return product["skus"][0]["id"]


def _line(cart, sku_id):
    [line] = [item for item in cart["items"] if item["sku_id"] == sku_id]
    return line


def _set_product(product, **changes):
    payload = {"product_id": product["id"], "title": product["title"],
               "category_id": product["category_id"],
               "skus": [{"sku_id": s["id"], "specs": s["specs"], "price": s["price"]}
                        for s in product["skus"]]}
    payload.update(changes)
    return merchant("merchant_upsert_product", payload).data


# ---- adding ---------------------------------------------------------------------------------

def test_cart_add_puts_a_line_in_the_cart(shopper, sku_id):
    cart = shopper.call("cart_add", {"sku_id": sku_id, "quantity": 2}).data

    line = _line(cart, sku_id)
    assert (line["quantity"], line["price"], line["selected"], line["valid"]) == (2, 1000, True,
                                                                                  True)
    assert (cart["selected_count"], cart["selected_total"], cart["total_lines"]) == (2, 2000, 1)


def test_cart_add_defaults_to_one_unit(shopper, sku_id):
    cart = shopper.call("cart_add", {"sku_id": sku_id}).data

    assert _line(cart, sku_id)["quantity"] == 1


def test_cart_add_of_the_same_sku_merges_the_quantity(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 2})

    cart = shopper.call("cart_add", {"sku_id": sku_id, "quantity": 3}).data

    assert cart["total_lines"] == 1
    assert _line(cart, sku_id)["quantity"] == 5


def test_cart_add_caps_a_merged_line_at_999(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 998})

    cart = shopper.call("cart_add", {"sku_id": sku_id, "quantity": 5}).data

    assert _line(cart, sku_id)["quantity"] == 999


def test_cart_add_refuses_more_than_999_at_once(shopper, sku_id):
    answer = shopper.call("cart_add", {"sku_id": sku_id, "quantity": 1000})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_cart_add_refuses_a_quantity_of_zero(shopper, sku_id):
    assert shopper.call("cart_add", {"sku_id": sku_id, "quantity": 0}).status == 422


def test_cart_add_of_an_unknown_sku_is_404(shopper):
    assert shopper.call("cart_add", {"sku_id": "sku_nope"}).status == 404


def test_cart_add_of_an_off_shelf_product_is_refused(shopper, product, sku_id):
    _set_product(product, status="off_shelf")

    answer = shopper.call("cart_add", {"sku_id": sku_id})

    assert (answer.status, answer.code) == (409, "PRODUCT_UNAVAILABLE")




# ---- updating and removing ------------------------------------------------------------------

def test_cart_update_sets_the_quantity(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 2})

    cart = shopper.call("cart_update", {"sku_id": sku_id, "quantity": 7}).data

    assert _line(cart, sku_id)["quantity"] == 7
    assert cart["selected_total"] == 7000


def test_cart_update_unselecting_a_line_leaves_it_out_of_the_total(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 2})

    cart = shopper.call("cart_update", {"sku_id": sku_id, "selected": False}).data

    assert _line(cart, sku_id)["selected"] is False
    assert (cart["selected_count"], cart["selected_total"]) == (0, 0)


def test_cart_update_of_a_line_not_in_the_cart_is_404(shopper, sku_id):
    answer = shopper.call("cart_update", {"sku_id": sku_id, "quantity": 1})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")



def test_cart_update_refuses_a_quantity_above_999(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id})

    assert shopper.call("cart_update", {"sku_id": sku_id, "quantity": 1000}).status == 422


def test_cart_remove_takes_the_lines_out(shopper):
    first, second = (new_product(title=t)["skus"][0]["id"] for t in ("苹果", "梨"))
    shopper.call("cart_add", {"sku_id": first})
    shopper.call("cart_add", {"sku_id": second})

    cart = shopper.call("cart_remove", {"sku_ids": [first]}).data

    assert [line["sku_id"] for line in cart["items"]] == [second]


def test_cart_remove_of_a_line_not_in_the_cart_changes_nothing(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id})

    cart = shopper.call("cart_remove", {"sku_ids": ["sku_nope"]}).data

    assert cart["total_lines"] == 1



def test_cart_remove_refuses_an_empty_list(shopper):
    assert shopper.call("cart_remove", {"sku_ids": []}).status == 422


# ---- reading with current prices and stock --------------------------------------------------

def test_cart_list_prices_lines_at_the_current_price(shopper, product, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 3})
    sku = product["skus"][0]
    _set_product(product, skus=[{"sku_id": sku_id, "specs": sku["specs"], "price": 700}])

    cart = shopper.call("cart_list").data

    assert _line(cart, sku_id)["price"] == 700
    assert cart["selected_total"] == 2100


def test_cart_list_flags_an_off_shelf_line(shopper, product, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 1})
    _set_product(product, status="off_shelf")

    line = _line(shopper.call("cart_list").data, sku_id)

    assert (line["valid"], line["invalid_reason"]) == (False, "off_shelf")


def test_cart_list_flags_an_out_of_stock_line(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 1})
    merchant("merchant_set_stock", {"sku_id": sku_id, "stock": 0})

    line = _line(shopper.call("cart_list").data, sku_id)

    assert (line["valid"], line["invalid_reason"]) == (False, "out_of_stock")


def test_cart_list_flags_a_line_wanting_more_than_the_stock(shopper, sku_id):
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 5})
    merchant("merchant_set_stock", {"sku_id": sku_id, "stock": 3})

    line = _line(shopper.call("cart_list").data, sku_id)

    assert (line["valid"], line["invalid_reason"], line["stock"]) == (False,
                                                                      "insufficient_stock", 3)


def test_cart_list_flags_a_line_whose_sku_was_retired(shopper):
    product = new_product(skus=2)
    kept, retired = product["skus"]
    shopper.call("cart_add", {"sku_id": retired["id"]})
    _set_product(product, skus=[{"sku_id": kept["id"], "specs": kept["specs"],
                                 "price": kept["price"]}])

    line = _line(shopper.call("cart_list").data, retired["id"])

    assert (line["valid"], line["invalid_reason"]) == (False, "sku_removed")


def test_cart_list_leaves_invalid_lines_out_of_the_selected_total(shopper, product, sku_id):
    good = new_product(price=250, title="梨")["skus"][0]["id"]
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 1})
    shopper.call("cart_add", {"sku_id": good, "quantity": 2})
    _set_product(product, status="off_shelf")

    cart = shopper.call("cart_list").data

    assert (cart["selected_count"], cart["selected_total"]) == (2, 500)
    assert cart["total_lines"] == 2


def test_cart_list_of_an_empty_cart(shopper):
    cart = shopper.call("cart_list").data

    assert (cart["items"], cart["selected_total"], cart["total_lines"]) == ([], 0, 0)
