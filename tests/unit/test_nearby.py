"""Nearby: search that is exact (checked against a scan of every store), deals near a point,
the daily quantity of a deal, ordering a deal for self-pickup, location privacy, nearby
campaigns, and the freshness of the warm instance's cell index."""
import itertools
import math
import random
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from shared.core.errors import ShopError
from shared.nearby import consent, deals, geo, grid, spatial
from tests.conftest import (
    call,
    merchant,
    new_address,
    new_category,
    new_product,
    new_shopper,
    run_threads,
)
from tests.unit.test_geo import centres, destination, radii, snap_to_border, widest_point

R = geo.EARTH_RADIUS_M
UTC = timezone.utc
LUJIAZUI = (31.2397, 121.4998)  # GCJ-02
_request_ids = itertools.count(1)

search_settings = settings(max_examples=100, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])


# ---- factories -------------------------------------------------------------------------------

def add_store(lat, lng, name="便利店", **fields):
    return merchant("merchant_upsert_store", {"name": name, "address": "上海市浦东新区世纪大道1号",
                                              "lat": lat, "lng": lng, **fields}).data


def store_at(bearing, distance_m, centre=LUJIAZUI, **fields):
    return add_store(*destination(*centre, bearing, distance_m), **fields)


def stores_near(lat, lng, **payload):
    return call("nearby_stores", {"lat": lat, "lng": lng, **payload})


def deals_near(lat, lng, **payload):
    return call("nearby_deals", {"lat": lat, "lng": lng, **payload})


def _iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_deal(sku_id, store_ids, deal_price, kind="today_special", starts_in=timedelta(days=-1),
             ends_in=timedelta(days=1), daily_quantity=None):
    now = datetime.now(UTC)
    body = {"store_ids": store_ids, "sku_id": sku_id, "deal_price": deal_price,
            "starts_at": _iso(now + starts_in), "ends_at": _iso(now + ends_in), "kind": kind}
    if daily_quantity is not None:
        body["daily_quantity"] = daily_quantity
    return merchant("merchant_create_deal", body).data


def order_deal(shopper, deal, store_id, quantity=1, **payload):
    body = {"request_id": f"req-deal-{next(_request_ids):06d}", "store_id": store_id,
            "deal_id": deal["id"], "items": [{"sku_id": deal["sku_id"], "quantity": quantity}]}
    body.update(payload)
    return shopper.call("place_order", body)


def scan(db, lat, lng, radius_m):
    """The brute force: every active store, its haversine distance, inclusive radius."""
    found = []
    for doc in db.stores.find({"active": True}, {"lat": 1, "lng": 1}):
        distance = geo.haversine_m(lat, lng, doc["lat"], doc["lng"])
        if distance <= radius_m:
            found.append((distance, doc["_id"]))
    return sorted(found)


def all_pages(action, lat, lng, page_size, **payload):
    """Every item of every page, checking each page's total and page count on the way."""
    items, page, totals = [], 1, set()
    while True:
        data = call(action, {"lat": lat, "lng": lng, "page": page, "page_size": page_size,
                             **payload}).data
        totals.add(data["total"])
        assert data["pages"] == math.ceil(data["total"] / page_size)
        if not data["items"]:
            break
        assert len(data["items"]) <= page_size
        items.extend(data["items"])
        page += 1
    assert len(totals) == 1, totals
    return items, totals.pop()


# ---- exactness: the cell index against a scan of every store ---------------------------------

def _around(lat, lng, distance_m, rng):
    if abs(lat) == 90:  # from a pole every bearing leads along a meridian
        return (math.copysign(90 - math.degrees(distance_m / R), lat),
                rng.uniform(-180, 180))
    return destination(lat, lng, rng.uniform(0, 360), distance_m)


def scatter(lat, lng, radius, count, rng):
    """Store positions around the centre: inside, around and exactly on the circle, at its
    widest longitude, on cell borders (of the query's precision and others), duplicates, and
    anywhere on Earth."""
    query_precision, _ = geo.covering_cells(lat, lng, radius, grid.INDEX_PRECISIONS)
    points = []
    for _ in range(count):
        kind = rng.choice(["inside", "inside", "around", "on circle", "border", "border",
                           "widest", "duplicate", "far"])
        if kind == "widest" and abs(lat) + math.degrees(radius / R) < 89.99:
            points.append(widest_point(lat, lng, radius * rng.uniform(0.999, 1.0),
                                       east=rng.random() < 0.5))
            continue
        if kind == "far":
            points.append((rng.uniform(-90, 90), rng.uniform(-180, 180)))
            continue
        if kind == "duplicate" and points:
            points.append(rng.choice(points))
            continue
        fraction = {"inside": rng.random(), "around": rng.uniform(0.9, 1.1),
                    "on circle": 1.0}.get(kind, rng.uniform(0, 1.3))
        p_lat, p_lng = _around(lat, lng, fraction * radius, rng)
        if kind == "border":
            precision = query_precision if rng.random() < 0.7 else \
                rng.choice(list(grid.INDEX_PRECISIONS))
            height, width = geo.CELL_DEGREES[precision]
            if rng.random() < 0.5:
                p_lat = max(-90.0, min(90.0, snap_to_border(p_lat, height, -90.0)))
            else:
                p_lng = max(-180.0, min(180.0, snap_to_border(p_lng, width, -180.0)))
        points.append((p_lat, p_lng))
    return points


@st.composite
def scenes(draw):
    lat, lng = draw(centres())
    return {"lat": lat, "lng": lng, "radius": draw(radii), "count": draw(st.integers(30, 200)),
            "seed": draw(st.integers(0, 2 ** 32 - 1)), "page_size": draw(st.integers(5, 100))}


