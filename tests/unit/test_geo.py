"""Geometry: haversine distance, geohash cells, the bounding box and cell cover of a circle
(anywhere on Earth, across the antimeridian and at the poles), and WGS-84 -> GCJ-02."""
import math

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from shared.nearby import geo

R = geo.EARTH_RADIUS_M
PRECISIONS = range(3, 8)  # the precisions the nearby index keeps

geo_settings = settings(max_examples=300, deadline=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---- a reference geometry, written independently of shared.nearby.geo --------------------

def destination(lat, lng, bearing_deg, distance_m):
    """The point ``distance_m`` from (lat, lng) along the initial bearing (spherical Earth)."""
    d = distance_m / R
    theta, phi1, lam1 = math.radians(bearing_deg), math.radians(lat), math.radians(lng)
    sin_phi2 = math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lam2 = lam1 + math.atan2(math.sin(theta) * math.sin(d) * math.cos(phi1),
                             math.cos(d) - math.sin(phi1) * math.sin(phi2))
    return math.degrees(phi2), wrap(math.degrees(lam2))


def wrap(lng):
    return (lng + 180.0) % 360.0 - 180.0


def widest_point(lat, lng, radius_m, east=True):
    """The point of the circle furthest east (or west) in longitude, just inside the circle;
    away from the equator it lies poleward of the centre, so a box that is only
    ``radius / (R cos lat)`` wide misses it."""
    d, phi = radius_m / R * (1 - 1e-9), math.radians(lat)
    dlng = math.degrees(math.asin(min(1.0, math.sin(d) / math.cos(phi))))
    p_lat = math.degrees(math.asin(min(1.0, math.sin(phi) / math.cos(d))))
    return p_lat, wrap(lng + dlng if east else lng - dlng)


def cell_bounds(cell):
    """(lat_lo, lat_hi, lng_lo, lng_hi) of a geohash cell, decoded bit by bit."""
    alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
    lat_lo, lat_hi, lng_lo, lng_hi, even = -90.0, 90.0, -180.0, 180.0, True
    for char in cell:
        bits = alphabet.index(char)
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


def snap_to_border(value, size, origin):
    """The cell border (origin + k * size) nearest to ``value``."""
    return origin + round((value - origin) / size) * size


latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
radii = st.one_of(st.integers(1, 100), st.integers(100, 5_000), st.integers(5_000, 50_000))


@st.composite
def centres(draw):
    """Mostly China, also anywhere, the antimeridian, high latitudes, poles, cell borders."""
    kind = draw(st.sampled_from(["china", "china", "china", "anywhere", "antimeridian",
                                 "high", "pole", "border"]))
    if kind == "china":
        return draw(st.floats(18, 53.5)), draw(st.floats(73.7, 135))
    if kind == "antimeridian":
        return draw(st.floats(-80, 80)), draw(st.one_of(st.floats(179, 180), st.floats(-180, -179)))
    if kind == "high":
        return draw(st.one_of(st.floats(80, 90), st.floats(-90, -80))), draw(longitudes)
    if kind == "pole":
        return draw(st.sampled_from([90.0, -90.0])), draw(longitudes)
    if kind == "border":
        precision = draw(st.sampled_from(list(PRECISIONS)))
        height, width = geo.CELL_DEGREES[precision]
        lat, lng = draw(st.floats(-85, 85)), draw(longitudes)
        nudge = draw(st.sampled_from([0.0, 1e-9, -1e-9]))
        return (snap_to_border(lat, height, -90.0) + nudge,
                max(-180.0, min(180.0, snap_to_border(lng, width, -180.0) + nudge)))
    return draw(latitudes), draw(longitudes)


# ---- haversine -------------------------------------------------------------------------------

def test_haversine_of_one_degree_of_latitude_is_about_111_km():
    assert geo.haversine_m(0, 0, 1, 0) == pytest.approx(R * math.pi / 180, rel=1e-12)
    assert geo.haversine_m(31, 121, 32, 121) == pytest.approx(111_195, abs=1)


def test_haversine_of_antipodes_is_half_the_circumference():
    assert geo.haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * R, rel=1e-12)
    assert geo.haversine_m(90, 0, -90, 0) == pytest.approx(math.pi * R, rel=1e-12)


def test_haversine_across_the_antimeridian_is_the_short_way_round():
    assert geo.haversine_m(0, 179.99, 0, -179.99) == pytest.approx(2223.9, abs=0.1)


def test_haversine_between_any_two_longitudes_at_a_pole_is_zero():
    assert geo.haversine_m(90, 0, 90, 123) == pytest.approx(0, abs=1e-6)


@geo_settings
@given(latitudes, longitudes, latitudes, longitudes)
def test_haversine_is_symmetric_and_bounded(lat1, lng1, lat2, lng2):
    d = geo.haversine_m(lat1, lng1, lat2, lng2)
    assert 0 <= d <= math.pi * R + 1e-6
    assert d == pytest.approx(geo.haversine_m(lat2, lng2, lat1, lng1), abs=1e-6)


