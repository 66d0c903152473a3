"""The runtime: settings and the production refusal, tokens, JSON logs with redaction, the HTTP
contract of the gateway, and a fuzz of the dispatcher with random JSON."""
import io
import json
import logging
import time

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import MERCHANT_TOKEN, call, new_address, new_product, new_shopper

# ---- settings -------------------------------------------------------------------------------

PRODUCTION = {
    "SHOP_ENV": "production",
    "MONGODB_URI": "mongodb://shop:pw@mongo.internal:27017/?replicaSet=rs0",
    "TOKEN_SECRET": "kq3V9f0XbLr2mN8sT5wYz1cD4hJ7pA6eGuQiRo0t",
    "MERCHANT_TOKEN": "mt_8fJ2kL9qR4vX7zB1nC5wD3",
    "WX_APPID": "wx1a2b3c4d5e6f7a8b",
    "WX_SECRET": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "WXPAY_MCHID": "1230000109",
    "WXPAY_NOTIFY_URL": "https://shop.example.com/pay/notify",
    "WXPAY_REFUND_NOTIFY_URL": "https://shop.example.com/pay/refund-notify",
    "S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com",
    "TENCENTCLOUD_SECRET_ID": "AKIDexampleexampleexample",
    "TENCENTCLOUD_SECRET_KEY": "examplesecretkeyexamplesecretkey",
}


@pytest.fixture
def production(monkeypatch):
    """Set production settings; the test may then change or remove some and read them."""
    from shared.core.config import get_settings, reset_settings
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)

    def read(**changes):
        for name, value in changes.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        reset_settings()
        return get_settings()
    yield read
    reset_settings()


def test_production_accepts_real_looking_settings(production):
    settings = production()

    assert settings.is_production and not settings.uses_wechat_sandbox


@pytest.mark.parametrize("changes, complaint", [
    ({"TOKEN_SECRET": None}, "TOKEN_SECRET"),
    ({"TOKEN_SECRET": "dev-token-secret-change-me-in-production"}, "TOKEN_SECRET"),
    ({"TOKEN_SECRET": "too-short-secret"}, "TOKEN_SECRET"),
    ({"MERCHANT_TOKEN": None}, "MERCHANT_TOKEN"),
    ({"MERCHANT_TOKEN": "dev-merchant-token"}, "MERCHANT_TOKEN"),
    ({"MONGODB_URI": None}, "MONGODB_URI"),
    ({"MONGODB_URI": ""}, "MONGODB_URI"),
    ({"WX_APPID": None}, "WX_APPID"),
    ({"WX_SECRET": None}, "WX_SECRET"),
    ({"WXPAY_MCHID": None}, "WXPAY_MCHID"),
    ({"WXPAY_NOTIFY_URL": None}, "WXPAY_NOTIFY_URL"),
    ({"S3_ENDPOINT_URL": None}, "S3_ENDPOINT_URL"),
    ({"TENCENTCLOUD_SECRET_KEY": None}, "TENCENTCLOUD_SECRET_ID/KEY"),
], ids=["no-token-secret", "dev-token-secret", "short-token-secret", "no-merchant-token",
        "dev-merchant-token", "no-mongodb-uri", "empty-mongodb-uri", "no-appid", "no-secret",
        "pay-sandbox", "no-notify-url", "no-object-storage", "no-cloud-keys"])
def test_production_refuses_to_start_without_real_values(production, changes, complaint):
    from shared.core.config import ConfigError

    with pytest.raises(ConfigError, match=complaint):
        production(**changes)


def test_production_refusal_does_not_echo_the_secrets(production):
    from shared.core.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        production(WX_APPID=None)

    assert PRODUCTION["TOKEN_SECRET"] not in str(refused.value)
    assert PRODUCTION["WX_SECRET"] not in str(refused.value)


def test_refused_production_settings_answer_config_error_not_a_crash(production):
    from shared.core.config import ConfigError
    with pytest.raises(ConfigError):
        production(MONGODB_URI=None)

    answer = call("list_products")

    assert (answer.status, answer.code) == (500, "CONFIG_ERROR")
    assert answer.body["error"]["details"] == {}


