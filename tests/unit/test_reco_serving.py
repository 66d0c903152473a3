"""Serving: recommend_for_user, similar_products, bought_together, with the business rules,
anonymous callers, reasons, and the model version swapping when reco_train publishes."""
from __future__ import annotations

from typing import Any

import pytest

from shared.reco import artefacts
from shared.reco.serving import (
    CATEGORY_CAP,
    REASON_AGAIN,
    REASON_ALSO,
    REASON_HOT,
    paginate,
)
from tests.conftest import (
    Shopper,
    call,
    merchant,
    new_address,
    new_category,
    new_product,
    new_shopper,
)
from tests.helpers import Clock


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Any:
    artefacts.forget()
    yield
    artefacts.forget()


def paid(shopper: Shopper, *products: dict[str, Any]) -> str:
    address = new_address(shopper)
    order = shopper.call("place_order", {
        "request_id": f"r-{shopper.name}-{'-'.join(p['id'][-6:] for p in products)}",
        "address_id": address,
        "items": [{"sku_id": p["skus"][0]["id"], "quantity": 1} for p in products]}).data
    merchant("merchant_mark_paid", {"order_id": order["id"]}).data
    return str(order["id"])


def train() -> dict[str, Any]:
    return merchant("dev_run_timer", {"name": "reco_train"}).data["result"]


def ids(answer: dict[str, Any]) -> list[str]:
    return [item["product"]["id"] for item in answer["items"]]


def shop(categories: int = 1, per_category: int = 3) -> list[dict[str, Any]]:
    out = []
    for c in range(categories):
        category = new_category(f"类{c}")
        out += [new_product(title=f"商品{c}-{n}", category_id=category)
                for n in range(per_category)]
    return out


def test_before_any_training_anonymous_callers_get_best_sellers_as_hot() -> None:
    products = shop()

    answer = call("recommend_for_user", {"context": "home"}).data

    assert set(ids(answer)) == {p["id"] for p in products}
    assert answer["model_version"] == "none"
    assert {item["reason"] for item in answer["items"]} == {REASON_HOT}



def test_a_shopper_sees_what_they_bought_first_then_what_others_bought_with_it() -> None:
    tea, cup, spoon, bowl = shop(per_category=1) + shop(per_category=1) + shop(per_category=1) \
        + shop(per_category=1)
    for n in range(3):
        paid(new_shopper(f"pair{n}"), tea, cup)
    me = new_shopper("me")
    paid(me, tea)
    paid(new_shopper("other"), spoon)
    train()

    answer = me.call("recommend_for_user", {"context": "home"}).data

    assert ids(answer)[:2] == [tea["id"], cup["id"]]
    assert [i["reason"] for i in answer["items"]][:2] == [REASON_AGAIN, REASON_ALSO]
    assert answer["model_version"] != "none"
    assert bowl["id"] in ids(answer)   # never bought: still listed, after the others


def test_products_in_the_cart_off_shelf_or_sold_out_are_never_recommended() -> None:
    keep, in_cart, off, sold_out = shop(per_category=1) + shop(per_category=1) + \
        shop(per_category=1) + shop(per_category=1)
    buyer = new_shopper()
    paid(buyer, keep, in_cart, off, sold_out)
    train()
    buyer.call("cart_add", {"sku_id": in_cart["skus"][0]["id"], "quantity": 1}).data
    merchant("merchant_upsert_product", {
        "product_id": off["id"], "status": "off_shelf", "title": off["title"],
        "category_id": off["category_id"], "skus": [{"sku_id": off["skus"][0]["id"],
                                                     "price": 1000, "stock": 5}]}).data
    merchant("merchant_set_stock", {"sku_id": sold_out["skus"][0]["id"], "stock": 0}).data

    answer = buyer.call("recommend_for_user", {"context": "home"}).data

    assert ids(answer) == [keep["id"]]


def test_a_page_holds_at_most_three_of_one_category() -> None:
    ranked = [({"_id": f"p{n}", "category_id": "a" if n < 5 else "b"}, REASON_HOT)
              for n in range(8)]

    first = paginate(ranked, 1, 5)
    second = paginate(ranked, 2, 5)

    assert [d["_id"] for d, _ in first] == ["p0", "p1", "p2", "p5", "p6"]
    assert [d["_id"] for d, _ in second] == ["p3", "p4", "p7"]
    assert max(sum(1 for d, _ in first if d["category_id"] == c) for c in "ab") == CATEGORY_CAP


def test_home_pages_follow_on_without_repeating() -> None:
    products = shop(categories=4, per_category=3)
    paid(new_shopper(), *products[:5])
    train()

    first = call("recommend_for_user", {"context": "home", "page_size": 5}).data
    second = call("recommend_for_user", {"context": "home", "page": 2, "page_size": 5}).data

    assert len(first["items"]) == 5 and len(second["items"]) == 5
    assert not set(ids(first)) & set(ids(second))


