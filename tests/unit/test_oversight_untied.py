"""``plate.no_alert_or_case``: one user searching the same plate repeatedly outside any alert or case."""

from __future__ import annotations

import re
from typing import Any

import pytest

from plateledger.core.errors import FieldInvalid
from plateledger.oversight.engine import analyse
from plateledger.oversight.flags import Flag
from plateledger.oversight.params import OversightParams, describe
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules import BY_ID, CaseEntry, Context, case_key

RULE = "plate.no_alert_or_case"
T0 = 1_750_000_000_000  # 2025-06-15T15:06:40Z
HOUR = 3_600_000
DAY = 86_400_000
OPEN = CaseEntry("25-00001", T0 - 10 * DAY)
REGISTER = {case_key("lake", "25-00001"): OPEN}


def rec(ref: int, days: float = 0, **kw: Any) -> SearchRecord:
    base: dict[str, Any] = {"user": "ann", "agency": "lake", "case_number": "25-99999", "plate": "ABC123"}
    return SearchRecord(ref=ref, ts_ms=T0 + int(days * DAY), **{**base, **kw})


def daily(count: int, **kw: Any) -> list[SearchRecord]:
    return [rec(i, i, **kw) for i in range(1, count + 1)]


def flags_of(records: list[SearchRecord], **context: Any) -> list[Flag]:
    context = {"alerts": {}, "cases": REGISTER, **context}
    outcome = {o.id: o for o in analyse(records, Context(**context), [BY_ID[RULE]]).outcomes}[RULE]
    assert outcome.why_not is None, outcome.why_not
    return list(outcome.flags)


def test_plate_searched_five_times_under_an_unregistered_case_flagged_with_the_evidence() -> None:
    [flag] = flags_of(daily(6))
    assert flag.refs == (1, 2, 3, 4, 5, 6)  # the earlier searches, then the one after the flag
    assert flag.user == "ann"
    assert flag.plates == ("ABC123",)
    assert flag.cases == ("25-99999",)
    assert flag.numbers["searches"] == 6
    assert flag.numbers["case_register"] is True
    assert flag.threshold == {"untied_searches": 5, "untied_days": 30, "alert_explains_hours": 72}
    assert "ABC123" in flag.explanation
    assert "case register" in flag.explanation
    assert BY_ID[RULE].explainable


def test_fewer_searches_or_spread_beyond_the_window_not_flagged() -> None:
    assert flags_of(daily(4)) == []
    assert flags_of([rec(i, i * 10) for i in range(1, 8)]) == []  # 7 searches, 10 days apart: 3 in any 30 days


def test_searches_of_an_open_registered_case_not_flagged() -> None:
    assert flags_of(daily(10, case_number=" 25-00001")) == []


def test_a_closed_or_later_opened_case_does_not_tie_the_search() -> None:
    closed = {case_key("lake", "25-00001"): CaseEntry("25-00001", T0 - 10 * DAY, T0 - DAY)}
    assert len(flags_of(daily(5, case_number="25-00001"), cases=closed)) == 1
    later = {case_key("lake", "25-00001"): CaseEntry("25-00001", T0 + 100 * DAY)}
    assert len(flags_of(daily(5, case_number="25-00001"), cases=later)) == 1


def test_an_alert_to_the_agency_within_the_hours_ties_the_search() -> None:
    records = [rec(i, i * 0.1) for i in range(1, 10)]
    assert flags_of(records, alerts={("lake", "ABC123"): [T0 - HOUR]}) == []
    assert len(flags_of(records, alerts={("lake", "ABC123"): [T0 - 100 * HOUR]})) == 1  # too long before
    assert len(flags_of(records, alerts={("oak", "ABC123"): [T0 - HOUR]})) == 1  # another agency's alert
    assert len(flags_of(records, alerts={("lake", "ABC123"): [T0 + 30 * DAY]})) == 1  # an alert after


def test_one_user_per_flag_and_plate() -> None:
    records = [rec(i, i, user="ann" if i % 2 else "bob") for i in range(1, 9)]
    assert flags_of(records) == []
    records = [rec(i, i, plate="ABC123" if i % 2 else "XYZ789") for i in range(1, 9)]
    assert flags_of(records) == []


def test_only_untied_searches_count() -> None:
    records = [rec(i, i, case_number="25-00001" if i % 2 else "25-99999") for i in range(1, 10)]
    assert flags_of(records) == []  # 4 untied
    [flag] = flags_of([*records, rec(10, 10)])
    assert flag.refs == (2, 4, 6, 8, 10)


@pytest.mark.parametrize(("case", "flagged"), [("25-12345", False), ("n/a", True), ("", True), ("2025", True)])
def test_without_a_register_a_real_case_number_on_the_pattern_is_the_case(case: str, flagged: bool) -> None:
    patterns = {"*": re.compile(r"[0-9]{2}-[0-9]{5}")}
    flags = flags_of(daily(5, case_number=case or None), cases=None, case_patterns=patterns)
    assert bool(flags) is flagged
    if flags:
        assert flags[0].numbers["case_register"] is False
        assert "no case number the agency uses" in flags[0].explanation


def test_an_agency_without_a_register_beside_one_with_a_register() -> None:
    # oak keeps none: its well-formed case numbers stand; lake keeps one: the same number, unregistered, does not
    records = [*daily(5, agency="oak", user="oak/ann"), *daily(5, agency="lake")]
    [flag] = flags_of(records)
    assert flag.agency == "lake"
    # told explicitly which agencies keep a register
    assert len(flags_of(daily(5, agency="oak"), case_registers={"oak"})) == 1


def test_needs_alerts_a_user_and_plates() -> None:
    rule = BY_ID[RULE]
    assert rule.unavailable(Context()) is not None
    assert rule.unavailable(Context(alerts={})) is None
    flock = Context(alerts={}, fields=frozenset({Field.AGENCY, Field.REASON, Field.CASE_NUMBER}))
    assert "plate, user" in (rule.unavailable(flock) or "")


def test_params_bounded_and_described() -> None:
    with pytest.raises(FieldInvalid, match="untied_searches"):
        OversightParams(untied_searches=1)
    with pytest.raises(FieldInvalid, match="untied_days"):
        OversightParams(untied_days=0)
    text = " ".join(describe(OversightParams(untied_searches=7, untied_days=14)))
    assert "same plate 7 or more times within 14 days" in text
    assert len(flags_of(daily(6), params=OversightParams(untied_searches=7))) == 0
    assert len(flags_of(daily(7), params=OversightParams(untied_searches=7))) == 1