# ---- geohash encode --------------------------------------------------------------------------

def test_encode_matches_published_geohashes():
    assert geo.encode(42.605, -5.603, 5) == "ezs42"
    assert geo.encode(57.64911, 10.40744, 11) == "u4pruydqqvj"


def test_cell_sizes_are_those_of_geohash():
    assert geo.CELL_DEGREES[5] == (180 / 2 ** 12, 360 / 2 ** 13)
    assert geo.CELL_DEGREES[7] == (180 / 2 ** 17, 360 / 2 ** 18)


@geo_settings
@given(latitudes, longitudes, st.integers(1, 9))
def test_a_point_lies_in_the_cell_it_encodes_to_and_coarser_cells_are_prefixes(lat, lng, p):
    cell = geo.encode(lat, lng, p)
    lat_lo, lat_hi, lng_lo, lng_hi = cell_bounds(cell)
    assert lat_lo <= lat <= lat_hi and lng_lo <= lng <= lng_hi
    assert geo.encode(lat, lng, 9)[:p] == cell


@geo_settings
@given(latitudes, longitudes, st.integers(1, 9))
def test_decoding_a_cell_gives_its_bounds_and_centre(lat, lng, p):
    cell = geo.encode(lat, lng, p)
    assert geo.cell_bounds(cell) == cell_bounds(cell)
    lat_lo, lat_hi, lng_lo, lng_hi = cell_bounds(cell)
    assert geo.cell_center(cell) == ((lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2)
    assert geo.encode(*geo.cell_center(cell), p) == cell


def test_cell_center_matches_a_published_geohash():
    assert geo.cell_center("ezs42") == (42.60498046875, -5.60302734375)


def test_a_point_on_a_cell_border_belongs_to_the_cell_above_and_to_the_east():
    height, width = geo.CELL_DEGREES[5]
    lat, lng = 31 * height, 2755 * width - 180  # exactly on a corner of four cells
    lat_lo, _, lng_lo, _ = cell_bounds(geo.encode(lat, lng, 5))
    assert (lat_lo, lng_lo) == (lat, lng)


def test_encode_of_the_poles_and_the_antimeridian_does_not_crash():
    assert geo.encode(90, 180, 5) == "zzzzz"
    assert geo.encode(-90, -180, 5) == "00000"


# ---- bounding box and cell cover of a circle -------------------------------------------------

def _in_lng_range(lng, lng_min, lng_max):
    return any(lng_min <= lng + shift <= lng_max for shift in (-360.0, 0.0, 360.0))


@st.composite
def circles_and_points_inside(draw):
    lat, lng = draw(centres())
    radius = draw(radii)
    fraction = draw(st.one_of(st.just(1.0), st.just(0.0), st.floats(0, 1)))
    if abs(lat) + math.degrees(radius / R) < 89.99 and draw(st.integers(0, 4)) == 0:
        point = widest_point(lat, lng, radius, east=draw(st.booleans()))
    elif abs(lat) == 90:  # every bearing from a pole is due south (north): pick a meridian
        sign = 1 if lat > 0 else -1
        point = (sign * (90 - math.degrees(fraction * radius / R)), draw(longitudes))
    else:
        point = destination(lat, lng, draw(st.floats(0, 360)), fraction * radius)
    return lat, lng, radius, point


@geo_settings
@given(circles_and_points_inside())
@example((31.2, 121.5, 50_000, widest_point(31.2, 121.5, 50_000)))
@example((60.0, 10.0, 50_000, widest_point(60.0, 10.0, 50_000)))
@example((-89.6, 10.0, 43_000, widest_point(-89.6, 10.0, 43_000, east=False)))
def test_the_bounding_box_holds_every_point_of_the_circle(case):
    lat, lng, radius, (p_lat, p_lng) = case
    if geo.haversine_m(lat, lng, p_lat, p_lng) > radius:
        return  # rounding put the point just outside: nothing to hold
    lat_min, lat_max, lng_min, lng_max = geo.bounding_box(lat, lng, radius)
    note(f"box {(lat_min, lat_max, lng_min, lng_max)}")
    assert lat_min <= p_lat <= lat_max
    assert _in_lng_range(p_lng, lng_min, lng_max)


@geo_settings
@given(circles_and_points_inside(), st.sampled_from(["as is", "lat border", "lng border"]))
@example((10.0, 179.99, 3000, (10.0, -179.99)), "as is")
@example((89.6, 10.0, 43_000, widest_point(89.6, 10.0, 43_000)), "as is")
@example((90.0, 0.0, 1000, (89.995, 123.0)), "as is")
@example((-90.0, 0.0, 1000, (-89.995, -45.0)), "as is")
def test_every_point_inside_the_circle_falls_in_a_covering_cell(case, snap):
    lat, lng, radius, (p_lat, p_lng) = case
    precision, cells = geo.covering_cells(lat, lng, radius, PRECISIONS)
    height, width = geo.CELL_DEGREES[precision]
    if snap == "lat border":
        p_lat = max(-90.0, min(90.0, snap_to_border(p_lat, height, -90.0)))
    elif snap == "lng border":
        p_lng = max(-180.0, min(180.0, snap_to_border(p_lng, width, -180.0)))
    if geo.haversine_m(lat, lng, p_lat, p_lng) > radius:
        return  # the snap (or rounding) moved the point out of the circle
    note(f"precision {precision}, {len(cells)} cells, point {(p_lat, p_lng)}")
    assert precision in PRECISIONS
    assert geo.encode(p_lat, p_lng, precision) in cells


@geo_settings
@given(st.floats(-80, 80), longitudes, radii)
def test_the_cover_is_a_handful_of_cells_away_from_the_poles(lat, lng, radius):
    precision, cells = geo.covering_cells(lat, lng, radius, PRECISIONS)
    assert 1 <= len(cells) <= geo.MAX_CELLS
    assert all(len(cell) == precision for cell in cells)


def test_a_small_circle_is_covered_by_fine_cells_and_a_large_one_by_coarse_cells():
    fine, _ = geo.covering_cells(31.2397, 121.4998, 50, PRECISIONS)
    coarse, _ = geo.covering_cells(31.2397, 121.4998, 50_000, PRECISIONS)
    assert fine == 7 and coarse < fine


def test_a_circle_crossing_the_antimeridian_covers_cells_on_both_sides():
    precision, cells = geo.covering_cells(0.0, 179.99, 5000, PRECISIONS)
    assert geo.encode(0.0, 179.995, precision) in cells
    assert geo.encode(0.0, -179.99, precision) in cells


@pytest.mark.parametrize("lat", [90.0, -90.0])
@pytest.mark.parametrize("radius", [1, 3000, 50_000])
def test_a_circle_around_a_pole_covers_every_longitude_near_it(lat, radius):
    precision, cells = geo.covering_cells(lat, 0.0, radius, PRECISIONS)
    near = lat - math.copysign(math.degrees(radius / R) / 2, lat)
    for lng in (-180.0, -179.99, -90.0, 0.0, 45.5, 179.99, 180.0):
        assert geo.encode(near, lng, precision) in cells
        assert geo.encode(lat, lng, precision) in cells


@pytest.mark.parametrize("lat", [90.0, -90.0, 89.9999999, -89.9999999])
def test_the_bounding_box_at_a_pole_spans_every_longitude(lat):
    lat_min, lat_max, lng_min, lng_max = geo.bounding_box(lat, 33.0, 100)
    assert (lng_min, lng_max) == (-180.0, 180.0)
    assert -90.0 <= lat_min <= lat_max <= 90.0


# ---- WGS-84 -> GCJ-02 ------------------------------------------------------------------------

# (WGS-84 lat, lng) -> (GCJ-02 lat, lng): the test vectors of googollee/eviltransform
# (Shanghai, Shenzhen, Beijing), of wandergis/coordtransform (116.404, 39.915), and the
# Tiananmen pair as published to six decimals
KNOWN_PAIRS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),
    ((39.908823, 116.397470), (39.910226, 116.403714)),
]


