"""A plate searched repeatedly by one user outside any alert or case: the look-ups of a partner, a neighbour or a
journalist that audits of police databases keep finding, each one given some case number.

A search is *tied* when the user's agency was alerted to the plate within ``alert_explains_hours`` before it, or
it cites a case open at that time in the agency's case register. Where the agency keeps no register, a case number
cannot be checked: the one cited counts as a case when it is neither blank nor formulaic (``n/a``, ``0000``) and
matches the agency's case-number pattern where it has one. (Counting only alerts there would flag most follow-up
searches of an investigation: about a third of the honest searches of the generated log, tests/oversight_kit.py.)
"""

from __future__ import annotations

from plateledger.oversight.flags import Draft, Flag, day, plural
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Rule, case_key
from plateledger.oversight.terms import formulaic_case


class UntiedPlate(Rule):
    id = "plate.no_alert_or_case"
    explainable = True
    title = "One user searching the same plate repeatedly outside any alert or case"
    needs = frozenset({Field.USER, Field.PLATE})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        #: Each (user, plate)'s untied searches within the window, (reference, time), until it is flagged.
        self._recent: dict[str, list[tuple[int, int]]] = {}

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.alerts is not None else "the alerts the agencies received were not given"

    def tied(self, record: SearchRecord) -> bool:
        """Whether an alert or a case accounts for ``record`` (see the module's docstring)."""
        context = self.context
        if record.plate and context.alerted(record.agency, record.plate, record.ts_ms) is not None:
            return True
        number = record.case_number
        if not number or not number.strip():
            return False
        if context.keeps_register(record.agency):
            case = (context.cases or {}).get(case_key(record.agency, number))
            return case is not None and case.open_at(record.ts_ms)
        if formulaic_case(number, context.content_free):
            return False
        pattern = context.case_pattern(record.agency)
        return pattern is None or pattern.fullmatch(number) is not None

    def feed(self, record: SearchRecord) -> list[Flag]:
        if not record.plate or self.tied(record):
            return []
        key = f"{record.actor}|{record.plate}"
        if key in self._drafts:
            return self.add(key, record)
        since = record.ts_ms - self.params.untied_days * DAY_MS
        recent = [seen for seen in self._recent.get(key, ()) if seen[1] > since]
        recent.append((record.ref, record.ts_ms))
        if len(recent) < self.params.untied_searches:
            self._recent[key] = recent
            return []
        del self._recent[key]
        draft = self._drafts[key] = Draft.of(key, record)
        draft.extra.update(plate=record.plate, register=self.context.keeps_register(record.agency))
        for ref, ts_ms in recent[:-1]:
            draft.add_ref(ref, ts_ms)
        draft.add(record)
        return [self.render(draft)]

    def render(self, draft: Draft) -> Flag:
        plate, register = draft.extra["plate"], draft.extra["register"]
        cases = list(draft.cases)
        cited = f"citing {', '.join(cases[:5])}" if cases else "citing no case number"
        outside = "no case open in the agency's case register" if register else "no case number the agency uses"
        return draft.flag(
            self.id,
            {
                "searches": len(draft.refs),
                "plate": plate,
                "case_numbers": cases[:50],
                "days": (draft.last_ms - draft.first_ms) // DAY_MS + 1,
                "case_register": register,
            },
            {
                "untied_searches": self.params.untied_searches,
                "untied_days": self.params.untied_days,
                "alert_explains_hours": self.params.alert_explains_hours,
            },
            f"{draft.actor} searched plate {plate} {plural(len(draft.refs), 'time')} between {day(draft.first_ms)} "
            f"and {day(draft.last_ms)} ({cited}) with no alert to the agency for it in the "
            f"{self.params.alert_explains_hours} hours before and {outside}: repeated look-ups of one vehicle "
            "that no investigation accounts for.",
        )
