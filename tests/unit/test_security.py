"""Security (DESIGN.md section 6): ownership on every user-scoped id, the merchant credential,
tokens that must be refused, prices from the catalog only, dev-only actions in production, and
the WeChat session_key kept server-side."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Optional

import pytest

from shared.core.actions import ACTIONS
from tests.conftest import (
    MERCHANT_TOKEN,
    Answer,
    Shopper,
    call,
    merchant,
    new_address,
    new_product,
    new_shopper,
)

USER_ACTIONS = sorted(name for name, a in ACTIONS.items() if a.auth == "user")
MERCHANT_ACTIONS = sorted(name for name, a in ACTIONS.items() if a.auth in ("merchant", "dev"))

# Inputs that would pass validation, so that a refusal can only come from the credential.
# (Actions added later fall back to {}; the credential is checked before the input anyway.)
VALID_INPUT: dict[str, dict[str, Any]] = {
    "update_profile": {"nickname": "x"},
    "add_address": {"name": "n", "phone": "13800138000", "province": "p", "city": "c",
                    "detail": "d"},
    "update_address": {"address_id": "adr_x", "detail": "d"},
    "delete_address": {"address_id": "adr_x"},
    "cart_add": {"sku_id": "sku_x", "quantity": 1},
    "cart_update": {"sku_id": "sku_x", "quantity": 1},
    "cart_remove": {"sku_ids": ["sku_x"]},
    "place_order": {"request_id": "req-00000001", "address_id": "adr_x",
                    "items": [{"sku_id": "sku_x", "quantity": 1}]},
    "get_order": {"order_id": "ord_x"},
    "cancel_order": {"order_id": "ord_x"},
    "confirm_receipt": {"order_id": "ord_x"},
    "claim_coupon": {"coupon_id": "cpn_x"},
}


def text_of(answer: Answer) -> str:
    return json.dumps(answer.body, ensure_ascii=False)


# ---- ownership: another user's ids get 404 and nothing else ----------------------------------

VICTIM_ADDRESS = {"name": "王秘密", "phone": "13912345678", "province": "北京市",
                  "city": "北京市", "district": "朝阳区",
                  "detail": "受害者路42号7单元"}


@dataclass
class World:
    alice: Shopper          # the victim
    mallory: Shopper        # the prober, with her own address
    mallory_address: str
    address_id: str
    pending_order: str
    shipped_order: str
    user_coupon: str
    sku_id: str
    cart_sku: str

    def markers(self) -> list[str]:
        """Strings that only the victim's data contains."""
        return [self.alice.user_id, "alice", VICTIM_ADDRESS["name"], VICTIM_ADDRESS["phone"],
                VICTIM_ADDRESS["detail"], "alice-secret-note", "SF-VICTIM-777"]

    def victim_view(self, db: Any) -> dict[str, Any]:
        """Everything the victim can see, and the stock behind it."""
        a = self.alice
        return {
            "pending": a.call("get_order", {"order_id": self.pending_order}).data,
            "shipped": a.call("get_order", {"order_id": self.shipped_order}).data,
            "orders": a.call("list_orders").data,
            "addresses": a.call("list_addresses").data,
            "coupons": a.call("list_my_coupons").data,
            "cart": a.call("cart_list").data,
            "profile": a.call("get_profile").data,
            "skus": sorted(db.skus.find({}, {"updated_at": 0}), key=lambda s: s["_id"]),
        }