@search_settings
@given(scenes())
@example({"lat": 89.6, "lng": 10.0, "radius": 43_000, "count": 60, "seed": 7, "page_size": 25})
@example({"lat": -72.0, "lng": -179.9, "radius": 50_000, "count": 60, "seed": 8, "page_size": 9})
@example({"lat": 31.2397, "lng": 121.4998, "radius": 1, "count": 30, "seed": 9, "page_size": 5})
def test_nearby_stores_returns_exactly_what_a_scan_of_every_store_returns(db, scene):
    note(scene)
    db.stores.delete_many({})
    spatial.bump_stores_version(db)
    rng = random.Random(scene["seed"])
    lat, lng, radius = scene["lat"], scene["lng"], scene["radius"]
    for n, (s_lat, s_lng) in enumerate(scatter(lat, lng, radius, scene["count"], rng)):
        add_store(s_lat, s_lng, name=f"店{n}", active=rng.random() > 0.1)
    expected = scan(db, lat, lng, radius)

    items, total = all_pages("nearby_stores", lat, lng, scene["page_size"], radius_m=radius)

    assert total == len(expected)
    assert [s["id"] for s in items] == [store_id for _, store_id in expected]
    assert [s["distance_m"] for s in items] == [round(d, 1) for d, _ in expected]


def test_ties_in_distance_are_ordered_by_store_id():
    same = [add_store(*LUJIAZUI, name=f"同址{n}") for n in range(5)]

    items = stores_near(*LUJIAZUI, radius_m=10).data["items"]

    assert [s["id"] for s in items] == sorted(s["id"] for s in same)
    assert {s["distance_m"] for s in items} == {0.0}


def test_the_default_radius_is_3_km():
    inside = store_at(0, 2950)
    store_at(180, 3050)

    data = stores_near(*LUJIAZUI).data

    assert [s["id"] for s in data["items"]] == [inside["id"]]
    assert data["items"][0]["distance_m"] == pytest.approx(2950, abs=0.1)


def test_a_store_view_carries_its_distance_and_whether_it_is_open():
    store = store_at(90, 120, hours="00:00-24:00", tags=["自提"], phone="021-60000000")

    item = stores_near(*LUJIAZUI).data["items"][0]

    assert item["id"] == store["id"] and item["distance_m"] == pytest.approx(120, abs=0.1)
    assert (item["open_now"], item["tags"], item["phone"]) == (True, ["自提"], "021-60000000")


def test_a_radius_crossing_cell_borders_finds_stores_on_both_sides():
    height, width = geo.CELL_DEGREES[7]
    border_lat = math.floor(LUJIAZUI[0] / height) * height
    border_lng = math.floor((LUJIAZUI[1] + 180) / width) * width - 180
    corner = (border_lat, border_lng)  # the centre sits on the corner of four cells
    stores = [add_store(*destination(*corner, bearing, 30)) for bearing in (45, 135, 225, 315)]
    on_border = add_store(border_lat, border_lng + width / 3)

    items = stores_near(*corner, radius_m=60).data["items"]

    assert sorted(s["id"] for s in items) == sorted([s["id"] for s in stores] + [on_border["id"]])


def test_a_centre_at_lng_179_99_finds_a_store_across_the_antimeridian():
    across = add_store(10.0, -179.99)
    add_store(10.0, 179.9)  # about 9.9 km west

    data = stores_near(10.0, 179.99, radius_m=5000).data

    assert [s["id"] for s in data["items"]] == [across["id"]]
    assert data["items"][0]["distance_m"] == pytest.approx(
        geo.haversine_m(10.0, 179.99, 10.0, -179.99), abs=0.1)


@pytest.mark.parametrize("lat", [90.0, -90.0])
def test_a_search_at_a_pole_is_handled(lat):
    toward = math.copysign(1, lat)
    near = add_store(lat - toward * 0.005, 137.0)  # 556 m from the pole
    on_pole = add_store(lat, -20.0)
    add_store(lat - toward * 1.0, -42.0)  # 111 km from the pole

    data = stores_near(lat, 75.0, radius_m=1000).data

    assert [s["id"] for s in data["items"]] == [on_pole["id"], near["id"]]


@pytest.mark.parametrize("payload", [
    {"lat": 90, "lng": 180, "radius_m": 1}, {"lat": -90, "lng": -180, "radius_m": 50_000},
    {"lat": 0, "lng": 0, "page": 10_000, "page_size": 100},
])
@pytest.mark.parametrize("action", ["nearby_stores", "nearby_deals"])
def test_the_extremes_of_valid_input_are_answered(action, payload):
    add_store(*LUJIAZUI)

    assert call(action, payload).status == 200


@pytest.mark.parametrize("change", [
    {"lat": 91}, {"lat": -90.0001}, {"lng": 181}, {"lng": -180.5}, {"lat": float("nan")},
    {"lng": float("nan")}, {"lat": float("inf")}, {"lng": float("-inf")}, {"lat": "north"},
    {"lng": "121.5E"}, {"lat": ""}, {"lat": None}, {"lng": [121.5]}, {"lat": {"v": 31}},
    {"radius_m": 0}, {"radius_m": -1}, {"radius_m": 50_001}, {"radius_m": 1.5},
    {"radius_m": "far"}, {"page": 0}, {"page": -1}, {"page": 10_001}, {"page": "two"},
    {"page_size": 0}, {"page_size": 101}, {"page_size": 2.5}, {"elevation": 10},
], ids=repr)
@pytest.mark.parametrize("action", ["nearby_stores", "nearby_deals"])
def test_invalid_coordinates_radius_or_page_are_422(action, change):
    answer = call(action, {"lat": LUJIAZUI[0], "lng": LUJIAZUI[1], **change})

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