def test_dev_settings_are_fine_outside_production(monkeypatch):
    from shared.core.config import get_settings, reset_settings
    monkeypatch.setenv("SHOP_ENV", "dev")
    reset_settings()

    settings = get_settings()

    assert settings.uses_wechat_sandbox and settings.MONGODB_URI is None


def test_an_unknown_shop_env_is_refused(monkeypatch):
    from shared.core.config import ConfigError, get_settings, reset_settings
    monkeypatch.setenv("SHOP_ENV", "staging")
    reset_settings()

    with pytest.raises(ConfigError, match="SHOP_ENV"):
        get_settings()


# ---- tokens ---------------------------------------------------------------------------------

def test_a_fresh_token_names_its_user():
    from shared.core.auth import issue_token, verify_token

    assert verify_token(issue_token("usr_1")) == "usr_1"


def test_an_expired_token_is_refused():
    from shared.core.auth import issue_token, verify_token
    from shared.core.config import get_settings
    from shared.core.errors import ShopError
    token = issue_token("usr_1", now=time.time() - get_settings().TOKEN_TTL_SECONDS - 1)

    with pytest.raises(ShopError) as refused:
        verify_token(token)

    assert refused.value.code == "UNAUTHENTICATED"
    assert refused.value.details == {"reason": "expired"}


def _b64(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_with_a_changed_payload_is_refused():
    from shared.core.auth import issue_token, verify_token
    from shared.core.errors import ShopError
    version, _, signature = issue_token("usr_alice").split(".")
    payload = _b64(json.dumps({"uid": "usr_mallory", "iat": int(time.time()),
                               "exp": int(time.time()) + 3600}).encode())

    with pytest.raises(ShopError) as refused:
        verify_token(f"{version}.{payload}.{signature}")

    assert refused.value.code == "UNAUTHENTICATED"


def test_a_signed_token_with_a_broken_payload_is_refused_not_a_crash():
    from shared.core.auth import _sign
    from shared.core.config import get_settings
    for claims in (b"not json", b"[1, 2]", b'{"uid": "usr_1", "exp": "soon"}', b'{"uid": "u"}'):
        head = f"v1.{_b64(claims)}"
        token = f"{head}.{_sign(head, get_settings().TOKEN_SECRET)}"

        answer = call("get_profile", token=token)

        assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), claims


# ---- logs -----------------------------------------------------------------------------------

@pytest.fixture
def shop_log():
    """Everything the "shop" loggers write, as the JSON lines production would see."""
    from shared.core.log import JsonFormatter, get_logger
    get_logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("shop")
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_logs_of_a_login_and_a_profile_update_hold_no_token_session_key_or_phone(shop_log, db):
    login = call("login", {"code": "dev:alice"}).data
    token = login["token"]
    call("update_profile", {"phone": "13912345678", "nickname": "alice"}, token)
    call("add_address", {"name": "张三", "phone": "13912345678", "province": "上海市",
                         "city": "上海市", "detail": "人民路1号"}, token)
    call("get_profile", token=token)
    call("update_profile", {"phone": "1391234567x"}, token)
    session_key = db.users.find_one({"_id": login["user"]["id"]})["session_key"]

    text = shop_log.getvalue()

    assert text, "the calls wrote no log at all"
    assert token not in text and token.split(".")[2] not in text
    assert session_key not in text
    assert "13912345678" not in text and "1391234567" not in text


def test_every_log_line_is_json_with_a_request_id(shop_log):
    shopper = new_shopper()
    shopper.call("update_profile", {"phone": "13912345678"})
    shopper.call("cart_add", {"sku_id": "sku_nope"})
    call("no_such_action")

    lines = _lines(shop_log)

    assert len(lines) >= 4
    for line in lines:
        assert line["request_id"] not in ("", "-", None)
        assert {"ts", "level", "logger", "msg"} <= set(line)


