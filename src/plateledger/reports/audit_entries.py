"""Reading the audit log: the one listing the API (``GET /api/v1/audit``), the web UI's audit browser and export,
and ``plateledger audit list`` all call, with one access rule and one shape.

An agency's admins and auditors read the entries of their own agency's users (``audit.read``, ``audit.export`` in
docs/permissions.md); an operator at the console reads every agency's, or one agency's. Reading audit data is
itself audited: ``audit.listed`` (or ``audit.exported``) is appended before the page is returned, and a refusal
is appended as ``action.refused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from plateledger.audit.events import AuditExported, AuditListed, event_classes
from plateledger.audit.log import Actor, AuditLog, VerifyResult, entry_fields
from plateledger.core.clock import iso_ms
from plateledger.core.errors import AuditUnavailable, FieldInvalid
from plateledger.core.settings import Settings
from plateledger.policy.actions import Action, HasActor, actor_of, require
from plateledger.store.governance import missing_sqlite_file
from plateledger.store.models import AuditEntry

MAX_LIMIT = 1000
ACTIONS = frozenset(cls.action for cls in event_classes())


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as every door shows it."""

    seq: int
    ts_ms: int
    action: str
    actor: str | None
    actor_agency_id: int | None
    #: The client address of an HTTP request (socket peer, or a trusted proxy's X-Forwarded-For); None at the console.
    client: str | None
    purpose: str | None
    case_number: str | None
    outcome: str
    params: dict[str, Any]
    counts: dict[str, Any]
    prev_hash: str
    hash: str
    #: The stored fields the hash covers (with ``hash``): what an export writes, so the chain can be checked.
    stored: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": iso_ms(self.ts_ms),
            "action": self.action,
            "actor": self.actor,
            "actor_agency_id": self.actor_agency_id,
            "client": self.client,
            "purpose": self.purpose,
            "case_number": self.case_number,
            "outcome": self.outcome,
            "params": self.params,
            "counts": self.counts,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        seq=entry.seq,
        ts_ms=entry.ts_ms,
        action=entry.action,
        actor=entry.actor_username,
        actor_agency_id=entry.actor_agency_id,
        client=entry.client,
        purpose=entry.purpose,
        case_number=entry.case_number,
        outcome=entry.outcome,
        params=orjson.loads(entry.params) if entry.params else {},
        counts=orjson.loads(entry.counts) if entry.counts else {},
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        stored={**entry_fields(entry), "hash": entry.hash},
    )


@dataclass(frozen=True)
class AuditPage:
    """Entries in sequence order; ``next_after_seq``: pass as ``after_seq`` for the next page (None: the last)."""

    entries: list[AuditRow]
    next_after_seq: int | None

    def as_json(self) -> dict[str, Any]:
        return {"entries": [e.as_json() for e in self.entries], "next_after_seq": self.next_after_seq}


def require_audit_log(settings: Settings) -> None:
    """Raise :class:`AuditUnavailable` when the instance has no governance database to verify: opening it would
    create an empty store, and an empty log verifies (the console's ``audit verify`` asks before it opens)."""
    missing = missing_sqlite_file(settings.governance_url)
    if missing is not None:
        raise AuditUnavailable(f"no governance database at {missing}: there is no audit log to verify")


class AuditEntries:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def listing(
        self,
        who: Actor | HasActor,
        agency_id: int | None,
        *,
        after_seq: int = 0,
        limit: int = 100,
        action: str | None = None,
        export: bool = False,
    ) -> AuditPage:
        """One page of the audit entries of ``agency_id``'s users (None: every agency's, for the console).
        ``export``: the page is downloaded (audited as ``audit.exported`` rather than ``audit.listed``)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise FieldInvalid("limit", f"between 1 and {MAX_LIMIT}")
        if after_seq < 0:
            raise FieldInvalid("after_seq", "0 or more")
        if action is not None and action not in ACTIONS:
            raise FieldInvalid("action", "one of the audit event types in docs/audit.md")
        require(who, Action.AUDIT_EXPORT if export else Action.AUDIT_READ, agency_id, audit=self._audit)
        rows = [
            _row(e) for e in self._audit.entries(after_seq=after_seq, limit=limit, action=action, agency_id=agency_id)
        ]
        page = AuditPage(rows, rows[-1].seq if len(rows) == limit else None)
        filters = {"agency_id": agency_id, "action": action, "after_seq": after_seq, "limit": limit}
        actor = actor_of(who)
        if export:
            self._audit.append(actor, AuditExported(filters=filters, entries=len(rows)))
        else:
            self._audit.append(actor, AuditListed(filters=filters, entries=len(rows)))
        return page

    def verify(self, who: Actor | HasActor) -> VerifyResult:
        """The chain's verification (:meth:`AuditLog.verify`) for an admin, an auditor or the console."""
        require(who, Action.AUDIT_VERIFY, None, audit=self._audit)
        return self._audit.verify()
