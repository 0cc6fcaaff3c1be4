"""Hot lists and their entries: who may create, see and change them, and what an entry must carry.

Every entry carries its justification (purpose from the taxonomy, a case number or source record id, a reason)
and an expiry of at most ``max_entry_days``; an expired or removed entry stops matching. A covert list is visible
only to the user who created it and the users named as its viewers. Every change is audited in the same
transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plateledger.audit.events import HotListChanged, HotListCreated
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.core.text import PRINTABLE_64, REGION
from plateledger.plates import is_pattern, normalise_pattern, validate_plate
from plateledger.policy.actions import Action, allowed, refuse, refuse_unseen, require
from plateledger.policy.rules import DAY_MS
from plateledger.store.governance import Governance, bump_hotlist_generation
from plateledger.store.models import HotList, HotListEntry, HotListViewer, User
from plateledger.vocab import Purpose

#: A pattern entry needs this many literal characters, so that no entry matches a large share of all plates.
MIN_PATTERN_LITERALS = 3
MAX_REASON = 500
#: Why a named viewer of a covert list (who sees it) may not change its entries.
COVERT_CHANGE = "only its creator may change the entries of a covert list; its named viewers see it"


class AlertLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Visibility(StrEnum):
    PRIVATE = "private"
    SHARED = "shared"


@dataclass(frozen=True)
class EntryIn:
    """An entry as given (by the API, the CLI or an import line), unvalidated."""

    plate: str
    purpose: str | None = None
    reference: str | None = None
    reason: str | None = None
    expires_ms: int | None = None
    region: str | None = None


@dataclass(frozen=True)
class Entry:
    """A validated entry: ``plate`` is a normalised plate, or a pattern (``*`` any run, ``?`` one character)."""

    plate: str
    pattern: bool
    purpose: str
    reference: str
    reason: str
    expires_ms: int
    region: str | None


@dataclass(frozen=True)
class ListView:
    id: int
    agency_id: int
    name: str
    default_purpose: str
    alert_level: str
    visibility: str
    covert: bool
    created_ms: int
    created_by: str
    active_entries: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "default_purpose": self.default_purpose,
            "alert_level": self.alert_level,
            "visibility": self.visibility,
            "covert": self.covert,
            "created": iso_ms(self.created_ms),
            "created_by": self.created_by,
            "active_entries": self.active_entries,
        }


def entry_json(row: HotListEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "plate": row.plate,
        "pattern": row.pattern,
        "region": row.region,
        "purpose": row.purpose,
        "reference": row.reference,
        "reason": row.reason,
        "expires": iso_ms(row.expires_ms),
        "added": iso_ms(row.added_ms),
        "added_by": row.added_by,
        "removed": iso_ms(row.removed_ms) if row.removed_ms is not None else None,
    }


def validate_entry(raw: EntryIn, *, default_purpose: str, now_ms: int, max_days: int) -> Entry:
    """One entry, or FieldInvalid naming the first field that is wrong."""
    text = (raw.plate or "").strip()
    if not text:
        raise FieldInvalid("plate", "required")
    if len(text) > 32:
        raise FieldInvalid("plate", "longer than 32 characters")
    if is_pattern(text):
        plate = normalise_pattern(text)
        if sum(c.isalnum() for c in plate) < MIN_PATTERN_LITERALS:
            raise FieldInvalid("plate", f"a pattern needs at least {MIN_PATTERN_LITERALS} literal characters")
        pattern = True
    else:
        plate, pattern = validate_plate(text), False
    purpose = raw.purpose or default_purpose
    if purpose not in {p.value for p in Purpose}:
        raise FieldInvalid("purpose", f"unknown purpose {purpose[:64]!r}")
    reference = (raw.reference or "").strip()
    if not PRINTABLE_64.fullmatch(reference):
        raise FieldInvalid("reference", "required: a case number or source record id, 1-64 printable characters")
    reason = (raw.reason or "").strip()
    if not reason:
        raise FieldInvalid("reason", "required")
    if len(reason) > MAX_REASON:
        raise FieldInvalid("reason", f"at most {MAX_REASON} characters")
    if raw.expires_ms is None:
        raise FieldInvalid("expires", "required")
    if raw.expires_ms <= now_ms:
        raise FieldInvalid("expires", "must be in the future")
    if raw.expires_ms > now_ms + max_days * DAY_MS:
        raise FieldInvalid("expires", f"at most {max_days} days ahead")
    region = raw.region.strip().upper() if raw.region else None
    if region is not None and not REGION.fullmatch(region):
        raise FieldInvalid("region", "ISO 3166-2 like US-CA")
    return Entry(plate, pattern, purpose, reference, reason, raw.expires_ms, region)


def may_see(session: Session, principal: Principal, row: HotList) -> bool:
    """Whether ``principal`` may see the list (and its alerts): a user of its agency who may keep lists, and for a
    covert list its creator or a named viewer."""
    if not allowed(principal, Action.HOTLIST_VIEW, row.agency_id).allowed:
        return False
    if not row.covert or row.created_by == principal.username:
        return True
    return session.get(HotListViewer, (row.id, principal.user_id)) is not None


def machine_delivery_allowed(session: Session, list_id: int) -> bool:
    """Whether alerts of the list may go to a machine receiver (webhook, MQTT broker): not for a covert list,
    whose alerts only its named viewers may see, nor for a list that no longer exists (fail closed)."""
    row = session.get(HotList, list_id)
    return row is not None and not row.covert


class HotLists:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock, *, max_entry_days: int) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self.max_entry_days = max_entry_days

    # -- lists ---------------------------------------------------------------------------------------------------
    def create(
        self,
        principal: Principal,
        *,
        name: str,
        default_purpose: str,
        alert_level: str = AlertLevel.MEDIUM.value,
        visibility: str = Visibility.PRIVATE.value,
        covert: bool = False,
        viewers: Iterable[str] = (),
        match_confusable: bool = False,
    ) -> ListView:
        """A new list. ``match_confusable``: its entries also match reads whose plate differs only in characters
        OCR confuses (O/0, B/8, ...; ``plates.confusable_key``)."""
        require(principal, Action.HOTLIST_MANAGE, principal.agency_id, audit=self._audit)
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise FieldInvalid("name", "1-200 characters")
        if default_purpose not in {p.value for p in Purpose}:
            raise FieldInvalid("default_purpose", "one of " + ", ".join(Purpose))
        if alert_level not in {a.value for a in AlertLevel}:
            raise FieldInvalid("alert_level", "low, medium or high")
        if visibility not in {v.value for v in Visibility}:
            raise FieldInvalid("visibility", "private or shared")
        names = sorted(set(viewers))
        if names and not covert:
            raise FieldInvalid("viewers", "only a covert list has named viewers")

        def change(session: Session) -> tuple[HotListCreated, int]:
            if session.scalar(select(HotList.id).where(HotList.agency_id == principal.agency_id, HotList.name == name)):
                raise FieldInvalid("name", f"your agency already has a list named {name!r}")
            row = HotList(
                agency_id=principal.agency_id,
                name=name,
                default_purpose=default_purpose,
                alert_level=alert_level,
                visibility=visibility,
                covert=covert,
                created_ms=self._clock.now_ms(),
                created_by=principal.username,
                match_confusable=match_confusable,
            )
            session.add(row)
            bump_hotlist_generation(session)
            session.flush()
            for username in names:
                user = session.scalars(select(User).where(User.username == username)).one_or_none()
                if user is None or user.agency_id != principal.agency_id:
                    raise FieldInvalid("viewers", f"{username!r} is not a user of your agency")
                session.add(HotListViewer(hot_list_id=row.id, user_id=user.id))
            event = HotListCreated(
                list_id=row.id,
                name=name,
                purpose=default_purpose,
                visibility=visibility,
                covert=covert,
                viewers=names,
            )
            return event, row.id

        _seq, list_id = self._audit.record(principal.actor, change)
        return self.get(principal, list_id)

    def _visible(self, session: Session, principal: Principal, row: HotList | None) -> HotList:
        if row is None or not may_see(session, principal, row):
            raise NotFound("no such hot list")  # a covert list is not acknowledged to others
        return row

    def _seen(self, principal: Principal, list_id: int, action: Action) -> None:
        """Refuse ``action`` on a list the principal may not see (none, another agency's, a covert list it is no
        viewer of, or a role without hot lists) exactly as a made-up id, and audited; then, for
        :data:`Action.HOTLIST_MANAGE`, the table's check on the list's agency, and a covert list's entries are
        changed by its creator only (its named viewers see it)."""
        with self._gov.session() as session:
            row = session.get(HotList, list_id)
            seen = row is not None and may_see(session, principal, row)
            agency_id = row.agency_id if row is not None else None
            creator = row.created_by if row is not None else None
            covert = row is not None and row.covert
        if not seen:
            refuse_unseen(principal, action, audit=self._audit, message="no such hot list")
        if action is Action.HOTLIST_MANAGE:
            require(principal, action, agency_id, audit=self._audit)
            if covert and creator != principal.username:
                refuse(principal, action, agency_id, audit=self._audit, reason=COVERT_CHANGE)

    def _view(self, session: Session, row: HotList) -> ListView:
        now = self._clock.now_ms()
        active = len(
            session.scalars(
                select(HotListEntry.id).where(
                    HotListEntry.hot_list_id == row.id,
                    HotListEntry.removed_ms.is_(None),
                    HotListEntry.expires_ms > now,
                )
            ).all()
        )
        return ListView(
            row.id,
            row.agency_id,
            row.name,
            row.default_purpose,
            row.alert_level,
            row.visibility,
            row.covert,
            row.created_ms,
            row.created_by,
            active,
        )

    def _may_change(self, principal: Principal, list_id: int) -> None:
        # The role first (whatever the list: nothing about it is said), then the list as seen by the principal.
        require(principal, Action.HOTLIST_MANAGE, principal.agency_id, audit=self._audit)
        self._seen(principal, list_id, Action.HOTLIST_MANAGE)

    def for_change(self, principal: Principal, list_id: int) -> ListView:
        """The list, for a principal who may change its entries (refusals audited): what an import or an entry
        form checks before it reads anything it was given."""
        self._may_change(principal, list_id)
        with self._gov.session() as session:
            return self._view(session, self._visible(session, principal, session.get(HotList, list_id)))

    def get(self, principal: Principal, list_id: int) -> ListView:
        self._seen(principal, list_id, Action.HOTLIST_VIEW)
        with self._gov.session() as session:
            return self._view(session, self._visible(session, principal, session.get(HotList, list_id)))

    def listing(self, principal: Principal) -> list[ListView]:
        """The caller's agency's lists that the caller may see."""
        require(principal, Action.HOTLIST_VIEW, principal.agency_id, audit=self._audit)
        found = []
        with self._gov.session() as session:
            for row in session.scalars(
                select(HotList).where(HotList.agency_id == principal.agency_id).order_by(HotList.id)
            ):
                try:
                    found.append(self._view(session, self._visible(session, principal, row)))
                except NotFound:
                    continue
        return found

    # -- entries -------------------------------------------------------------------------------------------------
    def validate(self, list_view: ListView, entries: Iterable[EntryIn]) -> tuple[list[Entry], list[tuple[int, str]]]:
        """Validate every entry; return the valid ones and (index, ``field: reason``) for each invalid one."""
        now = self._clock.now_ms()
        valid, errors = [], []
        for index, raw in enumerate(entries):
            try:
                valid.append(
                    validate_entry(
                        raw, default_purpose=list_view.default_purpose, now_ms=now, max_days=self.max_entry_days
                    )
                )
            except FieldInvalid as invalid:
                errors.append((index, invalid.detail))
        return valid, errors

    def apply(
        self,
        principal: Principal,
        list_id: int,
        *,
        add: list[Entry],
        remove_plates: Iterable[str] = (),
        replace: bool = False,
        source: str = "api",
        rejected: int = 0,
    ) -> dict[str, int]:
        """Add entries (and remove entries by plate or pattern, or, with ``replace``, every entry not in ``add``)
        in one transaction with its audit entry: an import is applied completely or not at all."""
        self._may_change(principal, list_id)
        now = self._clock.now_ms()
        removals = sorted(set(remove_plates))

        def change(session: Session) -> tuple[HotListChanged, dict[str, int]]:
            row = self._visible(session, principal, session.get(HotList, list_id))
            live = HotListEntry.hot_list_id == row.id, HotListEntry.removed_ms.is_(None)
            gone = []
            if replace:
                gone = list(session.scalars(select(HotListEntry.id).where(*live)))
            elif removals:
                gone = list(session.scalars(select(HotListEntry.id).where(*live, HotListEntry.plate.in_(removals))))
            if gone:
                session.execute(update(HotListEntry).where(HotListEntry.id.in_(gone)).values(removed_ms=now))
            removed = len(gone)
            bump_hotlist_generation(session)  # the matcher's mirror follows in the next batch
            session.add_all(
                HotListEntry(
                    hot_list_id=row.id,
                    plate=e.plate,
                    pattern=e.pattern,
                    region=e.region,
                    purpose=e.purpose,
                    reference=e.reference,
                    reason=e.reason,
                    expires_ms=e.expires_ms,
                    added_ms=now,
                    added_by=principal.username,
                )
                for e in add
            )
            counts = {"added": len(add), "removed": removed, "rejected": rejected}
            event = HotListChanged(
                list_id=row.id,
                mode="replace" if replace else "update",
                source=source,
                added=len(add),
                removed=removed,
                rejected=rejected,
            )
            return event, counts

        return self._audit.record(principal.actor, change)[1]

    def entries_page(
        self, principal: Principal, list_id: int, *, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of a list's current entries (``limit`` from ``offset``, in the order they were added) and how
        many it has in all: the web page of a list of 100,000 plates reads one page."""
        self._seen(principal, list_id, Action.HOTLIST_VIEW)
        with self._gov.session() as session:
            row = self._visible(session, principal, session.get(HotList, list_id))
            current = (HotListEntry.hot_list_id == row.id, HotListEntry.removed_ms.is_(None))
            total = session.scalar(select(func.count()).select_from(HotListEntry).where(*current)) or 0
            query = select(HotListEntry).where(*current).order_by(HotListEntry.id).offset(offset).limit(limit)
            return [entry_json(e) for e in session.scalars(query)], total

    def entries(self, principal: Principal, list_id: int, *, include_removed: bool = False) -> list[dict[str, Any]]:
        self._seen(principal, list_id, Action.HOTLIST_VIEW)
        with self._gov.session() as session:
            row = self._visible(session, principal, session.get(HotList, list_id))
            query = select(HotListEntry).where(HotListEntry.hot_list_id == row.id).order_by(HotListEntry.id)
            if not include_removed:
                query = query.where(HotListEntry.removed_ms.is_(None))
            return [entry_json(e) for e in session.scalars(query)]

    def active(self, now_ms: int) -> list[tuple[int, int, int, str, bool, str | None]]:
        """Every entry that matches now, for the matcher: (entry id, list id, list agency, plate or pattern,
        pattern?, region)."""
        with self._gov.session() as session:
            rows = session.execute(
                select(
                    HotListEntry.id,
                    HotList.id,
                    HotList.agency_id,
                    HotListEntry.plate,
                    HotListEntry.pattern,
                    HotListEntry.region,
                )
                .join(HotList, HotList.id == HotListEntry.hot_list_id)
                .where(HotListEntry.removed_ms.is_(None), HotListEntry.expires_ms > now_ms)
            ).all()
        return [(int(a), int(b), int(c), str(d), bool(e), f) for a, b, c, d, e, f in rows]
