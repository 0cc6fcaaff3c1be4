"""Hot-list matching at ingest, on every ingest path, against real chDB and SQLite: exact plates, wildcard
patterns, regions, confusable characters per list, expired and removed entries, duplicates; retroactive hits
from past reads, searched through the gate and audited like any search."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.alerts.retroactive import add_entries
from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.hotlists.service import EntryIn
from plateledger.plates import confusable_key, is_pattern, normalise_pattern, pattern_matches
from plateledger.platform import Platform
from plateledger.policy.rules import PRESETS, Preset, Terms
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, ingest, read, seed_agency


@pytest.fixture
def kits(platform: Platform) -> dict[str, AgencyKit]:
    return {"lister": seed_agency(platform, "lister-so", name="Lister SO", kind="county")}


def entry(plate: str, clock: FixedClock, **extra: object) -> EntryIn:
    fields: dict[str, object] = {
        "plate": plate,
        "purpose": "stolen_vehicle",
        "reference": "CASE-7",
        "reason": "reported stolen",
        "expires_ms": clock.now_ms() + 10 * DAY_MS,
        **extra,
    }
    return EntryIn(**fields)  # type: ignore[arg-type]


def make_list(platform: Platform, kit: AgencyKit, name: str, entries: list[EntryIn], **options: object) -> int:
    view = platform.hotlists.create(kit.investigator, name=name, default_purpose="stolen_vehicle", **options)  # type: ignore[arg-type]
    valid, errors = platform.hotlists.validate(view, entries)
    assert errors == []
    platform.hotlists.apply(kit.investigator, view.id, add=valid)
    return view.id


def alerted(platform: Platform, kit: AgencyKit) -> list[tuple[str, str, str]]:
    """(plate, match, entry plate) of the agency's alerts, in order."""
    return [(a["read"]["plate"], a["match"], a["entry"]["plate"]) for a in platform.alerts.listing(kit.investigator)]


