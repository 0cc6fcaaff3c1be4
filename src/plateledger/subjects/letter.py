"""The letter an agency sends the registered keeper in answer to a subject request.

Per agency, from its own data only: the reads it holds of the plate per calendar month, when each month's reads
are deleted under its retention policy, the agency's hot lists with an active entry for the plate (covert lists
left out), and the searches of the plate that returned the agency's reads, counted per requesting agency and
month. No place, time, camera, officer, case or reason. When one of the plate's reads is held for a case (a
``case`` hold, :class:`~plateledger.store.models.ReadHold`), the letter neither confirms nor denies, from the same
template, and says nothing else.

Generating it reads the plate's data, so it is itself audited (``subject_access.answered``) before it is returned,
and only for an admin of the agency once the keeper's verification is recorded, by another admin of the agency
(two people: the admin who recorded the verification cannot also generate the letter).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from plateledger.audit.events import SubjectAccessAnswered
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid, PlateledgerError
from plateledger.plates import (
    confusable_key,
    contains_pattern,
    is_pattern,
    normalise_pattern,
    pattern_matches,
    validate_plate,
)
from plateledger.sharing.service import Policies
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditEntry, HotList, HotListEntry, ReadHold
from plateledger.store.reads import ReadsStore
from plateledger.subjects.requests import QueueItem, SubjectRequests

FORMATS = ("html", "pdf")
#: The searches a letter counts: plate searches (their query names the plate) that returned the owner's reads.
SEARCH_ACTIONS = ("search.plate",)
_BATCH = 2000


@dataclass(frozen=True)
class MonthReads:
    month: str
    reads: int
    #: The day by which every read of the month is deleted under the normal retention limit.
    deleted_by: str


@dataclass(frozen=True)
class ListEntry:
    name: str
    purpose: str
    until: str


@dataclass(frozen=True)
class MonthSearches:
    agency: str
    month: str
    searches: int


@dataclass(frozen=True)
class Letter:
    """What the letter says. With ``ncnd`` the lists are empty and the letter neither confirms nor denies."""

    reference: str
    written: str
    agency: str
    agency_name: str
    keeper: str
    postal_address: str
    plate: str
    region: str
    requested: str
    verified_method: str
    verified_on: str
    ncnd: bool
    retention_days: int
    hit_retention_days: int
    months: list[MonthReads] = field(default_factory=list)
    hot_lists: list[ListEntry] = field(default_factory=list)
    searches: list[MonthSearches] = field(default_factory=list)

    @property
    def reads(self) -> int:
        return sum(m.reads for m in self.months)

    @property
    def search_count(self) -> int:
        return sum(s.searches for s in self.searches)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def _deleted_by(month: str, days: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    start = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return (start + timedelta(days=days)).isoformat()


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m")


def covers(asked: Any, fuzzy: Any, region: Any, plate: str, plate_region: str, match: Any = None) -> bool:
    """Whether a plate search's query (as audited) asks for ``plate``: the same plate, its confusable variants
    when fuzzy, a wildcard pattern that matches it, or (``match`` contains) a part of it; with a region, only
    that region."""
    if not isinstance(asked, str) or not asked:
        return False
    if isinstance(region, str) and region and region.upper() != plate_region:
        return False
    fuzzily = fuzzy is True or (isinstance(fuzzy, str) and fuzzy.lower() in ("true", "1"))
    try:
        if match == "contains":
            part = contains_pattern(asked)[1:-1]
            return confusable_key(part) in confusable_key(plate) if fuzzily else part in plate
        if is_pattern(asked):
            return pattern_matches(normalise_pattern(asked), plate)
        wanted = validate_plate(asked)
    except PlateledgerError:
        return False
    if fuzzily:
        return confusable_key(wanted) == confusable_key(plate)
    return wanted == plate


class Letters:
    def __init__(
        self,
        *,
        governance: Governance,
        reads: ReadsStore,
        audit: AuditLog,
        clock: Clock,
        policies: Policies,
        requests: SubjectRequests,
    ) -> None:
        self._gov = governance
        self._reads = reads
        self._audit = audit
        self._clock = clock
        self._policies = policies
        self._requests = requests

    def letter(self, principal: Principal, request_id: int, *, fmt: str = "html") -> Letter:
        """The agency's letter for request ``request_id``: refused (audited) unless the principal is an admin of a
        candidate agency, the keeper is verified, and the principal is not the admin who recorded that
        verification; audited before it is returned."""
        request = self._requests.verified(principal, request_id)
        if fmt not in FORMATS:
            raise FieldInvalid("format", " or ".join(FORMATS))
        letter = self.compose(principal.agency_id, request)
        event = SubjectAccessAnswered(
            request_id=request_id,
            agency=letter.agency,
            plate=letter.plate,
            region=letter.region,
            format=fmt,
            ncnd=letter.ncnd,
            reads=letter.reads,
            searches=letter.search_count,
            hot_lists=len(letter.hot_lists),
        )

        def change(session: Session) -> tuple[SubjectAccessAnswered, None]:
            self._requests.mark_answered(session, principal.agency_id, request_id, principal.username)
            return event, None

        self._audit.record(principal.actor, change)
        return letter

    def compose(self, agency_id: int, request: QueueItem) -> Letter:
        """The letter's content (no permission check, no audit: :meth:`letter` does both)."""
        now = self._clock.now_ms()
        with self._gov.session() as session:
            agency = session.get(Agency, agency_id)
            assert agency is not None
            case_held = list(
                session.scalars(select(ReadHold.read_id).where(ReadHold.owner_id == agency_id, ReadHold.kind == "case"))
            )
        policy = self._policies.current(agency.slug).policy
        counted = self._reads.plate_months(agency_id, request.plate, (request.region, ""), case_held)
        base = Letter(
            reference=request.reference,
            written=_day(now),
            agency=agency.slug,
            agency_name=agency.name,
            keeper=request.name,
            postal_address=request.postal_address,
            plate=request.plate,
            region=request.region,
            requested=_day(request.created_ms),
            verified_method=request.verification_method or "",
            verified_on=request.verified_on or "",
            ncnd=True,
            retention_days=policy.retention_days,
            hit_retention_days=policy.hit_retention_days,
        )
        if any(held for _month, _reads, held in counted):
            return base
        return replace(
            base,
            ncnd=False,
            months=[MonthReads(m, n, _deleted_by(m, policy.retention_days)) for m, n, _held in counted],
            hot_lists=self._hot_lists(agency_id, request.plate, request.region, now),
            searches=self._searches(agency.slug, request.plate, request.region),
        )

    def _hot_lists(self, agency_id: int, plate: str, region: str, now: int) -> list[ListEntry]:
        """The agency's hot lists, covert ones left out, with an entry in force for the plate (or a pattern
        matching it) in its region or any."""
        with self._gov.session() as session:
            rows = session.execute(
                select(HotList.name, HotList.default_purpose, HotListEntry)
                .join(HotListEntry, HotListEntry.hot_list_id == HotList.id)
                .where(
                    HotList.agency_id == agency_id,
                    HotList.covert.is_(False),
                    HotListEntry.removed_ms.is_(None),
                    HotListEntry.expires_ms > now,
                )
                .order_by(HotList.name, HotListEntry.id)
            ).all()
        found: dict[str, ListEntry] = {}
        for name, _purpose, entry in rows:
            if entry.region and entry.region != region:
                continue
            if not (pattern_matches(entry.plate, plate) if entry.pattern else entry.plate == plate):
                continue
            until = _day(entry.expires_ms)
            if name not in found or found[name].until < until:
                found[name] = ListEntry(name, entry.purpose, until)
        return list(found.values())

    def _searches(self, slug: str, plate: str, region: str) -> list[MonthSearches]:
        """Plate searches that returned the agency's reads and asked for this plate, per requesting agency and
        month (from the audit log)."""
        counted: Counter[tuple[int | None, str]] = Counter()
        for entry in self._search_entries(slug):
            per_owner = orjson.loads(entry.counts).get("per_owner") or {}
            if not isinstance(per_owner, dict) or not per_owner.get(slug):
                continue
            query = (orjson.loads(entry.params) or {}).get("query") or {}
            if not isinstance(query, dict):
                continue
            if covers(query.get("plate"), query.get("fuzzy"), query.get("region"), plate, region, query.get("match")):
                counted[(entry.actor_agency_id, _month(entry.ts_ms))] += 1
        if not counted:
            return []
        ids = {agency for agency, _ in counted if agency is not None}
        with self._gov.session() as session:
            names = {a.id: a.name for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}
        found = [
            MonthSearches(names.get(agency, "unknown") if agency is not None else "unknown", month, n)
            for (agency, month), n in counted.items()
        ]
        return sorted(found, key=lambda s: (s.month, s.agency))

    def _search_entries(self, slug: str) -> Iterator[AuditEntry]:
        named = '%"' + slug.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
        cursor = 0
        while True:
            with self._gov.session() as session:
                rows = list(
                    session.scalars(
                        select(AuditEntry)
                        .where(
                            AuditEntry.seq > cursor,
                            AuditEntry.action.in_(SEARCH_ACTIONS),
                            AuditEntry.counts.like(named, escape="\\"),
                        )
                        .order_by(AuditEntry.seq)
                        .limit(_BATCH)
                    )
                )
            yield from rows
            if len(rows) < _BATCH:
                return
            cursor = rows[-1].seq
