"""Each functions/<name>/index.py fed the event shapes the cloud sends it: API Gateway, timer,
callFunction. Handlers are loaded by path under their own module name, as SCF loads them."""
from __future__ import annotations

import ast
import base64
import importlib.util
import json
import sys
from datetime import timedelta
from types import ModuleType
from typing import Any, Optional

import pytest

from tests.conftest import MERCHANT_TOKEN, ROOT, load_event, new_address, new_product, new_shopper

FUNCTIONS = ROOT / "functions"
FUNCTION_NAMES = sorted(path.parent.name for path in FUNCTIONS.glob("*/index.py"))


def fake_context(name: str) -> dict[str, Any]:
    """What SCF's Python runtime passes as ``context``: a plain dict."""
    return {"request_id": f"req-{name}-0001", "function_name": name,
            "function_version": "$LATEST", "namespace": "default",
            "memory_limit_in_mb": 256, "time_limit_in_ms": 10000,
            "tencentcloud_region": "ap-guangzhou", "tencentcloud_appid": "1250000000"}


def load_handler(name: str) -> ModuleType:
    """functions/<name>/index.py under a module name of its own (every file is index.py)."""
    path = FUNCTIONS / name / "index.py"
    module_name = f"scf_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return module


def invoke(name: str, event: Any) -> Any:
    return load_handler(name).main_handler(event, fake_context(name))


def gateway_event(name: str = "apigw_login.json", *, path: Optional[str] = None,
                  body: Any = None, token: Optional[str] = None, **overrides: Any) -> dict:
    event = load_event(name, **overrides)
    if path is not None:
        event["path"] = path
        event["requestContext"]["path"] = path
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"].pop("content-length", None)
    if token is not None:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


