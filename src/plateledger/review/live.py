"""The oversight rules on Plateledger's own audit log: continuously, after a stored cursor, and over any period on
demand.

:class:`LiveRules` keeps one :class:`~plateledger.oversight.engine.Monitor` per agency (its rules run with that
agency's policy: thresholds, terms, case-number pattern; its sensitive places and hot-list removals; every
agency's case register and state). :meth:`LiveRules.step` reads the audit entries after the cursor, in sequence
order, feeds each search to its user's agency's monitor, and writes the flags raised (or given more evidence) and
the new cursor in one transaction. It is called by :class:`~plateledger.review.job.OversightJob`, a background
thread of ``plateledger serve``: never inside an audit append, never in a request.

The monitors' state lives in memory. On start, and for an agency whose policy or places change, it is rebuilt by
feeding the entries up to the cursor again without writing (about 20 µs an entry, docs/benchmarks.md), so flags
already stored are neither repeated nor lost; a change applies to searches appended after it (run
:meth:`LiveRules.run_period` to apply it to a past period).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.agencies.registry import Registry
from plateledger.core.clock import Clock
from plateledger.oversight.engine import Monitor
from plateledger.oversight.records import SEARCH_ACTIONS, from_audit
from plateledger.oversight.rules import CaseEntry, Context, Removal
from plateledger.oversight.rules.cases import AfterRemoval
from plateledger.policy.rules import Oversight
from plateledger.review import flagstore
from plateledger.review.places import Places
from plateledger.review.register import CaseRegister
from plateledger.sharing.service import Policies
from plateledger.store.governance import Governance, hotlist_generation
from plateledger.store.models import Alert, AuditEntry, HotList, HotListEntry, OversightCursor, PolicyGeneration


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry in the shape the rules' records are read from (the audit listing's)."""
    return {
        "seq": entry.seq,
        "ts_ms": entry.ts_ms,
        "action": entry.action,
        "actor": entry.actor_username,
        "actor_agency_id": entry.actor_agency_id,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "outcome": entry.outcome,
        "params": orjson.loads(entry.params) if entry.params else {},
        "counts": orjson.loads(entry.counts) if entry.counts else {},
    }


@dataclass
class _Agency:
    id: int
    slug: str
    oversight: Oversight
    places: int
    monitor: Monitor


@dataclass
class Shared:
    """What every agency's rules read and the live rules keep current in place."""

    states: dict[str, str] = field(default_factory=dict)
    cases: dict[tuple[str, str], CaseEntry] = field(default_factory=dict)
    registers: set[str] = field(default_factory=set)
    slugs: dict[int, str] = field(default_factory=dict)
    #: Per agency id: when it was alerted to each plate, by (agency slug, plate), sorted; and the last alert read.
    alerts: dict[int, dict[tuple[str, str], list[int]]] = field(default_factory=dict)
    alert_id: int = 0


