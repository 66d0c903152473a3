"""get_experiment_variant through every entry the mini-program uses: HTTP through the gateway
(anonymous and with a token), and callFunction events through the generated handler (a
device, a `_token`, and CloudBase's trusted identity); the merchant's actions over HTTP."""
from __future__ import annotations

from typing import Any

import requests

from shared.insight.experiments import assign
from tests.conftest import MERCHANT_TOKEN, load_event, new_shopper
from tests.functions.test_cloud_events import cloudbase_context, invoke, trusted_cloudbase  # noqa

TWO = [{"name": "grid", "weight": 1}, {"name": "list", "weight": 1}]


def post(gateway: str, action: str, body: dict[str, Any], token: str = "") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{gateway}/api/{action}", json=body, headers=headers, timeout=10)


def test_over_http_a_device_then_its_user_see_one_variant(gateway: str, db: Any) -> None:
    created = post(gateway, "merchant_create_experiment",
                   {"key": "home_layout", "variants": TWO, "metric": "order_paid"},
                   MERCHANT_TOKEN)
    assert created.status_code == 200, created.text
    shopper = new_shopper()

    anonymous = post(gateway, "get_experiment_variant",
                     {"key": "home_layout", "device_id": "device-http-0001"})
    logged_in = post(gateway, "get_experiment_variant",
                     {"key": "home_layout", "device_id": "device-http-0001"}, shopper.token)
    refused = post(gateway, "get_experiment_variant", {"key": "home_layout"})
    report = post(gateway, "merchant_experiment_report", {"key": "home_layout"}, MERCHANT_TOKEN)

    assert anonymous.status_code == 200 and logged_in.status_code == 200
    assert anonymous.json()["data"] == logged_in.json()["data"] == {
        "key": "home_layout", "variant": assign("home_layout", "device-http-0001", TWO)}
    assert refused.status_code == 422
    assert report.status_code == 200 and report.json()["data"]["users"] == 1


def test_a_callfunction_event_with_a_device_or_a_token(db: Any) -> None:
    invoke("merchant_create_experiment", {"key": "home_layout", "variants": TWO,
                                          "metric": "order_paid", "_token": MERCHANT_TOKEN})
    shopper = new_shopper()

    device = invoke("get_experiment_variant", {"key": "home_layout",
                                               "device_id": "device-cloud-01"})
    user = invoke("get_experiment_variant", {"key": "home_layout", "_token": shopper.token})

    assert device == {"ok": True, "data": {
        "key": "home_layout", "variant": assign("home_layout", "device-cloud-01", TWO)}}
    assert user["data"]["variant"] == assign("home_layout", shopper.user_id, TWO)
    assert db.experiment_exposures.count_documents({"key": "home_layout"}) == 2


def test_cloudbase_identity_makes_the_subject_the_user(trusted_cloudbase: None,  # noqa: F811
                                                      db: Any) -> None:
    invoke("merchant_create_experiment", {"key": "home_layout", "variants": TWO,
                                          "metric": "order_paid", "_token": MERCHANT_TOKEN})
    event = {**load_event("callfunction_get_profile.json"), "key": "home_layout"}

    answer = invoke("get_experiment_variant", event,
                    cloudbase_context("get_experiment_variant"))

    openid = event["userInfo"]["openId"]
    user_id = db.users.find_one({"openid": openid})["_id"]
    assert answer["data"]["variant"] == assign("home_layout", user_id, TWO)
    assert db.experiment_exposures.find_one({"key": "home_layout"})["user_id"] == user_id
