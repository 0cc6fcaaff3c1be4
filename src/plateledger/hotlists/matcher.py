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

from sqlalchemy import select

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
    )


class Matcher:
    def __init__(self, *, governance: Governance, reads: ReadsStore, alerts: Alerts) -> None:
        self._gov = governance
        self._reads = reads
        self._alerts = alerts
        self._lock = threading.Lock()
        self._generation: int | None = None
        #: Seconds the last mirror load took, and how many entries it loaded (for benchmarks and logs).
        self.last_load_s = 0.0
        self.last_load_entries = 0

    def sync(self, now_ms: int) -> None:
        """Reload the mirror if any list or entry changed since the last load (one indexed read otherwise)."""
        with self._lock:
            with self._gov.session() as session:
                generation = hotlist_generation(session)
            if generation == self._generation:
                return
            started = time.perf_counter()
            entries = self._active(now_ms)
            self._reads.load_hot_entries(entries)
            self._generation = generation
            self.last_load_s = time.perf_counter() - started
            self.last_load_entries = len(entries)

    def _active(self, now_ms: int) -> list[MirrorEntry]:
        with self._gov.session() as session:
            rows = session.execute(
                select(
                    HotListEntry.id,
                    HotList.agency_id,
                    HotList.visibility,
                    HotListEntry.plate,
                    HotListEntry.pattern,
                    HotListEntry.region,
                    HotList.match_confusable,
                    HotListEntry.expires_ms,
                )
                .join(HotList, HotList.id == HotListEntry.hot_list_id)
                .where(HotListEntry.removed_ms.is_(None), HotListEntry.expires_ms > now_ms)
            ).all()
            return [
                MirrorEntry(int(i), int(a), v == "shared", str(p), bool(pat), r, bool(c), int(x))
                for i, a, v, p, pat, r, c, x in rows
            ]

    def process(self, matches: list[Match]) -> Outcome:
        """Decide and deliver the alerts of one stored batch's matches (through the gate, audited)."""
        return self._alerts.process([to_hit(m) for m in matches])
