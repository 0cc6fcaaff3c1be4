"""The demo network: agencies, users and tokens, real camera positions, simulated reads, and refusal to re-seed."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

import orjson
import pytest

from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.core.settings import Settings, load_settings
from plateledger.demo.layout import (
    AGENCIES,
    PlacedCamera,
    build_world,
    default_camera_file,
    load_positions,
    place_cameras,
)
from plateledger.demo.network import META_KEY, DemoSummary, ReadEncoder, seed_demo
from plateledger.demo.simulate import Traffic, simulate
from plateledger.platform import Platform
from plateledger.search.plate import PlateSearch
from plateledger.store.models import Meta
from plateledger.vocab import AgencyKind, Role
from tests.support import NOW_MS, clear_settings_environment, opened

READS = 20_000
CA_PLATE = re.compile(r"^[5-9][A-Z]{3}[0-9]{3}$")
NV_PLATE = re.compile(r"^([0-9]{3}[A-Z][0-9]{2}|[0-9][A-Z]{3}[0-9]{2})$")


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    summary: DemoSummary
    progress: list[int]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """One demo data directory for the module, closed after seeding (which hashes 24 passwords: seconds).

    chDB serves one data directory per process, so each test reopens it through ``demo`` and closes it again;
    tests on other directories can then run in any order.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_settings_environment(monkeypatch)
        settings = load_settings(data=tmp_path_factory.mktemp("demo") / "data")
    ticks: list[int] = []
    with opened(settings, FixedClock(NOW_MS)) as platform:
        summary = seed_demo(platform, reads=READS, progress=ticks.append)
    return Seeded(settings, summary, ticks)


@pytest.fixture
def demo(seeded: Seeded) -> Iterator[Platform]:
    with opened(seeded.settings, FixedClock(NOW_MS)) as platform:
        yield platform


def _traffic(reads: int, seed: int = 7) -> tuple[Traffic, list[PlacedCamera]]:
    cameras = place_cameras(load_positions(default_camera_file()), Random(seed))
    return simulate(build_world(cameras), reads=reads, seed=seed, now_ms=NOW_MS), cameras


