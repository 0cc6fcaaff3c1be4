"""Rules on pace and volume: bursts of searches, and a user's day far above the agency's other users.

Days are UTC days. A rule that judges a whole day (peer volume, and the refusal share in
:mod:`plateledger.oversight.rules.reach`) raises its flags when the day ends (the first record of a later day) and
shows the day still open in :meth:`Rule.flags`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque

from plateledger.oversight.flags import Draft, Flag, day, iso, plural
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Rule


class Burst(Rule):
    id = "volume.burst"
    title = "Bursts of searches by one user"
    needs = frozenset()

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._window_ms = self.params.burst_minutes * 60_000
        self._recent: dict[str, deque[tuple[int, SearchRecord]]] = defaultdict(deque)
        #: Per actor: the burst being gathered and the ordinal of the last record in it.
        self._open: dict[str, tuple[Draft, int]] = {}
        self._fed = 0

    def feed(self, record: SearchRecord) -> list[Flag]:
        self._fed += 1
        actor = record.actor
        recent = self._recent[actor]
        recent.append((self._fed, record))
        oldest = record.ts_ms - self._window_ms
        while recent[0][1].ts_ms <= oldest:
            recent.popleft()
        if len(recent) < self.params.burst_count:
            return []
        current = self._open.get(actor)
        if current is not None and current[1] >= recent[0][0]:
            draft = current[0]
            for ordinal, earlier in recent:
                if ordinal > current[1]:
                    draft.add(earlier)
            self._open[actor] = (draft, self._fed)
            return []
        key = f"{actor}|{recent[0][1].ts_ms}"
        draft = self._drafts[key] = Draft.of(key, recent[0][1])
        for _, earlier in recent:
            draft.add(earlier)
        self._open[actor] = (draft, self._fed)
        return [self.render(draft)]

    def render(self, draft: Draft) -> Flag:
        count = len(draft.refs)
        span_s = (draft.last_ms - draft.first_ms) / 1000
        gap = span_s / (count - 1) if count > 1 else 0.0
        p = self.params
        return draft.flag(
            self.id,
            {
                "searches": count,
                "seconds": round(span_s),
                "seconds_between": round(gap, 1),
                "cases": len(draft.cases),
                "plates": len(draft.plates),
            },
            {"burst_count": p.burst_count, "burst_minutes": p.burst_minutes},
            f"{draft.actor} ran {plural(count, 'search', 'searches')} in {span_s / 60:.1f} minutes from "
            f"{iso(draft.first_ms)} (one every {gap:.0f} s; the threshold is {p.burst_count} within "
            f"{plural(p.burst_minutes, 'minute')}): a pace that suggests a list run through or automation rather than "
            "searches for one investigation.",
        )


class DayCounts:
    """One UTC day's records per actor, rolled over when a later day's record arrives."""

    def __init__(self) -> None:
        self.day: int | None = None
        self.records: dict[str, list[SearchRecord]] = defaultdict(list)

    def roll(self, record: SearchRecord) -> tuple[int, dict[str, list[SearchRecord]]] | None:
        """Count ``record``; return the finished day and its records when ``record`` begins a later day."""
        today = record.ts_ms // DAY_MS
        finished = None
        if self.day is not None and today > self.day:
            finished = (self.day, self.records)
            self.records = defaultdict(list)
        if self.day is None or today > self.day:
            self.day = today
        self.records[record.actor].append(record)
        return finished


class PeerVolume(Rule):
    id = "volume.peers"
    explainable = True
    title = "A user's daily volume far above the agency's other users"
    needs = frozenset({Field.USER, Field.AGENCY})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._today = DayCounts()
        #: Per agency: (day, actor, searches) of the last ``peer_days`` finished days.
        self._history: dict[str | None, deque[tuple[int, str, int]]] = defaultdict(deque)

    def feed(self, record: SearchRecord) -> list[Flag]:
        finished = self._today.roll(record)
        if finished is None:
            return []
        finished_day, actors = finished
        flags = self._judge(finished_day, actors, keep=True)
        for actor, records in actors.items():
            self._history[records[0].agency].append((finished_day, actor, len(records)))
        cutoff = finished_day - self.params.peer_days + 1
        for history in self._history.values():
            while history and history[0][0] < cutoff:
                history.popleft()
        return flags

    def flags(self) -> list[Flag]:
        open_day = self._today.day
        pending = [] if open_day is None else self._judge(open_day, self._today.records, keep=False)
        return super().flags() + pending

    def _judge(self, today: int, actors: dict[str, list[SearchRecord]], *, keep: bool) -> list[Flag]:
        p = self.params
        flags = []
        by_agency: dict[str | None, list[tuple[str, int]]] = defaultdict(list)
        for actor, records in actors.items():
            by_agency[records[0].agency].append((actor, len(records)))
        for agency, counts in by_agency.items():
            if max(c for _, c in counts) < p.peer_floor:
                continue
            history = [(a, c) for d, a, c in self._history[agency] if d > today - p.peer_days]
            for actor, count in counts:
                if count < p.peer_floor:
                    continue
                peers = [c for a, c in history if a != actor] + [c for a, c in counts if a != actor]
                if len(peers) < p.peer_min_user_days:
                    continue
                median = statistics.median(peers)
                if count <= p.peer_factor * median:
                    continue
                key = f"{actor}|{today}"
                draft = Draft.of(key, actors[actor][0])
                for record in actors[actor]:
                    draft.add(record)
                draft.extra.update(median=median, peers=len(peers))
                if keep:
                    self._drafts[key] = draft
                flags.append(self.render(draft))
        return flags

    def render(self, draft: Draft) -> Flag:
        p = self.params
        count, median = len(draft.refs), draft.extra["median"]
        return draft.flag(
            self.id,
            {
                "searches": count,
                "peer_median": median,
                "peer_user_days": draft.extra["peers"],
                "day": day(draft.first_ms),
            },
            {"peer_factor": p.peer_factor, "peer_floor": p.peer_floor, "peer_days": p.peer_days},
            f"{draft.actor} ran {plural(count, 'search', 'searches')} on {day(draft.first_ms)}, "
            f"{count / median if median else float('inf'):.1f} times the median day of the agency's other users "
            f"({median:g} over the last {plural(p.peer_days, 'day')}; flagged above {p.peer_factor:g} times and "
            f"{p.peer_floor} searches).",
        )
