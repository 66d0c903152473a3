"""plan and apply: what exists on SCF against what the repository declares, then the calls
that make them agree. Every call is idempotent against the state it read: a second apply of
an unchanged repository sends no call that changes anything.

Code and layers are recognised by content: a function's Description ends with ``#<sha>`` of
its zip, a layer version's Description is ``shop-lib sha256:<sha>`` of layer.zip, so an
unchanged zip is never uploaded again.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .manifest import (
    ENV_BUDGET_BYTES,
    HANDLER,
    LAYER_NAME,
    LAYER_ZIP_LIMIT_BYTES,
    ROOT,
    RUNTIME,
    SECRETS,
    Function,
    Manifest,
)
from .report import Row
from .scf_api import ScfApi, ScfError

QUALIFIER = "$DEFAULT"   # triggers follow the default alias, so a rollback moves them too
URL_TRIGGER = "gateway_url"
# CreateTrigger Type=http creates a Function URL; this TriggerDesc opens it to the internet
# without CAM signing (the shop authenticates with its own tokens)
URL_TRIGGER_DESC = {"AuthType": "NONE",
                    "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
PENDING = ("Creating", "Updating", "Publishing", "Pending")
FAILED = ("CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class DeployError(RuntimeError):
    """A deploy that must stop: what went wrong, in one line."""


@dataclass
class Options:
    region: str = "ap-guangzhou"
    http: str = "url"                 # url: the gateway's Function URL | domain: custom domain
    domain: Optional[str] = None
    protocol: str = "HTTPS"
    cert_id: Optional[str] = None
    poll_seconds: float = 2.0
    wait_seconds: float = 600.0
    layer_zip: Path = ROOT / "dist" / "layer.zip"


@dataclass
class Step:
    """One change: a row of the plan and, when applied, the calls that make it."""
    resource: str
    declared: str
    exists: str
    change: str
    run: Optional[Callable[[], None]] = None

    def row(self) -> Row:
        return Row(self.resource, self.declared, self.exists, self.change)


def function_zip(name: str) -> bytes:
    """functions/<name>/index.py alone, at the root of the zip, as scripts/package writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("index.py", ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, (ROOT / "functions" / name / "index.py").read_bytes())
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def env_bytes(env: dict[str, str]) -> int:
    return sum(len(k.encode()) + 1 + len(v.encode()) for k, v in env.items())


@dataclass
class Declared:
    """What the repository declares, with the values of this deploy."""
    manifest: Manifest
    values: dict[str, str]
    options: Options
    layer: Optional[bytes] = None
    zips: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.zips = {f.name: function_zip(f.name) for f in self.manifest.functions}
        path = self.options.layer_zip
        self.layer = path.read_bytes() if path.is_file() else None

    @property
    def layer_sha(self) -> Optional[str]:
        return sha(self.layer) if self.layer is not None else None

    def environment(self, function: Function) -> dict[str, str]:
        derived = self.manifest.derived_environment(self.options.region)
        return function.environment(self.values, derived)

    def description(self, function: Function) -> str:
        return f"{function.description} #{sha(self.zips[function.name])}"

    def problems(self) -> list[str]:
        found = []
        for function in self.manifest.functions:
            size = env_bytes(self.environment(function))
            if size > ENV_BUDGET_BYTES:
                found.append(f"{function.name}: its environment is {size} bytes, SCF allows "
                             f"{ENV_BUDGET_BYTES}")
        if self.layer is not None and len(self.layer) > LAYER_ZIP_LIMIT_BYTES:
            found.append(f"layer.zip is {len(self.layer)} bytes, SCF takes at most "
                         f"{LAYER_ZIP_LIMIT_BYTES} in a zip")
        if self.options.http == "domain" and not self.options.domain:
            found.append("--http domain needs --domain")
        return found

    def endpoints(self) -> list[dict[str, str]]:
        """The custom domain's routes: each path to the function that serves it."""
        routes = []
        for function in self.manifest.functions:
            if function.http_path and function.kind != "gateway":
                routes.append((function.http_path, function))
        gateway = self.manifest.by_name().get("gateway")
        if gateway is not None:
            routes.append(("/healthz", gateway))
        return [{"Namespace": f.namespace, "FunctionName": f.name, "Qualifier": QUALIFIER,
                 "PathMatch": path} for path, f in sorted(routes, key=lambda r: r[0])]


@dataclass
class Observed:
    namespaces: set[str] = field(default_factory=set)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> GetFunction
    triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    layer_versions: dict[str, int] = field(default_factory=dict)          # sha -> version
    domain: Optional[dict[str, Any]] = None


