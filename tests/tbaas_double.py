"""A loopback double of Tencent Cloud's TBaaS API (2018-04-16) for the trace anchors.

Like tests/scf_api_double.py, it checks the TC3-HMAC-SHA256 signature of every request the SDK
sends (recomputed from the secret key), the service, version and region headers, and then
plays a ChainMaker key-value contract: ``InvokeChainMakerContract`` with ``FuncName`` ``save``
and ``FuncParam`` ``{"key", "value"}`` (strings) writes the value under the key, in a block
with a transaction id. It can refuse the next calls (``fail_next``) as the chain or the
network would.
"""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Optional

from tests.scf_api_double import (
    serve_double,  # noqa: F401 - the same loopback server
    tc3_refusal,
)

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
        return tc3_refusal(path, headers, payload, service="tbaas", host=self.host,
                           region=self.region, credentials=(SECRET_ID, SECRET_KEY))

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
