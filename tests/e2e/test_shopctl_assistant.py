"""shopctl cs and shopctl assistant, run as real subprocesses against the HTTP gateway: a
shopper asks for a person over HTTP, the queue shows it, the merchant replies from the console."""
from __future__ import annotations

from typing import Any

import requests

from tests.conftest import new_shopper
from tests.e2e.test_shopctl import data_of, shopctl


def test_a_handed_over_conversation_is_in_the_queue_and_answered_from_it(
        gateway: str, db: Any) -> None:
    shopper = new_shopper("console-cs")
    answer = requests.post(f"{gateway}/api/assistant_ask", json={"message": "转人工"},
                           headers={"Authorization": f"Bearer {shopper.token}"},
                           timeout=10).json()["data"]
    conversation = answer["session_id"]

    queue = shopctl("cs", api=gateway)
    assert queue.returncode == 0, queue.stderr
    assert conversation in queue.stdout and "转人工" in queue.stdout

    replied = shopctl("cs", "reply", conversation, "您好，我来帮您", api=gateway)
    assert replied.returncode == 0, replied.stderr
    talk = data_of(shopctl("--json", "cs", "show", conversation, api=gateway))
    assert [m["role"] for m in talk["messages"]] == ["user", "assistant", "merchant"]
    assert data_of(shopctl("--json", "cs", api=gateway))["items"] == []


def test_the_faq_and_synonyms_are_managed_from_the_console(gateway: str, db: Any) -> None:
    saved = data_of(shopctl("--json", "assistant", "faq", "set", "--question", "周末发货吗",
                            "--answer", "周末照常发货。", "--keyword", "周末", api=gateway))
    listed = data_of(shopctl("--json", "assistant", "faq", "list", api=gateway))
    assert [f["id"] for f in listed["items"]] == [saved["id"]]
    asked = requests.post(f"{gateway}/api/assistant_ask", json={"message": "周末发货吗"},
                          timeout=10).json()["data"]
    assert asked["faq_id"] == saved["id"]
    words = data_of(shopctl("--json", "assistant", "synonyms", "set", "保温杯", "水杯", "杯子",
                            api=gateway))
    assert words == {"word": "保温杯", "synonyms": ["水杯", "杯子"]}
    deleted = shopctl("assistant", "faq", "delete", saved["id"], api=gateway)
    assert deleted.returncode == 0, deleted.stderr
    assert data_of(shopctl("--json", "assistant", "faq", "list", api=gateway))["items"] == []
