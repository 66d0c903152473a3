"""Traceability (issue 20): batches, the hash chain of their events, the signature, and the
check anyone repeats offline with the published key (the README's snippet, run as printed)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Optional

import pytest

from tests.conftest import ROOT, call, merchant, new_product, run_threads

STEPS = ("commissioning", "inspecting", "packing", "shipping")


def new_batch(batch_no: str = "B2026-001", sku_id: Optional[str] = None) -> dict[str, Any]:
    sku_id = sku_id or new_product()["skus"][0]["id"]
    return merchant("merchant_create_trace_batch", {
        "sku_id": sku_id, "batch_no": batch_no, "origin": "云南省昆明市",
        "produced_at": "2026-11-01T08:00:00Z",
        "attributes": {"品种": "红富士", "weight_g": 5000}}).data


def append(batch_id: str, step: str = "inspecting", **extra: Any) -> Any:
    return merchant("merchant_append_trace_event", {
        "batch_id": batch_id, "biz_step": step, "event_time": "2026-11-02T09:30:00Z",
        "read_point": "urn:epc:id:sgln:0614141.00777.0", **extra})


def chain_of(count: int = 4) -> dict[str, Any]:
    batch = new_batch()
    for n, step in enumerate(STEPS[:count]):
        append(batch["batch_id"], step, data={"temp_c": n, "检验员": "王五"}).data
    return batch


def readme_verifier() -> Any:
    """The README's verifier, exactly as printed, in a namespace of its own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- trace-verifier -->\n```python\n(.*?)```\n<!-- /trace-verifier -->",
                      text, re.S)
    assert found, "the README lost its verifier"
    code = found.group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the documented snippet
    return namespace["verify"]


# ---- the chain -----------------------------------------------------------------------------

def test_the_chain_verifies_with_the_readme_snippet_over_http(gateway: str) -> None:
    import requests
    batch = chain_of(4)
    answer = requests.post(f"{gateway}/api/get_trace", json={"code": batch["code"]}, timeout=10)
    trace = answer.json()["data"]  # public: no token

    assert answer.status_code == 200 and trace["verified"] is True
    assert trace["first_bad_seq"] is None
    assert [e["seq"] for e in trace["events"]] == [1, 2, 3, 4]
    assert trace["events"][0]["prev_hash"] == "0" * 64
    assert len(base64.b64decode(trace["public_key"])) == 32
    readme_verifier()(trace)  # raises on any broken event