def test_log_lines_carry_the_request_id_of_their_call(shop_log):
    from shared.core.dispatch import Credentials, dispatch

    dispatch("login", {"code": "dev:alice"}, Credentials(), request_id="req-log-0001")

    assert {line["request_id"] for line in _lines(shop_log)} == {"req-log-0001"}


def test_a_crash_is_logged_whole_but_redacted_and_answered_without_the_trace(shop_log,
                                                                           monkeypatch):
    from shared.accounts import users
    shopper = new_shopper()

    def crash(ctx, req):
        raise RuntimeError(f"could not save phone {req.phone} for Bearer {shopper.token}")
    monkeypatch.setattr(users, "update_profile", crash)

    answer = shopper.call("update_profile", {"phone": "13912345678"})

    assert (answer.status, answer.code) == (500, "INTERNAL")
    assert "Traceback" not in json.dumps(answer.body)
    text = shop_log.getvalue()
    assert "RuntimeError" in text and "139****5678" in text
    assert "13912345678" not in text and shopper.token not in text


def test_log_fields_named_like_secrets_are_masked(shop_log):
    from shared.core.log import get_logger, log_event

    log_event(get_logger("shop.test"), "wechat answered", session_key="sk-abc123",
              access_token="at-xyz789", secret="s3cr3t-value", header="Bearer tok.en.sig",
              note="call 13912345678 please")

    [line] = _lines(shop_log)
    assert (line["session_key"], line["access_token"], line["secret"]) == ("***", "***", "***")
    assert line["header"] == "Bearer ***"
    assert line["note"] == "call 139****5678 please"


# ---- the HTTP contract (the gateway on real HTTP) -------------------------------------------

def _post(gateway, action, body=None, token=None, headers=None):
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
    return requests.post(f"{gateway}/api/{action}", data=data, headers=sent, timeout=10)


def _error(response):
    return response.status_code, response.json()["error"]["code"]


def test_healthz_answers_200_ok(gateway):
    response = requests.get(f"{gateway}/healthz", timeout=10)

    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_a_login_and_a_user_action_work_over_http(gateway):
    login = _post(gateway, "login", {"code": "dev:alice"})
    profile = _post(gateway, "get_profile", {}, token=login.json()["data"]["token"])

    assert (login.status_code, profile.status_code) == (200, 200)
    assert profile.json()["data"]["id"] == login.json()["data"]["user"]["id"]
    assert profile.headers["Content-Type"].startswith("application/json")


def test_malformed_json_is_400_bad_request(gateway):
    response = _post(gateway, "login", b'{"code": "dev:alice"')

    assert _error(response) == (400, "BAD_REQUEST")


def test_a_body_that_is_not_utf8_is_400(gateway):
    assert _error(_post(gateway, "login", b'{"code": "\xff\xfe"}')) == (400, "BAD_REQUEST")


@pytest.mark.parametrize("body", [b"[]", b'[{"code": "dev:alice"}]', b'"dev:alice"', b"42",
                                  b"null"])
def test_a_json_body_that_is_not_an_object_is_400(gateway, body):
    assert _error(_post(gateway, "login", body)) == (400, "BAD_REQUEST")


def test_an_empty_body_is_an_empty_object(gateway):
    response = _post(gateway, "list_categories", b"")

    assert response.status_code == 200


def test_an_unknown_action_is_404_unknown_action(gateway):
    assert _error(_post(gateway, "no_such_action", {})) == (404, "UNKNOWN_ACTION")


def test_an_unknown_path_is_404(gateway):
    response = requests.post(f"{gateway}/nowhere", data="{}", timeout=10)

    assert response.status_code == 404
    assert response.json()["ok"] is False


def test_get_on_an_action_is_405(gateway):
    response = requests.get(f"{gateway}/api/login", timeout=10)

    assert _error(response) == (405, "METHOD_NOT_ALLOWED")


def test_a_body_over_one_megabyte_is_413(gateway):
    body = b'{"code": "' + b"x" * (1 << 20) + b'"}'

    assert _error(_post(gateway, "login", body)) == (413, "PAYLOAD_TOO_LARGE")


