"""Bad input never yields a 500: every action, every field, a set of hostile values."""
from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.conftest import MERCHANT_TOKEN, call, new_address, new_product, new_shopper

HOSTILE: list[Any] = [None, "", " ", "x" * 5000, "ord_" + "9" * 60, -1, 0, 10 ** 20, 1.5,
                      float("nan"), True, [], [None], {}, {"$gt": ""}, {"$where": "1"},
                      "2026-13-45T99:99:99+08:00", "\x00", "../../etc/passwd", "<script>",
                      [{"sku_id": {"$ne": None}, "quantity": 1}]]


def _actions() -> list[str]:
    from shared.core.actions import ACTIONS
    return sorted(ACTIONS)


def _fields(action: str) -> list[str]:
    from shared.core.actions import ACTIONS
    spec = ACTIONS[action]
    model = getattr(importlib.import_module(spec.module), spec.input_model)
    return list(model.model_fields)


@pytest.mark.parametrize("action", _actions())
def test_hostile_values_in_any_field_never_give_a_500(action: str, db: Any) -> None:
    from shared.core.actions import ACTIONS
    product = new_product(stock=5)
    shopper = new_shopper()
    address_id = new_address(shopper)
    token = MERCHANT_TOKEN if ACTIONS[action].auth in ("merchant", "dev") else shopper.token
    base = {"address_id": address_id, "sku_id": product["skus"][0]["id"],
            "product_id": product["id"]}
    for field in _fields(action) or ["unexpected"]:
        for value in HOSTILE:
            payload = {k: v for k, v in base.items() if k in _fields(action) and k != field}
            payload[field] = value
            answer = call(action, payload, token)
            assert answer.status < 500, (action, field, value, answer.body)
            assert answer.body["ok"] or set(answer.body["error"]) >= {"code", "message",
                                                                       "details"}
