"""The WeChat channel when an instance dies between its writes (tests/faults.py): a pushed
message is still answered, once, by WeChat's retry of the push or by the assistant_inbox timer.

Writes of one message: the inbox record, the conversation, its window, the answer queued; then
the sender's claim, the window's count, the outcome."""
from __future__ import annotations

from typing import Any

import pytest

from tests.faults import die_after_write, run_timer
from tests.unit import test_assistant_wechat as channel
from tests.unit.test_assistant_wechat import WeChatDouble, text_message

wechat = channel.wechat   # the WeChat double's fixture, used here by name

RECEIVE_WRITES = 4


def _receive(message: dict[str, Any]) -> Any:
    from shared.assistant.channel import receive
    from shared.core.common import utcnow
    from shared.core.config import get_settings
    from shared.core.db import get_db
    return receive(get_db(), get_settings(), message, utcnow())


@pytest.mark.parametrize("then", ["wechat_retries", "timer_only"])
@pytest.mark.parametrize("k", range(1, RECEIVE_WRITES + 1))
def test_a_death_while_answering_still_answers_once(
        k: int, then: str, wechat: WeChatDouble, faulty_db: Any, clock: Any) -> None:
    message = text_message("包邮吗", f"m-die-{k}")
    with die_after_write(faulty_db, k) as fault:
        _receive(message)
    assert fault.died
    clock.advance(seconds=6)            # the answering lease has run out
    if then == "wechat_retries":
        _receive(message)               # WeChat pushes again: no answer came within 5 s
    run_timer("assistant_inbox")
    run_timer("assistant_inbox")
    assert len(wechat.texts()) == 1 and "59元" in wechat.texts()[0]
    doc = faulty_db.assistant_inbox.find_one({"_id": "msg:m-die-" + str(k)})
    assert doc["status"] == "sent"


@pytest.mark.parametrize("k", range(1, 4))
def test_a_death_while_sending_sends_once_after_the_lease(
        k: int, wechat: WeChatDouble, faulty_db: Any, clock: Any) -> None:
    _receive(text_message("包邮吗", "m-send"))
    with die_after_write(faulty_db, k) as fault:
        run_timer("assistant_inbox")
    assert fault.died
    clock.advance(seconds=61)           # the sender's lease has run out
    run_timer("assistant_inbox")
    run_timer("assistant_inbox")
    # the send sits between the window's count (write 2) and the outcome (write 3): a death
    # after write 1 or 2 comes before it, after write 3 after everything
    assert len(wechat.texts()) == 1
    assert faulty_db.assistant_inbox.find_one({"_id": "msg:m-send"})["status"] == "sent"