def http_answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Check the integrated-response shape API Gateway needs, and read its JSON body."""
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}, response
    assert response["isBase64Encoded"] is False
    assert isinstance(response["statusCode"], int)
    assert isinstance(response["headers"], dict) and isinstance(response["body"], str)
    content_type = {k.lower(): v for k, v in response["headers"].items()}["content-type"]
    assert content_type.startswith("application/json")
    body = json.loads(response["body"])
    assert isinstance(body, dict) and isinstance(body.get("ok"), bool)
    if not body["ok"]:
        assert set(body["error"]) >= {"code", "message", "details"}
        assert "Traceback" not in response["body"]
    return response["statusCode"], body


def assert_envelope(answer: Any) -> None:
    from shared.core.errors import ERRORS
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
    json.dumps(answer)  # what the platform serialises must be plain JSON
    if answer["ok"]:
        assert "data" in answer
    else:
        assert answer["error"]["code"] in ERRORS
        assert answer["error"]["code"] != "INTERNAL", answer


@pytest.fixture
def trusted_cloudbase(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("TRUST_CLOUDBASE_IDENTITY", "1")
    reset_settings()


# ---- API Gateway ----------------------------------------------------------------------------

def test_login_over_api_gateway_answers_an_integrated_response_with_a_token():
    status, body = http_answer(invoke("login", load_event("apigw_login.json")))
    assert status == 200
    assert body["ok"] is True
    assert body["data"]["token"]
    assert body["data"]["user"]["id"]
    assert "session_key" not in json.dumps(body)


def test_the_gateway_request_id_is_echoed_in_the_response_headers():
    response = invoke("login", load_event("apigw_login.json"))
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["x-request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_the_login_token_works_for_a_user_action_over_api_gateway():
    token = http_answer(invoke("login", load_event("apigw_login.json")))[1]["data"]["token"]
    event = gateway_event(path="/api/get_profile", body={}, token=token)
    status, body = http_answer(invoke("get_profile", event))
    assert status == 200 and body["data"]["id"]


def test_a_base64_encoded_body_is_decoded():
    event = load_event("apigw_base64.json")
    assert event["isBase64Encoded"] is True
    status, body = http_answer(invoke("login", event))
    assert status == 200
    assert body["data"]["token"]


def test_a_stage_prefix_before_api_is_ignored():
    status, body = http_answer(invoke("login", gateway_event(path="/release/api/login")))
    assert status == 200 and body["ok"]


def test_malformed_json_is_400_bad_request():
    status, body = http_answer(invoke("login", gateway_event(body='{"code": "dev:alice"')))
    assert status == 400
    assert body["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("raw_body", ["[1, 2, 3]", '"dev:alice"', "42", "null", "true",
                                      "\u4e71\u7801{{{", "\x00\x01\x02", "{" * 5000])
def test_a_body_that_is_not_a_json_object_is_a_client_error(raw_body):
    status, body = http_answer(invoke("login", gateway_event(body=raw_body)))
    assert 400 <= status < 500, body
    assert body["error"]["code"] in ("BAD_REQUEST", "VALIDATION_ERROR")


@pytest.mark.parametrize("body", [[1, 2], 42, {"code": "dev:alice", "extra": {"deep": [1]}}])
def test_a_body_that_is_not_a_string_never_gives_500(body):
    event = load_event("apigw_login.json", body=body)  # a gateway sends strings; a test may not
    status, _ = http_answer(invoke("login", event))
    assert status < 500


@pytest.mark.parametrize("raw", ["not base64 at all!", "eyJjb2RlIjoiZGV2", "////", "=",
                                 base64.b64encode(b"\xff\xfe\x00garbage").decode()])
def test_broken_base64_never_gives_500(raw):
    event = load_event("apigw_base64.json", body=raw)
    event["headers"].pop("content-length", None)
    status, body = http_answer(invoke("login", event))
    assert 400 <= status < 500
    assert body["error"]["code"] in ("BAD_REQUEST", "VALIDATION_ERROR")


@pytest.mark.parametrize("broken", [{"headers": ["content-type"]}, {"headers": "x"},
                                    {"requestContext": "nope"}, {"queryString": [1, 2]},
                                    {"isBase64Encoded": True, "body": 12345}])
def test_a_mangled_gateway_event_never_gives_500(broken):
    status, _ = http_answer(invoke("login", load_event("apigw_login.json", **broken)))
    assert status < 500


def test_an_unknown_path_is_404():
    status, body = http_answer(invoke("login", gateway_event(path="/wp-admin/setup.php")))
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"


def test_a_get_on_an_action_path_is_405():
    event = gateway_event(path="/api/x", httpMethod="GET", body="")
    event["requestContext"]["httpMethod"] = "GET"
    status, body = http_answer(invoke("login", event))
    assert status == 405
    assert body["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_path_naming_another_action_than_the_function_is_404_unknown_action():
    token = new_shopper("mallory").token
    event = gateway_event(path="/api/get_profile", body={}, token=token)
    status, body = http_answer(invoke("login", event))
    assert status == 404
    assert body["error"]["code"] == "UNKNOWN_ACTION"


def test_a_merchant_action_cannot_be_reached_through_a_public_function():
    event = gateway_event(path="/api/merchant_list_orders", body={}, token=MERCHANT_TOKEN)
    status, body = http_answer(invoke("list_products", event))
    assert status == 404 and body["error"]["code"] == "UNKNOWN_ACTION"


def test_a_user_action_without_a_token_is_401_over_api_gateway():
    status, body = http_answer(invoke("get_profile", gateway_event(path="/api/get_profile",
                                                                   body={})))
    assert status == 401
    assert body["error"]["code"] == "UNAUTHENTICATED"


def test_a_forged_token_is_401_over_api_gateway():
    event = gateway_event(path="/api/get_profile", body={}, token="eyJhbGciOi.forged.token")
    status, body = http_answer(invoke("get_profile", event))
    assert status == 401 and body["error"]["code"] == "UNAUTHENTICATED"


def test_a_user_id_in_the_body_is_no_identity():
    alice = new_shopper("alice")
    event = gateway_event(path="/api/get_profile", body={"user_id": alice.user_id})
    status, body = http_answer(invoke("get_profile", event))
    assert status in (401, 422)
    assert alice.user_id not in json.dumps(body)


def test_an_api_gateway_call_to_a_timer_function_runs_nothing():
    event = gateway_event(path="/api/order_timeout", body={}, token=MERCHANT_TOKEN)
    status, body = http_answer(invoke("order_timeout", event))
    assert status == 404 and body["error"]["code"] == "UNKNOWN_ACTION"


# ---- timer ----------------------------------------------------------------------------------

def test_the_timer_event_cancels_expired_unpaid_orders_and_releases_their_stock(db):
    from shared.core.common import utcnow
    product = new_product(price=990, stock=5)
    sku_id = product["skus"][0]["id"]
    bob = new_shopper("bob")
    order = bob.call("place_order", {"request_id": "req-timer-1", "address_id": new_address(bob),
                                     "items": [{"sku_id": sku_id, "quantity": 2}]}).data
    fresh = bob.call("place_order", {"request_id": "req-timer-2", "address_id": new_address(bob),
                                     "items": [{"sku_id": sku_id, "quantity": 1}]}).data
    assert db.skus.find_one({"_id": sku_id})["stock"] == 2
    db.orders.update_one({"_id": order["id"]},
                         {"$set": {"pay_deadline": utcnow() - timedelta(minutes=1)}})

    answer = invoke("order_timeout", load_event("timer_order_timeout.json"))

    assert answer == {"ok": True, "data": answer["data"]}
    assert answer["data"]["cancelled"] == 1
    assert bob.call("get_order", {"order_id": order["id"]}).data["status"] == "cancelled"
    assert bob.call("get_order", {"order_id": fresh["id"]}).data["status"] == "pending_payment"
    sku = db.skus.find_one({"_id": sku_id})
    assert (sku["stock"], sku["locked"]) == (4, 1)


def test_the_timer_is_idempotent_when_run_twice(db):
    from shared.core.common import utcnow
    sku_id = new_product(stock=3)["skus"][0]["id"]
    bob = new_shopper("bob")
    order = bob.call("place_order", {"request_id": "req-twice", "address_id": new_address(bob),
                                     "items": [{"sku_id": sku_id, "quantity": 3}]}).data
    db.orders.update_one({"_id": order["id"]},
                         {"$set": {"pay_deadline": utcnow() - timedelta(seconds=1)}})
    first = invoke("order_timeout", load_event("timer_order_timeout.json"))
    second = invoke("order_timeout", load_event("timer_order_timeout.json"))
    assert (first["data"]["cancelled"], second["data"]["cancelled"]) == (1, 0)
    sku = db.skus.find_one({"_id": sku_id})
    assert (sku["stock"], sku["locked"]) == (3, 0)


def test_a_timer_event_sent_to_an_action_function_runs_no_timer():
    answer = invoke("login", load_event("timer_order_timeout.json"))
    assert answer["ok"] is False
    assert answer["error"]["code"] == "UNKNOWN_ACTION"


# ---- callFunction ---------------------------------------------------------------------------

def test_callfunction_list_products_answers_the_envelope():
    new_product(title="callFunction 苹果")
    answer = invoke("list_products", load_event("callfunction_list_products.json"))
    assert answer["ok"] is True
    assert answer["data"]["total"] == 1
    assert answer["data"]["items"][0]["title"] == "callFunction 苹果"


def test_cloudbase_identity_is_ignored_unless_trusted():
    answer = invoke("get_profile", load_event("callfunction_get_profile.json"))
    assert answer["ok"] is False
    assert answer["error"]["code"] == "UNAUTHENTICATED"


def test_cloudbase_identity_is_the_caller_when_trusted(trusted_cloudbase, db):
    first = invoke("get_profile", load_event("callfunction_get_profile.json"))
    again = invoke("get_profile", load_event("callfunction_get_profile.json"))
    assert first["ok"] is True, first
    assert again["data"]["id"] == first["data"]["id"]
    openid = load_event("callfunction_get_profile.json")["userInfo"]["openId"]
    assert db.users.find_one({"openid": openid})["_id"] == first["data"]["id"]


def test_trusted_cloudbase_identity_places_an_order_for_that_caller(trusted_cloudbase):
    sku_id = new_product(stock=2)["skus"][0]["id"]
    cloud = load_event("callfunction_get_profile.json")
    address = invoke("add_address", {**cloud, "name": "李四", "phone": "13900139000",
                                      "province": "广东省", "city": "深圳市",
                                      "district": "南山区", "detail": "科技园1号"})
    assert address["ok"], address
    order = invoke("place_order", {**cloud, "request_id": "cb-order-0001",
                                    "address_id": address["data"]["id"],
                                    "items": [{"sku_id": sku_id, "quantity": 1}]})
    assert order["ok"], order
    mine = invoke("list_orders", dict(cloud))
    assert [o["id"] for o in mine["data"]["items"]] == [order["data"]["id"]]


def test_an_empty_openid_is_no_identity_even_when_trusted(trusted_cloudbase):
    event = load_event("callfunction_get_profile.json",
                       userInfo={"appId": "wx1234567890abcdef", "openId": ""})
    answer = invoke("get_profile", event)
    assert answer["error"]["code"] == "UNAUTHENTICATED"


def test_cloudbase_identity_in_an_http_body_is_never_trusted(trusted_cloudbase):
    cloud = load_event("callfunction_get_profile.json")
    event = gateway_event(path="/api/get_profile", body={"userInfo": cloud["userInfo"]})
    status, body = http_answer(invoke("get_profile", event))
    assert status in (401, 422)
    assert body["ok"] is False


def test_a_token_field_in_a_callfunction_event_identifies_the_caller():
    alice = new_shopper("alice")
    answer = invoke("get_profile", {"_token": alice.token})
    assert answer["ok"] is True
    assert answer["data"]["id"] == alice.user_id


def test_a_bad_token_field_in_a_callfunction_event_is_unauthenticated():
    answer = invoke("get_profile", {"_token": "not-a-token"})
    assert answer["error"]["code"] == "UNAUTHENTICATED"


def test_callfunction_validation_errors_name_the_field():
    answer = invoke("login", {"code": ""})
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in answer["error"]["details"]["fields"]] == ["code"]


@pytest.mark.parametrize("event", [None, [], "dev:alice", 42, {"userInfo": "x", "_token": 7}])
def test_a_callfunction_event_of_any_shape_gives_an_envelope(event):
    assert_envelope(invoke("login", event))


# ---- every function -------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_is_a_thin_handler_serving_its_own_folder_name(name, monkeypatch):
    tree = ast.parse((FUNCTIONS / name / "index.py").read_text(encoding="utf-8"))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions] == ["main_handler"]
    assert [a.arg for a in functions[0].args.args] == ["event", "context"]
    assert len(functions[0].body) == 1 and isinstance(functions[0].body[0], ast.Return)
    assert all(isinstance(node, (ast.ImportFrom, ast.FunctionDef, ast.Expr))
               for node in tree.body), "an entry point holds no logic"

    import shared.core.runtime
    seen: list[tuple[str, Any, Any]] = []
    monkeypatch.setattr(shared.core.runtime, "serve",
                        lambda action, event, context: seen.append((action, event, context))
                        or {"ok": True, "data": None})
    event, context = {"probe": name}, fake_context(name)
    load_handler(name).main_handler(event, context)
    assert seen == [(name, event, context)]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_answers_an_empty_callfunction_event_with_an_envelope(name):
    assert_envelope(invoke(name, {}))


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_answers_a_gateway_event_with_an_http_response(name):
    status, _ = http_answer(invoke(name, gateway_event(path=f"/api/{name}", body={})))
    assert status < 500


# ---- generated files in sync ----------------------------------------------------------------

def test_every_action_and_timer_has_its_function_folder():
    from shared.core.actions import ACTIONS, INTERNAL_FUNCTIONS, NOTIFY_ROUTES, TIMERS
    from shared.core.http import GATEWAY_FUNCTION
    assert set(FUNCTION_NAMES) == (set(ACTIONS) | set(TIMERS) | set(NOTIFY_ROUTES)
                                   | set(INTERNAL_FUNCTIONS) | {GATEWAY_FUNCTION}), \
        "run scripts/gen_functions"


def test_gen_functions_writes_exactly_the_committed_handlers(tmp_path, monkeypatch):
    """Run the generator against a copy of the tree; nothing it writes may differ."""
    # the script has no .py suffix, so spec_from_file_location cannot guess its loader
    from importlib.machinery import SourceFileLoader
    loader = SourceFileLoader("gen_functions_under_test", str(ROOT / "scripts" / "gen_functions"))
    module = ModuleType(loader.name)
    module.__file__ = loader.path
    loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    module.main()
    for name in FUNCTION_NAMES:
        generated = (tmp_path / "functions" / name / "index.py").read_text(encoding="utf-8")
        assert generated == (FUNCTIONS / name / "index.py").read_text(encoding="utf-8"), name
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
               if p.is_file() and p.parts[len(tmp_path.parts)] != "functions"}
    committed = {"serverless.yml", "cloudbaserc.json"} | {
        p.relative_to(ROOT).as_posix() for p in ROOT.glob("sls-*/serverless.yml")}
    assert written == committed, "run scripts/gen_functions"
    for relative in written:
        assert ((tmp_path / relative).read_text(encoding="utf-8")
                == (ROOT / relative).read_text(encoding="utf-8")), relative
