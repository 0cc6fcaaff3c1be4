"""The normalised search record the oversight rules read, and how one is built from a Plateledger audit entry.

Records of other vendors' audit exports are built in :mod:`plateledger.oversight.exports`. A source rarely has
every field: :class:`Field` names each one, and a source says which it carries (``fields``), so the rules that need
a missing field are skipped with the reason rather than run on blanks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

#: The audit actions that are searches (docs/audit.md); other entries are not records.
SEARCH_ACTIONS = frozenset({"search.plate", "search.area", "search.description", "search.refused"})
_KIND_OF_ACTION = {"search.plate": "plate", "search.area": "area", "search.description": "vehicle"}


class Field(StrEnum):
    """What a record may carry; a source lists those it has."""

    USER = "user"
    AGENCY = "agency"
    PURPOSE = "purpose"
    CASE_NUMBER = "case_number"
    REASON = "reason"
    PLATE = "plate"
    AREA = "area"
    OWNERS = "owners"
    NETWORKS = "networks"
    LOOKBACK = "lookback"
    OUTCOME = "outcome"


@dataclass(frozen=True, slots=True)
class Area:
    """A searched area: a circle (``lat``, ``lon``, ``radius_m``) or a polygon (``polygon``: (lat, lon) vertices,
    with ``lat``/``lon`` its first vertex and ``radius_m`` 0)."""

    lat: float
    lon: float
    radius_m: float = 0.0
    polygon: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One search, whatever its source.

    ``ref``: where it came from (the audit sequence number, or the export's line number); ``ts_ms``: when (epoch
    ms, UTC); ``user`` and ``agency``: who (None where the source does not say); ``kind``: ``plate``, ``area``,
    ``description`` (by vehicle description), ``vehicle`` or the vendor's search type; ``refused``: the search
    was refused outright; ``reason``: the free text given (Plateledger's note; a vendor's reason);
    ``owners_reached``: the owners whose data answered it; ``owners_refused``: those that
    withheld it (``refused_others``: every other owner too); ``networks``: how many networks a vendor says it
    reached; ``window_start_ms``: the earliest time it asked about (lookback)."""

    ref: int
    ts_ms: int
    user: str | None = None
    agency: str | None = None
    kind: str = "plate"
    refused: bool = False
    purpose: str | None = None
    case_number: str | None = None
    reason: str | None = None
    plate: str | None = None
    area: Area | None = None
    owners_reached: tuple[str, ...] = ()
    owners_refused: tuple[str, ...] = ()
    refused_others: bool = False
    networks: int | None = None
    window_start_ms: int | None = None

    @property
    def actor(self) -> str:
        """Whom the record's searches are counted against: the user, else the agency, else the whole source."""
        if self.user is not None:
            return f"{self.agency}/{self.user}" if self.agency else self.user
        return self.agency or "(all searches)"


#: The fields a Plateledger audit entry carries (every one but the vendors' network counts).
AUDIT_FIELDS = frozenset(Field) - {Field.NETWORKS}
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def _polygon(text: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(text, str):
        return ()
    vertices = []
    for part in text.strip().rstrip(";").split(";"):
        pair = [_number(x) for x in part.split(",")]
        if len(pair) != 2 or pair[0] is None or pair[1] is None:
            return ()
        vertices.append((pair[0], pair[1]))
    return tuple(vertices)


def area_of(query: Mapping[str, Any]) -> Area | None:
    """The area an area search's audited query asked for (circle or polygon), or None when it cannot be read."""
    polygon = _polygon(query.get("polygon"))
    if len(polygon) >= 3:
        return Area(polygon[0][0], polygon[0][1], 0.0, polygon)
    lat, lon, radius = _number(query.get("lat")), _number(query.get("lon")), _number(query.get("radius_m"))
    if lat is None or lon is None:
        return None
    return Area(lat, lon, radius or 0.0)


def _ts_ms(entry: Mapping[str, Any]) -> int:
    if "ts_ms" in entry:
        return int(entry["ts_ms"])
    return int(datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00")).timestamp() * 1000)


def _window_start(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return int(value) if value.isdigit() else None
        return int(parsed.timestamp() * 1000) if parsed.tzinfo is not None else None
    return None


def from_audit(entry: Mapping[str, Any], agencies: Mapping[int, str] | None = None) -> SearchRecord | None:
    """The record of one audit entry, in the shape the audit listing gives (``AuditRow.as_json()``: ``seq``,
    ``ts`` or ``ts_ms``, ``action``, ``actor``, ``actor_agency_id``, ``purpose``, ``case_number``, ``outcome``,
    ``params``, ``counts``), or None for an entry that is not a search. ``agencies`` maps agency ids to slugs
    (without it the id is the agency's name)."""
    action = entry.get("action")
    if action not in SEARCH_ACTIONS:
        return None
    params: Mapping[str, Any] = entry.get("params") or {}
    counts: Mapping[str, Any] = entry.get("counts") or {}
    query: Mapping[str, Any] = params.get("query") or {}
    agency_id = entry.get("actor_agency_id")
    agency = None if agency_id is None else (agencies or {}).get(agency_id, str(agency_id))
    kind = _KIND_OF_ACTION.get(action) or str(params.get("kind") or "plate")
    plate = query.get("plate") if kind == "plate" else None
    if isinstance(plate, str) and plate and query.get("match") == "contains":
        plate = f"*{plate}*"  # a part of plates, as the wildcard pattern it searches by: never one plate
    note = query.get("note")
    return SearchRecord(
        ref=int(entry["seq"]),
        ts_ms=_ts_ms(entry),
        user=entry.get("actor"),
        agency=agency,
        kind=kind,
        refused=entry.get("outcome") == "refused",
        purpose=entry.get("purpose"),
        case_number=entry.get("case_number"),
        reason=note if isinstance(note, str) and note else None,
        plate=plate.upper() if isinstance(plate, str) and plate else None,
        area=area_of(query) if kind in ("area", "vehicle") else None,
        owners_reached=tuple(counts.get("per_owner") or ()),
        owners_refused=tuple(params.get("withheld") or ()),
        refused_others=bool(params.get("withheld_others")),
        window_start_ms=_window_start(query.get("since")),
    )
