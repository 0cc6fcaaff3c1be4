"""The review queue: the oversight flags on an agency's users' searches, for its auditors and admins
(``oversight.review``): grouped by user and rule, each with its evidence (the audit entries it cites, the numbers,
the threshold, the rule's explanation), dismissed, confirmed or escalated with a note. Listing flags, opening a
flag's evidence and every decision are audited (``oversight.queue_viewed``, ``oversight.flag_viewed``,
``oversight.flag_decided``), before the answer; so is a run of the rules
over a period (``oversight.run``, ``oversight.run`` in the table). Counts per rule go to the transparency report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plateledger.approvals.service import Approvals
from plateledger.audit.events import (
    OversightBreakGlassViewed,
    OversightFlagDecided,
    OversightFlagViewed,
    OversightQueueViewed,
    OversightRan,
)
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.oversight.rules import RULES
from plateledger.policy.actions import Action, HasActor, actor_of, require
from plateledger.review import flagstore
from plateledger.review.flagstore import DECISIONS, QUEUED, STATUSES
from plateledger.review.live import LiveRules, entry_json
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditEntry, OversightFlag

MAX_EVIDENCE = 500
MAX_NOTE = 2000
MAX_RUN_DAYS = 3660


class ReviewQueue:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, live: LiveRules, approvals: Approvals
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._live = live
        self._approvals = approvals

    def _agency(self, slug: str) -> Agency:
        return self._gov.agency(slug)

    def queue(self, who: Actor | HasActor, agency: str, *, status: str = "queue") -> dict[str, Any]:
        """The agency's flags of ``status`` (``queue``: open and escalated, what awaits a reviewer), grouped by
        user (or the case, for a case's flags) and rule, the largest group first; and the counts by status.
        Showing flags is audited (``oversight.queue_viewed``: the status and the flag ids), before the answer and
        in the transaction that reads them; when none is shown, nothing is written (the counts alone name no one).
        """
        if status not in (*STATUSES, "queue"):
            raise FieldInvalid("status", "queue, " + ", ".join(STATUSES))
        found = self._agency(agency)
        require(who, Action.OVERSIGHT_REVIEW, found.id, audit=self._audit)
        wanted = QUEUED if status == "queue" else (status,)
        with self._gov.session() as session:
            counts, shown = self._listing(session, found.id, wanted)
        if shown:

            def change(session: Session) -> tuple[OversightQueueViewed, tuple[Counter[str], list[OversightFlag]]]:
                listed = self._listing(session, found.id, wanted)
                flags = tuple(row.id for row in listed[1])
                return OversightQueueViewed(agency=found.slug, status=status, flags=flags), listed

            counts, shown = self._audit.record(actor_of(who), change)[1]
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in shown:
            flag = flagstore.view(row)
            flag.pop("refs")
            groups[(row.actor, row.rule)].append(flag)
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
        glass = self._break_glass(who, found) if status == "queue" else []
        return {
            "agency": agency,
            "status": status,
            "counts": {s: counts[s] for s in STATUSES},
            "break_glass": glass,
            "break_glass_counts": {"open": len(glass), "overdue": sum(1 for g in glass if g["overdue"])},
            "groups": [
                {"actor": actor, "rule": rule, "title": flags[0]["title"], "flags": flags}
                for (actor, rule), flags in ordered
            ],
        }

    @staticmethod
    def _listing(session: Session, agency_id: int, wanted: tuple[str, ...]) -> tuple[Counter[str], list[OversightFlag]]:
        """The agency's flag counts by status, and its flags in ``wanted`` (newest first), read in ``session``."""
        rows = list(
            session.scalars(
                select(OversightFlag)
                .where(OversightFlag.agency_id == agency_id)
                .order_by(OversightFlag.first_ms.desc(), OversightFlag.id.desc())
            )
        )
        return Counter(r.status for r in rows), [r for r in rows if r.status in wanted]

    def _break_glass(self, who: Actor | HasActor, found: Agency) -> list[dict[str, Any]]:
        """The open break-glass searches the agency's supervisors must review, with their evidence (the query
        included): showing them is audited (``oversight.break_glass_viewed``), before the answer; none, nothing
        is shown and nothing written. Reviewing them stays the supervisors' act (``break_glass.review``)."""
        with self._gov.session() as session:
            if not self._approvals.open_break_glass(session, found.id):
                return []

        def change(session: Session) -> tuple[OversightBreakGlassViewed, list[dict[str, Any]]]:
            items = self._approvals.open_break_glass(session, found.id)
            return OversightBreakGlassViewed(agency=found.slug, requests=tuple(i["id"] for i in items)), items

        return self._audit.record(actor_of(who), change)[1]

    def _row(self, session: Session, agency_id: int, flag_id: int) -> OversightFlag:
        row = session.get(OversightFlag, flag_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound(f"no oversight flag #{flag_id}")
        return row

    def flag(self, who: Actor | HasActor, agency: str, flag_id: int) -> dict[str, Any]:
        """One flag with its evidence: the audit entries it cites (up to :data:`MAX_EVIDENCE`). Audited."""
        found = self._agency(agency)
        require(who, Action.OVERSIGHT_REVIEW, found.id, audit=self._audit)

        def change(session: Session) -> tuple[OversightFlagViewed, dict[str, Any]]:
            row = self._row(session, found.id, flag_id)
            view = flagstore.view(row)
            refs = view["refs"][:MAX_EVIDENCE]
            entries = session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(refs)).order_by(AuditEntry.seq))
            view["entries"] = [_evidence(e) for e in entries]
            view["entries_left_out"] = max(0, len(view["refs"]) - MAX_EVIDENCE)
            return OversightFlagViewed(agency=agency, flag_id=flag_id, rule=row.rule), view

        return self._audit.record(actor_of(who), change)[1]

    def decide(self, who: Actor | HasActor, agency: str, flag_id: int, decision: str, note: str) -> dict[str, Any]:
        """Dismiss, confirm or escalate a flag with a note (an escalated flag stays in the queue until dismissed
        or confirmed; a dismissed or confirmed one is final). Audited with the note."""
        if decision not in DECISIONS:
            raise FieldInvalid("decision", "one of " + ", ".join(DECISIONS))
        note = (note or "").strip()
        if not 1 <= len(note) <= MAX_NOTE:
            raise FieldInvalid("note", f"say why, in 1-{MAX_NOTE} characters")
        found = self._agency(agency)
        require(who, Action.OVERSIGHT_REVIEW, found.id, audit=self._audit)
        actor = actor_of(who)
        now = self._clock.now_ms()

        def change(session: Session) -> tuple[OversightFlagDecided, dict[str, Any]]:
            row = self._row(session, found.id, flag_id)
            if row.status in ("dismissed", "confirmed"):
                raise Conflict(f"oversight flag #{flag_id} was already {row.status}")
            previous = row.status
            row.status, row.note, row.decided_ms, row.decided_by = decision, note, now, actor.username
            event = OversightFlagDecided(
                agency=agency,
                flag_id=flag_id,
                rule=row.rule,
                user=row.username,
                decision=decision,
                previous=previous,
                note=note,
            )
            return event, flagstore.view(row)

        return self._audit.record(actor, change)[1]

    def run(self, who: Actor | HasActor, agency: str, *, since_ms: int, until_ms: int) -> dict[str, Any]:
        """Run every rule over the agency's users' searches made in ``[since_ms, until_ms)`` with the policy in
        force, store the flags (merged with those stored) and audit the run (``oversight.run``)."""
        if until_ms <= since_ms:
            raise FieldInvalid("until", "after since")
        if until_ms - since_ms > MAX_RUN_DAYS * 86_400_000:
            raise FieldInvalid("since", f"a period of at most {MAX_RUN_DAYS} days")
        found = self._agency(agency)
        require(who, Action.OVERSIGHT_RUN, found.id, audit=self._audit)
        counts = self._live.run_period(found.id, found.slug, since_ms, until_ms)
        event = OversightRan(
            agency=agency,
            since=iso_ms(since_ms),
            until=iso_ms(until_ms),
            searches=counts["searches"],
            raised=counts["raised"],
            updated=counts["updated"],
        )
        self._audit.append(actor_of(who), event)
        return {"agency": agency, "since": iso_ms(since_ms), "until": iso_ms(until_ms), **counts}

    def counts(self, agency_id: int, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
        """Per rule, the flags raised in ``[since_ms, until_ms)`` and where they stand now (public: counts only)."""
        with self._gov.session() as session:
            rows = session.execute(
                select(OversightFlag.rule, OversightFlag.status).where(
                    OversightFlag.agency_id == agency_id,
                    OversightFlag.raised_ms >= since_ms,
                    OversightFlag.raised_ms < until_ms,
                )
            ).all()
        by_rule: dict[str, Counter[str]] = defaultdict(Counter)
        for rule, status in rows:
            by_rule[rule][status] += 1
        return [
            {
                "rule": cls.id,
                "title": cls.title,
                "raised": by_rule[cls.id].total(),
                **{s: by_rule[cls.id][s] for s in STATUSES},
            }
            for cls in RULES
        ]


def _evidence(entry: AuditEntry) -> dict[str, Any]:
    shown = entry_json(entry)
    query = shown["params"].get("query") or {}
    return {
        "seq": entry.seq,
        "ts": iso_ms(entry.ts_ms),
        "action": entry.action,
        "actor": entry.actor_username,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "outcome": entry.outcome,
        "query": query,
        "owners": sorted(shown["counts"].get("per_owner") or {}),
    }
