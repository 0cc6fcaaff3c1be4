"""Start-up reconciliation of ingest intents: the outcome entry a stopped write pass never wrote.

A batch that inserts reads is audited twice (``ingest/service.py``): an ``ingest.intent`` entry before its insert
and an ``ingest.batch`` entry after, with what was stored. A process killed in between (or one whose outcome
entry could not be written) leaves the intent without an outcome, and its intent file under
``DATA/reads/intents/`` (``store/journal.py``). When the platform opens, after the reads store has rebuilt any
missing keys, this appends for each such batch an ``ingest.batch`` entry with outcome ``recovered`` and
``stored`` counted in the store, so the ``stored`` counts of ``ingest.batch`` entries add up to what was stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from sqlalchemy import select

from plateledger.audit.events import IngestIntent, ReadsIngested
from plateledger.audit.log import Actor, AuditLog
from plateledger.store.governance import Governance
from plateledger.store.models import AuditEntry
from plateledger.store.reads import ReadsStore

log = logging.getLogger("plateledger.integrity")


@dataclass(frozen=True)
class Recovered:
    """One batch completed at start-up: its intent entry, the entry appended, and the reads counted."""

    intent_seq: int
    seq: int
    owner: str
    to_store: int
    stored: int


def _intent(governance: Governance, ref: str) -> AuditEntry | None:
    needle = orjson.dumps({"batch": ref}).decode()[1:-1]  # "batch":"<file>/<n>", as the sorted params hold it
    with governance.session() as session:
        return session.scalars(
            select(AuditEntry).where(AuditEntry.action == IngestIntent.action, AuditEntry.params.contains(needle))
        ).first()


def _has_outcome(governance: Governance, intent_seq: int) -> bool:
    with governance.session() as session:
        found = session.scalar(
            select(AuditEntry.seq).where(
                AuditEntry.action == ReadsIngested.action,
                AuditEntry.seq > intent_seq,
                AuditEntry.params.contains(f'"intent":{intent_seq},'),
            )
        )
    return found is not None


def reconcile(*, reads: ReadsStore, governance: Governance, audit: AuditLog) -> list[Recovered]:
    """Append the missing outcome of every journalled batch, then remove the intent files. A batch without an
    intent entry inserted nothing (its intent came first), and one with an outcome needs none."""
    recovered: list[Recovered] = []
    for name in reads.journal.names():
        for batch in reads.journal.batches(name):
            intent = _intent(governance, f"{name}/{batch.batch}")
            if intent is None or _has_outcome(governance, intent.seq):
                continue
            params, counts = orjson.loads(intent.params), orjson.loads(intent.counts)
            actor = Actor(intent.actor_username or "system", intent.actor_agency_id, intent.actor_user_id)
            seq = audit.append(
                actor,
                ReadsIngested(
                    outcome="recovered",
                    owner=str(params.get("owner", "")),
                    channel=str(params.get("channel", "")),
                    source=str(params.get("source", "")),
                    stored=batch.stored,
                    duplicates=int(counts.get("duplicates", 0)),
                    rejected=int(counts.get("rejected", 0)),
                    intent=intent.seq,
                    not_stored=int(counts.get("to_store", batch.fresh)) - batch.stored,
                ),
            )
            recovered.append(Recovered(intent.seq, seq, str(params.get("owner", "")), batch.fresh, batch.stored))
            log.warning(
                "ingest batch of audit entry %d had no outcome (the process stopped): %d of %d reads are stored; "
                "recorded as audit entry %d",
                intent.seq,
                batch.stored,
                batch.fresh,
                seq,
            )
        reads.journal.drop(name)
    return recovered
