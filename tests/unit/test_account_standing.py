"""Accounts (issue 12, section 6): tokens carry the user's version; blocking a shopper and a
shopper deleting their account (注销账号) revoke every token; a blocked shopper cannot log in;
an erased account names nobody, and its orders stay for the merchant's books."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import call, merchant, new_address, new_product, new_shopper


def _profile_status(token: str) -> tuple[int, Any]:
    answer = call("get_profile", {}, token)
    return answer.status, answer.code


# ---- blocking -------------------------------------------------------------------------------

def test_blocking_a_shopper_revokes_every_token(db):
    shopper = new_shopper("blockme")
    second_token = call("login", {"code": "dev:blockme"}).data["token"]

    answer = merchant("merchant_block_user", {"user_id": shopper.user_id, "reason": "刷单"})

    assert answer.data == {"user_id": shopper.user_id, "blocked": True, "reason": "刷单"}
    assert _profile_status(shopper.token) == (401, "UNAUTHENTICATED")
    assert _profile_status(second_token) == (401, "UNAUTHENTICATED")


def test_a_blocked_shopper_cannot_log_in_again(db):
    shopper = new_shopper("blocked")
    merchant("merchant_block_user", {"user_id": shopper.user_id, "reason": "abuse"})

    answer = call("login", {"code": "dev:blocked"})

    assert (answer.status, answer.code) == (403, "ACCOUNT_BLOCKED")
    assert answer.body["error"]["message_zh"]
    assert "data" not in answer.body


def test_a_blocked_cloudbase_caller_is_refused(db, monkeypatch):
    from shared.core.config import reset_settings
    from shared.core.runtime import serve
    monkeypatch.setenv("TRUST_CLOUDBASE_IDENTITY", "1")
    reset_settings()
    event = {"userInfo": {"appId": "wx1234567890abcdef", "openId": "oCloudBlocked"}}
    user_id = serve("get_profile", dict(event))["data"]["id"]
    merchant("merchant_block_user", {"user_id": user_id, "reason": "abuse"})

    answer = serve("get_profile", dict(event))

    assert answer["error"]["code"] == "ACCOUNT_BLOCKED"


def test_unblocking_lets_the_shopper_log_in_but_old_tokens_stay_dead(db):
    shopper = new_shopper("pardoned")
    merchant("merchant_block_user", {"user_id": shopper.user_id, "reason": "mistake"})

    assert merchant("merchant_unblock_user", {"user_id": shopper.user_id}).data == {
        "user_id": shopper.user_id, "blocked": False}
    fresh = call("login", {"code": "dev:pardoned"})

    assert fresh.data["user"]["id"] == shopper.user_id
    assert _profile_status(fresh.data["token"]) == (200, None)
    assert _profile_status(shopper.token) == (401, "UNAUTHENTICATED")


def test_blocking_an_unknown_user_is_404(db):
    answer = merchant("merchant_block_user", {"user_id": "usr_nobody", "reason": "x"})
    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert merchant("merchant_unblock_user", {"user_id": "usr_nobody"}).status == 404


@pytest.mark.parametrize("action", ["merchant_block_user", "merchant_unblock_user"])
def test_only_the_merchant_blocks_and_unblocks(db, action):
    shopper, other = new_shopper(), new_shopper()
    payload = {"user_id": other.user_id, "reason": "x"} if action == "merchant_block_user" \
        else {"user_id": other.user_id}

    assert shopper.call(action, payload).status == 403
    assert call(action, payload).status == 401
    assert _profile_status(other.token) == (200, None)


def test_a_block_needs_a_reason(db):
    shopper = new_shopper()
    answer = merchant("merchant_block_user", {"user_id": shopper.user_id})
    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


# ---- token versions -------------------------------------------------------------------------

def test_a_token_of_an_older_version_is_refused(db):
    from shared.core.auth import issue_token
    shopper = new_shopper()
    db.users.update_one({"_id": shopper.user_id}, {"$set": {"token_version": 3}})

    assert _profile_status(issue_token(shopper.user_id, version=2)) == (401, "UNAUTHENTICATED")
    assert _profile_status(issue_token(shopper.user_id, version=3)) == (200, None)


def test_a_token_of_a_user_that_does_not_exist_is_refused(db):
    from shared.core.auth import issue_token
    assert _profile_status(issue_token("usr_never_was")) == (401, "UNAUTHENTICATED")


# ---- delete_account (注销账号) ---------------------------------------------------------------

@pytest.fixture
def deleted(db: Any) -> dict[str, Any]:
    """A shopper with a profile, an address, a cart line and a delivery order, who then
    deletes the account."""
    shopper = new_shopper("leaver")
    shopper.call("update_profile", {"nickname": "小李", "phone": "13912345678",
                                    "birthday": "1990-05-04",
                                    "avatar_url": "https://img.test/me.png"})
    db.users.update_one({"_id": shopper.user_id}, {"$set": {"unionid": "uLeaver"}})
    product = new_product(stock=10)
    sku_id = product["skus"][0]["id"]
    address_id = new_address(shopper)
    order = shopper.call("place_order", {"request_id": "req-leaver-1", "address_id": address_id,
                                         "items": [{"sku_id": sku_id, "quantity": 1}]}).data
    shopper.call("cart_add", {"sku_id": sku_id, "quantity": 2})
    answer = shopper.call("delete_account")
    return {"shopper": shopper, "order": order, "answer": answer}


def test_delete_account_revokes_every_token(deleted):
    assert deleted["answer"].data["deleted"] is True
    assert _profile_status(deleted["shopper"].token) == (401, "UNAUTHENTICATED")
    assert deleted["shopper"].call("list_orders").status == 401


def test_delete_account_erases_the_person_from_the_user(deleted, db):
    user = db.users.find_one({"_id": deleted["shopper"].user_id})

    assert user["nickname"] != "小李"
    for field in ("phone", "birthday", "avatar_url", "unionid", "session_key"):
        assert not user.get(field), field
    assert not user["openid"].startswith("dev_")  # unlinked from WeChat


def test_delete_account_deletes_addresses_and_cart(deleted, db):
    user_id = deleted["shopper"].user_id
    assert db.addresses.count_documents({"user_id": user_id}) == 0
    assert db.cart_items.count_documents({"user_id": user_id}) == 0


def test_orders_stay_for_the_merchant_with_the_person_removed(deleted):
    order = merchant("merchant_get_order", {"order_id": deleted["order"]["id"]}).data

    assert order["total"] == deleted["order"]["total"]
    assert order["address"]["name"] != "张三"
    assert "13800138000" not in str(order) and "世纪大道" not in str(order)


def test_the_same_wechat_user_logging_in_again_gets_a_fresh_account(deleted):
    again = call("login", {"code": "dev:leaver"}).data

    assert again["user"]["id"] != deleted["shopper"].user_id
    assert again["user"]["phone"] is None
    assert call("list_orders", {}, again["token"]).data["items"] == []


def test_delete_account_needs_a_login(db):
    assert call("delete_account").status == 401