def test_anonymous_callers_get_popular_items_as_hot() -> None:
    hot, cold = shop(per_category=1) + shop(per_category=1)
    for _n in range(3):
        paid(new_shopper(), hot)
    train()

    answer = call("recommend_for_user", {"context": "home"}).data

    assert ids(answer)[0] == hot["id"]
    assert {i["reason"] for i in answer["items"]} == {REASON_HOT}


def test_product_context_shows_what_was_bought_with_it_and_never_itself() -> None:
    tea, cup, other = shop(per_category=1) + shop(per_category=1) + shop(per_category=1)
    for _n in range(2):
        paid(new_shopper(), tea, cup)
    for _n in range(4):
        paid(new_shopper(), other)
    train()

    answer = call("recommend_for_user", {"context": "product", "product_id": tea["id"]}).data
    together = call("bought_together", {"product_id": tea["id"]}).data

    assert ids(answer)[0] == cup["id"] and tea["id"] not in ids(answer)
    assert answer["items"][0]["reason"] == REASON_ALSO
    assert ids(together)[0] == cup["id"]


def test_similar_products_share_the_category_and_title_words() -> None:
    category = new_category("茶")
    green = new_product(title="西湖龙井绿茶", category_id=category)
    also_green = new_product(title="明前龙井绿茶礼盒", category_id=category)
    new_product(title="普洱熟茶饼", category_id=category)
    elsewhere = new_product(title="龙井茶杯")
    train()

    answer = call("similar_products", {"product_id": green["id"]}).data

    assert ids(answer)[0] == also_green["id"]
    assert elsewhere["id"] not in ids(answer)
    assert answer["items"][0]["reason"] == REASON_ALSO


def test_product_lists_of_an_unknown_product_say_not_found_in_chinese() -> None:
    answer = call("similar_products", {"product_id": "nope"})

    assert answer.code == "NOT_FOUND" and answer.status == 404
    assert answer.body["error"]["message"]


def test_product_context_needs_a_product_id() -> None:
    assert call("recommend_for_user", {"context": "product"}).code == "VALIDATION_ERROR"
    assert call("recommend_for_user", {"context": "shelf"}).code == "VALIDATION_ERROR"


def test_a_new_model_replaces_the_old_one_once_the_check_interval_passed(clock: Clock) -> None:
    first, second = shop(per_category=1) + shop(per_category=1)
    paid(new_shopper(), first)
    v1 = train()["version"]
    assert call("recommend_for_user", {}).data["model_version"] == v1
    for _n in range(3):
        paid(new_shopper(), second)
    v2 = train()["version"]
    served_before = call("recommend_for_user", {}).data
    clock.advance(seconds=61)       # RECO_MODEL_CHECK_SECONDS (60) later
    served_after = call("recommend_for_user", {}).data

    assert v2 != v1
    assert served_before["model_version"] == v1 and ids(served_before)[0] == first["id"]
    assert served_after["model_version"] == v2 and ids(served_after)[0] == second["id"]


def _device_in(variant: str) -> str:
    from shared.insight.experiments import assign
    variants = [{"name": "model", "weight": 1}, {"name": "popular", "weight": 1}]
    return next(f"phone-{n}" for n in range(100)
                if assign("reco_algorithm", f"phone-{n}", variants) == variant)


def test_while_the_reco_algorithm_experiment_runs_each_caller_is_served_its_variant(
        db: Any) -> None:
    tea, cup = shop(per_category=1) + shop(per_category=1)
    for n in range(3):
        paid(new_shopper(f"ab{n}"), tea, cup)
    train()
    without = call("recommend_for_user", {"context": "home", "device_id": "phone-x"}).data
    assert without["variant"] is None and without["model_version"] not in ("none", "popular")
    assert db.experiment_exposures.count_documents({}) == 0   # nothing runs: nothing logged

    merchant("merchant_create_experiment", {
        "key": "reco_algorithm", "metric": "order_paid",
        "variants": [{"name": "model", "weight": 1}, {"name": "popular", "weight": 1}]}).data
    popular = call("recommend_for_user", {"context": "home",
                                          "device_id": _device_in("popular")}).data
    model = call("recommend_for_user", {"context": "home", "device_id": _device_in("model")}).data

    assert (popular["variant"], popular["model_version"]) == ("popular", "popular")
    assert {item["reason"] for item in popular["items"]} == {REASON_HOT}
    assert model["variant"] == "model" and model["model_version"] == without["model_version"]
    exposed = {doc["subject"]: doc["variant"] for doc in db.experiment_exposures.find()}
    assert exposed == {_device_in("popular"): "popular", _device_in("model"): "model"}
    report = merchant("merchant_experiment_report", {"key": "reco_algorithm"}).data
    assert sorted(v["name"] for v in report["variants"]) == ["model", "popular"]
