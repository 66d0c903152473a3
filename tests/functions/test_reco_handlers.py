"""The recommendation functions through their entry points: the reco_train timer event, the
callFunction event of recommend_for_user, and an HTTP call of bought_together through the
gateway; and a reco_train that dies between storing the artefact and moving the pointer."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from shared.reco import artefacts
from tests.conftest import load_event, merchant, new_address, new_product, new_shopper
from tests.functions.test_handlers import invoke


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Any:
    artefacts.forget()
    yield
    artefacts.forget()


def paid_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    tea, cup = new_product(title="龙井"), new_product(title="茶杯")
    for n in range(2):
        shopper = new_shopper(f"pair-h{n}")
        order = shopper.call("place_order", {
            "request_id": f"req-reco-h{n}", "address_id": new_address(shopper),
            "items": [{"sku_id": p["skus"][0]["id"], "quantity": 1} for p in (tea, cup)]}).data
        merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    return tea, cup


def timer_event() -> dict[str, Any]:
    return {**load_event("timer_order_timeout.json"), "TriggerName": "reco_train_timer"}


def test_the_timer_event_trains_and_a_callfunction_event_is_answered_from_it(db: Any) -> None:
    tea, cup = paid_pair()

    trained = invoke("reco_train", timer_event())
    event = {**load_event("callfunction_list_products.json"), "context": "product",
             "product_id": tea["id"]}
    event.pop("sort")
    answer = invoke("recommend_for_user", event)

    assert trained["ok"] and trained["data"]["purchases"] == 4
    assert answer["ok"], answer
    assert answer["data"]["model_version"] == trained["data"]["version"]
    assert answer["data"]["items"][0]["product"]["id"] == cup["id"]


def test_bought_together_over_http(gateway: str) -> None:
    tea, cup = paid_pair()
    invoke("reco_train", timer_event())

    answer = requests.post(f"{gateway}/api/bought_together", json={"product_id": tea["id"]},
                           timeout=10).json()

    assert [i["product"]["id"] for i in answer["data"]["items"]][:1] == [cup["id"]]


class InstanceDied(BaseException):
    pass


def test_a_training_that_dies_before_the_pointer_moves_leaves_the_old_model_served(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    paid_pair()
    first = invoke("reco_train", timer_event())["data"]["version"]
    stored: list[str] = []

    def die(ctx: Any, model: Any, key: str) -> None:   # the artefact is stored, then death
        stored.append(key)
        raise InstanceDied()
    with monkeypatch.context() as patch:
        patch.setattr(artefacts, "point_at", die)
        with pytest.raises(InstanceDied):
            invoke("reco_train", timer_event())
    artefacts.forget()
    served = invoke("recommend_for_user", {"context": "home"})["data"]["model_version"]
    again = invoke("reco_train", timer_event())["data"]["version"]
    artefacts.forget()

    assert stored and served == first
    assert invoke("recommend_for_user", {"context": "home"})["data"]["model_version"] == again
