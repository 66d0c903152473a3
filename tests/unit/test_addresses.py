"""Delivery addresses: defaults, validation, the limit."""
import pytest

from tests.conftest import new_shopper

ADDRESS = {"name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
           "district": "浦东新区", "detail": "世纪大道100号"}


@pytest.fixture
def shopper():
    return new_shopper()


def _add(shopper, **changes):
    return shopper.call("add_address", {**ADDRESS, **changes})


def _defaults(shopper):
    return [a["id"] for a in shopper.call("list_addresses").data["items"] if a["is_default"]]


def test_first_address_becomes_the_default(shopper):
    address = _add(shopper).data

    assert address["is_default"] is True
    assert _defaults(shopper) == [address["id"]]


def test_second_address_is_not_the_default_unless_asked(shopper):
    first = _add(shopper).data["id"]

    second = _add(shopper, detail="另一个地址").data

    assert second["is_default"] is False
    assert _defaults(shopper) == [first]


def test_adding_a_default_address_takes_the_default_from_the_old_one(shopper):
    _add(shopper)

    second = _add(shopper, is_default=True).data

    assert _defaults(shopper) == [second["id"]]


def test_updating_an_address_to_default_leaves_only_one_default(shopper):
    _add(shopper)
    second = _add(shopper).data["id"]
    third = _add(shopper).data["id"]

    shopper.call("update_address", {"address_id": second, "is_default": True})
    shopper.call("update_address", {"address_id": third, "is_default": True})

    assert _defaults(shopper) == [third]


def test_list_addresses_shows_the_default_first(shopper):
    _add(shopper)
    second = _add(shopper, is_default=True).data["id"]

    items = shopper.call("list_addresses").data["items"]

    assert items[0]["id"] == second


def test_deleting_the_default_promotes_another_address(shopper):
    first = _add(shopper).data["id"]
    second = _add(shopper).data["id"]

    shopper.call("delete_address", {"address_id": first})

    assert _defaults(shopper) == [second]


def test_deleting_a_non_default_address_keeps_the_default(shopper):
    first = _add(shopper).data["id"]
    second = _add(shopper).data["id"]

    shopper.call("delete_address", {"address_id": second})

    assert _defaults(shopper) == [first]


def test_deleting_the_last_address_leaves_none(shopper):
    only = _add(shopper).data["id"]

    answer = shopper.call("delete_address", {"address_id": only})

    assert answer.data == {"deleted": True, "address_id": only}
    assert shopper.call("list_addresses").data == {"items": [], "total": 0}


def test_deleting_an_unknown_address_is_404(shopper):
    assert shopper.call("delete_address", {"address_id": "adr_nope"}).status == 404


def test_update_address_changes_only_the_given_fields(shopper):
    address = _add(shopper).data

    updated = shopper.call("update_address", {"address_id": address["id"],
                                              "detail": "人民路1号"}).data

    assert updated["detail"] == "人民路1号"
    assert {k: updated[k] for k in ("name", "phone", "city")} == \
        {k: address[k] for k in ("name", "phone", "city")}


@pytest.mark.parametrize("phone", ["12345", "23800138000", "1380013800", "138001380001",
                                   "1380013800a", ""])
def test_add_address_refuses_an_invalid_phone_with_422(shopper, phone):
    answer = _add(shopper, phone=phone)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert [f["field"] for f in answer.body["error"]["details"]["fields"]] == ["phone"]


@pytest.mark.parametrize("phone", ["13912345678", "021-12345678", "0755-1234567"])
def test_add_address_accepts_mobile_and_landline_numbers(shopper, phone):
    assert _add(shopper, phone=phone).status == 200


def test_update_address_refuses_an_invalid_phone_with_422(shopper):
    address_id = _add(shopper).data["id"]

    assert shopper.call("update_address", {"address_id": address_id,
                                           "phone": "12345"}).status == 422


def test_add_address_refuses_a_missing_detail_with_422(shopper):
    answer = shopper.call("add_address", {k: v for k, v in ADDRESS.items() if k != "detail"})

    assert answer.status == 422




def test_a_shopper_keeps_at_most_20_addresses(shopper):
    for _ in range(20):
        assert _add(shopper).status == 200

    answer = _add(shopper)

    assert (answer.status, answer.code) == (409, "LIMIT_EXCEEDED")
    assert shopper.call("list_addresses").data["total"] == 20


def test_the_address_limit_is_per_shopper(shopper):
    for _ in range(20):
        _add(shopper)

    assert _add(new_shopper()).status == 200
