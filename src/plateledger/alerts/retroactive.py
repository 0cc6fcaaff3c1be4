"""Retroactive hits: when entries are added to a hot list, optionally search the reads already stored for them.

Each new entry becomes a plate search (a wildcard search for a pattern) by the user who adds it, with the entry's
purpose and case number: the same gate, limits and audit as any search (``plate.searched`` in the audit log,
and the owners' access logs). The reads it returns are then turned into alerts by
:meth:`plateledger.alerts.service.Alerts.process`, which decides each one again for the ``alert`` query kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plateledger.alerts.service import Alerts, Hit
from plateledger.auth.tokens import Principal
from plateledger.hotlists.service import Entry, HotLists
from plateledger.search.plate import PlateSearch, PlateSearches


@dataclass
class RetroactiveOutcome:
    """What adding entries with a look back did: the list's counts, the searches' audit sequence numbers, and
    the alerts raised, withheld or skipped from the reads found."""

    counts: dict[str, int]
    searches: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)
    withheld: int = 0
    skipped: int = 0
    truncated: bool = False


def add_entries(
    hotlists: HotLists,
    searches: PlateSearches,
    alerts: Alerts,
    principal: Principal,
    list_id: int,
    entries: list[Entry],
    *,
    search_past: bool = False,
    since_ms: int | None = None,
    source: str = "api",
) -> RetroactiveOutcome:
    """Add ``entries`` to the list; with ``search_past``, search past reads for each (from ``since_ms``, or as
    far back as the owners' policies let the caller look) and raise alerts for what is found."""
    outcome = RetroactiveOutcome(hotlists.apply(principal, list_id, add=entries, source=source))
    if not search_past or not entries:
        return outcome
    rows = hotlists.entries(principal, list_id)
    for entry in entries:
        ids = [
            int(r["id"])
            for r in rows
            if (r["plate"], r["region"], r["purpose"], r["reference"])
            == (entry.plate, entry.region, entry.purpose, entry.reference)
        ]
        if not ids:
            continue
        entry_id = max(ids)
        result = searches.search(
            principal,
            PlateSearch(
                plate=entry.plate,
                purpose=entry.purpose,
                case_number=entry.reference,
                since=since_ms,
                note=f"retroactive check of hot-list entry {entry_id}",
            ),
        )
        outcome.searches.append(result.audit_seq)
        outcome.truncated = outcome.truncated or result.truncated
        hits = [
            Hit(
                entry_id=entry_id,
                owner=read.owner,
                read_id=read.read_id,
                plate=read.plate,
                region=read.region or None,
                ts_ms=read.ts_ms,
                camera=read.camera,
                lat=read.lat,
                lon=read.lon,
                confidence=read.confidence,
                match="pattern" if entry.pattern else "exact",
                make=read.make,
                model=read.model,
                color=read.color,
                vtype=read.vtype,
            )
            for read in result.reads
            if entry.region is None or read.region in ("", entry.region)  # as at ingest: no region matches
        ]
        decided = alerts.process(hits)
        outcome.raised.extend(decided.raised)
        outcome.withheld += decided.withheld
        outcome.skipped += decided.skipped
    return outcome
