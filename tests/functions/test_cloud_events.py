"""Events of the 2026 platforms: Function URLs (and custom domains) over HTTP, the `gateway`
function that serves every route, CloudBase's identity in the context's environment, and the
rule that a call carrying a client identity is never a timer or an internal invoke."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Optional

import pytest

from tests.conftest import load_event, new_address, new_product, new_shopper
from tests.functions.test_handlers import fake_context, http_answer, load_handler

OPENID = "oKp4v5Qm7bZ2xY9cN3dR8sT1uVwE"


def url_event(path: str, body: Any = None, *, method: str = "POST",
              token: Optional[str] = None) -> dict[str, Any]:
    event = load_event("function_url_login.json", path=path, httpMethod=method)
    event["headers"].pop("content-length")
    event["body"] = "" if body is None else json.dumps(body)
    if token:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


def cloudbase_context(name: str, openid: str = OPENID, *, old_shape: bool = False) -> dict:
    """SCF's context plus the per-call environment CloudBase gives non-Node runtimes."""
    values = {"WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID,WX_UNIONID", "WX_OPENID": openid,
              "WX_APPID": "wx1234567890abcdef", "WX_UNIONID": "",
              "TCB_CONTEXT_KEYS": "TCB_ENV", "TCB_ENV": "shop-prod-1a2b"}
    context = fake_context(name)
    if old_shape:
        context["environ"] = ";".join(f"{k}={v}" for k, v in values.items())
    else:
        context["environment"] = json.dumps(values)
    return context


def invoke(name: str, event: Any, context: Optional[dict] = None) -> Any:
    return load_handler(name).main_handler(event, context or fake_context(name))


