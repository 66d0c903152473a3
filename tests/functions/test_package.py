"""scripts/package builds one zip per function and the layer; run here without pip (--no-deps)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "package"
FUNCTION_NAMES = sorted(path.parent.name for path in (ROOT / "functions").glob("*/index.py"))


def run_package(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60, env=env)


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
        assert archive.read("shared/core/runtime.py") == (ROOT / "shared" / "core" / "runtime.py").read_bytes()
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "shared").rglob("*.py")
               if "__pycache__" not in path.parts}
    assert sources <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
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
