"""After-sales and refunds: what a request may take back, the review and return state
machine, stock and coupons coming back, races, refunds WeChat Pay refuses, the refund notify,
and ownership.

Orders are paid through the loopback WeChat Pay sandbox (a genuine, signed notify), and every
refund goes to the sandbox, which posts a genuine REFUND.* notify into the app; in tests it does
so synchronously (conftest's ``pay_sandbox``), so a refund has landed when the call that asked
for it returns. A test that looks at the states in between holds the sandbox's refunds
(``held``) and finishes them itself.
"""
from __future__ import annotations

import base64
import itertools
import json
import secrets
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import merchant, new_address, new_product, new_shopper, run_threads

_request_ids = itertools.count(1)


# ---- helpers -------------------------------------------------------------------------------

class Buyer:
    """A shopper with an address who places orders and pays them through the sandbox."""

    def __init__(self) -> None:
        self.shopper = new_shopper()
        self.user_id = self.shopper.user_id
        self.address_id = new_address(self.shopper)

    def call(self, action: str, payload: Any = None) -> Any:
        return self.shopper.call(action, payload)

    def place(self, lines: list[tuple[str, int]], coupon_id: Optional[str] = None) -> dict:
        payload = {"request_id": f"req-afs-{next(_request_ids):05d}",
                   "address_id": self.address_id,
                   "items": [{"sku_id": s, "quantity": q} for s, q in lines]}
        if coupon_id:
            payload["coupon_id"] = coupon_id
        return self.call("place_order", payload).data

    def paid_order(self, lines: list[tuple[str, int]], coupon_id: Optional[str] = None) -> dict:
        order = self.place(lines, coupon_id)
        paid = self.call("sandbox_pay", {"order_id": order["id"]}).data
        assert (paid["notify_status"], paid["order"]["status"]) == (204, "paid")
        return paid["order"]

    def ask(self, order_id: str, items: Optional[list[tuple[str, int]]] = None,
            kind: str = "refund_only") -> Any:
        payload: dict[str, Any] = {"order_id": order_id, "type": kind, "reason": "不想要了",
                                   "images": []}
        if items is not None:
            payload["items"] = [{"sku_id": s, "quantity": q} for s, q in items]
        return self.call("request_after_sale", payload)

    def after_sale(self, after_sale_id: str) -> dict:
        return self.call("get_after_sale", {"after_sale_id": after_sale_id}).data

    def order(self, order_id: str) -> dict:
        return self.call("get_order", {"order_id": order_id}).data


def review(after_sale_id: str, decision: str = "approve") -> Any:
    return merchant("merchant_review_after_sale", {"after_sale_id": after_sale_id,
                                                   "decision": decision, "note": "同意"})


def confirm_received(after_sale_id: str) -> Any:
    return merchant("merchant_confirm_return_received", {"after_sale_id": after_sale_id})


def ship(order_id: str) -> None:
    merchant("merchant_ship_order", {"order_id": order_id, "carrier": "SF",
                                     "tracking_no": "SF1234567890"}).data


def send_back(buyer: Buyer, after_sale_id: str) -> Any:
    return buyer.call("submit_return_shipment", {"after_sale_id": after_sale_id,
                                                 "carrier": "YTO", "tracking_no": "YT9876543210"})


def sku(price: int, stock: int = 10) -> str:
    return new_product(price=price, stock=stock)["skus"][0]["id"]


def coupon_for(buyer: Buyer, amount: int) -> str:
    template = merchant("merchant_create_coupon", {
        "name": "满减券", "kind": "fixed", "amount": amount, "threshold": 0, "total": 10,
        "per_user_limit": 1, "valid_days": 7}).data
    return buyer.call("claim_coupon", {"coupon_id": template["id"]}).data["id"]


def stock(db: Any, sku_id: str) -> tuple[int, int, int]:
    doc = db.skus.find_one({"_id": sku_id})
    return doc["stock"], doc.get("locked", 0), doc.get("sold", 0)


def sandbox_refunds(order_id: str) -> list[dict]:
    from shared.wechat.pay_sandbox import get_sandbox
    sandbox = get_sandbox()
    with sandbox.lock:
        return [r for r in sandbox.refunds.values() if r["out_trade_no"] == order_id]


@pytest.fixture
def buyer() -> Buyer:
    return Buyer()


