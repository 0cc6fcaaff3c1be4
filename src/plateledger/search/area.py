"""Area search ("stakeout"): the reads near a place in a time window — validate, ask the gate, query the store,
audit, answer, in that order (see :mod:`plateledger.search.engine`).

The area is a circle (``lat``, ``lon``, ``radius_m``) or a polygon (``"lat,lon;lat,lon;..."``). The gate checks
each owner's area limits against the radius (for a polygon, its bounding radius: the farthest vertex from the
centroid) and the window's length. Answers are pages ordered by (time, owner, read id); ``next_cursor`` is where
the next page starts, and every page is a search of its own, gated and audited.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

import orjson

from plateledger import geo
from plateledger.approvals.canonical import Hold
from plateledger.audit.events import AreaSearched, SearchAnswered
from plateledger.auth.tokens import Principal
from plateledger.core.errors import FieldInvalid, PlateledgerError
from plateledger.policy.gate import AreaLimit
from plateledger.policy.rules import HOUR_MS
from plateledger.search.engine import (
    MAX_NOTE,
    SearchEngine,
    SearchResult,
    approval_params,
    canonical_query,
    parse_int,
    parse_time,
    validate_approval,
    validate_purpose_case,
    validate_warrant,
)
from plateledger.store.queries import AreaQuery
from plateledger.store.reads import ReadsStore
from plateledger.vocab import Purpose, QueryKind

__all__ = ["MAX_RADIUS_M", "MAX_VERTICES", "MAX_WINDOW_HOURS", "AreaSearch", "AreaSearches"]

#: The largest radius (or polygon bounding radius) any owner's policy may allow (``AreaLimits.max_radius_m``).
MAX_RADIUS_M = 50_000
#: The longest window any owner's policy may allow (``AreaLimits.max_window_hours``).
MAX_WINDOW_HOURS = 24 * 31
MAX_VERTICES = 100
MAX_POLYGON_TEXT = 4_000
#: Room for the longest read id (64 characters, JSON-escaped) in base64.
MAX_CURSOR = 600
_NUMBER = re.compile(r"^[+-]?([0-9]{1,12}(\.[0-9]{0,15})?|\.[0-9]{1,15})$")
_EPOCH_MS = re.compile(r"^[0-9]{1,15}$")
AskT = TypeVar("AskT", bound="WindowAsk")


@dataclass(frozen=True)
class AreaSearch:
    """An area search as asked, unvalidated (strings included, as the API and CLI pass them): the service
    validates every field so that any refusal is audited like an answer.

    Either ``lat``, ``lon`` and ``radius_m`` (metres), or ``polygon`` (``"lat,lon;lat,lon;..."``, 3-100
    vertices). ``since`` (inclusive) and ``until`` (exclusive) are required: epoch milliseconds or ISO 8601 with
    a zone. ``cursor``: the ``next_cursor`` of the previous page."""

    purpose: str | None
    case_number: str | None
    lat: float | str | None = None
    lon: float | str | None = None
    radius_m: float | str | None = None
    polygon: str | None = None
    since: int | str | None = None
    until: int | str | None = None
    limit: int | str | None = None
    cursor: str | None = None
    note: str | None = None
    warrant: str | None = None
    #: The id of an approved approval request this search runs on (the identical search), or break-glass.
    approval: int | str | None = None
    break_glass: bool | str = False

    def audit_params(self) -> dict[str, object]:
        return {
            "lat": _bounded(self.lat, 32),
            "lon": _bounded(self.lon, 32),
            "radius_m": _bounded(self.radius_m, 32),
            "polygon": (self.polygon or "")[:MAX_POLYGON_TEXT] or None,
            "since": _bounded(self.since, 40),
            "until": _bounded(self.until, 40),
            "cursor": (self.cursor or "")[:MAX_CURSOR] or None,
            "note": (self.note or "")[:MAX_NOTE] or None,
            **approval_params(self.approval, self.break_glass),
        }


def _bounded(value: float | int | str | None, length: int) -> float | int | str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value[:length] if isinstance(value, str) else value


def parse_number(value: float | str, field: str) -> float:
    if isinstance(value, str):
        if not _NUMBER.match(value.strip()):
            raise FieldInvalid(field, "must be a decimal number")
        value = float(value)
    if isinstance(value, bool) or not math.isfinite(value):
        raise FieldInvalid(field, "must be a finite number")
    return float(value)


def _required_number(value: float | str | None, field: str) -> float:
    if value is None or value == "":
        raise FieldInvalid(field, "required: lat, lon and radius_m, or a polygon")
    return parse_number(value, field)


def _check_position(lat: float, lon: float, field_lat: str, field_lon: str) -> None:
    if not -90 <= lat <= 90:
        raise FieldInvalid(field_lat, "latitude must be between -90 and 90")
    if not -180 <= lon <= 180:
        raise FieldInvalid(field_lon, "longitude must be between -180 and 180")


def parse_polygon(text: str) -> tuple[tuple[float, float], ...]:
    """``"lat,lon;lat,lon;..."`` into vertices rounded to 7 decimals (about 1 cm); a closing vertex equal to the
    first is dropped. A ring ClickHouse would refuse (a repeated vertex, a spike, crossing or touching edges, no
    area) is refused here with the problem named (:func:`plateledger.geo.ring_problem`)."""
    if len(text) > MAX_POLYGON_TEXT:
        raise FieldInvalid("polygon", f"longer than {MAX_POLYGON_TEXT} characters")
    parts = [p.strip() for p in text.strip().rstrip(";").split(";")]
    if len(parts) > MAX_VERTICES + 1:
        raise FieldInvalid("polygon", f"at most {MAX_VERTICES} vertices")
    vertices: list[tuple[float, float]] = []
    for number, part in enumerate(parts, start=1):
        pair = part.split(",")
        if len(pair) != 2 or not all(_NUMBER.match(x.strip()) for x in pair):
            raise FieldInvalid("polygon", f"vertex {number} is not 'lat,lon' (vertices separated by ';')")
        lat, lon = float(pair[0]), float(pair[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise FieldInvalid("polygon", f"vertex {number} is outside latitude -90..90 / longitude -180..180")
        vertices.append((round(lat, 7), round(lon, 7)))  # the grid geo.ring_problem checks (about 1 cm)
    if len(vertices) > 3 and vertices[0] == vertices[-1]:
        vertices.pop()
    ring = tuple(vertices)
    if not 3 <= len(ring) <= MAX_VERTICES:
        raise FieldInvalid("polygon", f"needs 3-{MAX_VERTICES} distinct vertices")
    problem = geo.ring_problem(ring)
    if problem is not None:
        raise FieldInvalid("polygon", problem)
    if max(v[1] for v in ring) - min(v[1] for v in ring) > 180:
        raise FieldInvalid("polygon", "spans more than 180 degrees of longitude (the antimeridian is not supported)")
    if abs(geo.shoelace_area(ring)) < 1e-12:
        raise FieldInvalid("polygon", "encloses no area (its vertices are on one line)")
    return ring


def parse_instant(value: int | str | None, field: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FieldInvalid(field, "required: ISO 8601 with a time zone, or epoch milliseconds")
    if isinstance(value, str) and _EPOCH_MS.match(value.strip()):
        return int(value)
    parsed = parse_time(value, field)
    assert parsed is not None
    return parsed


def encode_cursor(ts_ms: int, owner: int, read_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([ts_ms, owner, read_id])).decode().rstrip("=")


def decode_cursor(text: str, since_ms: int, until_ms: int) -> tuple[int, int, str]:
    invalid = FieldInvalid("cursor", "not a next_cursor from a previous page of this search")
    if len(text) > MAX_CURSOR:
        raise invalid
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(value, (int, int, str), strict=True))
        or not since_ms <= value[0] < until_ms
        or not 0 <= value[1] < 2**32
        or len(value[2]) > 64
    ):
        raise invalid
    return value[0], value[1], value[2]


def parse_area(
    lat: float | str | None, lon: float | str | None, radius_m: float | str | None, polygon: str | None
) -> tuple[float, AreaQuery]:
    """The area as (radius for the gate, a query without window): a circle or a polygon, never both."""
    point = {"lat": lat, "lon": lon, "radius_m": radius_m}
    given = [name for name, value in point.items() if value not in (None, "")]
    if polygon not in (None, ""):
        if given:
            raise FieldInvalid("polygon", "give either lat, lon and radius_m, or polygon; not both")
        assert polygon is not None
        ring = parse_polygon(polygon)
        radius = geo.bounding_radius_m(ring)
        if radius > MAX_RADIUS_M:
            raise FieldInvalid("polygon", f"reaches more than {MAX_RADIUS_M} m from its centre")
        return radius, AreaQuery(since_ms=0, until_ms=0, polygon=ring)
    lat_value, lon_value = _required_number(lat, "lat"), _required_number(lon, "lon")
    _check_position(lat_value, lon_value, "lat", "lon")
    radius = _required_number(radius_m, "radius_m")
    if not 0 < radius <= MAX_RADIUS_M:
        raise FieldInvalid("radius_m", f"must be more than 0 and at most {MAX_RADIUS_M} metres")
    return radius, AreaQuery(since_ms=0, until_ms=0, lat=lat_value, lon=lon_value, radius_m=radius)


def parse_window(since: int | str | None, until: int | str | None) -> tuple[int, int]:
    """A required time window ``[since, until)`` of at most ``MAX_WINDOW_HOURS``, in epoch milliseconds."""
    since_ms, until_ms = parse_instant(since, "since"), parse_instant(until, "until")
    if since_ms >= until_ms:
        raise FieldInvalid("since", "must be before until")
    if until_ms - since_ms > MAX_WINDOW_HOURS * HOUR_MS:
        raise FieldInvalid("until", f"the window may be at most {MAX_WINDOW_HOURS} hours (31 days)")
    return since_ms, until_ms


class WindowAsk(Protocol):
    """What area and description searches share: purpose, case, a window, paging, the approval fields."""

    @property
    def purpose(self) -> str | None: ...
    @property
    def case_number(self) -> str | None: ...
    @property
    def since(self) -> int | str | None: ...
    @property
    def until(self) -> int | str | None: ...
    @property
    def limit(self) -> int | str | None: ...
    @property
    def cursor(self) -> str | None: ...
    @property
    def note(self) -> str | None: ...
    @property
    def warrant(self) -> str | None: ...
    @property
    def approval(self) -> int | str | None: ...
    @property
    def break_glass(self) -> bool | str: ...
    def audit_params(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Where:
    """Where a windowed search looks, validated: the query without its window, and what the gate checks of it
    (the radius or a polygon's bounding radius; or, for a camera set, how many cameras)."""

    query: AreaQuery
    radius_m: float | None = None
    cameras: int | None = None


class WindowedSearches(Generic[AskT]):
    """A search of the reads in a place (an area, or a camera set) and a time window, one page at a time:
    validate, ask the gate, query the store, audit, answer. Subclasses say what kind, and where."""

    kind: ClassVar[QueryKind]
    event: ClassVar[type[SearchAnswered]]

    def __init__(self, *, reads: ReadsStore, engine: SearchEngine, max_limit: int, page: int) -> None:
        self._reads = reads
        self._engine = engine
        self._max_limit = max_limit
        self._page = page

    def _where(self, ask: AskT) -> Where:
        raise NotImplementedError

    def _validate(self, ask: AskT) -> tuple[Purpose, str, str | None, Where, AreaQuery, Hold]:
        purpose, case_number = validate_purpose_case(ask.purpose, ask.case_number)
        warrant = validate_warrant(ask.warrant)
        request_id, glass = validate_approval(ask.approval, ask.break_glass, ask.note)
        if ask.note is not None and len(ask.note) > MAX_NOTE:
            raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
        where = self._where(ask)
        since, until = parse_window(ask.since, ask.until)
        limit = parse_int(ask.limit, "limit") if ask.limit not in (None, "") else min(self._page, self._max_limit)
        if not 1 <= limit <= self._max_limit:
            raise FieldInvalid("limit", f"must be between 1 and {self._max_limit}")
        after = decode_cursor(ask.cursor, since, until) if ask.cursor else None
        query = dataclasses.replace(where.query, since_ms=since, until_ms=until, after=after, limit=limit + 1)
        hold = Hold(
            kind=self.kind.value,
            purpose=purpose.value,
            case_number=case_number,
            query=canonical_query(query, limit),
            warrant=warrant,
            request_id=request_id,
            break_glass=glass,
        )
        return purpose, case_number, warrant, where, query, hold

    def search(self, principal: Principal, ask: AskT) -> SearchResult:
        try:
            purpose, case_number, warrant, where, query, hold = self._validate(ask)
        except PlateledgerError as refusal:
            self._engine.refuse(
                principal,
                self.kind,
                refusal.detail,
                purpose=ask.purpose,
                case_number=ask.case_number,
                query=ask.audit_params(),
            )
            raise
        result = self._engine.run(
            principal,
            event=self.event,
            kind=self.kind,
            purpose=purpose,
            case_number=case_number,
            query=ask.audit_params(),
            since_ms=query.since_ms,
            limit=query.limit - 1,
            fetch=lambda permit: self._reads.area_reads(permit, query),
            warrant=warrant,
            radius_m=where.radius_m,
            window_ms=query.until_ms - query.since_ms,
            cameras=where.cameras,
            hold=hold,
        )
        if not result.truncated or not result.reads:
            return result
        last = result.reads[-1]
        return dataclasses.replace(result, next_cursor=encode_cursor(last.ts_ms, last.owner, last.read_id))


class AreaSearches(WindowedSearches[AreaSearch]):
    kind = QueryKind.AREA
    event = AreaSearched

    def limits(self, principal: Principal) -> list[AreaLimit]:
        """The area limits of each owner that may answer the principal's area searches, for the search form to
        show before a search is sent (the gate still decides it). For users who may search (``search``; a
        refusal is audited)."""
        return self._engine.area_limits(principal)

    def _where(self, ask: AreaSearch) -> Where:
        radius, area = parse_area(ask.lat, ask.lon, ask.radius_m, ask.polygon)
        return Where(area, radius_m=radius)
