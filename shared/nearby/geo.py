"""Geometry for nearby search without database geo operators: geohash cells (encode and
decode), haversine distance, and the WGS-84 -> GCJ-02 conversion used by maps in China.

A radius query covers the circle's bounding box with geohash cells of one precision, so
candidates come from a handful of cells, and the exact haversine distance decides.
"""
from __future__ import annotations

import math
from typing import Iterable

EARTH_RADIUS_M = 6_371_008.8
BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
# (height, width) in degrees of a cell at each precision
CELL_DEGREES = {p: (180.0 / 2 ** ((5 * p) // 2), 360.0 / 2 ** ((5 * p + 1) // 2))
                 for p in range(1, 10)}
MAX_CELLS = 64
_BOX_MARGIN_DEG = 1e-9  # ~0.1 mm: a point exactly on the circle is not lost to rounding


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def encode(lat: float, lng: float, precision: int = 9) -> str:
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    bits, bit_count, even = 0, 0, True
    out: list[str] = []
    while len(out) < precision:
        if even:
            mid = (lng_lo + lng_hi) / 2
            bits = bits * 2 + (lng >= mid)
            lng_lo, lng_hi = (mid, lng_hi) if lng >= mid else (lng_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            bits = bits * 2 + (lat >= mid)
            lat_lo, lat_hi = (mid, lat_hi) if lat >= mid else (lat_lo, mid)
        even = not even
        bit_count += 1
        if bit_count == 5:
            out.append(BASE32[bits])
            bits, bit_count = 0, 0
    return "".join(out)


def cell_bounds(cell: str) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lng_min, lng_max) of a geohash cell: ``encode``'s inverse."""
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in cell:
        bits = BASE32.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bit else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return lat_lo, lat_hi, lng_lo, lng_hi


def cell_center(cell: str) -> tuple[float, float]:
    """(lat, lng) of the centre of a geohash cell (the usual geohash decode)."""
    lat_lo, lat_hi, lng_lo, lng_hi = cell_bounds(cell)
    return (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2



def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lng_min, lng_max) enclosing the circle; longitudes may leave
    [-180, 180] near the antimeridian (callers wrap them)."""
    angle = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angle) + _BOX_MARGIN_DEG
    cos_lat = math.cos(math.radians(lat))
    if abs(lat) + dlat >= 90 or math.sin(angle) >= cos_lat:
        return max(-90.0, lat - dlat), min(90.0, lat + dlat), -180.0, 180.0
    # the circle's widest point lies poleward of the centre: its longitude offset is
    # asin(sin d / cos lat), which radius / (R cos lat) underestimates away from the equator
    # (by ~16 m at 80 degrees and 50 km, by 20 degrees near a pole)
    dlng = min(180.0, math.degrees(math.asin(math.sin(angle) / cos_lat)) + _BOX_MARGIN_DEG)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def _wrap(lng: float) -> float:
    return (lng + 180.0) % 360.0 - 180.0


def _cells_at(box: tuple[float, float, float, float], precision: int) -> set[str]:
    lat_min, lat_max, lng_min, lng_max = box
    height, width = CELL_DEGREES[precision]
    lat_start = math.floor((lat_min + 90.0) / height) * height - 90.0
    lng_start = math.floor((lng_min + 180.0) / width) * width - 180.0
    cells = set()
    lat_steps = int(math.floor((lat_max - lat_start) / height)) + 1
    lng_steps = int(math.floor((lng_max - lng_start) / width)) + 1
    for i in range(lat_steps):
        cell_lat = min(89.999999, max(-89.999999, lat_start + (i + 0.5) * height))
        for j in range(min(lng_steps, int(round(360.0 / width)))):
            cells.add(encode(cell_lat, _wrap(lng_start + (j + 0.5) * width), precision))
    return cells


def covering_cells(lat: float, lng: float, radius_m: float, precisions: Iterable[int]) \
        -> tuple[int, set[str]]:
    """The finest precision (of those offered) whose cells cover the circle in few cells."""
    box = bounding_box(lat, lng, radius_m)
    offered = sorted(precisions, reverse=True)
    for precision in offered:
        height, width = CELL_DEGREES[precision]
        count = ((box[1] - box[0]) / height + 2) * ((box[3] - box[2]) / width + 2)
        if count <= MAX_CELLS:
            return precision, _cells_at(box, precision)
    coarsest = offered[-1]
    return coarsest, _cells_at(box, coarsest)


# ---- WGS-84 -> GCJ-02 ----------------------------------------------------------------------
# The published "Mars coordinates" transform (Krasovsky ellipsoid); GCJ-02 applies in
# mainland China only, elsewhere coordinates are left unchanged.
_A = 6378245.0
_EE = 0.00669342162296594323


def out_of_china(lat: float, lng: float) -> bool:
    return not (73.66 < lng < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if out_of_china(lat, lng):
        return lat, lng
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + dlat, lng + dlng
