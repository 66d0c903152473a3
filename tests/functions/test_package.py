"""scripts/package builds one zip per function and the layer; run here without pip (--no-deps),
and once with pip when it can fetch the wheels, to see the dev and test packages stay out."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "package"
FUNCTION_NAMES = sorted(path.parent.name for path in (ROOT / "functions").glob("*/index.py"))
# what dev, tests and the console use and production must not carry: distribution -> import name
DEV_PACKAGES = {"mongomock": "mongomock", "moto": "moto", "pytest": "pytest",
                "hypothesis": "hypothesis", "typer": "typer", "rich": "rich",
                "matplotlib": "matplotlib", "pyyaml": "yaml"}


def load_script():
    loader = importlib.machinery.SourceFileLoader("package_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def distribution(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def run_package(*args: str, env: dict[str, str] | None = None,
                timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package")
    result = run_package("--no-deps", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3")


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_has_a_zip_holding_its_index_py_at_the_root(packaged, name):
    with zipfile.ZipFile(packaged / "dist" / f"{name}.zip") as archive:
        assert archive.namelist() == ["index.py"]
        assert archive.read("index.py") == (ROOT / "functions" / name / "index.py").read_bytes()


def test_dist_holds_exactly_the_function_zips_and_the_layer(packaged):
    zips = sorted(path.name for path in (packaged / "dist").iterdir())
    assert zips == sorted([f"{name}.zip" for name in FUNCTION_NAMES] + ["layer.zip"])


def test_the_layer_holds_the_shared_package_at_its_root(packaged):
    # SCF unpacks a layer into /opt and puts /opt on PYTHONPATH: shared/ must sit at the root
    with zipfile.ZipFile(packaged / "dist" / "layer.zip") as archive:
        names = set(archive.namelist())
        runtime = (ROOT / "shared" / "core" / "runtime.py").read_bytes()
        assert archive.read("shared/core/runtime.py") == runtime
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "shared").rglob("*.py")
               if "__pycache__" not in path.parts}
    assert sources <= names
    # bytecode only for the target runtime, in __pycache__ (none where no 3.10 compiled it)
    assert not [n for n in names if (n.endswith(".pyc") or "__pycache__" in n)
                and not re.fullmatch(r"(.+/)?__pycache__/[^/]+\.cpython-310\.pyc", n)]
    assert (packaged / "build" / "layer" / "shared" / "core" / "runtime.py").is_file()


def test_the_layer_imports_and_serves_a_function_from_a_clean_interpreter(packaged, tmp_path):
    """Unzipped as SCF would (/var/user = the function, /opt = the layer), the handler runs."""
    user, opt = tmp_path / "user", tmp_path / "opt"
    with zipfile.ZipFile(packaged / "dist" / "list_categories.zip") as archive:
        archive.extractall(user)
    with zipfile.ZipFile(packaged / "dist" / "layer.zip") as archive:
        archive.extractall(opt)
    # dependencies come from this venv here (--no-deps); `shared` must come from the layer
    probe = ("import index, shared, json; "
             "print(shared.__file__); print(json.dumps(index.main_handler({}, {})))")
    env = {"PATH": os.environ.get("PATH", ""), "SHOP_ENV": "test"}
    result = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path[:0] = "
                             f"{[str(user), str(opt)]!r}; " + probe],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    origin, answer = result.stdout.strip().splitlines()[-2:]
    assert Path(origin).is_relative_to(opt)
    assert '"ok": true' in answer


def test_the_runtime_dependencies_leave_the_dev_and_test_packages_out():
    script = load_script()
    runtime = {distribution(req) for req in script.runtime_dependencies(ROOT / "pyproject.toml")}
    assert {"pymongo", "pydantic", "serverless-wsgi", "boto3"} <= runtime
    assert not runtime & set(DEV_PACKAGES)


def test_the_dev_extra_brings_what_the_runtime_leaves_out():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"]

    def closure(extra: str) -> set[str]:  # extras may name this project's other extras
        names: set[str] = set()
        for req in extras[extra]:
            if req.startswith("shop-backend["):
                for inner in req[len("shop-backend["):-1].split(","):
                    names |= closure(inner.strip())
            else:
                names.add(distribution(req))
        return names
    assert set(DEV_PACKAGES) <= closure("dev")
    assert {"mongomock", "moto", "pytest"} <= closure("test")


def test_a_dev_package_in_the_layer_is_found(tmp_path):
    script = load_script()
    for name in ("mongomock-4.3.0", "moto-5.1.0", "PyYAML-6.0.2", "pymongo-4.18.3",
                 "Werkzeug-3.1.9"):
        (tmp_path / f"{name}.dist-info").mkdir()
    assert script.dev_packages_in(tmp_path) == ["mongomock", "moto", "pyyaml"]


@pytest.mark.slow
def test_the_layer_with_its_dependencies_holds_no_dev_or_test_package(tmp_path):
    """The real build (pip, manylinux wheels for 3.10); skipped when pip cannot fetch them.
    Measures the zipped layer against our 30 MB ceiling (SCF takes 50 MB)."""
    result = run_package("--out", str(tmp_path), timeout=600)
    if result.returncode == 1 and "could not install the runtime dependencies" in result.stderr:
        pytest.skip("pip could not fetch the layer's wheels (offline?)")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "layer.zip") as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    modules = {top.split(".")[0] for top in tops if not top.endswith(".dist-info")}
    dists = {distribution(top[:-len(".dist-info")].rsplit("-", 1)[0])
             for top in tops if top.endswith(".dist-info")}
    assert not dists & set(DEV_PACKAGES)
    assert not modules & set(DEV_PACKAGES.values())
    assert "_pytest" not in modules
    # what production imports is there; werkzeug because serverless-wsgi imports it
    assert {"shared", "pymongo", "pydantic", "serverless_wsgi", "werkzeug", "boto3",
            "cryptography", "requests", "tencentcloud", "numpy"} <= modules
    assert "MB unpacked" in result.stdout
    size = (tmp_path / "dist" / "layer.zip").stat().st_size
    print(f"layer.zip: {size / 1e6:.1f} MB zipped")
    assert size <= 30 * 1000 * 1000
    with zipfile.ZipFile(tmp_path / "dist" / "layer.zip") as archive:
        names = archive.namelist()
    assert "botocore/data/s3/2006-03-01/service-2.json.gz" in names or \
        any(n.startswith("botocore/data/s3/") for n in names)
    assert not any(n.startswith("botocore/data/ec2/") for n in names)
    assert not any("/tests/" in n and not n.startswith("shared/") for n in names)


def test_the_layer_serves_a_production_call_without_any_dev_package(packaged, tmp_path):
    """Production settings (a real MongoDB, here unreachable) with every dev package blocked:
    the whole library imports and a call answers UNAVAILABLE, not an ImportError."""
    user, opt = tmp_path / "user", tmp_path / "opt"
    with zipfile.ZipFile(packaged / "dist" / "list_categories.zip") as archive:
        archive.extractall(user)
    with zipfile.ZipFile(packaged / "dist" / "layer.zip") as archive:
        archive.extractall(opt)
    with socket.socket() as probe_socket:  # a port nothing listens on
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    blocked = sorted(set(DEV_PACKAGES.values()) | {"_pytest"})
    probe = f"""
