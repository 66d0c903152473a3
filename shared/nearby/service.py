"""Nearby: stores, 附近精选 / 今日特惠 deals by location, pickup, and location consent.

Search: a warm instance keeps an in-memory index of the active stores, rebuilt when the
stores' version (bumped by every store write) changes: the stores sorted into rows of latitude
and by longitude within a row (numpy arrays), so the stores in a circle's bounding box are a
slice per row. A query measures those candidates with the chord between unit vectors, which
is the quantity haversine computes, to ~1e-8 m: a store a margin (PRUNE_MARGIN_M) inside the
radius is counted, one a margin outside is dropped, and the few in between are decided by
geo.haversine_m's own arithmetic. A page then needs the exact distance of only the stores
that can be on it, sorted by (distance, id) exactly as a scan of every store sorts them; the
total, the ids, the order and the distances are what that scan returns, without database geo
operators (mongomock has none). The index also keeps what a store's view shows, so a page of
results reads nothing more. The active deals are kept the same way, by store, rebuilt when the
deals' version changes: every store write must bump the stores' version and every deal write
the deals' version (``bump_stores_version`` / ``bump_deals_version``), or warm instances keep
answering from what they knew.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Optional, Union

from pydantic import AwareDatetime, Field, model_validator

from shared.nearby import geo
from shared.core.common import Input, PageInput, iso, new_id, page_of
from shared.core.events import OrderEvent
from shared.core.errors import ShopError, not_found

SHANGHAI = timezone(timedelta(hours=8))
DEFAULT_RADIUS_M = 3000
MAX_RADIUS_M = 50_000
CONSENT_PRECISION = 5  # a cell of about 4.9 km x 4.9 km: where, not exactly where
STORES_VERSION = "stores_version"
DEALS_VERSION = "deals_version"


# ---- inputs --------------------------------------------------------------------------------

class Point(Input):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class NearbyStoresInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    open_now: bool = False


class NearbyDealsInput(Point, PageInput):
    radius_m: int = Field(default=DEFAULT_RADIUS_M, ge=1, le=MAX_RADIUS_M)
    kind: Optional[Literal["featured", "today_special"]] = None
    category_id: Optional[str] = Field(default=None, max_length=64)


class UpsertStoreInput(Input):
    store_id: Optional[str] = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=50)
    address: str = Field(min_length=1, max_length=200)
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coord_system: Literal["gcj02", "wgs84"] = "gcj02"
    phone: str = Field(default="", max_length=32)
    hours: str = Field(default="00:00-24:00", pattern=r"^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
    tags: list[str] = Field(default_factory=list, max_length=10)
    active: bool = True


class StoreIdInput(Input):
    store_id: str = Field(min_length=1, max_length=64)


class ListStoresInput(PageInput):
    active: Optional[bool] = None


class CreateDealInput(Input):
    store_ids: Union[Literal["all"], list[str]] = Field(min_length=1)
    sku_id: str = Field(min_length=1, max_length=64)
    deal_price: int = Field(ge=1, le=100_000_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    daily_quantity: Optional[int] = Field(default=None, ge=1, le=1_000_000)
    kind: Literal["featured", "today_special"]

    @model_validator(mode="after")
    def ends_after_start(self) -> "CreateDealInput":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if isinstance(self.store_ids, list) and len(self.store_ids) > 1000:
            raise ValueError("at most 1000 stores, or 'all'")
        return self


class ListDealsInput(PageInput):
    store_id: Optional[str] = Field(default=None, max_length=64)


class LocationConsentInput(Input):
    enabled: bool
    lat: Optional[float] = Field(default=None, ge=-90, le=90)
    lng: Optional[float] = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def location_when_enabled(self) -> "LocationConsentInput":
        if self.enabled and (self.lat is None or self.lng is None):
            raise ValueError("lat and lng are needed to opt in")
        return self


class NearbyCampaignInput(Input):
    store_id: str = Field(min_length=1, max_length=64)
    radius_m: int = Field(ge=100, le=MAX_RADIUS_M)
    deal_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=100)


class VerifyPickupInput(Input):
    code: str = Field(pattern=r"^\d{8}$")


# ---- the in-memory search index ------------------------------------------------------------

# what a store's view shows besides its position, kept in the index so that a page of
# results needs no database read (the index is exactly as fresh as its version check)
_VIEW_FIELDS = {"name": 1, "address": 1, "lat": 1, "lng": 1, "phone": 1, "hours": 1,
                "tags": 1, "active": 1}

# The search grid: rows of 1/512 degree of latitude (~217 m), the stores of a row by longitude
# and the rows one after another, under one sort key per store, row * 512 + lng + 180: the
# stores of a row between two longitudes are one slice of the key array, found by binary
# search, so a query's candidates (the stores in its circle's bounding box) cost a binary
# search per row, not a look at every store.
_ROWS_PER_DEGREE = 512
_ROW_KEYS = 512.0  # a row's keys span 360 of these (lng + 180), rows never overlap
_LNG_PAD = 1e-6    # degrees around a row's slice: far more than the key's rounding (< 1e-8)
# What pruning may get wrong, in metres, and never does: a candidate is counted as within
# the radius without haversine_m only when the chord between the unit vectors of the centre
# and the store puts it PRUNE_MARGIN_M inside the radius, left out only when that far
# outside; every store in between is decided by haversine_m's arithmetic. The chord's
# distance 2R asin(c / 2) is the very quantity haversine computes (hav = c^2 / 4); the two
# computations agree to ~1e-8 m anywhere on Earth (poles and antimeridian included), so a
# metre of margin is ~10^8 times what rounding can do. The same margin, doubled, bounds
# which candidates of a page need their exact distance.
PRUNE_MARGIN_M = 1.0
# geohash precisions a circle's cover may use (geo.covering_cells). The search grid above
# replaced the per-precision cells; the exactness tests still put stores on their borders.
INDEX_PRECISIONS = range(3, 8)
_DIAMETER = 2 * geo.EARTH_RADIUS_M
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_HOURS_CAP = 10 ** 9  # beyond any minute of the day: clamping to it keeps every comparison


def _np() -> Any:
    """numpy, imported on the first search (functions that never search do not load it)."""
    import numpy
    return numpy


def _chord2(distance_m: float) -> float:
    """The squared chord (between unit vectors) of a great-circle distance."""
    half_angle = min(max(distance_m, 0.0) / _DIAMETER, math.pi / 2)
    return (2 * math.sin(half_angle)) ** 2


def _metres(chord2: float) -> float:
    """The great-circle distance of a squared chord (the inverse of _chord2)."""
    return _DIAMETER * math.asin(min(1.0, math.sqrt(max(chord2, 0.0)) / 2))


def _unit(lat: float, lng: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lng)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


def _grid_key(lat: float, lng: float) -> float:
    return math.floor((lat + 90.0) * _ROWS_PER_DEGREE) * _ROW_KEYS + (lng + 180.0)


def _ranges(np: Any, starts: Any, ends: Any) -> Any:
    """The concatenation of range(start, end) for each pair (start <= end)."""
    counts = ends - starts
    reached = np.cumsum(counts)
    if not reached.size or not reached[-1]:
        return np.zeros(0, dtype=np.intp)
    return np.repeat(ends - reached, counts) + np.arange(int(reached[-1]), dtype=np.intp)


@dataclass
class _Grid:
    """The stores in grid order (position n), as arrays."""
    keys: Any      # the sort key, ascending
    x: Any         # the unit vector of the store, by coordinate
    y: Any
    z: Any
    # (n, 3): math.radians(lat), its math.cos and lng: the halves of haversine_m that depend
    # on the store alone, worked out at build time with math, float for float
    exact: Any
    hours_ok: Any  # the opening hours parse (else the store is never open, as is_open says)
    opens: Any     # opening hours in minutes (Asia/Shanghai), clamped to +-_HOURS_CAP
    closes: Any
    same_day: Any  # opens <= closes before clamping (else it closes after midnight)


@dataclass
class StoreIndex:
    version: Any = None
    stores: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    views: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # grid position -> store id
    grid: Optional[_Grid] = None

    def reach(self, lat: float, lng: float, radius_m: float) -> tuple[Any, Any]:
        """The grid positions of exactly the stores whose geo.haversine_m distance is within
        the radius (in no order), and their squared chords from the centre."""
        np = _np()
        grid = self.grid
        if grid is None or not self.ids:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        # candidates: the stores in the bounding box of a circle a margin larger
        lat_min, lat_max, lng_min, lng_max = geo.bounding_box(lat, lng, radius_m + PRUNE_MARGIN_M)
        first = math.floor((max(lat_min, -90.0) + 90.0) * _ROWS_PER_DEGREE)
        last = math.floor((min(lat_max, 90.0) + 90.0) * _ROWS_PER_DEGREE)
        if lng_max - lng_min >= 359.0:
            spans = [(-180.0, 180.0)]
        elif lng_min < -180.0:  # across the antimeridian: two slices per row, disjoint
            spans = [(lng_min + 360.0, 180.0), (-180.0, lng_max)]
        elif lng_max > 180.0:
            spans = [(lng_min, 180.0), (-180.0, lng_max - 360.0)]
        else:
            spans = [(lng_min, lng_max)]
        # each row's slices: keys from the west edge (included) to the east edge (excluded)
        edges = np.add.outer(np.arange(first, last + 1) * _ROW_KEYS,
                             [key for west, east in spans
                              for key in (west + 180.0 - _LNG_PAD, east + 180.0 + _LNG_PAD)])
        cuts = np.searchsorted(grid.keys, edges.ravel()).reshape(-1, 2)
        positions = _ranges(np, cuts[:, 0], cuts[:, 1])
        if not positions.size:
            return positions, np.zeros(0)
        qx, qy, qz = _unit(lat, lng)
        chords = ((grid.x.take(positions) - qx) ** 2 + (grid.y.take(positions) - qy) ** 2
                  + (grid.z.take(positions) - qz) ** 2)
        # out by a margin, within by a margin, or decided by haversine_m's arithmetic
        near = chords <= _chord2(radius_m + PRUNE_MARGIN_M)
        positions, chords = positions[near], chords[near]
        inner = _chord2(radius_m - PRUNE_MARGIN_M) if radius_m > PRUNE_MARGIN_M else -1.0
        unsure = np.flatnonzero(chords >= inner)
        if unsure.size:
            out = [n for n, (distance, _) in zip(unsure.tolist(),
                                                 self.distances(lat, lng, positions.take(unsure)))
                   if distance > radius_m]
            if out:
                keep = np.ones(positions.size, dtype=bool)
                keep[out] = False
                positions, chords = positions[keep], chords[keep]
        return positions, chords

    def distances(self, lat: float, lng: float, positions: Any) -> list[tuple[float, str]]:
        """(distance_m, store_id) of the stores at these grid positions, in their order."""
        grid = self.grid
        assert grid is not None
        ids = self.ids
        # geo.haversine_m inlined, operation for operation, so the distances are the same
        # floats a scan calling it computes (same order, same ties, same radius edge)
        radians, sin, asin, sqrt = math.radians, math.sin, math.asin, math.sqrt
        p1 = radians(lat)
        cos_p1 = math.cos(p1)
        diameter = 2 * geo.EARTH_RADIUS_M
        found = []
        for (p2, cos_p2, s_lng), n in zip(grid.exact.take(positions, axis=0).tolist(),
                                          positions.tolist()):
            a = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos_p2 * sin(radians(s_lng - lng) / 2) ** 2
            found.append((diameter * asin(min(1.0, sqrt(a))), ids[n]))
        return found

    def ordered(self, lat: float, lng: float, positions: Any, chords: Any, skip: int = 0,
                limit: Optional[int] = None) -> list[tuple[float, str]]:
        """Of the stores in reach (as ``reach`` gives them), the (distance_m, store_id) of the
        ``limit`` after the first ``skip`` by (distance, id), nearest first: only the stores
        that can be among the first skip + limit get their exact distance."""
        total = positions.size
        if limit is not None:
            if skip >= total:
                return []
            wanted = skip + limit
            if wanted < total:
                np = _np()
                # the wanted-th nearest by the chord is at most a margin further by
                # haversine_m, and no store among the first ``wanted`` is more than a margin
                # further than that by the chord
                kth = float(np.partition(chords, wanted - 1)[wanted - 1])
                positions = positions[chords <= _chord2(_metres(kth) + 2 * PRUNE_MARGIN_M)]
        found = self.distances(lat, lng, positions)
        found.sort()
        return found[skip:] if limit is None else found[skip:skip + limit]

    def open_at(self, positions: Any, now: datetime) -> Any:
        """Which of the stores at these positions are open at ``now`` (as is_open decides)."""
        np = _np()
        grid = self.grid
        assert grid is not None
        current = _minute_of_day(now)
        opens, closes = grid.opens.take(positions), grid.closes.take(positions)
        open_now = np.where(grid.same_day.take(positions),
                            (opens <= current) & (current < closes),
                            (current >= opens) | (current < closes))
        return open_now & grid.hours_ok.take(positions)

    def nearest(self, lat: float, lng: float, radius_m: float, skip: int = 0,
                limit: Optional[int] = None, open_at: Optional[datetime] = None) \
            -> tuple[int, list[tuple[float, str]]]:
        """How many stores are within the radius (and open at ``open_at`` if given), and the
        (distance_m, store_id) of ``limit`` of them after the first ``skip``, nearest first
        (ties by id), with the exact distance of geo.haversine_m."""
        positions, chords = self.reach(lat, lng, radius_m)
        if open_at is not None and positions.size:
            keep = self.open_at(positions, open_at)
            positions, chords = positions[keep], chords[keep]
        return int(positions.size), self.ordered(lat, lng, positions, chords, skip, limit)

    def within(self, lat: float, lng: float, radius_m: float) -> list[tuple[float, str]]:
        """(distance_m, store_id) of every store within the radius, nearest first."""
        return self.nearest(lat, lng, radius_m)[1]

    def view(self, store_id: str) -> dict[str, Any]:
        """The store's document as store_view reads it."""
        name, address, phone, hours, tags, active = self.views[store_id]
        lat, lng, _ = self.stores[store_id]
        return {"_id": store_id, "name": name, "address": address, "lat": lat, "lng": lng,
                "phone": phone, "hours": hours, "tags": list(tags), "active": active}