@pytest.mark.parametrize("action", ["nearby_stores", "nearby_deals"])
def test_a_search_without_coordinates_is_422(action):
    assert call(action, {"radius_m": 1000}).status == 422


@pytest.mark.parametrize("change", [{"lat": 91}, {"lng": -181}, {"lat": float("nan")},
                                    {"lng": "east"}, {"coord_system": "bd09"}], ids=repr)
def test_a_store_with_invalid_coordinates_is_422(change):
    body = {"name": "店", "address": "上海", "lat": 31.2, "lng": 121.5, **change}

    assert merchant("merchant_upsert_store", body).status == 422


# ---- coordinates: stores are kept in GCJ-02 --------------------------------------------------

TIANANMEN_WGS84 = (39.908823, 116.397470)
TIANANMEN_GCJ02 = (39.910226, 116.403714)


def test_a_store_given_in_wgs84_is_stored_converted_to_gcj02(db):
    view = add_store(*TIANANMEN_WGS84, coord_system="wgs84")

    doc = db.stores.find_one({"_id": view["id"]})
    assert geo.haversine_m(doc["lat"], doc["lng"], *TIANANMEN_GCJ02) < 1.0
    assert (doc["coord_system"], doc["geohash"]) == ("gcj02", geo.encode(doc["lat"], doc["lng"], 9))
    assert (view["lat"], view["lng"]) == (doc["lat"], doc["lng"])


def test_a_converted_store_is_found_where_a_gcj02_map_shows_it():
    store = add_store(*TIANANMEN_WGS84, coord_system="wgs84")

    at_gcj = stores_near(*TIANANMEN_GCJ02, radius_m=5).data["items"]
    at_wgs = stores_near(*TIANANMEN_WGS84, radius_m=100).data["items"]

    assert [s["id"] for s in at_gcj] == [store["id"]] and at_wgs == []


def test_a_store_given_in_gcj02_is_kept_as_given(db):
    view = add_store(*TIANANMEN_GCJ02)

    doc = db.stores.find_one({"_id": view["id"]})
    assert (doc["lat"], doc["lng"], doc["coord_system"]) == (*TIANANMEN_GCJ02, "gcj02")


def test_a_wgs84_store_outside_china_is_unchanged(db):
    view = add_store(35.681236, 139.767125, coord_system="wgs84")  # Tokyo

    doc = db.stores.find_one({"_id": view["id"]})
    assert (doc["lat"], doc["lng"]) == (35.681236, 139.767125)


# ---- nearby deals ----------------------------------------------------------------------------

@pytest.fixture
def district():
    """Stores around Lujiazui, two products in two categories, deals of both kinds."""
    fruit, snack = new_category("水果"), new_category("零食")
    apple = new_product(price=1000, stock=100, title="苹果", category_id=fruit)["skus"][0]["id"]
    nuts = new_product(price=2000, stock=100, title="坚果", category_id=snack)["skus"][0]["id"]
    s = {"a": store_at(0, 100, name="A"), "b": store_at(90, 500, name="B"),
         "c": store_at(180, 2000, name="C"), "d": store_at(270, 10_000, name="D"),
         "closed": store_at(45, 50, name="停业", active=False)}
    ids = {k: v["id"] for k, v in s.items()}
    d = {
        "a_and_c": new_deal(apple, [ids["a"], ids["c"]], 500, "today_special", daily_quantity=5),
        "all": new_deal(nuts, "all", 1200, "today_special"),
        "a_small": new_deal(nuts, [ids["a"]], 1800, "featured"),
        "b": new_deal(apple, [ids["b"]], 900, "featured"),
        "d": new_deal(apple, [ids["d"]], 100, "today_special"),
        "closed": new_deal(apple, [ids["closed"]], 100, "today_special"),
        "expired": new_deal(apple, [ids["a"]], 100, ends_in=timedelta(seconds=-1)),
        "not_started": new_deal(apple, [ids["a"]], 100, starts_in=timedelta(hours=1),
                                ends_in=timedelta(days=2)),
    }
    return {"stores": ids, "deals": {k: v["id"] for k, v in d.items()}, "deal": d,
            "fruit": fruit, "snack": snack}


def _names(district, items):
    by_id = {v: k for k, v in district["deals"].items()}
    return [by_id[item["id"]] for item in items]


def test_nearby_deals_are_sorted_by_distance_then_discount(district):
    items = deals_near(*LUJIAZUI).data["items"]

    # at A (100 m): 50 % off, 40 % off, 10 % off; then B (500 m)
    assert _names(district, items) == ["a_and_c", "all", "a_small", "b"]
    assert [i["store"]["id"] for i in items] == [district["stores"][k] for k in "aaab"]
    assert [i["distance_m"] for i in items] == pytest.approx([100, 100, 100, 500], abs=0.1)


def test_each_deal_appears_once_at_its_nearest_store_in_reach(district):
    between = destination(*LUJIAZUI, 180, 1500)  # C is 500 m away, A 1.6 km

    items = deals_near(*between).data["items"]

    a_and_c = [i for i in items if i["id"] == district["deals"]["a_and_c"]]
    assert len(a_and_c) == 1 and a_and_c[0]["store"]["id"] == district["stores"]["c"]
    assert a_and_c[0]["distance_m"] == pytest.approx(500, abs=0.1)
    assert len({i["id"] for i in items}) == len(items)


