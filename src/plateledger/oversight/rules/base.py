"""What every rule shares: the context it runs in, and the state it keeps as records are fed to it.

A rule is a small class: :meth:`Rule.feed` takes one record (in time order) and returns the flags that record
raised; :meth:`Rule.flags` returns every flag so far with its evidence complete (a flag is raised once, and the
records that follow add to its evidence). Over a period, a rule is fed every record and asked for its flags
(:func:`plateledger.oversight.engine.analyse`); as entries are appended, the same object is fed each one
(:class:`plateledger.oversight.engine.Monitor`). No rule reads anything but its records and its context.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from plateledger.oversight.flags import Draft, Flag
from plateledger.oversight.params import DEFAULT, OversightParams
from plateledger.oversight.places import Place
from plateledger.oversight.records import AUDIT_FIELDS, Field, SearchRecord
from plateledger.oversight.terms import PROHIBITED, TermMatcher, vocabulary, word_matcher

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Removal:
    """A plate's hot-list entry that expired or was removed at ``ts_ms`` (``list_name``: which list)."""

    plate: str
    ts_ms: int
    list_name: str = ""


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """A case of the agency's case register: opened (and closed) at, assigned to ``unit``."""

    number: str
    opened_ms: int
    closed_ms: int | None = None
    unit: str | None = None

    def open_at(self, ts_ms: int) -> bool:
        return self.opened_ms <= ts_ms and (self.closed_ms is None or ts_ms <= self.closed_ms)


def case_key(agency: str | None, number: str) -> tuple[str, str]:
    """How a case is looked up in a register: (agency, the number stripped and upper-cased)."""
    return agency or "", number.strip().upper()


@dataclass(frozen=True)
class Context:
    """What the rules run with besides the records.

    ``fields``: what the records' source carries (a rule needing another is skipped); ``case_patterns``: each
    agency's case-number pattern (a regular expression a case number must match in full; the key ``"*"`` applies
    to agencies without their own); ``prohibited``: prohibited-purpose terms by category; ``places``: the
    sensitive places; ``removals``: hot-list entries that expired or were removed (None: not known, so the rule
    cannot run); ``agency_states``: each agency's jurisdiction (``US-CA``), for the out-of-state rule;
    ``cases``: the case registers, by :func:`case_key` (None: no agency keeps one, so the stale-case rule cannot
    run); ``case_registers``: the agencies that keep a register (None: those with a case in ``cases``);
    ``alerts``: when each agency was alerted to each plate, by (agency, plate), times sorted (None: not known, so
    the rule on plates searched outside any alert or case cannot run). The live rules pass mappings they keep
    current (:mod:`plateledger.review.live`)."""

    params: OversightParams = DEFAULT
    fields: frozenset[Field] = AUDIT_FIELDS
    case_patterns: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    prohibited: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(PROHIBITED))
    places: tuple[Place, ...] = ()
    removals: tuple[Removal, ...] | None = None
    agency_states: Mapping[str, str] = field(default_factory=dict)
    cases: Mapping[tuple[str, str], CaseEntry] | None = None
    case_registers: Set[str] | None = None
    alerts: Mapping[tuple[str, str], Sequence[int]] | None = None

    @cached_property
    def terms(self) -> TermMatcher:
        return TermMatcher.of(self.prohibited)

    @cached_property
    def content_free(self) -> frozenset[str]:
        return vocabulary(self.params.content_free)

    @cached_property
    def test_words(self) -> re.Pattern[str] | None:
        return word_matcher(self.params.test_terms)

    def case_pattern(self, agency: str | None) -> re.Pattern[str] | None:
        return self.case_patterns.get(agency or "*") or self.case_patterns.get("*")

    @cached_property
    def _registers(self) -> Set[str]:
        return frozenset(agency for agency, _ in self.cases or ())

    def keeps_register(self, agency: str | None) -> bool:
        """Whether ``agency`` keeps a case register (``case_registers``, else: it has a case in ``cases``)."""
        registers = self.case_registers if self.case_registers is not None else self._registers
        return (agency or "") in registers

    def alerted(self, agency: str | None, plate: str, ts_ms: int) -> int | None:
        """When ``agency`` was last alerted to ``plate`` within ``alert_explains_hours`` before ``ts_ms`` (None:
        it was not, or alerts are not known)."""
        times = (self.alerts or {}).get((agency or "", plate))
        if not times:
            return None
        at = bisect.bisect_right(times, ts_ms) - 1
        if at < 0 or ts_ms - times[at] > self.params.alert_explains_hours * 3_600_000:
            return None
        return times[at]


class Rule:
    """Base of the rules: ``id`` (stable, used by the review queue), ``title``, the record fields it ``needs``."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    needs: ClassVar[frozenset[Field]] = frozenset()
    #: Whether an open case of the user's unit, or an alert the user's agency received, explains its flags (the
    #: review queue keeps explained flags out): rules on the justification given. Rules on what was sought or how
    #: (prohibited terms, tests, bursts, probing, reach, places, stale cases) are never explained away.
    explainable: ClassVar[bool] = False

    def __init__(self, context: Context) -> None:
        self.context = context
        self.params = context.params
        self._drafts: dict[str, Draft] = {}
        self._rendered: dict[str, int] = {}

    @classmethod
    def unavailable(cls, context: Context) -> str | None:
        """Why this rule cannot run in ``context`` (None: it can)."""
        missing = sorted(cls.needs - context.fields)
        if missing:
            return f"needs {', '.join(missing)}, which the source does not carry"
        return cls.context_missing(context)

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None

    def feed(self, record: SearchRecord) -> list[Flag]:
        raise NotImplementedError

    def flags(self) -> list[Flag]:
        return [self.render(d) for d in self._drafts.values()]

    def render(self, draft: Draft) -> Flag:
        raise NotImplementedError

    def changed(self) -> list[Flag]:
        """The flags raised, or whose evidence grew, since the last call: what a store of flags writes after a
        batch of records (the live rules). Costs one look at each flag so far."""
        found = []
        for key, draft in self._drafts.items():
            if self._rendered.get(key) != len(draft.refs):
                self._rendered[key] = len(draft.refs)
                found.append(self.render(draft))
        return found

    def add(self, key: str, record: SearchRecord, **extra: Any) -> list[Flag]:
        """Add ``record`` to the flag ``key`` (raising it, and returning it, when it is new)."""
        draft = self._drafts.get(key)
        if draft is not None:
            draft.add(record)
            return []
        draft = self._drafts[key] = Draft.of(key, record)
        draft.extra.update(extra)
        draft.add(record)
        return [self.render(draft)]