_index = StoreIndex()
_index_lock = threading.Lock()


def _stores_version(db: Any) -> Any:
    doc = db.meta.find_one({"_id": STORES_VERSION})
    return (doc["v"], doc.get("token")) if doc else 0


def _versions(db: Any) -> tuple[Any, Any]:
    """The stores' and the deals' versions, in one read."""
    versions = {d["_id"]: (d["v"], d.get("token"))
                for d in db.meta.find({"_id": {"$in": [STORES_VERSION, DEALS_VERSION]}})}
    return versions.get(STORES_VERSION, 0), versions.get(DEALS_VERSION, 0)


def bump_stores_version(db: Any) -> None:
    # a random token with the counter: a counter alone repeats when the database starts over
    # (wiped and seeded again, or a fresh test database at a reused id()), and a warm
    # instance would then keep serving the old stores as if nothing had changed
    db.meta.update_one({"_id": STORES_VERSION},
                       {"$inc": {"v": 1}, "$set": {"token": new_id("stv")}}, upsert=True)


def store_index(db: Any, stores_version: Any = None) -> StoreIndex:
    """The search index of this warm instance, rebuilt when a store changed anywhere
    (``stores_version``: the version already read, else it is read here)."""
    global _index
    version = (id(db), _stores_version(db) if stores_version is None else stores_version)
    if _index.version == version:
        return _index
    with _index_lock:
        if _index.version != version:
            _index = _build_store_index(db, version)
    return _index