def test_deals_at_stores_outside_the_radius_are_hidden_until_the_radius_reaches_them(district):
    assert "d" not in _names(district, deals_near(*LUJIAZUI).data["items"])

    wide = deals_near(*LUJIAZUI, radius_m=20_000).data["items"]

    assert _names(district, wide)[-1] == "d"
    assert wide[-1]["distance_m"] == pytest.approx(10_000, abs=0.1)


def test_deals_of_an_inactive_store_expired_or_not_started_are_hidden(district):
    names = _names(district, deals_near(*LUJIAZUI, radius_m=50_000).data["items"])

    assert not {"closed", "expired", "not_started"} & set(names)


def test_nearby_deals_filter_by_kind_and_category(district):
    def names(**payload):
        return _names(district, deals_near(*LUJIAZUI, **payload).data["items"])

    assert names(kind="today_special") == ["a_and_c", "all"]
    assert names(kind="featured") == ["a_small", "b"]
    assert names(category_id=district["fruit"]) == ["a_and_c", "b"]
    assert names(category_id=district["snack"]) == ["all", "a_small"]
    assert names(kind="featured", category_id=district["fruit"]) == ["b"]
    assert names(category_id="cat_none") == []


def test_a_deal_shows_its_product_prices_store_and_remaining_quantity_today(district):
    shopper = new_shopper()
    order_deal(shopper, district["deal"]["a_and_c"], district["stores"]["a"], quantity=2).data

    items = {i["id"]: i for i in deals_near(*LUJIAZUI).data["items"]}

    a_and_c = items[district["deals"]["a_and_c"]]
    assert (a_and_c["deal_price"], a_and_c["original_price"]) == (500, 1000)
    assert (a_and_c["daily_quantity"], a_and_c["remaining_today"]) == (5, 3)
    assert (a_and_c["product"]["title"], a_and_c["product"]["category_id"]) == \
        ("苹果", district["fruit"])
    assert a_and_c["store"]["name"] == "A"
    assert items[district["deals"]["all"]]["remaining_today"] is None


def test_nearby_deals_pages_concatenate_to_the_full_list(district):
    full = deals_near(*LUJIAZUI, radius_m=20_000, page_size=100).data

    items, total = all_pages("nearby_deals", *LUJIAZUI, page_size=2, radius_m=20_000)

    assert total == full["total"] == 5
    assert [i["id"] for i in items] == [i["id"] for i in full["items"]]


# ---- the daily quantity of a deal ------------------------------------------------------------

def test_50_concurrent_orders_for_a_deal_of_20_a_day_sell_exactly_20(db):
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=100)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=20)
    shoppers = [new_shopper() for _ in range(50)]

    answers = run_threads(50, lambda i: order_deal(shoppers[i], deal, store["id"]))

    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sum(a.ok for a in answers) == 20
    assert {a.code for a in answers if not a.ok} == {"OUT_OF_STOCK"}
    assert {a.status for a in answers if not a.ok} == {409}
    today = deals.local_day(datetime.now(UTC))
    assert db.deal_daily.find_one({"_id": f"{deal['id']}:{today}"})["sold"] == 20
    sku = db.skus.find_one({"_id": sku_id})
    assert (sku["stock"], sku["locked"]) == (80, 20)
    assert db.orders.count_documents({"deal.deal_id": deal["id"],
                                      "status": "pending_payment"}) == 20

    winner = next(i for i, a in enumerate(answers) if a.ok)
    shoppers[winner].call("cancel_order", {"order_id": answers[winner].data["id"]}).data
    assert db.deal_daily.find_one({"_id": f"{deal['id']}:{today}"})["sold"] == 19
    late = run_threads(5, lambda i: order_deal(shoppers[(winner + 1 + i) % 50], deal,
                                               store["id"]))
    assert sum(a.ok for a in late) == 1
    assert db.deal_daily.find_one({"_id": f"{deal['id']}:{today}"})["sold"] == 20


def test_cancelling_a_deal_order_gives_its_unit_back_for_today(db):
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=100)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=2)
    first, second, third = new_shopper(), new_shopper(), new_shopper()
    order = order_deal(first, deal, store["id"]).data
    order_deal(second, deal, store["id"]).data
    assert order_deal(third, deal, store["id"]).code == "OUT_OF_STOCK"

    assert first.call("cancel_order", {"order_id": order["id"]}).data["status"] == "cancelled"

    today = deals.local_day(datetime.now(UTC))
    assert db.deal_daily.find_one({"_id": f"{deal['id']}:{today}"})["sold"] == 1
    assert order_deal(third, deal, store["id"]).ok
    assert order_deal(new_shopper(), deal, store["id"]).code == "OUT_OF_STOCK"


def test_an_order_refused_for_stock_gives_its_deal_unit_back(db):
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=1)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=5)

    answer = order_deal(new_shopper(), deal, store["id"], quantity=2)

    assert answer.code == "OUT_OF_STOCK"
    today = deals.local_day(datetime.now(UTC))
    assert (db.deal_daily.find_one({"_id": f"{deal['id']}:{today}"}) or {}).get("sold", 0) == 0


def test_the_local_day_turns_at_16_00_utc_midnight_in_shanghai():
    assert deals.local_day(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)) == "20260301"
    assert deals.local_day(datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC)) == "20260302"
    assert deals.local_day(datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)) == "20270101"


