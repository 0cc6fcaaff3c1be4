"""The rule on where an area search looked: near a place the agency lists as sensitive."""

from __future__ import annotations

import math

from plateledger.oversight.flags import Draft, Flag, day, plural
from plateledger.oversight.places import Place, distance_m
from plateledger.oversight.records import Area, Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Rule

_M_PER_DEG = 110_574.0


def _box(place: Place) -> tuple[float, float, float, float]:
    points = [*place.points, *(v for polygon in place.polygons for v in polygon)]
    return (
        min(p[0] for p in points),
        max(p[0] for p in points),
        min(p[1] for p in points),
        max(p[1] for p in points),
    )


class SensitivePlaces(Rule):
    id = "area.sensitive_place"
    title = "Area searches near places the agency lists as sensitive"
    needs = frozenset({Field.AREA})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._boxes = [(place, _box(place)) for place in context.places]

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.places else "no sensitive places were given"

    def _near(self, area: Area) -> list[tuple[Place, float]]:
        """Places within the distance of ``area`` (a box test first: degrees of latitude never shrink)."""
        reach = area.radius_m + self.params.sensitive_distance_m
        if area.polygon:
            reach += max(abs(v[0] - area.lat) for v in area.polygon) * _M_PER_DEG
            reach += max(abs(v[1] - area.lon) for v in area.polygon) * _M_PER_DEG
        dlat = reach * 1.01 / _M_PER_DEG
        dlon = dlat / max(math.cos(math.radians(min(89.0, abs(area.lat) + dlat))), 1e-6)
        near = []
        for place, (min_lat, max_lat, min_lon, max_lon) in self._boxes:
            if area.lat + dlat < min_lat or area.lat - dlat > max_lat:
                continue
            if area.lon + dlon < min_lon or area.lon - dlon > max_lon:
                continue
            metres = distance_m(area, place)
            if metres <= self.params.sensitive_distance_m:
                near.append((place, metres))
        return near

    def feed(self, record: SearchRecord) -> list[Flag]:
        if record.area is None or not self._boxes:
            return []
        raised = []
        for place, metres in self._near(record.area):
            key = f"{record.actor}|{record.ts_ms // DAY_MS}|{place.name}"
            raised += self.add(key, record, place=place, metres=metres)
            draft = self._drafts[key]
            draft.extra["metres"] = min(draft.extra["metres"], metres)
        return raised

    def render(self, draft: Draft) -> Flag:
        place: Place = draft.extra["place"]
        metres = round(draft.extra["metres"])
        where = "over" if metres == 0 else f"{metres} m from"
        return draft.flag(
            self.id,
            {
                "searches": len(draft.refs),
                "place": place.name,
                "kind": place.kind,
                "distance_m": metres,
                "day": day(draft.first_ms),
            },
            {"sensitive_distance_m": self.params.sensitive_distance_m},
            f"{plural(len(draft.refs), 'area search', 'area searches')} by {draft.actor} on {day(draft.first_ms)} "
            f"looked {where} {place.name} ({place.kind}), a place the agency lists as sensitive "
            f"(flagged within {self.params.sensitive_distance_m} m): who visits it may be what was sought.",
        )