class Held:
    """The sandbox takes refunds but finishes none until the test says so."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.taken: list[str] = []
        self.original: Any = None

    def finish(self, out_refund_no: str, status: str = "SUCCESS") -> dict:
        # the synchronous sandbox handed the refund over before answering the shop
        assert out_refund_no in self.taken, "the sandbox never took the refund"
        return self.original(self.sandbox, out_refund_no, status)


@pytest.fixture
def held(pay_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Held:
    from shared.wechat.pay_sandbox import PaySandbox
    holder = Held(pay_sandbox)
    holder.original = PaySandbox.finish_refund
    monkeypatch.setattr(PaySandbox, "finish_refund",
                        lambda self, no, status="SUCCESS": holder.taken.append(no) or {})
    return holder


@pytest.fixture
def deliveries(pay_sandbox: Any, monkeypatch: pytest.MonkeyPatch) \
        -> list[tuple[str, dict, bytes]]:
    """Every notify the sandbox delivers to the shop, recorded as it goes out (url, headers,
    body)."""
    sent: list[tuple[str, dict, bytes]] = []
    real = pay_sandbox.deliver

    def record(url: str, headers: dict, body: bytes) -> int:
        sent.append((url, dict(headers), body))
        return real(url, headers, body)
    monkeypatch.setattr(pay_sandbox, "deliver", record)
    return sent


def post_refund_notify(headers: dict, body: bytes) -> int:
    from werkzeug.test import Client

    from shared.core.http import app
    return Client(app).post("/pay/refund-notify", data=body, headers=headers).status_code


def refund_notify(out_refund_no: str, *, key: Any = None, apiv3_key: Optional[bytes] = None,
                  timestamp: Optional[int] = None, refund: Optional[int] = None,
                  status: str = "SUCCESS") -> tuple[dict, bytes]:
    """A REFUND.* notify built here from the protocol, signed with the sandbox's WeChat Pay
    key unless another ``key`` is given."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from shared.wechat.pay_crypto import rfc3339, rsa_sign
    from shared.wechat.pay_sandbox import get_sandbox
    sandbox = get_sandbox()
    record = sandbox.refunds[out_refund_no]
    amount = dict(record["amount"])
    if refund is not None:
        amount.update(refund=refund, payer_refund=refund)
    resource = {"mchid": sandbox.mchid, "out_trade_no": record["out_trade_no"],
                "transaction_id": record["transaction_id"], "out_refund_no": out_refund_no,
                "refund_id": record["refund_id"], "refund_status": status,
                "success_time": rfc3339(datetime.now(timezone.utc)),
                "user_received_account": record["user_received_account"],
                "amount": {k: amount[k] for k in ("total", "refund", "payer_total",
                                                  "payer_refund")}}
    iv = secrets.token_hex(6)
    ciphertext = AESGCM(apiv3_key or sandbox.apiv3_key).encrypt(
        iv.encode(), json.dumps(resource).encode(), b"refund")
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(10), "create_time": rfc3339(datetime.now(timezone.utc)),
        "resource_type": "encrypt-resource", "event_type": f"REFUND.{status}",
        "summary": "退款成功",
        "resource": {"original_type": "refund", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ciphertext).decode(),
                     "associated_data": "refund", "nonce": iv}}).encode()
    stamp, nonce_str = str(timestamp or int(time.time())), secrets.token_hex(16)
    message = f"{stamp}\n{nonce_str}\n{body.decode()}\n"
    headers = {"Content-Type": "application/json", "Wechatpay-Timestamp": stamp,
               "Wechatpay-Nonce": nonce_str, "Wechatpay-Serial": sandbox.public_key_id,
               "Wechatpay-Signature": rsa_sign(key or sandbox.platform_key, message),
               "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}
    return headers, body


# ---- refund only, on a paid order ----------------------------------------------------------

def test_whole_order_refund_goes_paid_refunding_refunded(buyer, held, db):
    apple, pear = sku(1000), sku(3000)
    order = buyer.paid_order([(apple, 1), (pear, 1)], coupon_for(buyer, 400))
    assert order["total"] == 3600

    asked = buyer.ask(order["id"]).data
    assert (asked["status"], asked["amount"]) == ("pending_review", 3600)
    assert buyer.order(order["id"])["status"] == "paid"

    approved = review(asked["id"]).data
    assert approved["status"] == "refunding"
    assert buyer.order(order["id"])["status"] == "refunding"

    held.finish(asked["id"])
    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    done = buyer.order(order["id"])
    assert (done["status"], done["refunded_amount"], done["refundable"]) == ("refunded", 3600, 0)


def test_whole_order_refund_returns_unshipped_stock_and_the_coupon(buyer, db):
    apple, pear = sku(1000), sku(3000)
    coupon_id = coupon_for(buyer, 400)
    order = buyer.paid_order([(apple, 2), (pear, 1)], coupon_id)
    assert (stock(db, apple), stock(db, pear)) == ((8, 0, 2), (9, 0, 1))
    assert db.user_coupons.find_one({"_id": coupon_id})["status"] == "used"

    asked = buyer.ask(order["id"]).data
    review(asked["id"]).data

    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    assert (stock(db, apple), stock(db, pear)) == ((10, 0, 0), (10, 0, 0))
    assert db.user_coupons.find_one({"_id": coupon_id})["status"] == "available"


def test_refund_of_one_line_of_two_is_its_share_after_the_coupon(buyer, db):
    apple, pear = sku(1000), sku(3000)
    coupon_id = coupon_for(buyer, 400)
    order = buyer.paid_order([(apple, 1), (pear, 1)], coupon_id)

    asked = buyer.ask(order["id"], [(apple, 1)]).data
    assert asked["amount"] == 1000 * 3600 // 4000
    review(asked["id"]).data

    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    after = buyer.order(order["id"])
    assert (after["status"], after["refunded_amount"]) == ("paid", 900)
    assert (stock(db, apple), stock(db, pear)) == ((10, 0, 0), (9, 0, 1))
    assert db.user_coupons.find_one({"_id": coupon_id})["status"] == "used"


def test_refund_of_one_unit_of_two_keeps_the_order_paid(buyer, db):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])

    asked = buyer.ask(order["id"], [(apple, 1)]).data
    assert asked["amount"] == 1000
    review(asked["id"]).data

    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    after = buyer.order(order["id"])
    assert (after["status"], after["refunded_amount"], after["refundable"]) == ("paid", 1000,
                                                                                1000)
    assert stock(db, apple) == (9, 0, 1)