@pytest.fixture
def deal_doc(db):
    store = store_at(0, 100)
    sku_id = new_product(price=1000, stock=100)["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 600, daily_quantity=20)
    return db.deals.find_one({"_id": deal["id"]})


def test_the_daily_quantity_resets_on_the_next_shanghai_day(db, deal_doc):
    last_second = datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)
    next_day = datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC)

    assert deals.take_daily_quantity(db, deal_doc, 20, last_second) == \
        f"{deal_doc['_id']}:20260301"
    with pytest.raises(ShopError) as refused:
        deals.take_daily_quantity(db, deal_doc, 1, last_second)
    assert (refused.value.code, refused.value.details["available"]) == ("OUT_OF_STOCK", 0)
    assert deals.take_daily_quantity(db, deal_doc, 20, next_day) == \
        f"{deal_doc['_id']}:20260302"
    assert {d["_id"]: d["sold"] for d in db.deal_daily.find()} == {
        f"{deal_doc['_id']}:20260301": 20, f"{deal_doc['_id']}:20260302": 20}


def test_the_daily_quantity_is_never_exceeded_in_steps(db, deal_doc):
    now = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    taken = 0
    for quantity in [7, 7, 7, 6, 1, 1]:
        try:
            deals.take_daily_quantity(db, deal_doc, quantity, now)
            taken += quantity
        except ShopError as exc:
            assert exc.code == "OUT_OF_STOCK" and exc.details["available"] == 20 - taken
    assert taken == 20
    assert db.deal_daily.find_one({"_id": f"{deal_doc['_id']}:20260301"})["sold"] == 20


def test_more_than_a_day_of_the_deal_in_one_go_is_out_of_stock(db, deal_doc):
    with pytest.raises(ShopError) as refused:
        deals.take_daily_quantity(db, deal_doc, 21, datetime(2026, 3, 1, tzinfo=UTC))
    assert refused.value.code == "OUT_OF_STOCK"
    assert db.deal_daily.count_documents({}) == 0


def test_a_unit_given_back_can_be_taken_again_the_same_day(db, deal_doc):
    now = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    key = deals.take_daily_quantity(db, deal_doc, 20, now)

    deals.give_back_daily_quantity(db, key, 1)

    assert deals.take_daily_quantity(db, deal_doc, 1, now) == key
    with pytest.raises(ShopError):
        deals.take_daily_quantity(db, deal_doc, 1, now)


class _RacedFirstUpsert:
    """deal_daily as a server shows it when another first order of the day inserts the
    counter between this upsert's match and its insert: the upsert fails on the _id."""

    def __init__(self, collection, other_sold):
        self._collection, self._other_sold, self.raced = collection, other_sold, False

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def update_one(self, query, update, upsert=False):
        from pymongo.errors import DuplicateKeyError
        if upsert and not self.raced:
            self.raced = True
            self._collection.insert_one({"_id": query["_id"], "sold": self._other_sold})
            raise DuplicateKeyError("E11000 duplicate key error")
        return self._collection.update_one(query, update, upsert=upsert)


def test_losing_the_race_to_create_the_days_counter_is_not_sold_out(db, deal_doc):
    raced = _RacedFirstUpsert(db.deal_daily, other_sold=1)
    now = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)

    key = deals.take_daily_quantity(SimpleNamespace(deal_daily=raced), deal_doc, 1, now)

    assert raced.raced and db.deal_daily.find_one({"_id": key})["sold"] == 2


def test_losing_the_race_to_a_first_order_that_filled_the_day_is_sold_out(db, deal_doc):
    raced = _RacedFirstUpsert(db.deal_daily, other_sold=20)
    now = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)

    with pytest.raises(ShopError) as refused:
        deals.take_daily_quantity(SimpleNamespace(deal_daily=raced), deal_doc, 1, now)

    assert (refused.value.code, refused.value.details["available"]) == ("OUT_OF_STOCK", 0)
    assert db.deal_daily.find_one({"_id": f"{deal_doc['_id']}:20260301"})["sold"] == 20


def test_a_deal_without_a_daily_quantity_counts_but_never_refuses(db, deal_doc):
    unlimited = {**deal_doc, "daily_quantity": None}
    now = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)

    for _ in range(3):
        key = deals.take_daily_quantity(db, unlimited, 1000, now)

    assert db.deal_daily.find_one({"_id": key})["sold"] == 3000


# ---- ordering a deal, self-pickup, and verifying the pickup code -----------------------------

@pytest.fixture
def shop():
    """Two stores, a product at 10.00 and a deal at 6.00 that runs at the first store only."""
    here, there = store_at(0, 100, name="陆家嘴店"), store_at(90, 800, name="世纪大道店")
    sku_id = new_product(price=1000, stock=10)["skus"][0]["id"]
    deal = new_deal(sku_id, [here["id"]], 600, daily_quantity=5)
    return {"here": here, "there": there, "sku_id": sku_id, "deal": deal}


def test_a_deal_order_is_priced_at_the_deal_price(shop):
    order = order_deal(new_shopper(), shop["deal"], shop["here"]["id"], quantity=2).data

    assert (order["items"][0]["price"], order["items"][0]["subtotal"]) == (600, 1200)
    assert (order["goods_total"], order["total"], order["deal_id"]) == \
        (1200, 1200, shop["deal"]["id"])


def test_the_client_cannot_name_its_own_price(shop):
    answer = order_deal(new_shopper(), shop["deal"], shop["here"]["id"], items=[
        {"sku_id": shop["sku_id"], "quantity": 1, "price": 1}])

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


