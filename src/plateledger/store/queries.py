"""The reads store's queries as values: validated query objects, the SQL that answers them, and the read they
return. Pure (no engine): :class:`~plateledger.store.reads.ReadsStore` runs them, and only with a gate-issued
Permit's owner clause; the benchmarks run the same SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from plateledger import geo
from plateledger.plates import confusable_key
from plateledger.store import sql


def ch_array(values: Sequence[str | float]) -> str:
    """Text form of a ClickHouse array literal for a query parameter."""
    items = []
    for value in values:
        if isinstance(value, str):
            items.append("'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'")
        elif math.isnan(value):
            items.append("nan")
        else:
            items.append(repr(float(value)))
    return "[" + ",".join(items) + "]"


@dataclass(frozen=True)
class VehicleFilter:
    """Vehicle attributes a search keeps (validated: trimmed, bounded; None: any). Compared case-insensitively
    with the stored read's, in the engine, next to the gate's owner clause."""

    make: str | None = None
    model: str | None = None
    color: str | None = None
    vtype: str | None = None

    def clauses(self, params: dict[str, Any]) -> list[str]:
        """The filter's conditions, adding their parameters to ``params``."""
        where = []
        for column in ("make", "model", "color", "vtype"):
            value = getattr(self, column)
            if value is not None:  # a parameter's text is in escaped form: a backslash is written twice
                params[f"vehicle_{column}"] = value.replace("\\", "\\\\")
                where.append(f"lowerUTF8({column}) = lowerUTF8({{vehicle_{column}:String}})")
        return where


@dataclass(frozen=True)
class PlateQuery:
    """A plate history query after validation: exactly one of ``plate`` (exact) or ``like`` (pattern) is set."""

    plate: str | None = None
    like: str | None = None
    fuzzy: bool = False
    since_ms: int | None = None
    until_ms: int | None = None
    region: str | None = None
    camera: str | None = None
    limit: int = 10_000
    vehicle: VehicleFilter | None = None


@dataclass(frozen=True)
class AreaQuery:
    """An area query after validation: a circle (``lat``, ``lon``, ``radius_m``), a ``polygon`` of (lat, lon)
    vertices or (a description search only) a set of ``cameras``, a time window ``[since_ms, until_ms)``, and
    for later pages the sort key of the last read seen (``after``: ts_ms, owner, read id). Reads come back
    ordered by that key, at most ``limit``. ``vehicle``: only reads of a vehicle so described."""

    since_ms: int
    until_ms: int
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    after: tuple[int, int, str] | None = None
    limit: int = 1_001
    cameras: tuple[str, ...] | None = None
    vehicle: VehicleFilter | None = None

    def box(self) -> geo.Box:
        if self.polygon is not None:
            return geo.polygon_box(self.polygon)
        if self.lat is None or self.lon is None or self.radius_m is None:
            raise ValueError("an area query needs a circle or a polygon")
        return geo.circle_box(self.lat, self.lon, self.radius_m)


class StoredRead(NamedTuple):
    """One read as a search returns it. A named tuple, not a dataclass: a search builds hundreds per answer, and
    a tuple is built in a fraction of the time of a frozen dataclass (docs/benchmarks.md, "Search path outside
    the engine"). Immutable either way."""

    read_id: str
    plate: str
    plate_raw: str
    region: str
    ts_ms: int
    camera: str
    lat: float | None
    lon: float | None
    confidence: float | None
    owner: int
    make: str
    model: str
    color: str
    vtype: str
    direction: float | None
    #: The source's own time and confidence as sent ('' when the read came without them).
    source_ts: str = ""
    source_confidence: str = ""


def _num(value: Any) -> float | None:
    """A nullable number of a row: None for NULL or NaN, else rounded to 6 decimals."""
    if value is None or value != value:  # NaN is the one value unequal to itself
        return None
    return round(float(value), 6)


#: Columns of a returned read, in StoredRead's order: what an answer shows, nothing more. A search reads one
#: granule of each column from each active part, and that, not the rows, is the engine's cost (about 1/18 of the
#: lookup per column: docs/benchmarks.md, "Performance II, third pass"), so the ingest channel (``source``), which
#: no answer shows, is not read.
READ_COLUMNS = (
    f"{sql.EFFECTIVE_READ_ID} AS rid, plate, {sql.PLATE_AS_READ}, region, toUnixTimestamp64Milli(ts), camera, "
    "lat, lon, confidence, owner, make, model, color, vtype, direction, source_ts, source_confidence"
)

_new_read = tuple.__new__


