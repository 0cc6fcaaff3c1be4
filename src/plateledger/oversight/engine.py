"""Running the rules: over a period on demand (:func:`analyse`), or as entries are appended (:class:`Monitor`).

Both are the same code: :func:`analyse` feeds each record to a :class:`Monitor` and asks for its flags. Records
are fed in time order (the audit log's order; :func:`in_time_order` sorts an export). A rule that needs a field the
source lacks, or context that was not given (a case-number pattern, sensitive places, hot-list removals, agency
states), does not run, and the analysis says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plateledger.oversight.flags import Flag
from plateledger.oversight.records import SearchRecord
from plateledger.oversight.rules import RULES, Context, Rule
from plateledger.oversight.rules.base import DAY_MS


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result: its flags, or why it did not run (``why_not``)."""

    id: str
    title: str
    why_not: str | None
    flags: tuple[Flag, ...]

    @property
    def ran(self) -> bool:
        return self.why_not is None

    @property
    def records_flagged(self) -> int:
        return len({ref for flag in self.flags for ref in flag.refs})


@dataclass(frozen=True)
class Analysis:
    records: int
    first_ms: int | None
    last_ms: int | None
    #: Searches per UTC day (day number: epoch ms // 86,400,000).
    per_day: dict[int, int]
    outcomes: tuple[RuleOutcome, ...]

    @property
    def flags(self) -> list[Flag]:
        return [flag for outcome in self.outcomes for flag in outcome.flags]

    def flagged_refs(self) -> set[int]:
        return {ref for flag in self.flags for ref in flag.refs}


class Monitor:
    """The rules' state over a stream of records: :meth:`feed` one record, get the flags it raised.

    Each rule keeps only what its threshold needs (a window of recent searches per user, each case's days and
    plates, one day's counts), so a record costs the same whether it is the first or the ten-millionth."""

    def __init__(self, context: Context, rules: Sequence[type[Rule]] = RULES) -> None:
        self.context = context
        self.skipped = {cls: why for cls in rules if (why := cls.unavailable(context)) is not None}
        self.rules = [cls(context) for cls in rules if cls not in self.skipped]
        self._order = list(rules)
        self._per_day: Counter[int] = Counter()
        self._count = 0
        self._first: int | None = None
        self._last: int | None = None

    def feed(self, record: SearchRecord) -> list[Flag]:
        self._count += 1
        self._per_day[record.ts_ms // DAY_MS] += 1
        if self._first is None:
            self._first = record.ts_ms
        self._last = record.ts_ms
        raised: list[Flag] = []
        for rule in self.rules:
            raised += rule.feed(record)
        return raised

    def analysis(self) -> Analysis:
        running = {type(rule): rule for rule in self.rules}
        outcomes = []
        for cls in self._order:
            if cls in running:
                outcomes.append(RuleOutcome(cls.id, cls.title, None, tuple(running[cls].flags())))
            else:
                outcomes.append(RuleOutcome(cls.id, cls.title, self.skipped[cls], ()))
        return Analysis(self._count, self._first, self._last, dict(sorted(self._per_day.items())), tuple(outcomes))


def in_time_order(records: Iterable[SearchRecord]) -> list[SearchRecord]:
    """The records sorted by time, ties in source order (exports are often newest first)."""
    return sorted(records, key=lambda r: (r.ts_ms, r.ref))


def analyse(records: Iterable[SearchRecord], context: Context, rules: Sequence[type[Rule]] = RULES) -> Analysis:
    """Every rule over ``records`` (in time order): the flags with their evidence, and the rules that could not
    run, with why."""
    monitor = Monitor(context, rules)
    for record in records:
        monitor.feed(record)
    return monitor.analysis()