def test_a_deal_not_running_at_the_chosen_store_is_422_and_takes_nothing(db, shop):
    answer = order_deal(new_shopper(), shop["deal"], shop["there"]["id"])

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")
    assert db.deal_daily.count_documents({}) == 0
    assert db.skus.find_one({"_id": shop["sku_id"]})["stock"] == 10


def test_a_deal_not_started_yet_is_409(shop):
    later = new_deal(shop["sku_id"], [shop["here"]["id"]], 500, starts_in=timedelta(hours=2),
                     ends_in=timedelta(days=1))

    answer = order_deal(new_shopper(), later, shop["here"]["id"])

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_a_deal_that_has_ended_is_409(shop):
    ended = new_deal(shop["sku_id"], [shop["here"]["id"]], 500, ends_in=timedelta(seconds=-1))

    assert order_deal(new_shopper(), ended, shop["here"]["id"]).status == 409


def test_an_unknown_deal_is_404(shop):
    answer = order_deal(new_shopper(), {**shop["deal"], "id": "deal_nope"}, shop["here"]["id"])

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


def test_a_deal_whose_sku_is_not_ordered_is_422(shop):
    other = new_product(price=500)["skus"][0]["id"]

    answer = order_deal(new_shopper(), shop["deal"], shop["here"]["id"],
                        items=[{"sku_id": other, "quantity": 1}])

    assert answer.status == 422


def test_a_self_pickup_order_has_a_store_a_code_and_no_address(shop):
    order = order_deal(new_shopper(), shop["deal"], shop["here"]["id"]).data

    assert order["address"] is None
    pickup = order["pickup"]
    assert (pickup["store_id"], pickup["store_name"], pickup["store_address"]) == \
        (shop["here"]["id"], "陆家嘴店", shop["here"]["address"])
    assert len(pickup["code"]) == 8 and pickup["code"].isdigit()
    assert pickup["picked_up_at"] is None


def test_self_pickup_works_without_a_deal(shop):
    order = new_shopper().call("place_order", {
        "request_id": f"req-pick-{next(_request_ids):06d}", "store_id": shop["there"]["id"],
        "items": [{"sku_id": shop["sku_id"], "quantity": 1}]}).data

    assert order["pickup"]["store_id"] == shop["there"]["id"] and order["total"] == 1000


def test_an_order_with_neither_address_nor_store_is_422(shop):
    answer = new_shopper().call("place_order", {
        "request_id": f"req-none-{next(_request_ids):06d}",
        "items": [{"sku_id": shop["sku_id"], "quantity": 1}]})

    assert answer.status == 422


def test_pickup_at_an_unknown_or_inactive_store_is_refused(shop):
    closed = add_store(*LUJIAZUI, active=False)

    for store_id in ("sto_nope", closed["id"]):  # the deal does not run there either
        assert order_deal(new_shopper(), shop["deal"], store_id).status == 422
    plain = {"items": [{"sku_id": shop["sku_id"], "quantity": 1}]}
    for store_id in ("sto_nope", closed["id"]):
        answer = new_shopper().call("place_order", {
            "request_id": f"req-gone-{next(_request_ids):06d}", "store_id": store_id, **plain})
        assert (answer.status, answer.code) == (404, "NOT_FOUND")


def test_a_delivery_order_still_needs_an_address_of_the_shopper(shop):
    shopper = new_shopper()
    address_id = new_address(shopper)

    order = order_deal(shopper, shop["deal"], None, address_id=address_id)

    assert order.data["pickup"] is None and order.data["items"][0]["price"] == 600


def test_the_owner_sees_the_pickup_code_and_another_shopper_cannot(shop):
    owner, stranger = new_shopper(), new_shopper()
    order = order_deal(owner, shop["deal"], shop["here"]["id"]).data

    mine = owner.call("get_order", {"order_id": order["id"]}).data
    theirs = stranger.call("get_order", {"order_id": order["id"]})

    assert mine["pickup"]["code"] == order["pickup"]["code"]
    assert (theirs.status, theirs.code) == (404, "NOT_FOUND")
    assert order["pickup"]["code"] not in repr(theirs.body)
    assert stranger.call("list_orders").data["items"] == []


def test_verifying_the_code_of_an_unpaid_order_is_409(shop):
    order = order_deal(new_shopper(), shop["deal"], shop["here"]["id"]).data

    answer = merchant("merchant_verify_pickup", {"code": order["pickup"]["code"]})

    assert (answer.status, answer.code) == (409, "INVALID_STATE")


def test_verifying_the_code_of_a_paid_order_completes_it_once(shop):
    shopper = new_shopper()
    order = order_deal(shopper, shop["deal"], shop["here"]["id"]).data
    assert shopper.call("sandbox_pay", {"order_id": order["id"]}).data["order"]["status"] == "paid"

    done = merchant("merchant_verify_pickup", {"code": order["pickup"]["code"]}).data
    again = merchant("merchant_verify_pickup", {"code": order["pickup"]["code"]})

    assert (done["id"], done["status"]) == (order["id"], "completed")
    assert done["pickup"]["picked_up_at"] is not None and done["completed_at"] is not None
    assert (again.status, again.code) == (409, "INVALID_STATE")
    assert shopper.call("get_order", {"order_id": order["id"]}).data["status"] == "completed"


