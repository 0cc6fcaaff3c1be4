"""Damage to the data, found and explained: broken parts, checksum failures, and reads the records say exist.

Three witnesses of what the reads store should hold are compared: the store itself (``reads``), its key index
(``read_keys``, one key per stored read, compared when the store is opened, before it is rebuilt from ``reads``),
and the audit log (per owner, ``stored`` of ``ingest.batch`` entries less ``deleted`` of ``retention.run``
entries). ClickHouse's own evidence is added: parts it detached as broken, and, in a deep inspection, parts whose
checksums fail. ``plateledger doctor`` prints a :class:`Damage`; ``/readyz`` fails while there is any.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import select

from plateledger.audit.events import ReadsIngested, RetentionRun
from plateledger.store.damage import DetachedPart, PartFault
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditEntry
from plateledger.store.reads import ReadsStore


@dataclass(frozen=True)
class OwnerGap:
    """One owner whose reads disagree with a record of them: ``audited`` (the audit log's stored less deleted),
    ``stored`` (in ``reads``), ``keys`` (``read_keys`` when the store was opened, where it disagreed)."""

    owner: str
    audited: int | None
    stored: int
    keys: int | None = None

    @property
    def missing(self) -> int:
        """Reads on the record but not in the store (negative: reads in the store that no entry records)."""
        return max(self.audited or 0, self.keys or 0) - self.stored


@dataclass
class Damage:
    broken: list[DetachedPart] = field(default_factory=list)
    faults: list[PartFault] = field(default_factory=list)
    gaps: list[OwnerGap] = field(default_factory=list)
    #: Whether checksums were verified and the audit log compared (a deep inspection).
    deep: bool = False

    @property
    def found(self) -> bool:
        return bool(self.broken or self.faults or self.gaps)

    @property
    def missing(self) -> int:
        return sum(max(gap.missing, 0) for gap in self.gaps)

    def lines(self) -> list[str]:
        """One line per finding, naming the part, the owners and the reads affected."""
        lines = [
            f"broken part: {part.table}/{part.name} (detached by ClickHouse, reason {part.reason}; "
            f"{'unknown' if part.rows is None else part.rows} rows) at {part.path}"
            for part in self.broken
        ]
        for fault in self.faults:
            rows = "unknown" if fault.rows is None else str(fault.rows)
            owners = (
                "owners unreadable"
                if fault.owners is None
                else "owners " + ", ".join(f"{o}: {n} reads" for o, n in sorted(fault.owners.items()))
            )
            lines.append(
                f"damaged part: {fault.table}/{fault.part} ({rows} rows; {owners}) fails its checksums, so searches "
                f"that read it fail: {fault.message}"
            )
        for gap in self.gaps:
            records = []
            if gap.audited is not None:
                records.append(f"the audit log records {gap.audited}")
            if gap.keys is not None:
                records.append(f"read_keys held {gap.keys}")
            lines.append(
                f"owner {gap.owner}: {gap.stored} reads in the store, {' and '.join(records)}: "
                + (f"{gap.missing} reads missing" if gap.missing > 0 else f"{-gap.missing} reads not on record")
            )
        return lines

    def advice(self) -> list[str]:
        """What an operator does about it."""
        steps: list[str] = []
        if self.broken or self.gaps:
            steps += [
                "Keep the data directory as it is (copy it first); do not delete the detached/ parts.",
                "Restore the reads store from the latest backup (docs/operations.md), or have each affected "
                "owner re-send its reads for the period: the lost reads' ids were released, so re-sent reads are "
                "stored again (and audited as ingest.batch).",
                "When the reads are back, move the broken part out of detached/ and run `plateledger doctor` again.",
            ]
        if self.faults:
            steps += [
                "Searches that read a damaged part fail. Detach it so the rest stays searchable: "
                "stop the server and run `plateledger doctor --detach-damaged`; the part is then reported as "
                "broken, with the owners and reads affected.",
            ]
        return steps

    def as_json(self) -> dict[str, Any]:
        return {
            "damaged": self.found,
            "deep": self.deep,
            "broken_parts": [
                {"table": p.table, "part": p.name, "reason": p.reason, "rows": p.rows, "path": p.path}
                for p in self.broken
            ],
            "failed_checksums": [
                {"table": f.table, "part": f.part, "rows": f.rows, "owners": f.owners, "message": f.message}
                for f in self.faults
            ],
            "owners": [
                {"owner": g.owner, "stored": g.stored, "audited": g.audited, "keys": g.keys, "missing": g.missing}
                for g in self.gaps
            ],
            "reads_missing": self.missing,
            "findings": self.lines(),
            "advice": self.advice(),
        }


def audited_by_owner(governance: Governance) -> dict[str, int]:
    """Per owner slug, the reads the audit log says are stored: ``stored`` of every ``ingest.batch`` entry less
    ``deleted`` of every ``retention.run`` entry."""
    totals: dict[str, int] = defaultdict(int)
    query = select(AuditEntry.action, AuditEntry.params, AuditEntry.counts).where(
        AuditEntry.action.in_((ReadsIngested.action, RetentionRun.action))
    )
    with governance.session() as session:
        for action, params, counts in session.execute(query.execution_options(yield_per=5000)):
            count = orjson.loads(counts)
            if action == ReadsIngested.action:
                totals[str(orjson.loads(params).get("owner", ""))] += int(count.get("stored", 0))
            else:
                for owner, per in (count.get("per_owner") or {}).items():
                    totals[str(owner)] -= int(per.get("deleted", 0))
    return dict(totals)


def inspect(reads: ReadsStore, governance: Governance, *, deep: bool) -> Damage:
    """What is damaged. Always: parts ClickHouse detached as broken, and owners whose ``read_keys`` held more
    than ``reads`` at open. ``deep``: also every part's checksums (reads the whole store) and the audit log's
    per-owner counts (reads every ingest and retention entry)."""
    damage = Damage(broken=[p for p in reads.detached_parts() if p.broken], deep=deep)
    with governance.session() as session:
        slugs = {int(i): str(s) for i, s in session.execute(select(Agency.id, Agency.slug))}
    keys = {slugs.get(o, str(o)): pair for o, pair in reads.keys_at_open.items()}
    if deep:
        damage.faults = [
            replace(f, owners={slugs.get(int(o), o): n for o, n in f.owners.items()} if f.owners else f.owners)
            for f in reads.failed_checks()
        ]
        stored = {slugs.get(o, str(o)): n for o, n in reads.counts_by_owner().items()}
        audited = audited_by_owner(governance)
        for owner in sorted(set(stored) | set(audited) | set(keys)):
            have, claimed = stored.get(owner, 0), audited.get(owner, 0)
            held = keys[owner][1] if owner in keys else None
            if have != claimed or (held is not None and held > have):
                damage.gaps.append(OwnerGap(owner, claimed, have, held))
    else:
        damage.gaps = [OwnerGap(o, None, r, k) for o, (r, k) in sorted(keys.items()) if k > r]
    return damage
