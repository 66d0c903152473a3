"""DealIndex.page (the array path of nearby_deals) against a scan of every store and every deal:
the same total and the same rows, page by page, with ties everywhere a scan breaks them (stores
at one distance by store id, deals at one distance and discount by deal id)."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from shared.nearby import geo
from shared.nearby.grid import StoreIndex
from shared.nearby.spatial import DealIndex

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
CENTRE = (31.25, 121.5)  # both exact in binary: stores at lng 121.5 +- d tie exactly


def store(store_id, lat, lng):
    return {"_id": store_id, "name": store_id, "address": "上海市", "lat": lat, "lng": lng,
            "phone": "", "hours": "00:00-24:00", "tags": [], "active": True}


def deal(deal_id, stores, price, original=1000, kind="featured", category="c1", on=True):
    starts = NOW - timedelta(days=1) if on else NOW + timedelta(hours=1)
    return {"_id": deal_id, "all_stores": stores == "all",
            "store_ids": [] if stores == "all" else stores, "deal_price": price,
            "original_price": original, "kind": kind, "category_id": category,
            "starts_at": starts, "ends_at": NOW + timedelta(days=1), "active": True}


def brute(stores, deals, lat, lng, radius_m, kind=None, category=None):
    """Every store's haversine distance, each live deal at its nearest (distance, store id)."""
    reach = sorted((geo.haversine_m(lat, lng, s["lat"], s["lng"]), s["_id"]) for s in stores)
    reach = [r for r in reach if r[0] <= radius_m]
    rows = []
    for d in deals:
        if not d["starts_at"] <= NOW < d["ends_at"] or (kind and d["kind"] != kind) \
                or (category and d["category_id"] != category):
            continue
        at = [r for r in reach if d["all_stores"] or r[1] in d["store_ids"]]
        if at:
            discount = 1 - d["deal_price"] / max(d["original_price"], 1)
            rows.append((at[0][0], -discount, d["_id"], at[0][1]))
    return sorted(rows)


def page_rows(index, deals, lat, lng, radius_m, skip, limit, kind=None, category=None):
    total, rows = deals.page(index, lat, lng, radius_m, NOW, kind, category, skip, limit)
    return total, [(r[0], r[1], r[2], r[3]) for r in rows]


def test_ties_go_by_store_id_then_deal_id_even_against_grid_order():
    lat, lng = CENTRE
    # east and west at exactly one distance; the east one sorts later in the grid (its key is
    # larger) but first by id, so a tie must follow the id, not the grid position
    stores = [store("s_b_west", lat, lng - 0.25), store("s_a_east", lat, lng + 0.25),
              store("s_c_far", lat + 0.3, lng)]
    index = StoreIndex.from_documents(stores)
    docs = [deal("d_both", ["s_b_west", "s_a_east"], 500),
            deal("d_z_same", ["s_b_west"], 700), deal("d_y_same", ["s_a_east"], 700),
            deal("d_all", "all", 700), deal("d_far", ["s_c_far"], 100),
            deal("d_later", ["s_a_east"], 100, on=False)]
    expected = brute(stores, docs, lat, lng, 50_000)
    assert [r[2] for r in expected] == ["d_both", "d_all", "d_y_same", "d_z_same", "d_far"]
    assert expected[0][3] == "s_a_east"
    deals = DealIndex.from_documents(docs)
    assert page_rows(index, deals, lat, lng, 50_000, 0, 20) == (5, expected)
    for skip in range(6):
        assert page_rows(index, deals, lat, lng, 50_000, skip, 1) == (5, expected[skip:skip + 1])


@pytest.mark.parametrize("seed", range(12))
def test_every_page_equals_a_scan_of_every_store_and_deal(seed):
    rng = random.Random(seed)
    lat, lng = CENTRE
    stores = []
    for n in range(rng.choice([30, 200, 600])):
        if stores and rng.random() < 0.1:  # the same building: ties by store id
            other = rng.choice(stores)
            stores.append(store(f"s{rng.randrange(10**6):06d}_{n}", other["lat"], other["lng"]))
        else:
            stores.append(store(f"s{rng.randrange(10**6):06d}_{n}", lat + rng.gauss(0, 0.03),
                                lng + rng.gauss(0, 0.03)))
    ids = [s["_id"] for s in stores]
    docs = []
    for n in range(rng.choice([5, 60, 300])):
        where = "all" if rng.random() < 0.05 else rng.sample(ids, rng.choice([1, 2, 5, 20]))
        docs.append(deal(f"d{rng.randrange(10**6):06d}_{n}", where,
                         rng.choice([100, 250, 500, 500, 900]), rng.choice([1000, 1000, 2000]),
                         rng.choice(["featured", "today_special"]), rng.choice(["c1", "c2"]),
                         on=rng.random() > 0.1))
    index = StoreIndex.from_documents(stores)
    deals = DealIndex.from_documents(docs)
    for _ in range(6):
        q_lat, q_lng = lat + rng.gauss(0, 0.02), lng + rng.gauss(0, 0.02)
        radius = rng.choice([300, 1000, 3000, 50_000])
        kind = rng.choice([None, None, "featured"])
        category = rng.choice([None, None, "c2"])
        expected = brute(stores, docs, q_lat, q_lng, radius, kind, category)
        for skip, limit in ((0, 20), (0, 3), (3, 3), (20, 20), (len(expected), 5)):
            assert page_rows(index, deals, q_lat, q_lng, radius, skip, limit, kind, category) \
                == (len(expected), expected[skip:skip + limit])
