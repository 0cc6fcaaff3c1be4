"""Each oversight rule flags its pattern, with the evidence, and leaves the near-miss alone."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from plateledger.core.errors import FieldInvalid
from plateledger.oversight.engine import Monitor, analyse
from plateledger.oversight.flags import Flag
from plateledger.oversight.params import DEFAULT, OversightParams, describe
from plateledger.oversight.places import Place, places_from_geojson
from plateledger.oversight.records import Area, Field, SearchRecord, from_audit
from plateledger.oversight.rules import BY_ID, RULES, Context, Removal
from plateledger.oversight.terms import PROHIBITED

T0 = 1_750_000_000_000  # 2025-06-15T15:06:40Z
MIN = 60_000
DAY = 86_400_000
STATES = {"lake": "US-IL", "oak": "US-IL", "sun": "US-CA"}


def rec(ref: int, minutes: float = 0, **kw: Any) -> SearchRecord:
    base: dict[str, Any] = {"user": "ann", "agency": "lake", "case_number": "25-00001", "plate": "ABC123"}
    return SearchRecord(ref=ref, ts_ms=T0 + int(minutes * MIN), **{**base, **kw})


def flags_of(rule: str, records: list[SearchRecord], **context: Any) -> list[Flag]:
    outcome = {o.id: o for o in analyse(records, Context(**context), [BY_ID[rule]]).outcomes}[rule]
    assert outcome.why_not is None, outcome.why_not
    return list(outcome.flags)


def only(flags: list[Flag]) -> Flag:
    assert len(flags) == 1, [f.explanation for f in flags]
    return flags[0]


# Content-free reasons
def test_content_free_reason_and_case_flagged_with_the_words() -> None:
    records = [rec(i, i, case_number="N/A", reason="Investigation") for i in range(3)]
    flag = only(flags_of("reason.content_free", records))
    assert flag.refs == (0, 1, 2)
    assert flag.numbers["reason"] == "investigation"
    assert flag.numbers["searches"] == 3
    assert "investigation" in flag.explanation
    assert "N/A" in flag.explanation


@pytest.mark.parametrize(("case", "reason"), [("25-00001", "bolo"), ("n/a", "white sedan seen leaving"), ("0", "459")])
def test_content_free_not_flagged_when_case_or_reason_says_something(case: str, reason: str) -> None:
    assert flags_of("reason.content_free", [rec(1, case_number=case, reason=reason)]) == []


@pytest.mark.parametrize("case", ["0000", "123", "inv", "", None])
def test_formulaic_case_numbers_flagged(case: str | None) -> None:
    only(flags_of("reason.content_free", [rec(1, case_number=case, reason=None)]))


# Case-number pattern
def test_case_pattern_flags_off_pattern_numbers() -> None:
    patterns = {"lake": re.compile(r"\d{2}-\d{5}")}
    records = [rec(1, case_number="25-00001"), rec(2, 1, case_number="INV2025"), rec(3, 2, case_number="25-1")]
    flag = only(flags_of("case.pattern", records, case_patterns=patterns))
    assert flag.refs == (2, 3)
    assert flag.threshold["pattern"] == r"\d{2}-\d{5}"


def test_case_pattern_needs_a_pattern() -> None:
    outcome = analyse([rec(1)], Context(), [BY_ID["case.pattern"]]).outcomes[0]
    assert outcome.why_not is not None
    assert "pattern" in outcome.why_not


def test_case_pattern_of_another_agency_does_not_apply() -> None:
    patterns = {"oak": re.compile(r"OAK-\d+")}
    assert flags_of("case.pattern", [rec(1, case_number="25-00001")], case_patterns=patterns) == []


# Case spread
def test_case_cited_on_too_many_days_flagged_with_every_search() -> None:
    records = [rec(i, i * 24 * 60, user=f"u{i % 3}") for i in range(12)]
    flag = only(flags_of("case.spread", records, params=OversightParams(case_max_days=10)))
    assert flag.refs == tuple(range(12))
    assert flag.numbers["days"] == 12
    assert flag.threshold["case_max_days"] == 10
    assert flag.user is None
    assert flag.cases == ("25-00001",)


def test_case_cited_for_too_many_plates_flagged() -> None:
    records = [rec(i, i, plate=f"P{i}") for i in range(6)]
    flag = only(flags_of("case.spread", records, params=OversightParams(case_max_plates=5)))
    assert flag.numbers["plates"] == 6


def test_case_within_limits_not_flagged() -> None:
    records = [rec(i, i * 24 * 60) for i in range(10)]
    assert flags_of("case.spread", records, params=OversightParams(case_max_days=10)) == []


def test_same_case_number_of_two_agencies_is_two_cases() -> None:
    records = [rec(i, i * 24 * 60, agency="lake" if i % 2 else "oak") for i in range(12)]
    assert flags_of("case.spread", records, params=OversightParams(case_max_days=10)) == []


def test_case_cited_on_too_many_days_within_the_horizon_flagged() -> None:
    params = OversightParams(case_max_days=2, state_horizon_days=30)
    records = [rec(1), rec(2, 24 * 60), rec(3, 31 * 24 * 60)]  # the third 30 days after the second: within
    assert only(flags_of("case.spread", records, params=params)).refs == (1, 2, 3)


def test_case_forgotten_after_a_gap_longer_than_the_horizon() -> None:
    params = OversightParams(case_max_days=2, state_horizon_days=30)
    records = [rec(1), rec(2, 24 * 60), rec(3, 32 * 24 * 60)]  # 31 days without a search: starts afresh
    assert flags_of("case.spread", records, params=params) == []
    records.append(rec(4, 33 * 24 * 60))
    records.append(rec(5, 34 * 24 * 60))  # three days since it started afresh
    assert only(flags_of("case.spread", records, params=params)).refs == (3, 4, 5)


def test_plate_cases_forgotten_after_a_gap_longer_than_the_horizon() -> None:
    params = OversightParams(state_horizon_days=30)
    gap = [rec(1, case_number="25-00001"), rec(2, 24 * 60, case_number="25-00002")]
    assert flags_of("plate.many_cases", [*gap, rec(3, 40 * 24 * 60, case_number="25-00003")], params=params) == []
    within = [*gap, rec(3, 30 * 24 * 60, case_number="25-00003")]
    assert only(flags_of("plate.many_cases", within, params=params)).refs == (1, 2, 3)


def test_sweep_drops_the_state_of_quiet_keys_but_not_of_open_flags() -> None:
    context = Context(params=OversightParams(case_max_days=2, plate_min_cases=2, state_horizon_days=30))
    spread, pairs = BY_ID["case.spread"](context), BY_ID["plate.many_cases"](context)
    flagged = [rec(i, i * 24 * 60, case_number="25-09999", plate="FLAG1") for i in range(3)]
    flagged.append(rec(3, 2 * 24 * 60 + 1, case_number="25-09998", plate="FLAG1"))
    quiet = [rec(10 + i, 3 * 24 * 60 + i, case_number=f"25-{i:05}", plate=f"Q{i}") for i in range(100)]
    for record in [*flagged, *quiet]:
        spread.feed(record)
        pairs.feed(record)
    assert len(spread._cases) == 102  # type: ignore[attr-defined]
    assert len(pairs._pairs) == 101  # type: ignore[attr-defined]
    assert len(spread.flags()) == len(pairs.flags()) == 1
    later = rec(999, 40 * 24 * 60, case_number=None)  # any search, on a day past the horizon: the sweep
    assert spread.feed(later) == []
    assert pairs.feed(later) == []
    assert list(spread._cases) == [("lake", "25-09999")]  # type: ignore[attr-defined]
    assert list(pairs._pairs) == ["lake/ann|FLAG1"]  # type: ignore[attr-defined]
    assert spread._horizon.buckets == {}  # type: ignore[attr-defined]
    assert only(spread.flags()).refs == (0, 1, 2)  # open flags keep their evidence and what it is judged on
    assert only(spread.flags()).numbers["days"] == 3
    assert only(pairs.flags()).refs == (0, 1, 2, 3)


# Bursts
def test_burst_flagged_once_with_all_its_searches() -> None:
    records = [rec(i, i * 0.1, plate=f"P{i}") for i in range(45)]
    flag = only(flags_of("volume.burst", records))
    assert flag.refs == tuple(range(45))
    assert flag.numbers["searches"] == 45
    assert flag.numbers["seconds_between"] == 6.0
    assert flag.threshold == {"burst_count": 30, "burst_minutes": 10}


def test_steady_searches_are_not_a_burst() -> None:
    records = [rec(i, i * 0.5) for i in range(100)]  # 20 per 10 minutes, for 50 minutes
    assert flags_of("volume.burst", records) == []


def test_two_users_interleaved_are_not_one_burst() -> None:
    records = [rec(i, i * 0.1, user="ann" if i % 2 else "bob") for i in range(50)]
    assert flags_of("volume.burst", records) == []


def test_two_bursts_apart_are_two_flags() -> None:
    records = [rec(i, i * 0.1) for i in range(30)] + [rec(100 + i, 120 + i * 0.1) for i in range(30)]
    assert len(flags_of("volume.burst", records)) == 2


# Peer volume
def _peers_day(heavy: int) -> list[SearchRecord]:
    records = []
    ref = 0
    for user in ("a", "b", "c", "d", "e"):
        for i in range(8):
            ref += 1
            records.append(rec(ref, i, user=user))
    for i in range(heavy):
        ref += 1
        records.append(rec(ref, 10 + i * 2, user="heavy"))
    return records


def test_user_far_above_peers_flagged() -> None:
    flag = only(flags_of("volume.peers", _peers_day(60)))
    assert flag.user == "heavy"
    assert flag.numbers["searches"] == 60
    assert flag.numbers["peer_median"] == 8


def test_user_above_peers_but_under_the_floor_not_flagged() -> None:
    assert flags_of("volume.peers", _peers_day(45)) == []  # 45 > 5 × 8 but under 50


def test_peers_of_another_agency_do_not_count() -> None:
    records = [replace(r, agency="oak") if r.user != "heavy" else r for r in _peers_day(60)]
    assert flags_of("volume.peers", records) == []


def test_peer_day_raised_when_the_day_ends() -> None:
    monitor = Monitor(Context(), [BY_ID["volume.peers"]])
    assert [f for r in _peers_day(60) for f in monitor.feed(r)] == []
    raised = monitor.feed(rec(999, 24 * 60 + 1, user="a"))
    assert [f.user for f in raised] == ["heavy"]


# Same plate, different cases
def test_same_plate_under_three_cases_flagged_with_the_earlier_searches() -> None:
    records = [rec(i, i * 60, case_number=f"25-0000{i}") for i in range(1, 5)]
    flag = only(flags_of("plate.many_cases", records))
    assert flag.refs == (1, 2, 3, 4)
    assert flag.numbers["cases"] == 4
    assert flag.plates == ("ABC123",)


def test_same_plate_under_one_case_or_by_two_users_not_flagged() -> None:
    assert flags_of("plate.many_cases", [rec(i, i) for i in range(10)]) == []
    records = [rec(i, i, case_number=f"25-0000{i}", user="ann" if i < 2 else "bob") for i in range(4)]
    assert flags_of("plate.many_cases", records) == []


# After a hot-list removal
def test_search_right_after_removal_flagged() -> None:
    removals = (Removal("ABC123", T0 - 2 * 3_600_000, "stolen"),)
    flag = only(flags_of("plate.after_hotlist_removal", [rec(1)], removals=removals))
    assert flag.numbers["hours_after"] == 2.0
    assert "stolen" in flag.explanation


def test_search_long_after_or_before_removal_not_flagged() -> None:
    removals = (Removal("ABC123", T0 - 100 * 3_600_000), Removal("ABC123", T0 + MIN))
    assert flags_of("plate.after_hotlist_removal", [rec(1)], removals=removals) == []


def test_after_removal_needs_the_events() -> None:
    assert BY_ID["plate.after_hotlist_removal"].unavailable(Context()) is not None
    assert BY_ID["plate.after_hotlist_removal"].unavailable(Context(removals=())) is None


# Prohibited-purpose terms
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("ICE+ERO", "immigration"),
        ("ice warrant", "immigration"),
        ("possible deportation", "immigration"),
        ("Immigration Protest downtown", "immigration"),
        ("protesters at city hall", "protest"),
        ("had an abortion, search for female", "reproductive health"),
        ("Planned-Parenthood lot", "reproductive health"),
        ("gypsy", "slur"),
    ],
)
def test_prohibited_terms_flagged_for_review(text: str, category: str) -> None:
    flags = flags_of("text.prohibited", [rec(1, reason=text)])
    assert category in {f.numbers["category"] for f in flags}
    assert all(f.route == "review" for f in flags)


@pytest.mark.parametrize(
    "text",
    ["price sticker on window", "police office", "service station", "iced coffee shop", "practice field", "notice"],
)
def test_prohibited_terms_match_whole_words_only(text: str) -> None:
    assert flags_of("text.prohibited", [rec(1, reason=text)]) == []


def test_prohibited_terms_are_editable() -> None:
    records = [rec(1, reason="union meeting")]
    assert flags_of("text.prohibited", records) == []
    flag = only(flags_of("text.prohibited", records, prohibited={"labour": ("union*",)}))
    assert flag.numbers["terms"] == ["union"]


def test_case_number_text_is_read_too() -> None:
    assert flags_of("text.prohibited", [rec(1, case_number="ICE-2025-1")]) != []


# Test and training searches
def test_training_search_flagged() -> None:
    flag = only(flags_of("search.test", [rec(1, reason="Training exercise"), rec(2, 1, case_number="TEST")]))
    assert flag.refs == (1, 2)


def test_words_containing_test_are_not_test_searches() -> None:
    assert flags_of("search.test", [rec(1, reason="protested ticket"), rec(2, reason="contest winner car")]) == []


# Out of state
def test_reaching_owners_outside_the_state_flagged() -> None:
    records = [rec(1, owners_reached=("lake", "oak", "sun"))]
    flag = only(flags_of("reach.out_of_state", records, agency_states=STATES))
    assert flag.numbers["states"] == ["US-CA"]
    assert "sun" in flag.explanation


def test_reaching_owners_in_state_not_flagged() -> None:
    records = [rec(1, owners_reached=("lake", "oak")), rec(2, agency="nowhere", owners_reached=("sun",))]
    assert flags_of("reach.out_of_state", records, agency_states=STATES) == []


# Refusals (probing)
def test_many_refusals_flagged() -> None:
    normal = [rec(i, i, user=f"u{i % 10}") for i in range(200)]
    probing = [rec(1000 + i, 300 + i, user="probe", refused=i < 8) for i in range(10)]
    flag = only(flags_of("reach.refusals", normal + probing))
    assert flag.user == "probe"
    assert flag.numbers["refused"] == 8
    assert len(flag.refs) == 8


def test_few_refusals_not_flagged() -> None:
    records = [rec(i, i, refused=i % 3 == 0) for i in range(12)]  # 4 refused, under refusal_min
    assert flags_of("reach.refusals", records) == []


# Sensitive places
CHURCH = Place("St. Mark's", "place of worship", points=((41.0, -88.0),))
CLINIC = places_from_geojson(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Clinic", "amenity": "clinic"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[-87.9, 41.1], [-87.899, 41.1], [-87.899, 41.101], [-87.9, 41.101], [-87.9, 41.1]]
                    ],
                },
            }
        ],
    }
)


def test_area_search_near_a_place_flagged_with_the_distance() -> None:
    records = [rec(1, kind="area", plate=None, area=Area(41.002, -88.0, 100.0))]  # ~222 m, minus 100 m
    flag = only(flags_of("area.sensitive_place", records, places=(CHURCH,)))
    assert 100 <= flag.numbers["distance_m"] <= 140
    assert flag.numbers["place"] == "St. Mark's"


def test_area_search_over_a_polygon_place_flagged() -> None:
    polygon = ((41.0995, -87.9005), (41.0995, -87.8985), (41.1015, -87.8985))
    records = [rec(1, kind="area", plate=None, area=Area(polygon[0][0], polygon[0][1], 0.0, polygon))]
    flag = only(flags_of("area.sensitive_place", records, places=CLINIC))
    assert flag.numbers["distance_m"] == 0
    assert flag.numbers["kind"] == "clinic"


def test_area_search_far_from_places_not_flagged() -> None:
    records = [rec(1, kind="area", plate=None, area=Area(41.02, -88.0, 500.0))]  # 2.2 km away
    assert flags_of("area.sensitive_place", records, places=(CHURCH, *CLINIC)) == []


# Parameters, records, streaming
def test_params_refuse_out_of_bounds_values() -> None:
    with pytest.raises(FieldInvalid, match="burst_count"):
        OversightParams(burst_count=1)


def test_describe_is_generated_from_the_values() -> None:
    text = " ".join(describe(OversightParams(burst_count=77, sensitive_distance_m=123), prohibited=PROHIBITED))
    assert "77 or more searches" in text
    assert "123 m" in text
    assert "immigration" in text
    assert " ".join(describe(DEFAULT)) != text


def test_rules_needing_missing_fields_do_not_run() -> None:
    context = Context(fields=frozenset({Field.REASON, Field.CASE_NUMBER}))
    analysis = analyse([rec(1)], context)
    why = {o.id: o.why_not for o in analysis.outcomes}
    assert why["volume.peers"] is not None
    assert "user" in why["volume.peers"]
    assert why["reason.content_free"] is None


def test_audit_entry_to_record() -> None:
    entry = {
        "seq": 7,
        "ts": "2025-06-15T15:06:40.000Z",
        "action": "search.area",
        "actor": "ann",
        "actor_agency_id": 3,
        "purpose": "violent_crime",
        "case_number": "25-00001",
        "outcome": "ok",
        "params": {"query": {"lat": "41.0", "lon": -88, "radius_m": 150, "note": "x"}, "withheld": {"sun": "r"}},
        "counts": {"per_owner": {"lake": 3, "oak": 0}},
    }
    record = from_audit(entry, {3: "lake"})
    assert record is not None
    assert (record.ref, record.ts_ms, record.agency, record.kind) == (7, T0, "lake", "area")
    assert record.area == Area(41.0, -88.0, 150.0)
    assert record.owners_reached == ("lake", "oak")
    assert record.owners_refused == ("sun",)
    assert record.reason == "x"
    assert from_audit({**entry, "action": "auth.login"}) is None


def test_monitor_raises_each_flag_once_and_agrees_with_analyse() -> None:
    records = [rec(i, i * 0.1, case_number="n/a", reason="ICE") for i in range(40)]
    context = Context()
    monitor = Monitor(context)
    raised = [f for r in records for f in monitor.feed(r)]
    assert len({(f.rule, f.key) for f in raised}) == len(raised)
    final = monitor.analysis().flags
    assert {(f.rule, f.key) for f in raised} == {(f.rule, f.key) for f in final}
    assert [f.as_json() for f in final] == [f.as_json() for f in analyse(records, context).flags]


def test_every_rule_has_an_id_title_and_is_documented() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "oversight.md").read_text()
    for rule in RULES:
        assert rule.id
        assert rule.title
        assert f"`{rule.id}`" in docs, rule.id


def test_describe_says_when_quiet_cases_are_forgotten() -> None:
    assert "more than 400 days is forgotten" in " ".join(describe(OversightParams(state_horizon_days=400)))
    with pytest.raises(FieldInvalid):
        OversightParams(state_horizon_days=29)