@pytest.mark.parametrize("wgs, gcj", KNOWN_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs_within_a_metre(wgs, gcj):
    lat, lng = geo.wgs84_to_gcj02(*wgs)
    assert geo.haversine_m(lat, lng, *gcj) < 1.0


@pytest.mark.parametrize("wgs, gcj", KNOWN_PAIRS[:4])
def test_wgs84_to_gcj02_matches_the_reference_implementations_to_1e_6_degrees(wgs, gcj):
    lat, lng = geo.wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-6) and lng == pytest.approx(gcj[1], abs=1e-6)


@pytest.mark.parametrize("point", [
    (35.681236, 139.767125),    # Tokyo
    (51.507351, -0.127758),     # London
    (40.712776, -74.005974),    # New York
    (-33.868820, 151.209290),   # Sydney
    (1.352083, 103.819836),     # Singapore
    (0.0, 179.99), (0.0, -180.0), (90.0, 0.0), (-90.0, 0.0),
])
def test_outside_china_coordinates_are_unchanged(point):
    assert geo.out_of_china(*point)
    assert geo.wgs84_to_gcj02(*point) == point


@geo_settings
@given(st.floats(18, 53.5), st.floats(73.7, 135))
def test_inside_china_the_offset_is_tens_to_hundreds_of_metres(lat, lng):
    assert not geo.out_of_china(lat, lng)
    moved = geo.haversine_m(lat, lng, *geo.wgs84_to_gcj02(lat, lng))
    assert 1 < moved < 1000