def build_world() -> World:
    product = new_product(price=3000, stock=10, skus=2)
    sku_id, cart_sku = (s["id"] for s in product["skus"])
    coupon = merchant("merchant_create_coupon", {
        "name": "减5元", "kind": "fixed", "amount": 500, "threshold": 0, "total": 10,
        "per_user_limit": 2, "valid_days": 7}).data
    alice, mallory = new_shopper("alice"), new_shopper("mallory")
    address_id = alice.call("add_address", VICTIM_ADDRESS).data["id"]
    pending = alice.call("place_order", {"request_id": "alice-0001", "address_id": address_id,
                                         "note": "alice-secret-note",
                                         "items": [{"sku_id": sku_id, "quantity": 1}]}).data["id"]
    shipped = alice.call("place_order", {"request_id": "alice-0002", "address_id": address_id,
                                         "items": [{"sku_id": sku_id, "quantity": 2}]}).data["id"]
    assert merchant("merchant_mark_paid", {"order_id": shipped}).ok
    assert merchant("merchant_ship_order", {"order_id": shipped, "carrier": "SF",
                                            "tracking_no": "SF-VICTIM-777"}).ok
    user_coupon = alice.call("claim_coupon", {"coupon_id": coupon["id"]}).data["id"]
    assert alice.call("cart_add", {"sku_id": cart_sku, "quantity": 2}).ok
    return World(alice, mallory, new_address(mallory), address_id, pending, shipped, user_coupon,
                 sku_id, cart_sku)


PROBES = {
    "get_order": lambda w: ("get_order", {"order_id": w.pending_order}),
    "cancel_order": lambda w: ("cancel_order", {"order_id": w.pending_order}),
    "confirm_receipt": lambda w: ("confirm_receipt", {"order_id": w.shipped_order}),
    "update_address": lambda w: ("update_address", {"address_id": w.address_id,
                                                    "detail": "mallory was here",
                                                    "is_default": True}),
    "delete_address": lambda w: ("delete_address", {"address_id": w.address_id}),
    "place_order_with_their_address": lambda w: ("place_order", {
        "request_id": "mallory-0001", "address_id": w.address_id,
        "items": [{"sku_id": w.sku_id, "quantity": 1}]}),
    "place_order_with_their_coupon": lambda w: ("place_order", {
        "request_id": "mallory-0002", "address_id": w.mallory_address,
        "coupon_id": w.user_coupon, "items": [{"sku_id": w.sku_id, "quantity": 1}]}),
    "cart_update_of_their_line": lambda w: ("cart_update", {"sku_id": w.cart_sku,
                                                            "quantity": 9, "selected": False}),
}

# what a probe at an id that does not exist at all answers: the same, so 404 is no oracle
MISSING = {"order_id": "ord_00000000000000000000", "address_id": "adr_00000000000000000000",
           "coupon_id": "ucp_00000000000000000000", "sku_id": "sku_00000000000000000000"}


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_another_users_ids_get_404_and_no_data(db, probe):
    world = build_world()
    before = world.victim_view(db)
    action, payload = PROBES[probe](world)

    answer = world.mallory.call(action, payload)

    assert (answer.status, answer.code) == (404, "NOT_FOUND"), answer.body
    assert "data" not in answer.body
    leaked = [m for m in world.markers() if m in text_of(answer)]
    assert leaked == [], (leaked, answer.body)
    # indistinguishable from an id that does not exist
    key = next(k for k in ("order_id", "coupon_id", "address_id", "sku_id")
               if k in payload and payload[k] in (world.pending_order, world.shipped_order,
                                                  world.user_coupon, world.address_id,
                                                  world.cart_sku))
    missing = world.mallory.call(action, {**payload, key: MISSING[key]})
    assert (missing.status, missing.code) == (404, "NOT_FOUND")
    assert missing.body["error"]["details"] == answer.body["error"]["details"]
    # the victim's world is exactly as it was, and the prober gained nothing
    assert world.victim_view(db) == before
    assert db.orders.count_documents({"user_id": world.mallory.user_id}) == 0
    assert world.mallory.call("cart_list").data["items"] == []
    assert world.mallory.call("list_my_coupons").data["items"] == []


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_the_owner_can_do_what_the_prober_could_not(db, probe):
    """The control: the same ids in their owner's hands work, so the 404s above are about
    ownership and not about a broken id or input."""
    world = build_world()
    action, payload = PROBES[probe](world)
    if probe == "place_order_with_their_coupon":
        payload = {**payload, "address_id": world.address_id}
    answer = world.alice.call(action, payload)
    assert answer.ok, answer.body


