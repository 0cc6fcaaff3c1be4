"""Places an agency lists as sensitive (clinics, places of worship, shelters), from GeoJSON, and how far a searched
area is from one.

GeoJSON gives positions as [longitude, latitude]; ``Point``, ``MultiPoint``, ``Polygon`` (outer ring; holes are
ignored: a search near a hole is near the place) and ``MultiPolygon`` geometries are read, as a
``FeatureCollection``, a single ``Feature`` or a bare geometry. A feature's ``name`` and ``kind`` (or ``amenity``)
properties name it. Distances are haversine for points; near a polygon they are measured on a local flat
projection (equirectangular at the place), exact enough within the few kilometres the rule looks at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateledger import geo
from plateledger.core.errors import InvalidInput
from plateledger.oversight.records import Area

LatLon = tuple[float, float]


@dataclass(frozen=True)
class Place:
    """A sensitive place: points and polygons (each a ring of (lat, lon)), a name and a kind."""

    name: str
    kind: str
    points: tuple[LatLon, ...] = ()
    polygons: tuple[tuple[LatLon, ...], ...] = ()


def _position(value: Any, where: str) -> LatLon:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise InvalidInput(f"{where}: a position must be [longitude, latitude]")
    lon, lat = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f"{where}: position [{lon}, {lat}] is outside [-180..180, -90..90]")
    return lat, lon


def _ring(value: Any, where: str) -> tuple[LatLon, ...]:
    if not isinstance(value, list) or not value or not isinstance(value[0], list):
        raise InvalidInput(f"{where}: a polygon must be a list of rings of positions")
    ring = tuple(_position(p, where) for p in value[0])
    if len(ring) >= 2 and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 3:
        raise InvalidInput(f"{where}: a polygon's outer ring needs at least 3 positions")
    return ring


def _geometry(geometry: Any, where: str) -> tuple[tuple[LatLon, ...], tuple[tuple[LatLon, ...], ...]]:
    if not isinstance(geometry, Mapping):
        raise InvalidInput(f"{where}: geometry missing")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        return (_position(coords, where),), ()
    if kind == "MultiPoint" and isinstance(coords, list):
        return tuple(_position(p, where) for p in coords), ()
    if kind == "Polygon":
        return (), (_ring(coords, where),)
    if kind == "MultiPolygon" and isinstance(coords, list):
        return (), tuple(_ring(c, where) for c in coords)
    raise InvalidInput(f"{where}: geometry type {kind!r} not accepted (Point, MultiPoint, Polygon, MultiPolygon)")


def places_from_geojson(document: Any) -> tuple[Place, ...]:
    """The places of a parsed GeoJSON document; a precise :class:`InvalidInput` naming the feature otherwise."""
    if not isinstance(document, Mapping):
        raise InvalidInput("places: a GeoJSON object expected")
    if document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise InvalidInput("places: a FeatureCollection needs a list of features")
    elif document.get("type") == "Feature":
        features = [document]
    else:
        features = [{"type": "Feature", "geometry": document, "properties": {}}]
    places = []
    for number, feature in enumerate(features, start=1):
        where = f"places: feature {number}"
        if not isinstance(feature, Mapping):
            raise InvalidInput(f"{where}: not an object")
        properties = feature.get("properties") or {}
        points, polygons = _geometry(feature.get("geometry"), where)
        name = str(properties.get("name") or f"place {number}")
        kind = str(properties.get("kind") or properties.get("amenity") or "sensitive place")
        places.append(Place(name=name, kind=kind, points=points, polygons=polygons))
    return tuple(places)


def _flat(origin: LatLon, point: LatLon) -> tuple[float, float]:
    """``point`` in metres east and north of ``origin`` (equirectangular)."""
    scale = math.radians(1) * geo.EARTH_RADIUS_M
    return (
        (point[1] - origin[1]) * scale * math.cos(math.radians(origin[0])),
        (point[0] - origin[0]) * scale,
    )


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def _inside(p: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > p[1]) != (y2 > p[1]) and p[0] < (x2 - x1) * (p[1] - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def point_polygon_m(point: LatLon, polygon: tuple[LatLon, ...]) -> float:
    """Metres from ``point`` to ``polygon`` (0 inside it)."""
    flat = [_flat(point, v) for v in polygon]
    if _inside((0.0, 0.0), flat):
        return 0.0
    return min(_segment_distance((0.0, 0.0), a, b) for a, b in zip(flat, flat[1:] + flat[:1], strict=True))


def _area_to_point(area: Area, point: LatLon) -> float:
    if area.polygon:
        return point_polygon_m(point, area.polygon)
    return max(0.0, geo.distance_m(area.lat, area.lon, point[0], point[1]) - area.radius_m)


def distance_m(area: Area, place: Place) -> float:
    """Metres between a searched area and a place (0 when they overlap): circles and polygons against points
    and polygons (polygon to polygon: the nearer of the vertices of each to the other)."""
    best = math.inf
    for point in place.points:
        best = min(best, _area_to_point(area, point))
    for polygon in place.polygons:
        if area.polygon:
            best = min(
                best,
                min(point_polygon_m(v, polygon) for v in area.polygon),
                min(point_polygon_m(v, area.polygon) for v in polygon),
            )
        else:
            best = min(best, max(0.0, point_polygon_m((area.lat, area.lon), polygon) - area.radius_m))
    return best
