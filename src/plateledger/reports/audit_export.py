"""An agency's audit export: a month of its users' entries with their leaves, private parts and salts, which an
auditor (or whom they hand it to) checks against the published tree with ``plateledger-verify check-export``.

The file (``plateledger-audit-export/v1``, JSON)::

    {"format": "plateledger-audit-export/v1", "origin": "<log origin or null>", "agency": "slug",
     "month": "2026-11", "entries": [
       {"seq": 12, "leaf": {<the leaf: public part with commitment>},
        "private": {...} | null, "salt": "<base64>" | null}, ...]}

Entries: every entry whose actor's agency is the agency, made in that month (UTC), in sequence order. The private
part is the entry's as stored now (:func:`plateledger.audit.public.split`): if the row was changed since, it no
longer opens the leaf's commitment, and ``check-export`` says so. Past the audit detail retention the salt is
deleted: such an entry is exported with ``private`` and ``salt`` null and is proven by its public part alone.

For the agency's admins and auditors (``audit.export``) and the console; audited as ``audit.exported`` before it
is returned, a refusal as ``action.refused``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select

from plateledger.audit.events import AuditExported
from plateledger.audit.log import Actor, AuditLog
from plateledger.audit.public import split
from plateledger.audit.treecheck import fields_of
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.policy.actions import Action, HasActor, actor_of, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditEntry, AuditLeaf

FORMAT = "plateledger-audit-export/v1"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_BATCH = 2000


def month_window(month: str) -> tuple[int, int]:
    """``[start, end)`` in epoch ms of the UTC calendar month ``YYYY-MM``."""
    matched = _MONTH.fullmatch(month)
    if matched is None or int(matched.group(1)) < 1970:
        raise FieldInvalid("month", "a calendar month as YYYY-MM (1970 or later)")
    year, number = int(matched.group(1)), int(matched.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


class AuditExports:
    def __init__(self, governance: Governance, audit: AuditLog, *, origin: str | None = None) -> None:
        self._gov = governance
        self._audit = audit
        self._origin = origin

    def export(self, who: Actor | HasActor, agency: str, month: str) -> dict[str, Any]:
        """The export of ``agency``'s month ``YYYY-MM`` (see the module doc), audited before it is returned."""
        since, until = month_window(month)
        with self._gov.session() as session:
            agency_id = session.scalar(select(Agency.id).where(Agency.slug == agency))
        if agency_id is None:
            raise NotFound(f"no agency {agency[:64]!r}")
        require(who, Action.AUDIT_EXPORT, agency_id, audit=self._audit)
        entries = list(self._entries(agency_id, agency, since, until))
        filters = {"agency": agency, "month": month}
        self._audit.append(actor_of(who), AuditExported(filters=filters, entries=len(entries)))
        return {"format": FORMAT, "origin": self._origin, "agency": agency, "month": month, "entries": entries}

    def _entries(self, agency_id: int, slug: str, since: int, until: int) -> Any:
        after = 0
        while True:
            query = (
                select(AuditEntry, AuditLeaf.data, AuditLeaf.salt)
                .outerjoin(AuditLeaf, AuditLeaf.seq == AuditEntry.seq)
                .where(
                    AuditEntry.actor_agency_id == agency_id,
                    AuditEntry.ts_ms >= since,
                    AuditEntry.ts_ms < until,
                    AuditEntry.seq > after,
                )
                .order_by(AuditEntry.seq)
                .limit(_BATCH)
            )
            with self._gov.session() as session:
                rows = list(session.execute(query))
            for entry, data, salt in rows:
                yield {
                    "seq": entry.seq,
                    # A missing leaf is exported as null: check-export then names the entry.
                    "leaf": orjson.loads(data) if data is not None else None,
                    "private": split(fields_of(entry), slug).private if salt is not None else None,
                    "salt": base64.b64encode(salt).decode() if salt is not None else None,
                }
            if len(rows) < _BATCH:
                return
            after = rows[-1][0].seq


def export_bytes(export: dict[str, Any]) -> bytes:
    """The export as the file the doors hand out (UTF-8 JSON, one trailing newline)."""
    return orjson.dumps(export) + b"\n"