def test_exact_wildcard_and_region_match_only_stored_reads(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    make_list(
        platform,
        lister,
        "stolen",
        [
            entry("7ABC123", clock),
            entry("8XY*", clock),
            entry("5KL?99", clock),
            entry("9CA0001", clock, region="US-CA"),
        ],
    )
    result = ingest(
        platform,
        lister,
        [
            read("7abc-123", camera=cam, read_id="a"),
            read("8XYZ12", camera=cam, read_id="b"),
            read("5KLM99", camera=cam, read_id="c"),
            read("5KLMN99", camera=cam, read_id="d"),  # ? is one character
            read("9CA0001", camera=cam, read_id="e", region="US-NV"),  # another region
            read("9CA0001", camera=cam, read_id="f"),  # no region: matches
            read("9CA0001", camera=cam, read_id="g", region="CA"),
            read("1NOPE11", camera=cam, read_id="h"),
        ],
    )
    assert (result.stored, len(result.matches)) == (8, 5)
    assert sorted(alerted(platform, lister)) == [
        ("5KLM99", "pattern", "5KL?99"),
        ("7ABC123", "exact", "7ABC123"),
        ("8XYZ12", "pattern", "8XY*"),
        ("9CA0001", "exact", "9CA0001"),
        ("9CA0001", "exact", "9CA0001"),
    ]
    # The same reads again: all duplicates, nothing stored, nothing alerts twice.
    again = ingest(
        platform, lister, [read("7abc-123", camera=cam, read_id="a"), read("8XYZ12", camera=cam, read_id="b")]
    )
    assert (again.stored, again.duplicates, again.matches) == (0, 2, [])
    assert len(alerted(platform, lister)) == 5


def test_batches_with_and_without_pattern_hits_match_alike(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    """The pattern parts of the match are left out of a batch no pattern hit: with patterns loaded, a batch of only
    exact and confusable hits still matches them, and a later batch of only a pattern hit, or both kinds, matches."""
    lister = kits["lister"]
    cam = lister.cameras[0]
    make_list(platform, lister, "stolen", [entry("7ABC123", clock), entry("8XY*", clock)])
    make_list(platform, lister, "fuzzy", [entry("5OB1234", clock), entry("6Q?Z*", clock)], match_confusable=True)

    def hows(*reads: dict[str, object]) -> list[tuple[str, str]]:
        result = ingest(platform, lister, list(reads))
        assert result.stored == len(reads)
        return sorted((m.read_id, m.how) for m in result.matches)

    assert hows(read("7ABC123", camera=cam, read_id="a"), read("50B1234", camera=cam, read_id="b")) == [
        ("a", "exact"),
        ("b", "confusable"),
    ]
    assert hows(read("1NOPE11", camera=cam, read_id="c")) == []
    assert hows(read("8XYQ", camera=cam, read_id="d")) == [("d", "pattern")]
    assert hows(read("6OQZ99", camera=cam, read_id="e"), read("7ABC123", camera=cam, read_id="f")) == [
        ("e", "confusable"),
        ("f", "exact"),
    ]


def test_confusable_matching_is_a_per_list_option(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    make_list(platform, lister, "plain", [entry("7ABC123", clock), entry("B0B*", clock)])
    make_list(platform, lister, "fuzzy", [entry("7ABC123", clock), entry("B0B*", clock)], match_confusable=True)
    ingest(platform, lister, [read("7A8C123", camera=cam), read("808XY", camera=cam), read("7ABC123", camera=cam)])
    found = sorted(alerted(platform, lister))
    assert found == [
        ("7A8C123", "confusable", "7ABC123"),
        ("7ABC123", "exact", "7ABC123"),
        ("7ABC123", "exact", "7ABC123"),
        ("808XY", "confusable", "B0B*"),
    ]


def test_expired_and_removed_entries_stop_matching_and_added_ones_start(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    list_id = make_list(
        platform,
        lister,
        "short",
        [entry("7ABC123", clock, expires_ms=clock.now_ms() + DAY_MS), entry("8XYZ999", clock)],
    )
    ingest(platform, lister, [read("7ABC123", camera=cam, read_id="1"), read("8XYZ999", camera=cam, read_id="2")])
    assert len(alerted(platform, lister)) == 2
    clock.advance(DAY_MS)  # the first entry expires: no reload needed
    platform.hotlists.apply(lister.investigator, list_id, add=[], remove_plates=["8XYZ999"])
    ts = clock.now_ms() - HOUR_MS
    result = ingest(platform, lister, [read("7ABC123", camera=cam, ts=ts), read("8XYZ999", camera=cam, ts=ts)])
    assert (result.stored, result.matches) == (2, [])
    view = platform.hotlists.get(lister.investigator, list_id)
    valid, _ = platform.hotlists.validate(view, [entry("4NEW444", clock)])
    platform.hotlists.apply(lister.investigator, list_id, add=valid)
    assert len(ingest(platform, lister, [read("4NEW444", camera=cam, ts=ts)]).matches) == 1
    assert len(alerted(platform, lister)) == 3


def test_every_ingest_path_matches(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock, tmp_path: Path
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    make_list(platform, lister, "stolen", [entry("7ABC*", clock)])
    ts = NOW_MS - HOUR_MS
    jsonl = tmp_path / "reads.jsonl"
    jsonl.write_bytes(orjson.dumps(read("7ABC001", camera=cam, ts=ts)) + b"\n")
    csv_file = tmp_path / "reads.csv"
    csv_file.write_text(f"plate,ts,camera\n7ABC002,{ts},{cam}\n")
    actor = lister.device.actor
    assert len(platform.ingest.ingest_file(actor, lister.agency, jsonl, fmt="jsonl").matches) == 1
    assert len(platform.ingest.ingest_file(actor, lister.agency, csv_file, fmt="csv").matches) == 1
    with TestClient(create_app(platform=platform)) as client:
        response = client.post(
            "/api/v1/reads",
            json=[read("7ABC003", camera=cam, ts=ts)],
            headers={"Authorization": f"Bearer {lister.tokens['device']}"},
        )
        assert response.status_code in (200, 201, 202), response.text
    assert sorted(p for p, _, _ in alerted(platform, lister)) == ["7ABC001", "7ABC002", "7ABC003"]


def test_another_owners_read_alerts_through_ingest_only_under_its_policy(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    ca = seed_agency(platform, "ca-pd", name="CA PD")
    platform.policies.set_as(ca.admin, "ca-pd", PRESETS[Preset.CALIFORNIA][0], preset="california")
    terms = Terms(
        query_kinds=frozenset({QueryKind.ALERT}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.IMMIGRATION_ENFORCEMENT}),
        max_lookback_days=30,
        expires_ms=clock.now_ms() + 100 * DAY_MS,
    )
    platform.agreements.accept(ca.admin, platform.agreements.request(lister.admin, owner="ca-pd", terms=terms).id)
    make_list(platform, lister, "theft", [entry("7ABC123", clock)], visibility="shared")
    make_list(
        platform, lister, "imm", [entry("7ABC123", clock, purpose="immigration_enforcement")], visibility="shared"
    )
    make_list(platform, lister, "private", [entry("7ABC123", clock)])
    result = ingest(platform, ca, [read("7ABC123", camera=ca.cameras[0])])
    assert len(result.matches) == 2  # the private list never matches another owner's reads
    assert [(a["list"]["name"], a["read"]["owner"]) for a in platform.alerts.listing(lister.investigator)] == [
        ("theft", "CA PD")
    ]
    actions = [e.action for e in platform.audit.entries(after_seq=0, limit=100_000)]
    assert actions.count("alert.withheld") == 1
    assert platform.audit.verify().intact


def test_retroactive_hits_are_searched_through_the_gate_and_audited(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    ingest(
        platform,
        lister,
        [read("7ABC123", camera=cam, ts=NOW_MS - 3 * DAY_MS), read("7ABD999", camera=cam), read("1XYZ111", camera=cam)],
    )
    view = platform.hotlists.create(lister.investigator, name="retro", default_purpose="stolen_vehicle")
    valid, _ = platform.hotlists.validate(view, [entry("7ABC123", clock), entry("7AB*", clock, reference="CASE-8")])
    outcome = add_entries(
        platform.hotlists,
        platform.searches,
        platform.alerts,
        lister.investigator,
        view.id,
        valid,
        search_past=True,
    )
    assert outcome.counts["added"] == 2
    assert (len(outcome.raised), outcome.withheld) == (3, 0)
    searched = [e for e in platform.audit.entries(after_seq=0, limit=100_000) if e.seq in set(outcome.searches)]
    assert [(e.action, e.actor_username, e.case_number, e.purpose) for e in searched] == [
        ("search.plate", "lister-so-investigator", "CASE-7", "stolen_vehicle"),
        ("search.plate", "lister-so-investigator", "CASE-8", "stolen_vehicle"),
    ]
    assert sorted(alerted(platform, lister)) == [
        ("7ABC123", "exact", "7ABC123"),
        ("7ABC123", "pattern", "7AB*"),
        ("7ABD999", "pattern", "7AB*"),
    ]
    # Without the flag, nothing is searched.
    mark = platform.audit.entries(after_seq=0, limit=100_000)[-1].seq
    valid, _ = platform.hotlists.validate(view, [entry("1XYZ111", clock)])
    assert (
        add_entries(platform.hotlists, platform.searches, platform.alerts, lister.investigator, view.id, valid).searches
        == []
    )
    assert [e.action for e in platform.audit.entries(after_seq=mark)] == ["hotlist.changed"]


def test_alerts_carry_the_reads_vehicle_from_ingest_and_retroactive_searches(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    lister = kits["lister"]
    cam = lister.cameras[0]
    ingest(
        platform, lister, [read("6OLD666", camera=cam, ts=NOW_MS - DAY_MS, vehicle={"make": "Honda", "color": "blue"})]
    )
    list_id = make_list(platform, lister, "stolen", [entry("7ABC123", clock), entry("8XY*", clock)])
    corolla = {"make": "Toyota", "model": "Corolla", "color": "red", "type": "sedan"}
    ingest(
        platform,
        lister,
        [
            read("7ABC123", camera=cam, read_id="a", vehicle=corolla),
            read("8XYZ12", camera=cam, read_id="b"),  # no vehicle
            read("8XYZ13", camera=cam, read_id="c", vehicle={"make": "", "type": "SUV"}),  # a pattern hit
        ],
    )
    valid, _ = platform.hotlists.validate(
        platform.hotlists.get(lister.investigator, list_id), [entry("6OLD666", clock)]
    )
    outcome = add_entries(
        platform.hotlists, platform.searches, platform.alerts, lister.investigator, list_id, valid, search_past=True
    )
    assert len(outcome.raised) == 1
    with TestClient(create_app(platform=platform)) as client:
        answer = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {lister.tokens['investigator']}"})
    assert answer.status_code == 200, answer.text
    assert {a["read"]["plate"]: a["read"]["vehicle"] for a in answer.json()["alerts"]} == {
        "7ABC123": corolla,
        "8XYZ12": None,  # none given: null, not empty strings
        "8XYZ13": {"type": "SUV"},
        "6OLD666": {"make": "Honda", "color": "blue"},  # a retroactive hit, from the gated search's read
    }


def test_the_mirror_follows_changes_on_both_governance_engines(gov_platform: Platform, clock: FixedClock) -> None:
    platform = gov_platform
    lister = seed_agency(platform, "lister-so", name="Lister SO", kind="county")
    cam = lister.cameras[0]
    list_id = make_list(platform, lister, "stolen", [entry("7ABC123", clock), entry("8XY?99", clock)])
    assert len(ingest(platform, lister, [read("7ABC123", camera=cam), read("8XYZ99", camera=cam)]).matches) == 2
    platform.hotlists.apply(lister.investigator, list_id, add=[], remove_plates=["7ABC123", "8XY?99"])
    ts = clock.now_ms() - 2 * HOUR_MS
    assert (
        ingest(platform, lister, [read("7ABC123", camera=cam, ts=ts), read("8XYZ99", camera=cam, ts=ts)]).matches == []
    )
    assert len(alerted(platform, lister)) == 2


def test_the_store_matches_exactly_what_the_reference_matcher_does(
    platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    """Random plates over a small, confusable-rich alphabet against random exact and wildcard entries, in plain
    and confusable lists, with and without regions: the store's matches equal ``plates.pattern_matches`` and
    ``plates.confusable_key`` applied in Python."""
    lister = kits["lister"]
    cam = lister.cameras[0]
    rng = random.Random(7)
    alphabet = "AB8O0QD1IS5"

    def plate() -> str:
        return "".join(rng.choices(alphabet, k=rng.randint(3, 5)))

    def pattern() -> str:
        while True:
            chars = list(plate())
            chars[rng.randrange(len(chars))] = rng.choice("*?")
            if sum(c not in "*?" for c in chars) >= 3:
                return "".join(chars)

    specs = {False: [], True: []}  # by confusable
    for confusable in (False, True):
        for _ in range(25):
            region = rng.choice([None, "US-CA", "US-NV"])
            specs[confusable].append(entry(rng.choice([plate, pattern])(), clock, region=region))
        make_list(platform, lister, f"list-{confusable}", specs[confusable], match_confusable=confusable)
    reads = [
        read(plate(), camera=cam, read_id=f"r{i}", region=rng.choice(["US-CA", "US-NV", None])) for i in range(300)
    ]
    exact_plates = [e.plate for group in specs.values() for e in group if not is_pattern(e.plate)]
    reads += [read(rng.choice(exact_plates), camera=cam, read_id=f"x{i}", region="US-CA") for i in range(20)]
    reads = [{k: v for k, v in r.items() if v is not None} for r in reads]
    result = ingest(platform, lister, reads)
    found = {(m.entry_id, m.read_id, m.how) for m in result.matches}

    rows = {
        (e["plate"], e["region"], lst): e["id"]
        for lst in (v.id for v in platform.hotlists.listing(lister.investigator))
        for e in platform.hotlists.entries(lister.investigator, lst)
    }
    lists = {v.name: v.id for v in platform.hotlists.listing(lister.investigator)}
    expected = set()
    for confusable, entries_in in specs.items():
        for spec in entries_in:
            text = normalise_pattern(spec.plate) if is_pattern(spec.plate) else spec.plate
            entry_id = rows[(text, spec.region, lists[f"list-{confusable}"])]
            for r in reads:
                if spec.region is not None and r.get("region", spec.region) != spec.region:
                    continue
                if pattern_matches(text, r["plate"]):
                    how = "pattern" if is_pattern(text) else "exact"
                elif confusable and pattern_matches(confusable_key(text), confusable_key(r["plate"])):
                    how = "confusable"
                else:
                    continue
                expected.add((entry_id, r["read_id"], how))
    assert expected  # the alphabet makes matches of every kind likely
    assert {h for _, _, h in expected} == {"exact", "pattern", "confusable"}
    assert found == expected