def test_an_unknown_pickup_code_is_404(shop):
    order = order_deal(new_shopper(), shop["deal"], shop["here"]["id"]).data
    unknown = f"{(int(order['pickup']['code']) + 1) % 10 ** 8:08d}"

    answer = merchant("merchant_verify_pickup", {"code": unknown})

    assert (answer.status, answer.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize("code", ["1234567", "123456789", "abcdefgh", "", 12345678])
def test_a_malformed_pickup_code_is_422(code):
    assert merchant("merchant_verify_pickup", {"code": code}).status == 422


def test_only_the_merchant_verifies_pickup_codes(shop):
    shopper = new_shopper()
    order = order_deal(shopper, shop["deal"], shop["here"]["id"]).data

    answer = shopper.call("merchant_verify_pickup", {"code": order["pickup"]["code"]})

    assert answer.status == 403
    assert call("merchant_verify_pickup", {"code": order["pickup"]["code"]}).status == 401


# ---- privacy: the query location is not kept; consent keeps a coarse cell --------------------

PRIVATE = (31.2345678, 121.4876543)  # GCJ-02, with digits that would stand out if stored


def snapshot(db):
    return {name: sorted(map(repr, db[name].find())) for name in db.list_collection_names()}


def _mentions(dump, point):
    text = repr(dump)
    return any(f"{value}"[:8] in text for value in point)


def test_nearby_searches_store_nothing_of_the_query_location(db):
    shopper = new_shopper()
    store = store_at(0, 100)
    sku_id = new_product()["skus"][0]["id"]
    new_deal(sku_id, [store["id"]], 500)
    stores_near(*LUJIAZUI).data  # the index is built before the snapshot
    before = snapshot(db)

    for caller in (call, shopper.call):
        caller("nearby_stores", {"lat": PRIVATE[0], "lng": PRIVATE[1], "radius_m": 5000}).data
        caller("nearby_deals", {"lat": PRIVATE[0], "lng": PRIVATE[1], "radius_m": 5000}).data

    after = snapshot(db)
    assert after == before
    assert not _mentions(after, PRIVATE)


def test_opting_in_stores_only_a_5_character_cell_of_about_5_km(db):
    shopper = new_shopper()
    before = db.users.find_one({"_id": shopper.user_id})

    answer = shopper.call("set_location_consent", {"enabled": True, "lat": PRIVATE[0],
                                                   "lng": PRIVATE[1]}).data

    user = db.users.find_one({"_id": shopper.user_id})
    cell = geo.encode(*PRIVATE, 5)
    assert answer == {"enabled": True, "cell": cell}
    assert user["nearby"]["cell"] == cell and user["nearby"]["enabled"] is True
    assert set(user["nearby"]) == {"enabled", "cell", "updated_at"}
    assert {k: v for k, v in user.items() if k != "nearby"} == before
    assert not _mentions(snapshot(db), PRIVATE)
    height, width = geo.CELL_DEGREES[5]
    assert 4_800 < height * math.pi * R / 180 < 5_000  # about 5 km north to south


def test_withdrawing_consent_removes_the_cell(db):
    shopper = new_shopper()
    shopper.call("set_location_consent", {"enabled": True, "lat": PRIVATE[0],
                                          "lng": PRIVATE[1]}).data

    answer = shopper.call("set_location_consent", {"enabled": False}).data

    assert answer == {"enabled": False, "cell": None}
    assert "nearby" not in db.users.find_one({"_id": shopper.user_id})
    assert db.users.count_documents({"nearby": {"$exists": True}}) == 0


@pytest.mark.parametrize("payload", [{"enabled": True}, {"enabled": True, "lat": 31.2},
                                     {"enabled": True, "lat": 91, "lng": 121.5},
                                     {"enabled": True, "lat": 31.2, "lng": float("nan")},
                                     {"enabled": "maybe"}, {}], ids=repr)
def test_invalid_consent_is_422(payload):
    assert new_shopper().call("set_location_consent", payload).status == 422


def test_consent_needs_a_logged_in_shopper():
    assert call("set_location_consent", {"enabled": False}).status == 401


# ---- nearby campaigns ------------------------------------------------------------------------

def _opt_in(point):
    shopper = new_shopper()
    shopper.call("set_location_consent", {"enabled": True, "lat": point[0],
                                          "lng": point[1]}).data
    return shopper


@pytest.fixture
def campaign_setup():
    store = add_store(*LUJIAZUI)
    sku_id = new_product()["skus"][0]["id"]
    deal = new_deal(sku_id, [store["id"]], 500)
    return store, deal


def _campaign(store, deal, radius_m=3000, message="附近门店今日特惠"):
    return merchant("merchant_nearby_campaign", {"store_id": store["id"], "deal_id": deal["id"],
                                                 "radius_m": radius_m, "message": message})


def test_a_campaign_queues_one_message_per_opted_in_user_in_reach(db, campaign_setup):
    store, deal = campaign_setup
    near = _opt_in(destination(*LUJIAZUI, 30, 200))
    edge = _opt_in(destination(*LUJIAZUI, 200, 2900))
    _opt_in(destination(*LUJIAZUI, 90, 100_000))                 # far away
    new_shopper().call("set_location_consent", {"enabled": False})  # never opted in
    withdrawn = _opt_in(destination(*LUJIAZUI, 0, 100))
    withdrawn.call("set_location_consent", {"enabled": False}).data

    result = _campaign(store, deal).data

    messages = list(db.outbox.find({"occasion": result["campaign_id"]}))
    assert result["queued"] == 2
    assert sorted(m["user_id"] for m in messages) == sorted([near.user_id, edge.user_id])
    for m in messages:
        assert m["_id"] == f"nearby_campaign:{result['campaign_id']}:{m['user_id']}"
        assert (m["purpose"], m["status"]) == ("nearby_campaign", "queued")
        assert (m["data"]["store_id"], m["data"]["deal_id"], m["data"]["message"]) == \
            (store["id"], deal["id"], "附近门店今日特惠")


@pytest.mark.parametrize("radius_m", [100, 3000, 50_000])
def test_a_campaign_reaches_every_opted_in_user_within_its_radius(db, campaign_setup, radius_m):
    store, deal = campaign_setup
    inside = [_opt_in(destination(*LUJIAZUI, bearing, radius_m * 0.99))
              for bearing in range(0, 360, 45)]

    result = _campaign(store, deal, radius_m=radius_m).data

    queued = {m["user_id"] for m in db.outbox.find({"occasion": result["campaign_id"]})}
    assert {s.user_id for s in inside} <= queued


def test_a_campaign_reaches_a_user_at_most_once(db, campaign_setup):
    store, deal = campaign_setup
    user = _opt_in(destination(*LUJIAZUI, 0, 300))
    campaign = _campaign(store, deal).data
    data = {"message": "again", "store_id": store["id"], "deal_id": deal["id"]}

    again = [consent.enqueue_message(db, user.user_id, "nearby_campaign", campaign["campaign_id"],
                                    datetime.now(UTC), data) for _ in range(3)]
    racing = run_threads(10, lambda i: consent.enqueue_message(
        db, user.user_id, "nearby_campaign", campaign["campaign_id"], datetime.now(UTC), data))

    assert again == [0, 0, 0] and racing == [0] * 10
    assert db.outbox.count_documents({"user_id": user.user_id}) == 1


def test_a_new_campaign_reaches_the_same_users_again_once_each(db, campaign_setup):
    store, deal = campaign_setup
    user = _opt_in(destination(*LUJIAZUI, 0, 300))

    first, second = _campaign(store, deal).data, _campaign(store, deal).data

    assert first["campaign_id"] != second["campaign_id"]
    assert (first["queued"], second["queued"]) == (1, 1)
    assert db.outbox.count_documents({"user_id": user.user_id}) == 2


def test_a_campaign_for_an_unknown_store_or_deal_is_404(campaign_setup):
    store, deal = campaign_setup

    assert _campaign({"id": "sto_nope"}, deal).status == 404
    assert _campaign(store, {"id": "deal_nope"}).status == 404


@pytest.mark.parametrize("radius_m", [0, 99, 50_001])
def test_a_campaign_radius_out_of_range_is_422(campaign_setup, radius_m):
    assert _campaign(*campaign_setup, radius_m=radius_m).status == 422


def test_only_the_merchant_runs_campaigns(campaign_setup):
    store, deal = campaign_setup
    body = {"store_id": store["id"], "deal_id": deal["id"], "radius_m": 3000, "message": "x"}

    assert new_shopper().call("merchant_nearby_campaign", body).status == 403


# ---- freshness of the cell index -------------------------------------------------------------

def _ids(lat, lng, **payload):
    return [s["id"] for s in stores_near(lat, lng, **payload).data["items"]]


def test_a_store_added_is_found_by_the_next_search():
    assert _ids(*LUJIAZUI) == []

    store = store_at(0, 300)

    assert _ids(*LUJIAZUI) == [store["id"]]


def test_a_store_moved_is_found_where_it_now_is():
    store = store_at(0, 300)
    assert _ids(*LUJIAZUI) == [store["id"]]

    far = destination(*LUJIAZUI, 90, 20_000)
    add_store(*far, store_id=store["id"])

    assert _ids(*LUJIAZUI) == []
    assert _ids(*far, radius_m=10) == [store["id"]]
    near = destination(*LUJIAZUI, 180, 1000)
    add_store(*near, store_id=store["id"])
    items = stores_near(*LUJIAZUI).data["items"]
    assert [(s["id"], s["distance_m"]) for s in items] == [
        (store["id"], pytest.approx(1000, abs=0.1))]


def test_a_store_deactivated_disappears_and_reappears_when_reactivated():
    store, other = store_at(0, 300), store_at(0, 600)
    assert _ids(*LUJIAZUI) == [store["id"], other["id"]]

    add_store(store["lat"], store["lng"], store_id=store["id"], active=False)
    assert _ids(*LUJIAZUI) == [other["id"]]

    add_store(store["lat"], store["lng"], store_id=store["id"], active=True)
    assert _ids(*LUJIAZUI) == [store["id"], other["id"]]


def test_a_warm_instance_reuses_its_index_until_a_store_changes(db):
    store_at(0, 300)
    index = spatial.store_index(db)

    assert spatial.store_index(db) is index
    store_at(0, 600)
    assert spatial.store_index(db) is not index


def test_a_database_started_afresh_is_not_served_the_old_index(db):
    old = store_at(0, 300)
    assert _ids(*LUJIAZUI) == [old["id"]]
    # the stores and their version counter start over (a database wiped and seeded again)
    db.stores.delete_many({})
    db.meta.delete_many({})

    new = store_at(0, 400)

    data = stores_near(*LUJIAZUI).data
    assert ([s["id"] for s in data["items"]], data["total"]) == ([new["id"]], 1)


def test_a_merchant_lists_its_stores_including_inactive_ones():
    active = add_store(*LUJIAZUI, name="A店")
    inactive = add_store(*LUJIAZUI, name="B店", active=False)

    every = merchant("merchant_list_stores").data
    only_active = merchant("merchant_list_stores", {"active": True}).data

    assert [s["id"] for s in every["items"]] == [active["id"], inactive["id"]]
    assert [s["id"] for s in only_active["items"]] == [active["id"]]
