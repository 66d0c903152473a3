"""shopctl members block / unblock, run as a real subprocess against the HTTP gateway."""
from __future__ import annotations

from typing import Any

from tests.conftest import call, new_shopper
from tests.e2e.test_shopctl import data_of, shopctl


def test_block_logs_the_shopper_out_and_unblock_lets_them_back(gateway: str, db: Any) -> None:
    shopper = new_shopper("console-blocked")

    blocked = shopctl("members", "block", shopper.user_id, "--reason", "刷单", api=gateway)
    assert blocked.returncode == 0, blocked.stderr
    assert f"blocked {shopper.user_id}" in blocked.stdout
    assert shopper.call("get_profile").status == 401
    assert call("login", {"code": "dev:console-blocked"}).code == "ACCOUNT_BLOCKED"

    answer = data_of(shopctl("--json", "members", "unblock", shopper.user_id, api=gateway))
    assert answer == {"user_id": shopper.user_id, "blocked": False}
    assert call("login", {"code": "dev:console-blocked"}).ok


def test_blocking_an_unknown_user_says_so_and_exits_1(gateway: str, db: Any) -> None:
    result = shopctl("members", "block", "usr_nobody", "--reason", "x", api=gateway)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_block_needs_a_reason(gateway: str) -> None:
    result = shopctl("members", "block", "usr_x", api=gateway)
    assert result.returncode == 2
