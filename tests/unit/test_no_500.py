"""Bad input never yields a 500: every action, every field, a set of hostile values."""
from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.conftest import MERCHANT_TOKEN, call, new_address, new_product, new_shopper

HOSTILE: list[Any] = [None, "", " ", "x" * 5000, "ord_" + "9" * 60, -1, 0, 10 ** 20, 1.5,
                      float("nan"), True, [], [None], {}, {"$gt": ""}, {"$where": "1"},
                      "2026-13-45T99:99:99+08:00", "\x00", "../../etc/passwd", "<script>",
                      [{"sku_id": {"$ne": None}, "quantity": 1}]]


def _actions() -> list[str]:
    from shared.core.actions import ACTIONS
    return sorted(ACTIONS)


def _fields(action: str) -> list[str]:
    from shared.core.actions import ACTIONS
    spec = ACTIONS[action]
    model = getattr(importlib.import_module(spec.module), spec.input_model)
    return list(model.model_fields)


@pytest.mark.parametrize("action", _actions())
def test_hostile_values_in_any_field_never_give_a_500(action: str, db: Any) -> None:
    from shared.core.actions import ACTIONS
    product = new_product(stock=5)
    shopper = new_shopper()
    address_id = new_address(shopper)
    token = MERCHANT_TOKEN if ACTIONS[action].auth in ("merchant", "dev") else shopper.token
    base = {"address_id": address_id, "sku_id": product["skus"][0]["id"],
            "product_id": product["id"]}
    for field in _fields(action) or ["unexpected"]:
        for value in HOSTILE:
            payload = {k: v for k, v in base.items() if k in _fields(action) and k != field}
            payload[field] = value
            answer = call(action, payload, token)
            assert answer.status < 500, (action, field, value, answer.body)
            assert answer.body["ok"] or set(answer.body["error"]) >= {"code", "message",
                                                                       "details"}


# ---- issue 12, section 4: what still answered a 500 -----------------------------------------

def _status_of(envelope: dict[str, Any]) -> int:
    """The HTTP status a callFunction answer stands for."""
    from shared.core.errors import ERRORS
    return 200 if envelope["ok"] else ERRORS[envelope["error"]["code"]][0]


def _http(path: str, body: Any = b"{}", headers: Any = None) -> tuple[int, dict[str, Any]]:
    from werkzeug.test import Client

    from shared.core.http import app
    response = Client(app).post(path, data=body, headers=headers or {},
                                content_type="application/json")
    return response.status_code, response.get_json()


NON_ASCII_TOKENS = ["v1.é.ü", "v1.eyJ1aWQiOiJ4In0.\xff\xfe", "中文令牌", "v1.\x80.\x81",
                    "\ud800"]


@pytest.mark.parametrize("token", NON_ASCII_TOKENS[:4])
@pytest.mark.parametrize("action", ["get_profile", "merchant_list_products"])
def test_a_bearer_token_with_non_ascii_bytes_is_401_over_http(db, token, action):
    # WSGI hands header bytes over as latin-1 text: any byte 0x80-0xff arrives as one char
    raw = token.encode("utf-8").decode("latin-1")
    status, body = _http(f"/api/{action}", headers={"Authorization": f"Bearer {raw}"})

    assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED"), body


