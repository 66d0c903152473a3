"""4. Pay notify: a genuine WeChat Pay notify (signed with the sandbox's platform key, resource
encrypted under its APIv3 key, built fresh for each call) POSTed to ``/pay/notify`` through
the WSGI app (``accept_pay_notify`` end to end: headers, verify, decrypt, checks, the
conditional ``pending_payment -> paid``, units sold) vs the bare ``verify_signed`` +
``decrypt_resource`` + one conditional ``update_one`` on the same database. Each notify
pays a fresh pending order placed beforehand; calls are interleaved one by one; median
microseconds per notify. The run checks that every order was paid exactly once (a replayed
notify changes nothing) and exits 1 if not."""
from __future__ import annotations

import json
import secrets
import time
from typing import Any, Optional

from benchkit import BenchFailure, median

from .common import make_buyers, merchant_call


def sealed_notify(sandbox: Any, transaction: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A TRANSACTION.SUCCESS notify as WeChat Pay sends it, with the sandbox's keys: the body
    built and encrypted as ``PaySandbox.notify`` does, signed by ``signed_headers``."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    iv = secrets.token_hex(6)
    ciphertext = AESGCM(sandbox.apiv3_key).encrypt(
        iv.encode(), json.dumps(transaction, ensure_ascii=False).encode(), b"transaction")
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(10), "create_time": transaction["success_time"],
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": base64.b64encode(ciphertext).decode(),
                     "associated_data": "transaction", "nonce": iv}},
        ensure_ascii=False).encode()
    return {"Content-Type": "application/json", **sandbox.signed_headers(body)}, body


def paid_transaction(config: Any, order: dict[str, Any], openid: str) -> dict[str, Any]:
    from datetime import datetime, timezone

    from shared.wechat.pay import rfc3339
    total = order["total"]
    return {"appid": config.appid, "mchid": config.mchid, "out_trade_no": order["id"],
            "transaction_id": "42" + secrets.token_hex(13), "trade_type": "JSAPI",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
            "success_time": rfc3339(datetime.now(timezone.utc)), "payer": {"openid": openid},
            "amount": {"total": total, "payer_total": total, "currency": "CNY",
                       "payer_currency": "CNY"}}