def _build_store_index(db: Any, version: Any) -> StoreIndex:
    np = _np()
    fresh = StoreIndex(version=version)
    for doc in db.stores.find({"active": True}, _VIEW_FIELDS):
        store_id = doc["_id"]
        fresh.stores[store_id] = (doc["lat"], doc["lng"], doc.get("hours", ""))
        fresh.views[store_id] = (doc["name"], doc["address"], doc.get("phone", ""),
                                 doc.get("hours", ""), tuple(doc.get("tags", [])),
                                 doc.get("active", True))
    order = sorted((_grid_key(lat, lng), store_id)
                   for store_id, (lat, lng, _) in fresh.stores.items())
    fresh.ids = [store_id for _, store_id in order]
    places = [fresh.stores[store_id] for store_id in fresh.ids]
    lats = [float(lat) for lat, _, _ in places]
    lngs = [float(lng) for _, lng, _ in places]
    exact = [(p2, math.cos(p2), lng) for p2, lng in zip(map(math.radians, lats), lngs)]
    hours = [_opening_minutes(h) for _, _, h in places]
    phi, lam = np.radians(np.array(lats)), np.radians(np.array(lngs))
    fresh.grid = _Grid(
        keys=np.array([key for key, _ in order], dtype=np.float64),
        x=np.cos(phi) * np.cos(lam), y=np.cos(phi) * np.sin(lam), z=np.sin(phi),
        exact=np.array(exact, dtype=np.float64).reshape(-1, 3),
        hours_ok=np.array([h is not None for h in hours], dtype=bool),
        opens=np.array([_clamp_minutes(h[0]) if h else 0 for h in hours], dtype=np.int64),
        closes=np.array([_clamp_minutes(h[1]) if h else 0 for h in hours], dtype=np.int64),
        same_day=np.array([bool(h) and h[0] <= h[1] for h in hours], dtype=bool))
    return fresh


