"""``@record`` (shared/core/records.py) behaves as the ``@dataclass`` it replaces on the cold
path, and a cold place_order compiles no dataclass of ours (issue 14)."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import FrozenInstanceError
from typing import ClassVar, Optional

import pytest

from shared.core.records import field, record
from tests.conftest import ROOT


@record
class Line:
    sku: str
    quantity: int = 1
    tags: list[str] = field(default_factory=list)
    secret: Optional[str] = field(default=None, repr=False)
    KIND: ClassVar[str] = "line"


@record(frozen=True)
class Price:
    amount: int
    currency: str = "CNY"


def test_a_record_takes_its_fields_by_position_or_name_with_defaults() -> None:
    line = Line("sku_1", tags=["a"])
    assert (line.sku, line.quantity, line.tags, line.secret) == ("sku_1", 1, ["a"], None)
    assert Line("sku_1").tags is not Line("sku_1").tags  # a fresh list each time
    assert Line.KIND == "line" and "KIND" not in vars(line)


@pytest.mark.parametrize("make", [lambda: Line(), lambda: Line("a", 1, [], None, "extra"),
                                  lambda: Line("a", sku="b"), lambda: Line("a", colour="red")])
def test_a_record_refuses_what_a_dataclass_refuses(make) -> None:
    with pytest.raises(TypeError):
        make()


def test_records_compare_by_class_and_fields_and_show_them() -> None:
    assert Line("a", 2) == Line("a", 2) and Line("a", 2) != Line("a", 3)
    assert Price(5) != Line("a", 5)
    assert repr(Line("a", secret="s")) == "Line(sku='a', quantity=1, tags=[])"
    assert "secret" not in repr(Line("a", secret="s"))


def test_a_frozen_record_refuses_changes_and_hashes_by_its_fields() -> None:
    price = Price(100)
    with pytest.raises(FrozenInstanceError):
        price.amount = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del price.currency  # type: ignore[misc]
    assert {Price(100): "x"}[Price(100)] == "x"
    with pytest.raises(TypeError):
        hash(Line("a"))  # mutable: unhashable, as a dataclass


def test_a_cold_place_order_makes_no_dataclass_of_ours() -> None:
    code = """
import dataclasses, sys
made = []
real = dataclasses._process_class
def spy(cls, *args, **kwargs):
    if cls.__module__.startswith("shared."):
        made.append(cls.__qualname__)
    return real(cls, *args, **kwargs)
dataclasses._process_class = spy
import importlib.util
spec = importlib.util.spec_from_file_location("fn", "functions/place_order/index.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))
from shared.core.dispatch import _load
import shared.core.db
_load("shared.checkout.placing", "PlaceOrderInput")
print(sorted(made))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                         text=True, env={"PATH": "", "PYTHONPATH": str(ROOT),
                                         "SHOP_ENV": "test"}, check=True)
    # Context stays a dataclass: the fan-out copies it with dataclasses.replace
    assert out.stdout.strip() == "['Context']"
