"""Small geometry for area search (pure functions): distances on a sphere, bounding boxes, polygon checks.

Distances here size the search (a polygon's bounding radius, the box that pre-filters the store's scan); the
store itself decides membership with ClickHouse's ``geoDistance`` (WGS-84) or ``pointInPolygon``. Boxes are
generous (a sphere of the smallest Earth radius, plus a margin), so they never cut off a read the exact test
would keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
#: Metres per degree of latitude, at its smallest (the equator); a box built with it is never too small.
_M_PER_DEG_MIN = 110_574.0
#: Relative margin on boxes: geoDistance uses the WGS-84 ellipsoid, which differs from a sphere by < 0.6%.
_MARGIN = 1.01
#: A vertex: (lat, lon) in degrees, or on the integer grid of :func:`ring_problem`.
Point = tuple[float, float] | tuple[int, int]


@dataclass(frozen=True)
class Box:
    """Latitude and longitude bounds, inclusive. ``min_lon > max_lon`` never happens: a box that would cross
    the antimeridian is widened to every longitude."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def circle_box(lat: float, lon: float, radius_m: float) -> Box:
    """A box holding every point within ``radius_m`` of (lat, lon)."""
    dlat = radius_m * _MARGIN / _M_PER_DEG_MIN
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -89.9 or max_lat >= 89.9:
        return Box(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)
    widest = max(abs(min_lat), abs(max_lat))
    dlon = dlat / math.cos(math.radians(widest))
    if lon - dlon < -180 or lon + dlon > 180:
        return Box(min_lat, max_lat, -180.0, 180.0)
    return Box(min_lat, max_lat, lon - dlon, lon + dlon)


def polygon_box(vertices: tuple[tuple[float, float], ...]) -> Box:
    lats = [v[0] for v in vertices]
    lons = [v[1] for v in vertices]
    return Box(min(lats), max(lats), min(lons), max(lons))


def centroid(vertices: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    """The mean of the vertices: the centre a polygon's bounding radius is measured from."""
    return sum(v[0] for v in vertices) / len(vertices), sum(v[1] for v in vertices) / len(vertices)


def bounding_radius_m(vertices: tuple[tuple[float, float], ...]) -> float:
    """The largest distance from the centroid to a vertex: the radius a policy's area limit is checked against.
    Every point of a polygon lies within it (each edge point is within the farther of its ends)."""
    clat, clon = centroid(vertices)
    return max(distance_m(clat, clon, lat, lon) for lat, lon in vertices)


def shoelace_area(vertices: tuple[tuple[float, float], ...]) -> float:
    """Signed area in square degrees (planar; zero for degenerate polygons)."""
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        total += lon1 * lat2 - lon2 * lat1
    return total / 2


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _touches(a: Point, b: Point, c: Point, d: Point) -> bool:
    """True when segments ab and cd share any point: they cross, or an end of one lies on the other (collinear
    overlaps included)."""
    d1, d2 = _orientation(c, d, a), _orientation(c, d, b)
    d3, d4 = _orientation(a, b, c), _orientation(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _within(c, d, a))
        or (d2 == 0 and _within(c, d, b))
        or (d3 == 0 and _within(a, b, c))
        or (d4 == 0 and _within(a, b, d))
    )


def _within(a: Point, b: Point, p: Point) -> bool:
    """For ``p`` on the line through a and b: whether it lies on the segment."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


#: Polygon vertices are compared on a grid of 1e-7 degrees (about 1 cm), exactly, in integers.
GRID = 10_000_000
#: Edges meeting at a vertex at an angle whose sine is below this fold back onto each other: a spike.
_SPIKE_SINE = 1e-6


def _grid(vertex: tuple[float, float]) -> tuple[int, int]:
    return round(vertex[0] * GRID), round(vertex[1] * GRID)


def ring_problem(vertices: tuple[tuple[float, float], ...]) -> str | None:
    """Why ``vertices`` (an open ring: the first vertex is not repeated at the end) is not a simple polygon, or
    None: a repeated vertex, a spike (the edges either side of a vertex fold back onto, or almost onto, each
    other), or two edges that cross or touch. Vertices are numbered from 1 as given and compared on the
    :data:`GRID` exactly. ClickHouse's ``pointInPolygon`` refuses such rings with an engine error, so a search
    checks them first and names the problem."""
    count = len(vertices)
    points = [_grid(v) for v in vertices]
    first_at: dict[tuple[int, int], int] = {}
    for number, point in enumerate(points, start=1):
        if point in first_at:
            return f"vertex {number} repeats vertex {first_at[point]}; give each corner once"
        first_at[point] = number
    for i in range(count):
        a, b, c = points[i - 1], points[i], points[(i + 1) % count]
        dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
        cross = _orientation(a, b, c)
        lengths = math.hypot(b[0] - a[0], b[1] - a[1]) * math.hypot(c[0] - b[0], c[1] - b[1])
        if dot < 0 and abs(cross) <= _SPIKE_SINE * lengths:
            return f"vertex {i + 1} is a spike: the edges either side of it fold back onto each other"
    edges = list(zip(points, points[1:] + points[:1], strict=True))
    for i in range(count):
        for j in range(i + 2, count):
            if i == 0 and j == count - 1:
                continue  # adjacent through the closing vertex
            if _touches(*edges[i], *edges[j]):
                return f"edges {i + 1} and {j + 1} cross or touch; give the vertices in order around the area"
    return None
