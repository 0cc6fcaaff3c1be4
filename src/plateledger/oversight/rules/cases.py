"""Rules on cases and plates: a case number cited too widely, one plate searched under many cases, a plate searched
right after its hot-list entry ended."""

from __future__ import annotations

import bisect
import sys
from array import array
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from plateledger.oversight.flags import Draft, Flag, day, iso, plural
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Removal, Rule, case_key

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
#: A small collection is a list (a set costs 216 bytes empty); past this size it becomes a set.
_SMALL = 16


def _put(items: list[T] | set[T], item: T) -> list[T] | set[T]:
    """``items`` with ``item`` in it (distinct values; a list while small, then a set)."""
    if isinstance(items, set):
        items.add(item)
    elif item not in items:
        items.append(item)
        if len(items) > _SMALL:
            return set(items)
    return items


def _seen(refs: array[int]) -> list[tuple[int, int]]:
    """The (reference, time) pairs kept flat in ``refs``."""
    return list(zip(refs[::2], refs[1::2], strict=True))


class _Keyed(Generic[K]):
    """A key's state: the key (the very object the states are filed under) and the last day it was active."""

    __slots__ = ("key", "last")

    def __init__(self, key: K) -> None:
        self.key = key
        self.last = -1


S = TypeVar("S", bound=_Keyed[Any])


class _Horizon(Generic[K, S]):
    """Forgets the keys of ``states`` with no search for more than ``days`` days (``state_horizon_days``), unless
    ``keep`` says a key must stay (it has a flag open). A key is filed under each day it is active (its state,
    once per day); when the log reaches a new day, only the days gone past the horizon are looked at, and a state
    filed there and not active since is dropped: a sweep costs the keys that expire, not every key kept."""

    __slots__ = ("_days", "buckets", "states", "today")

    def __init__(self, days: int, states: dict[K, S]) -> None:
        self._days = days
        self.states = states
        self.buckets: dict[int, list[S]] = {}
        self.today = -1

    def get(self, key: K, make: Callable[[K], S], day: int, keep: Callable[[K], bool]) -> S:
        """The state of ``key`` (made afresh if there is none, or it was forgotten), marked active on ``day``."""
        if day > self.today:
            self.sweep(day, keep)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = make(key)
        if state.last != self.today:
            state.last = self.today
            self.buckets.setdefault(self.today, []).append(state)
        return state

    def sweep(self, day: int, keep: Callable[[K], bool]) -> int:
        """Move to ``day``, dropping the states last active more than the horizon before it; how many."""
        self.today = day
        cutoff = day - self._days
        dropped = 0
        while self.buckets:
            filed = next(iter(self.buckets))
            if filed >= cutoff:
                break
            for state in self.buckets.pop(filed):
                if state.last == filed and self.states.get(state.key) is state and not keep(state.key):
                    del self.states[state.key]
                    dropped += 1
        return dropped


class _Spread(_Keyed[tuple[str | None, str]]):
    """What one case has gathered: its searches until it is flagged (reference and time, flat in an array of
    64-bit integers, so a record is not kept alive), its days, plates and users, its key and the last day it was
    searched (for :class:`_Horizon`). Millions of cases are kept, so each is small: lists while small, strings
    interned."""

    __slots__ = ("days", "plates", "seen", "users")

    def __init__(self, key: tuple[str | None, str]) -> None:
        super().__init__(key)
        self.seen: array[int] = array("q")
        self.days: list[int] | set[int] = []
        self.plates: list[str] | set[str] = []
        self.users: list[str] | set[str] = []


class _Pair(_Keyed[str]):
    """What one user's plate has gathered: its cases, and its searches until it is flagged (as :class:`_Spread`)."""

    __slots__ = ("cases", "seen")

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.seen: array[int] = array("q")
        self.cases: list[str] | set[str] = []