@pytest.fixture
def trusted_cloudbase(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("TRUST_CLOUDBASE_IDENTITY", "1")
    reset_settings()


# ---- Function URL ---------------------------------------------------------------------------

def test_login_through_its_function_url_answers_a_token():
    status, body = http_answer(invoke("login", load_event("function_url_login.json")))
    assert status == 200 and body["data"]["token"]


def test_the_root_of_a_function_url_is_that_function_s_route():
    status, body = http_answer(invoke("login", url_event("/", {"code": "dev:alice"})))
    assert status == 200 and body["data"]["token"]


def test_a_function_url_of_one_action_does_not_serve_another():
    status, body = http_answer(invoke("login", url_event("/api/get_profile", {})))
    assert status == 404 and body["error"]["code"] == "UNKNOWN_ACTION"


def test_a_function_url_call_to_a_timer_function_runs_nothing():
    status, _ = http_answer(invoke("order_timeout", url_event("/", {})))
    assert status == 404


def test_the_client_address_comes_from_x_scf_remote_addr(monkeypatch):
    import shared.core.http as http
    seen: list[Any] = []
    real = http.dispatch

    def recording(action, payload, creds, request_id=None):
        seen.append(creds.client_ip)
        return real(action, payload, creds, request_id)
    monkeypatch.setattr(http, "dispatch", recording)
    http_answer(invoke("login", load_event("function_url_login.json")))
    assert seen == ["111.206.96.145"]


def test_the_gateway_function_serves_every_route_the_dev_gateway_serves():
    status, health = http_answer(invoke("gateway", load_event("function_url_healthz.json")))
    assert status == 200 and health["data"]["status"] == "ready"
    status, login = http_answer(invoke("gateway", url_event("/api/login", {"code": "dev:ann"})))
    assert status == 200
    token = login["data"]["token"]
    status, profile = http_answer(invoke("gateway", url_event("/api/get_profile", {},
                                                              token=token)))
    assert status == 200 and profile["data"]["id"] == login["data"]["user"]["id"]
    status, products = http_answer(invoke("gateway", url_event("/api/list_products",
                                                               {"page_size": 1})))
    assert status == 200 and "items" in products["data"]


@pytest.mark.parametrize("path", ["/pay/notify", "/pay/refund-notify"])
def test_the_gateway_function_answers_notifies_in_wechat_pay_s_protocol(path):
    response = invoke("gateway", url_event(path, {"id": "forged"}))
    assert response["statusCode"] in (400, 401)
    assert json.loads(response["body"])["code"] == "FAIL"


def test_the_gateway_function_is_no_action_for_a_callfunction_event():
    answer = invoke("gateway", {"code": "dev:alice"})
    assert answer["ok"] is False and answer["error"]["code"] == "UNKNOWN_ACTION"


def test_api_gateway_events_stay_supported_next_to_function_urls():
    status, body = http_answer(invoke("login", load_event("apigw_login.json")))
    assert status == 200 and body["data"]["token"]


# ---- timers ---------------------------------------------------------------------------------

def expired_order(db: Any) -> str:
    from shared.core.common import utcnow
    sku_id = new_product(stock=3)["skus"][0]["id"]
    bob = new_shopper("bob")
    order = bob.call("place_order", {"request_id": "req-expired", "address_id": new_address(bob),
                                     "items": [{"sku_id": sku_id, "quantity": 1}]}).data
    db.orders.update_one({"_id": order["id"]},
                         {"$set": {"pay_deadline": utcnow() - timedelta(minutes=1)}})
    return order["id"]


def test_a_lowercase_timer_event_runs_the_timer(db):
    order_id = expired_order(db)
    answer = invoke("order_timeout", load_event("timer_lowercase.json"))
    assert answer["ok"] is True and answer["data"]["cancelled"] == 1
    assert db.orders.find_one({"_id": order_id})["status"] == "cancelled"


def test_a_timer_event_with_cloudbase_user_info_is_a_client_call(db):
    order_id = expired_order(db)
    event = {**load_event("timer_order_timeout.json"),
             **load_event("callfunction_get_profile.json")}
    answer = invoke("order_timeout", event)
    assert answer["ok"] is False and answer["error"]["code"] == "UNKNOWN_ACTION"
    assert db.orders.find_one({"_id": order_id})["status"] == "pending_payment"


def test_a_timer_event_with_wx_openid_in_the_context_is_a_client_call(db):
    order_id = expired_order(db)
    answer = invoke("order_timeout", load_event("timer_order_timeout.json"),
                    cloudbase_context("order_timeout"))
    assert answer["ok"] is False
    assert db.orders.find_one({"_id": order_id})["status"] == "pending_payment"


@pytest.mark.parametrize("identity", ["userInfo", "context"])
def test_an_invoke_carrying_a_client_identity_is_never_run_as_an_invoke(identity, monkeypatch):
    import shared.core.runtime as runtime
    ran: list[str] = []
    monkeypatch.setattr(runtime, "run_internal", lambda *args: ran.append("internal"))
    event: dict[str, Any] = {"_invoke": "marketing_push_batch", "job_id": "job_1", "batch": 0,
                             "signature": "0" * 64}
    context = None
    if identity == "userInfo":
        event["userInfo"] = {"appId": "wx1234567890abcdef", "openId": OPENID}
    else:
        context = cloudbase_context("marketing_push_batch")
    answer = invoke("marketing_push_batch", event, context)
    assert ran == []
    assert answer["ok"] is False and answer["error"]["code"] != "INTERNAL"


# ---- CloudBase identity in the context ------------------------------------------------------

@pytest.mark.parametrize("old_shape", [False, True], ids=["environment", "environ"])
def test_the_context_s_wx_openid_is_the_caller_when_trusted(trusted_cloudbase, db, old_shape):
    answer = invoke("get_profile", {}, cloudbase_context("get_profile", old_shape=old_shape))
    assert answer["ok"] is True, answer
    assert db.users.find_one({"openid": OPENID})["_id"] == answer["data"]["id"]


def test_the_context_s_identity_wins_over_user_info(trusted_cloudbase, db):
    event = {"userInfo": {"appId": "wx1234567890abcdef", "openId": "o-someone-else"}}
    answer = invoke("get_profile", event, cloudbase_context("get_profile"))
    assert db.users.find_one({"openid": OPENID})["_id"] == answer["data"]["id"]


def test_the_context_s_identity_is_ignored_unless_trusted():
    answer = invoke("get_profile", {}, cloudbase_context("get_profile"))
    assert answer["ok"] is False and answer["error"]["code"] == "UNAUTHENTICATED"


def test_the_context_s_identity_never_identifies_an_http_caller(trusted_cloudbase):
    status, body = http_answer(invoke("get_profile", url_event("/", {}),
                                      cloudbase_context("get_profile")))
    assert status == 401 and body["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("environment", ["", "not json", "[1, 2]", '{"WX_OPENID": 7}'])
def test_an_unreadable_context_environment_is_no_identity(trusted_cloudbase, environment):
    context = {**fake_context("get_profile"), "environment": environment}
    answer = invoke("get_profile", {}, context)
    assert answer["error"]["code"] == "UNAUTHENTICATED"
