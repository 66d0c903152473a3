"""The catalog: paging, filters, search, sorting, the shelf, and the merchant's SKUs and stock.

Given / When / Then: each test builds its catalog with the factories, calls one action through
the dispatcher, and checks one rule.
"""
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import call, merchant, new_address, new_category, new_product, new_shopper


def _ids(page):
    return [item["id"] for item in page["items"]]


def _upsert(product, **changes):
    """Send a product back to merchant_upsert_product with its SKUs kept, plus ``changes``."""
    payload = {"product_id": product["id"], "title": product["title"],
               "category_id": product["category_id"], "images": product["images"],
               "skus": [{"sku_id": s["id"], "specs": s["specs"], "price": s["price"]}
                        for s in product["skus"]]}
    payload.update(changes)
    return merchant("merchant_upsert_product", payload)


# ---- paging --------------------------------------------------------------------------------

def test_list_products_pages_report_total_and_page_count():
    category_id = new_category()
    for n in range(5):
        new_product(title=f"苹果{n}", category_id=category_id)

    first = call("list_products", {"page": 1, "page_size": 2}).data
    last = call("list_products", {"page": 3, "page_size": 2}).data

    assert (first["total"], first["pages"], first["page"], first["page_size"]) == (5, 3, 1, 2)
    assert len(first["items"]) == 2
    assert len(last["items"]) == 1


def test_list_products_pages_do_not_overlap():
    category_id = new_category()
    made = {new_product(title=f"梨{n}", category_id=category_id)["id"] for n in range(5)}

    seen = [pid for page in (1, 2, 3)
            for pid in _ids(call("list_products", {"page": page, "page_size": 2}).data)]

    assert sorted(seen) == sorted(made)


def test_list_products_beyond_the_last_page_is_empty_not_an_error():
    new_product()

    answer = call("list_products", {"page": 9, "page_size": 10})

    assert answer.status == 200
    assert answer.data["items"] == [] and answer.data["total"] == 1


def test_list_products_accepts_page_size_100():
    assert call("list_products", {"page_size": 100}).status == 200


def test_list_products_refuses_page_size_above_100_with_422():
    answer = call("list_products", {"page_size": 101})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert "page_size" in [f["field"] for f in answer.body["error"]["details"]["fields"]]


def test_list_products_refuses_page_zero_with_422():
    assert call("list_products", {"page": 0}).status == 422


def test_list_products_with_no_products_is_an_empty_page():
    data = call("list_products").data

    assert (data["items"], data["total"], data["pages"]) == ([], 0, 0)


# ---- category filter ----------------------------------------------------------------------

def test_list_products_filters_by_category():
    fruit, tea = new_category("水果"), new_category("茶叶")
    apple = new_product(title="苹果", category_id=fruit)
    new_product(title="龙井", category_id=tea)

    data = call("list_products", {"category_id": fruit}).data

    assert _ids(data) == [apple["id"]]
    assert data["total"] == 1


def test_list_products_of_an_unknown_category_is_empty():
    new_product()

    assert call("list_products", {"category_id": "cat_nope"}).data["total"] == 0


# ---- keyword search -------------------------------------------------------------------------

@pytest.fixture
def searchable():
    category_id = new_category()
    return {
        "aksu": new_product(title="新疆阿克苏苹果", category_id=category_id)["id"],
        "fuji": new_product(title="Fuji Apple 富士苹果", category_id=category_id)["id"],
        "pear": new_product(title="砀山酥梨", category_id=category_id)["id"],
        "tea": new_product(title="West Lake Longjing 西湖龙井", category_id=category_id)["id"],
    }


def _search(keyword):
    return sorted(_ids(call("list_products", {"keyword": keyword}).data))


def test_search_finds_chinese_by_a_two_character_word(searchable):
    assert _search("苹果") == sorted([searchable["aksu"], searchable["fuji"]])


def test_search_finds_chinese_by_a_single_character(searchable):
    assert _search("梨") == [searchable["pear"]]


def test_search_finds_chinese_by_a_longer_phrase_from_the_title(searchable):
    assert _search("阿克苏苹果") == [searchable["aksu"]]


def test_search_does_not_match_characters_that_are_not_adjacent_in_the_title(searchable):
    # 阿 and 果 are both in 阿克苏苹果, but the bigram 阿果 is not
    assert _search("阿果") == []


