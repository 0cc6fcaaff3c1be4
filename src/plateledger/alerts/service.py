"""Alerts: hot-list matches bound by the read owner's policy, audited before they are delivered.

A match of agency B's entry on a read owned by agency A becomes an alert for B only if the gate permits query
kind ``alert`` for the entry's purpose on A's reads (B's own reads, under B's own policy; another owner's, under
its policy and an accepted agreement granting ``alert``). A match the gate refuses creates no alert and reveals
nothing to B; it is audited as ``alert.withheld`` for A, with the rule. Entries of a ``private`` list are
matched against the list agency's own reads only.

A match alone is not grounds for action: an alert is ``new`` until a person confirms it (plate and state
verified against the image) or dismisses it; both are audited, and so is viewing one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.audit.events import AlertDecided, AlertRaised, AlertWithheld, AuditEvent
from plateledger.audit.log import SYSTEM, AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.hotlists.service import may_see
from plateledger.policy.actions import Action, allowed, refuse_unseen, require
from plateledger.policy.gate import Gate, Owner, Request
from plateledger.retention.service import Retention
from plateledger.search.image import ImageAsk
from plateledger.sharing.service import Books
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, Alert, HotList, HotListEntry, ReadImage
from plateledger.vocab import QueryKind, Role

#: Shown with every alert, in the API and the UI.
VERIFY_FIRST = (
    "A hot-list match is not grounds for action: verify the plate characters and the state against the image "
    "before acting, and confirm or dismiss the alert."
)
MAX_NOTE = 500


class AlertState(StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class Hit:
    """A stored read that matched an entry (from the matcher at ingest, or a retroactive search)."""

    entry_id: int
    owner: int
    read_id: str
    plate: str
    region: str | None
    ts_ms: int
    camera: str
    lat: float | None
    lon: float | None
    confidence: float | None
    match: str = "exact"  # exact, pattern or confusable
    #: The read's vehicle as the camera described it ('' or None where not given).
    make: str | None = None
    model: str | None = None
    color: str | None = None
    vtype: str | None = None


@dataclass(frozen=True)
class Outcome:
    raised: list[int]
    withheld: int
    skipped: int


def crop_state(session: Session, alert: Alert) -> str:
    """Whether the plate crop of the alert's read is stored (``stored``) or not (``none``). Every door stores a
    read's images before the read's alerts are raised, so a live alert never arrives ahead of its crop; the
    page fetches the crop only when this says ``stored`` (and retries, bounded, should it not be there yet)."""
    found = session.scalar(
        select(ReadImage.read_id).where(
            ReadImage.owner_id == alert.owner_id, ReadImage.read_id == alert.read_id, ReadImage.kind == "plate"
        )
    )
    return "none" if found is None else "stored"


def vehicle_json(alert: Alert) -> dict[str, str] | None:
    """The vehicle of the alert's read: ``make``, ``model``, ``color``, ``type``, each only when given (None when
    none is), as search answers describe a read's vehicle."""
    given = {"make": alert.make, "model": alert.model, "color": alert.color, "type": alert.vtype}
    vehicle = {name: value for name, value in given.items() if value}
    return vehicle or None


def vehicle_line(vehicle: dict[str, str] | None) -> str:
    """One short line describing a vehicle, e.g. ``red Toyota Corolla (sedan)``; "" for none."""
    if not vehicle:
        return ""
    words = " ".join(vehicle[k] for k in ("color", "make", "model") if vehicle.get(k))
    kind = vehicle.get("type")
    if kind:
        return f"{words} ({kind})" if words else kind
    return words


def _given(value: str | None) -> str | None:
    """A vehicle attribute as the alert stores it: None for absent or blank, at most 64 characters."""
    value = (value or "").strip()
    return value[:64] or None


