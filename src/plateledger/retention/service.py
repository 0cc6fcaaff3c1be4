"""Retention runs: delete every owner's reads past the limits of its current policy, audited with counts.

A run computes each owner's cutoffs from its policy in force (version 0, the documented default, when its admin
has set none) and the clock: reads older than ``retention_days`` are deleted, except reads linked to an alert or
a case (a :class:`~plateledger.store.models.ReadHold`), which are deleted when older than ``hit_retention_days``.

The audit entry (:class:`~plateledger.audit.events.RetentionRun`) is appended *before* anything is deleted,
with the exact counts the deletion then removes (the store counts, calls back, and deletes under one lock). If
the append fails, nothing is deleted (fail closed).

A run is resumable: the entry commits with a ``retention.pending`` row (the limits and holds it applies), every
step deletes by that same condition (so doing a step twice deletes nothing more), and the steps run in order:
the reads store (journalled itself: ``ReadsStore._delete_expired``), images, then quarantined reads and alert hits
in the transaction of the :class:`~plateledger.audit.events.RetentionCompleted` entry, which removes the row. A
run killed at any step is completed by the next run (before its own), so the stores and the audit log agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plateledger.audit.events import RetentionCompleted, RetentionRun
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock
from plateledger.core.crashpoints import crashpoint
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.images.store import ImageStore
from plateledger.policy.actions import Action, require
from plateledger.policy.rules import DAY_MS, DEFAULT, Policy
from plateledger.retention.sweep import sweep_alerts, sweep_quarantine, sweep_salts
from plateledger.sharing.service import policies_in_force
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditEntry, Meta, ReadHold
from plateledger.store.reads import Expiry, ExpiryCount, ReadsStore

#: What a hold links a read to.
HOLD_KINDS = ("alert", "case")
MAX_HOLD_TEXT = 64
#: The ``meta`` row of a run whose entry is written and whose deletion is not complete.
PENDING = "retention.pending"


@dataclass(frozen=True)
class OwnerRetention:
    """One owner's part of a run."""

    slug: str
    policy_version: int
    retention_days: int
    hit_retention_days: int
    cutoff_ms: int
    hit_cutoff_ms: int
    deleted: int
    held: int
    remaining: int

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RetentionReport:
    """A run: its audit entry, time, owners (every agency with reads or a policy of its own), and the superseded
    parts still on disk when it returned (0: the deleted reads are gone from disk)."""

    audit_seq: int
    ran_ms: int
    owners: list[OwnerRetention] = field(default_factory=list)
    outdated_parts: int = 0
    completed: RetentionCompleted | None = None
    resumed: RetentionCompleted | None = None

    @property
    def deleted(self) -> int:
        return sum(o.deleted for o in self.owners)

    def as_json(self) -> dict[str, Any]:
        return {
            "audit_seq": self.audit_seq,
            "ran_ms": self.ran_ms,
            "deleted": self.deleted,
            "outdated_parts": self.outdated_parts,
            "owners": [o.as_json() for o in self.owners],
            "removed": self.completed.counts() if self.completed else {},
            "resumed_run": self.resumed.run_seq if self.resumed else None,
        }


@dataclass(frozen=True)
class _Owner:
    slug: str
    version: int
    policy: Policy
    custom: bool