def stored_read(r: list[Any]) -> StoredRead:
    """A read from one row of READ_COLUMNS (JSONCompact: 64-bit integers come quoted, NaN as null)."""
    num = _num
    read: StoredRead = _new_read(
        StoredRead,
        (
            r[0],
            r[1],
            r[2],
            r[3],
            int(r[4]),
            r[5],
            num(r[6]),
            num(r[7]),
            num(r[8]),
            int(r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
            num(r[14]),
            r[15],
            r[16],
        ),
    )
    return read


def stored_reads(columns: list[list[Any]]) -> list[StoredRead]:
    """Reads from the columns of READ_COLUMNS (JSONCompactColumns: one list per column, 64-bit integers quoted,
    NaN as null), built column by column: the per-value conversions run as ``map`` over a column instead of as
    a Python call per row (docs/benchmarks.md, "Exact plate search at the floor")."""
    if not columns or not columns[0]:
        return []
    c = columns
    num = _num
    rows = zip(
        c[0],
        c[1],
        c[2],
        c[3],
        map(int, c[4]),
        c[5],
        map(num, c[6]),
        map(num, c[7]),
        map(num, c[8]),
        c[9],
        c[10],
        c[11],
        c[12],
        c[13],
        map(num, c[14]),
        c[15],
        c[16],
        strict=True,
    )
    return list(map(partial(_new_read, StoredRead), rows))


def _area_clauses(query: AreaQuery, params: dict[str, Any]) -> list[str]:
    """A latitude/longitude box, then the exact test of the circle or polygon."""
    box = query.box()
    params.update(min_lat=box.min_lat, max_lat=box.max_lat, min_lon=box.min_lon, max_lon=box.max_lon)
    where = [
        "lat BETWEEN {min_lat:Float64} AND {max_lat:Float64}",
        "lon BETWEEN {min_lon:Float64} AND {max_lon:Float64}",
    ]
    if query.polygon is not None:
        params["lats"] = ch_array([v[0] for v in query.polygon])
        params["lons"] = ch_array([v[1] for v in query.polygon])
        where.append(
            "pointInPolygon((toFloat64(lon), toFloat64(lat)), arrayZip({lons:Array(Float64)}, {lats:Array(Float64)}))"
        )
    else:
        params.update(lat=query.lat, lon=query.lon, radius=query.radius_m)
        where.append("geoDistance({lon:Float64}, {lat:Float64}, lon, lat) <= {radius:Float64}")
    return where


def area_sql(query: AreaQuery, owner_clause: str, table: str = "reads") -> tuple[str, dict[str, Any]]:
    """The area query's SELECT and parameters. The time window comes first (the ``reads_by_hour_place``
    projection answers it, reading only the box's latitude band of each hour), a latitude/longitude box filters,
    then the exact test: ``geoDistance`` (WGS-84) for a circle, ``pointInPolygon`` for a polygon (or, for a
    description search of a camera set, the cameras); then the vehicle filter, if any. A read without a
    position (NaN) fails every comparison, so it never matches. ``table`` is for the benchmark of
    docs/benchmarks.md only."""
    params: dict[str, Any] = {"since": query.since_ms, "until": query.until_ms, "limit": query.limit}
    where = [
        owner_clause,
        # The hours of the window, stated so that the projection's key (hour, lat, lon, ts) narrows the read to
        # them and, inside each hour, to the box's latitude band.
        "toStartOfHour(ts) >= toStartOfHour(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))",
        "toStartOfHour(ts) <= toStartOfHour(fromUnixTimestamp64Milli({until:Int64}, 'UTC'))",
        "ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')",
        "ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')",
    ]
    if query.cameras is not None:  # a camera set (description search): no geometry
        params["cameras"] = ch_array(query.cameras)
        where.append("has({cameras:Array(String)}, camera)")
    else:
        where += _area_clauses(query, params)
    if query.vehicle is not None:
        where += query.vehicle.clauses(params)
    if query.after is not None:
        ts_ms, owner, read_id = query.after
        params.update(after_ts=ts_ms, after_owner=owner, after_rid=read_id)
        where.append("ts >= fromUnixTimestamp64Milli({after_ts:Int64}, 'UTC')")
        where.append(
            "(toUnixTimestamp64Milli(ts), owner, rid) > ({after_ts:Int64}, {after_owner:UInt32}, {after_rid:String})"
        )
    statement = (
        f"SELECT {READ_COLUMNS} FROM {table} WHERE {' AND '.join(where)} "
        "ORDER BY ts, owner, rid LIMIT {limit:UInt32} SETTINGS max_threads = 1"
    )
    return statement, params


def plate_sql(query: PlateQuery, owner_clause: str) -> tuple[str, dict[str, Any]]:
    """The plate history query's SELECT and parameters: the confusable key and plate lead (the table's order)."""
    params: dict[str, Any] = {"limit": query.limit}
    where = [owner_clause]
    if query.plate is not None:
        params["key"] = confusable_key(query.plate)
        where.append("plate_key = {key:String}")
        if not query.fuzzy:
            params["plate"] = query.plate
            where.append("plate = {plate:String}")
    elif query.like is not None:
        params["key_like"] = confusable_key(query.like)
        where.append("plate_key LIKE {key_like:String}")
        if not query.fuzzy:
            params["like"] = query.like
            where.append("plate LIKE {like:String}")
    else:
        raise ValueError("a plate query needs a plate or a pattern")
    if query.since_ms is not None:
        params["since"] = query.since_ms
        where.append("ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')")
    if query.until_ms is not None:
        params["until"] = query.until_ms
        where.append("ts < fromUnixTimestamp64Milli({until:Int64}, 'UTC')")
    if query.region:
        params["region"] = query.region
        where.append("region = {region:String}")
    if query.camera:
        params["camera"] = query.camera
        where.append("camera = {camera:String}")
    if query.vehicle is not None:
        where += query.vehicle.clauses(params)
    statement = (
        f"SELECT {READ_COLUMNS} FROM reads WHERE {' AND '.join(where)} ORDER BY ts, owner, camera "
        "LIMIT {limit:UInt32} SETTINGS max_threads = 1"
    )
    return statement, params


#: What a server runs once before it takes traffic (:meth:`ReadsStore.warm_up`): the plate history's columns of
#: one granule of every part, so that the first searches do not each wait for the parts' marks and primary keys
#: to load (docs/benchmarks.md, "Performance II, second pass").
WARM_SQL = f"SELECT {READ_COLUMNS} FROM reads WHERE plate_key = '' AND plate = '' SETTINGS max_threads = 1"
