"""Retention in the governance store: the copies of read data kept outside the reads store.

* **Quarantined reads** (``quarantined_reads``: reads from vendor camera ids not yet registered, held as their
  canonical JSON line) go by the read's own time (``ts`` of the line; the time it arrived when the line has none
  that parses), under the owner's normal limit: a held read is not in the store, so no hold applies to it.
* **Audit detail**: the salts of the audit entries older than ``audit_detail_retention_days``
  (:func:`sweep_salts`): each entry's Merkle leaf stays, its private part can no longer be confirmed.
* **Alert hits** (``alerts``: plate, time, place and camera of the read that matched) go with their read: by the
  read's time, under the owner's limits, a confirmed hit (which holds its read) at the hit limit. Their webhook
  and notification (e-mail, push) delivery logs go with them.

Both run in the transaction of the run's ``retention.completed`` entry, so the counts it records are exactly what
was deleted, and a crash before it commits deletes nothing here (the rerun does it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from plateledger.store.governance import owners_holding
from plateledger.store.models import Alert, AuditEntry, AuditLeaf, NotifyDelivery, QuarantinedRead, WebhookDelivery

CHUNK = 500


def read_ms(line: str, received_ms: int) -> int:
    """The time of a quarantined read's canonical line (epoch ms or ISO 8601), else when it arrived."""
    try:
        ts = orjson.loads(line).get("ts")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            return int(ts)
        if isinstance(ts, str):
            if ts.strip().lstrip("-").isdigit():
                return int(ts)
            return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, AttributeError, OverflowError):
        pass
    return received_ms


def _delete_ids(session: Session, model: type[QuarantinedRead] | type[Alert], ids: list[int]) -> None:
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if model is Alert:
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.alert_id.in_(chunk)))
            session.execute(delete(NotifyDelivery).where(NotifyDelivery.alert_id.in_(chunk)))
        session.execute(delete(model).where(model.id.in_(chunk)))


def sweep_quarantine(session: Session, limits: Mapping[int, tuple[int, int]]) -> int:
    """Delete the quarantined reads past their owner's normal limit; return how many."""
    gone: list[int] = []
    for owner_id in owners_holding(session, QuarantinedRead.agency_id, limits):
        cutoff = limits[owner_id][0]
        rows = session.execute(
            select(QuarantinedRead.id, QuarantinedRead.line, QuarantinedRead.received_ms).where(
                QuarantinedRead.agency_id == owner_id
            )
        )
        gone.extend(row_id for row_id, line, received in rows if read_ms(line, received) < cutoff)
    _delete_ids(session, QuarantinedRead, gone)
    return len(gone)


def sweep_alerts(session: Session, limits: Mapping[int, tuple[int, int]], held: set[tuple[int, str]]) -> int:
    """Delete the alert hits whose read retention deletes (the rule of ``store/sql.py``'s EXPIRED); return how
    many."""
    gone: list[int] = []
    for owner_id in owners_holding(session, Alert.owner_id, limits):
        cutoff, hit_cutoff = limits[owner_id]
        rows = session.execute(
            select(Alert.id, Alert.read_id, Alert.read_ms).where(Alert.owner_id == owner_id, Alert.read_ms < cutoff)
        )
        gone.extend(alert_id for alert_id, read_id, ts in rows if ts < hit_cutoff or (owner_id, read_id) not in held)
    _delete_ids(session, Alert, gone)
    return len(gone)


def sweep_salts(session: Session, before_ms: int) -> int:
    """Delete the commitment salts of the audit entries made before ``before_ms``; returns how many. The entries
    and their leaves stay (the chain and every proof still verify); ``audit export`` then gives no private part."""
    old = select(AuditEntry.seq).where(AuditEntry.ts_ms < before_ms).scalar_subquery()
    kept = select(AuditLeaf.seq).where(AuditLeaf.salt.is_not(None), AuditLeaf.seq.in_(old))
    seqs = list(session.scalars(kept))
    for start in range(0, len(seqs), CHUNK):
        chunk = seqs[start : start + CHUNK]
        session.execute(update(AuditLeaf).where(AuditLeaf.seq.in_(chunk)).values(salt=None))
    return len(seqs)
