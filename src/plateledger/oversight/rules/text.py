"""Rules on what a search says: content-free reasons, case numbers off the agency's pattern, prohibited-purpose
terms, test or training searches. Each flags one actor's searches of one day (per reason, pattern or category)."""

from __future__ import annotations

from plateledger.oversight.flags import Draft, Flag, day, plural
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Rule
from plateledger.oversight.terms import content_free, formulaic_case, words


def _said(record: SearchRecord) -> str:
    """The record's free text and case number, as one text to search."""
    return " ".join(t for t in (record.reason, record.case_number) if t)


class ContentFree(Rule):
    id = "reason.content_free"
    explainable = True
    title = "Content-free or formulaic reasons"
    needs = frozenset({Field.REASON})

    def feed(self, record: SearchRecord) -> list[Flag]:
        vocabulary = self.context.content_free
        if not formulaic_case(record.case_number, vocabulary):
            return []
        if record.reason is not None and not content_free(record.reason, vocabulary):
            return []
        said = " ".join(words(record.reason)) or "(blank)"
        case = " ".join(words(record.case_number)) or "-"
        key = f"{record.actor}|{record.ts_ms // DAY_MS}|{said}|{case}"
        return self.add(key, record, said=said, case=record.case_number or "")

    def render(self, draft: Draft) -> Flag:
        said, case = draft.extra["said"], draft.extra["case"]
        given = f"the reason '{said}'" + (f" and case number '{case}'" if case else " and no case number")
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "reason": said, "case_number": case, "day": day(draft.first_ms)},
            {"content_free": list(self.params.content_free)},
            f"{plural(len(draft.refs), 'search', 'searches')} by {draft.actor} on {day(draft.first_ms)} gave only "
            f"{given}, which names no case, crime or person and so justifies nothing on its own.",
        )


class CasePattern(Rule):
    id = "case.pattern"
    explainable = True
    title = "Case numbers not matching the agency's pattern"
    needs = frozenset({Field.CASE_NUMBER})

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.case_patterns else "no case-number pattern is configured for the agency"

    def feed(self, record: SearchRecord) -> list[Flag]:
        pattern = self.context.case_pattern(record.agency)
        if pattern is None or (record.case_number and pattern.fullmatch(record.case_number)):
            return []
        return self.add(f"{record.actor}|{record.ts_ms // DAY_MS}", record, pattern=pattern.pattern)

    def render(self, draft: Draft) -> Flag:
        cases = list(draft.cases) or ["(none)"]
        shown = ", ".join(f"'{c}'" for c in cases[:5]) + (" …" if len(cases) > 5 else "")
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "case_numbers": cases[:50], "day": day(draft.first_ms)},
            {"pattern": draft.extra["pattern"]},
            f"{plural(len(draft.refs), 'search', 'searches')} by {draft.actor} on {day(draft.first_ms)} cited case "
            f"numbers ({shown}) that do not match the agency's case-number pattern {draft.extra['pattern']}.",
        )


class ProhibitedTerms(Rule):
    id = "text.prohibited"
    title = "Free text suggesting a prohibited purpose"
    needs = frozenset({Field.REASON})

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.terms.categories else "the list of prohibited-purpose terms is empty"

    def feed(self, record: SearchRecord) -> list[Flag]:
        text = _said(record)
        if not text:
            return []
        raised: list[Flag] = []
        seen: set[str] = set()
        for category, matched in self.context.terms.find(text):
            key = f"{record.actor}|{record.ts_ms // DAY_MS}|{category}"
            terms = self._drafts[key].extra["terms"] if key in self._drafts else {}
            terms[matched.lower()] = None
            if category not in seen:
                seen.add(category)
                raised += self.add(key, record, category=category, terms=terms)
        return raised

    def render(self, draft: Draft) -> Flag:
        category = draft.extra["category"]
        terms = list(draft.extra["terms"])
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "category": category, "terms": terms, "day": day(draft.first_ms)},
            {"category": category, "terms": list(self.context.prohibited.get(category, ()))},
            f"{plural(len(draft.refs), 'search', 'searches')} by {draft.actor} on {day(draft.first_ms)} used words "
            f"({', '.join(repr(t) for t in terms[:5])}) that suggest {category}, a purpose the agency prohibits: "
            "routed to review, not refused, since the words may describe a crime rather than the purpose.",
        )


class TestSearches(Rule):
    __test__ = False  # not a pytest class
    id = "search.test"
    title = "Test or training searches on live data"
    needs = frozenset({Field.REASON})

    def feed(self, record: SearchRecord) -> list[Flag]:
        pattern = self.context.test_words
        text = _said(record)
        if pattern is None or not text or not (match := pattern.search(text)):
            return []
        return self.add(f"{record.actor}|{record.ts_ms // DAY_MS}", record, word=match.group(0).lower())

    def render(self, draft: Draft) -> Flag:
        return draft.flag(
            self.id,
            {"searches": len(draft.refs), "word": draft.extra["word"], "day": day(draft.first_ms)},
            {"test_terms": list(self.params.test_terms)},
            f"{plural(len(draft.refs), 'search', 'searches')} by {draft.actor} on {day(draft.first_ms)} were marked "
            f"as a test or training ('{draft.extra['word']}'), yet ran on live data about real people.",
        )