class CaseSpread(Rule):
    id = "case.spread"
    title = "A case number cited on too many days or for too many plates"
    needs = frozenset({Field.CASE_NUMBER})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._cases: dict[tuple[str | None, str], _Spread] = {}
        self._horizon = _Horizon(self.params.state_horizon_days, self._cases)

    def _open(self, case: tuple[str | None, str]) -> bool:
        return f"{case[0] or ''}|{case[1]}" in self._drafts

    def feed(self, record: SearchRecord) -> list[Flag]:
        if not record.case_number:
            if record.ts_ms // DAY_MS > self._horizon.today:
                self._horizon.sweep(record.ts_ms // DAY_MS, self._open)
            return []
        case = (record.agency, record.case_number.strip().upper())
        key = f"{case[0] or ''}|{case[1]}"
        spread = self._horizon.get(case, _Spread, record.ts_ms // DAY_MS, self._open)
        spread.days = _put(spread.days, record.ts_ms // DAY_MS)
        spread.users = _put(spread.users, sys.intern(record.actor))
        if record.plate:
            spread.plates = _put(spread.plates, sys.intern(record.plate))
        if key in self._drafts:
            return self.add(key, record)
        if len(spread.days) <= self.params.case_max_days and len(spread.plates) <= self.params.case_max_plates:
            spread.seen.extend((record.ref, record.ts_ms))
            return []
        draft = self._drafts[key] = Draft.of(key, record)
        draft.extra["case"] = case
        draft.actor, draft.user = f"case {case[1]}" + (f" ({case[0]})" if case[0] else ""), None
        for ref, ts_ms in _seen(spread.seen):
            draft.add_ref(ref, ts_ms)
        draft.plates.update(dict.fromkeys(spread.plates))
        draft.add(record)
        spread.seen = array("q")
        return [self.render(draft)]

    def render(self, draft: Draft) -> Flag:
        agency, case = draft.extra["case"]
        spread = self._cases[(agency, case)]
        users = sorted(spread.users)
        days, plates = len(spread.days), len(spread.plates)
        over = []
        if days > self.params.case_max_days:
            over.append(f"more than {plural(self.params.case_max_days, 'day')}")
        if plates > self.params.case_max_plates:
            over.append(f"more than {plural(self.params.case_max_plates, 'plate')}")
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "days": days, "plates": plates, "span_days": _span_days(draft)},
            {"case_max_days": self.params.case_max_days, "case_max_plates": self.params.case_max_plates},
            f"Case {case} was cited in {plural(len(draft.refs), 'search', 'searches')} on {plural(days, 'day')} "
            f"from {day(draft.first_ms)} to {day(draft.last_ms)}, for {plural(plates, 'plate')}"
            + (f", by {', '.join(users[:5])}" if users else "")
            + f": {' and '.join(over)}, so it may be cited for searches it does not cover.",
        )


def _span_days(draft: Draft) -> int:
    return (draft.last_ms - draft.first_ms) // DAY_MS


class PlateCases(Rule):
    id = "plate.many_cases"
    explainable = True
    title = "One user searching the same plate under different cases"
    needs = frozenset({Field.USER, Field.PLATE, Field.CASE_NUMBER})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._pairs: dict[str, _Pair] = {}
        self._horizon = _Horizon(self.params.state_horizon_days, self._pairs)

    def feed(self, record: SearchRecord) -> list[Flag]:
        if not record.plate or not record.case_number:
            if record.ts_ms // DAY_MS > self._horizon.today:
                self._horizon.sweep(record.ts_ms // DAY_MS, self._drafts.__contains__)
            return []
        key = f"{record.actor}|{record.plate}"
        spread = self._horizon.get(key, _Pair, record.ts_ms // DAY_MS, self._drafts.__contains__)
        spread.cases = _put(spread.cases, sys.intern(record.case_number.strip().upper()))
        if key in self._drafts:
            return self.add(key, record)
        if len(spread.cases) < self.params.plate_min_cases:
            spread.seen.extend((record.ref, record.ts_ms))
            return []
        draft = self._drafts[key] = Draft.of(key, record)
        draft.extra["pair"] = (record.actor, record.plate)
        for ref, ts_ms in _seen(spread.seen):
            draft.add_ref(ref, ts_ms)
        draft.cases.update(dict.fromkeys(spread.cases))
        draft.add(record)
        spread.seen = array("q")
        return [self.render(draft)]

    def render(self, draft: Draft) -> Flag:
        actor, plate = draft.extra["pair"]
        cases = list(draft.cases)
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "plate": plate, "cases": len(cases), "case_numbers": cases[:50]},
            {"plate_min_cases": self.params.plate_min_cases},
            f"{actor} searched plate {plate} {plural(len(draft.refs), 'time')} under "
            f"{plural(len(cases), 'different case number')} ({', '.join(cases[:5])}) between "
            f"{day(draft.first_ms)} and {day(draft.last_ms)}: one vehicle rarely belongs to so many cases.",
        )


class AfterRemoval(Rule):
    id = "plate.after_hotlist_removal"
    explainable = True
    title = "A plate searched right after its hot-list entry expired or was removed"
    needs = frozenset({Field.PLATE})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._removals: dict[str, list[tuple[int, str]]] = {}
        self.set_removals(context.removals or ())

    def set_removals(self, removals: Iterable[Removal]) -> None:
        """Replace the known expiries and removals (the live rules do when hot lists change)."""
        by_plate: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for removal in removals:
            by_plate[removal.plate.upper()].append((removal.ts_ms, removal.list_name))
        self._removals = {plate: sorted(times) for plate, times in by_plate.items()}

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.removals is not None else "no hot-list expiry or removal events were given"

    def feed(self, record: SearchRecord) -> list[Flag]:
        times = self._removals.get(record.plate or "")
        if not times:
            return []
        at = bisect.bisect_right(times, (record.ts_ms, "\uffff")) - 1
        if at < 0 or record.ts_ms - times[at][0] > self.params.after_removal_hours * 3_600_000:
            return []
        removed_ms, list_name = times[at]
        key = f"{record.actor}|{record.plate}|{removed_ms}"
        return self.add(key, record, removed_ms=removed_ms, list_name=list_name)

    def render(self, draft: Draft) -> Flag:
        removed_ms = draft.extra["removed_ms"]
        hours = (draft.first_ms - removed_ms) / 3_600_000
        plate = next(iter(draft.plates))
        listed = f" from {draft.extra['list_name']}" if draft.extra["list_name"] else ""
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "plate": plate, "removed": iso(removed_ms), "hours_after": round(hours, 1)},
            {"after_removal_hours": self.params.after_removal_hours},
            f"{draft.actor} searched plate {plate} {hours:.1f} hours after its hot-list entry{listed} expired or was "
            f"removed ({plural(len(draft.refs), 'search', 'searches')}, within the {self.params.after_removal_hours} "
            "hours watched): tracking may have continued without the alert's justification.",
        )


