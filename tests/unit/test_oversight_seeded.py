"""End to end on a generated audit log (tests/oversight_kit.py): every seeded abuse pattern is flagged by its rule
with its evidence, and the honest searches around them are rarely flagged (the rate is asserted below 1%; it is
about 0.3%: honest out-of-state searches under agreements and area searches that happen to pass a listed place)."""

from __future__ import annotations

import pytest

from plateledger.oversight.engine import Analysis, Monitor, analyse
from plateledger.oversight.records import from_audit
from tests.oversight_kit import PATTERNS, Generator, Scenario


@pytest.fixture(scope="module")
def run() -> tuple[Scenario, Analysis]:
    generator = Generator(40_000, days=120)
    records = [r for e in generator.entries() if (r := from_audit(e)) is not None]
    return generator.scenario, analyse(records, generator.scenario.context())


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_seeded_pattern_is_flagged_with_its_evidence(run: tuple[Scenario, Analysis], pattern: str) -> None:
    scenario, analysis = run
    rule = PATTERNS[pattern]
    seeded = scenario.seeded[pattern]
    flags = [f for f in analysis.flags if f.rule == rule and set(f.refs) & seeded]
    assert flags, f"{pattern}: no {rule} flag"
    assert seeded <= {ref for f in flags for ref in f.refs}, f"{pattern}: some seeded searches not in the evidence"
    for flag in flags:
        assert flag.explanation
        assert flag.threshold
        assert flag.numbers


def test_immigration_lookups_are_flagged_for_review_not_refused(run: tuple[Scenario, Analysis]) -> None:
    _, analysis = run
    flags = [f for f in analysis.flags if f.rule == "text.prohibited" and f.user == "rmiller"]
    assert flags
    assert all(f.route == "review" and f.numbers["category"] == "immigration" for f in flags)


def test_honest_searches_are_rarely_flagged(run: tuple[Scenario, Analysis]) -> None:
    scenario, analysis = run
    flagged = analysis.flagged_refs() & scenario.honest
    rate = len(flagged) / len(scenario.honest)
    assert rate < 0.01, rate
    rules = {f.rule for f in analysis.flags if set(f.refs) & scenario.honest}
    assert rules <= {
        "reach.out_of_state",
        "area.sensitive_place",
        "volume.peers",
        "case.spread",
        "plate.no_alert_or_case",
    }, rules


def test_repeated_plate_searches_flagged_only_outside_alerts_and_registered_cases(
    run: tuple[Scenario, Analysis],
) -> None:
    scenario, analysis = run
    flags = [f for f in analysis.flags if f.rule == "plate.no_alert_or_case"]
    assert not [f for f in flags if f.user == "bwatch"]  # the same searches after an alert to the agency
    assert not [f for f in flags if f.agency == "agency-002"]  # no register: its case numbers stand
    [stalk] = [f for f in flags if f.user == "lstalk"]
    assert stalk.numbers["searches"] == 6
    assert stalk.numbers["case_register"] is True
    honest = [f for f in flags if set(f.refs) & scenario.honest]
    assert all(set(f.cases) - {c for _, c in scenario.cases} for f in honest)  # only cases never registered


def test_streaming_gives_the_same_flags() -> None:
    generator = Generator(5_000, days=120, seed=3)
    records = [r for e in generator.entries() if (r := from_audit(e)) is not None]
    context = generator.scenario.context()
    monitor = Monitor(context)
    raised = {(f.rule, f.key) for r in records for f in monitor.feed(r)}
    final = {(f.rule, f.key) for f in analyse(records, context).flags}
    pending = {(f.rule, f.key) for f in monitor.analysis().flags} - raised
    assert raised | pending == final
    assert {rule for rule, _ in pending} <= {"volume.peers", "reach.refusals"}  # the last day, still open