@dataclass
class _DealTable:
    """What decides whether a deal is shown, per deal number (DealIndex.deals), as arrays."""
    starts: Any      # microseconds since the epoch
    ends: Any
    kind: Any        # codes of deal.get("kind") / deal.get("category_id"), see kinds/categories
    category: Any
    everywhere: Any  # runs at every store
    kinds: dict[Any, int]
    categories: dict[Any, int]


@dataclass
class DealIndex:
    """The active deals of this warm instance, by the store they run at."""
    version: Any = None
    everywhere: list[dict[str, Any]] = field(default_factory=list)  # for all stores
    by_store: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)  # every one once: its number
    numbers_by_store: dict[str, list[int]] = field(default_factory=dict)
    table: Optional[_DealTable] = None
    # (the store index they were made for, first link, link count per grid position, and
    # the deal numbers of the links): which deals run at the store at each grid position
    links: Optional[tuple[Any, ...]] = None

    def shown(self, now: datetime, kind: Optional[str], category_id: Optional[str]) -> Any:
        """Which deals are on now and of the kind and category asked for (if asked)."""
        table = self.table
        assert table is not None
        at = _micros(now)
        mask = (table.starts <= at) & (at < table.ends)
        for wanted, codes, column in ((kind, table.kinds, table.kind),
                                      (category_id, table.categories, table.category)):
            if wanted:
                code = codes.get(wanted)
                mask &= (column == code) if code is not None else False
        return mask

    def links_for(self, index: StoreIndex) -> tuple[Any, Any, Any]:
        links = self.links
        if links is None or links[0] is not index:
            np = _np()
            position = {store_id: n for n, store_id in enumerate(index.ids)}
            pairs = sorted((position[store_id], number)
                           for store_id, numbers in self.numbers_by_store.items()
                           if store_id in position for number in numbers)
            at = np.array([p for p, _ in pairs], dtype=np.intp)
            counts = np.bincount(at, minlength=len(index.ids)).astype(np.intp)
            links = (index, np.cumsum(counts) - counts, counts,
                     np.array([number for _, number in pairs], dtype=np.intp))
            self.links = links  # the same for every thread that makes it: no lock needed
        return links[1], links[2], links[3]


_deal_index = DealIndex()
_deal_index_lock = threading.Lock()