def test_last_partial_request_gets_exactly_the_remainder(buyer, db):
    apple = sku(1001)
    order = buyer.paid_order([(apple, 3)], coupon_for(buyer, 100))
    assert order["total"] == 2903  # 1001 * 3 - 100: shares that do not divide evenly

    amounts = []
    for _ in range(3):
        asked = buyer.ask(order["id"], [(apple, 1)]).data
        review(asked["id"]).data
        assert buyer.after_sale(asked["id"])["status"] == "refunded"
        amounts.append(asked["amount"])

    assert amounts == [967, 967, 969] and sum(amounts) == 2903
    done = buyer.order(order["id"])
    assert (done["status"], done["refunded_amount"], done["refundable"]) == ("refunded", 2903, 0)
    assert stock(db, apple) == (10, 0, 0)


def test_request_beyond_a_lines_quantity_is_refused(buyer):
    apple, pear = sku(1000), sku(2000)
    order = buyer.paid_order([(apple, 2), (pear, 1)])

    too_many = buyer.ask(order["id"], [(apple, 3)])
    assert (too_many.status, too_many.code) == (409, "REFUND_EXCEEDS_PAID")

    buyer.ask(order["id"], [(apple, 2)]).data
    again = buyer.ask(order["id"], [(apple, 1)])
    assert (again.status, again.code) == (409, "REFUND_EXCEEDS_PAID")
    assert buyer.order(order["id"])["refundable"] == 2000  # only the pear is left


def test_whole_order_request_after_everything_was_requested_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    buyer.ask(order["id"]).data

    again = buyer.ask(order["id"])

    assert (again.status, again.code) == (409, "REFUND_EXCEEDS_PAID")


def test_unpaid_order_has_no_after_sale(buyer):
    order = buyer.place([(sku(1000), 1)])

    answer = buyer.ask(order["id"])

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


# ---- return and refund, on a shipped order -------------------------------------------------