def test_a_body_of_exactly_one_megabyte_is_read(gateway):
    body = b'{"code": "dev:alice"' + b" " * ((1 << 20) - 21) + b"}"
    assert len(body) == 1 << 20

    assert _post(gateway, "login", body).status_code == 200


def test_invalid_input_is_422_with_the_field_names(gateway):
    shopper = new_shopper()

    response = _post(gateway, "add_address", {"name": "", "phone": "123", "city": "上海",
                                              "detail": "x", "color": "red"},
                     token=shopper.token)

    assert _error(response) == (422, "VALIDATION_ERROR")
    fields = {f["field"] for f in response.json()["error"]["details"]["fields"]}
    assert fields == {"name", "phone", "province", "color"}


def test_a_missing_token_is_401_over_http(gateway):
    assert _error(_post(gateway, "get_profile", {})) == (401, "UNAUTHENTICATED")


def test_a_non_bearer_authorization_is_401(gateway):
    shopper = new_shopper()
    response = requests.post(f"{gateway}/api/get_profile", data="{}", timeout=10,
                             headers={"Authorization": f"Basic {shopper.token}"})

    assert _error(response) == (401, "UNAUTHENTICATED")


def test_the_response_carries_the_callers_request_id(gateway):
    response = _post(gateway, "list_categories", {}, headers={"X-Request-Id": "req-http-0001"})

    assert response.headers["X-Request-Id"] == "req-http-0001"


def test_a_bad_request_id_header_is_replaced_not_echoed(gateway):
    response = _post(gateway, "list_categories", {},
                     headers={"X-Request-Id": "<script>alert(1)</script>"})

    assert response.headers["X-Request-Id"] != "<script>alert(1)</script>"
    assert len(response.headers["X-Request-Id"]) == 32


# ---- fuzz: random JSON at the dispatcher never makes a 500 ----------------------------------

FUZZED_ACTIONS = ["login", "update_profile", "list_products", "get_product", "add_address",
                  "update_address", "cart_add", "cart_update", "cart_remove", "place_order",
                  "list_orders", "cancel_order", "claim_coupon", "list_my_coupons",
                  "merchant_upsert_product", "merchant_set_stock", "merchant_create_coupon",
                  "merchant_list_orders", "merchant_ship_order"]
FIELDS = ["code", "nickname", "phone", "birthday", "avatar_url", "page", "page_size",
          "category_id", "keyword", "sort", "product_id", "sku_id", "sku_ids", "quantity",
          "selected", "name", "province", "city", "district", "detail", "is_default",
          "address_id", "request_id", "items", "from_cart", "coupon_id", "note", "status",
          "order_id", "title", "skus", "price", "stock", "specs", "kind", "amount", "percent",
          "cap", "threshold", "total", "per_user_limit", "valid_days", "valid_from", "valid_to",
          "carrier", "tracking_no", "images"]

scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
           | st.sampled_from(["dev:fuzz", "13800138000", "2000-01-01", "2030-01-01T00:00:00Z",
                              "fixed", "percent", "newest", "sku_x", "$gt", "", " ", "0"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
payloads = (st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
            | st.dictionaries(st.text(max_size=10), json_values, max_size=4)
            | json_values)


def _is_envelope(body):
    if body.get("ok") is True:
        return set(body) == {"ok", "data"}
    error = body.get("error")
    return (body.get("ok") is False and set(body) == {"ok", "error"} and isinstance(error, dict)
            and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
            and isinstance(error.get("details"), dict))


def _valid_payloads():
    """One well-formed payload per fuzzed action, naming things that exist."""
    from tests.conftest import merchant
    shopper = new_shopper("fuzzer")
    address_id = new_address(shopper)
    product = new_product(stock=10_000)
    sku_id = product["skus"][0]["id"]
    template = merchant("merchant_create_coupon", {
        "name": "券", "kind": "fixed", "amount": 100, "total": 1000, "per_user_limit": 100,
        "valid_days": 3}).data
    coupon_id = shopper.call("claim_coupon", {"coupon_id": template["id"]}).data["id"]
    order_id = shopper.call("place_order", {
        "request_id": "req-fuzz-seed", "address_id": address_id,
        "items": [{"sku_id": sku_id, "quantity": 1}]}).data["id"]
    valid = {
        "login": {"code": "dev:fuzzer"},
        "update_profile": {"nickname": "阿福", "phone": "13800138000", "birthday": "2000-01-01",
                           "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/a/132"},
        "list_products": {"page": 1, "page_size": 10, "keyword": "苹果 apple",
                          "sort": "price_asc", "category_id": product["category_id"]},
        "get_product": {"product_id": product["id"]},
        "add_address": {"name": "张三", "phone": "13800138000", "province": "上海市",
                        "city": "上海市", "district": "浦东新区", "detail": "世纪大道100号",
                        "is_default": True},
        "update_address": {"address_id": address_id, "detail": "人民路1号",
                           "is_default": True},
        "cart_add": {"sku_id": sku_id, "quantity": 1},
        "cart_update": {"sku_id": sku_id, "quantity": 2, "selected": True},
        "cart_remove": {"sku_ids": [sku_id]},
        "place_order": {"request_id": "req-fuzz-0001", "address_id": address_id,
                        "items": [{"sku_id": sku_id, "quantity": 1}], "coupon_id": coupon_id,
                        "note": "轻放"},
        "list_orders": {"status": "pending_payment", "page": 1, "page_size": 5},
        "cancel_order": {"order_id": order_id},
        "claim_coupon": {"coupon_id": template["id"]},
        "list_my_coupons": {"status": "available"},
        "merchant_upsert_product": {"product_id": product["id"], "title": "苹果",
                                    "category_id": product["category_id"],
                                    "skus": [{"sku_id": sku_id, "price": 100,
                                              "specs": {"规格": "大"}}]},
        "merchant_set_stock": {"sku_id": sku_id, "stock": 10_000},
        "merchant_create_coupon": {"name": "券", "kind": "percent", "percent": 10, "cap": 100,
                                   "total": 5, "valid_from": "2030-01-01T00:00:00Z",
                                   "valid_to": "2030-02-01T00:00:00Z"},
        "merchant_list_orders": {"user_id": shopper.user_id, "status": "paid"},
        "merchant_ship_order": {"order_id": order_id, "carrier": "SF", "tracking_no": "SF1"},
    }
    assert sorted(valid) == sorted(FUZZED_ACTIONS)
    return shopper, valid


def test_random_json_never_makes_a_500_and_always_answers_an_envelope(db):
    from shared.core.dispatch import Credentials, dispatch, to_json
    shopper, valid = _valid_payloads()

    def right_token(action):
        if action.startswith("merchant_"):
            return MERCHANT_TOKEN
        return None if action == "login" else shopper.token

    @st.composite
    def mutated(draw, action):
        """A well-formed payload with some fields replaced by, or joined with, random JSON."""
        payload = dict(valid[action])
        for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3, unique=True)):
            if draw(st.booleans()):
                payload[key] = draw(json_values)
            else:
                del payload[key]
        if draw(st.integers(0, 4)) == 0:
            payload[draw(st.sampled_from(FIELDS))] = draw(json_values)
        return payload

    @hypothesis_settings(max_examples=150, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
    @given(data=st.data())
    def throw(data):
        action = data.draw(st.sampled_from(FUZZED_ACTIONS), label="action")
        payload = data.draw(st.one_of(mutated(action), mutated(action), payloads),
                            label="payload")
        token = data.draw(st.sampled_from([right_token(action)] * 4
                                          + [None, shopper.token, MERCHANT_TOKEN]),
                          label="token")

        outcome = dispatch(action, payload, Credentials(bearer=token))
        body = json.loads(to_json(outcome.envelope))

        assert outcome.status != 500, (action, payload, body)
        assert _is_envelope(body), body

    throw()
