"""A flag: what a rule raises, with its evidence, for review.

A flag is identified by (``rule``, ``key``): the review queue and the case register (issue 18, later) store and
suppress flags by that pair, and ``cases``/``plates``/``user`` are what an explanation (an open case of the user's
unit, an alert the user received) is matched on. ``refs`` are the evidence records (audit sequence numbers, or
the export's line numbers); ``numbers`` what was observed; ``threshold`` the parameters it was compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plateledger.oversight.records import SearchRecord


@dataclass(frozen=True)
class Flag:
    rule: str
    key: str
    actor: str
    user: str | None
    agency: str | None
    first_ms: int
    last_ms: int
    refs: tuple[int, ...]
    numbers: dict[str, Any]
    threshold: dict[str, Any]
    explanation: str
    cases: tuple[str, ...] = ()
    plates: tuple[str, ...] = ()
    #: Always ``review``: no rule refuses a search.
    route: str = "review"

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "key": self.key,
            "actor": self.actor,
            "user": self.user,
            "agency": self.agency,
            "first": iso(self.first_ms),
            "last": iso(self.last_ms),
            "refs": list(self.refs),
            "numbers": self.numbers,
            "threshold": self.threshold,
            "explanation": self.explanation,
            "cases": list(self.cases),
            "plates": list(self.plates),
            "route": self.route,
        }


@dataclass
class Draft:
    """A flag being gathered: the evidence so far (a rule renders it as a :class:`Flag` when asked)."""

    key: str
    actor: str
    user: str | None
    agency: str | None
    first_ms: int
    last_ms: int
    refs: list[int] = field(default_factory=list)
    cases: dict[str, None] = field(default_factory=dict)
    plates: dict[str, None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, record: SearchRecord) -> Draft:
        return cls(key, record.actor, record.user, record.agency, record.ts_ms, record.ts_ms)

    def add(self, record: SearchRecord) -> None:
        self.refs.append(record.ref)
        self.first_ms = min(self.first_ms, record.ts_ms)
        self.last_ms = max(self.last_ms, record.ts_ms)
        if record.case_number:
            self.cases[record.case_number] = None
        if record.plate:
            self.plates[record.plate] = None

    def add_ref(self, ref: int, ts_ms: int) -> None:
        """Add an earlier record known only by its reference and time (what a rule keeps before it flags)."""
        self.refs.append(ref)
        self.first_ms = min(self.first_ms, ts_ms)
        self.last_ms = max(self.last_ms, ts_ms)

    def flag(self, rule: str, numbers: dict[str, Any], threshold: dict[str, Any], explanation: str) -> Flag:
        return Flag(
            rule=rule,
            key=self.key,
            actor=self.actor,
            user=self.user,
            agency=self.agency,
            first_ms=self.first_ms,
            last_ms=self.last_ms,
            refs=tuple(self.refs),
            numbers=numbers,
            threshold=threshold,
            explanation=explanation,
            cases=tuple(self.cases),
            plates=tuple(self.plates),
        )


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(ms: int) -> str:
    """The UTC day of ``ms`` (rules count days in UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one}" if count == 1 else f"{count:,} {many or one + 's'}"
