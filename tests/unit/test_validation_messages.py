"""What a shopper reads when the shop refuses a form: a Chinese sentence per field."""
from __future__ import annotations

from typing import Any

from tests.conftest import call, new_shopper


def fields_of(answer: Any) -> dict[str, dict[str, Any]]:
    assert answer.status == 422, answer.body
    return {f["field"]: f for f in answer.body["error"]["details"]["fields"]}


def test_each_invalid_field_has_its_own_chinese_message_naming_it(db):
    shopper = new_shopper()

    answer = shopper.call("place_order", {"request_id": "short", "from_cart": True,
                                          "address_id": "addr_1", "points": -5, "colour": "red"})

    fields = fields_of(answer)
    assert fields["request_id"]["message_zh"] == "request_id：至少 8 个字符"
    assert fields["points"]["message_zh"] == "points：不能小于 0"
    assert fields["colour"]["message_zh"] == "colour：不支持这个字段"
    # the envelope keeps its shape: code, English message, one Chinese sentence, details
    error = answer.body["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["message"].startswith("invalid input")
    assert "request_id：至少 8 个字符" in error["message_zh"] and error["message_zh"] != "输入有误"


def test_missing_fields_wrong_types_and_choices_are_said_in_chinese(db):
    shopper = new_shopper()

    missing = fields_of(shopper.call("cart_add", {}))
    typed = fields_of(shopper.call("cart_add", {"sku_id": "sku_1", "quantity": "many"}))
    choice = fields_of(call("list_products", {"sort": "sideways"}))

    assert missing["sku_id"]["message_zh"] == "sku_id：必填"
    assert typed["quantity"]["message_zh"] == "quantity：应为整数"
    assert choice["sort"]["message_zh"].startswith("sort：只能是 ")
    assert "price_asc" in choice["sort"]["message_zh"]


def test_a_nested_field_is_named_by_its_path(db):
    shopper = new_shopper()

    answer = shopper.call("place_order", {"request_id": "req-nested-1", "address_id": "addr_1",
                                          "items": [{"sku_id": "sku_1", "quantity": 0}]})

    fields = fields_of(answer)
    assert fields["items.0.quantity"]["message_zh"].startswith("items.0.quantity：")
    assert fields["items.0.quantity"]["message_zh"] != "items.0.quantity：输入有误"


def test_a_rule_across_fields_names_the_request(db):
    shopper = new_shopper()

    answer = shopper.call("place_order", {"request_id": "req-across-1", "from_cart": True})

    [field] = answer.body["error"]["details"]["fields"]
    assert field["message_zh"].startswith("请求内容：")


def test_a_check_of_the_shop_itself_is_said_in_chinese_too(db):
    shopper = new_shopper()

    answer = shopper.call("place_order", {"request_id": "req-empty-cart-1", "from_cart": True,
                                          "address_id": "addr_1"})

    assert answer.status == 422, answer.body
    [field] = answer.body["error"]["details"]["fields"]
    assert field["message_zh"] == "from_cart：购物车里没有选中的商品"
    assert answer.body["error"]["message_zh"] == "from_cart：购物车里没有选中的商品"
