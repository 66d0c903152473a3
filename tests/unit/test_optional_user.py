"""Actions anyone may call that still know the caller when a token comes (auth
``user_optional``): tracking, experiments, recommendations and the assistant use it."""
import sys
import types

import pytest
from pydantic import BaseModel, ConfigDict

from shared.core.actions import ACTIONS, Action
from tests.conftest import call, new_shopper


class EchoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


def echo_caller(ctx, request: EchoInput) -> dict:
    return {"user_id": ctx.user_id, "shopper": bool(ctx.user_id and ctx.shopper())}


@pytest.fixture
def echo_action(monkeypatch):
    module = types.ModuleType("tests_optional_user_echo")
    module.EchoInput = EchoInput
    module.echo_caller = echo_caller
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(ACTIONS, "echo_caller",
                        Action(module.__name__, "echo_caller", "EchoInput", "user_optional"))
    return "echo_caller"


def test_anonymous_call_runs_without_a_caller(echo_action):
    answer = call(echo_action, {})
    assert answer.status == 200 and answer.data == {"user_id": None, "shopper": False}


def test_a_token_makes_the_caller_known(echo_action):
    shopper = new_shopper()
    answer = call(echo_action, {}, shopper.token)
    assert answer.status == 200 and answer.data == {"user_id": shopper.user_id, "shopper": True}


def test_a_bad_token_is_refused_not_ignored(echo_action):
    answer = call(echo_action, {}, "not-a-token")
    assert answer.status == 401