def bump_deals_version(db: Any) -> None:
    db.meta.update_one({"_id": DEALS_VERSION},
                       {"$inc": {"v": 1}, "$set": {"token": new_id("dlv")}}, upsert=True)


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: ordered exactly as the datetimes compare."""
    return (moment - (_EPOCH if moment.tzinfo is not None else _EPOCH_NAIVE)) // _MICROSECOND


def deal_index(db: Any, versions: Optional[tuple[Any, Any]] = None) -> DealIndex:
    """The deals index, rebuilt when a deal changed anywhere; whether a deal is on now (and
    matches the kind and category asked for) is decided per query. ``versions``: the
    stores' and deals' versions already read (_versions), else they are read here."""
    global _deal_index
    stores_version, deals_version = _versions(db) if versions is None else versions
    # the stores' version too: a deal shows at stores, so a store change rebuilds it
    version = (id(db), stores_version, deals_version)
    if _deal_index.version == version:
        return _deal_index
    with _deal_index_lock:
        if _deal_index.version != version:
            _deal_index = _build_deal_index(db, version)
    return _deal_index


def _build_deal_index(db: Any, version: Any) -> DealIndex:
    np = _np()
    fresh = DealIndex(version=version)
    kinds: dict[Any, int] = {}
    categories: dict[Any, int] = {}
    starts, ends, kind, category, everywhere = [], [], [], [], []
    for deal in db.deals.find({"active": True}):
        if not (isinstance(deal.get("starts_at"), datetime)
                and isinstance(deal.get("ends_at"), datetime)):
            continue  # never on: a query for it by time would not match it either
        number = len(fresh.deals)
        fresh.deals.append(deal)
        starts.append(_micros(deal["starts_at"]))
        ends.append(_micros(deal["ends_at"]))
        kind.append(kinds.setdefault(deal.get("kind"), len(kinds)))
        category.append(categories.setdefault(deal.get("category_id"), len(categories)))
        everywhere.append(bool(deal.get("all_stores")))
        if deal.get("all_stores"):
            fresh.everywhere.append(deal)
            continue
        for store_id in set(deal.get("store_ids") or ()):
            fresh.by_store.setdefault(store_id, []).append(deal)
            fresh.numbers_by_store.setdefault(store_id, []).append(number)
    fresh.table = _DealTable(
        starts=np.array(starts, dtype=np.int64), ends=np.array(ends, dtype=np.int64),
        kind=np.array(kind, dtype=np.intp), category=np.array(category, dtype=np.intp),
        everywhere=np.array(everywhere, dtype=bool), kinds=kinds, categories=categories)
    return fresh


def _opening_minutes(hours: str) -> Optional[tuple[int, int]]:
    """(opens, closes) in minutes of ``HH:MM-HH:MM``, or None when it does not parse."""
    try:
        start, end = hours.split("-")
        return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])
    except (ValueError, IndexError, AttributeError, TypeError):
        return None


def _clamp_minutes(minutes: int) -> int:
    # compared only with a minute of the day (0..1439): the comparisons come out the same
    return max(-_HOURS_CAP, min(_HOURS_CAP, minutes))


def _minute_of_day(now: datetime) -> int:
    minute = now.astimezone(SHANGHAI)
    return minute.hour * 60 + minute.minute


def is_open(hours: str, now: datetime) -> bool:
    """Whether ``HH:MM-HH:MM`` (Asia/Shanghai, may cross midnight) includes ``now``."""
    minutes = _opening_minutes(hours)
    if minutes is None:
        return False
    opens, closes = minutes
    current = _minute_of_day(now)
    if opens <= closes:
        return opens <= current < closes
    return current >= opens or current < closes


# ---- views ---------------------------------------------------------------------------------

def store_view(doc: dict[str, Any], distance: Optional[float] = None,
               now: Optional[datetime] = None) -> dict[str, Any]:
    view = {"id": doc["_id"], "name": doc["name"], "address": doc["address"],
            "lat": doc["lat"], "lng": doc["lng"], "phone": doc.get("phone", ""),
            "hours": doc.get("hours", ""), "tags": doc.get("tags", []),
            "active": doc.get("active", True)}
    if now is not None:
        view["open_now"] = is_open(view["hours"], now)
    if distance is not None:
        view["distance_m"] = round(distance, 1)
    return view


# ---- shopper actions -----------------------------------------------------------------------

def nearby_stores(ctx: Any, req: NearbyStoresInput) -> dict[str, Any]:
    index = store_index(ctx.db)
    total, page = index.nearest(req.lat, req.lng, req.radius_m, req.skip, req.page_size,
                                open_at=ctx.now if req.open_now else None)
    items = [store_view(index.view(s), d, ctx.now) for d, s in page]
    return page_of(items, total, req)


def local_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def _sold_today(db: Any, deal_ids: list[str], day: str) -> dict[str, int]:
    if not deal_ids:
        return {}
    keys = [f"{deal_id}:{day}" for deal_id in deal_ids]
    return {d["deal_id"]: d["sold"] for d in db.deal_daily.find({"_id": {"$in": keys}})}


def _deal_rows(index: StoreIndex, deals: DealIndex, req: NearbyDealsInput, now: datetime) \
        -> tuple[int, list[tuple[Any, ...]]]:
    """How many deals are shown, and the rows (distance, -discount, deal id, store id, deal)
    of the page: each deal on now (of the kind and category asked for) that runs at a store in
    reach, at the nearest such store (ties by store id), sorted by distance, then deepest
    discount, then id. Only the deals that can be on the page get exact distances."""
    np = _np()
    positions, chords = index.reach(req.lat, req.lng, req.radius_m)
    if not positions.size:
        return 0, []
    shown = deals.shown(now, req.kind, req.category_id)
    first_link, link_count, linked = deals.links_for(index)
    # the (deal, store) links of the stores in reach, of the deals shown
    counts = link_count.take(positions)
    with_deals = np.flatnonzero(counts)
    counts = counts.take(with_deals)
    starts = first_link.take(positions.take(with_deals))
    link_deal = linked.take(_ranges(np, starts, starts + counts))
    link_store = np.repeat(positions.take(with_deals), counts)
    link_chord = np.repeat(chords.take(with_deals), counts)
    keep = shown.take(link_deal)
    link_deal, link_store, link_chord = link_deal[keep], link_store[keep], link_chord[keep]
    # each deal's nearest store in reach by the chord; the deals for every store are at the
    # nearest store in reach
    order = np.lexsort((link_chord, link_deal))
    by_deal = link_deal.take(order)
    head = np.ones(by_deal.size, dtype=bool)
    head[1:] = by_deal[1:] != by_deal[:-1]
    everywhere = np.flatnonzero(shown & deals.table.everywhere)  # type: ignore[union-attr]
    numbers = np.concatenate([by_deal[head], everywhere])
    approx = np.concatenate([link_chord.take(order)[head],
                             np.full(everywhere.size, chords.min())])
    total = int(numbers.size)
    if req.skip >= total:
        return total, []
    wanted = req.skip + req.page_size
    if wanted < total:
        # as for stores (StoreIndex.ordered): no deal among the first ``wanted`` is more than
        # two margins further by the chord than the wanted-th nearest by the chord
        kth = float(np.partition(approx, wanted - 1)[wanted - 1])
        numbers = numbers[approx <= _chord2(_metres(kth) + 2 * PRUNE_MARGIN_M)]
    picked = np.zeros(len(deals.deals), dtype=bool)
    picked[numbers] = True
    # the exact distance of every store in reach of the picked deals: the nearest decides
    links = picked.take(link_deal)
    link_deal, link_store = link_deal[links], link_store[links]
    stores = np.unique(link_store)
    distance_of = dict(zip(stores.tolist(), index.distances(req.lat, req.lng, stores)))
    nearest: dict[int, tuple[float, str]] = {}
    for number, position in zip(link_deal.tolist(), link_store.tolist()):
        candidate = distance_of[position]
        if number not in nearest or candidate < nearest[number]:
            nearest[number] = candidate
    everywhere_at = None
    if picked.take(everywhere).any():
        everywhere_at = index.ordered(req.lat, req.lng, positions, chords, 0, 1)[0]
    rows = []
    for number in numbers.tolist():
        deal = deals.deals[number]
        distance, store_id = nearest.get(number) or everywhere_at  # type: ignore[misc]
        discount = 1 - deal["deal_price"] / max(deal["original_price"], 1)
        rows.append((distance, -discount, deal["_id"], store_id, deal))
    rows.sort(key=lambda r: r[:3])
    return total, rows[req.skip:wanted]


def nearby_deals(ctx: Any, req: NearbyDealsInput) -> dict[str, Any]:
    """Each live deal once, at its nearest store in reach; nearest first, then deepest discount."""
    versions = _versions(ctx.db)
    index = store_index(ctx.db, versions[0])
    deals = deal_index(ctx.db, versions)
    total, page = _deal_rows(index, deals, req, ctx.now)
    # only the counters the page shows: a deal with no daily quantity has none to read
    sold = _sold_today(ctx.db, [r[2] for r in page if r[4].get("daily_quantity") is not None],
                       local_day(ctx.now))
    items = []
    for distance, _, deal_id, store_id, deal in page:
        remaining = None if deal.get("daily_quantity") is None else \
            max(0, deal["daily_quantity"] - sold.get(deal_id, 0))
        items.append({**deal_view(deal), "distance_m": round(distance, 1),
                      "store": store_view(index.view(store_id), distance, ctx.now),
                      "remaining_today": remaining})
    return page_of(items, total, req)


def deal_view(deal: dict[str, Any]) -> dict[str, Any]:
    return {"id": deal["_id"], "kind": deal["kind"], "sku_id": deal["sku_id"],
            "product": {"id": deal["product_id"], "title": deal["title"],
                        "image": deal.get("image", ""), "category_id": deal.get("category_id")},
            "deal_price": deal["deal_price"], "original_price": deal["original_price"],
            "daily_quantity": deal.get("daily_quantity"),
            "store_ids": "all" if deal.get("all_stores") else list(deal["store_ids"]),
            "starts_at": iso(deal["starts_at"]), "ends_at": iso(deal["ends_at"])}


def set_location_consent(ctx: Any, req: LocationConsentInput) -> dict[str, Any]:
    """Opt in to nearby offers (only a ~5 km cell is kept) or withdraw (nothing is kept)."""
    if req.enabled:
        cell = geo.encode(req.lat, req.lng, CONSENT_PRECISION)  # type: ignore[arg-type]
        ctx.db.users.update_one({"_id": ctx.user_id}, {"$set": {
            "nearby": {"enabled": True, "cell": cell, "updated_at": ctx.now}}})
        return {"enabled": True, "cell": cell}
    ctx.db.users.update_one({"_id": ctx.user_id}, {"$unset": {"nearby": ""}})
    return {"enabled": False, "cell": None}


# ---- merchant actions ----------------------------------------------------------------------

def upsert_store(ctx: Any, req: UpsertStoreInput) -> dict[str, Any]:
    lat, lng = req.lat, req.lng
    if req.coord_system == "wgs84":
        lat, lng = geo.wgs84_to_gcj02(lat, lng)
    store_id = req.store_id or new_id("sto")
    fields = {"name": req.name, "address": req.address, "lat": lat, "lng": lng,
              "coord_system": "gcj02", "geohash": geo.encode(lat, lng, 9), "phone": req.phone,
              "hours": req.hours, "tags": req.tags, "active": req.active, "updated_at": ctx.now}
    ctx.db.stores.update_one({"_id": store_id},
                             {"$set": fields, "$setOnInsert": {"created_at": ctx.now}},
                             upsert=True)
    bump_stores_version(ctx.db)
    return store_view({"_id": store_id, **fields}, now=ctx.now)


def merchant_list_stores(ctx: Any, req: ListStoresInput) -> dict[str, Any]:
    query = {} if req.active is None else {"active": req.active}
    docs = ctx.db.stores.find(query).sort([("name", 1), ("_id", 1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([store_view(d, now=ctx.now) for d in docs],
                   ctx.db.stores.count_documents(query), req)


def create_deal(ctx: Any, req: CreateDealInput) -> dict[str, Any]:
    sku = ctx.db.skus.find_one({"_id": req.sku_id, "active": True})
    if sku is None:
        raise not_found("sku")
    if req.deal_price >= sku["price"]:
        raise ShopError("VALIDATION_ERROR", "a deal must cost less than the SKU's price",
                        {"fields": [{"field": "deal_price", "message": "not below the price",
                                     "type": "not_a_discount"}]})
    all_stores = req.store_ids == "all"
    store_ids = [] if all_stores else sorted(set(req.store_ids))
    if store_ids:
        known = {s["_id"] for s in ctx.db.stores.find({"_id": {"$in": store_ids}}, {"_id": 1})}
        missing = [s for s in store_ids if s not in known]
        if missing:
            raise ShopError("NOT_FOUND", "store not found", {"resource": "store",
                                                             "store_ids": missing[:20]})
    product = ctx.db.products.find_one({"_id": sku["product_id"]},
                                       {"title": 1, "images": 1, "category_id": 1})
    deal = {"_id": new_id("deal"), "all_stores": all_stores, "store_ids": store_ids,
            "sku_id": req.sku_id, "product_id": sku["product_id"], "title": product["title"],
            "image": sku.get("image") or (product.get("images") or [""])[0],
            "category_id": product["category_id"], "deal_price": req.deal_price,
            "original_price": sku["price"], "starts_at": req.starts_at, "ends_at": req.ends_at,
            "daily_quantity": req.daily_quantity, "kind": req.kind, "active": True,
            "created_at": ctx.now}
    ctx.db.deals.insert_one(deal)
    bump_deals_version(ctx.db)
    return deal_view(deal)


def merchant_list_deals(ctx: Any, req: ListDealsInput) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if req.store_id:
        query["$or"] = [{"all_stores": True}, {"store_ids": req.store_id}]
    docs = ctx.db.deals.find(query).sort([("created_at", -1), ("_id", -1)]).skip(req.skip) \
        .limit(req.page_size)
    return page_of([deal_view(d) for d in docs], ctx.db.deals.count_documents(query), req)


def _cells_in_reach(lat: float, lng: float, radius_m: int) -> list[str]:
    """Consent cells any part of which may lie within the radius of the store."""
    _, cells = geo.covering_cells(lat, lng, radius_m, [CONSENT_PRECISION])
    height, width = geo._CELL_DEGREES[CONSENT_PRECISION]
    half_diagonal = geo.haversine_m(0, 0, height / 2, width / 2)
    reach = []
    for cell in cells:
        c_lat, c_lng = cell_center(cell)
        if geo.haversine_m(lat, lng, c_lat, c_lng) <= radius_m + half_diagonal:
            reach.append(cell)
    return sorted(reach)


def cell_center(cell: str) -> tuple[float, float]:
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in cell:
        bits = geo._BASE32.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bit else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2


def nearby_campaign(ctx: Any, req: NearbyCampaignInput) -> dict[str, Any]:
    """Queue one subscribe message per opted-in user in reach of the store, once per campaign."""
    store = ctx.db.stores.find_one({"_id": req.store_id})
    if store is None:
        raise not_found("store")
    deal = ctx.db.deals.find_one({"_id": req.deal_id})
    if deal is None:
        raise not_found("deal")
    campaign_id = new_id("ncp")
    cells = _cells_in_reach(store["lat"], store["lng"], req.radius_m)
    queued = 0
    for user in ctx.db.users.find({"nearby.enabled": True, "nearby.cell": {"$in": cells}},
                                  {"_id": 1}):
        queued += enqueue_message(ctx.db, user["_id"], "nearby_campaign", campaign_id, ctx.now,
                                  {"message": req.message, "store_id": store["_id"],
                                   "deal_id": deal["_id"],
                                   "page": f"packages/nearby/pages/deals/deals?store_id={store['_id']}"})
    ctx.db.nearby_campaigns.insert_one({"_id": campaign_id, "store_id": store["_id"],
                                        "deal_id": deal["_id"], "radius_m": req.radius_m,
                                        "message": req.message, "cells": cells,
                                        "queued": queued, "created_at": ctx.now})
    return {"campaign_id": campaign_id, "queued": queued, "cells": len(cells)}


def enqueue_message(db: Any, user_id: str, purpose: str, occasion: str, now: datetime,
                    data: dict[str, Any]) -> int:
    """Put one message in the outbox; the key (purpose, occasion, user) makes it once only."""
    from shared.messaging.outbox import enqueue
    return int(enqueue(db, user_id, purpose, occasion, now, data=data, page=data.get("page", "")))


# ---- deals in orders, and pickup -----------------------------------------------------------

def deal_for_order(db: Any, deal_id: str, sku_ids: list[str], store_id: Optional[str],
                   now: datetime) -> dict[str, Any]:
    deal = db.deals.find_one({"_id": deal_id, "active": True})
    if deal is None:
        raise not_found("deal")
    if not deal["starts_at"] <= now < deal["ends_at"]:
        raise ShopError("INVALID_STATE", "the deal is not on now", {"deal_id": deal_id})
    if deal["sku_id"] not in sku_ids:
        raise ShopError("VALIDATION_ERROR", "the deal's SKU is not in the order",
                        {"fields": [{"field": "deal_id", "message": "SKU not ordered",
                                     "type": "deal_sku_missing"}]})
    if store_id and not deal.get("all_stores") and store_id not in deal["store_ids"]:
        raise ShopError("VALIDATION_ERROR", "the deal does not run at that store",
                        {"fields": [{"field": "store_id", "message": "not in the deal",
                                     "type": "deal_store"}]})
    return deal


def take_daily_quantity(db: Any, deal: dict[str, Any], quantity: int, now: datetime) -> str:
    """Count units against today's quantity (Asia/Shanghai day) atomically; the day key."""
    from shared.core.db import duplicate_key_error
    day = local_day(now)
    limit = deal.get("daily_quantity")
    key = f"{deal['_id']}:{day}"
    if limit is None:
        db.deal_daily.update_one({"_id": key}, {"$inc": {"sold": quantity},
                                                "$setOnInsert": {"deal_id": deal["_id"]}},
                                 upsert=True)
        return key
    if quantity > limit:
        raise ShopError("OUT_OF_STOCK", "more than the deal sells in a day",
                        {"deal_id": deal["_id"], "available": limit})
    query = {"_id": key, "sold": {"$lte": limit - quantity}}
    update = {"$inc": {"sold": quantity}, "$setOnInsert": {"deal_id": deal["_id"]}}
    try:
        # full: the filter misses, the upsert collides on _id and is refused
        db.deal_daily.update_one(query, update, upsert=True)
    except duplicate_key_error():
        # or not full: a concurrent first order of the day created the counter between our
        # match and our insert (a server does not retry an upsert whose filter is more than
        # the _id); the counter exists now, so a plain conditional update decides
        if db.deal_daily.update_one(query, update).modified_count == 0:
            sold = (db.deal_daily.find_one({"_id": key}) or {}).get("sold", 0)
            raise ShopError("OUT_OF_STOCK", "the deal is sold out for today",
                            {"deal_id": deal["_id"], "available": max(0, limit - sold)}) \
                from None
    return key


