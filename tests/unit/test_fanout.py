"""Fan-out of big jobs: batches by ``_id`` ranges, a batch ledger, retries, and SCF invokes.

The jobs here are cart-reminder jobs (the kind the hourly timer plans): every user has a cart
left two days ago and a subscription, so every user must end with exactly one message.

The SCF path is tested against a loopback endpoint that plays Tencent Cloud's API 3.0: it
recomputes the TC3-HMAC-SHA256 signature of each request from the secret key, as the
signature v3 spec describes, refuses what does not match, and answers ``Invoke`` as SCF
does. The ClientContext it captured is then given, as SCF would, to the
marketing_push_batch function (its ``index.py`` loaded by path).
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import ROOT, run_threads
from tests.helpers import Clock

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing
TEMPLATE = "tpl_cart"
SECRET_ID, SECRET_KEY = "AKIDtestfanout0123456789", "test-secret-key-for-the-loopback-scf"


@pytest.fixture(autouse=True)
def fanout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("CART_REMINDER_TEMPLATE_ID", TEMPLATE)
    monkeypatch.setenv("FANOUT_RUNNER", "inprocess")
    monkeypatch.setenv("MARKETING_BATCH_SIZE", "500")
    reset_settings()


# ---- factories -----------------------------------------------------------------------------

def bulk_insert(db: Any, collection: str, docs: list[dict[str, Any]]) -> None:
    """insert_many in chunks; on the embedded database without its unique indexes meanwhile
    (mongomock checks a unique index by scanning the collection for every document)."""
    from shared.core.db import ensure_indexes, is_embedded
    if is_embedded():
        for name, info in db[collection].index_information().items():
            if info.get("unique") and name != "_id_":
                db[collection].drop_index(name)
    for start in range(0, len(docs), 5000):
        db[collection].insert_many(docs[start:start + 5000])
    ensure_indexes(db)


def shoppers_with_forgotten_carts(db: Any, count: int, now: datetime = T0) -> list[str]:
    users = [f"usr_{n:06d}" for n in range(count)]
    db.products.insert_one({"_id": "prd_apple", "title": "冰糖心苹果", "status": "on_sale"})
    db.skus.insert_one({"_id": "sku_apple", "product_id": "prd_apple", "price": 3990,
                        "stock": 100, "active": True})
    bulk_insert(db, "users", [{"_id": u, "openid": f"openid-{u}", "created_at": now - timedelta(
        days=100)} for u in users])
    bulk_insert(db, "cart_items", [{"_id": f"{u}:sku_apple", "user_id": u, "sku_id": "sku_apple",
                                    "quantity": 1, "selected": True,
                                    "added_at": now - timedelta(days=2)} for u in users])
    bulk_insert(db, "subscriptions", [{"_id": f"{u}:{TEMPLATE}", "user_id": u,
                                       "template_id": TEMPLATE, "remaining": 1} for u in users])
    return users


def messages_per_user(db: Any) -> Counter:
    return Counter(m["user_id"] for m in db.outbox.find({"purpose": "cart_reminder"},
                                                        {"user_id": 1}))


def small_batches(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    from shared.core.config import reset_settings
    monkeypatch.setenv("MARKETING_BATCH_SIZE", str(size))
    reset_settings()


# ---- the in-process runner -----------------------------------------------------------------

def test_10000_users_in_20_batches_one_failing_once_are_each_messaged_exactly_once(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.marketing import reminders as marketing
    from shared.messaging import fanout
    users = shoppers_with_forgotten_carts(db, 10_000)
    real_batch = marketing.cart_reminder_batch
    crashed: list[str] = []

    def crashes_once_halfway(ctx: Any, job: dict[str, Any], user_ids: list[str]) -> Any:
        if user_ids[0] == "usr_005000" and not crashed:
            crashed.append(user_ids[0])
            real_batch(ctx, job, user_ids[:250])  # half the batch was queued, then it died
            raise RuntimeError("the instance died")
        return real_batch(ctx, job, user_ids)
    monkeypatch.setattr(marketing, "cart_reminder_batch", crashes_once_halfway)

    first = marketing.cart_reminder(Clock(T0).context(db))
    assert (first["batches"], first["batches_done"], first["status"]) == (20, 19, "running")
    assert db.jobs.find_one({"_id": first["job_id"]})["status"] == "running"
    failed = db.job_batches.find_one({"job_id": first["job_id"], "status": "failed"})
    assert (failed["batch"], failed["first_id"], failed["last_id"]) == \
        (10, "usr_005000", "usr_005499")
    assert sum(messages_per_user(db).values()) == 9_750

    assert fanout.dispatch(Clock(T0 + timedelta(minutes=1)).context(db)) == 1
    summary = fanout.job_summary(db, first["job_id"])
    assert (summary["status"], summary["batches_done"]) == ("done", 20)
    per_user = messages_per_user(db)
    assert len(per_user) == 10_000 and set(per_user.values()) == {1}
    assert sorted(per_user) == users
    assert summary["counts"]["queued"] == 10_000 and summary["counts"]["users"] == 10_000


def test_the_job_reports_done_only_when_its_last_batch_is(db: Any, monkeypatch) -> None:
    from shared.marketing import reminders as marketing
    from shared.messaging import fanout
    shoppers_with_forgotten_carts(db, 30)
    small_batches(monkeypatch, 10)
    real_batch = marketing.cart_reminder_batch
    fail = {"usr_000020"}

    def flaky(ctx: Any, job: dict[str, Any], user_ids: list[str]) -> Any:
        if user_ids[0] in fail:
            raise RuntimeError("boom")
        return real_batch(ctx, job, user_ids)
    monkeypatch.setattr(marketing, "cart_reminder_batch", flaky)
    job_id = marketing.cart_reminder(Clock(T0).context(db))["job_id"]
    for minute in (1, 2):
        fanout.dispatch(Clock(T0 + timedelta(minutes=minute)).context(db))
        assert fanout.job_summary(db, job_id)["status"] == "running"
    fail.clear()
    fanout.dispatch(Clock(T0 + timedelta(minutes=3)).context(db))
    assert fanout.job_summary(db, job_id)["status"] == "done"
    assert db.job_batches.find_one({"_id": f"{job_id}:000002"})["attempts"] == 4


def test_running_a_batch_twice_sends_nobody_twice(db: Any, monkeypatch) -> None:
    from shared.marketing import reminders as marketing
    from shared.messaging import fanout
    from shared.messaging.outbox import drain_outbox
    shoppers_with_forgotten_carts(db, 30)
    small_batches(monkeypatch, 10)
    job_id = marketing.cart_reminder(Clock(T0).context(db))["job_id"]
    assert drain_outbox(Clock(T0 + timedelta(minutes=1)).context(db)) == {"sent": 30}

    # the ledger is rewound as if the batch's first run had been lost, and it runs again
    db.job_batches.update_one({"_id": f"{job_id}:000001"}, {"$set": {"status": "pending"}})
    again = fanout.run_batch(Clock(T0 + timedelta(minutes=2)).context(db), job_id, 1)
    assert again["queued"] == 10  # its users count as queued, by its first run
    assert drain_outbox(Clock(T0 + timedelta(minutes=3)).context(db)) == {}
    per_user = messages_per_user(db)
    assert len(per_user) == 30 and set(per_user.values()) == {1}
    assert db.outbox.count_documents({"status": "sent"}) == 30


def test_two_runners_claiming_one_batch_at_once_run_it_once(db: Any, monkeypatch) -> None:
    from shared.marketing import reminders as marketing
    from shared.messaging import fanout
    shoppers_with_forgotten_carts(db, 10)
    small_batches(monkeypatch, 10)
    job_id = marketing.cart_reminder(Clock(T0).context(db))["job_id"]
    db.job_batches.update_one({"_id": f"{job_id}:000000"}, {"$set": {"status": "failed"}})
    ran: list[int] = []
    real_batch = marketing.cart_reminder_batch

    def counting(ctx: Any, job: dict[str, Any], user_ids: list[str]) -> Any:
        ran.append(len(user_ids))
        return real_batch(ctx, job, user_ids)
    monkeypatch.setattr(marketing, "cart_reminder_batch", counting)
    results = run_threads(4, lambda i: fanout.run_batch(Clock(T0).context(db), job_id, 0))
    assert ran == [10]
    assert sum(1 for r in results if r == {"skipped": "not due"}) == 3
    assert len(messages_per_user(db)) == 10


# ---- the SCF runner, against a loopback Tencent Cloud API ----------------------------------

def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, method: str, uri: str, query: str,
                  headers: dict[str, str], signed_headers: list[str], payload: bytes,
                  timestamp: int, service: str) -> str:
    """TencentCloud API 3.0 signature v3 (TC3-HMAC-SHA256), computed from the spec."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n"
                                for name in signed_headers)
    canonical_request = "\n".join([method, uri, query, canonical_headers,
                                   ";".join(signed_headers),
                                   hashlib.sha256(payload).hexdigest()])
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    secret_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    secret_signing = _hmac(_hmac(secret_date, service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeScf:
    """SCF's API endpoint: checks each request's signature and headers, records Invokes."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.invokes: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def check(self, method: str, path: str, headers: Any, payload: bytes) -> Optional[str]:
        """None when the request is one SCF would run, else why it is refused."""
        auth = headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        secret_id, date, service, terminator = (fields.get("Credential", "").split("/") +
                                                ["", "", "", ""])[:4]
        timestamp = int(headers.get("X-TC-Timestamp", "0"))
        signed = fields.get("SignedHeaders", "").split(";")
        if algorithm != "TC3-HMAC-SHA256" or secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire"
        expected_date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
        if (date, service, terminator) != (expected_date, "scf", "tc3_request") or \
                not {"content-type", "host"} <= set(signed):
            return "AuthFailure.InvalidAuthorization"
        if headers.get("Host") != self.host:
            return "AuthFailure.InvalidAuthorization"
        lowered = {k.lower(): v for k, v in headers.items()}
        expected = tc3_signature(SECRET_KEY, method, urlparse_path(path), "", lowered, signed,
                                 payload, timestamp, "scf")
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure"
        if (headers.get("X-TC-Action"), headers.get("X-TC-Version"),
                headers.get("X-TC-Region")) != ("Invoke", "2018-04-16", "ap-guangzhou"):
            return "InvalidAction"
        return None


def urlparse_path(path: str) -> str:
    return path.split("?", 1)[0] or "/"


def _scf_handler(fake: FakeScf) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = str(uuid.uuid4())
            refused = fake.check("POST", self.path, self.headers, payload)
            with fake.lock:
                if refused:
                    fake.refused.append(refused)
                    answer: dict[str, Any] = {"Response": {"Error": {
                        "Code": refused, "Message": "the request was refused"},
                        "RequestId": request_id}}
                else:
                    fake.invokes.append(json.loads(payload))
                    answer = {"Response": {"Result": {
                        "MemUsage": 0, "Log": "", "RetMsg": "", "BillDuration": 0,
                        "FunctionRequestId": request_id, "Duration": 0, "ErrMsg": "",
                        "InvokeResult": 0}, "RequestId": request_id}}
            data = json.dumps(answer).encode()
            self.send_response(200)  # API 3.0 answers errors with 200 and Response.Error
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass
    return Handler


@pytest.fixture
def scf(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeScf]:
    from shared.core.config import reset_settings
    server = ThreadingHTTPServer(("127.0.0.1", 0), _scf_handler(FakeScf("")))
    fake = FakeScf(f"127.0.0.1:{server.server_port}")
    server.RequestHandlerClass = _scf_handler(fake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    for proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                  "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    for name, value in (("FANOUT_RUNNER", "scf"), ("SCF_ENDPOINT", fake.host),
                        ("SCF_REGION", "ap-guangzhou"), ("SCF_NAMESPACE", "default"),
                        ("TENCENTCLOUD_SECRET_ID", SECRET_ID),
                        ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY),
                        ("MARKETING_BATCH_SIZE", "2")):
        monkeypatch.setenv(name, value)
    reset_settings()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


def load_function(name: str) -> Any:
    path = ROOT / "functions" / name / "index.py"
    spec = importlib.util.spec_from_file_location(f"functions_{name}_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_scf_invokes_are_signed_and_their_client_context_runs_the_batch(db: Any, scf) -> None:
    from shared.core.common import utcnow
    from shared.marketing import reminders as marketing
    now = utcnow()
    shoppers_with_forgotten_carts(db, 3, now)

    summary = marketing.cart_reminder(Clock(now).context(db))

    assert (summary["batches"], summary["batches_done"], summary["status"]) == (2, 0, "running")
    assert scf.refused == [] and len(scf.invokes) == 2
    assert db.outbox.count_documents({}) == 0  # nothing runs until SCF runs the function
    for batch, invoke in enumerate(scf.invokes):
        assert {k: invoke[k] for k in ("FunctionName", "InvocationType", "Namespace")} == \
            {"FunctionName": "marketing_push_batch", "InvocationType": "Event",
             "Namespace": "default"}
        event = json.loads(invoke["ClientContext"])
        assert {k: event[k] for k in ("_invoke", "job_id", "batch")} == \
            {"_invoke": "marketing_push_batch", "job_id": summary["job_id"], "batch": batch}

    function = load_function("marketing_push_batch")
    answers = [function.main_handler(json.loads(invoke["ClientContext"]),
                                     {"request_id": f"scf-{n}"})
               for n, invoke in enumerate(scf.invokes)]
    assert [a["ok"] for a in answers] == [True, True], answers
    assert [a["data"]["queued"] for a in answers] == [2, 1]
    assert db.jobs.find_one({"_id": summary["job_id"]})["status"] == "done"
    assert sorted(messages_per_user(db)) == ["usr_000000", "usr_000001", "usr_000002"]


def test_a_forged_batch_invoke_is_refused_with_403(db: Any, scf) -> None:
    from shared.core.common import utcnow
    from shared.core.errors import ShopError
    from shared.marketing import reminders as marketing
    now = utcnow()
    shoppers_with_forgotten_carts(db, 3, now)
    job_id = marketing.cart_reminder(Clock(now).context(db))["job_id"]
    genuine = json.loads(scf.invokes[0]["ClientContext"])
    function = load_function("marketing_push_batch")

    forged_sig = {**genuine, "sig": "0" * 64}
    other_batch = {**genuine, "batch": 1}  # a real signature, for another batch
    unsigned = {k: v for k, v in genuine.items() if k != "sig"}
    for event in (forged_sig, other_batch, unsigned):
        answer = function.main_handler(event, {"request_id": "forged"})
        assert answer["ok"] is False and answer["error"]["code"] == "FORBIDDEN", answer
    assert ShopError("FORBIDDEN").status == 403
    assert db.outbox.count_documents({}) == 0
    assert db.job_batches.count_documents({"job_id": job_id, "status": "pending"}) == 2


def test_the_loopback_scf_refuses_a_request_signed_with_another_key(
        db: Any, scf, monkeypatch) -> None:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    from shared.cloud.scf import invoke_async
    from shared.core.config import get_settings, reset_settings
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-key-scf-knows")
    reset_settings()
    with pytest.raises(TencentCloudSDKException) as refused:
        invoke_async(get_settings(), "marketing_push_batch", {"_invoke": "x"})
    assert refused.value.get_code() == "AuthFailure.SignatureFailure"
    assert scf.invokes == []


def test_queued_invokes_are_not_sent_again_until_their_lease_passes(db: Any, scf) -> None:
    from shared.core.common import utcnow
    from shared.marketing import reminders as marketing
    from shared.messaging import fanout
    now = utcnow()
    shoppers_with_forgotten_carts(db, 3, now)
    marketing.cart_reminder(Clock(now).context(db))
    assert len(scf.invokes) == 2
    # the every-minute dispatch while SCF still holds the two invokes in its queue
    assert fanout.dispatch(Clock(now + timedelta(minutes=1)).context(db)) == 0
    assert len(scf.invokes) == 2
    assert fanout.dispatch(Clock(now + fanout.BATCH_LEASE).context(db)) == 2
    assert len(scf.invokes) == 4


def test_batches_are_invoked_by_their_deployed_name_and_namespace(db: Any, scf,
                                                                  monkeypatch) -> None:
    """scripts/deploy puts marketing_push_batch in an area namespace and says where."""
    from shared.core.common import utcnow
    from shared.core.config import reset_settings
    from shared.marketing import reminders as marketing
    monkeypatch.setenv("FANOUT_FUNCTION", "shop_push_batch")
    monkeypatch.setenv("SCF_NAMESPACE", "shop-core")
    reset_settings()
    now = utcnow()
    shoppers_with_forgotten_carts(db, 1, now)
    marketing.cart_reminder(Clock(now).context(db))
    assert [(i["FunctionName"], i["Namespace"]) for i in scf.invokes] == \
        [("shop_push_batch", "shop-core")]
    event = json.loads(scf.invokes[0]["ClientContext"])
    answer = load_function("marketing_push_batch").main_handler(event, {"request_id": "scf-x"})
    assert answer["ok"] is True, answer
