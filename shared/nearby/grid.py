"""The store search grid: the active stores sorted into rows of latitude and by longitude
within a row (numpy arrays), so the stores in a circle's bounding box are a slice per row.

A query measures those candidates with the chord between unit vectors, which is the quantity
haversine computes, to ~1e-8 m: a store a margin (PRUNE_MARGIN_M) inside the radius is counted,
one a margin outside is dropped, and the few in between are decided by geo.haversine_m's own
arithmetic. A page then needs the exact distance of only the stores that can be on it, sorted
by (distance, id) exactly as a scan of every store sorts them; the total, the ids, the order
and the distances are what that scan returns, without database geo operators (mongomock has
none). The index also keeps what a store's view shows, so a page of results reads nothing
more. Pure computation: the documents come in (``StoreIndex.from_documents``), nothing here
reads the database; ``shared.nearby.spatial`` keeps one per warm instance.

numpy is imported on the first search (``load_numpy``): functions that never search, and
cold starts, do not load it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

from shared.nearby import geo
from shared.nearby.hours import clamp_minutes, minute_of_day, opening_minutes

# what a store's view shows besides its position, kept in the index so that a page of
# results needs no database read (the index is exactly as fresh as its version check)
VIEW_FIELDS = {"name": 1, "address": 1, "lat": 1, "lng": 1, "phone": 1, "hours": 1,
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


def load_numpy() -> Any:
    """numpy, imported on the first search (functions that never search do not load it)."""
    import numpy
    return numpy


def chord2(distance_m: float) -> float:
    """The squared chord (between unit vectors) of a great-circle distance."""
    half_angle = min(max(distance_m, 0.0) / _DIAMETER, math.pi / 2)
    return (2 * math.sin(half_angle)) ** 2


def metres(squared_chord: float) -> float:
    """The great-circle distance of a squared chord (the inverse of chord2)."""
    return _DIAMETER * math.asin(min(1.0, math.sqrt(max(squared_chord, 0.0)) / 2))


def _unit(lat: float, lng: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lng)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


def _grid_key(lat: float, lng: float) -> float:
    return math.floor((lat + 90.0) * _ROWS_PER_DEGREE) * _ROW_KEYS + (lng + 180.0)


def ranges(np: Any, starts: Any, ends: Any) -> Any:
    """The concatenation of range(start, end) for each pair (start <= end)."""
    counts = ends - starts
    reached = np.cumsum(counts)
    if not reached.size or not reached[-1]:
        return np.zeros(0, dtype=np.intp)
    return np.repeat(ends - reached, counts) + np.arange(int(reached[-1]), dtype=np.intp)


def ranks(ids: list[str]) -> Any:
    """The rank of each id among these ids in Python's string order (as a scan's ties go)."""
    np = load_numpy()
    rank = np.empty(len(ids), dtype=np.intp)
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids), dtype=np.intp)
    return rank


@dataclass
class GridArrays:
    """The stores in grid order (position n), as arrays."""
    keys: Any      # the sort key, ascending
    x: Any         # the unit vector of the store, by coordinate
    y: Any
    z: Any
    # (n, 3): math.radians(lat), its math.cos and lng: the halves of haversine_m that depend
    # on the store alone, worked out at build time with math, float for float
    exact: Any
    hours_ok: Any  # the opening hours parse (else the store is never open, as is_open says)
    opens: Any     # opening hours in minutes (Asia/Shanghai), clamped to +-hours.HOURS_CAP
    closes: Any
    same_day: Any  # opens <= closes before clamping (else it closes after midnight)


@dataclass
class StoreViews:
    """What the stores' views show, compactly, by grid position: 100,000 stores as dicts of
    tuples of strings took ~60 MB; as one packed string per store (name, address, phone), the
    repeated opening hours and tag lists once each, and the positions as arrays, a third."""
    packed: list[bytes]  # UTF-8 of f"{len(name)},{len(address)},{name}{address}{phone}"
    lat: Any           # the stored coordinates, as given
    lng: Any
    hours_code: Any    # into hours
    tags_code: Any     # into tags
    hours: list[str]
    tags: list[tuple[str, ...]]


def _pack(doc: dict[str, Any]) -> bytes:
    # UTF-8: a Chinese name takes 3 bytes a character, as a str 2 (any CJK makes it UCS-2) plus
    # a larger header; most of a store's view is its name and address
    name, address = doc["name"], doc["address"]
    return f"{len(name)},{len(address)},{name}{address}{doc.get('phone', '')}".encode()


def _unpack(packed: bytes) -> tuple[str, str, str]:
    name_len, address_len, text = packed.decode().split(",", 2)
    cut = int(name_len)
    end = cut + int(address_len)
    return text[:cut], text[cut:end], text[end:]


@dataclass
class StoreIndex:
    """The active stores of one moment: where they are, what their views show, the grid."""
    ids: list[str] = field(default_factory=list)  # grid position -> store id
    position: dict[str, int] = field(default_factory=dict)  # store id -> grid position
    grid: Optional[GridArrays] = None
    views: Optional[StoreViews] = None
    # grid position -> the rank of its store id in Python's string order, made on first use
    # (how stores at one distance tie) and kept with the index: a deal write reuses it
    id_rank: Optional[Any] = None

    @classmethod
    def from_documents(cls, docs: Iterable[dict[str, Any]]) -> "StoreIndex":
        """The index of these store documents (active ones, with the VIEW_FIELDS)."""
        np = load_numpy()
        fresh = cls()
        hours_codes: dict[str, int] = {}
        tags_codes: dict[tuple[str, ...], int] = {}
        rows = []  # (grid key, store id, lat, lng, hours code, tags code, packed view)
        for doc in docs:
            hours = doc.get("hours", "")
            rows.append((_grid_key(doc["lat"], doc["lng"]), doc["_id"], doc["lat"], doc["lng"],
                         hours_codes.setdefault(hours, len(hours_codes)),
                         tags_codes.setdefault(tuple(doc.get("tags", [])), len(tags_codes)),
                         _pack(doc)))
        rows.sort(key=lambda row: (row[0], row[1]))
        fresh.ids = [row[1] for row in rows]
        fresh.position = {store_id: n for n, store_id in enumerate(fresh.ids)}
        lats = [float(row[2]) for row in rows]
        lngs = [float(row[3]) for row in rows]
        exact = [(p2, math.cos(p2), lng) for p2, lng in zip(map(math.radians, lats), lngs)]
        hours_list = list(hours_codes)
        parsed = [opening_minutes(h) for h in hours_list]
        codes = np.array([row[4] for row in rows], dtype=np.int32)
        hours = [parsed[code] for code in codes.tolist()]
        fresh.views = StoreViews(
            packed=[row[6] for row in rows], lat=np.array([row[2] for row in rows]),
            lng=np.array([row[3] for row in rows]), hours_code=codes,
            tags_code=np.array([row[5] for row in rows], dtype=np.int32), hours=hours_list,
            tags=list(tags_codes))
        rows.clear()
        phi, lam = np.radians(np.array(lats)), np.radians(np.array(lngs))
        fresh.grid = GridArrays(
            keys=np.array([_grid_key(lat, lng) for lat, lng in zip(lats, lngs)],
                          dtype=np.float64),
            x=np.cos(phi) * np.cos(lam), y=np.cos(phi) * np.sin(lam), z=np.sin(phi),
            exact=np.array(exact, dtype=np.float64).reshape(-1, 3),
            hours_ok=np.array([h is not None for h in hours], dtype=bool),
            opens=np.array([clamp_minutes(h[0]) if h else 0 for h in hours], dtype=np.int32),
            closes=np.array([clamp_minutes(h[1]) if h else 0 for h in hours], dtype=np.int32),
            same_day=np.array([h is not None and h[0] <= h[1] for h in hours],
                              dtype=bool))
        return fresh

    def id_ranks(self) -> Any:
        """The rank of each grid position's store id among the ids (Python's string order)."""
        rank = self.id_rank
        if rank is None:
            rank = self.id_rank = ranks(self.ids)  # the same for every thread: no lock needed
        return rank

    def reach(self, lat: float, lng: float, radius_m: float) -> tuple[Any, Any]:
        """The grid positions of exactly the stores whose geo.haversine_m distance is within
        the radius (in no order), and their squared chords from the centre."""
        np = load_numpy()
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
        positions = ranges(np, cuts[:, 0], cuts[:, 1])
        if not positions.size:
            return positions, np.zeros(0)
        qx, qy, qz = _unit(lat, lng)
        chords = ((grid.x.take(positions) - qx) ** 2 + (grid.y.take(positions) - qy) ** 2
                  + (grid.z.take(positions) - qz) ** 2)
        # out by a margin, within by a margin, or decided by haversine_m's arithmetic
        near = chords <= chord2(radius_m + PRUNE_MARGIN_M)
        positions, chords = positions[near], chords[near]
        inner = chord2(radius_m - PRUNE_MARGIN_M) if radius_m > PRUNE_MARGIN_M else -1.0
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
                np = load_numpy()
                # the wanted-th nearest by the chord is at most a margin further by
                # haversine_m, and no store among the first ``wanted`` is more than a margin
                # further than that by the chord
                kth = float(np.partition(chords, wanted - 1)[wanted - 1])
                positions = positions[chords <= chord2(metres(kth) + 2 * PRUNE_MARGIN_M)]
        found = self.distances(lat, lng, positions)
        found.sort()
        return found[skip:] if limit is None else found[skip:skip + limit]

    def open_at(self, positions: Any, now: datetime) -> Any:
        """Which of the stores at these positions are open at ``now`` (as is_open decides)."""
        np = load_numpy()
        grid = self.grid
        assert grid is not None
        current = minute_of_day(now)
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
        views = self.views
        assert views is not None
        n = self.position[store_id]
        name, address, phone = _unpack(views.packed[n])
        return {"_id": store_id, "name": name, "address": address,
                "lat": views.lat[n].item(), "lng": views.lng[n].item(), "phone": phone,
                "hours": views.hours[views.hours_code[n]],
                "tags": list(views.tags[views.tags_code[n]]), "active": True}
