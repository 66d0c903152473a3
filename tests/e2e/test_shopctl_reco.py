"""shopctl import online-retail: a purchase history loaded through the gateway, trained on, and
recommended from; importing the same file again adds nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.reco import artefacts
from tests.conftest import call
from tests.e2e.test_shopctl import data_of, shopctl
from tests.unit.test_reco_offline import line, write_csv


def test_import_loads_products_shoppers_and_paid_orders_then_recommends(
        gateway: str, db: Any, tmp_path: Path) -> None:
    artefacts.forget()
    path = write_csv(tmp_path / "retail.csv.gz", [
        line("536365", "85123A", "2011-01-01", "17850"),
        line("536365", "71053", "2011-01-01", "17850"),
        line("536366", "85123A", "2011-01-02", "13047"),
        line("536367", "POST", "2011-01-02", "13047"),          # postage: not goods
        line("C536368", "71053", "2011-01-03", "13047"),        # a cancellation
        line("536369", "22632", "2011-01-03", "")])             # no customer

    first = data_of(shopctl("--json", "import", "online-retail", path, api=gateway))
    again = data_of(shopctl("--json", "import", "online-retail", path, "--no-train",
                            api=gateway))

    assert first["orders"] == 2 and first["products"] == 2 and first["model"]["items"] == 2
    assert again == {"orders": 0, "skipped": 2, "products": 0, "invoices": 2}
    shopper = db.users.find_one({"openid": "online-retail:17850"})
    orders = list(db.orders.find({"user_id": shopper["_id"]}))
    assert [o["status"] for o in orders] == ["completed"]
    assert [i["product_id"] for i in orders[0]["items"]] == ["prd_or_85123A", "prd_or_71053"]
    assert db.products.find_one({"_id": "prd_or_85123A"})["sales"] == 2
    answer = call("recommend_for_user", {"context": "home"}).data
    assert answer["model_version"] == first["model"]["version"]
    assert [i["product"]["id"] for i in answer["items"]][0] == "prd_or_85123A"
    artefacts.forget()
