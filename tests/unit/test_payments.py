"""Taking the money through WeChat Pay v3, tested against an independent double.

The double (tests/wxpay_double.py) has its own keys, signing and encryption written from the
spec; the shop is configured for it only through the environment (WXPAY_* as a real merchant
would set them), and its notifies reach the shop over real HTTP through the gateway.

Given / When / Then: each test places an order, drives WeChat Pay or the shop, and checks the
order, the stock and what WeChat Pay was asked.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.conftest import (
    Shopper,
    _forget_pay_clients,
    new_address,
    new_product,
    new_shopper,
    run_threads,
)
from tests.helpers import deliver_owed_events
from tests.wxpay_double import WxPayDouble, new_rsa_key

CST = timezone(timedelta(hours=8))
JSAPI = "/v3/pay/transactions/jsapi"
QUERY = "/v3/pay/transactions/out-trade-no/"
REFUNDS = "/v3/refund/domestic/refunds"
SIGNATURE_HEADERS = ("Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Timestamp",
                     "Wechatpay-Nonce")


# ---- fixtures --------------------------------------------------------------------------------

# ---- helpers ---------------------------------------------------------------------------------

@dataclass
class Placed:
    shopper: Shopper
    order_id: str
    sku_id: str
    product_id: str
    quantity: int
    total: int
    stock_before: int


def place(quantity: int = 2, price: int = 1250, stock: int = 10) -> Placed:
    product = new_product(price=price, stock=stock, title="云南冰糖橙")
    sku_id = product["skus"][0]["id"]
    shopper = new_shopper()
    order = shopper.call("place_order", {
        "request_id": f"req-{sku_id[-12:]}", "address_id": new_address(shopper),
        "items": [{"sku_id": sku_id, "quantity": quantity}]}).data
    assert order["status"] == "pending_payment"
    return Placed(shopper, order["id"], sku_id, product["id"], quantity, order["total"], stock)


def prepaid(quantity: int = 2, price: int = 1250) -> tuple[Placed, dict[str, Any]]:
    """An order with an open prepay at WeChat Pay; returns it and the wx.requestPayment params."""
    placed = place(quantity, price)
    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})
    assert answer.status == 200, answer.body
    return placed, answer.data


def order_doc(db: Any, placed: Placed) -> dict[str, Any]:
    return db.orders.find_one({"_id": placed.order_id})


def units(db: Any, placed: Placed) -> tuple[int, int, int]:
    sku = db.skus.find_one({"_id": placed.sku_id})
    return sku["stock"], sku["locked"], sku["sold"]


def sales(db: Any, placed: Placed) -> int:
    return db.products.find_one({"_id": placed.product_id}).get("sales", 0)


def post_notify(wx: WxPayDouble, headers: dict[str, str], body: bytes,
                route: str = "/pay/notify") -> requests.Response:
    url = wx.gateway + route  # type: ignore[attr-defined]
    return requests.post(url, data=body, headers=headers, timeout=10)


def run_timer(name: str) -> dict[str, Any]:
    from shared.core.dispatch import run_timer as run
    outcome = run(name)
    assert outcome.status == 200, outcome.envelope
    return outcome.envelope["data"]


def age_order(db: Any, placed: Placed, seconds: int = 120) -> None:
    """Pretend the order was placed `seconds` ago (the reconciler leaves fresh orders alone)."""
    created = order_doc(db, placed)["created_at"]
    db.orders.update_one({"_id": placed.order_id},
                         {"$set": {"created_at": created - timedelta(seconds=seconds)}})


def expire_order(db: Any, placed: Placed) -> None:
    db.orders.update_one({"_id": placed.order_id}, {"$set": {
        "pay_deadline": datetime.now(timezone.utc) - timedelta(seconds=1)}})


def assert_paid_once(db: Any, wx: WxPayDouble, placed: Placed) -> dict[str, Any]:
    doc = order_doc(db, placed)
    assert doc["status"] == "paid"
    assert doc["payment"]["transaction_id"] == wx.order(placed.order_id)["transaction_id"]
    assert all(line["stock"] == "sold" for line in doc["items"])
    n, stock = placed.quantity, placed.stock_before
    assert units(db, placed) == (stock - n, 0, n)
    assert sales(db, placed) == n
    return doc


def assert_untouched(db: Any, placed: Placed) -> None:
    doc = order_doc(db, placed)
    assert doc["status"] == "pending_payment"
    assert "transaction_id" not in (doc.get("payment") or {})
    assert "paid_at" not in doc
    assert all(line["stock"] == "locked" for line in doc["items"])
    n = placed.quantity
    assert units(db, placed) == (placed.stock_before - n, n, 0)
    assert sales(db, placed) == 0


def assert_all_signed(wx: WxPayDouble) -> None:
    """Every request the shop sent to WeChat Pay verifies with the merchant public key."""
    assert wx.requests, "the shop sent nothing to WeChat Pay"
    for r in wx.requests:
        assert r.signature_ok, (r.method, r.url, r.sign_error)
        assert r.auth["mchid"] == wx.mchid
        assert r.auth["serial_no"] == wx.cert_serial_no


# ---- pay_order -------------------------------------------------------------------------------

def test_pay_order_sends_a_complete_signed_jsapi_prepay(db, wx):
    placed, params = prepaid(quantity=3, price=990)

    [prepay] = wx.requests_to(JSAPI, "POST")
    assert prepay.signature_ok, prepay.sign_error
    body = prepay.json
    user = db.users.find_one({"_id": placed.shopper.user_id})
    order = order_doc(db, placed)
    assert body["appid"] == wx.appid and body["mchid"] == wx.mchid
    assert body["out_trade_no"] == placed.order_id
    assert "云南冰糖橙" in body["description"]
    assert body["notify_url"] == wx.gateway + "/pay/notify"  # type: ignore[attr-defined]
    assert body["amount"] == {"total": 2970, "currency": "CNY"} and placed.total == 2970
    assert body["payer"] == {"openid": user["openid"]}
    # time_expire is the order's own pay deadline, in China time, to the second
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", body["time_expire"])
    assert datetime.fromisoformat(body["time_expire"]) == \
        order["pay_deadline"].replace(microsecond=0)


def test_pay_order_returns_request_payment_params_signed_with_the_merchant_key(db, wx):
    placed, params = prepaid()

    prepay_id = wx.order(placed.order_id)["prepay_ids"][0]
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["signType"] == "RSA"
    assert abs(int(params["timeStamp"]) - time.time()) < 60
    assert wx.verify_pay_sign(wx.appid, params["timeStamp"], params["nonceStr"],
                              params["package"], params["paySign"])
    assert not wx.verify_pay_sign(wx.appid, params["timeStamp"], params["nonceStr"],
                                  "prepay_id=wx-other", params["paySign"])


def test_paying_twice_reuses_the_open_prepay(db, wx):
    placed, first = prepaid()
    second = placed.shopper.call("pay_order", {"order_id": placed.order_id}).data

    assert second["package"] == first["package"]
    assert len(wx.requests_to(JSAPI)) == 1
    assert wx.verify_pay_sign(wx.appid, second["timeStamp"], second["nonceStr"],
                              second["package"], second["paySign"])
    assert_all_signed(wx)


def test_pay_order_of_another_users_order_is_not_found(db, wx):
    placed = place()
    stranger = new_shopper()

    answer = stranger.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 404 and answer.code == "NOT_FOUND"
    assert wx.requests == []


def test_pay_order_needs_an_unpaid_order(db, wx):
    placed = place()
    assert placed.shopper.call("cancel_order", {"order_id": placed.order_id}).ok

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 409 and answer.code == "INVALID_STATE"
    assert wx.requests_to(JSAPI) == []


def test_pay_order_of_a_paid_order_is_refused(db, wx):
    placed, _ = prepaid()
    wx.pay(placed.order_id)
    assert order_doc(db, placed)["status"] == "paid"

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 409 and answer.code == "INVALID_STATE"
    assert len(wx.requests_to(JSAPI)) == 1


def test_pay_order_past_the_deadline_is_refused(db, wx):
    placed = place()
    expire_order(db, placed)

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 409 and answer.code == "INVALID_STATE"
    assert wx.requests_to(JSAPI) == []


def test_a_wechat_pay_system_error_is_payment_unavailable(db, wx):
    placed = place()
    wx.fail_next(JSAPI, 500, "SYSTEM_ERROR")

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 502 and answer.code == "PAYMENT_UNAVAILABLE"
    assert "prepay_id" not in (order_doc(db, placed).get("payment") or {})
    # the next try reaches WeChat Pay again and works
    retry = placed.shopper.call("pay_order", {"order_id": placed.order_id})
    assert retry.status == 200 and retry.data["package"].startswith("prepay_id=")
    assert len(wx.requests_to(JSAPI)) == 2


def test_orderpaid_from_wechat_pay_is_a_conflict(db, wx):
    placed = place()
    wx.fail_next(JSAPI, 403, "ORDERPAID", "该订单已支付")

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 409 and answer.code in ("INVALID_STATE", "PAYMENT_REFUSED")
    assert_untouched(db, placed)  # WeChat Pay does not really have the money: nothing moves


def test_orderpaid_for_a_payment_whose_notify_was_lost_takes_the_payment_in(db, wx):
    placed, _ = prepaid()
    wx.drop_notifies = True
    wx.pay(placed.order_id)
    # the open prepay ran out, so paying again asks WeChat Pay for a new one: ORDERPAID
    db.orders.update_one({"_id": placed.order_id}, {"$set": {
        "payment.prepay_expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)}})

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 409
    assert [r.status for r in wx.requests_to(JSAPI)] == [200, 403]
    assert_paid_once(db, wx, placed)
    assert_all_signed(wx)


@pytest.mark.parametrize("forgery", ["bad_signature", "tamper", "wrong_serial", "stale",
                                     "unsigned"])
def test_an_answer_that_does_not_verify_is_not_believed(db, wx, forgery):
    placed = place()
    wx.response_forgery = forgery

    answer = placed.shopper.call("pay_order", {"order_id": placed.order_id})

    assert answer.status == 502 and answer.code == "PAYMENT_UNAVAILABLE"
    assert "prepay_id" not in (order_doc(db, placed).get("payment") or {})
    assert_untouched(db, placed)


# ---- the pay notify --------------------------------------------------------------------------

def test_a_genuine_notify_pays_the_order_once(db, wx):
    placed, _ = prepaid()

    wx.pay(placed.order_id)

    [delivery] = wx.notifies
    assert delivery.status_code == 204 and delivery.response_body == b""
    doc = assert_paid_once(db, wx, placed)
    transaction = wx.transaction_resource(placed.order_id)
    user = db.users.find_one({"_id": placed.shopper.user_id})
    assert doc["payment"]["payer_openid"] == user["openid"]
    assert doc["payment"]["success_time"] == transaction["success_time"]
    assert doc["paid_at"] is not None and doc["refundable"] == placed.total
    view = placed.shopper.call("get_order", {"order_id": placed.order_id}).data
    assert view["status"] == "paid" and view["transaction_id"] == transaction["transaction_id"]
    assert_all_signed(wx)


def test_a_notify_pays_the_order_in_the_paid_transitions_round_trip_budget(db, wx):
    from tests.roundtrips import BUDGETS, count_round_trips
    placed, _ = prepaid()
    headers, body = wx.pay(placed.order_id, notify=False)

    with count_round_trips() as trips:
        assert post_notify(wx, headers, body).status_code == 204

    # the order read once (the amount is proved against it), paid, units, sales, lines marked
    assert trips.count <= BUDGETS["paid_transition"], trips.describe()
    assert_paid_once(db, wx, placed)


def test_a_replayed_notify_changes_nothing(db, wx):
    placed, _ = prepaid()
    headers, body = wx.pay(placed.order_id)
    deliver_owed_events()   # the paid order's aftermath, after the answer
    before = order_doc(db, placed)

    replays = [post_notify(wx, headers, body) for _ in range(3)]

    assert [r.status_code for r in replays] == [204, 204, 204]
    assert order_doc(db, placed) == before
    assert_paid_once(db, wx, placed)


def test_ten_concurrent_copies_of_a_notify_make_one_transition(db, wx, monkeypatch):
    import shared.orders.aftermath
    import shared.payments.pay
    placed, _ = prepaid(quantity=3)
    headers, body = wx.pay(placed.order_id, notify=False)
    sold_moves: list[int] = []
    real_move = shared.orders.aftermath.move_lines

    def counting_move(db_: Any, order: dict[str, Any], to: str) -> int:
        moved = real_move(db_, order, to)
        if moved:
            sold_moves.append(moved)
        return moved
    monkeypatch.setattr(shared.orders.aftermath, "move_lines", counting_move)
    outcomes: list[str] = []
    real_apply = shared.payments.pay.apply_transaction

    def recording_apply(*args: Any, **kwargs: Any) -> str:
        outcome = real_apply(*args, **kwargs)
        outcomes.append(outcome)
        return outcome
    monkeypatch.setattr(shared.payments.pay, "apply_transaction", recording_apply)

    answers = run_threads(10, lambda i: post_notify(wx, headers, body))

    assert all(isinstance(a, requests.Response) for a in answers), answers
    assert all(200 <= a.status_code < 300 for a in answers), [a.status_code for a in answers]
    assert sorted(outcomes) == ["already_paid"] * 9 + ["paid"]
    assert sold_moves == [1]
    assert_paid_once(db, wx, placed)


def _forge(wx: WxPayDouble, placed: Placed, kind: str) -> tuple[dict[str, str], bytes]:
    """A notify for the (really paid) order, wrong in exactly one way."""
    resource = wx.transaction_resource(placed.order_id)
    notify: dict[str, Any] = {}
    if kind == "other_key":
        notify["sign_with"] = new_rsa_key()
    elif kind == "tampered_body":
        notify["tamper"] = True
    elif kind == "tampered_ciphertext":
        notify["tamper"] = lambda b: b.replace(b'"ciphertext":"', b'"ciphertext":"AAAA', 1)
    elif kind == "wrong_serial":
        notify["serial"] = "PUB_KEY_ID_0114" + "0" * 28
    elif kind == "stale_timestamp":
        notify["timestamp"] = int(time.time()) - 301
    elif kind == "future_timestamp":
        notify["timestamp"] = int(time.time()) + 301
    elif kind == "wrong_apiv3_key":
        notify["apiv3_key"] = "k" * 32
    elif kind == "wrong_amount":
        resource["amount"]["total"] += 1
        resource["amount"]["payer_total"] += 1
    elif kind == "smaller_amount":
        resource["amount"]["total"] = 1
        resource["amount"]["payer_total"] = 1
    elif kind == "wrong_mchid":
        resource["mchid"] = "1900000001"
    elif kind == "wrong_appid":
        resource["appid"] = "wx0000000000000000"
    elif kind == "unknown_out_trade_no":
        resource["out_trade_no"] = "ord_00000000000000000000"
    elif kind in ("NOTPAY", "CLOSED", "PAYERROR", "REFUND"):
        resource["trade_state"] = kind
    elif kind == "refund_event":
        return wx.build_notify("REFUND.SUCCESS", resource, "transaction")
    elif kind.startswith("missing_"):
        headers, body = wx.build_notify("TRANSACTION.SUCCESS", resource, "transaction")
        return {k: v for k, v in headers.items() if k != kind[len("missing_"):]}, body
    else:  # pragma: no cover
        raise AssertionError(kind)
    return wx.build_notify("TRANSACTION.SUCCESS", resource, "transaction", **notify)


FORGERIES = ["other_key", "tampered_body", "tampered_ciphertext", "wrong_serial",
             "stale_timestamp", "future_timestamp", "wrong_apiv3_key", "wrong_amount",
             "smaller_amount", "wrong_mchid", "wrong_appid", "unknown_out_trade_no", "NOTPAY",
             "CLOSED", "PAYERROR", "refund_event"] + \
            [f"missing_{h}" for h in SIGNATURE_HEADERS]


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_notify_that_does_not_hold_is_rejected_and_changes_nothing(db, wx, kind):
    placed, _ = prepaid()
    wx.pay(placed.order_id, notify=False)  # WeChat Pay has the money: only the notify is wrong
    headers, body = _forge(wx, placed, kind)

    answer = post_notify(wx, headers, body)

    assert 400 <= answer.status_code < 600, answer.status_code
    assert answer.json()["code"] == "FAIL" and answer.json()["message"]
    assert_untouched(db, placed)
    # the genuine notify is still accepted afterwards: the rejection was about the forgery
    genuine = post_notify(wx, *wx.build_notify("TRANSACTION.SUCCESS",
                                               wx.transaction_resource(placed.order_id),
                                               "transaction"))
    assert genuine.status_code == 204
    assert_paid_once(db, wx, placed)


def test_a_notify_with_no_signature_headers_at_all_is_rejected(db, wx):
    placed, _ = prepaid()
    headers, body = wx.pay(placed.order_id, notify=False)

    answer = post_notify(wx, {"Content-Type": "application/json"}, body)

    assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
    assert_untouched(db, placed)


def test_a_notify_that_is_not_json_is_rejected(db, wx):
    from tests.wxpay_double import rsa_sign
    placed, _ = prepaid()
    body, ts, nonce = b"not json {", str(int(time.time())), "n0nce"
    headers = {"Wechatpay-Serial": wx.public_key_id, "Wechatpay-Timestamp": ts,
               "Wechatpay-Nonce": nonce,
               "Wechatpay-Signature": rsa_sign(wx.platform_private_key,
                                               f"{ts}\n{nonce}\n".encode() + body + b"\n")}

    answer = post_notify(wx, headers, body)

    assert answer.status_code == 400 and answer.json()["code"] == "FAIL"
    assert_untouched(db, placed)


def test_notify_header_names_are_accepted_in_any_case(db, wx):
    placed, _ = prepaid()
    headers, body = wx.pay(placed.order_id, notify=False)

    answer = post_notify(wx, {k.lower(): v for k, v in headers.items()}, body)

    assert answer.status_code == 204
    assert_paid_once(db, wx, placed)


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_the_notify_handler_reads_headers_in_any_case(db, wx, case):
    # API Gateway hands headers over lower-cased; the handler must not depend on the spelling
    from shared.payments.pay import accept_pay_notify
    placed, _ = prepaid()
    headers, body = wx.pay(placed.order_id, notify=False)

    accept_pay_notify({case(k): v for k, v in headers.items()}, body)  # raises if refused

    assert_paid_once(db, wx, placed)


def test_a_notify_for_an_order_cancelled_meanwhile_is_refunded_in_full(db, wx):
    placed, _ = prepaid(quantity=2, price=1500)
    # WeChat Pay cannot be asked at the moment of cancelling, so the order is cancelled anyway
    wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")
    cancelled = placed.shopper.call("cancel_order", {"order_id": placed.order_id})
    assert cancelled.status == 200 and cancelled.data["status"] == "cancelled"
    assert units(db, placed) == (placed.stock_before, 0, 0)

    wx.pay(placed.order_id)  # ... and the shopper's payment went through after all

    assert wx.notifies[-1].status_code == 204
    doc = order_doc(db, placed)
    assert doc["status"] == "cancelled" and doc["paid_after_cancel"] is True
    assert doc["payment"]["transaction_id"] == wx.order(placed.order_id)["transaction_id"]
    [refund] = wx.requests_to(REFUNDS, "POST")
    assert refund.signature_ok
    asked = refund.json
    assert asked["out_trade_no"] == placed.order_id and asked["out_refund_no"]
    assert asked["amount"] == {"refund": placed.total, "total": placed.total, "currency": "CNY"}
    assert asked["notify_url"] == wx.gateway + "/pay/refund-notify"  # type: ignore[attr-defined]
    assert wx.refunded_total(placed.order_id) == placed.total
    # the stock released by the cancel is not sold: the units went back on sale
    assert units(db, placed) == (placed.stock_before, 0, 0)

    # WeChat Pay retries the notify: still accepted, never a second refund
    headers, body = wx.pay(placed.order_id, notify=False)
    assert post_notify(wx, headers, body).status_code == 204
    assert wx.refunded_total(placed.order_id) == placed.total
    assert {r.json["out_refund_no"] for r in wx.requests_to(REFUNDS, "POST")} \
        == {asked["out_refund_no"]}

    # the refund lands: the record is done, the order stays cancelled
    wx.finish_refund(asked["out_refund_no"], "SUCCESS")
    assert wx.notifies[-1].status_code == 204
    record = db.refunds.find_one({"_id": asked["out_refund_no"]})
    assert record["status"] == "succeeded" and record["amount"] == placed.total
    assert order_doc(db, placed)["status"] == "cancelled"
    assert units(db, placed) == (placed.stock_before, 0, 0)
    assert_all_signed(wx)


# ---- pay_reconcile ---------------------------------------------------------------------------

def test_a_dropped_notify_is_repaired_by_pay_reconcile(db, wx):
    placed, _ = prepaid()
    wx.drop_notifies = True
    wx.pay(placed.order_id)
    assert wx.notifies[-1].error == "dropped"

    fresh = run_timer("pay_reconcile")  # a minute has not passed: the notify may still come
    assert fresh["checked"] == 0 and wx.requests_to(QUERY, "GET") == []
    assert_untouched(db, placed)

    age_order(db, placed)
    result = run_timer("pay_reconcile")

    assert result["checked"] == 1 and result["paid"] == 1 and result["errors"] == 0
    doc = assert_paid_once(db, wx, placed)
    assert doc["payment"]["success_time"] == wx.order(placed.order_id)["success_time"]
    [query] = wx.requests_to(QUERY, "GET")
    assert query.query == {"mchid": wx.mchid}
    again = run_timer("pay_reconcile")
    assert again["checked"] == 0
    assert_paid_once(db, wx, placed)
    assert_all_signed(wx)


def test_pay_reconcile_leaves_an_unpaid_order_alone(db, wx):
    placed, _ = prepaid()
    age_order(db, placed)

    result = run_timer("pay_reconcile")

    assert result["checked"] == 1 and result["paid"] == 0
    assert_untouched(db, placed)
    assert wx.order(placed.order_id)["trade_state"] == "NOTPAY"


def test_a_crash_between_paid_and_moving_units_is_repaired(db, wx):
    placed, _ = prepaid(quantity=3)
    wx.pay(placed.order_id, notify=False)
    transaction = wx.transaction_resource(placed.order_id)
    # WeChat Pay said paid and the order was marked paid, then the instance died: lines locked
    db.orders.update_one({"_id": placed.order_id, "status": "pending_payment"}, {"$set": {
        "status": "paid", "paid_at": datetime.now(timezone.utc), "refundable": placed.total,
        "payment.transaction_id": transaction["transaction_id"]}})
    assert units(db, placed) == (7, 3, 0)

    result = run_timer("pay_reconcile")

    assert result["repaired"] == 1
    assert_paid_once(db, wx, placed)
    assert sum(units(db, placed)) == placed.stock_before
    assert run_timer("pay_reconcile")["repaired"] == 0
    assert_paid_once(db, wx, placed)


def test_a_crash_inside_the_notify_is_repaired_without_selling_twice(db, wx, monkeypatch):
    import shared.orders.aftermath
    placed, _ = prepaid(quantity=2)
    real_move = shared.orders.aftermath.move_lines

    def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the instance died")
    monkeypatch.setattr(shared.orders.aftermath, "move_lines", crash)
    wx.pay(placed.order_id)
    assert wx.notifies[-1].status_code >= 500  # WeChat Pay will retry
    assert order_doc(db, placed)["status"] == "paid"
    assert [i["stock"] for i in order_doc(db, placed)["items"]] == ["locked"]
    monkeypatch.setattr(shared.orders.aftermath, "move_lines", real_move)

    headers, body = wx.pay(placed.order_id, notify=False)  # the retry
    assert post_notify(wx, headers, body).status_code == 204
    # the retried notify finished what the paid transition still owed: the units are sold
    assert [i["stock"] for i in order_doc(db, placed)["items"]] == ["sold"]
    result = run_timer("pay_reconcile")

    assert result["repaired"] == 0   # nothing left for the reconciler
    assert_paid_once(db, wx, placed)
    assert sum(units(db, placed)) == placed.stock_before


def test_a_failing_query_leaves_the_order_alone_and_counts_an_error(db, wx):
    placed, _ = prepaid()
    wx.pay(placed.order_id, notify=False)
    age_order(db, placed)
    wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")

    result = run_timer("pay_reconcile")

    assert result["checked"] == 1 and result["errors"] == 1 and result["paid"] == 0
    assert_untouched(db, placed)
    assert run_timer("pay_reconcile")["paid"] == 1  # WeChat Pay is back
    assert_paid_once(db, wx, placed)


def test_a_forged_query_answer_is_not_believed_by_pay_reconcile(db, wx):
    placed, _ = prepaid()
    age_order(db, placed)
    wx.pay(placed.order_id, notify=False)
    wx.response_forgery = "bad_signature"

    result = run_timer("pay_reconcile")

    assert result["errors"] == 1 and result["paid"] == 0
    assert_untouched(db, placed)


def test_pay_reconcile_refunds_a_payment_for_an_order_cancelled_while_unreachable(db, wx):
    placed, _ = prepaid()
    wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")
    assert placed.shopper.call("cancel_order", {"order_id": placed.order_id}).ok
    wx.drop_notifies = True
    wx.pay(placed.order_id)
    age_order(db, placed)

    result = run_timer("pay_reconcile")

    assert result["refunding"] == 1
    doc = order_doc(db, placed)
    assert doc["status"] == "cancelled" and doc["paid_after_cancel"] is True
    [refund] = wx.requests_to(REFUNDS, "POST")
    assert refund.json["amount"]["refund"] == placed.total
    assert run_timer("pay_reconcile")["checked"] == 0
    assert_all_signed(wx)


# ---- order_timeout ---------------------------------------------------------------------------

def test_an_expired_order_is_closed_at_wechat_pay_then_cancelled(db, wx):
    placed, _ = prepaid()
    expire_order(db, placed)

    result = run_timer("order_timeout")

    assert result["cancelled"] == 1
    [close] = wx.requests_to("/close", "POST")
    assert close.json == {"mchid": wx.mchid}
    assert wx.order(placed.order_id)["trade_state"] == "CLOSED"
    doc = order_doc(db, placed)
    assert doc["status"] == "cancelled" and doc["cancel_reason"] == "timeout"
    assert units(db, placed) == (placed.stock_before, 0, 0)
    assert_all_signed(wx)


def test_an_expired_order_without_prepay_is_cancelled_without_asking(db, wx):
    placed = place()
    expire_order(db, placed)

    assert run_timer("order_timeout")["cancelled"] == 1

    assert order_doc(db, placed)["status"] == "cancelled"
    assert wx.requests == []


def test_an_expired_order_that_wechat_pay_reports_paid_becomes_paid(db, wx):
    placed, _ = prepaid()
    wx.drop_notifies = True
    wx.pay(placed.order_id)
    expire_order(db, placed)

    result = run_timer("order_timeout")

    assert result["cancelled"] == 0
    assert wx.requests_to("/close") == []
    assert_paid_once(db, wx, placed)


@pytest.mark.parametrize("trouble", ["query_500", "close_500", "unreachable"])
def test_an_expired_order_stays_pending_while_wechat_pay_cannot_say(db, wx, monkeypatch,
                                                                    trouble):
    placed, _ = prepaid()
    expire_order(db, placed)
    if trouble == "query_500":
        wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")
    elif trouble == "close_500":
        wx.fail_next("/close", 500, "SYSTEM_ERROR")
    else:
        monkeypatch.setenv("WXPAY_API_BASE", "http://127.0.0.1:9")  # nothing listens there
        _forget_pay_clients()

    result = run_timer("order_timeout")

    assert result["cancelled"] == 0
    assert order_doc(db, placed)["status"] == "pending_payment"
    assert units(db, placed) == (placed.stock_before - placed.quantity, placed.quantity, 0)
    if trouble == "unreachable":
        monkeypatch.setenv("WXPAY_API_BASE", wx.base_url)
        _forget_pay_clients()
    assert run_timer("order_timeout")["cancelled"] == 1  # WeChat Pay answers again
    assert wx.order(placed.order_id)["trade_state"] == "CLOSED"
    assert order_doc(db, placed)["status"] == "cancelled"


# ---- cancel_order ----------------------------------------------------------------------------

def test_cancelling_closes_the_order_at_wechat_pay(db, wx):
    placed, _ = prepaid()

    answer = placed.shopper.call("cancel_order", {"order_id": placed.order_id})

    assert answer.status == 200 and answer.data["status"] == "cancelled"
    assert len(wx.requests_to("/close", "POST")) == 1
    assert wx.order(placed.order_id)["trade_state"] == "CLOSED"
    assert units(db, placed) == (placed.stock_before, 0, 0)
    with pytest.raises(ValueError):
        wx.pay(placed.order_id)  # the shopper can no longer pay it
    assert_all_signed(wx)


def test_cancelling_an_order_wechat_pay_reports_paid_is_refused_and_it_becomes_paid(db, wx):
    placed, _ = prepaid()
    wx.drop_notifies = True
    wx.pay(placed.order_id)

    answer = placed.shopper.call("cancel_order", {"order_id": placed.order_id})

    assert answer.status == 409 and answer.code == "INVALID_STATE"
    assert answer.body["error"]["details"]["status"] == "paid"
    assert wx.requests_to("/close") == []
    assert_paid_once(db, wx, placed)
    assert_all_signed(wx)


def test_a_payment_made_while_the_order_is_being_closed_is_not_cancelled(db, wx, monkeypatch):
    from shared.wechat.pay import WxPayClient
    placed, _ = prepaid()
    # WeChat Pay still says NOTPAY when asked; the shopper pays just before the close lands,
    # so WeChat Pay answers the close with ORDERPAID: that is WeChat Pay saying "paid"
    wx.drop_notifies = True
    real_close = WxPayClient.close_transaction

    def pay_then_close(self: Any, out_trade_no: str) -> None:
        wx.pay(out_trade_no)
        real_close(self, out_trade_no)
    monkeypatch.setattr(WxPayClient, "close_transaction", pay_then_close)

    answer = placed.shopper.call("cancel_order", {"order_id": placed.order_id})

    [close] = wx.requests_to("/close", "POST")
    assert close.status == 400 and b"ORDERPAID" in close.response_body
    assert answer.status == 409 and answer.code == "INVALID_STATE"
    assert_paid_once(db, wx, placed)
    assert wx.requests_to(REFUNDS) == []


def test_pay_reconcile_keeps_watching_a_cancelled_order_it_could_not_close(db, wx):
    placed, _ = prepaid()
    wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")
    assert placed.shopper.call("cancel_order", {"order_id": placed.order_id}).ok
    assert wx.order(placed.order_id)["trade_state"] == "NOTPAY"  # never closed
    age_order(db, placed)
    wx.fail_next("/close", 500, "SYSTEM_ERROR")

    run_timer("pay_reconcile")  # NOTPAY, and the close fails again

    # the prepay is still open at WeChat Pay: the shopper can still pay it
    wx.drop_notifies = True
    wx.pay(placed.order_id)
    result = run_timer("pay_reconcile")

    assert result["refunding"] == 1
    [refund] = wx.requests_to(REFUNDS, "POST")
    assert refund.json["amount"]["refund"] == placed.total
    assert order_doc(db, placed)["paid_after_cancel"] is True
    # once closed for good, the reconciler stops asking
    placed2, _ = prepaid()
    wx.fail_next(QUERY, 500, "SYSTEM_ERROR", method="GET")
    assert placed2.shopper.call("cancel_order", {"order_id": placed2.order_id}).ok
    age_order(db, placed2)
    run_timer("pay_reconcile")
    assert wx.order(placed2.order_id)["trade_state"] == "CLOSED"
    assert run_timer("pay_reconcile")["checked"] == 0