def test_return_refund_goes_through_the_return_and_keeps_shipped_goods_out_of_stock(buyer, db):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    ship(order["id"])

    asked = buyer.ask(order["id"], kind="return_refund").data
    assert (asked["status"], asked["amount"]) == ("pending_review", 2000)
    assert review(asked["id"]).data["status"] == "awaiting_return"
    sent = send_back(buyer, asked["id"]).data
    assert sent["status"] == "return_shipped"
    assert sent["return_shipment"]["tracking_no"] == "YT9876543210"
    assert confirm_received(asked["id"]).data["status"] in ("refunding", "refunded")

    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    done = buyer.order(order["id"])
    assert (done["status"], done["refunded_amount"]) == ("refunded", 2000)
    assert stock(db, apple) == (8, 0, 2)  # the goods went out: the merchant restocks by hand


def test_return_refund_shows_the_order_refunding_until_the_money_lands(buyer, held):
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data
    review(asked["id"]).data
    send_back(buyer, asked["id"]).data
    assert buyer.order(order["id"])["status"] == "shipped"

    confirm_received(asked["id"]).data

    assert buyer.order(order["id"])["status"] == "refunding"
    held.finish(asked["id"])
    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    assert buyer.order(order["id"])["status"] == "refunded"


def test_return_refund_of_an_unshipped_order_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])

    answer = buyer.ask(order["id"], kind="return_refund")

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert buyer.order(order["id"])["refundable"] == 1000


# ---- reject, cancel, the state machine, the window -----------------------------------------

def test_rejection_releases_the_reservation(buyer):
    order = buyer.paid_order([(sku(1000), 2)])
    asked = buyer.ask(order["id"]).data
    assert buyer.order(order["id"])["refundable"] == 0

    rejected = review(asked["id"], "reject").data

    assert rejected["status"] == "rejected"
    assert buyer.order(order["id"])["refundable"] == 2000
    assert buyer.ask(order["id"]).data["amount"] == 2000


def test_shopper_cancelling_releases_the_reservation(buyer):
    order = buyer.paid_order([(sku(1000), 2)])
    asked = buyer.ask(order["id"]).data

    cancelled = buyer.call("cancel_after_sale", {"after_sale_id": asked["id"]}).data

    assert cancelled["status"] == "cancelled"
    assert buyer.order(order["id"])["refundable"] == 2000
    assert buyer.ask(order["id"]).data["amount"] == 2000


def test_cancelling_twice_releases_once(buyer):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    asked = buyer.ask(order["id"], [(apple, 1)]).data

    for _ in range(2):
        buyer.call("cancel_after_sale", {"after_sale_id": asked["id"]}).data

    assert buyer.order(order["id"])["refundable"] == 2000


