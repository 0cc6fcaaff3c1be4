"""Approval requests: held searches, supervisors' decisions, single-use claims, break-glass review.

The search engine (:mod:`plateledger.search.engine`) holds a search the gate refused for approval (it calls
:meth:`Approvals.hold` inside the transaction of the ``search.refused`` entry), claims an approved request when
the requester runs the search again (:meth:`Approvals.claim`, then :meth:`Approvals.consume` inside the
transaction of the answer's audit entry, so an approval is used once even by two runs at the same time), and
opens a break-glass item in the transaction of a break-glass search's entry. Supervisors decide and review here;
every decision is audited in the transaction that records it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plateledger.approvals.canonical import canonical_json, query_hash
from plateledger.approvals.notices import RequestView, notice, queue_item
from plateledger.audit.events import (
    ApprovalEvent,
    ApprovalGranted,
    ApprovalQueueViewed,
    ApprovalRefused,
    BreakGlassReviewed,
)
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import Conflict, FieldInvalid
from plateledger.policy.actions import Action, refuse, refuse_unseen, require
from plateledger.policy.gate import Approval
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, ApprovalDecision, ApprovalRequest, User

log = logging.getLogger(__name__)

#: How long a supervisor has to review a break-glass search.
REVIEW_MS = 24 * 3_600_000
MAX_NOTE = 500
PENDING, APPROVED, REFUSED, USED = "pending", "approved", "refused", "used"
OPEN, REVIEWED = "open", "reviewed"
STATES = (PENDING, APPROVED, REFUSED, USED, OPEN, REVIEWED)


@dataclass(frozen=True)
class Claim:
    """An approved request claimed for a run: the gate's input, the hash the run must match, who approved."""

    approval: Approval
    query_hash: str
    approved_by: list[dict[str, str]]


