"""Area-search geometry: boxes never cut off a point the exact test keeps; polygon checks and radius."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plateledger import geo
from plateledger.core.errors import FieldInvalid
from plateledger.search.area import decode_cursor, encode_cursor, parse_polygon


def destination(lat: float, lon: float, bearing_deg: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lon) along ``bearing_deg`` on the sphere."""
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    d = distance / geo.EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@given(
    lat=st.floats(-89.5, 89.5),
    lon=st.floats(-180, 180),
    radius=st.floats(1, 50_000),
    bearing=st.floats(0, 360),
    share=st.floats(0, 1),
)
def test_circle_box_holds_every_point_of_the_circle(
    lat: float, lon: float, radius: float, bearing: float, share: float
) -> None:
    box = geo.circle_box(lat, lon, radius)
    plat, plon = destination(lat, lon, bearing, radius * share)
    assert box.min_lat <= plat <= box.max_lat
    assert box.min_lon <= plon <= box.max_lon
    assert abs(geo.distance_m(lat, lon, plat, plon) - radius * share) < 0.01 + radius * 1e-6


def test_bounding_radius_of_a_square() -> None:
    square = ((0.0, 0.0), (0.0, 0.01), (0.01, 0.01), (0.01, 0.0))
    radius = geo.bounding_radius_m(square)
    assert radius == pytest.approx(geo.distance_m(0.005, 0.005, 0, 0))
    assert 780 < radius < 790


@pytest.mark.parametrize(
    ("text", "vertices"),
    [
        ("0,0;0,1;1,1", 3),
        (" 0,0 ; 0,1 ; 1,1 ; ", 3),
        ("0,0;0,1;1,1;1,0;0,0", 4),
    ],
)
def test_polygons_parse(text: str, vertices: int) -> None:
    assert len(parse_polygon(text)) == vertices


@pytest.mark.parametrize(
    "text", ["", "0,0", "0,0;0,1", "0,0;0,1;0,2", "0,0;1,1;0,1;1,0", "0,0;0,1;x,1", "0,170;0,-170;1,0", "0,0,0;1,1;2,0"]
)
def test_garbage_polygons_are_refused(text: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        parse_polygon(text)
    assert caught.value.field == "polygon"


@given(ts=st.integers(0, 2**45), owner=st.integers(0, 2**32 - 1), read_id=st.text(max_size=64))
def test_cursor_round_trip(ts: int, owner: int, read_id: str) -> None:
    assert decode_cursor(encode_cursor(ts, owner, read_id), ts, ts + 1) == (ts, owner, read_id)


def test_cursor_holds_the_longest_read_id() -> None:
    for read_id in ("\U0001f697" * 64, "\x01" * 64):
        assert decode_cursor(encode_cursor(2**45, 2**32 - 1, read_id), 0, 2**46)[2] == read_id