def test_the_readme_snippet_refuses_a_changed_event(gateway: str) -> None:
    import requests
    from cryptography.exceptions import InvalidSignature
    batch = chain_of(3)
    trace = requests.post(f"{gateway}/api/get_trace", json={"code": batch["code"]},
                          timeout=10).json()["data"]
    verify = readme_verifier()
    forged = json.loads(json.dumps(trace))
    forged["events"][1]["data"]["temp_c"] = 99
    with pytest.raises(AssertionError, match="event 2"):
        verify(forged)
    # a forger who also fixes the hashes still lacks the key
    for event in forged["events"][1:]:
        body = {k: event[k] for k in ("batch_id", "seq", "biz_step", "event_time",
                                      "read_point", "data", "prev_hash")}
        event["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                                  ensure_ascii=False).encode()).hexdigest()
    forged["events"][2]["prev_hash"] = forged["events"][1]["hash"]
    forged["events"][2]["hash"] = hashlib.sha256(json.dumps(
        {k: forged["events"][2][k] for k in ("batch_id", "seq", "biz_step", "event_time",
                                             "read_point", "data", "prev_hash")},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    with pytest.raises(InvalidSignature):
        verify(forged)


def test_the_hash_is_sha256_of_the_canonical_json_and_the_signature_ed25519() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    batch = chain_of(1)
    trace = call("get_trace", {"code": batch["code"]}).data
    event = trace["events"][0]
    canonical = ('{"batch_id":"%s","biz_step":"commissioning","data":{"temp_c":0,"检验员":"王五"},'
                 '"event_time":"2026-11-02T09:30:00Z","prev_hash":"%s",'
                 '"read_point":"urn:epc:id:sgln:0614141.00777.0","seq":1}'
                 % (batch["batch_id"], "0" * 64)).encode("utf-8")  # UTF-8, not \\u escapes

    assert event["hash"] == hashlib.sha256(canonical).hexdigest()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(trace["public_key"]))
    key.verify(base64.b64decode(event["signature"]), bytes.fromhex(event["hash"]))


def test_an_event_edited_in_the_database_is_caught_at_its_seq(db: Any) -> None:
    batch = chain_of(4)
    db.trace_events.update_one({"batch_id": batch["batch_id"], "seq": 3},
                               {"$set": {"read_point": "somewhere else"}})

    trace = call("get_trace", {"code": batch["code"]}).data

    assert trace["verified"] is False
    assert trace["first_bad_seq"] == 3


def test_an_edit_that_recomputes_the_hash_still_fails_the_signature(db: Any) -> None:
    from shared.trace.chain import event_hash
    batch = chain_of(3)
    doc = db.trace_events.find_one({"batch_id": batch["batch_id"], "seq": 2})
    doc["data"] = {"temp_c": 2}
    db.trace_events.update_one({"_id": doc["_id"]},
                               {"$set": {"data": doc["data"], "hash": event_hash(doc)}})

    trace = call("get_trace", {"code": batch["code"]}).data

    assert (trace["verified"], trace["first_bad_seq"]) == (False, 2)


def test_a_deleted_event_shows_as_the_first_seq_out_of_place(db: Any) -> None:
    batch = chain_of(4)
    db.trace_events.delete_one({"batch_id": batch["batch_id"], "seq": 2})

    trace = call("get_trace", {"code": batch["code"]}).data

    assert (trace["verified"], trace["first_bad_seq"]) == (False, 2)


def test_an_untouched_chain_verifies_and_an_empty_batch_too() -> None:
    empty = new_batch("EMPTY-1")
    assert call("get_trace", {"code": empty["code"]}).data["verified"] is True
    assert call("get_trace", {"code": chain_of(4)["code"]}).data["verified"] is True


def test_there_is_no_action_that_edits_or_deletes_an_event() -> None:
    from shared.core.actions import ACTIONS
    trace_actions = {name for name, action in ACTIONS.items()
                     if action.module.startswith("shared.trace")}
    assert not {name for name in trace_actions
                if re.search(r"(edit|update|delete|remove|upsert|set)", name)}


# ---- inputs ------------------------------------------------------------------------------

@pytest.mark.parametrize("data, place", [
    ({"temp_c": 4.5}, "data.temp_c"), ({"nested": {"ph": 6.0}}, "data.nested.ph"),
    ({"list": [1, 2.0]}, "data.list[1]"), ({"ok": True}, "data.ok")])
def test_floats_and_booleans_in_data_are_refused_with_a_422(data: dict, place: str) -> None:
    batch = new_batch()
    answer = append(batch["batch_id"], data=data)

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert place in json.dumps(answer.body["error"], ensure_ascii=False)
    assert "integers and strings only" in json.dumps(answer.body["error"])


def test_floats_in_batch_attributes_are_refused_too() -> None:
    sku_id = new_product()["skus"][0]["id"]
    answer = merchant("merchant_create_trace_batch", {
        "sku_id": sku_id, "batch_no": "F-1", "origin": "x", "produced_at": "2026-11-01",
        "attributes": {"brix": 13.5}})
    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_biz_steps_come_from_the_cbv_in_short_or_urn_form() -> None:
    batch = new_batch()
    assert append(batch["batch_id"], "teleporting").code == "VALIDATION_ERROR"
    event = append(batch["batch_id"], "urn:epcglobal:cbv:bizstep:shipping").data
    assert event["biz_step"] == "shipping"


def test_unknown_batch_and_unknown_code_are_404() -> None:
    assert append("tb_missing").status == 404
    assert call("get_trace", {"code": "tnothere"}).status == 404
    assert merchant("merchant_create_trace_batch", {
        "sku_id": "sku_missing", "batch_no": "1", "origin": "x",
        "produced_at": "2026-11-01T00:00:00Z"}).status == 404


def test_the_same_batch_no_of_a_sku_is_one_batch() -> None:
    first = new_batch("SAME-1")
    sku_id = first["batch"]["sku_id"]
    again = new_batch("SAME-1", sku_id=sku_id)
    other = merchant("merchant_create_trace_batch", {
        "sku_id": sku_id, "batch_no": "SAME-1", "origin": "别处",
        "produced_at": "2026-11-01T08:00:00Z"})

    assert (again["batch_id"], again["code"]) == (first["batch_id"], first["code"])
    assert (other.status, other.code) == (409, "CONFLICT")
    assert "批次" in other.body["error"]["message_zh"]


def test_a_retry_with_the_same_request_id_appends_once(db: Any) -> None:
    batch = new_batch()
    first = append(batch["batch_id"], request_id="ev-1").data
    again = append(batch["batch_id"], request_id="ev-1").data

    assert first == again
    assert db.trace_events.count_documents({"batch_id": batch["batch_id"]}) == 1


# ---- concurrency ----------------------------------------------------------------------------

def test_appends_racing_on_real_threads_never_share_a_seq(db: Any) -> None:
    batch = new_batch()
    answers = run_threads(12, lambda i: append(batch["batch_id"], data={"n": i}))

    assert all(a.ok for a in answers), [a.body for a in answers if not a.ok]
    seqs = sorted(a.data["seq"] for a in answers)
    assert seqs == list(range(1, 13))
    assert db.trace_events.count_documents({"batch_id": batch["batch_id"]}) == 12
    trace = call("get_trace", {"code": batch["code"]}).data
    assert trace["verified"] is True
    assert sorted(e["data"]["n"] for e in trace["events"]) == list(range(12))


def test_the_unique_index_refuses_a_second_event_at_a_seq(db: Any) -> None:
    from pymongo.errors import DuplicateKeyError
    batch = chain_of(1)
    with pytest.raises(DuplicateKeyError):
        db.trace_events.insert_one({"_id": "other", "batch_id": batch["batch_id"], "seq": 1})


# ---- the key ----------------------------------------------------------------------------------

def test_the_dev_key_is_made_once_per_database() -> None:
    first = call("get_trace", {"code": chain_of(1)["code"]}).data["public_key"]
    second = call("get_trace", {"code": new_batch("K-2")["code"]}).data["public_key"]
    assert first == second


def test_the_configured_key_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from shared.core.config import reset_settings
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    monkeypatch.setenv("TRACE_SIGNING_KEY", base64.b64encode(raw).decode())
    reset_settings()

    trace = call("get_trace", {"code": chain_of(2)["code"]}).data

    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert trace["public_key"] == base64.b64encode(public).decode()
    assert trace["verified"] is True


def production(**overrides: Any) -> dict[str, Any]:
    return {"SHOP_ENV": "production", "MONGODB_URI": "mongodb://db.example.com",
            "TOKEN_SECRET": "t" * 40, "MERCHANT_TOKEN": "m" * 30, "WX_APPID": "wx1",
            "WX_SECRET": "s" * 32, "WXPAY_MCHID": "1230000109",
            "WXPAY_NOTIFY_URL": "https://x/pay/notify",
            "WXPAY_REFUND_NOTIFY_URL": "https://x/pay/refund-notify",
            "S3_ENDPOINT_URL": "https://cos.example.com", "TENCENTCLOUD_SECRET_ID": "AKID",
            "TENCENTCLOUD_SECRET_KEY": "k" * 32, **overrides}


def test_production_refuses_to_start_with_a_malformed_trace_key() -> None:
    from shared.core.config import ConfigError, Settings
    Settings(**production(TRACE_SIGNING_KEY=base64.b64encode(b"k" * 32).decode())) \
        .check_production()
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigError, match="TRACE_SIGNING_KEY"):
            Settings(**production(TRACE_SIGNING_KEY=bad)).check_production()


def test_production_signs_nothing_without_a_key(db: Any) -> None:
    from shared.core.config import ConfigError, Settings
    from shared.trace.chain import signing_key
    with pytest.raises(ConfigError, match="TRACE_SIGNING_KEY"):
        signing_key(db, Settings(**production()))
    assert db.trace_keys.count_documents({}) == 0  # no dev key is ever made there


def test_production_wants_tbaas_complete_when_it_is_asked_for() -> None:
    from shared.core.config import ConfigError, Settings
    with pytest.raises(ConfigError, match="TBAAS_CLUSTER_ID"):
        Settings(**production(TBAAS_CHAIN_ID="chain_demo")).check_production()
    Settings(**production(TBAAS_CHAIN_ID="chain_demo", TBAAS_CLUSTER_ID="cl-1")) \
        .check_production()


# ---- entries: callFunction --------------------------------------------------------------------

def test_get_trace_through_a_callfunction_event() -> None:
    from tests.functions.test_handlers import invoke
    batch = chain_of(2)
    answer = invoke("get_trace", {"code": batch["code"]})
    assert answer["ok"] is True, answer
    assert answer["data"]["verified"] is True
