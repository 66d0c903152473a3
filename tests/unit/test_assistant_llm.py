"""The assistant's optional LLM (issue 18): Tencent Hunyuan's ChatCompletions, called by the
real SDK against a loopback double that checks the TC3 signature and the request (model,
grounded prompt), and answers what a test scripts: a grounded reply, an invented price, an
invented product, an error, or nothing within the 3 s budget."""
from __future__ import annotations

import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from tests.conftest import call
from tests.unit.test_fanout import tc3_signature

SECRET_ID, SECRET_KEY = "AKIDhunyuandouble0123456789", "hunyuan-double-secret-key"
MODEL = "hunyuan-lite"


class HunyuanDouble:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.reply = "好的。"
        self.delay = 0.0
        self.error = False
        self.host = ""
        self.lock = threading.Lock()

    def check(self, path: str, headers: Any, payload: bytes) -> str:
        auth = headers.get("Authorization", "")
        _, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        signed = fields.get("SignedHeaders", "").split(";")
        lowered = {k.lower(): v for k, v in headers.items()}
        expected = tc3_signature(SECRET_KEY, "POST", path or "/", "", lowered, signed, payload,
                                 int(headers.get("X-TC-Timestamp", "0")), "hunyuan")
        if not fields.get("Credential", "").startswith(SECRET_ID + "/") or \
                not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure"
        if headers.get("X-TC-Action") != "ChatCompletions" or \
                headers.get("X-TC-Version") != "2023-09-01":
            return "InvalidAction"
        return ""


@pytest.fixture
def hunyuan(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[HunyuanDouble]:
    from shared.cloud import hunyuan as adapter
    from shared.core.config import reset_settings
    from shared.demo.seed import seed
    double = HunyuanDouble()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            refused = double.check(self.path, self.headers, payload)
            with double.lock:
                double.requests.append(json.loads(payload))
                if refused:
                    double.refused.append(refused)
            time.sleep(double.delay)
            if refused or double.error:
                body = {"Response": {"Error": {"Code": refused or "InternalError",
                                               "Message": "refused"}, "RequestId": "r"}}
            else:
                body = {"Response": {"Choices": [{"Message": {"Role": "assistant",
                                                              "Content": double.reply}}],
                                     "RequestId": "r1"}}
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the shop gave up waiting: what the slow test wants

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    double.host = f"127.0.0.1:{server.server_port}"
    monkeypatch.setattr(adapter, "ENDPOINT", double.host)
    monkeypatch.setenv("HUNYUAN_MODEL", MODEL)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    reset_settings()
    seed(db)
    yield double
    server.shutdown()
    server.server_close()
    thread.join()


def ask(message: str) -> dict[str, Any]:
    return dict(call("assistant_ask", {"message": message}).data)


def test_the_request_is_signed_and_grounded_in_the_retrieved_facts(
        hunyuan: HunyuanDouble) -> None:
    hunyuan.reply = "不锈钢保温杯89元，有白、黑、绿三色可选。"
    data = ask("有没有100元以内的保温杯")
    assert hunyuan.refused == []
    request = hunyuan.requests[0]
    assert request["Model"] == MODEL and request["Stream"] is False
    system, user = request["Messages"]
    assert system["Role"] == "system" and "不要编造" in system["Content"]
    assert "不锈钢保温杯 89元" in user["Content"] and "100元以内的保温杯" in user["Content"]
    assert data["answer"] == "不锈钢保温杯89元，有白、黑、绿三色可选。"
    assert data["products"][0]["id"] == "prd_026"     # the cards stay retrieval's


def test_a_price_the_facts_do_not_hold_is_dropped(hunyuan: HunyuanDouble) -> None:
    hunyuan.reply = "不锈钢保温杯89元。今天特价只要59元！"
    data = ask("有没有100元以内的保温杯")
    assert data["answer"] == "不锈钢保温杯89元。"


def test_a_product_the_facts_do_not_hold_is_dropped(hunyuan: HunyuanDouble) -> None:
    hunyuan.reply = "推荐不锈钢保温杯。也可以看看西湖龙井。"
    data = ask("有没有100元以内的保温杯")
    assert "西湖龙井" not in data["answer"] and "不锈钢保温杯" in data["answer"]


def test_a_reply_emptied_by_the_check_leaves_the_retrieval_answer(
        hunyuan: HunyuanDouble) -> None:
    hunyuan.reply = "只要9.9元！"
    data = ask("有没有100元以内的保温杯")
    assert data["answer"].startswith("为您找到")


def test_an_error_leaves_the_retrieval_answer(hunyuan: HunyuanDouble) -> None:
    hunyuan.error = True
    assert ask("包邮吗")["answer"].startswith("全场满59元包邮")


def test_a_slow_model_is_given_three_seconds_then_the_retrieval_answer(
        hunyuan: HunyuanDouble) -> None:
    hunyuan.delay = 5
    hunyuan.reply = "包邮。"
    started = time.monotonic()
    data = ask("包邮吗")
    assert time.monotonic() - started < 4.0
    assert data["answer"].startswith("全场满59元包邮")


def test_off_unless_configured(hunyuan: HunyuanDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core.config import reset_settings
    monkeypatch.delenv("HUNYUAN_MODEL")
    reset_settings()
    ask("包邮吗")
    assert hunyuan.requests == []