def bench_pay_notify(db: Any, notifies: int, batch: int = 50) -> dict[str, Any]:
    from datetime import datetime, timezone

    from werkzeug.test import Client

    from shared.core.config import get_settings
    from shared.core.dispatch import Credentials, dispatch
    from shared.core.http import app
    from shared.payments.notify import pay_client
    from shared.wechat.pay import decrypt_resource, verify_signed
    from shared.wechat.pay_sandbox import get_sandbox
    config = pay_client(get_settings()).config  # the sandbox's, as in dev and tests
    sandbox = get_sandbox(config.appid)
    warmup = max(5, notifies // 20)
    pairs = notifies + warmup
    client = Client(app)
    buyers = make_buyers(4)
    openids = [db.users.find_one({"_id": db.addresses.find_one({"_id": address_id})["user_id"]},
                                 {"openid": 1})["openid"] for _, address_id in buyers]
    category_id = merchant_call("merchant_upsert_category", {"name": "支付"})["id"]
    product = merchant_call("merchant_upsert_product", {
        "title": "支付测试商品", "category_id": category_id,
        "images": ["https://img.test/pay.png"],
        "skus": [{"specs": {"规格": "标准"}, "price": 1990, "stock": 2 * pairs}]})
    sku_id = product["skus"][0]["id"]
    tag = secrets.token_hex(4)

    def place(n: int) -> tuple[dict[str, Any], str]:
        token, address_id = buyers[n % len(buyers)]
        placed = dispatch("place_order", {
            "request_id": f"bench-pay-{tag}-{n}", "address_id": address_id,
            "items": [{"sku_id": sku_id, "quantity": 1}]}, Credentials(bearer=token))
        if not placed.envelope["ok"]:
            raise BenchFailure(f"place_order failed: {placed.envelope}")
        return placed.envelope["data"], openids[n % len(buyers)]

    def ours(headers: dict[str, str], body: bytes) -> int:
        return client.post("/pay/notify", data=body, headers=headers).status_code

    def bare(headers: dict[str, str], body: bytes) -> int:
        verify_signed(config, headers, body)
        transaction = decrypt_resource(config, json.loads(body)["resource"])
        return db.orders.update_one(
            {"_id": transaction["out_trade_no"], "status": "pending_payment"},
            {"$set": {"status": "paid", "paid_at": datetime.now(timezone.utc),
                      "payment.transaction_id": transaction["transaction_id"]}}).modified_count

    def check(book: dict[str, str], who: str) -> None:
        docs = {d["_id"]: d for d in db.orders.find({"_id": {"$in": list(book)}},
                                                    {"status": 1, "payment": 1, "items": 1})}
        wrong = [oid for oid, tx in book.items()
                 if docs.get(oid, {}).get("status") != "paid"
                 or (docs[oid].get("payment") or {}).get("transaction_id") != tx]
        if wrong:
            raise BenchFailure(f"pay notify ({who}): {len(wrong)} of {len(book)} orders not paid "
                               f"with their transaction, e.g. {wrong[0]}")
        if who == "ours" and any(line.get("stock") != "sold"
                                 for d in docs.values() for line in d["items"]):
            raise BenchFailure("pay notify: a paid order's units were not moved to sold")

    ours_ns: list[int] = []
    bare_ns: list[int] = []
    clock = time.perf_counter_ns
    paid = updated = 0
    done = 0
    # In batches, each on fresh pending orders placed just before (two per pair: ours and the
    # baseline's) and deleted after, so that the orders collection stays the size of a small
    # shop's: the embedded database scans whole collections, and 2,000 pending orders would
    # measure mongomock's scans rather than the notify handling.
    while done < pairs:
        size = min(batch, pairs - done)
        orders = [place(2 * (done + i) + side) for i in range(size) for side in (0, 1)]
        sent: dict[str, str] = {}  # order id -> transaction id, ours
        bare_sent: dict[str, str] = {}
        first: Optional[tuple[dict[str, str], bytes]] = None
        for i in range(size):
            index = done + i
            # built (signed, encrypted) outside the timings, just before use, so that the
            # timestamp is fresh as WeChat Pay's would be
            notes = []
            for (order, openid), book in ((orders[2 * i], sent), (orders[2 * i + 1], bare_sent)):
                transaction = paid_transaction(config, order, openid)
                book[order["id"]] = transaction["transaction_id"]
                notes.append(sealed_notify(sandbox, transaction))
            first = first or notes[0]
            calls = [(ours, notes[0], ours_ns, 204), (bare, notes[1], bare_ns, 1)]
            for work, (headers, body), samples, expected in \
                    (calls if index % 2 == 0 else calls[::-1]):
                t0 = clock()
                answer = work(headers, body)
                elapsed = clock() - t0
                if answer != expected:
                    raise BenchFailure(f"pay notify: {work.__name__} answered {answer}, "
                                       f"expected {expected}")
                if index >= warmup:
                    samples.append(elapsed)
        if first is not None and ours(*first) != 204:  # a replay is accepted...
            raise BenchFailure("pay notify: a replayed notify was not answered 204")
        check(sent, "ours")  # ...and changes nothing: each order paid once, by its transaction
        check(bare_sent, "baseline")
        paid, updated, done = paid + len(sent), updated + len(bare_sent), done + size
        db.orders.delete_many({"_id": {"$in": [order["id"] for order, _ in orders]}})
    sku = db.skus.find_one({"_id": sku_id}, {"stock": 1, "locked": 1, "sold": 1})
    if (sku["stock"], sku.get("locked", 0), sku.get("sold", 0)) != (0, pairs, pairs):
        raise BenchFailure(f"pay notify: stock={sku['stock']} locked={sku.get('locked')} "
                           f"sold={sku.get('sold')}, expected 0/{pairs}/{pairs}")

    ours_us, bare_us = median(ours_ns) / 1000, median(bare_ns) / 1000
    return {"label": "pay notify: POST /pay/notify via the WSGI app, per notify",
            "baseline_label": "bare verify + decrypt + one conditional update_one",
            "unit": "µs", "ours": ours_us, "baseline": bare_us, "ratio": ours_us / bare_us,
            "notifies": notifies, "warmup": warmup, "batch": batch, "orders_paid": paid,
            "baseline_updated": updated, "replay_changed_nothing": True,
            "final_state": {"stock": sku["stock"], "locked": sku.get("locked", 0),
                            "sold": sku.get("sold", 0)}}