def observe(api: ScfApi, declared: Declared) -> Observed:
    """Read what exists, with List*/Get* calls only."""
    seen = Observed()
    seen.namespaces = {n["Name"] for n in api.pages("ListNamespaces", {}, "Namespaces")}
    for namespace in declared.manifest.namespaces:
        if namespace not in seen.namespaces:
            continue
        names = {f["FunctionName"] for f in api.pages("ListFunctions", {"Namespace": namespace},
                                                        "Functions")}
        for function in declared.manifest.in_namespace(namespace):
            if function.name in names:
                key = {"FunctionName": function.name, "Namespace": namespace}
                seen.functions[function.name] = api.call("GetFunction", key)
                seen.triggers[function.name] = api.pages("ListTriggers", key, "Triggers")
    try:
        versions = api.call("ListLayerVersions", {"LayerName": LAYER_NAME})
    except ScfError as exc:
        if not exc.code.startswith("ResourceNotFound"):
            raise
        versions = {}
    for version in versions.get("LayerVersions") or []:
        match = re.search(r"sha256:([0-9a-f]{16})", str(version.get("Description") or ""))
        if match:
            seen.layer_versions.setdefault(match.group(1), int(version["LayerVersion"]))
    if declared.options.http == "domain" and declared.options.domain:
        try:
            seen.domain = api.call("GetCustomDomain", {"Domain": declared.options.domain})
        except ScfError as exc:
            if not exc.code.startswith("ResourceNotFound"):
                raise
    return seen


def _existing_env(info: dict[str, Any]) -> dict[str, str]:
    variables = (info.get("Environment") or {}).get("Variables") or []
    return {str(v["Key"]): str(v.get("Value") or "") for v in variables}


def _existing_layers(info: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(layer["LayerName"]), int(layer["LayerVersion"]))
            for layer in info.get("Layers") or []]


def _shown(env: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k in SECRETS else v) for k, v in env.items()}


