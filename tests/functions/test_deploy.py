"""scripts/deploy against a loopback double of SCF's API that checks every TC3-HMAC-SHA256
signature the SDK sends: a full first apply, a second apply that changes nothing, targeted
updates, the custom domain, releases and rollback, and the dry runs."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

from tests.conftest import ROOT
from tests.scf_api_double import SECRET_ID, SECRET_KEY, ScfApiDouble, serve_double

sys.path.insert(0, str(ROOT / "scripts"))

from deployment import manifest  # noqa: E402

SCRIPT = ROOT / "scripts" / "deploy"
SETTINGS = {"MONGODB_URI": "mongodb://shop:pw@10.0.0.5:27017/?replicaSet=rs0",
            "TOKEN_SECRET": "t" * 40, "MERCHANT_TOKEN": "m" * 30, "WX_APPID": "wx1234567890",
            "WX_SECRET": "s" * 32, "WXPAY_MCHID": "1900000001",
            "WXPAY_NOTIFY_URL": "https://shop.example/pay/notify",
            "WXPAY_REFUND_NOTIFY_URL": "https://shop.example/pay/refund-notify",
            "S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com"}


def load_script() -> ModuleType:
    loader = SourceFileLoader("deploy_script", str(SCRIPT))
    module = ModuleType(loader.name)
    module.__file__ = loader.path
    loader.exec_module(module)
    return module


@pytest.fixture
def layer_zip(tmp_path: Path) -> Path:
    path = tmp_path / "layer.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("shared/__init__.py", "")
    return path


@pytest.fixture
def scf(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScfApiDouble]:
    for proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                  "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    for name in list(os.environ):
        if name in ("TENCENT_REGION", "SHOP_LAYER_VERSION") or name.startswith(("WX", "S3_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in {**SETTINGS, "TENCENTCLOUD_SECRET_ID": SECRET_ID,
                        "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}.items():
        monkeypatch.setenv(name, value)
    yield from serve_double(ScfApiDouble())


class Deploy:
    def __init__(self, scf: ScfApiDouble, layer: Path) -> None:
        self.scf, self.layer, self.script = scf, layer, load_script()
        self.indexes: list[str] = []

    def __call__(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        real = sys.stdout
        sys.stdout = out
        try:
            rc = self.script.main([*args, "--endpoint", self.scf.host, "--layer",
                                   str(self.layer), "--poll-seconds", "0"],
                                  index_runner=self.record_indexes)
        finally:
            sys.stdout = real
        return rc, out.getvalue()

    def record_indexes(self, values: dict[str, str]) -> str:
        self.indexes.append(values["MONGODB_URI"])
        return "indexes ensured"


# enough of the shop to exercise every kind of function, every namespace and every trigger,
# at a tenth of the calls: all but the full-apply test deploy only these
SAMPLE = ("gateway", "login", "get_upload_url", "list_products", "pay_notify", "refund_notify",
          "marketing_push_batch", "order_timeout", "cart_reminder", "join_group_buy")


@pytest.fixture
def sample_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = manifest.build()
    functions = tuple(f for f in real.functions if f.name in SAMPLE)
    used = tuple(ns for ns in real.namespaces if any(f.namespace == ns for f in functions))
    small = manifest.Manifest(functions=functions, namespaces=used)
    monkeypatch.setattr(manifest, "build", lambda: small)


@pytest.fixture
def full_deploy(scf: ScfApiDouble, layer_zip: Path) -> Deploy:
    return Deploy(scf, layer_zip)


@pytest.fixture
def deploy(scf: ScfApiDouble, layer_zip: Path, sample_only: None) -> Deploy:
    return Deploy(scf, layer_zip)


def deployed(deploy: Deploy, *args: str) -> str:
    rc, out = deploy("apply", "--no-dry-run", *args)
    assert rc == 0, out
    assert deploy.scf.refused == []
    return out


def test_a_full_apply_creates_everything_and_a_second_one_changes_nothing(full_deploy, scf):
    deploy = full_deploy
    plan = manifest.build()
    out = deployed(deploy)
    made = Counter(action for action, _ in scf.changes())
    assert made["CreateNamespace"] == len(plan.namespaces)
    assert made["PublishLayerVersion"] == 1
    assert made["CreateFunction"] == len(plan.functions)
    assert made["CreateTrigger"] == len([f for f in plan.functions if f.cron]) + 1
    assert set(made) == {"CreateNamespace", "PublishLayerVersion", "CreateFunction",
                         "CreateTrigger"}
    for function in plan.functions:
        info = scf.functions[(function.namespace, function.name)]
        assert (info["MemorySize"], info["Timeout"], info["Runtime"]) == \
            (function.memory, function.timeout, "Python3.10")
        assert info["Layers"] == [{"LayerName": "shop-lib", "LayerVersion": 1}]
        env = {v["Key"]: v["Value"] for v in info["Environment"]["Variables"]}
        assert env["SHOP_ENV"] == "production" and env["MONGODB_URI"] == SETTINGS["MONGODB_URI"]
        assert set(env) <= set(function.settings) | set(manifest.FIXED_ENVIRONMENT)
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # cold start (issue 14)
        assert "TRUST_CLOUDBASE_IDENTITY" not in env
    url = scf.triggers[(plan.by_name()["gateway"].namespace, "gateway")]
    assert [t["Type"] for t in url.values()] == ["http"]
    timer = scf.triggers[(plan.by_name()["order_timeout"].namespace, "order_timeout")]
    assert timer["order_timeout_timer"]["TriggerDesc"] == "0 * * * * * *"
    assert "changes applied" in out and deploy.indexes == [SETTINGS["MONGODB_URI"]]
    scf.reset_calls()
    again = deployed(deploy)
    assert scf.changes() == [] and "0 changes applied" in again


def test_apply_waits_for_each_function_to_leave_creating_and_updating(deploy, scf):
    scf.busy_reads = 4
    deployed(deploy)
    assert all(info["Status"] == "Active" for info in scf.functions.values())
    calls = [action for action, _ in scf.calls]
    first = calls.index("CreateFunction")
    assert calls[first + 1:first + 5] == ["GetFunction"] * 4


def test_a_second_apply_of_an_unchanged_repository_changes_nothing(deploy, scf):
    deployed(deploy)
    scf.reset_calls()
    out = deployed(deploy)
    assert scf.changes() == []
    assert "0 changes applied" in out


def test_changed_code_updates_that_function_only(deploy, scf, monkeypatch):
    deployed(deploy)
    scf.reset_calls()
    from deployment import deployer
    real = deployer.function_zip
    monkeypatch.setattr(deployer, "function_zip",
                        lambda name: real(name) + (b"\0" if name == "login" else b""))
    deployed(deploy)
    assert [(a, p["FunctionName"]) for a, p in scf.changes()] == \
        [("UpdateFunctionCode", "login"), ("UpdateFunctionConfiguration", "login")]


def test_a_changed_setting_updates_only_the_functions_that_read_it(deploy, scf, monkeypatch):
    deployed(deploy)
    scf.reset_calls()
    monkeypatch.setenv("UPLOAD_URL_TTL_SECONDS", "900")
    deployed(deploy)
    updated = {p["FunctionName"] for a, p in scf.changes()}
    readers = {f.name for f in manifest.build().functions
               if "UPLOAD_URL_TTL_SECONDS" in f.settings}
    assert updated == readers and "get_upload_url" in updated and "list_products" not in updated
    assert {a for a, _ in scf.changes()} == {"UpdateFunctionConfiguration"}


def test_a_new_layer_is_published_once_and_every_function_moves_onto_it(deploy, scf):
    deployed(deploy)
    with zipfile.ZipFile(deploy.layer, "a") as archive:
        archive.writestr("shared/new.py", "x = 1\n")
    scf.reset_calls()
    deployed(deploy)
    made = Counter(a for a, _ in scf.changes())
    assert made == {"PublishLayerVersion": 1, "UpdateFunctionConfiguration": len(SAMPLE)}
    assert {tuple(l["LayerVersion"] for l in f["Layers"]) for f in scf.functions.values()} \
        == {(2,)}


def test_the_custom_domain_routes_each_path_to_its_function(deploy, scf):
    deployed(deploy, "--http", "domain", "--domain", "api.shop.example", "--cert-id", "c-1")
    domain = scf.domains["api.shop.example"]
    routes = {e["PathMatch"]: e["FunctionName"] for e in domain["EndpointsConfig"]}
    assert routes["/api/login"] == "login" and routes["/pay/notify"] == "pay_notify"
    assert routes["/pay/refund-notify"] == "refund_notify" and routes["/healthz"] == "gateway"
    assert len(routes) == len(SAMPLE) - 3  # the invoke and timers have no route
    assert all(e["Qualifier"] == "$DEFAULT" for e in domain["EndpointsConfig"])
    scf.reset_calls()
    deployed(deploy, "--http", "domain", "--domain", "api.shop.example", "--cert-id", "c-1")
    assert scf.changes() == []


def test_a_release_is_published_and_rolled_back_to(deploy, scf, monkeypatch):
    deployed(deploy, "--publish", "r1")
    from deployment import deployer
    real = deployer.function_zip
    monkeypatch.setattr(deployer, "function_zip", lambda name: real(name) + b"\0")
    deployed(deploy, "--publish", "r2")
    key = next(iter(scf.functions))
    assert scf.aliases[(*key, "$DEFAULT")] == "2"
    rc, out = deploy("rollback", "r1")  # a dry run by default
    assert rc == 0 and scf.aliases[(*key, "$DEFAULT")] == "2"
    rc, out = deploy("rollback", "r1", "--no-dry-run")
    assert rc == 0, out
    assert {v for (ns, name, alias), v in scf.aliases.items()} == {"1"}


def test_apply_is_a_dry_run_unless_told_otherwise(deploy, scf):
    rc, out = deploy("apply")
    assert rc == 0 and scf.changes() == []
    assert "dry run: nothing was changed" in out
    assert "create" in out and "function shop-core/login" in out
    assert "function shop-core/add_address" not in out  # the sample only


def test_plan_reads_what_exists_and_changes_nothing(deploy, scf):
    deployed(deploy)
    scf.reset_calls()
    rc, out = deploy("plan")
    assert rc == 0 and scf.changes() == [] and scf.calls
    assert "0 changes" in out


def test_a_request_signed_with_another_key_is_refused(deploy, scf, monkeypatch):
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-key")
    rc, _ = deploy("apply", "--no-dry-run")
    assert rc == 1 and scf.refused and scf.calls == []


def test_an_environment_over_4_kb_is_refused_before_any_call(deploy, scf, monkeypatch):
    monkeypatch.setenv("MONGODB_URI", "mongodb://" + "h" * 4200)
    rc, _ = deploy("apply", "--no-dry-run")
    assert rc == 1 and scf.calls == []


def test_plan_dry_run_works_from_a_clean_clone_without_credentials(tmp_path):
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    clone = tmp_path / "clone"
    for relative in listed:
        if (ROOT / relative).is_file():
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, clone / relative)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(clone / "scripts" / "deploy"), "plan",
                             "--dry-run"], capture_output=True, text=True, env=env,
                            cwd=clone, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "function shop-core/login" in result.stdout
    assert "not built (make package)" in result.stdout
    assert "nothing was read from or sent to Tencent Cloud" in result.stdout
    assert not (clone / "dist").exists()


def test_functions_get_the_env_file_s_runtime_key_while_the_deploy_signs_with_its_own(
        deploy, scf, tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text("TENCENTCLOUD_SECRET_ID=AKIDruntime\nTENCENTCLOUD_SECRET_KEY=rt-key\n"
                        "# a comment\nLOG_LEVEL='WARNING'\n", encoding="utf-8")
    deployed(deploy, "--env-file", str(env_file))
    info = next(f for (ns, name), f in scf.functions.items() if name == "get_upload_url")
    env = {v["Key"]: v["Value"] for v in info["Environment"]["Variables"]}
    assert (env["TENCENTCLOUD_SECRET_ID"], env["LOG_LEVEL"]) == ("AKIDruntime", "WARNING")
