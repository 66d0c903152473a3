"""The shape of the library, held by tests: imports one way, rooms of a livable size.

``make check`` runs the import contracts (.importlinter); these say what contracts cannot:
no cycle between any two modules, counting imports inside functions; no module over 600
lines; no import of another module's private names; every name in the tables resolves.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from shared.core.actions import (
    ACTIONS,
    IDENTITY_RESOLVER,
    INTERNAL_FUNCTIONS,
    NOTIFY_ROUTES,
    SUBSCRIBERS,
    TIMERS,
)

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "shared"
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(LIBRARY.rglob("*.py"))}


def imported_names(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from shared... import name`` and ``import shared...``,
    at the top of the module or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names
                      if alias.name.startswith("shared")]
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, imported in imported_names(path):
            target = f"{module}.{imported}" if f"{module}.{imported}" in MODULES else module
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as a path (first == last), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def test_no_module_imports_another_in_a_cycle_counting_imports_inside_functions() -> None:
    assert find_cycle(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_600_lines(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by what its parts do"


def test_no_module_imports_the_private_names_of_another() -> None:
    private = [(name, module, imported) for name, path in MODULES.items()
               for module, imported in imported_names(path)
               if imported.startswith("_") and module != name]
    assert private == []


def resolve(module: str, name: str) -> object:
    return getattr(importlib.import_module(module), name)


def test_every_name_in_the_tables_resolves() -> None:
    for action in ACTIONS.values():
        assert callable(resolve(action.module, action.function)), action
        assert resolve(action.module, action.input_model), action
    for module, function in [*TIMERS.values(), *INTERNAL_FUNCTIONS.values(), IDENTITY_RESOLVER]:
        assert callable(resolve(module, function))
    for _, module, handler in NOTIFY_ROUTES.values():
        assert callable(resolve(module, handler))
    for refs in SUBSCRIBERS.values():
        for ref in refs:
            module, _, function = ref.partition(":")
            assert callable(resolve(module, function)), ref


@pytest.mark.parametrize("package", ["core", "wechat", "cloud", "storage"])
def test_core_and_adapters_never_import_a_business_area(package: str) -> None:
    areas = {p.name for p in LIBRARY.iterdir()
             if p.is_dir() and p.name not in {"core", "wechat", "cloud", "storage",
                                              "__pycache__"}}
    reached = {module.split(".")[1] for name, path in MODULES.items()
               if name.startswith(f"shared.{package}")
               for module, _ in imported_names(path) if module.count(".") >= 1}
    assert not reached & areas