def alert_json(alert: Alert, list_name: str, entry: HotListEntry, owner_name: str, image: str) -> dict[str, Any]:
    return {
        "id": alert.id,
        "state": alert.state,
        "created": iso_ms(alert.created_ms),
        "list": {"id": alert.hot_list_id, "name": list_name},
        "entry": {
            "id": entry.id,
            "plate": entry.plate,
            "pattern": entry.pattern,
            "region": entry.region,
            "purpose": entry.purpose,
            "reference": entry.reference,
            "reason": entry.reason,
            "expires": iso_ms(entry.expires_ms),
        },
        "read": {
            "read_id": alert.read_id,
            "plate": alert.plate,
            "region": alert.region,
            "ts": iso_ms(alert.read_ms),
            "camera": alert.camera,
            "lat": alert.lat,
            "lon": alert.lon,
            "confidence": alert.confidence,
            "owner": owner_name,
            "vehicle": vehicle_json(alert),
        },
        "match": alert.match,
        "image": image,
        "decided": iso_ms(alert.decided_ms) if alert.decided_ms is not None else None,
        "decided_by": alert.decided_by,
        "note": alert.note,
        "verify_first": VERIFY_FIRST,
    }


class Alerts:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, books: Books, retention: Retention
    ) -> None:
        self._gov = governance
        self._retention = retention
        self._audit = audit
        self._clock = clock
        self._books = books
        self._gate = Gate()
        self._listeners: list[Callable[[int, dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        #: Held from an alert batch's commit to the end of its delivery, so that listeners get alerts in id
        #: order: a live stream skips ids at or below the last it sent (replayed duplicates), so an alert offered
        #: after a greater id from another ingest thread was dropped from the stream.
        self._in_order = threading.Lock()

    def subscribe(self, listener: Callable[[int, dict[str, Any]], None]) -> None:
        """``listener(agency_id, alert_json)`` is called after each alert is committed and audited (delivery:
        live streams, webhooks, MQTT), in id order across threads. A listener must not block: it queues."""
        with self._lock:
            self._listeners.append(listener)

    def process(self, hits: list[Hit]) -> Outcome:
        """Decide each hit through the gate; raise or withhold it. The batch's alerts and withheld matches are
        committed with their audit entries in one transaction before anything is delivered."""
        if not hits:
            return Outcome([], 0, 0)
        now = self._clock.now_ms()
        with self._gov.session() as session:
            rows = session.execute(
                select(HotListEntry, HotList)
                .join(HotList, HotList.id == HotListEntry.hot_list_id)
                .where(HotListEntry.id.in_({h.entry_id for h in hits}))
            ).all()
            entries = {entry.id: (entry, hot_list) for entry, hot_list in rows}
            involved = {hot_list.agency_id for _, hot_list in rows} | {h.owner for h in hits}
            agencies = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(involved)))}
        book = self._books.current()
        permitted: list[tuple[Hit, HotListEntry, HotList, Owner, Agency]] = []
        withheld: list[AlertWithheld] = []
        skipped = 0
        for hit in hits:
            found = entries.get(hit.entry_id)
            if found is None:
                skipped += 1
                continue
            entry, hot_list = found
            if entry.removed_ms is not None or entry.expires_ms <= now:
                skipped += 1  # the matcher's copy was older than the entry's end
                continue
            if hot_list.visibility == "private" and hit.owner != hot_list.agency_id:
                skipped += 1
                continue
            listing, owner_row = agencies[hot_list.agency_id], agencies[hit.owner]
            request = Request(
                agency_id=listing.id,
                agency_kind=listing.kind,
                country=listing.country,
                state=listing.state,
                role=Role.INVESTIGATOR,
                purpose=entry.purpose,
                case_number=entry.reference,
                query_kind=QueryKind.ALERT,
                since_ms=hit.ts_ms,
                now_ms=now,
            )
            owner = Owner(owner_row.id, owner_row.slug, owner_row.name, owner_row.country, owner_row.state)
            decision = self._gate.decide_one(request, book, owner)
            if not decision.allowed or (decision.earliest_ms is not None and hit.ts_ms < decision.earliest_ms):
                rule = decision.rule if not decision.allowed else (decision.clipped or decision.rule)
                withheld.append(
                    AlertWithheld(
                        agency=listing.slug,
                        agency_name=listing.name,
                        list_id=hot_list.id,
                        entry_id=entry.id,
                        owner=owner.slug,
                        read_id=hit.read_id,
                        plate=hit.plate,
                        rule=rule,
                        purpose=entry.purpose,
                        case_number=entry.reference,
                    )
                )
                continue
            permitted.append((hit, entry, hot_list, owner, listing))
        with self._in_order:  # listeners never block (they queue), so this adds nothing to the commit's turn
            bodies = self._commit(permitted, withheld)
            for agency_id, body in bodies:
                for listener in list(self._listeners):
                    listener(agency_id, body)
        return Outcome([int(body["id"]) for _, body in bodies], len(withheld), skipped)

    def _commit(
        self,
        permitted: list[tuple[Hit, HotListEntry, HotList, Owner, Agency]],
        withheld: list[AlertWithheld],
    ) -> list[tuple[int, dict[str, Any]]]:
        """Store a batch's alerts and audit them, and its withheld matches, in one transaction (one commit for
        the batch instead of one per alert); nothing is delivered before it commits."""
        if not permitted and not withheld:
            return []
        now = self._clock.now_ms()

        def change(session: Session) -> tuple[list[AuditEvent], list[tuple[int, dict[str, Any]]]]:
            rows = [
                Alert(
                    agency_id=hot_list.agency_id,
                    hot_list_id=hot_list.id,
                    entry_id=entry.id,
                    owner_id=owner.agency_id,
                    read_id=hit.read_id,
                    plate=hit.plate,
                    region=hit.region,
                    read_ms=hit.ts_ms,
                    camera=hit.camera,
                    lat=hit.lat,
                    lon=hit.lon,
                    confidence=hit.confidence,
                    make=_given(hit.make),
                    model=_given(hit.model),
                    color=_given(hit.color),
                    vtype=_given(hit.vtype),
                    match=hit.match,
                    created_ms=now,
                    state=AlertState.NEW.value,
                    note="",
                )
                for hit, entry, hot_list, owner, _ in permitted
            ]
            session.add_all(rows)
            session.flush()
            events: list[AuditEvent] = list(withheld)
            bodies = []
            for row, (hit, entry, hot_list, owner, listing) in zip(rows, permitted, strict=True):
                events.append(
                    AlertRaised(
                        agency=listing.slug,
                        agency_name=listing.name,
                        alert_id=row.id,
                        list_id=hot_list.id,
                        entry_id=entry.id,
                        owner=owner.slug,
                        read_id=hit.read_id,
                        plate=hit.plate,
                        purpose=entry.purpose,
                        case_number=entry.reference,
                    )
                )
                body = alert_json(row, hot_list.name, entry, owner.name, crop_state(session, row))
                bodies.append((hot_list.agency_id, body))
            return events, bodies

        return self._audit.record_all(SYSTEM, change)[1]

    # -- reading and deciding ----------------------------------------------------------------------------------
    def _visible(self, session: Session, principal: Principal, alert: Alert | None) -> tuple[Alert, HotList]:
        if alert is None or not allowed(principal, Action.ALERT_VIEW, alert.agency_id).allowed:
            raise NotFound("no such alert")
        hot_list = session.get(HotList, alert.hot_list_id)
        if hot_list is None or not may_see(session, principal, hot_list):
            raise NotFound("no such alert")
        return alert, hot_list

    def _seen(self, principal: Principal, alert_id: int, action: Action) -> None:
        """Refuse ``action`` on an alert the principal may not see (none, another agency's, of a covert list it
        is no viewer of, or a role without alerts) exactly as a made-up id, and audited."""
        with self._gov.session() as session:
            try:
                self._visible(session, principal, session.get(Alert, alert_id))
                seen = True
            except NotFound:
                seen = False
        if not seen:
            refuse_unseen(principal, action, audit=self._audit, message="no such alert")

    def _json(self, session: Session, alert: Alert, hot_list: HotList) -> dict[str, Any]:
        entry = session.get(HotListEntry, alert.entry_id)
        owner = session.get(Agency, alert.owner_id)
        if entry is None or owner is None:  # foreign keys make this impossible
            raise NotFound("no such alert")
        return alert_json(alert, hot_list.name, entry, owner.name, crop_state(session, alert))

    def require_view(self, principal: Principal) -> None:
        """The table's check that ``principal`` may see its agency's alerts (refusals audited)."""
        require(principal, Action.ALERT_VIEW, principal.agency_id, audit=self._audit)

    def visible_to(self, principal: Principal, agency_id: int, body: dict[str, Any]) -> bool:
        """Whether a delivered alert (of ``agency_id``) may be shown to ``principal`` (live streams)."""
        with self._gov.session() as session:
            alert = session.get(Alert, body["id"])
            try:
                self._visible(session, principal, alert)
            except NotFound:
                return False
        return agency_id == principal.agency_id

    def latest_id(self) -> int:
        """The id of the newest alert of any agency (0 when there is none): where a new live stream starts."""
        with self._gov.session() as session:
            return int(session.scalar(select(func.max(Alert.id))) or 0)

    def listing(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        after_id: int = 0,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """The alerts the principal may see, oldest first after ``after_id``; or, with ``before_id``, newest first
        before it (the web page's cursor: its newest alerts, then older pages)."""
        self.require_view(principal)
        if state is not None and state not in {s.value for s in AlertState}:
            raise FieldInvalid("state", "new, confirmed or dismissed")
        if not 1 <= limit <= 1000:
            raise FieldInvalid("limit", "between 1 and 1000")
        found = []
        with self._gov.session() as session:
            query = select(Alert).where(Alert.agency_id == principal.agency_id, Alert.id > after_id)
            if before_id is None:
                query = query.order_by(Alert.id).limit(limit * 4)
            else:
                query = query.where(Alert.id < before_id).order_by(Alert.id.desc()).limit(limit * 4)
            if state is not None:
                query = query.where(Alert.state == state)
            for alert in session.scalars(query):
                try:
                    _, hot_list = self._visible(session, principal, alert)
                except NotFound:
                    continue
                found.append(self._json(session, alert, hot_list))
                if len(found) == limit:
                    break
        return found

    def view(self, principal: Principal, alert_id: int) -> dict[str, Any]:
        """One alert, and the viewing audited."""
        self._seen(principal, alert_id, Action.ALERT_VIEW)

        def change(session: Session) -> tuple[AlertDecided, dict[str, Any]]:
            alert, hot_list = self._visible(session, principal, session.get(Alert, alert_id))
            return AlertDecided(alert_id=alert.id, state="viewed"), self._json(session, alert, hot_list)

        return self._audit.record(principal.actor, change)[1]

    def image_ask(self, principal: Principal, alert_id: int, kind: str = "plate", *, size: str = "full") -> ImageAsk:
        """The request for an image of the alert's read under the alert's own purpose and case (its hot-list
        entry's purpose and reference), for :meth:`ImageViews.view`, which has the gate decide it and audits it
        like any search. NotFound for an alert the principal may not see (refused and audited)."""
        self._seen(principal, alert_id, Action.ALERT_VIEW)
        with self._gov.session() as session:
            alert, _ = self._visible(session, principal, session.get(Alert, alert_id))
            entry = session.get(HotListEntry, alert.entry_id)
            owner = session.get(Agency, alert.owner_id)
            if entry is None or owner is None:  # foreign keys make this impossible
                raise NotFound("no such alert")
            return ImageAsk(owner.slug, alert.read_id, kind, entry.purpose, entry.reference, size=size)

    def decide(self, principal: Principal, alert_id: int, state: str, note: str) -> dict[str, Any]:
        """Confirm or dismiss a new alert, with a note (required)."""
        require(principal, Action.ALERT_DECIDE, principal.agency_id, audit=self._audit)
        if state not in (AlertState.CONFIRMED.value, AlertState.DISMISSED.value):
            raise FieldInvalid("state", "confirmed or dismissed")
        note = note.strip()
        if not note:
            raise FieldInvalid("note", "required: what was verified, or why it is dismissed")
        if len(note) > MAX_NOTE:
            raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
        self._seen(principal, alert_id, Action.ALERT_DECIDE)

        def change(session: Session) -> tuple[AlertDecided, dict[str, Any]]:
            alert, hot_list = self._visible(session, principal, session.get(Alert, alert_id))
            if alert.state != AlertState.NEW.value:
                raise Conflict(f"alert #{alert.id} is already {alert.state}")
            alert.state = state
            alert.decided_ms = self._clock.now_ms()
            alert.decided_by = principal.username
            alert.note = note
            if state == AlertState.CONFIRMED.value:
                # A confirmed hit keeps its read for the owner's hit retention, in the same transaction.
                self._retention.hold(alert.owner_id, alert.read_id, "alert", f"alert-{alert.id}", session=session)
            return AlertDecided(alert_id=alert.id, state=state, note=note), self._json(session, alert, hot_list)

        return self._audit.record(principal.actor, change)[1]
