"""A loopback double of Tencent Cloud's SCF API (2018-04-16) for scripts/deploy.

It checks the TC3-HMAC-SHA256 signature of every request the SDK sends (recomputed from the
secret key, as the real endpoint does), records each call, and keeps the state a deploy
changes: namespaces, functions (which stay Creating/Updating for a few reads and refuse
changes meanwhile, as SCF does), layer versions, triggers, versions and aliases, custom
domains. It enforces the quotas scripts/deploy must respect: 50 functions per namespace,
5 namespaces, 4 KB of environment per function, 50 MB layer zips, 5 layers per function.
"""
from __future__ import annotations

import base64
import hmac
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional, Protocol, TypeVar

from tests.unit.test_fanout import tc3_signature

SECRET_ID, SECRET_KEY = "AKIDdeploydouble0123456789", "deploy-double-secret-key"
READ_ACTIONS = frozenset({"ListNamespaces", "ListFunctions", "GetFunction", "ListTriggers",
                          "ListLayerVersions", "GetLayerVersion", "GetCustomDomain",
                          "ListVersionByFunction", "GetAlias", "ListAliases"})


class Refused(Exception):
    def __init__(self, code: str, message: str = "refused") -> None:
        super().__init__(code)
        self.code, self.message = code, message


class ScfApiDouble:
    def __init__(self, region: str = "ap-guangzhou", busy_reads: int = 2) -> None:
        self.region, self.busy_reads = region, busy_reads
        self.host = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.namespaces: dict[str, dict[str, Any]] = {"default": {"Name": "default"}}
        self.functions: dict[tuple[str, str], dict[str, Any]] = {}
        self.busy: dict[tuple[str, str], int] = {}
        self.layers: dict[str, list[dict[str, Any]]] = {}
        self.triggers: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.aliases: dict[tuple[str, str, str], str] = {}
        self.domains: dict[str, dict[str, Any]] = {}

    # ---- the HTTP side ---------------------------------------------------------------------

    def check_signature(self, path: str, headers: Any, payload: bytes) -> Optional[str]:
        return tc3_refusal(path, headers, payload, service="scf", host=self.host,
                           region=self.region, credentials=(SECRET_ID, SECRET_KEY))

    def handle(self, path: str, headers: Any, payload: bytes) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        refused = self.check_signature(path, headers, payload)
        action = str(headers.get("X-TC-Action", ""))
        with self.lock:
            if refused:
                self.refused.append(refused)
                return {"Response": {"Error": {"Code": refused, "Message": "refused"},
                                     "RequestId": request_id}}
            params = json.loads(payload or b"{}")
            self.calls.append((action, params))
            try:
                answer = getattr(self, f"do_{action}")(params)
            except Refused as exc:
                return {"Response": {"Error": {"Code": exc.code, "Message": exc.message},
                                     "RequestId": request_id}}
        return {"Response": {**answer, "RequestId": request_id}}

    # ---- what a test asks -------------------------------------------------------------------

    def changes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(a, p) for a, p in self.calls if a not in READ_ACTIONS]

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # ---- helpers ---------------------------------------------------------------------------

    def _function(self, params: dict[str, Any]) -> tuple[tuple[str, str], dict[str, Any]]:
        key = (params.get("Namespace") or "default", params["FunctionName"])
        if key not in self.functions:
            raise Refused("ResourceNotFound.Function", f"no function {key}")
        return key, self.functions[key]

    def _not_busy(self, key: tuple[str, str]) -> None:
        if self.busy.get(key, 0) > 0:
            raise Refused("FailedOperation.UpdateFunctionCode",
                          f"{key[1]} is {self.functions[key]['Status']}, try later")

    def _make_busy(self, key: tuple[str, str], status: str) -> None:
        self.functions[key]["Status"] = status
        self.busy[key] = self.busy_reads

    @staticmethod
    def _check_config(params: dict[str, Any]) -> None:
        variables = (params.get("Environment") or {}).get("Variables") or []
        size = sum(len(v["Key"]) + 1 + len(v.get("Value", "")) for v in variables)
        if size > 4096:
            raise Refused("InvalidParameterValue.Environment", f"environment is {size} bytes")
        if len(params.get("Layers") or []) > 5:
            raise Refused("LimitExceeded.Layers", "at most 5 layers")

    # ---- the actions -------------------------------------------------------------------------

    def do_ListNamespaces(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        names = sorted(self.namespaces)
        page = names[p.get("Offset", 0):p.get("Offset", 0) + p.get("Limit", 20)]
        return {"Namespaces": [self.namespaces[n] for n in page], "TotalCount": len(names)}

    def do_CreateNamespace(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p["Namespace"] in self.namespaces:
            raise Refused("ResourceInUse.Namespace")
        if len(self.namespaces) >= 5:
            raise Refused("LimitExceeded.Namespace", "5 namespaces per region")
        self.namespaces[p["Namespace"]] = {"Name": p["Namespace"],
                                           "Description": p.get("Description", "")}
        return {}

    def do_ListFunctions(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        names = sorted(n for ns, n in self.functions if ns == p.get("Namespace", "default"))
        page = names[p.get("Offset", 0):p.get("Offset", 0) + p.get("Limit", 20)]
        return {"Functions": [{"FunctionName": n, "Namespace": p.get("Namespace", "default"),
                               "Status": self.functions[(p.get("Namespace", "default"), n)]
                               ["Status"]} for n in page], "TotalCount": len(names)}

    def do_GetFunction(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, info = self._function(p)
        if self.busy.get(key, 0) > 0:
            self.busy[key] -= 1
            if self.busy[key] == 0:
                info["Status"] = "Active"
        return json.loads(json.dumps(info))

    def do_CreateFunction(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        namespace = p.get("Namespace") or "default"
        if namespace not in self.namespaces:
            raise Refused("ResourceNotFound.Namespace")
        if (namespace, p["FunctionName"]) in self.functions:
            raise Refused("ResourceInUse.Function")
        if sum(1 for ns, _ in self.functions if ns == namespace) >= 50:
            raise Refused("LimitExceeded.Function", "50 functions per namespace")
        self._check_config(p)
        code = base64.b64decode(p["Code"]["ZipFile"])
        key = (namespace, p["FunctionName"])
        self.functions[key] = {
            "FunctionName": p["FunctionName"], "Namespace": namespace,
            "Handler": p["Handler"], "Description": p.get("Description", ""),
            "MemorySize": p.get("MemorySize", 128), "Timeout": p.get("Timeout", 3),
            "Runtime": p.get("Runtime"), "Environment": p.get("Environment") or {"Variables": []},
            "Layers": [{**layer} for layer in p.get("Layers") or []], "CodeSize": len(code),
            "Qualifier": "$LATEST", "Status": "Creating"}
        self._make_busy(key, "Creating")
        return {}

    def do_UpdateFunctionCode(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, info = self._function(p)
        self._not_busy(key)
        info["Handler"] = p.get("Handler", info["Handler"])
        info["CodeSize"] = len(base64.b64decode(p["ZipFile"]))
        self._make_busy(key, "Updating")
        return {}

    def do_UpdateFunctionConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, info = self._function(p)
        self._not_busy(key)
        self._check_config(p)
        for field in ("Description", "MemorySize", "Timeout", "Runtime", "Environment",
                      "Layers"):
            if field in p:
                info[field] = p[field]
        self._make_busy(key, "Updating")
        return {}

    def do_ListLayerVersions(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p["LayerName"] not in self.layers:
            raise Refused("ResourceNotFound.Layer")
        return {"LayerVersions": [dict(v) for v in reversed(self.layers[p["LayerName"]])]}

    def do_PublishLayerVersion(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        content = base64.b64decode(p["Content"]["ZipFile"])
        if len(content) > 50 * 1024 * 1024:
            raise Refused("InvalidParameterValue.ZipFile", "a zip of at most 50 MB")
        versions = self.layers.setdefault(p["LayerName"], [])
        version = len(versions) + 1
        versions.append({"LayerName": p["LayerName"], "LayerVersion": version,
                         "Description": p.get("Description", ""), "Status": "Publishing",
                         "CompatibleRuntimes": p.get("CompatibleRuntimes"),
                         "Size": len(content)})
        return {"LayerVersion": version}

    def do_GetLayerVersion(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        for version in self.layers.get(p["LayerName"], []):
            if version["LayerVersion"] == p["LayerVersion"]:
                answer = dict(version)
                version["Status"] = "Active"  # ready from the next read on
                return answer
        raise Refused("ResourceNotFound.LayerVersion")

    def do_ListTriggers(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, _ = self._function(p)
        triggers = list(self.triggers.get(key, {}).values())
        return {"Triggers": triggers, "TotalCount": len(triggers)}

    def do_CreateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, _ = self._function(p)
        self._not_busy(key)
        existing = self.triggers.setdefault(key, {})
        if p["TriggerName"] in existing:
            raise Refused("ResourceInUse.Trigger")
        if p["Type"] == "http" and any(t["Type"] == "http" for t in existing.values()):
            raise Refused("ResourceInUse.FunctionUrl", "one Function URL per qualifier")
        existing[p["TriggerName"]] = {"TriggerName": p["TriggerName"], "Type": p["Type"],
                                      "TriggerDesc": p.get("TriggerDesc", ""),
                                      "Enable": 1 if p.get("Enable") == "OPEN" else 0,
                                      "Qualifier": p.get("Qualifier", "$LATEST")}
        return {"TriggerInfo": existing[p["TriggerName"]]}

    def do_UpdateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, _ = self._function(p)
        trigger = self.triggers.get(key, {}).get(p["TriggerName"])
        if trigger is None:
            raise Refused("ResourceNotFound.Trigger")
        trigger["TriggerDesc"] = p.get("TriggerDesc", trigger["TriggerDesc"])
        return {}

    def do_GetCustomDomain(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p["Domain"] not in self.domains:
            raise Refused("ResourceNotFound.Domain")
        return json.loads(json.dumps(self.domains[p["Domain"]]))

    def do_CreateCustomDomain(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p["Domain"] in self.domains:
            raise Refused("ResourceInUse.Domain")
        for endpoint in p["EndpointsConfig"]:
            self._function({"FunctionName": endpoint["FunctionName"],
                            "Namespace": endpoint["Namespace"]})
        self.domains[p["Domain"]] = {k: p[k] for k in ("Domain", "Protocol", "EndpointsConfig")}
        return {}

    def do_UpdateCustomDomain(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p["Domain"] not in self.domains:
            raise Refused("ResourceNotFound.Domain")
        self.domains[p["Domain"]].update({k: p[k] for k in ("Protocol", "EndpointsConfig")
                                          if k in p})
        return {}

    def do_PublishVersion(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, info = self._function(p)
        self._not_busy(key)
        versions = self.versions.setdefault(key, [])
        version = str(len(versions) + 1)
        versions.append({"Version": version, "Description": p.get("Description", "")})
        self._make_busy(key, "Publishing")
        return {"FunctionVersion": version, "Namespace": key[0]}

    def do_ListVersionByFunction(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, _ = self._function(p)
        versions = [{"Version": "$LATEST", "Description": ""}] + self.versions.get(key, [])
        return {"Versions": versions, "FunctionVersion": [v["Version"] for v in versions],
                "TotalCount": len(versions)}

    def do_UpdateAlias(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        key, _ = self._function(p)
        known = {v["Version"] for v in self.versions.get(key, [])} | {"$LATEST"}
        if p["FunctionVersion"] not in known:
            raise Refused("ResourceNotFound.Version")
        self.aliases[(key[0], key[1], p["Name"])] = p["FunctionVersion"]
        return {}


def tc3_refusal(path: str, headers: Any, payload: bytes, *, service: str, host: str,
                region: str, credentials: tuple[str, str]) -> Optional[str]:
    """Why Tencent Cloud API 3.0 would refuse this request (None: it would run it): the
    TC3-HMAC-SHA256 signature recomputed from the secret key, its freshness, scope, signed
    headers, host, version and region. Shared by the SCF and TBaaS doubles."""
    secret_id, secret_key = credentials
    auth = headers.get("Authorization", "")
    algorithm, _, rest = auth.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    key_id, date, scope, terminator = (fields.get("Credential", "").split("/") +
                                       ["", "", "", ""])[:4]
    timestamp = int(headers.get("X-TC-Timestamp", "0"))
    signed = fields.get("SignedHeaders", "").split(";")
    if algorithm != "TC3-HMAC-SHA256" or key_id != secret_id:
        return "AuthFailure.SecretIdNotFound"
    if abs(time.time() - timestamp) > 300:
        return "AuthFailure.SignatureExpire"
    expected_date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    if (date, scope, terminator) != (expected_date, service, "tc3_request") or \
            not {"content-type", "host"} <= set(signed) or headers.get("Host") != host:
        return "AuthFailure.InvalidAuthorization"
    lowered = {k.lower(): v for k, v in headers.items()}
    expected = tc3_signature(secret_key, "POST", path.split("?", 1)[0] or "/", "", lowered,
                             signed, payload, timestamp, service)
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "AuthFailure.SignatureFailure"
    if headers.get("X-TC-Version") != "2018-04-16" or headers.get("X-TC-Region") != region:
        return "InvalidParameter.Region"
    return None


class ApiDouble(Protocol):
    """A Tencent Cloud API 3.0 double served over loopback: it answers a POST and knows its host
    (the signature covers it)."""
    host: str

    def handle(self, path: str, headers: Any, payload: bytes) -> dict[str, Any]: ...


D = TypeVar("D", bound=ApiDouble)


def _handler(double: ApiDouble) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = json.dumps(double.handle(self.path, self.headers, payload)).encode()
            self.send_response(200)  # API 3.0 answers errors with 200 and Response.Error
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass
    return Handler


def serve_double(double: D) -> Iterator[D]:
    """Serve an API 3.0 double (SCF's here, TBaaS's in tests/tbaas_double.py) on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    double.host = f"127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