def _note(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise FieldInvalid("note", "required: say why (1-500 characters)")
    if len(text) > MAX_NOTE or any(ord(c) < 32 for c in text):
        raise FieldInvalid("note", f"1-{MAX_NOTE} characters without control characters")
    return text


class Approvals:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock, *, ttl_s: int) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._ttl_ms = ttl_s * 1000
        self._listeners: list[Callable[[int, dict[str, Any]], None]] = []
        self._lock = threading.Lock()

    # --- called by the search engine, inside the audit entry's transaction --------------------------------------

    def hold(
        self,
        session: Session,
        principal: Principal,
        canonical: dict[str, Any],
        *,
        approvers: set[int],
        reasons: dict[str, str],
        break_glass: bool = False,
        note: str | None = None,
    ) -> int:
        """Store a held search (or, ``break_glass``, an open review item of one that ran) with the requester's
        note: its id. The caller announces it (:meth:`announce`) once its transaction has committed."""
        now = self._clock.now_ms()
        row = ApprovalRequest(
            requester_user_id=principal.user_id,
            requester_agency_id=principal.agency_id,
            kind=str(canonical["kind"]),
            purpose=str(canonical["purpose"]),
            case_number=str(canonical["case_number"]),
            canonical=canonical_json(canonical),
            query_hash=query_hash(canonical),
            owners=orjson.dumps(canonical["owners"]).decode(),
            approvers=orjson.dumps(sorted(approvers)).decode(),
            reasons=orjson.dumps(reasons, option=orjson.OPT_SORT_KEYS).decode(),
            state=OPEN if break_glass else PENDING,
            break_glass=break_glass,
            created_ms=now,
            review_due_ms=now + REVIEW_MS if break_glass else None,
            note=(note or "").strip()[:MAX_NOTE] or None,
        )
        session.add(row)
        session.flush()
        return row.id

    def claim(self, principal: Principal, request_id: int) -> tuple[Claim | None, str, list[str]]:
        """The approved request ``request_id`` of ``principal``, ready to run: (claim, "", owners), or (None,
        why not, the request's owners) — owners only when the request is the principal's own."""
        now = self._clock.now_ms()
        with self._gov.session() as session:
            row = session.get(ApprovalRequest, request_id)
            if row is None or row.requester_user_id != principal.user_id or row.break_glass:
                return None, f"no approval request #{request_id} of yours", []
            owners = list(orjson.loads(row.owners))
            if row.state == PENDING:
                return None, f"approval request #{request_id} is not approved yet", owners
            if row.state == REFUSED:
                return None, f"approval request #{request_id} was refused", owners
            if row.state == USED:
                return None, f"approval request #{request_id} was already used: an approval runs once", owners
            if row.expires_ms is None or row.expires_ms <= now:
                return None, f"the approval of request #{request_id} expired at {iso_ms(row.expires_ms or 0)}", owners
            approved = list(
                session.execute(
                    select(ApprovalDecision.username, ApprovalDecision.agency_id, Agency.slug)
                    .join(Agency, Agency.id == ApprovalDecision.agency_id)
                    .where(ApprovalDecision.request_id == row.id, ApprovalDecision.decision == APPROVED)
                )
            )
            return (
                Claim(
                    approval=Approval(request_id=row.id, agencies=frozenset(a.agency_id for a in approved)),
                    query_hash=row.query_hash,
                    approved_by=[{"user": a.username, "agency": a.slug} for a in approved],
                ),
                "",
                owners,
            )

    def consume(self, session: Session, request_id: int) -> None:
        """Mark the approved request used, in the answer's transaction; Conflict (and nothing committed) when
        another run used it first or it expired meanwhile."""
        now = self._clock.now_ms()
        done = session.execute(
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == request_id,
                ApprovalRequest.state == APPROVED,
                ApprovalRequest.expires_ms > now,
            )
            .values(state=USED, used_ms=now)
        )
        if getattr(done, "rowcount", 0) != 1:
            raise Conflict(f"approval request #{request_id} was already used: an approval runs once")

    # --- supervisors ------------------------------------------------------------------------------------------

    def _row(self, principal: Principal, action: Action, request_id: int) -> ApprovalRequest:
        """The request, for a principal of one of its approving agencies (anyone else learns nothing of it)."""
        require(principal, action, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            row = session.get(ApprovalRequest, request_id)
            if row is not None:
                session.expunge(row)
        if row is None or principal.agency_id not in orjson.loads(row.approvers):
            refuse_unseen(principal, action, audit=self._audit, message=f"no approval request #{request_id}")
        return row

    def decide(self, principal: Principal, request_id: int, *, approve: bool, note: str | None) -> RequestView:
        """Approve or refuse held request ``request_id`` as a supervisor of an agency it names, with a note."""
        action = Action.APPROVAL_DECIDE
        row = self._row(principal, action, request_id)
        if row.requester_user_id == principal.user_id:
            refuse(
                principal,
                action,
                principal.agency_id,
                audit=self._audit,
                reason="the requester cannot approve or refuse their own search: it takes a second person",
            )
        text = _note(note)
        if row.break_glass or row.state != PENDING:
            raise Conflict(f"approval request #{request_id} is {row.state}, not pending")

        def change(session: Session) -> tuple[ApprovalEvent, None]:
            now = self._clock.now_ms()
            current = session.get(ApprovalRequest, request_id, with_for_update=True)
            if current is None or current.state != PENDING:
                raise Conflict(f"approval request #{request_id} is no longer pending")
            done = set(
                session.scalars(
                    select(ApprovalDecision.agency_id).where(
                        ApprovalDecision.request_id == request_id, ApprovalDecision.decision == APPROVED
                    )
                )
            )
            if principal.agency_id in done:
                raise Conflict(f"approval request #{request_id} was already approved for your agency")
            decision = APPROVED if approve else REFUSED
            session.add(
                ApprovalDecision(
                    request_id=request_id,
                    agency_id=principal.agency_id,
                    user_id=principal.user_id,
                    username=principal.username,
                    decision=decision,
                    note=text,
                    ts_ms=now,
                )
            )
            expires = None
            if not approve:
                current.state = REFUSED
            elif done | {principal.agency_id} >= set(orjson.loads(current.approvers)):
                current.state = APPROVED
                expires = current.expires_ms = now + self._ttl_ms
            fields = self._event_fields(session, current, text)
            return (ApprovalGranted(**fields, expires_ms=expires) if approve else ApprovalRefused(**fields)), None

        self._audit.record(principal.actor, change)
        return self.view(request_id)

    def review(self, principal: Principal, request_id: int, *, note: str | None) -> RequestView:
        """Review a break-glass search as a supervisor of an agency it names (not the one who ran it)."""
        action = Action.BREAK_GLASS_REVIEW
        row = self._row(principal, action, request_id)
        if row.requester_user_id == principal.user_id:
            refuse(
                principal,
                action,
                principal.agency_id,
                audit=self._audit,
                reason="the requester cannot review their own break-glass search: it takes a second person",
            )
        text = _note(note)
        if not row.break_glass or row.state != OPEN:
            raise Conflict(f"request #{request_id} is not an open break-glass search")

        def change(session: Session) -> tuple[ApprovalEvent, None]:
            now = self._clock.now_ms()
            current = session.get(ApprovalRequest, request_id, with_for_update=True)
            if current is None or current.state != OPEN:
                raise Conflict(f"break-glass search #{request_id} was already reviewed")
            current.state = REVIEWED
            session.add(
                ApprovalDecision(
                    request_id=request_id,
                    agency_id=principal.agency_id,
                    user_id=principal.user_id,
                    username=principal.username,
                    decision=REVIEWED,
                    note=text,
                    ts_ms=now,
                )
            )
            late = current.review_due_ms is not None and now > current.review_due_ms
            return BreakGlassReviewed(**self._event_fields(session, current, text), late=late), None

        self._audit.record(principal.actor, change)
        return self.view(request_id)

    @staticmethod
    def _event_fields(session: Session, row: ApprovalRequest, note: str) -> dict[str, Any]:
        user = session.get(User, row.requester_user_id)
        agency = session.get(Agency, row.requester_agency_id)
        return {
            "request": row.id,
            "kind": row.kind,
            "purpose": row.purpose,
            "case_number": row.case_number,
            "requested_by": user.username if user else "",
            "requester": agency.slug if agency else "",
            "owners": list(orjson.loads(row.owners)),
            "query_hash": row.query_hash,
            "note": note,
        }

    # --- lists ------------------------------------------------------------------------------------------------

    def listing(self, principal: Principal, *, break_glass: bool, states: tuple[str, ...]) -> list[RequestView]:
        """Requests the principal's agency must decide (or, ``break_glass``, review) in ``states``, oldest
        first. They hold no reads, but each names its query (a plate, a place), purpose, case and requester, so
        showing them is audited (``approval.queue_viewed``: which list, the states and the request ids), before
        the answer and in the transaction that reads them; when none is shown, nothing is written."""
        require(principal, Action.APPROVAL_VIEW, principal.agency_id, audit=self._audit)
        for state in states:
            if state not in STATES:
                raise FieldInvalid("state", "one of " + ", ".join(STATES))

        def listed(session: Session) -> list[RequestView]:
            rows = session.scalars(
                select(ApprovalRequest)
                .where(ApprovalRequest.break_glass.is_(break_glass), ApprovalRequest.state.in_(states))
                .order_by(ApprovalRequest.id)
            )
            mine = [row for row in rows if principal.agency_id in orjson.loads(row.approvers)]
            return [self._view(session, row) for row in mine]

        with self._gov.session() as session:
            if not listed(session):
                return []

        def change(session: Session) -> tuple[ApprovalQueueViewed, list[RequestView]]:
            views = listed(session)
            event = ApprovalQueueViewed(
                agency=principal.agency_slug,
                break_glass=break_glass,
                states=states,
                requests=tuple(v.id for v in views),
            )
            return event, views

        return self._audit.record(principal.actor, change)[1]

    def requests_json(self, principal: Principal, state: str = PENDING) -> dict[str, Any]:
        """The answer of ``GET /api/v1/approvals`` (and the CLI's): held searches in ``state`` (or ``all``)."""
        states = (PENDING, APPROVED, REFUSED, USED) if state == "all" else (state,)
        return {"requests": [v.json() for v in self.listing(principal, break_glass=False, states=states)]}

    def break_glass_json(self, principal: Principal, state: str = OPEN) -> dict[str, Any]:
        """The answer of ``GET /api/v1/break-glass`` (and the CLI's): break-glass searches in ``state`` (or
        ``all``), each marked ``overdue`` when still open past its 24-hour review deadline."""
        states = (OPEN, REVIEWED) if state == "all" else (state,)
        now = self._clock.now_ms()
        return {
            "items": [
                {**v.json(), "overdue": v.state == OPEN and v.review_due_ms is not None and now > v.review_due_ms}
                for v in self.listing(principal, break_glass=True, states=states)
            ]
        }

    def view(self, request_id: int) -> RequestView:
        with self._gov.session() as session:
            row = session.get(ApprovalRequest, request_id)
            assert row is not None
            return self._view(session, row)

    @staticmethod
    def _view(session: Session, row: ApprovalRequest) -> RequestView:
        user = session.get(User, row.requester_user_id)
        agency = session.get(Agency, row.requester_agency_id)
        rows = list(
            session.scalars(
                select(ApprovalDecision).where(ApprovalDecision.request_id == row.id).order_by(ApprovalDecision.id)
            )
        )
        wanted = {*orjson.loads(row.approvers), *(d.agency_id for d in rows)}
        slugs = {a.id: a.slug for a in session.execute(select(Agency.id, Agency.slug).where(Agency.id.in_(wanted)))}
        decisions = [
            {
                "decision": d.decision,
                "user": d.username,
                "agency": slugs.get(d.agency_id, ""),
                "note": d.note,
                "at": iso_ms(d.ts_ms),
            }
            for d in rows
        ]
        return RequestView(
            id=row.id,
            state=row.state,
            break_glass=row.break_glass,
            kind=row.kind,
            purpose=row.purpose,
            case_number=row.case_number,
            requested_by=user.username if user else "",
            requester=agency.slug if agency else "",
            created_ms=row.created_ms,
            canonical=orjson.loads(row.canonical),
            query_hash=row.query_hash,
            owners=list(orjson.loads(row.owners)),
            approvers=[slugs.get(a, str(a)) for a in orjson.loads(row.approvers)],
            reasons=dict(orjson.loads(row.reasons)),
            expires_ms=row.expires_ms,
            used_ms=row.used_ms,
            review_due_ms=row.review_due_ms,
            decisions=decisions,
            note=row.note,
        )

    # --- the oversight review queue and the alert channels ----------------------------------------------------

    def open_break_glass(self, session: Session, agency_id: int) -> list[dict[str, Any]]:
        """The open break-glass searches a supervisor of ``agency_id`` must review, oldest first, as the oversight
        review queue shows them (:func:`~plateledger.approvals.notices.queue_item`). The caller authorises and
        audits: this reads inside its transaction."""
        now = self._clock.now_ms()
        rows = session.scalars(
            select(ApprovalRequest)
            .where(ApprovalRequest.break_glass.is_(True), ApprovalRequest.state == OPEN)
            .order_by(ApprovalRequest.id)
        )
        return [queue_item(self._view(session, r), now) for r in rows if agency_id in orjson.loads(r.approvers)]

    def subscribe(self, listener: Callable[[int, dict[str, Any]], None]) -> None:
        """``listener(agency_id, notice)`` is called for each approving agency once a search is held for approval
        or a break-glass search has run (committed and audited): the alert channels' senders (webhooks, MQTT)."""
        with self._lock:
            self._listeners.append(listener)

    def announce(self, request_id: int) -> None:
        """Hand the notice of request ``request_id`` to each listener, once per approving agency. Called after the
        request's transaction committed; a failure here is logged, never the search's failure."""
        try:
            with self._gov.session() as session:
                row = session.get(ApprovalRequest, request_id)
                if row is None:
                    return
                body = notice(self._view(session, row))
                approvers = [int(a) for a in orjson.loads(row.approvers)]
        except Exception:
            log.exception("approval notice #%s not announced", request_id)
            return
        with self._lock:
            listeners = list(self._listeners)
        for agency_id in approvers:
            for listener in listeners:
                try:
                    listener(agency_id, body)
                except Exception:
                    log.exception("approval notice #%s: a listener failed", request_id)

    def break_glass_counts(self, slug: str, agency_id: int, since_ms: int, until_ms: int) -> dict[str, int]:
        """Break-glass searches made in ``[since_ms, until_ms)`` by the agency's users or of its reads: still
        open, open past their review deadline, reviewed (the transparency report; aggregate counts only)."""
        now = self._clock.now_ms()
        counts = {"total": 0, "open": 0, "overdue": 0, "reviewed": 0}
        with self._gov.session() as session:
            rows = session.scalars(
                select(ApprovalRequest).where(
                    ApprovalRequest.break_glass.is_(True),
                    ApprovalRequest.created_ms >= since_ms,
                    ApprovalRequest.created_ms < until_ms,
                )
            )
            for row in rows:
                if row.requester_agency_id != agency_id and slug not in orjson.loads(row.owners):
                    continue
                counts["total"] += 1
                if row.state == REVIEWED:
                    counts["reviewed"] += 1
                else:
                    counts["open"] += 1
                    if row.review_due_ms is not None and now > row.review_due_ms:
                        counts["overdue"] += 1
        return counts