def test_return_can_be_withdrawn_while_awaiting_the_parcel(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data
    review(asked["id"]).data

    cancelled = buyer.call("cancel_after_sale", {"after_sale_id": asked["id"]}).data

    assert cancelled["status"] == "cancelled"
    assert buyer.order(order["id"])["refundable"] == 1000


def test_approving_twice_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data
    review(asked["id"]).data

    again = review(asked["id"])

    assert (again.status, again.code) == (409, "INVALID_STATE")
    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    assert buyer.order(order["id"])["refunded_amount"] == 1000


def test_rejecting_an_approved_after_sale_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data
    review(asked["id"]).data

    answer = review(asked["id"], "reject")

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert buyer.order(order["id"])["refundable"] == 0


def test_receiving_the_return_before_it_was_shipped_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data

    before_review = confirm_received(asked["id"])
    review(asked["id"]).data
    before_parcel = confirm_received(asked["id"])

    assert (before_review.status, before_review.code) == (409, "INVALID_STATE")
    assert (before_parcel.status, before_parcel.code) == (409, "INVALID_STATE")
    assert buyer.after_sale(asked["id"])["status"] == "awaiting_return"
    assert sandbox_refunds(order["id"]) == []


def test_return_shipment_of_a_refund_only_is_refused(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data

    answer = send_back(buyer, asked["id"])

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    assert buyer.after_sale(asked["id"])["return_shipment"] is None


def test_shopper_cannot_cancel_once_the_refund_is_under_way(buyer, held):
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data
    review(asked["id"]).data

    answer = buyer.call("cancel_after_sale", {"after_sale_id": asked["id"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")
    held.finish(asked["id"])
    assert buyer.after_sale(asked["id"])["status"] == "refunded"


def _completed_days_ago(buyer: Buyer, db: Any, days: float) -> dict:
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    buyer.call("confirm_receipt", {"order_id": order["id"]}).data
    db.orders.update_one({"_id": order["id"]}, {"$set": {
        "completed_at": datetime.now(timezone.utc) - timedelta(days=days)}})
    return order


def test_completed_order_past_the_return_window_is_refused(buyer, db):
    from shared.core.config import get_settings
    order = _completed_days_ago(buyer, db, get_settings().RETURN_WINDOW_DAYS + 1)

    answer = buyer.ask(order["id"], kind="return_refund")

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_completed_order_within_the_return_window_is_accepted(buyer, db):
    from shared.core.config import get_settings
    order = _completed_days_ago(buyer, db, get_settings().RETURN_WINDOW_DAYS - 0.5)

    answer = buyer.ask(order["id"], kind="return_refund")

    assert answer.data["status"] == "pending_review"


# ---- races ---------------------------------------------------------------------------------

@pytest.fixture
def eager_thread_switching() -> Iterator[None]:
    """Switch threads often so that a read-then-write without a condition would show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def test_ten_concurrent_whole_order_requests_make_one_after_sale(buyer, db,
                                                                 eager_thread_switching):
    order = buyer.paid_order([(sku(1000), 2)])

    answers = run_threads(10, lambda i: buyer.ask(order["id"]))

    assert sorted(a.code or "ok" for a in answers) == ["REFUND_EXCEEDS_PAID"] * 9 + ["ok"]
    assert db.after_sales.count_documents({"order_id": order["id"]}) == 1
    assert buyer.order(order["id"])["refundable"] == 0


def test_concurrent_partial_requests_never_reserve_more_than_was_paid(buyer, db,
                                                                      eager_thread_switching):
    apple = sku(1001)
    order = buyer.paid_order([(apple, 4)], coupon_for(buyer, 101))
    paid = order["total"]
    quantities = [1, 2, 1, 2, 1]  # 7 units asked of 4

    answers = run_threads(5, lambda i: buyer.ask(order["id"], [(apple, quantities[i])]))

    taken = [a.data for a in answers if a.ok]
    assert all(a.code == "REFUND_EXCEEDS_PAID" for a in answers if not a.ok)
    units = sum(t["items"][0]["quantity"] for t in taken)
    reserved = sum(t["amount"] for t in taken)
    assert units <= 4 and reserved <= paid
    left = db.orders.find_one({"_id": order["id"]})
    assert (left["refundable"], left["items"][0]["refundable_qty"]) == (paid - reserved,
                                                                        4 - units)
    if units == 4:
        assert reserved == paid


def test_concurrent_requests_for_every_unit_add_up_to_what_was_paid(buyer, db,
                                                                   eager_thread_switching):
    apple = sku(1001)
    order = buyer.paid_order([(apple, 4)], coupon_for(buyer, 101))
    assert order["total"] == 3903  # 975.75 a unit: the last one must get the odd fen

    answers = run_threads(4, lambda i: buyer.ask(order["id"], [(apple, 1)]))

    amounts = [a.data["amount"] for a in answers]
    assert sum(amounts) == 3903
    left = db.orders.find_one({"_id": order["id"]})
    assert (left["refundable"], left["items"][0]["refundable_qty"]) == (0, 0)


def test_concurrent_approvals_refund_once(buyer, db, eager_thread_switching):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    asked = buyer.ask(order["id"]).data

    answers = run_threads(5, lambda i: review(asked["id"]))

    assert sorted(a.code or "ok" for a in answers) == ["INVALID_STATE"] * 4 + ["ok"]
    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    assert db.refunds.count_documents({"order_id": order["id"]}) == 1
    assert len(sandbox_refunds(order["id"])) == 1
    done = buyer.order(order["id"])
    assert (done["status"], done["refunded_amount"]) == ("refunded", 2000)
    assert stock(db, apple) == (10, 0, 0)


# ---- refunds that fail ---------------------------------------------------------------------

def test_refund_wechat_pay_refuses_fails_and_releases_the_reservation(buyer, db):
    apple = sku(1000)
    order = buyer.place([(apple, 2)])
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data  # WeChat Pay never saw it
    asked = buyer.ask(order["id"]).data

    review(asked["id"]).data

    failed = buyer.after_sale(asked["id"])
    assert failed["status"] == "refund_failed" and failed["failure"]
    after = buyer.order(order["id"])
    assert (after["status"], after["refundable"], after["refunded_amount"]) == ("paid", 2000, 0)
    assert stock(db, apple) == (8, 0, 2)
    assert buyer.ask(order["id"]).data["amount"] == 2000


def test_abnormal_refund_fails_and_the_order_returns_to_its_status(buyer, held, db):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data
    review(asked["id"]).data
    send_back(buyer, asked["id"]).data
    confirm_received(asked["id"]).data
    assert buyer.order(order["id"])["status"] == "refunding"

    assert held.finish(asked["id"], "ABNORMAL")["status"] == 204

    failed = buyer.after_sale(asked["id"])
    assert (failed["status"], failed["failure"]) == ("refund_failed", "ABNORMAL")
    after = buyer.order(order["id"])
    assert (after["status"], after["refundable"], after["refunded_amount"]) == ("shipped", 2000,
                                                                                0)
    assert db.refunds.find_one({"_id": asked["id"]})["status"] == "failed"
    assert stock(db, apple) == (8, 0, 2)


def test_failed_partial_refund_gives_back_only_its_own_part(buyer, held):
    apple, pear = sku(1000), sku(2000)
    order = buyer.paid_order([(apple, 1), (pear, 1)])
    first = buyer.ask(order["id"], [(apple, 1)]).data
    review(first["id"]).data

    held.finish(first["id"], "ABNORMAL")

    assert buyer.after_sale(first["id"])["status"] == "refund_failed"
    after = buyer.order(order["id"])
    assert (after["status"], after["refundable"]) == ("paid", 3000)


def test_order_stays_refunding_while_the_completing_refund_is_in_flight(buyer, held):
    apple, pear = sku(1000), sku(2000)
    order = buyer.paid_order([(apple, 1), (pear, 1)])
    first = buyer.ask(order["id"], [(apple, 1)]).data
    review(first["id"]).data
    last = buyer.ask(order["id"], [(pear, 1)]).data
    review(last["id"]).data
    assert buyer.order(order["id"])["status"] == "refunding"

    held.finish(first["id"])  # the partial one lands while the last is still with WeChat Pay

    assert buyer.after_sale(first["id"])["status"] == "refunded"
    assert buyer.order(order["id"])["status"] == "refunding"
    held.finish(last["id"])
    done = buyer.order(order["id"])
    assert (done["status"], done["refunded_amount"]) == ("refunded", 3000)


# ---- the refund notify ---------------------------------------------------------------------

def _refund_in_flight(buyer: Buyer) -> tuple[dict, dict, str]:
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    asked = buyer.ask(order["id"]).data
    review(asked["id"]).data
    return order, asked, apple


def _nothing_changed(db: Any, buyer: Buyer, order: dict, asked: dict, apple: str) -> None:
    assert db.refunds.find_one({"_id": asked["id"]})["status"] == "processing"
    assert buyer.after_sale(asked["id"])["status"] == "refunding"
    after = buyer.order(order["id"])
    assert (after["status"], after["refunded_amount"]) == ("refunding", 0)
    assert stock(db, apple) == (8, 0, 2)


def _fresh_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_refund_notify_signed_with_another_key_is_refused(buyer, held, db):
    order, asked, apple = _refund_in_flight(buyer)

    status = post_refund_notify(*refund_notify(asked["id"], key=_fresh_key()))

    assert status == 401
    _nothing_changed(db, buyer, order, asked, apple)


def test_tampered_refund_notify_is_refused(buyer, held, db):
    order, asked, apple = _refund_in_flight(buyer)
    headers, body = refund_notify(asked["id"], status="ABNORMAL")

    forged = body.replace(b"REFUND.ABNORMAL", b"REFUND.SUCCESS")

    assert forged != body and post_refund_notify(headers, forged) == 401
    _nothing_changed(db, buyer, order, asked, apple)


@pytest.mark.parametrize("change", ["wrong_apiv3_key", "stale_timestamp", "wrong_amount",
                                    "unknown_serial"])
def test_refund_notify_that_does_not_hold_changes_nothing(buyer, held, db, change):
    order, asked, apple = _refund_in_flight(buyer)
    if change == "wrong_apiv3_key":
        headers, body = refund_notify(asked["id"], apiv3_key=secrets.token_hex(16).encode())
    elif change == "stale_timestamp":
        headers, body = refund_notify(asked["id"], timestamp=int(time.time()) - 600)
    elif change == "wrong_amount":
        headers, body = refund_notify(asked["id"], refund=1)
    else:
        headers, body = refund_notify(asked["id"])
        headers["Wechatpay-Serial"] = "PUB_KEY_ID_0000000000000000000000000000"

    status = post_refund_notify(headers, body)

    assert 400 <= status < 500
    _nothing_changed(db, buyer, order, asked, apple)


def test_genuine_notify_built_from_the_protocol_is_accepted(buyer, held, db):
    order, asked, apple = _refund_in_flight(buyer)

    assert post_refund_notify(*refund_notify(asked["id"])) == 204

    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    assert stock(db, apple) == (10, 0, 0)


def test_duplicated_refund_notify_is_applied_once(buyer, db, deliveries, eager_thread_switching):
    apple = sku(1000)
    order = buyer.paid_order([(apple, 2)])
    asked = buyer.ask(order["id"], [(apple, 1)]).data
    review(asked["id"]).data
    assert buyer.after_sale(asked["id"])["status"] == "refunded"
    url, headers, body = next(d for d in deliveries if d[0].endswith("/pay/refund-notify"))

    again = [post_refund_notify(headers, body)] + run_threads(
        5, lambda i: post_refund_notify(headers, body))

    assert again == [204] * 6
    after = buyer.order(order["id"])
    assert (after["status"], after["refunded_amount"], after["refundable"]) == ("paid", 1000,
                                                                                1000)
    assert stock(db, apple) == (9, 0, 1)
    assert db.products.find_one({"_id": db.skus.find_one({"_id": apple})["product_id"]}) \
        .get("sales") == 1


# ---- ownership and the merchant credential -------------------------------------------------

def test_another_users_after_sale_is_not_found(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    ship(order["id"])
    asked = buyer.ask(order["id"], kind="return_refund").data
    review(asked["id"]).data
    stranger = new_shopper()

    answers = [stranger.call("get_after_sale", {"after_sale_id": asked["id"]}),
               stranger.call("cancel_after_sale", {"after_sale_id": asked["id"]}),
               stranger.call("submit_return_shipment", {"after_sale_id": asked["id"],
                                                        "carrier": "YTO",
                                                        "tracking_no": "YT1"})]

    assert [(a.status, a.code) for a in answers] == [(404, "NOT_FOUND")] * 3
    assert stranger.call("list_after_sales").data["items"] == []
    assert buyer.after_sale(asked["id"])["status"] == "awaiting_return"


def test_after_sale_on_another_users_order_is_not_found(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    stranger = Buyer()

    answer = stranger.ask(order["id"])

    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert buyer.order(order["id"])["refundable"] == 1000


def test_shopper_lists_own_after_sales(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data

    listed = buyer.call("list_after_sales").data

    assert [a["id"] for a in listed["items"]] == [asked["id"]]
    assert "user_id" not in listed["items"][0]


@pytest.mark.parametrize("action", ["merchant_review_after_sale", "merchant_list_after_sales",
                                    "merchant_get_after_sale",
                                    "merchant_confirm_return_received"])
def test_merchant_after_sale_actions_need_the_merchant_token(buyer, action):
    from tests.conftest import call
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data
    payload = {"after_sale_id": asked["id"]}
    if action == "merchant_review_after_sale":
        payload["decision"] = "approve"
    if action == "merchant_list_after_sales":
        payload = {}

    as_shopper = buyer.call(action, payload)
    anonymous = call(action, payload)

    assert (as_shopper.status, as_shopper.code) == (403, "FORBIDDEN")
    assert (anonymous.status, anonymous.code) == (401, "UNAUTHENTICATED")
    assert buyer.after_sale(asked["id"])["status"] == "pending_review"
    assert sandbox_refunds(order["id"]) == []


def test_merchant_sees_every_after_sale_with_its_shopper(buyer):
    order = buyer.paid_order([(sku(1000), 1)])
    asked = buyer.ask(order["id"]).data

    listed = merchant("merchant_list_after_sales", {"order_id": order["id"]}).data

    assert [(a["id"], a["user_id"]) for a in listed["items"]] == [(asked["id"], buyer.user_id)]
