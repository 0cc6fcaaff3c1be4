"""An owner's access log: every access to the owner's data (search, image, alert, export) or refusal of it, derived
from the audit log.

The audit log is the single source: nothing else is written, so the access log cannot disagree with it. A hot-list
match on X's reads (``alert.raised``, ``alert.withheld`` naming X as ``owner``) is in X's log as kind ``alert``,
permitted (1 read) or withheld with the rule. A download of a search's answer (``search.exported``) is in X's log
as kind ``export`` when the file holds X's reads (``counts.per_owner``). An entry of ``search.plate``,
``search.area``, ``image.viewed`` (kind ``image``) or ``search.refused`` concerns owner X when (see docs/audit.md, "How
refusals are recorded"):

* X's slug is in ``counts.per_owner`` — permitted, with the reads returned (0 included);
* X's slug is in ``params.withheld`` — withheld, with that rule;
* ``params.withheld_others`` is set, X is named in neither map and X's first camera was added in the entry's hour
  or before (the gate decides every agency with a camera; hours, because that is what the public leaf records)
  — withheld, with that rule.

A supervisor's decision on a search held for approval, or review of a break-glass search (``approval.granted``,
``approval.refused``, ``break_glass.reviewed``), concerns the owners the search would read (``params.owners``):
kind ``approval``, its outcome the decision (``approved``, ``refused``, ``reviewed``), the note as ``reason``.
These are not searches: the transparency report counts them apart.

A malformed refusal (neither ``withheld`` nor ``withheld_others``) was refused before any owner was evaluated
and concerns no owner. SQL narrows the scan (action, time, and the owner's slug or a ``withheld_others`` in the
text); :func:`touch` decides each candidate exactly, by :func:`plateledger_verify.leaf.touch` on the entry's
public part (the Merkle leaf's, :mod:`plateledger.audit.public`): ``plateledger-verify report`` recounts the
published leaves with the same function, so the access log, the transparency report built from it and the
public recount agree by construction.

A match of a **covert** list is sealed while its list entry is in force (not expired, not removed): the owner
sees that agency X's covert list matched one of its reads, when, the outcome and the purpose, but not the plate,
the case reference, the list, the entry or the read; once the entry expires or is removed, the whole entry.

Reading the access log is itself an access to audit data: :meth:`AccessLog.view` is for the owner's admins and
auditors only and records an ``access_log.viewed`` entry (or its refusal) before answering.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, func, or_, select

from plateledger.audit.events import AccessLogViewed
from plateledger.audit.log import AuditLog
from plateledger.audit.public import split
from plateledger.audit.treecheck import fields_of
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, SystemClock, iso_ms
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.policy.actions import Action, require
from plateledger.store.governance import Governance, agency_named
from plateledger.store.models import Agency, AuditEntry, Camera, HotList, HotListEntry
from plateledger_verify import leaf

SEARCH_ACTIONS = ("search.plate", "search.area", "search.description", "search.refused", "image.viewed")
#: Hot-list matches on the owner's reads: an alert raised for the list's agency, or withheld by the owner's policy.
ALERT_ACTIONS = ("alert.raised", "alert.withheld")
#: A search's answer downloaded: the owner's reads in the file (``counts.per_owner``).
EXPORT_ACTIONS = ("search.exported",)
#: A supervisor's decision on a held search or a break-glass search (docs/approval.md).
APPROVAL_ACTIONS = ("approval.granted", "approval.refused", "break_glass.reviewed")
APPROVAL_OUTCOMES = {"approval.granted": "approved", "approval.refused": "refused", "break_glass.reviewed": "reviewed"}
ACTIONS = SEARCH_ACTIONS + ALERT_ACTIONS + EXPORT_ACTIONS + APPROVAL_ACTIONS
#: The access-log kind of each action that is not a search (``search.plate`` is ``plate`` and so on).
KINDS = {"image.viewed": "image", "search.exported": "export", "alert.raised": "alert", "alert.withheld": "alert"}
#: How the owner's data fared in one search.
PERMITTED, WITHHELD = "permitted", "withheld"
OUTCOMES = (PERMITTED, WITHHELD)
MAX_LIMIT = 1000
#: The query of a covert list's match while the list entry is in force, in place of plate, list, entry and read.
SEALED = {"covert": True}
_BATCH = 2000


@dataclass(frozen=True)
class Touch:
    """How one audit entry concerns one owner."""

    outcome: str
    rows: int | None
    rule: str | None
    limited: str | None


@dataclass(frozen=True)
class AccessEntry:
    """One search as the owner sees it. ``rows``: reads of this owner returned (permitted only); ``rule``: why
    the owner's data was withheld; ``limited``: why a permitted window was narrowed; ``reason``: why a
    ``search.refused`` search was turned down as a whole."""

    seq: int
    ts_ms: int
    action: str
    kind: str
    outcome: str
    requester: str | None
    requester_name: str | None
    user: str | None
    purpose: str | None
    case_number: str | None
    query: dict[str, Any]
    rows: int | None
    rule: str | None
    limited: str | None
    warrant: str | None
    reason: str | None


@dataclass(frozen=True)
class AccessLogPage:
    agency: str
    entries: list[AccessEntry]
    #: Pass as ``after_seq`` for the next page; None when this page is the last.
    next_after_seq: int | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def touch(public: Mapping[str, Any], params: Mapping[str, Any], slug: str, first_camera_ms: int | None) -> Touch | None:
    """How the entry with public part ``public`` (its leaf's: :func:`plateledger.audit.public.split`) concerns the
    owner ``slug``, whose first camera was added at ``first_camera_ms``; None when it does not. Decided by
    :func:`plateledger_verify.leaf.touch`, as a public recount of the leaves decides it (the hour of the first
    camera against the entry's hour); ``limited`` comes from the entry's parameters. An approval decision
    (``approval.*``, ``break_glass.reviewed``) concerns the owners it names and is not a search (no recount)."""
    action = public.get("action")
    if action in APPROVAL_ACTIONS:
        owners = params.get("owners")
        if not isinstance(owners, list) or slug not in owners:
            return None
        return Touch(APPROVAL_OUTCOMES[str(action)], None, None, None)
    first_hour = leaf.hour_of(first_camera_ms) if first_camera_ms is not None else None
    touched = leaf.touch(public, slug, first_hour)
    if touched is None:
        return None
    limited = _dict(params.get("limited")).get(slug) if touched.outcome == PERMITTED else None
    if public.get("action") not in SEARCH_ACTIONS:
        limited = None
    return Touch(touched.outcome, touched.rows, touched.rule, str(limited) if limited else None)


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def entry_json(entry: AccessEntry) -> dict[str, Any]:
    """The one JSON shape of an access-log entry (API and CLI)."""
    return {
        "seq": entry.seq,
        "ts": iso_ms(entry.ts_ms),
        "action": entry.action,
        "kind": entry.kind,
        "outcome": entry.outcome,
        "requester": entry.requester,
        "requester_name": entry.requester_name,
        "user": entry.user,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "query": entry.query,
        "rows": entry.rows,
        "rule": entry.rule,
        "limited": entry.limited,
        "warrant": entry.warrant,
        "reason": entry.reason,
    }


def page_json(page: AccessLogPage) -> dict[str, Any]:
    return {
        "agency": page.agency,
        "entries": [entry_json(e) for e in page.entries],
        "next_after_seq": page.next_after_seq,
    }


class AccessLog:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock | None = None) -> None:
        self._gov = governance
        self._audit = audit
        self._clock: Clock = clock or SystemClock()

    def _owner(self, slug: str) -> tuple[Agency, int | None]:
        with self._gov.session() as session:
            agency = agency_named(session, slug)
            first_camera = session.scalar(select(func.min(Camera.created_ms)).where(Camera.agency_id == agency.id))
        return agency, first_camera

    def first_camera_ms(self, slug: str) -> int | None:
        """When agency ``slug``'s first camera was added (None: it has none). From then on a search's
        ``withheld_others`` concerns it (:func:`touch`); the transparency report publishes its hour, so a recount
        from the public leaves of the audit log applies the same rule."""
        return self._owner(slug)[1]

    def view(
        self,
        principal: Principal,
        slug: str,
        *,
        after_seq: int = 0,
        limit: int = 100,
        since_ms: int | None = None,
        until_ms: int | None = None,
        outcome: str | None = None,
    ) -> AccessLogPage:
        """One page of ``slug``'s access log for one of its admins or auditors; the view (or its refusal) is
        audited before the page is returned."""
        filters: dict[str, Any] = {
            "after_seq": after_seq,
            "limit": limit,
            "since_ms": since_ms,
            "until_ms": until_ms,
            "outcome": outcome,
        }
        try:
            if not 1 <= limit <= MAX_LIMIT:
                raise FieldInvalid("limit", f"between 1 and {MAX_LIMIT}")
            if after_seq < 0:
                raise FieldInvalid("after_seq", "0 or more")
            if outcome is not None and outcome not in OUTCOMES:
                raise FieldInvalid("outcome", " or ".join(OUTCOMES))
            owner, _ = self._owner(slug)
        except (FieldInvalid, NotFound) as refusal:
            self._audit.append(
                principal.actor,
                AccessLogViewed(outcome="refused", agency=slug[:64], filters=filters, reason=refusal.detail[:300]),
            )
            raise
        # A refusal by the table is audited there (``action.refused``), once: no second entry for the same refusal.
        require(principal, Action.ACCESS_LOG_READ, owner.id, audit=self._audit)
        page = self.page(slug, after_seq=after_seq, limit=limit, since_ms=since_ms, until_ms=until_ms, outcome=outcome)
        self._audit.append(principal.actor, AccessLogViewed(agency=slug, filters=filters, entries=len(page.entries)))
        return page

    def page(
        self,
        slug: str,
        *,
        after_seq: int = 0,
        limit: int = 100,
        since_ms: int | None = None,
        until_ms: int | None = None,
        outcome: str | None = None,
    ) -> AccessLogPage:
        """A page without permission checks or audit (for reports and :meth:`view`)."""
        found: list[AccessEntry] = []
        for entry in self.entries(slug, after_seq=after_seq, since_ms=since_ms, until_ms=until_ms):
            if outcome is not None and entry.outcome != outcome:
                continue
            found.append(entry)
            if len(found) > limit:
                break
        more = len(found) > limit
        found = found[:limit]
        return AccessLogPage(slug, found, found[-1].seq if more else None)

    def entries(
        self, slug: str, *, after_seq: int = 0, since_ms: int | None = None, until_ms: int | None = None
    ) -> Iterator[AccessEntry]:
        """Every access-log entry of ``slug`` after ``after_seq`` in sequence order; ``since_ms`` inclusive,
        ``until_ms`` exclusive. No permission check: callers are :meth:`view` and aggregate reports."""
        _, first_camera = self._owner(slug)
        named = f'%"{_like_literal(slug)}"%'
        candidates: list[ColumnElement[bool]] = [
            AuditEntry.counts.like(named, escape="\\"),
            AuditEntry.params.like(named, escape="\\"),
        ]
        if first_camera is not None:
            # Non-null withheld_others is a string; a false match only admits a candidate that touch() drops. The
            # leaf compares hours: entries from the start of the first camera's hour on.
            since_hour = leaf.hour_of(first_camera) * leaf.HOUR_MS
            candidates.append(
                and_(AuditEntry.params.like('%"withheld\\_others":"%', escape="\\"), AuditEntry.ts_ms >= since_hour)
            )
        names: dict[int, tuple[str, str]] = {}
        cursor = after_seq
        while True:
            query = select(AuditEntry).where(AuditEntry.seq > cursor, AuditEntry.action.in_(ACTIONS), or_(*candidates))
            if since_ms is not None:
                query = query.where(AuditEntry.ts_ms >= since_ms)
            if until_ms is not None:
                query = query.where(AuditEntry.ts_ms < until_ms)
            with self._gov.session() as session:
                rows = list(session.scalars(query.order_by(AuditEntry.seq).limit(_BATCH)))
                missing = {r.actor_agency_id for r in rows if r.actor_agency_id is not None} - names.keys()
                if missing:
                    for agency in session.scalars(select(Agency).where(Agency.id.in_(missing))):
                        names[agency.id] = (agency.slug, agency.name)
            sealed = self._sealed(rows)
            for row in rows:
                entry = self._entry(row, slug, first_camera, names, sealed)
                if entry is not None:
                    yield entry
            if len(rows) < _BATCH:
                return
            cursor = rows[-1].seq

    def _sealed(self, rows: list[AuditEntry]) -> set[int]:
        """The hot-list entries, among the alert rows', of a covert list that are still in force (neither expired
        nor removed): their matches are shown sealed (:data:`SEALED`)."""
        ids: set[int] = set()
        for row in rows:
            if row.action in ALERT_ACTIONS:
                entry_id = _dict(orjson.loads(row.params)).get("entry_id")
                if isinstance(entry_id, int):
                    ids.add(entry_id)
        if not ids:
            return set()
        with self._gov.session() as session:
            found = session.scalars(
                select(HotListEntry.id)
                .join(HotList, HotList.id == HotListEntry.hot_list_id)
                .where(
                    HotListEntry.id.in_(ids),
                    HotList.covert.is_(True),
                    HotListEntry.removed_ms.is_(None),
                    HotListEntry.expires_ms > self._clock.now_ms(),
                )
            )
            return set(found)

    @staticmethod
    def _entry(
        row: AuditEntry,
        slug: str,
        first_camera: int | None,
        names: dict[int, tuple[str, str]],
        sealed: set[int],
    ) -> AccessEntry | None:
        requester = names.get(row.actor_agency_id) if row.actor_agency_id is not None else None
        params = _dict(orjson.loads(row.params))
        public = split(fields_of(row), requester[0] if requester else None).public
        touched = touch(public, params, slug, first_camera)
        if touched is None:
            return None
        case_number = row.case_number
        refused = row.action == "search.refused"
        kind = (
            str(params.get("kind", "plate")) if refused else KINDS.get(row.action, row.action.removeprefix("search."))
        )
        if refused and "image" in _dict(params.get("query")):
            kind = "image"
        if row.action == "search.exported":  # which search was downloaded, and as what
            params = {**params, "query": {k: params.get(k) for k in ("search_seq", "format")}}
        if row.action in APPROVAL_ACTIONS:
            kind = "approval"
            params = {**params, "query": {"request": params.get("request"), "kind": params.get("kind")}}
        if row.action in ALERT_ACTIONS:
            # Alerts are raised by the system for the list's agency, which the entry names.
            kind, agency = "alert", params.get("agency")
            requester = (str(agency), str(params.get("agency_name", agency))) if agency else None
            params = {**params, "query": {k: params.get(k) for k in ("plate", "list_id", "entry_id", "read_id")}}
            if params.get("entry_id") in sealed:
                # A covert list's match while its entry is in force: which agency, when, the outcome and the
                # purpose; not the plate, the case reference, the list, the entry or the read (docs/hotlists.md).
                params = {**params, "query": dict(SEALED)}
                case_number = None
        warrant = params.get("warrant")
        return AccessEntry(
            seq=row.seq,
            ts_ms=row.ts_ms,
            action=row.action,
            kind=kind,
            outcome=touched.outcome,
            requester=requester[0] if requester else None,
            requester_name=requester[1] if requester else None,
            user=row.actor_username,
            purpose=row.purpose,
            case_number=case_number,
            query=_dict(params.get("query")),
            rows=touched.rows,
            rule=touched.rule,
            limited=touched.limited,
            warrant=str(warrant) if warrant else None,
            reason=(
                str(params.get("note"))
                if row.action in APPROVAL_ACTIONS
                else str(params.get("reason"))
                if refused and params.get("reason")
                else None
            ),
        )