def test_lists_show_only_the_callers_own_things(db):
    world = build_world()
    mallory = world.mallory
    for action in ("list_orders", "list_my_coupons", "cart_list"):
        assert mallory.call(action).data["items"] == [], action
    addresses = mallory.call("list_addresses").data["items"]
    assert [a["id"] for a in addresses] == [world.mallory_address]
    # cart_remove of someone else's sku only touches the caller's own cart
    assert mallory.call("cart_remove", {"sku_ids": [world.cart_sku]}).ok
    assert [i["sku_id"] for i in world.alice.call("cart_list").data["items"]] == [world.cart_sku]
    for action in ("list_orders", "list_addresses", "list_my_coupons", "cart_list"):
        answer = mallory.call(action)
        assert [m for m in world.markers() if m in text_of(answer)] == [], action


def test_identity_never_comes_from_the_body(db):
    """A user_id in the input is refused, and CloudBase's userInfo is not trusted unless the
    deployment says so."""
    from shared.core.runtime import serve
    alice = new_shopper("alice")
    answer = alice.call("update_profile", {"nickname": "x", "user_id": "usr_someone_else"})
    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    forged = serve("get_profile", {"userInfo": {"openId": "dev_whoever", "appId": "wx1"}})
    assert forged["ok"] is False and forged["error"]["code"] == "UNAUTHENTICATED"


# ---- the merchant credential -----------------------------------------------------------------

@pytest.mark.parametrize("action", MERCHANT_ACTIONS)
def test_merchant_actions_need_the_merchant_token(db, action):
    shopper = new_shopper("shopper")
    no_token = call(action, {})
    assert (no_token.status, no_token.code) == (401, "UNAUTHENTICATED")
    as_shopper = call(action, {}, shopper.token)
    assert (as_shopper.status, as_shopper.code) == (403, "FORBIDDEN")
    for wrong in ("not-the-merchant-token", MERCHANT_TOKEN + "x", MERCHANT_TOKEN[:-1],
                  MERCHANT_TOKEN.upper(), " ", "v1.e30.AAAA"):
        answer = call(action, {}, wrong)
        assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), (wrong, answer.body)
    # the control: with the merchant token the call gets past the credential check
    right = merchant(action, {})
    assert right.status not in (401, 403), right.body


def test_the_merchant_token_is_not_a_user_token(db):
    answer = call("get_profile", {}, MERCHANT_TOKEN)
    assert (answer.status, answer.code) == (401, "UNAUTHENTICATED")


# ---- user tokens that must be refused --------------------------------------------------------

