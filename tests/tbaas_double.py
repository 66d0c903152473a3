"""A loopback double of Tencent Cloud's TBaaS API (2018-04-16) for the trace anchors.

Like tests/scf_api_double.py, it checks the TC3-HMAC-SHA256 signature of every request the SDK
sends (recomputed from the secret key), the service, version and region headers, and then
plays a ChainMaker key-value contract: ``InvokeChainMakerContract`` with ``FuncName`` ``save``
and ``FuncParam`` ``{"key", "value"}`` (strings) writes the value under the key, in a block
with a transaction id. It can refuse the next calls (``fail_next``) as the chain or the
network would.
"""
from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from tests.scf_api_double import serve_double  # noqa: F401 - the same loopback server
from tests.unit.test_fanout import tc3_signature

SECRET_ID, SECRET_KEY = "AKIDtbaasdouble0123456789", "tbaas-double-secret-key"
CLUSTER, CHAIN, CONTRACT = "chainmaker-cluster-1", "chain_shop", "ShopTraceAnchor"


class TbaasDouble:
    def __init__(self, region: str = "ap-guangzhou") -> None:
        self.region, self.host = region, ""
        self.lock = threading.Lock()
        self.ledger: dict[str, list[str]] = {}      # key -> every value written, in order
        self.transactions: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.fail_next = 0                           # answer this many calls with an error

    def check_signature(self, path: str, headers: Any, payload: bytes) -> Optional[str]:
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
        if (date, service, terminator) != (expected_date, "tbaas", "tc3_request") or \
                not {"content-type", "host"} <= set(signed) or headers.get("Host") != self.host:
            return "AuthFailure.InvalidAuthorization"
        lowered = {k.lower(): v for k, v in headers.items()}
        expected = tc3_signature(SECRET_KEY, "POST", path.split("?", 1)[0] or "/", "", lowered,
                                 signed, payload, timestamp, "tbaas")
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure"
        if headers.get("X-TC-Version") != "2018-04-16" or \
                headers.get("X-TC-Region") != self.region:
            return "InvalidParameter.Region"
        return None

    def handle(self, path: str, headers: Any, payload: bytes) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        with self.lock:
            refused = self.check_signature(path, headers, payload)
            action = headers.get("X-TC-Action")
            if refused is None and action != "InvokeChainMakerContract":
                refused = "InvalidAction"
            if refused is None and self.fail_next > 0:
                self.fail_next -= 1
                refused = "FailedOperation.ChainUnavailable"
            if refused:
                self.refused.append(refused)
                return {"Response": {"Error": {"Code": refused, "Message": "refused"},
                                     "RequestId": request_id}}
            params = json.loads(payload or b"{}")
            if (params.get("ClusterId"), params.get("ChainId"), params.get("ContractName"),
                    params.get("FuncName")) != (CLUSTER, CHAIN, CONTRACT, "save"):
                self.refused.append("ResourceNotFound.Contract")
                return {"Response": {"Error": {"Code": "ResourceNotFound.Contract",
                                               "Message": "no such contract"},
                                     "RequestId": request_id}}
            args = json.loads(params["FuncParam"])
            assert all(isinstance(v, str) for v in args.values())  # the contract takes strings
            tx_id = uuid.uuid4().hex
            self.ledger.setdefault(args["key"], []).append(args["value"])
            self.transactions.append({"tx_id": tx_id, **args})
        return {"Response": {"Result": {"Code": 0, "CodeMessage": "SUCCESS", "TxId": tx_id,
                                        "GasUsed": 120, "Message": "", "Result": ""},
                             "RequestId": request_id}}