def test_search_finds_english_words_case_insensitively(searchable):
    assert _search("apple") == [searchable["fuji"]]
    assert _search("APPLE") == [searchable["fuji"]]


def test_search_needs_every_english_word(searchable):
    assert _search("west longjing") == [searchable["tea"]]
    assert _search("west apple") == []


def test_search_matches_whole_english_words_not_prefixes(searchable):
    assert _search("app") == []


def test_search_mixes_english_and_chinese(searchable):
    assert _search("fuji 苹果") == [searchable["fuji"]]


def test_search_counts_only_matching_products_in_total(searchable):
    assert call("list_products", {"keyword": "苹果"}).data["total"] == 2


@pytest.mark.parametrize("keyword", ["!!!", "🍎🍎", "😀", "？！。", "- _ .", "🍎!"])
def test_a_keyword_with_nothing_searchable_finds_nothing(searchable, keyword):
    shopper = call("list_products", {"keyword": keyword}).data
    merchant_view = merchant("merchant_list_products", {"keyword": keyword}).data

    assert (shopper["items"], shopper["total"]) == ([], 0)
    assert (merchant_view["items"], merchant_view["total"]) == ([], 0)


def test_a_blank_keyword_is_no_search(searchable):
    assert call("list_products", {"keyword": "   "}).data["total"] == len(searchable)
    assert call("list_products", {"keyword": "苹果!!!"}).data["total"] == 2


def test_search_finds_words_of_the_subtitle():
    category_id = new_category()
    product = new_product(title="苹果", category_id=category_id)
    _upsert(product, subtitle="脆甜多汁 crunchy")

    assert _search("crunchy") == [product["id"]]


# ---- sorting --------------------------------------------------------------------------------

@pytest.fixture
def three_products(db):
    """Three products made a minute apart, with different prices and sales."""
    category_id = new_category()
    cheap = new_product(price=100, title="便宜", category_id=category_id)["id"]
    dear = new_product(price=900, title="贵", category_id=category_id)["id"]
    middle = new_product(price=500, title="中等", category_id=category_id)["id"]
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for minutes, (pid, sales) in enumerate([(cheap, 5), (dear, 50), (middle, 0)]):
        db.products.update_one({"_id": pid}, {"$set": {"created_at": start + timedelta(
            minutes=minutes), "sales": sales}})
    return {"cheap": cheap, "dear": dear, "middle": middle}


def _sorted_by(sort):
    return _ids(call("list_products", {"sort": sort}).data)


def test_sort_newest_lists_the_latest_product_first(three_products):
    p = three_products
    assert _sorted_by("newest") == [p["middle"], p["dear"], p["cheap"]]


def test_sort_newest_is_the_default(three_products):
    assert _ids(call("list_products").data) == _sorted_by("newest")


def test_sort_price_asc_lists_the_cheapest_first(three_products):
    p = three_products
    assert _sorted_by("price_asc") == [p["cheap"], p["middle"], p["dear"]]


def test_sort_price_desc_lists_the_dearest_first(three_products):
    p = three_products
    assert _sorted_by("price_desc") == [p["dear"], p["middle"], p["cheap"]]


def test_sort_sales_lists_the_best_seller_first(three_products):
    p = three_products
    assert _sorted_by("sales") == [p["dear"], p["cheap"], p["middle"]]


def test_sort_by_an_unknown_key_is_refused_with_422():
    assert call("list_products", {"sort": "random"}).status == 422


def test_price_of_a_product_is_its_cheapest_sku():
    product = new_product(price=300, skus=3)

    summary = call("list_products").data["items"][0]

    assert (summary["price"], summary["price_max"]) == (300, 302)
    assert product["id"] == summary["id"]


# ---- the shelf ------------------------------------------------------------------------------

@pytest.fixture
def off_shelf():
    product = new_product(title="下架的苹果")
    return _upsert(product, status="off_shelf").data


def test_off_shelf_product_is_hidden_from_list_products(off_shelf):
    data = call("list_products").data

    assert off_shelf["id"] not in _ids(data)
    assert data["total"] == 0


def test_off_shelf_product_is_hidden_from_search(off_shelf):
    assert _search("苹果") == []