import importlib, json, pkgutil, sys
sys.path[:0] = {[str(user), str(opt)]!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("a dev package imported in production: " + name)
sys.meta_path.insert(0, Block())
import index, shared
assert shared.__file__.startswith({str(opt)!r}), shared.__file__
for module in pkgutil.walk_packages(shared.__path__, "shared."):
    importlib.import_module(module.name)
print(json.dumps(index.main_handler({{}}, {{}})))
"""
    env = {"PATH": os.environ.get("PATH", ""), "SHOP_ENV": "production",
           "MONGODB_URI": f"mongodb://127.0.0.1:{port}/", "TOKEN_SECRET": "t" * 40,
           "MERCHANT_TOKEN": "m" * 30, "WX_APPID": "wx1234567890", "WX_SECRET": "s" * 32,
           "WXPAY_MCHID": "1900000001", "WXPAY_NOTIFY_URL": "https://shop.example/pay/notify",
           "WXPAY_REFUND_NOTIFY_URL": "https://shop.example/pay/refund-notify",
           "S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com",
           "TENCENTCLOUD_SECRET_ID": "id", "TENCENTCLOUD_SECRET_KEY": "key"}
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip().splitlines()[-1]
    assert '"code": "UNAVAILABLE"' in answer, answer


def test_the_zips_are_reproducible(packaged, tmp_path):
    again = run_package("--no-deps", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    for name in ("login.zip", "layer.zip"):
        assert (tmp_path / "dist" / name).read_bytes() == (packaged / "dist" / name).read_bytes()


def test_a_stale_zip_of_a_removed_function_is_cleared(tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "gone_action.zip").write_bytes(b"old")
    assert run_package("--no-deps", "--out", str(tmp_path)).returncode == 0
    assert not (tmp_path / "dist" / "gone_action.zip").exists()


def test_offline_it_builds_the_zips_and_says_the_layer_lacks_dependencies(tmp_path):
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    offline = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
               "PIP_FIND_LINKS": str(empty)}
    result = run_package("--out", str(tmp_path / "out"), env=offline)
    assert result.returncode == 1
    assert "could not install the runtime dependencies" in result.stderr
    assert "WITHOUT dependencies" in result.stderr
    dist = tmp_path / "out" / "dist"
    assert all((dist / f"{name}.zip").is_file() for name in FUNCTION_NAMES)
    with zipfile.ZipFile(dist / "layer.zip") as archive:
        assert "shared/core/runtime.py" in archive.namelist()


def test_the_layer_carries_unchecked_bytecode_of_the_target_runtime_only(tmp_path):
    """Cold start (issue 14): SCF's /opt is read-only, so a layer without bytecode compiles
    pymongo, pydantic and shared at every cold start. Compiled here with this interpreter in
    place of 3.10; the zip keeps the target's pycs and no other."""
    script = load_script()
    layer = tmp_path / "layer"
    (layer / "pkg").mkdir(parents=True)
    (layer / "pkg" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    (layer / "cold").mkdir()
    (layer / "cold" / "__init__.py").write_text("VALUE = 2\n", encoding="utf-8")
    script.HOT_PACKAGES = ("pkg", "absent")
    here = "%d.%d" % sys.version_info[:2]
    assert script.compile_layer(layer, sys.executable, version="2.7") == \
        (False, f"{sys.executable} is Python {here}")
    assert script.compile_layer(layer, sys.executable, version=here) == (True, "")
    [pyc] = (layer / "pkg" / "__pycache__").iterdir()
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, source never checked: the layer is immutable
    target = layer / "pkg" / "__pycache__" / "__init__.cpython-310.pyc"
    target.write_bytes(pyc.read_bytes())
    assert not (layer / "cold" / "__pycache__").exists()  # few functions import it
    names = {name for _, name in script.tree_files(layer)}
    assert names == {"pkg/__init__.py", "pkg/__pycache__/__init__.cpython-310.pyc",
                     "cold/__init__.py"}


def test_the_package_says_when_the_layer_has_no_bytecode(tmp_path):
    result = run_package("--no-deps", "--out", str(tmp_path),
                         "--bytecode-python", str(tmp_path / "no-python"))
    assert result.returncode == 0, result.stderr
    assert "ships no bytecode" in result.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "layer.zip") as archive:
        assert not [n for n in archive.namelist() if n.endswith(".pyc")]