class Retention:
    def __init__(
        self,
        *,
        reads: ReadsStore,
        governance: Governance,
        audit: AuditLog,
        clock: Clock,
        images: ImageStore | None = None,
        audit_detail_days: int | None = None,
    ) -> None:
        self._reads = reads
        #: Days after which the audit entries' salts are deleted (None: kept forever).
        self._audit_detail_days = audit_detail_days
        self._images = images
        self._gov = governance
        self._audit = audit
        self._clock = clock

    def _owners(self) -> tuple[dict[int, _Owner], list[tuple[int, str]]]:
        """Every agency with the policy in force (the newest version, else the default), and the holds."""
        with self._gov.session() as session:
            owners = {a.id: _Owner(a.slug, 0, DEFAULT, False) for a in session.scalars(select(Agency))}
            parsed: dict[str, Policy] = {}  # agencies share policy texts: each parsed once
            for agency_id, (version, body) in policies_in_force(session).items():
                policy = parsed.get(body) or parsed.setdefault(body, Policy.model_validate_json(body))
                owners[agency_id] = _Owner(owners[agency_id].slug, version, policy, True)
            held = [(h.owner_id, h.read_id) for h in session.scalars(select(ReadHold))]
        return owners, held

    def limit_days(self, agency_id: int) -> int:
        """The retention of ``agency_id``'s policy in force, in days: older reads are deleted by the next run
        unless an alert or a case holds them."""
        with self._gov.session() as session:
            found = policies_in_force(session).get(agency_id)
        policy = Policy.model_validate_json(found[1]) if found is not None else DEFAULT
        return policy.retention_days

    def run(self, actor: Actor, *, settle_s: float = 60.0) -> RetentionReport:
        """One retention run for every owner, audited as ``actor`` (an operator, or ``SYSTEM`` when scheduled).

        Raises :class:`~plateledger.core.errors.AuditUnavailable` (and deletes nothing) if the entry cannot be
        appended. ``settle_s``: how long to wait for the superseded parts to leave the disk.
        """
        require(actor, Action.RETENTION_RUN, None, audit=self._audit)
        now = self._clock.now_ms()
        owners, held = self._owners()
        limits = {
            agency_id: Expiry(
                cutoff_ms=now - owner.policy.retention_days * DAY_MS,
                hit_cutoff_ms=now - owner.policy.hit_retention_days * DAY_MS,
            )
            for agency_id, owner in owners.items()
        }
        report: list[OwnerRetention] = []
        seq: list[int] = []

        def audit(counts: dict[int, ExpiryCount]) -> None:
            for agency_id, owner in sorted(owners.items(), key=lambda item: item[1].slug):
                count = counts.get(agency_id)
                if count is None and not owner.custom:
                    continue  # no reads and the default policy: nothing to record
                count = count or ExpiryCount(stored=0, expired=0, held=0)
                report.append(
                    OwnerRetention(
                        slug=owner.slug,
                        policy_version=owner.version,
                        retention_days=owner.policy.retention_days,
                        hit_retention_days=owner.policy.hit_retention_days,
                        cutoff_ms=limits[agency_id].cutoff_ms,
                        hit_cutoff_ms=limits[agency_id].hit_cutoff_ms,
                        deleted=count.expired,
                        held=count.held,
                        remaining=count.stored - count.expired,
                    )
                )
            event = RetentionRun(
                owners={
                    o.slug: {
                        "policy_version": o.policy_version,
                        "retention_days": o.retention_days,
                        "hit_retention_days": o.hit_retention_days,
                        "cutoff_ms": o.cutoff_ms,
                        "hit_cutoff_ms": o.hit_cutoff_ms,
                    }
                    for o in report
                },
                per_owner={o.slug: {"deleted": o.deleted, "held": o.held, "remaining": o.remaining} for o in report},
            )
            pending = orjson.dumps(
                {"limits": {str(o): [e.cutoff_ms, e.hit_cutoff_ms] for o, e in limits.items()}, "held": held}
            ).decode()
            seq.append(
                self._audit.record(actor, lambda session: (event, session.merge(Meta(key=PENDING, value=pending))))[0]
            )

        resumed = self._resume(actor, settle_s=settle_s)
        result = self._reads.expire(limits, held, before_delete=audit, settle_s=settle_s)
        crashpoint("retention.reads_deleted")
        bounds = {o: (e.cutoff_ms, e.hit_cutoff_ms) for o, e in limits.items()}
        completed = self._complete(actor, seq[0], bounds, held, resumed=False)
        return RetentionReport(
            audit_seq=seq[0],
            ran_ms=now,
            owners=report,
            outdated_parts=result.outdated_parts,
            completed=completed,
            resumed=resumed,
        )

    def _resume(self, actor: Actor, *, settle_s: float) -> RetentionCompleted | None:
        """Complete a run that a crash interrupted after its entry was written (its ``retention.pending`` row is
        still there): the same deletions, by the same limits and holds, then its completion entry."""
        with self._gov.session() as session:
            row = session.get(Meta, PENDING)
            if row is None:
                return None
            pending = orjson.loads(row.value)
            run_seq = session.scalar(
                select(AuditEntry.seq)
                .where(AuditEntry.action == RetentionRun.action)
                .order_by(AuditEntry.seq.desc())
                .limit(1)
            )
        bounds = {int(o): (int(c), int(h)) for o, (c, h) in pending["limits"].items()}
        held = [(int(o), str(r)) for o, r in pending["held"]]
        self._reads.expire({o: Expiry(c, h) for o, (c, h) in bounds.items()}, held, settle_s=settle_s)
        return self._complete(actor, int(run_seq or 0), bounds, held, resumed=True)

    def _complete(
        self,
        actor: Actor,
        run_seq: int,
        bounds: dict[int, tuple[int, int]],
        held: list[tuple[int, str]],
        *,
        resumed: bool,
    ) -> RetentionCompleted:
        """The run's steps outside the reads store, then its completion entry (which clears the pending row)."""
        images = self._images.expire(bounds, held) if self._images is not None else 0
        crashpoint("retention.images_deleted")
        held_set = set(held)

        def change(session: Session) -> tuple[RetentionCompleted, RetentionCompleted]:
            event = RetentionCompleted(
                run_seq=run_seq,
                resumed=resumed,
                images=images,
                quarantined=sweep_quarantine(session, bounds),
                alerts=sweep_alerts(session, bounds, held_set),
                salts=self._sweep_salts(session),
            )
            session.execute(delete(Meta).where(Meta.key == PENDING))
            return event, event

        return self._audit.record(actor, change)[1]

    def _sweep_salts(self, session: Session) -> int | None:
        if self._audit_detail_days is None:
            return None
        return sweep_salts(session, self._clock.now_ms() - self._audit_detail_days * DAY_MS)

    def hold(self, owner_id: int, read_id: str, kind: str, reference: str, *, session: Session | None = None) -> bool:
        """Keep one of ``owner_id``'s reads for its hit retention rather than the normal one, because it is linked
        to an alert or a case (``kind``) named by ``reference``. Returns False when that hold already existed.

        Not audited here: the caller records the action that creates the hold (a confirmed alert, a case); pass
        its session (from :meth:`AuditLog.record`) to commit the hold in the same transaction as its entry.
        """
        if kind not in HOLD_KINDS:
            raise FieldInvalid("kind", "one of " + ", ".join(HOLD_KINDS))
        for name, value in (("read_id", read_id), ("reference", reference)):
            if not 1 <= len(value) <= MAX_HOLD_TEXT:
                raise FieldInvalid(name, f"1-{MAX_HOLD_TEXT} characters")
        if session is None:
            with self._gov.session() as own:
                return self._hold(own, owner_id, read_id, kind, reference)
        return self._hold(session, owner_id, read_id, kind, reference)

    def _hold(self, session: Session, owner_id: int, read_id: str, kind: str, reference: str) -> bool:
        if session.get(Agency, owner_id) is None:
            raise NotFound(f"no agency #{owner_id}")
        existing = session.scalars(
            select(ReadHold.id).where(
                ReadHold.owner_id == owner_id,
                ReadHold.read_id == read_id,
                ReadHold.kind == kind,
                ReadHold.reference == reference,
            )
        ).first()
        if existing is not None:
            return False
        session.add(
            ReadHold(
                owner_id=owner_id, read_id=read_id, kind=kind, reference=reference, created_ms=self._clock.now_ms()
            )
        )
        return True
