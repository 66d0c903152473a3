"""The written contract comes from the code: README function tables and docs/openapi.json."""
from __future__ import annotations

import json
from importlib.machinery import SourceFileLoader
from types import ModuleType
from typing import Any

import pytest

from shared.core.actions import ACTIONS, NOTIFY_ROUTES, TIMERS, Action
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def gen_docs() -> Any:
    # the script has no .py suffix, so spec_from_file_location cannot guess its loader
    loader = SourceFileLoader("gen_docs_under_test", str(ROOT / "scripts" / "gen_docs"))
    module = ModuleType(loader.name)
    module.__file__ = loader.path
    loader.exec_module(module)
    return module


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def row_of(text: str, action: str) -> str:
    [row] = [line for line in text.splitlines() if line.startswith(f"| `{action}` |")]
    return row


def test_readme_function_tables_are_what_generation_gives(gen_docs: Any) -> None:
    assert gen_docs.readme_text(readme()) == readme(), "run `make docs` (scripts/gen_docs)"


def test_openapi_document_is_what_generation_gives(gen_docs: Any) -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert gen_docs.openapi_text() == committed, "run `make openapi` (scripts/gen_docs openapi)"


def test_every_action_timer_and_route_has_its_row(gen_docs: Any) -> None:
    region = gen_docs.functions_region()
    for name in [*ACTIONS, *TIMERS, *NOTIFY_ROUTES]:
        assert row_of(region, name)


def test_a_new_action_appears_in_the_generated_table(gen_docs: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {**ACTIONS, "merchant_do_something": Action(
        "shared.catalog.products", "set_stock", "SetStockInput", "merchant")}
    monkeypatch.setattr(gen_docs, "ACTIONS", extra)

    row = row_of(gen_docs.functions_region(), "merchant_do_something")

    assert "| merchant |" in row and "`sku_id`" in row and "`stock`" in row
    assert "/api/merchant_do_something" in gen_docs.openapi_document()["paths"]


def test_place_order_row_says_what_the_model_takes(gen_docs: Any) -> None:
    row = row_of(gen_docs.functions_region(), "place_order")

    # address_id may be left out (self-pickup); store_id, deal_id and points are there
    for field in ("`address_id`?", "`store_id`?", "`deal_id`?", "`points`?"):
        assert field in row, field
    assert "`request_id`: str (8–64 chars" in row
    assert "until WeChat Pay lands" not in readme()


def test_fields_carry_type_bounds_and_default(gen_docs: Any) -> None:
    row = row_of(gen_docs.functions_region(), "list_products")

    assert "`page_size`?: int (1–100, default 20)" in row
    assert "newest\\|price_asc\\|price_desc\\|sales" in row
    assert "| anyone |" in row


def test_openapi_is_a_valid_31_document_with_every_action(gen_docs: Any) -> None:
    from openapi_spec_validator import validate

    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))

    validate(document)
    assert document["openapi"].startswith("3.1")
    for name, action in ACTIONS.items():
        operation = document["paths"][f"/api/{name}"]["post"]
        assert operation["operationId"] == name
        schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
        assert schema.get("additionalProperties") is False, name  # unknown fields rejected
        assert ("security" in operation) and (action.auth == "public" or operation["security"])
    place_order = document["components"]["schemas"]["PlaceOrderInput"]
    assert "request_id" in place_order["required"]
    assert place_order["properties"]["request_id"]["minLength"] == 8
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert "TEAM_NOT_OPEN" in codes["code"]["enum"]
