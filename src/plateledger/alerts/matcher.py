"""Hot-list matching at ingest: keeps the reads store's mirror of the active entries in step with the governance
store, and turns each stored batch's matches into alerts.

Consistency rule: every change of lists or entries (``HotLists.create``/``apply``) bumps ``hotlist_generation``
in the change's own transaction, and :meth:`Matcher.sync` runs before each batch is handed to the store. A batch
that starts after a change is committed is therefore matched against a mirror that includes it: a removed entry
stops matching from the next batch on, and an added one starts. Expiry needs no reload: the mirror holds each
entry's expiry and the match compares it with the batch's time. A batch already in flight during a change may
still match a just-removed entry; :meth:`plateledger.alerts.service.Alerts.process` re-reads every entry and
skips removed or expired ones, so a removed entry never raises an alert.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import ColumnElement, or_, select

from plateledger.alerts.service import Alerts, Hit, Outcome
from plateledger.store.governance import Governance, hotlist_generation
from plateledger.store.matching import Match, MirrorEntry
from plateledger.store.models import HotList, HotListEntry
from plateledger.store.reads import ReadsStore


def to_hit(match: Match) -> Hit:
    return Hit(
        entry_id=match.entry_id,
        owner=match.owner,
        read_id=match.read_id,
        plate=match.plate,
        region=match.region,
        ts_ms=match.ts_ms,
        camera=match.camera,
        lat=match.lat,
        lon=match.lon,
        confidence=match.confidence,
        match=match.how,
        make=match.make,
        model=match.model,
        color=match.color,
        vtype=match.vtype,
    )


#: How far before the previous refresh the next one looks for changed entries: a change takes its time before it
#: commits, so one committed just after a refresh can carry a time just before it.
CHANGE_MARGIN_MS = 10 * 60_000
#: A change this large (a list replaced) reloads the whole mirror instead.
FULL_RELOAD_ABOVE = 100_000

_COLUMNS = (
    HotListEntry.id,
    HotList.agency_id,
    HotList.visibility == "shared",
    HotListEntry.plate,
    HotListEntry.pattern,
    HotListEntry.region,
    HotList.match_confusable,
    HotListEntry.expires_ms,
)


class Matcher:
    def __init__(self, *, governance: Governance, reads: ReadsStore, alerts: Alerts) -> None:
        self._gov = governance
        self._reads = reads
        self._alerts = alerts
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._synced_ms = 0
        #: Seconds the last refresh took, and how many entries it loaded or changed (benchmarks, logs).
        self.last_load_s = 0.0
        self.last_load_entries = 0

    def sync(self, now_ms: int) -> None:
        """Bring the mirror up to date if any list or entry changed since the last refresh (otherwise one read of
        the generation counter). The first refresh loads every active entry; later ones only the entries added
        or removed since shortly before the previous refresh."""
        with self._lock:
            with self._gov.session() as session:
                generation = hotlist_generation(session)
            if generation == self._generation:
                return
            started = time.perf_counter()
            changed: list[tuple[MirrorEntry, bool]] = []
            if self._generation is not None:
                since = self._synced_ms - CHANGE_MARGIN_MS
                changed = self._changed(or_(HotListEntry.added_ms >= since, HotListEntry.removed_ms >= since))
            if self._generation is None or len(changed) > FULL_RELOAD_ABOVE:
                entries = [
                    e for e, _ in self._changed(HotListEntry.removed_ms.is_(None), HotListEntry.expires_ms > now_ms)
                ]
                self._reads.load_hot_entries(entries)
                self.last_load_entries = len(entries)
            else:
                live = [e for e, removed in changed if not removed and e.expires_ms > now_ms]
                self._reads.update_hot_entries(add=live, remove={e.entry_id for e, _ in changed})
                self.last_load_entries = len(changed)
            self._generation, self._synced_ms = generation, now_ms
            self.last_load_s = time.perf_counter() - started

    def _changed(self, *where: ColumnElement[bool]) -> list[tuple[MirrorEntry, bool]]:
        """Entries as the mirror holds them, each with whether it was removed."""
        query = (
            select(*_COLUMNS, HotListEntry.removed_ms.is_not(None))
            .join(HotList, HotList.id == HotListEntry.hot_list_id)
            .where(*where)
        )
        with self._gov.engine.connect() as connection:
            return [(MirrorEntry._make(row[:8]), bool(row[8])) for row in connection.execute(query)]

    def process(self, matches: list[Match]) -> Outcome:
        """Decide and deliver the alerts of one stored batch's matches (through the gate, audited)."""
        return self._alerts.process([to_hit(m) for m in matches])