# -- the seeded network -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_agencies_are_the_required_mix(demo: Platform, seeded: Seeded) -> None:
    stored = {a.slug: a for a in demo.registry.agencies()}
    assert [a["slug"] for a in seeded.summary.agencies] == list(stored)
    kinds = Counter((a.kind, a.state) for a in stored.values())
    assert kinds[(AgencyKind.MUNICIPAL, "CA")] == 2
    assert kinds[(AgencyKind.COUNTY, "CA")] == 1
    assert kinds[(AgencyKind.STATE, "NV")] == 1
    assert sum(n for (kind, _), n in kinds.items() if kind == AgencyKind.FEDERAL) == 1
    assert sum(n for (kind, _), n in kinds.items() if kind == AgencyKind.PRIVATE) == 1
    assert all(a.country == "US" and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", a.slug) for a in stored.values())


@pytest.mark.slow
def test_every_role_of_every_agency_has_a_working_token(demo: Platform, seeded: Seeded) -> None:
    users = seeded.summary.users
    assert {(u["agency"], u["role"]) for u in users} == {(a.slug, r.value) for a in AGENCIES for r in Role}
    for user in users:
        principal = demo.tokens.authenticate(user["token"])
        assert (principal.username, principal.agency_slug) == (user["username"], user["agency"])
        assert principal.role.value == user["role"]
    investigator = next(u for u in users if u["role"] == "investigator")
    principal, _ = demo.tokens.login(investigator["username"], investigator["password"])
    assert principal.username == investigator["username"]


@pytest.mark.slow
def test_cameras_stand_at_real_positions(demo: Platform, seeded: Seeded) -> None:
    platform, summary = demo, seeded.summary
    real = {(p.lat, p.lon) for p in load_positions(default_camera_file())}
    counts = {}
    for agency in platform.registry.agencies():
        cameras = platform.registry.cameras_unguarded(agency.id)
        counts[agency.slug] = len(cameras)
        assert all((c.lat, c.lon) in real for c in cameras if not c.mobile)
        assert len({c.external_id for c in cameras}) == len(cameras)
    assert counts == {a["slug"]: a["cameras"] for a in summary.agencies}
    police = [a["slug"] for a in summary.agencies if a["kind"] in ("municipal", "county", "state")]
    assert all(20 <= counts[slug] <= 80 for slug in police)
    patrol = next(a for a in summary.agencies if a["kind"] == "state")
    assert patrol["mobile_cameras"] == 2
    listed = Counter(c["agency"] for c in summary.cameras)
    assert all(listed[slug] == min(20, n) for slug, n in counts.items())


@pytest.mark.slow
def test_all_reads_are_stored(demo: Platform, seeded: Seeded) -> None:
    platform, summary = demo, seeded.summary
    assert summary.reads["stored"] == READS == platform.reads.count()
    assert summary.reads["rejected"] == 0
    assert summary.reads["duplicates"] == 0
    assert sum(seeded.progress) == READS
    assert platform.audit.verify().intact
    assert orjson.loads(orjson.dumps(summary.as_json()))["reads"]["stored"] == READS


@pytest.mark.slow
def test_example_plates_are_seen_by_several_agencies(seeded: Seeded) -> None:
    summary = seeded.summary
    states = {a["slug"]: a["state"] for a in summary.agencies}
    assert len(summary.example_plates) == 5
    assert all(len(p["agencies"]) > 1 for p in summary.example_plates)
    first = summary.example_plates[0]
    assert AGENCIES[0].slug in first["agencies"]
    assert sum(states[slug] == "CA" for slug in first["agencies"]) >= 2
    for example in summary.example_plates:
        assert example["reads"] == sum(example["per_agency"].values())


@pytest.mark.slow
def test_investigator_search_of_example_plate_sees_own_and_shared_reads_only(demo: Platform, seeded: Seeded) -> None:
    platform, summary = demo, seeded.summary
    tokens = {(u["agency"], u["role"]): u["token"] for u in summary.users}
    names = {a["slug"]: a["name"] for a in summary.agencies}
    shared_with: dict[str, set[str]] = {}
    for slug in names:
        principal = platform.tokens.authenticate(tokens[(slug, "investigator")])
        shared_with[slug] = {
            a.owner
            for a in platform.agreements.listing(principal)
            if a.requester == slug and a.active and "stolen_vehicle" in (a.granted_terms or {})["purposes"]
        }
    for example in summary.example_plates:
        for slug in example["per_agency"]:
            principal = platform.tokens.authenticate(tokens[(slug, "investigator")])
            ask = PlateSearch(plate=example["plate"], purpose="stolen_vehicle", case_number="C-1")
            result = platform.searches.search(principal, ask)
            visible = {slug} | shared_with[slug]
            by_owner = Counter(result.owner_names[r.owner] for r in result.reads)
            assert by_owner == {names[o]: n for o, n in example["per_agency"].items() if o in visible}
            assert {w.owner for w in result.withheld} == {names[o] for o in names if o not in visible}


@pytest.mark.slow
def test_federal_immigration_search_returns_nevada_reads_and_names_california_rules(
    demo: Platform, seeded: Seeded
) -> None:
    walkthrough = seeded.summary.cross_state_search
    assert walkthrough is not None
    assert {"silver-state-patrol", "palmcrest-pd"} & set(walkthrough["agencies"])
    token = next(u["token"] for u in seeded.summary.users if u["username"] == walkthrough["as"])
    federal = demo.tokens.authenticate(token)
    result = demo.searches.search(
        federal, PlateSearch(plate=walkthrough["plate"], purpose=walkthrough["purpose"], case_number="IMM-1")
    )
    assert result.reads
    assert {result.owner_names[r.owner] for r in result.reads} == {"Silver State Highway Patrol"}
    rules = {w.owner: w.rule for w in result.withheld}
    for spec in AGENCIES:
        if spec.state == "CA" and spec.kind is not AgencyKind.PRIVATE:
            assert rules[spec.name] == "owner's policy prohibits purpose immigration_enforcement"
    assert rules["Coastline Parking Company"] == "no sharing agreement with this owner (default deny)"
    # Each California agency's access log shows the search, who made it, and the rule that refused it.
    for slug in ("palmcrest-pd", "harbor-grove-pd", "san-aurelio-sheriff"):
        auditor = demo.tokens.authenticate(
            next(u["token"] for u in seeded.summary.users if u["username"] == f"auditor@{slug}")
        )
        (entry,) = demo.access_log.view(auditor, slug, after_seq=result.audit_seq - 1, limit=1).entries
        assert (entry.seq, entry.outcome, entry.requester) == (result.audit_seq, "withheld", "federal-transit-office")
        assert (entry.purpose, entry.case_number) == ("immigration_enforcement", "IMM-1")
        assert entry.rule == "owner's policy prohibits purpose immigration_enforcement"
        assert entry.query["plate"] == walkthrough["plate"]
    silver = demo.tokens.authenticate(
        next(u["token"] for u in seeded.summary.users if u["username"] == "admin@silver-state-patrol")
    )
    (entry,) = demo.access_log.view(silver, "silver-state-patrol", after_seq=result.audit_seq - 1, limit=1).entries
    assert (entry.outcome, entry.rows) == ("permitted", len(result.reads))


@pytest.mark.slow
def test_second_run_on_the_same_directory_is_refused(demo: Platform) -> None:
    agencies = [a.slug for a in demo.registry.agencies()]
    with pytest.raises(Conflict, match="already holds the demo network"):
        seed_demo(demo, reads=10)
    assert demo.reads.count() == READS
    assert [a.slug for a in demo.registry.agencies()] == agencies


# -- refusals on other data directories -------------------------------------------------------------------
def test_interrupted_run_is_refused(platform: Platform) -> None:
    with platform.governance.session() as session:
        session.add(Meta(key=META_KEY, value="started"))
    with pytest.raises(Conflict, match="did not finish; delete the directory"):
        seed_demo(platform, reads=10)


def test_directory_with_other_agencies_is_refused(platform: Platform) -> None:
    platform.registry.create_agency(SYSTEM, slug="x", name="X", kind="municipal", country="US", state="CA")
    with pytest.raises(Conflict, match="already holds agencies"):
        seed_demo(platform, reads=10)
    with platform.governance.session() as session:
        assert session.get(Meta, META_KEY) is None


def test_missing_camera_file_leaves_the_directory_untouched(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such camera positions file"):
        seed_demo(platform, reads=10, cameras_file=tmp_path / "missing.csv.gz")
    assert platform.registry.agencies() == []
    with platform.governance.session() as session:
        assert session.get(Meta, META_KEY) is None


def test_read_count_is_bounded(platform: Platform) -> None:
    with pytest.raises(FieldInvalid, match="reads"):
        seed_demo(platform, reads=-1)


# -- the simulation and the reads it produces (no stores) -----------------------------------------------------
def test_simulation_is_deterministic_for_a_seed_and_a_clock() -> None:
    first, _ = _traffic(5_000)
    again, _ = _traffic(5_000)
    other, _ = _traffic(5_000, seed=8)
    assert (first.vehicles, first.ts, first.kept) == (again.vehicles, again.ts, again.kept)
    assert first.vehicles != other.vehicles
    assert len(first.kept) == 5_000


def test_simulated_reads_follow_the_ingest_contract() -> None:
    traffic, cameras = _traffic(5_000)
    ids = {c.external_id for c in cameras}
    lines = ReadEncoder(traffic, cameras, Random(1)).lines(traffic.kept)
    reads = [orjson.loads(line) for line in lines]
    assert len(reads) == 5_000
    for read in reads:
        assert set(read) <= {"plate", "ts", "camera", "region", "confidence", "lat", "lon", "vehicle"}
        assert read["camera"] in ids
        assert traffic.since_ms <= read["ts"] < traffic.until_ms <= NOW_MS
        assert 0.80 <= read["confidence"] <= 0.99
        plate_format = CA_PLATE if read["region"] == "US-CA" else NV_PLATE
        assert read["region"] in ("US-CA", "US-NV")
        assert plate_format.match(read["plate"])
        assert ("lat" in read) == ("-CAR-" in read["camera"]) == ("lon" in read)
        if "vehicle" in read:
            assert {"make", "model", "color", "type"} <= set(read["vehicle"])
            assert 0 <= read["vehicle"].get("direction", 0) <= 360
    assert any("lat" in r for r in reads)
    assert any("vehicle" in r for r in reads)


def test_vehicles_keep_routines_cross_the_state_line_and_popularity_is_skewed() -> None:
    traffic, cameras = _traffic(20_000)
    zone = ZoneInfo("America/Los_Angeles")
    weekday_hours: Counter[int] = Counter()
    for i in traffic.kept:
        local = datetime.fromtimestamp(traffic.ts[i] / 1000, zone)
        if local.weekday() < 5:
            weekday_hours[local.hour] += 1
    rush = sum(weekday_hours[h] for h in (6, 7, 8, 16, 17, 18))
    assert rush > 0.5 * sum(weekday_hours.values())
    per_vehicle = sorted(Counter(traffic.vehicle[i] for i in traffic.kept).values())
    assert per_vehicle[-1] > 5 * per_vehicle[len(per_vehicle) // 2]
    states: dict[int, set[str]] = {}
    for i in traffic.kept:
        states.setdefault(traffic.vehicle[i], set()).add(AGENCIES[cameras[traffic.camera[i]].owner].state)
    assert sum(seen >= {"CA", "NV"} for seen in states.values()) >= 10


# -- live reads (runs last: it adds reads to the seeded directory) ------------------------------------------------
@pytest.mark.slow
def test_live_reads_arrive_through_the_ingest_service_with_hot_listed_plates(demo: Platform) -> None:
    from plateledger.demo.trickle import Trickle

    before = demo.reads.count()
    mark = demo.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
    trickle = Trickle(demo, reads_per_tick=40, hit_share=0.5)
    stored = trickle.tick()
    assert stored > 0
    assert demo.reads.count() == before + stored
    batches = [e for e in demo.audit.entries(after_seq=mark) if e.action == "ingest.batch"]
    assert batches
    assert all(orjson.loads(e.params)["channel"] == "demo-live" for e in batches)
    listed = {plate for _, _, _, plate, _, _ in demo.hotlists.active(demo.clock.now_ms())}
    assert listed
    # Hot-listed plates among the live reads are matched at ingest: alerts raised, or withheld by policy.
    for _ in range(5):
        trickle.tick()
    decided = [e.action for e in demo.audit.entries(after_seq=mark, limit=100_000) if e.action.startswith("alert.")]
    assert decided
    assert set(decided) <= {"alert.raised", "alert.withheld"}