class CaseStale(Rule):
    id = "case.stale"
    title = "A case cited long after it was opened, or after it was closed"
    needs = frozenset({Field.CASE_NUMBER})

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.cases is not None else "no case register was given"

    def feed(self, record: SearchRecord) -> list[Flag]:
        if not record.case_number or self.context.cases is None:
            return []
        case = self.context.cases.get(case_key(record.agency, record.case_number))
        if case is None:
            return []
        closed = case.closed_ms is not None and record.ts_ms > case.closed_ms
        if not closed and record.ts_ms - case.opened_ms <= self.params.case_stale_days * DAY_MS:
            return []
        return self.add(f"{record.actor}|{case.number}", record, case=case)

    def render(self, draft: Draft) -> Flag:
        case = draft.extra["case"]
        age = (draft.first_ms - case.opened_ms) // DAY_MS
        after_close = case.closed_ms is not None and draft.last_ms > case.closed_ms
        why = (
            f"after it was closed on {day(case.closed_ms)}"
            if after_close and case.closed_ms is not None
            else f"{plural(age, 'day')} after it was opened on {day(case.opened_ms)}"
        )
        return draft.flag(
            self.id,
            {
                "searches": len(draft.refs),
                "case": case.number,
                "opened": day(case.opened_ms),
                "closed": day(case.closed_ms) if case.closed_ms is not None else None,
                "days_after_opened": age,
            },
            {"case_stale_days": self.params.case_stale_days},
            f"{draft.actor} cited case {case.number} in {plural(len(draft.refs), 'search', 'searches')} from "
            f"{day(draft.first_ms)}, {why} (flagged beyond {plural(self.params.case_stale_days, 'day')}, or once "
            "closed): an old case number may be cited for searches it does not cover.",
        )
