"""Search by vehicle description: the reads of vehicles so described (make, model, colour, type; at least one),
without a plate, in an area (circle or polygon, as area search) or a set of cameras, and a time window.

A broad query: each owner opts in (``Policy.description``, with its own radius, camera, window and lookback
limits) and an agreement grants it by name (query kind ``vehicle``); the approval rules may hold it. The
filters are applied in the engine's SQL beside the gate's owner clause. Validated, gated, audited
(``search.description``) and paged exactly like area search (:class:`~plateledger.search.area.WindowedSearches`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from plateledger.audit.events import DescriptionSearched
from plateledger.core.errors import FieldInvalid
from plateledger.core.text import check_camera_id
from plateledger.search.area import AreaSearch, Where, WindowedSearches, parse_area
from plateledger.search.engine import VEHICLE_FIELDS, validate_vehicle, vehicle_params
from plateledger.store.queries import AreaQuery
from plateledger.vocab import QueryKind

__all__ = ["MAX_CAMERAS", "DescriptionSearch", "DescriptionSearches"]

#: The most cameras one description search may name (an owner's policy may allow fewer).
MAX_CAMERAS = 100
MAX_CAMERAS_TEXT = MAX_CAMERAS * 65


@dataclass(frozen=True)
class DescriptionSearch:
    """A description search as asked, unvalidated (strings included, as the API, CLI and web form pass them).

    At least one of ``make``, ``model``, ``color``, ``vehicle_type``; and either an area (``lat``, ``lon``,
    ``radius_m``, or ``polygon``) or ``cameras`` (camera ids separated by commas, at most ``MAX_CAMERAS``);
    ``since`` and ``until`` are required, as for area search."""

    purpose: str | None
    case_number: str | None
    make: str | None = None
    model: str | None = None
    color: str | None = None
    vehicle_type: str | None = None
    lat: float | str | None = None
    lon: float | str | None = None
    radius_m: float | str | None = None
    polygon: str | None = None
    cameras: str | None = None
    since: int | str | None = None
    until: int | str | None = None
    limit: int | str | None = None
    cursor: str | None = None
    note: str | None = None
    warrant: str | None = None
    approval: int | str | None = None
    break_glass: bool | str = False

    def _area(self) -> AreaSearch:
        return AreaSearch(
            purpose=self.purpose,
            case_number=self.case_number,
            lat=self.lat,
            lon=self.lon,
            radius_m=self.radius_m,
            polygon=self.polygon,
            since=self.since,
            until=self.until,
            limit=self.limit,
            cursor=self.cursor,
            note=self.note,
            warrant=self.warrant,
            approval=self.approval,
            break_glass=self.break_glass,
        )

    def audit_params(self) -> dict[str, object]:
        return {
            **vehicle_params(self.make, self.model, self.color, self.vehicle_type),
            **self._area().audit_params(),
            "cameras": (self.cameras or "")[:MAX_CAMERAS_TEXT] or None,
        }


def parse_cameras(text: str) -> tuple[str, ...]:
    """Camera ids separated by commas: each checked, duplicates dropped, 1 to ``MAX_CAMERAS``."""
    if len(text) > MAX_CAMERAS_TEXT:
        raise FieldInvalid("cameras", f"longer than {MAX_CAMERAS_TEXT} characters")
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise FieldInvalid("cameras", "give at least one camera id (separated by commas)")
    unique = tuple(dict.fromkeys(check_camera_id(i, "cameras") for i in ids))
    if len(unique) > MAX_CAMERAS:
        raise FieldInvalid("cameras", f"at most {MAX_CAMERAS} cameras")
    return unique


class DescriptionSearches(WindowedSearches[DescriptionSearch]):
    kind = QueryKind.DESCRIPTION
    event = DescriptionSearched

    def _where(self, ask: DescriptionSearch) -> Where:
        vehicle = validate_vehicle(ask.make, ask.model, ask.color, ask.vehicle_type)
        if vehicle is None:
            raise FieldInvalid("make", "describe the vehicle: at least one of " + ", ".join(VEHICLE_FIELDS))
        if ask.cameras not in (None, ""):
            assert ask.cameras is not None
            if any(v not in (None, "") for v in (ask.lat, ask.lon, ask.radius_m, ask.polygon)):
                raise FieldInvalid("cameras", "give either an area (a circle or a polygon) or cameras; not both")
            cameras = parse_cameras(ask.cameras)
            query = AreaQuery(since_ms=0, until_ms=0, cameras=cameras, vehicle=vehicle)
            return Where(query, cameras=len(cameras))
        radius, area = parse_area(ask.lat, ask.lon, ask.radius_m, ask.polygon)
        return Where(replace(area, vehicle=vehicle), radius_m=radius)