def give_back_daily_quantity(db: Any, key: str, quantity: int) -> None:
    db.deal_daily.update_one({"_id": key}, {"$inc": {"sold": -quantity}})


def on_order_released(db: Any, event: OrderEvent) -> None:
    """An unpaid deal order was cancelled (or its placement cut short): today's units come
    back, once; the mark on the order comes first, so a repeat finds nothing to return."""
    deal = event.order.get("deal") or {}
    if not deal.get("day_key"):
        return
    marked = db.orders.update_one({"_id": event.order["_id"], "deal.returned": {"$ne": True}},
                                  {"$set": {"deal.returned": True}})
    if marked.modified_count:
        give_back_daily_quantity(db, deal["day_key"], deal["quantity"])


def pickup_store(db: Any, store_id: str) -> dict[str, Any]:
    store = db.stores.find_one({"_id": store_id, "active": True})
    if store is None:
        raise not_found("store")
    return store


def verify_pickup(ctx: Any, req: VerifyPickupInput) -> dict[str, Any]:
    """The merchant scans the shopper's code at the store: the paid order is collected."""
    from pymongo import ReturnDocument
    from shared.orders.lifecycle import order_view
    order = ctx.db.orders.find_one_and_update(
        {"pickup.code": req.code, "status": "paid"},
        {"$set": {"status": "completed", "completed_at": ctx.now, "pickup.picked_up_at": ctx.now}},
        return_document=ReturnDocument.AFTER)
    if order is None:
        known = ctx.db.orders.find_one({"pickup.code": req.code}, {"status": 1})
        if known is None:
            raise not_found("pickup code")
        raise ShopError("INVALID_STATE", f"the order is {known['status']}",
                        {"status": known["status"]})
    return order_view(order, merchant=True)
