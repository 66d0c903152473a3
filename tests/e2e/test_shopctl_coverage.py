"""Every merchant action in the action table has a console command (or a stated reason not to).

The actions come from shared/core/actions.py, so an action added there without a command fails
here; the commands are found in scripts/console/ by what they send to the gateway:
``shop(ctx).call("<action>", ...)`` or ``list_page(ctx, "<action>", ...)``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.core.actions import ACTIONS, Action
from tests.conftest import ROOT
from tests.e2e.test_shopctl import shopctl

CONSOLE = ROOT / "scripts" / "console"

# merchant actions deliberately left out of the console, each with its reason
NOT_IN_CONSOLE: dict[str, str] = {
    # none today: every merchant action has its command
}


def merchant_actions(actions: dict[str, Action]) -> set[str]:
    return {name for name, action in actions.items()
            if action.auth in ("merchant", "dev") or name.startswith("merchant_")}


def console_actions(folder: Path = CONSOLE) -> set[str]:
    """The actions some console module sends: the first string argument of .call() or
    list_page()."""
    sent: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                node.func.id if isinstance(node.func, ast.Name) else ""
            strings = [arg.value for arg in node.args
                       if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            if name in ("call", "list_page") and strings:
                sent.add(strings[0])
    return sent


def missing(actions: dict[str, Action]) -> set[str]:
    return merchant_actions(actions) - console_actions() - set(NOT_IN_CONSOLE)


def test_every_merchant_action_has_a_console_command() -> None:
    assert missing(ACTIONS) == set(), \
        "add a shopctl command for each (or a reason to NOT_IN_CONSOLE)"


def test_a_new_merchant_action_without_a_command_is_caught() -> None:
    extra = {**ACTIONS, "merchant_new_thing": Action("shared.x", "f", "NoInput", "merchant")}

    assert missing(extra) == {"merchant_new_thing"}


def test_exceptions_name_real_merchant_actions_with_a_reason() -> None:
    for name, reason in NOT_IN_CONSOLE.items():
        assert name in merchant_actions(ACTIONS) and reason.strip(), name


@pytest.mark.parametrize("command", [
    ["stores"], ["stores", "list"], ["stores", "save"], ["deals", "create"], ["deals", "list"],
    ["nearby", "campaign"], ["pickup", "verify"], ["bargains", "create"], ["bargains", "list"],
    ["assists", "create"], ["assists", "list"], ["fission", "reward"], ["dev", "mark-paid"],
    ["dev", "run-timer"], ["members", "levels"],
])
def test_help_is_there_for_the_new_commands(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl" in result.stdout