def test_off_shelf_product_is_not_found_by_get_product(off_shelf):
    answer = call("get_product", {"product_id": off_shelf["id"]})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


def test_off_shelf_product_is_listed_for_the_merchant(off_shelf):
    data = merchant("merchant_list_products").data

    assert _ids(data) == [off_shelf["id"]]
    assert data["items"][0]["status"] == "off_shelf"


def test_merchant_list_products_filters_by_status(off_shelf):
    on_sale = new_product(title="在售")

    assert _ids(merchant("merchant_list_products", {"status": "on_sale"}).data) == [on_sale["id"]]
    assert _ids(merchant("merchant_list_products", {"status": "off_shelf"}).data) == \
        [off_shelf["id"]]


def test_product_back_on_sale_is_listed_again(off_shelf):
    _upsert(off_shelf, status="on_sale")

    assert _ids(call("list_products").data) == [off_shelf["id"]]


def test_get_product_of_an_unknown_id_is_404():
    assert call("get_product", {"product_id": "prd_nope"}).status == 404


def test_get_product_shows_skus_without_merchant_counts():
    product = new_product(price=1000, stock=7)

    shown = call("get_product", {"product_id": product["id"]}).data

    assert shown["skus"] == [{"id": product["skus"][0]["id"], "specs": {"规格": "1号"},
                              "price": 1000, "stock": 7, "image": None}]



# ---- upsert ---------------------------------------------------------------------------------

def test_upsert_keeps_the_ids_of_skus_sent_back():
    product = new_product(skus=2)
    before = [s["id"] for s in product["skus"]]

    after = _upsert(product, title="改名的苹果").data

    assert [s["id"] for s in after["skus"]] == before
    assert after["title"] == "改名的苹果"


def test_upsert_changes_the_price_of_a_kept_sku():
    product = new_product(price=1000)
    sku = product["skus"][0]

    after = _upsert(product, skus=[{"sku_id": sku["id"], "specs": sku["specs"],
                                    "price": 800}]).data

    assert [(s["id"], s["price"]) for s in after["skus"]] == [(sku["id"], 800)]
    assert call("list_products").data["items"][0]["price"] == 800


def test_upsert_does_not_touch_the_stock_of_a_kept_sku():
    product = new_product(stock=12)
    sku = product["skus"][0]

    after = _upsert(product, skus=[{"sku_id": sku["id"], "specs": sku["specs"],
                                    "price": sku["price"], "stock": 999}]).data

    assert after["skus"][0]["stock"] == 12


def test_upsert_adds_a_new_sku_with_a_new_id():
    product = new_product(skus=1)
    kept = product["skus"][0]

    after = _upsert(product, skus=[{"sku_id": kept["id"], "specs": kept["specs"],
                                    "price": kept["price"]},
                                   {"specs": {"规格": "大"}, "price": 5000, "stock": 3}]).data

    ids = [s["id"] for s in after["skus"]]
    assert kept["id"] in ids and len(set(ids)) == 2


def test_upsert_retires_a_removed_sku_instead_of_deleting_it(db):
    product = new_product(skus=2)
    kept, removed = product["skus"]

    after = _upsert(product, skus=[{"sku_id": kept["id"], "specs": kept["specs"],
                                    "price": kept["price"]}]).data

    assert {s["id"]: s["active"] for s in after["skus"]} == {kept["id"]: True,
                                                             removed["id"]: False}
    assert db.skus.find_one({"_id": removed["id"]})["active"] is False


def test_retired_sku_is_hidden_from_shoppers():
    product = new_product(skus=2)
    kept = product["skus"][0]
    _upsert(product, skus=[{"sku_id": kept["id"], "specs": kept["specs"], "price": kept["price"]}])

    shown = call("get_product", {"product_id": product["id"]}).data

    assert [s["id"] for s in shown["skus"]] == [kept["id"]]


def test_retired_sku_comes_back_when_sent_again():
    product = new_product(skus=2)
    kept, removed = product["skus"]
    _upsert(product, skus=[{"sku_id": kept["id"], "specs": kept["specs"], "price": kept["price"]}])

    after = _upsert(product).data

    assert all(s["active"] for s in after["skus"])
    assert {s["id"] for s in after["skus"]} == {kept["id"], removed["id"]}