class LiveRules:
    def __init__(
        self,
        *,
        governance: Governance,
        registry: Registry,
        policies: Policies,
        register: CaseRegister,
        places: Places,
        clock: Clock,
        batch: int = 2000,
    ) -> None:
        self._gov = governance
        self._registry = registry
        self._policies = policies
        self._register = register
        self._places = places
        self._clock = clock
        self._batch = batch
        self._shared = Shared()
        self._agencies: dict[int, _Agency] = {}
        self._seen: dict[str, Any] = {}
        self.cursor: int | None = None
        self._lock = threading.Lock()

    # -- context ---------------------------------------------------------------------------------------------
    def _removals(self, agency_id: int) -> tuple[Removal, ...]:
        """The agency's hot-list entries that ended: removed, or expired (an expiry still ahead never matches).
        Covert lists are left out: a flag's evidence and explanation (plate, list name) are shown to every auditor
        and admin of the agency, who are not the list's viewers, so a covert list's entries never reach them."""
        with self._gov.session() as session:
            rows = session.execute(
                select(HotListEntry.plate, HotListEntry.removed_ms, HotListEntry.expires_ms, HotList.name)
                .join(HotList, HotList.id == HotListEntry.hot_list_id)
                .where(
                    HotList.agency_id == agency_id,
                    HotList.covert.is_(False),
                    HotListEntry.pattern.is_(False),
                )
            ).all()
        return tuple(Removal(plate, min(removed or expires, expires), name) for plate, removed, expires, name in rows)

    def context(self, agency_id: int, slug: str, oversight: Oversight) -> Context:
        """The context of an agency's rules (the shared mappings are the live ones, updated in place)."""
        patterns = {slug: re.compile(oversight.case_pattern)} if oversight.case_pattern else {}
        return Context(
            params=oversight.params,
            case_patterns=patterns,
            prohibited=oversight.prohibited,
            places=self._places.places_unguarded(agency_id),
            removals=self._removals(agency_id),
            agency_states=self._shared.states,
            cases=self._shared.cases,
            case_registers=self._shared.registers,
            alerts=self._shared.alerts.setdefault(agency_id, {}),
        )

    def _load_alerts(self) -> None:
        """Read the alerts created since the last read into the agencies' alert times (kept in place)."""
        with self._gov.session() as session:
            rows = session.execute(
                select(Alert.id, Alert.agency_id, Alert.plate, Alert.created_ms)
                .where(Alert.id > self._shared.alert_id)
                .order_by(Alert.id)
            ).all()
        for alert_id, agency_id, plate, created_ms in rows:
            slug = self._shared.slugs.get(agency_id) or self._registry.agency_by_id(agency_id).slug
            times = self._shared.alerts.setdefault(agency_id, {}).setdefault((slug, plate.upper()), [])
            bisect.insort(times, created_ms)
            self._shared.alert_id = alert_id

    def _refresh(self) -> set[int]:
        """Bring the shared context up to date; the agencies whose monitor must be rebuilt."""
        rebuild: set[int] = set()
        with self._gov.session() as session:
            policy_generation = session.get_one(PolicyGeneration, 1).value
            hotlists = hotlist_generation(session)
        if self._seen.get("policy") != policy_generation:
            self._seen["policy"] = policy_generation
            for agency in self._registry.agencies():
                self._shared.states[agency.slug] = f"{agency.country}-{agency.state}"
                self._shared.slugs[agency.id] = agency.slug
                known = self._agencies.get(agency.id)
                if known is not None and known.oversight != self._policies.current(agency.slug).policy.oversight:
                    rebuild.add(agency.id)
        if self._seen.get("places") != self._places.changes:
            self._seen["places"] = self._places.changes
            rebuild |= set(self._agencies)  # rare (an admin's change): every monitor reads its places again
        register = self._register.version_unguarded()
        if self._seen.get("register") != register:
            self._seen["register"] = register
            self._shared.cases.clear()
            self._shared.cases.update(self._register.entries_unguarded())
            self._shared.registers.clear()
            self._shared.registers.update(agency for agency, _ in self._shared.cases)
        self._load_alerts()
        if self._seen.get("hotlists") != hotlists:
            self._seen["hotlists"] = hotlists
            for known in self._agencies.values():
                for rule in known.monitor.rules:
                    if isinstance(rule, AfterRemoval):
                        rule.set_removals(self._removals(known.id))
        return rebuild

    def _build(self, agency_id: int, *, upto: int) -> _Agency:
        """A monitor for the agency, fed its searches up to ``upto`` again (nothing written)."""
        slug = self._shared.slugs.get(agency_id) or self._registry.agency_by_id(agency_id).slug
        self._shared.slugs[agency_id] = slug
        oversight = self._policies.current(slug).policy.oversight
        context = self.context(agency_id, slug, oversight)
        agency = _Agency(agency_id, slug, oversight, len(context.places), Monitor(context))
        for entry in self._entries(after=0, upto=upto, agency_id=agency_id):
            record = from_audit(entry_json(entry), self._shared.slugs)
            if record is not None:
                agency.monitor.feed(record)
        for rule in agency.monitor.rules:
            rule.changed()  # what was stored before is not written again
        self._agencies[agency_id] = agency
        return agency

    def _entries(
        self, *, after: int, upto: int | None, agency_id: int, window: tuple[int, int] | None = None
    ) -> Iterator[AuditEntry]:
        """The agency's users' searches after ``after`` (up to ``upto``; made in ``window``), in batches."""
        while True:
            with self._gov.session() as session:
                query = select(AuditEntry).where(
                    AuditEntry.seq > after,
                    AuditEntry.actor_agency_id == agency_id,
                    AuditEntry.action.in_(SEARCH_ACTIONS),
                )
                if upto is not None:
                    query = query.where(AuditEntry.seq <= upto)
                if window is not None:
                    query = query.where(AuditEntry.ts_ms >= window[0], AuditEntry.ts_ms < window[1])
                rows = list(session.scalars(query.order_by(AuditEntry.seq).limit(self._batch)))
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    # -- the live path ---------------------------------------------------------------------------------------
    def _load_cursor(self) -> int:
        with self._gov.session() as session:
            row = session.get(OversightCursor, 1)
            return row.seq if row else 0

    def warm_up(self) -> None:
        """Build, up to the cursor, the monitors of the agencies whose users have searched and of those holding hot
        lists, now (a server, before it takes traffic) rather than at each agency's first search after start: a
        build reads the agency's hot-list entries that end (all of them, the future expiries included) and replays
        its searches, seconds of the interpreter that every request waited for (docs/benchmarks.md, "Performance
        II, second pass"; an agency with 1M entries and no search yet before the start: its first ~100 searches
        waited for it, "fourth pass"). The next step goes on from the cursor."""
        with self._lock:
            if self.cursor is None:
                self.cursor = self._load_cursor()
                self._refresh()
            with self._gov.session() as session:
                searching = set(
                    session.scalars(
                        select(AuditEntry.actor_agency_id)
                        .where(AuditEntry.action.in_(SEARCH_ACTIONS), AuditEntry.actor_agency_id.is_not(None))
                        .distinct()
                    )
                )
                searching.update(session.scalars(select(HotList.agency_id).distinct()))
            for agency_id in sorted(a for a in searching if a is not None and a not in self._agencies):
                self._build(agency_id, upto=self.cursor)

    def step(self) -> int:
        """Read up to one batch of audit entries after the cursor; write their flags and the cursor. Returns the
        number of entries read (0: nothing new)."""
        with self._lock:
            return self._step()

    def _step(self) -> int:
        if self.cursor is None:
            self.cursor = self._load_cursor()
            self._refresh()
            for agency_id in list(self._agencies):
                self._build(agency_id, upto=self.cursor)
        for agency_id in self._refresh():
            self._build(agency_id, upto=self.cursor)
        with self._gov.session() as session:
            head = session.scalar(select(func.max(AuditEntry.seq))) or 0
            rows = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > self.cursor, AuditEntry.seq <= head)
                    .order_by(AuditEntry.seq)
                    .limit(self._batch)
                )
            )
        if not rows:
            return 0
        self._load_alerts()  # an alert created before these searches but after the refresh above
        touched: set[int] = set()
        for entry in rows:
            if entry.action not in SEARCH_ACTIONS or entry.actor_agency_id is None:
                continue
            known = self._agencies.get(entry.actor_agency_id)
            if known is None:
                known = self._build(entry.actor_agency_id, upto=self.cursor)
            record = from_audit(entry_json(entry), self._shared.slugs)
            if record is not None:
                known.monitor.feed(record)
                touched.add(known.id)
        now = self._clock.now_ms()
        last = rows[-1].seq

        def write(session: Session) -> None:
            for agency_id in touched:
                agency = self._agencies[agency_id]
                hours = agency.oversight.params.alert_explains_hours
                for rule in agency.monitor.rules:
                    flagstore.save_all(session, agency_id, rule.changed(), now_ms=now, alert_hours=hours)
            cursor = session.get(OversightCursor, 1)
            if cursor is None:
                session.add(OversightCursor(id=1, seq=last))
            else:
                cursor.seq = last

        with self._gov.session() as session:
            write(session)
        self.cursor = last
        return len(rows)

    def catch_up(self) -> int:
        """Step until no entry is left; the number read."""
        total = 0
        while read := self.step():
            total += read
        return total

    # -- on demand -------------------------------------------------------------------------------------------
    def run_period(self, agency_id: int, slug: str, since_ms: int, until_ms: int) -> dict[str, int]:
        """Every rule over the agency's users' searches made in ``[since_ms, until_ms)``, with its policy in force
        now; the flags are written (merged with those stored). Returns searches read, flags raised and updated."""
        with self._lock:
            return self._run_period(agency_id, slug, since_ms, until_ms)

    def _run_period(self, agency_id: int, slug: str, since_ms: int, until_ms: int) -> dict[str, int]:
        self._refresh()
        oversight = self._policies.current(slug).policy.oversight
        monitor = Monitor(self.context(agency_id, slug, oversight))
        searches = 0
        for entry in self._entries(after=0, upto=None, agency_id=agency_id, window=(since_ms, until_ms)):
            record = from_audit(entry_json(entry), self._shared.slugs)
            if record is not None:
                monitor.feed(record)
                searches += 1
        flags = monitor.analysis().flags
        with self._gov.session() as session:
            counts = flagstore.save_all(
                session,
                agency_id,
                flags,
                now_ms=self._clock.now_ms(),
                alert_hours=oversight.params.alert_explains_hours,
            )
        return {"searches": searches, **counts}