def _b64(data: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _token_with_secret(user_id: str, secret: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A well-formed token signed by the real code, but under another TOKEN_SECRET."""
    from shared.core.auth import issue_token
    from shared.core.config import reset_settings
    monkeypatch.setenv("TOKEN_SECRET", secret)
    reset_settings()
    try:
        return issue_token(user_id)
    finally:
        monkeypatch.delenv("TOKEN_SECRET")
        reset_settings()


def bad_tokens(shopper: Shopper, victim: Shopper,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, Optional[str]]:
    from shared.core.auth import issue_token
    from shared.core.config import get_settings
    version, payload, signature = shopper.token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    ttl = get_settings().TOKEN_TTL_SECONDS
    victim_claims = _b64(json.dumps({"uid": victim.user_id, "iat": int(time.time()),
                                     "exp": int(time.time()) + 3600}).encode())
    return {
        "missing": None,
        "bad_signature": f"{version}.{payload}.{flipped}",
        "no_signature": f"{version}.{payload}.",
        "payload_swapped_to_victim": f"{version}.{victim_claims}.{signature}",
        "other_secret": _token_with_secret(victim.user_id, "another-secret-" + "x" * 32,
                                           monkeypatch),
        "expired": issue_token(shopper.user_id, now=time.time() - ttl - 60),
        "wrong_version": f"v2.{payload}.{signature}",
        "garbage": "garbage",
        "dots": "..",
        "not_base64": "v1.%%%%.@@@@",
        "huge": "v1." + "A" * 10_000 + ".x",
    }


TOKEN_KINDS = ["missing", "bad_signature", "no_signature", "payload_swapped_to_victim",
               "other_secret", "expired", "wrong_version", "garbage", "dots", "not_base64",
               "huge"]


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_user_actions_refuse_bad_tokens(db, monkeypatch, kind):
    shopper, victim = new_shopper("holder"), new_shopper("victim")
    token = bad_tokens(shopper, victim, monkeypatch)[kind]
    for action in USER_ACTIONS:
        answer = call(action, VALID_INPUT.get(action, {}), token)
        assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), (action, answer.body)
        assert "data" not in answer.body
    # the control: the genuine token of the same user works
    assert shopper.call("get_profile").data["id"] == shopper.user_id


def test_a_token_just_inside_its_lifetime_still_works(db):
    """The expired case above fails because of expiry, not because issue_token(now=...) is
    unusable: the same construction 60 s before expiry is accepted."""
    from shared.core.auth import issue_token
    from shared.core.config import get_settings
    shopper = new_shopper("holder")
    token = issue_token(shopper.user_id, now=time.time() - get_settings().TOKEN_TTL_SECONDS + 60)
    assert call("get_profile", {}, token).data["id"] == shopper.user_id


def test_bad_authorization_headers_over_http(gateway):
    def post(action: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{gateway}/api/{action}", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, body = post("login", {})
    assert status == 422  # login is public; just making sure the gateway answers
    login_request = urllib.request.Request(
        f"{gateway}/api/login", data=json.dumps({"code": "dev:alice"}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login_request, timeout=10) as response:
        token = json.loads(response.read())["data"]["token"]

    for header in ("garbage", "Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", f"Token {token}",
                   f"Bearer {token} extra", f"Bearer {token[:-3]}", "Bearer null",
                   "Bearer undefined", f"Bearer {MERCHANT_TOKEN}", "Bearer \t"):
        status, body = post("get_profile", {"Authorization": header})
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED"), header
        assert "data" not in body
    status, body = post("get_profile", {})
    assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
    # the control
    status, body = post("get_profile", {"Authorization": f"Bearer {token}"})
    assert status == 200 and body["data"]["nickname"] == "alice"
    # merchant actions over HTTP: none, wrong, a shopper's
    assert post("merchant_list_orders", {})[0] == 401
    assert post("merchant_list_orders", {"Authorization": "Bearer nope"})[0] == 401
    assert post("merchant_list_orders", {"Authorization": f"Bearer {token}"})[0] == 403
    assert post("merchant_list_orders", {"Authorization": f"Bearer {MERCHANT_TOKEN}"})[0] == 200


# ---- prices come from the catalog ------------------------------------------------------------

@pytest.mark.parametrize("where,extra", [
    ("line", {"price": 1}), ("line", {"subtotal": 1}), ("line", {"total": 1}),
    ("order", {"total": 1}), ("order", {"price": 1}), ("order", {"discount": 999999}),
    ("order", {"goods_total": 1}), ("order", {"user_id": "usr_x"}),
    ("order", {"status": "paid"}),
])
def test_place_order_rejects_client_prices_and_unknown_fields(db, where, extra):
    product = new_product(price=8800, stock=5)
    sku_id = product["skus"][0]["id"]
    alice = new_shopper("alice")
    payload = {"request_id": "req-price-01", "address_id": new_address(alice),
               "items": [{"sku_id": sku_id, "quantity": 1}]}
    tampered = json.loads(json.dumps(payload))
    (tampered["items"][0] if where == "line" else tampered).update(extra)

    answer = alice.call("place_order", tampered)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR"), answer.body
    field = next(iter(extra))
    fields = [f["field"] for f in answer.body["error"]["details"]["fields"]]
    assert any(f.endswith(field) for f in fields), fields
    assert db.orders.count_documents({}) == 0
    assert db.skus.find_one({"_id": sku_id})["stock"] == 5
    # the control: without the extra field the order goes through, priced by the catalog
    order = alice.call("place_order", payload).data
    assert (order["total"], order["items"][0]["price"]) == (8800, 8800)


# ---- dev-only actions in production ----------------------------------------------------------

PRODUCTION_MERCHANT_TOKEN = "prod-merchant-token-" + "m" * 24


def test_dev_only_actions_are_refused_in_production(db, monkeypatch):
    """The honest way: a real production configuration in the environment, read by the real
    get_settings(), through the whole dispatcher. No MongoDB server is reachable here, so
    MONGODB_URI points at a closed loopback port. That is enough: pymongo connects lazily, and
    the refusal must come from the credential check before any database work; if an action
    got as far as the database it would fail with INTERNAL after the connect timeout instead
    of answering 403, and the cached handle would be set. (Patching get_settings or calling
    _check_merchant directly would skip check_production and the dispatcher's order of
    checks, which is what is under test.)"""
    from shared.core import db as db_module
    from shared.core.auth import issue_token
    from shared.core.config import get_settings, reset_settings

    # the control, in test: the same calls pass the credential check
    assert merchant("merchant_mark_paid", {"order_id": "ord_missing"}).code == "NOT_FOUND"
    assert merchant("dev_run_timer", {"name": "order_timeout"}).ok

    db_module.reset_db()
    for name, value in {"SHOP_ENV": "production",
                        "MONGODB_URI": "mongodb://127.0.0.1:9/?connectTimeoutMS=200",
                        "MONGODB_DB": "shop_prod_probe",
                        "TOKEN_SECRET": "prod-token-secret-" + "s" * 32,
                        "MERCHANT_TOKEN": PRODUCTION_MERCHANT_TOKEN,
                        "WX_APPID": "wx0123456789abcdef", "WX_SECRET": "w" * 32,
                        "WXPAY_MCHID": "1230000109",
                        "WXPAY_NOTIFY_URL": "https://shop.example.com/pay/notify",
                        "WXPAY_REFUND_NOTIFY_URL": "https://shop.example.com/pay/refund-notify",
                        "S3_ENDPOINT_URL": "https://cos.example.com",
                        "TENCENTCLOUD_SECRET_ID": "AKIDexampleexampleexample",
                        "TENCENTCLOUD_SECRET_KEY": "examplesecretkeyexample"}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    assert get_settings().is_production  # check_production accepted this configuration

    shopper_token = issue_token("usr_someone")
    for action, payload in (("merchant_mark_paid", {"order_id": "ord_missing"}),
                            ("dev_run_timer", {"name": "order_timeout"})):
        answer = call(action, payload, PRODUCTION_MERCHANT_TOKEN)
        assert (answer.status, answer.code) == (403, "FORBIDDEN"), answer.body
        assert call(action, payload).status == 401
        assert call(action, payload, MERCHANT_TOKEN).status == 401  # the test token is not it
        assert call(action, payload, shopper_token).status == 403
    assert db_module._db is None  # nothing reached for the database


# ---- the WeChat session_key ------------------------------------------------------------------

def test_the_session_key_never_leaves_the_server(db):
    first = call("login", {"code": "dev:alice"})
    stored = db.users.find_one({"_id": first.data["user"]["id"]})
    session_key = stored["session_key"]
    assert session_key  # there is one to leak
    token = first.data["token"]
    answers = {
        "login (first)": first,
        "login (again)": call("login", {"code": "dev:alice"}),
        "get_profile": call("get_profile", {}, token),
        "update_profile": call("update_profile", {"nickname": "Alice", "phone": "13700001111",
                                                  "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/a/132"},
                               token),
    }
    for name, answer in answers.items():
        assert answer.ok, (name, answer.body)
        body = text_of(answer)
        assert session_key not in body, name
        assert "session_key" not in body, name
        assert "openid" not in body, name
    # (the logs are checked for session_key, tokens and phones in test_runtime.py)


def test_the_session_key_is_not_in_the_http_answer_either(gateway, db):
    request = urllib.request.Request(
        f"{gateway}/api/login", data=json.dumps({"code": "dev:bob"}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read().decode("utf-8")
        headers = str(response.headers)
    session_key = db.users.find_one({"nickname": "bob"})["session_key"]
    assert session_key not in raw and session_key not in headers
    assert "session_key" not in raw