@pytest.mark.parametrize("token", NON_ASCII_TOKENS)
@pytest.mark.parametrize("action", ["get_profile", "merchant_list_products"])
def test_a_non_ascii_token_in_a_client_call_is_401(db, token, action):
    from shared.core.runtime import serve
    answer = serve(action, {"_token": token})
    assert answer["error"]["code"] == "UNAUTHENTICATED", answer


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"keyword": ' + b"[" * 100_000,
                                  b"[" * 100_000 + b"]" * 100_000,
                                  b'{"keyword": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                  b'{"keyword": ' + b'{"a":' * 500 + b"1" + b"}" * 501],
                         ids=["open", "open-in-object", "closed", "closed-in-object",
                              "objects-500-deep"])
def test_deeply_nested_json_over_http_is_400(db, body):
    status, answer = _http("/api/list_products", body)
    assert (status, answer["error"]["code"]) == (400, "BAD_REQUEST"), answer


def test_deeply_nested_json_through_an_api_gateway_event_is_400(db):
    from shared.core.runtime import serve
    from tests.conftest import load_event
    event = load_event("apigw_login.json", body="[" * 100_000, isBase64Encoded=False)
    event["headers"].pop("content-length", None)

    answer = serve("login", event)
    assert answer["statusCode"] == 400, answer


@pytest.mark.parametrize("action", ["list_products", "merchant_upsert_product", "login"])
def test_deeply_nested_data_in_a_callfunction_event_is_400(db, action):
    from shared.core.runtime import serve
    token = MERCHANT_TOKEN if action.startswith("merchant") else None
    for event in ({"keyword": _deep(100_000)}, {"specs": {"a": _deep(2000)}},
                  {"title": "x", "skus": [{"specs": _deep(200)}]}):
        if token:
            event["_token"] = token
        answer = serve(action, event)
        assert answer["error"]["code"] == "BAD_REQUEST", (action, answer)


def test_reasonably_nested_input_is_still_read(db):
    product = new_product()
    answer = call("list_products", {"keyword": "苹果"})
    assert answer.ok and answer.data["items"][0]["id"] == product["id"]


OUT_OF_RANGE = ["1900-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2100-01-01T00:00:01Z",
                "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+08:00"]


def _datetime_fields(model: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every datetime field of an input model, nested models included, as a location (a
    model in a list is located at its first item, index 0)."""
    import typing
    from datetime import datetime
    found = []
    for name, info in model.model_fields.items():
        kinds: list[tuple[Any, tuple[Any, ...]]] = [(info.annotation, ())]
        while kinds:
            kind, index = kinds.pop()
            args = typing.get_args(kind)
            if args:
                inner = (0,) if typing.get_origin(kind) is list else ()
                kinds.extend((arg, index + inner) for arg in args)
            elif isinstance(kind, type) and (issubclass(kind, datetime)
                                             or kind.__name__ in ("AwareDatetime",
                                                                  "NaiveDatetime")):
                found.append(prefix + (info.alias or name,) + index)
            elif isinstance(kind, type) and hasattr(kind, "model_fields"):
                found.extend(_datetime_fields(kind, prefix + (info.alias or name,) + index))
    return sorted(set(found), key=lambda loc: tuple(map(str, loc)))


def _input_models_with_datetimes() -> list[tuple[str, tuple[str, ...]]]:
    from shared.core.actions import ACTIONS
    cases = []
    for name, spec in sorted(ACTIONS.items()):
        model = getattr(importlib.import_module(spec.module), spec.input_model)
        cases.extend((name, loc) for loc in _datetime_fields(model))
    return cases


def test_merchant_inputs_have_datetime_fields_to_check():
    actions = {action for action, _ in _input_models_with_datetimes()}
    assert {"merchant_create_group_buy", "merchant_create_deal", "merchant_create_coupon",
            "merchant_create_campaign"} <= actions


@pytest.mark.parametrize("action, loc", _input_models_with_datetimes(),
                         ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else v)
def test_every_datetime_in_an_input_refuses_dates_outside_1970_to_2100(action, loc):
    from pydantic import ValidationError

    from shared.core.actions import ACTIONS
    spec = ACTIONS[action]
    model = getattr(importlib.import_module(spec.module), spec.input_model)
    for value in OUT_OF_RANGE:
        payload: dict[str, Any] = {}
        inner: Any = payload
        for part, following in zip(loc[:-1], loc[1:]):
            if isinstance(part, int):        # a list's first item (see _datetime_fields)
                continue
            inner[part] = [{}] if isinstance(following, int) else inner.get(part, {})
            inner = inner[part][0] if isinstance(following, int) else inner[part]
        inner[loc[-1]] = value
        with pytest.raises(ValidationError) as caught:
            model.model_validate(payload)
        assert loc in [tuple(err["loc"]) for err in caught.value.errors()], (value, caught.value)
    inner[loc[-1]] = "2030-06-01T12:00:00+08:00"
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        assert loc not in [tuple(err["loc"]) for err in exc.errors()], exc


def _group_buy(product: dict[str, Any], starts: str, ends: str) -> dict[str, Any]:
    return {"product_id": product["id"], "team_size": 2, "team_ttl_minutes": 60,
            "sku_prices": [{"sku_id": product["skus"][0]["id"], "group_price": 500}],
            "starts_at": starts, "ends_at": ends}


def _deal(product: dict[str, Any], starts: str, ends: str) -> dict[str, Any]:
    store = call("merchant_upsert_store", {"name": "店", "address": "上海市浦东新区世纪大道1号",
                                           "lat": 31.23, "lng": 121.47}, MERCHANT_TOKEN).data
    return {"store_ids": [store["id"]], "sku_id": product["skus"][0]["id"], "deal_price": 500,
            "kind": "today_special", "starts_at": starts, "ends_at": ends}


def _coupon(product: dict[str, Any], starts: str, ends: str) -> dict[str, Any]:
    return {"name": "券", "kind": "fixed", "amount": 100, "total": 10, "valid_from": starts,
            "valid_to": ends}


def _campaign(product: dict[str, Any], starts: str, ends: str) -> dict[str, Any]:
    coupon = call("merchant_create_coupon", {"name": "券", "kind": "fixed", "amount": 100,
                                             "total": 10, "valid_days": 7}, MERCHANT_TOKEN).data
    return {"name": "回归", "coupon_id": coupon["id"], "send_at": starts,
            "template_id": "tpl_promo", "page": "pages/index/index",
            "data": {"thing1": "全场八折"},
            "audience": {"subscribed_template": "tpl_promo", "last_order_before": ends}}


MERCHANT_DATED = {"merchant_create_group_buy": _group_buy, "merchant_create_deal": _deal,
                  "merchant_create_coupon": _coupon, "merchant_create_campaign": _campaign}


@pytest.mark.parametrize("action", sorted(MERCHANT_DATED))
@pytest.mark.parametrize("where", ["starts", "ends"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59Z",
                                   "1900-01-01T00:00:00Z"])
def test_merchant_dates_outside_1970_to_2100_are_422(db, action, where, value):
    product = new_product()
    fine_start, fine_end = "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"
    payload = MERCHANT_DATED[action](product, value if where == "starts" else fine_start,
                                     value if where == "ends" else fine_end)

    answer = call(action, payload, MERCHANT_TOKEN)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR"), answer.body
    control = call(action, MERCHANT_DATED[action](product, fine_start, fine_end),
                   MERCHANT_TOKEN)
    assert control.ok, control.body


@pytest.mark.parametrize("event", [
    {"_invoke": "list_products"}, {"_invoke": "marketing_push_batch"}, {"_invoke": 1},
    {"_invoke": {"$gt": ""}}, {"_invoke": "list_products", "_token": 5},
    {"_token": ["x"]}, {"_token": None}, {"userInfo": "me"}, {"userInfo": {"openId": 7}},
])
@pytest.mark.parametrize("action", ["list_products", "get_profile", "marketing_push_batch"])
def test_reserved_keys_in_a_client_call_are_a_client_error(db, action, event):
    from shared.core.runtime import serve
    answer = serve(action, dict(event), {"request_id": "req-reserved"})

    assert _status_of(answer) < 500, answer
    if "_invoke" in event:
        # a client may not pose as an internal invoke: refused, never run, never a crash
        assert not answer["ok"] and 400 <= _status_of(answer) < 500, answer