def test_upsert_refuses_the_sku_id_of_another_product(db):
    mine, theirs = new_product(title="我的"), new_product(title="别人的")
    foreign = theirs["skus"][0]

    answer = _upsert(mine, skus=[{"sku_id": foreign["id"], "specs": {}, "price": 1}])

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert db.skus.find_one({"_id": foreign["id"]})["product_id"] == theirs["id"]
    assert db.skus.find_one({"_id": foreign["id"]})["price"] == foreign["price"]


def test_new_product_refuses_an_existing_sku_id(db):
    theirs = new_product(title="别人的")
    foreign = theirs["skus"][0]

    answer = merchant("merchant_upsert_product", {
        "title": "新", "category_id": theirs["category_id"],
        "skus": [{"sku_id": foreign["id"], "price": 1}]})

    assert answer.status == 422
    assert db.skus.find_one({"_id": foreign["id"]})["product_id"] == theirs["id"]


def test_upsert_with_an_unknown_category_is_404():
    answer = merchant("merchant_upsert_product", {
        "title": "苹果", "category_id": "cat_nope", "skus": [{"price": 100, "stock": 1}]})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert answer.body["error"]["details"]["resource"] == "category"


def test_upsert_of_an_unknown_product_id_is_404():
    answer = merchant("merchant_upsert_product", {
        "product_id": "prd_nope", "title": "苹果", "category_id": new_category(),
        "skus": [{"price": 100}]})

    assert answer.status == 404


def test_upsert_refuses_a_product_without_skus():
    answer = merchant("merchant_upsert_product", {
        "title": "苹果", "category_id": new_category(), "skus": []})

    assert answer.status == 422


@pytest.mark.parametrize("name", ["重\x00量", "$where", "a.b"])
def test_upsert_refuses_a_spec_name_mongodb_cannot_keep_with_422(name):
    answer = merchant("merchant_upsert_product", {
        "title": "苹果", "category_id": new_category(),
        "skus": [{"price": 100, "specs": {name: "大"}}]})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_upsert_refuses_a_price_of_zero():
    answer = merchant("merchant_upsert_product", {
        "title": "苹果", "category_id": new_category(), "skus": [{"price": 0}]})

    assert answer.status == 422


# ---- stock ----------------------------------------------------------------------------------

def test_set_stock_sets_the_stock_for_sale_and_keeps_locked_and_sold_apart():
    product = new_product(stock=10)
    sku_id = product["skus"][0]["id"]
    buyer = new_shopper()
    address_id = new_address(buyer)
    paid = buyer.call("place_order", {"request_id": "req-paid-1", "address_id": address_id,
                                      "items": [{"sku_id": sku_id, "quantity": 2}]}).data
    merchant("merchant_mark_paid", {"order_id": paid["id"]})
    buyer.call("place_order", {"request_id": "req-unpaid-1", "address_id": address_id,
                               "items": [{"sku_id": sku_id, "quantity": 3}]})

    sku = merchant("merchant_set_stock", {"sku_id": sku_id, "stock": 50}).data

    assert (sku["stock"], sku["locked"], sku["sold"]) == (50, 3, 2)
    shown = merchant("merchant_get_product", {"product_id": product["id"]}).data["skus"][0]
    assert (shown["stock"], shown["locked"], shown["sold"]) == (50, 3, 2)


def test_set_stock_is_what_shoppers_see():
    product = new_product(stock=10)
    sku_id = product["skus"][0]["id"]

    merchant("merchant_set_stock", {"sku_id": sku_id, "stock": 4})

    assert call("get_product", {"product_id": product["id"]}).data["skus"][0]["stock"] == 4


def test_set_stock_records_the_adjustment(db):
    sku_id = new_product(stock=10)["skus"][0]["id"]

    merchant("merchant_set_stock", {"sku_id": sku_id, "stock": 0})

    adjustment = db.stock_adjustments.find_one({"sku_id": sku_id})
    assert (adjustment["from"], adjustment["to"]) == (10, 0)


def test_set_stock_of_an_unknown_sku_is_404():
    assert merchant("merchant_set_stock", {"sku_id": "sku_nope", "stock": 1}).status == 404


def test_set_stock_refuses_a_negative_stock():
    sku_id = new_product()["skus"][0]["id"]

    assert merchant("merchant_set_stock", {"sku_id": sku_id, "stock": -1}).status == 422
