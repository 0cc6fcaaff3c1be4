"""The places an agency lists as sensitive (clinics, places of worship, shelters), kept with the agency rather than
in its published policy: a shelter's address must not be published. The policy's rules say what is watched (the
distance, in the policy text); the transparency report gives the number of places and their kinds only.

Set by the agency's admins (``policy.set``: part of configuring what the oversight rules watch), as GeoJSON
(:func:`plateledger.oversight.places.places_from_geojson`); each change is audited (``oversight.places_set``,
with the number and kinds, never the positions).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from plateledger.audit.events import SensitivePlacesSet
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock
from plateledger.core.errors import InvalidInput
from plateledger.oversight.places import Place, places_from_geojson
from plateledger.policy.actions import Action, HasActor, actor_of, require
from plateledger.store.governance import Governance
from plateledger.store.models import SensitivePlaces

MAX_BYTES = 5 * 1024 * 1024


def parse(text: str | bytes) -> tuple[Any, tuple[Place, ...]]:
    """The GeoJSON document and its places, or :class:`InvalidInput` saying what is wrong."""
    if len(text) > MAX_BYTES:
        raise InvalidInput(f"places: over {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"places: not GeoJSON: {exc}") from None
    return document, places_from_geojson(document)


def kinds(places: tuple[Place, ...]) -> dict[str, int]:
    return dict(sorted(Counter(p.kind for p in places).items()))


class Places:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        #: Changes made through this object (the live rules reload the places when it moves).
        self.changes = 0

    def _agency_id(self, slug: str) -> int:
        return self._gov.agency(slug).id

    def set(self, who: Actor | HasActor, agency: str, geojson: str | bytes) -> dict[str, Any]:
        """Replace the agency's sensitive places (``policy.set``; authorised before the document is read)."""
        agency_id = self._agency_id(agency)
        require(who, Action.POLICY_SET, agency_id, audit=self._audit)
        document, places = parse(geojson)
        actor = actor_of(who)
        now = self._clock.now_ms()
        by_kind = kinds(places)
        summary: dict[str, Any] = {"places": len(places), "kinds": by_kind}

        def change(session: Session) -> tuple[SensitivePlacesSet, None]:
            row = session.get(SensitivePlaces, agency_id)
            body = json.dumps(document, separators=(",", ":"))
            if row is None:
                session.add(
                    SensitivePlaces(
                        agency_id=agency_id, geojson=body, places=len(places), set_ms=now, set_by=actor.username
                    )
                )
            else:
                row.geojson, row.places, row.set_ms, row.set_by = body, len(places), now, actor.username
            return SensitivePlacesSet(agency=agency, places=len(places), kinds=by_kind), None

        self._audit.record(actor, change)
        self.changes += 1
        return summary

    def get(self, who: Actor | HasActor, agency: str) -> Any:
        """The agency's GeoJSON as set (an empty FeatureCollection when none), for its admins (``policy.set``)."""
        agency_id = self._agency_id(agency)
        require(who, Action.POLICY_SET, agency_id, audit=self._audit)
        with self._gov.session() as session:
            row = session.get(SensitivePlaces, agency_id)
            return json.loads(row.geojson) if row else {"type": "FeatureCollection", "features": []}

    def places_unguarded(self, agency_id: int) -> tuple[Place, ...]:
        """The agency's places, for the library's own use (the live rules); never called by an entry point."""
        with self._gov.session() as session:
            row = session.get(SensitivePlaces, agency_id)
            return places_from_geojson(json.loads(row.geojson)) if row else ()

    def summary(self, agency_id: int) -> dict[str, Any]:
        """What may be published: how many places, of which kinds."""
        places = self.places_unguarded(agency_id)
        return {"places": len(places), "kinds": kinds(places)}