class Deployer:
    def __init__(self, api: Optional[ScfApi], declared: Declared) -> None:
        self.api, self.declared = api, declared
        self.layer_version: Optional[int] = None

    # ---- the plan ------------------------------------------------------------------------

    def offline_steps(self) -> list[Step]:
        """--dry-run without credentials: what the repository declares, nothing read."""
        d = self.declared
        steps = [Step(f"namespace {ns}", f"{len(d.manifest.in_namespace(ns))} functions", "?",
                      "unknown (not read)") for ns in d.manifest.namespaces]
        layer = f"sha256:{d.layer_sha}" if d.layer_sha else "not built (make package)"
        steps.append(Step(f"layer {LAYER_NAME}", layer, "?", "unknown (not read)"))
        for f in d.manifest.functions:
            env = d.environment(f)
            steps.append(Step(f"function {f.namespace}/{f.name}",
                              f"{f.memory}MB {f.timeout}s env {env_bytes(env)}B", "?",
                              "unknown (not read)"))
        steps += self._trigger_steps(Observed(), offline=True)
        return steps

    def steps(self, seen: Observed) -> list[Step]:
        d, api = self.declared, self.api
        assert api is not None
        steps: list[Step] = []
        for namespace in d.manifest.namespaces:
            if namespace not in seen.namespaces:
                steps.append(Step(f"namespace {namespace}", "declared", "no", "create",
                                  self._call("CreateNamespace", {
                                      "Namespace": namespace,
                                      "Description": "shop-backend functions"})))
        steps.append(self._layer_step(seen))
        for function in d.manifest.functions:
            steps += self._function_steps(function, seen)
        steps += self._trigger_steps(seen)
        return steps

    def _call(self, action: str, params: dict[str, Any]) -> Callable[[], None]:
        def run() -> None:
            assert self.api is not None
            self.api.call(action, params)
        return run

    def _layer_step(self, seen: Observed) -> Step:
        d = self.declared
        if d.layer is None:
            raise DeployError(f"no {d.options.layer_zip}: run `make package` first")
        existing = seen.layer_versions.get(d.layer_sha or "")
        if existing is not None:
            self.layer_version = existing
            return Step(f"layer {LAYER_NAME}", f"sha256:{d.layer_sha}", f"v{existing}", "none")

        def publish() -> None:
            assert self.api is not None and d.layer is not None
            answer = self.api.call("PublishLayerVersion", {
                "LayerName": LAYER_NAME, "CompatibleRuntimes": [RUNTIME],
                "Content": {"ZipFile": base64.b64encode(d.layer).decode()},
                "Description": f"{LAYER_NAME} sha256:{d.layer_sha}"})
            self.layer_version = int(answer["LayerVersion"])
            self._wait_layer(self.layer_version)
        return Step(f"layer {LAYER_NAME}", f"sha256:{d.layer_sha}", "no",
                    f"publish ({len(d.layer) / 1e6:.1f} MB)", publish)

    def _layers(self) -> list[dict[str, Any]]:
        return [{"LayerName": LAYER_NAME, "LayerVersion": self.layer_version}]

    def _config(self, function: Function) -> dict[str, Any]:
        env = self.declared.environment(function)
        return {"FunctionName": function.name, "Namespace": function.namespace,
                "Description": self.declared.description(function),
                "MemorySize": function.memory, "Timeout": function.timeout, "Runtime": RUNTIME,
                "Environment": {"Variables": [{"Key": k, "Value": v}
                                              for k, v in sorted(env.items())]},
                "Layers": self._layers()}

    def _function_steps(self, function: Function, seen: Observed) -> list[Step]:
        d = self.declared
        resource = f"function {function.namespace}/{function.name}"
        zipped = d.zips[function.name]
        info = seen.functions.get(function.name)
        if info is None:
            def create() -> None:
                assert self.api is not None
                self.api.call("CreateFunction", {
                    **self._config(function), "Handler": HANDLER, "Type": "Event",
                    "Code": {"ZipFile": base64.b64encode(zipped).decode()}})
                self.wait_active(function)
            return [Step(resource, f"{function.memory}MB {function.timeout}s", "no", "create",
                         create)]
        steps = []
        described = str(info.get("Description") or "")
        if not described.endswith(f"#{sha(zipped)}") or info.get("Handler") != HANDLER:
            def update_code() -> None:
                assert self.api is not None
                self.api.call("UpdateFunctionCode", {
                    "FunctionName": function.name, "Namespace": function.namespace,
                    "Handler": HANDLER, "ZipFile": base64.b64encode(zipped).decode()})
                self.wait_active(function)
            steps.append(Step(resource, f"code #{sha(zipped)}", "other code", "update code",
                              update_code))
        differences = self._config_differences(function, info, code_changed=bool(steps))
        if differences:
            def update_config() -> None:
                assert self.api is not None
                self.api.call("UpdateFunctionConfiguration", self._config(function))
                self.wait_active(function)
            steps.append(Step(resource, "configuration", "differs",
                              "update " + ", ".join(differences), update_config))
        if not steps:
            steps.append(Step(resource, f"{function.memory}MB {function.timeout}s", "yes",
                              "none"))
        return steps

    def _config_differences(self, function: Function, info: dict[str, Any],
                            code_changed: bool) -> list[str]:
        found = []
        if code_changed or info.get("Description") != self.declared.description(function):
            found.append("description")
        if int(info.get("MemorySize") or 0) != function.memory:
            found.append("memory")
        if int(info.get("Timeout") or 0) != function.timeout:
            found.append("timeout")
        if info.get("Runtime") != RUNTIME:
            found.append("runtime")
        wanted = self.declared.environment(function)
        existing = _existing_env(info)
        if existing != wanted:
            changed = sorted(set(wanted) ^ set(existing)
                             | {k for k in wanted if existing.get(k) != wanted[k]})
            found.append("environment " + ",".join(changed)[:60])
        layers = _existing_layers(info)
        if self.layer_version is None or layers != [(LAYER_NAME, self.layer_version)]:
            found.append("layer")
        return found

    def _trigger_steps(self, seen: Observed, offline: bool = False) -> list[Step]:
        d = self.declared
        steps = []
        for function in d.manifest.functions:
            existing = {t.get("TriggerName"): t for t in seen.triggers.get(function.name, [])}
            if function.cron:
                steps.append(self._trigger_step(function, f"{function.name}_timer", "timer",
                                                function.cron, existing, offline))
            if function.kind == "gateway" and d.options.http == "url":
                desc = json.dumps(URL_TRIGGER_DESC, separators=(",", ":"))
                urls = [t for t in existing.values() if t.get("Type") == "http"]
                name = str(urls[0]["TriggerName"]) if urls else URL_TRIGGER
                steps.append(self._trigger_step(function, name, "http", desc, existing,
                                                offline, same=lambda a, b: bool(a)))
        if d.options.http == "domain":
            steps.append(self._domain_step(seen, offline))
        return steps

    def _trigger_step(self, function: Function, name: str, kind: str, desc: str,
                      existing: dict[Any, dict[str, Any]], offline: bool,
                      same: Callable[[str, str], bool] = lambda a, b: a == b) -> Step:
        resource = f"trigger {function.name}/{name} ({kind})"
        shown = desc if kind == "timer" else "Function URL, public"
        params = {"FunctionName": function.name, "Namespace": function.namespace,
                  "TriggerName": name, "Type": kind, "TriggerDesc": desc,
                  "Qualifier": QUALIFIER, "Enable": "OPEN"}
        if offline:
            return Step(resource, shown, "?", "unknown (not read)")
        current = existing.get(name)
        if current is None:
            return Step(resource, shown, "no", "create", self._call("CreateTrigger", params))
        if not same(str(current.get("TriggerDesc") or ""), desc):
            return Step(resource, shown, str(current.get("TriggerDesc"))[:40], "update",
                        self._call("UpdateTrigger", params))
        return Step(resource, shown, "yes", "none")

    def _domain_step(self, seen: Observed, offline: bool) -> Step:
        d = self.declared
        endpoints = d.endpoints()
        resource = f"custom domain {d.options.domain}"
        declared = f"{len(endpoints)} routes {d.options.protocol}"
        if offline:
            return Step(resource, declared, "?", "unknown (not read)")
        params: dict[str, Any] = {"Domain": d.options.domain, "Protocol": d.options.protocol,
                                  "EndpointsConfig": endpoints,
                                  "WafConfig": {"WafOpen": "CLOSE"}}
        if d.options.cert_id:
            params["CertConfig"] = {"CertificateId": d.options.cert_id}
        if seen.domain is None:
            return Step(resource, declared, "no", "create",
                        self._call("CreateCustomDomain", params))

        def key(e: dict[str, Any]) -> tuple[str, ...]:
            return tuple(str(e.get(k)) for k in ("PathMatch", "Namespace", "FunctionName",
                                                 "Qualifier"))
        current = sorted(key(e) for e in seen.domain.get("EndpointsConfig") or [])
        if current != sorted(key(e) for e in endpoints) or \
                seen.domain.get("Protocol") != d.options.protocol:
            update = {k: v for k, v in params.items() if k != "WafConfig"}
            return Step(resource, declared, f"{len(current)} routes", "update",
                        self._call("UpdateCustomDomain", update))
        return Step(resource, declared, "yes", "none")

    # ---- waiting ---------------------------------------------------------------------------

    def wait_active(self, function: Function) -> None:
        """SCF refuses changes to a function that is still Creating or Updating."""
        assert self.api is not None
        deadline = time.monotonic() + self.declared.options.wait_seconds
        while True:
            info = self.api.call("GetFunction", {"FunctionName": function.name,
                                                 "Namespace": function.namespace})
            status = str(info.get("Status") or "")
            if status == "Active":
                return
            if status in FAILED or status not in PENDING:
                raise DeployError(f"{function.name} is {status}: {info.get('StatusDesc', '')}")
            if time.monotonic() > deadline:
                raise DeployError(f"{function.name} still {status} after "
                                  f"{self.declared.options.wait_seconds:.0f}s")
            time.sleep(self.declared.options.poll_seconds)

    def _wait_layer(self, version: int) -> None:
        assert self.api is not None
        deadline = time.monotonic() + self.declared.options.wait_seconds
        while True:
            info = self.api.call("GetLayerVersion", {"LayerName": LAYER_NAME,
                                                     "LayerVersion": version})
            if info.get("Status") == "Active":
                return
            if time.monotonic() > deadline or "Fail" in str(info.get("Status")):
                raise DeployError(f"layer {LAYER_NAME} v{version} is {info.get('Status')}")
            time.sleep(self.declared.options.poll_seconds)

    # ---- versions ----------------------------------------------------------------------------

    def publish(self, label: str) -> int:
        """A version of every function, described ``release <label>``, and the default alias
        (which the triggers follow) moved onto it."""
        assert self.api is not None
        for function in self.declared.manifest.functions:
            key = {"FunctionName": function.name, "Namespace": function.namespace}
            answer = self.api.call("PublishVersion", {**key, "Description": f"release {label}"})
            self.wait_active(function)
            self.api.call("UpdateAlias", {**key, "Name": QUALIFIER,
                                          "FunctionVersion": str(answer["FunctionVersion"])})
        return len(self.declared.manifest.functions)

    def rollback_steps(self, label: str) -> list[Step]:
        """The default alias of every function back onto its ``release <label>`` version."""
        assert self.api is not None
        steps = []
        for function in self.declared.manifest.functions:
            key = {"FunctionName": function.name, "Namespace": function.namespace}
            versions = self.api.pages("ListVersionByFunction", key, "Versions")
            match = [v for v in versions if v.get("Description") == f"release {label}"]
            resource = f"alias {function.name}/{QUALIFIER}"
            if not match:
                steps.append(Step(resource, f"release {label}", "no such version", "skip"))
                continue
            version = str(match[-1]["Version"])
            steps.append(Step(resource, f"release {label}", f"version {version}", "point",
                              self._call("UpdateAlias", {**key, "Name": QUALIFIER,
                                                         "FunctionVersion": version})))
        return steps


def shown_environment(declared: Declared, function: Function) -> dict[str, str]:
    return _shown(declared.environment(function))
