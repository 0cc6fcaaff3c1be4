"""Adversarial plate and area searches across agencies, each through the library, the HTTP API and the CLI: no
agreement, pending / declined / revoked / expired agreements, a prohibited purpose, a denied requester kind, an
out-of-state requester, area searches over the owner's limits, lookback over the limit with and without a
warrant, wildcard, contains and fuzzy searches, auditor and device tokens. None may return a read the owner's policy
forbids, and each refusal is recorded against the owner with its rule in the audit log and in the owner's
access log.

The data directory is seeded once (the clock starts 10 days back so an agreement can expire) and reopened per
test, because the CLI opens it itself; the CLI runs on the system clock, so read ages sit well away from every
limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.errors import FieldInvalid, PermissionDenied
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from plateledger.policy.gate import DEFAULT_DENY
from plateledger.policy.rules import PRESETS, ApprovalRules, Policy, Preset, QueryBudget, Terms
from plateledger.search.area import AreaSearch
from plateledger.search.plate import PlateSearch
from plateledger.search.results import result_json
from plateledger.store.models import AuditEntry
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, HOUR_MS, clear_settings_environment, ingest, opened, read, seed_agency

OWNER = "ca-owner"
PLATE = "7SHR001"
AGES = (1, 45, 120, 200, 400)  # days; the owner allows 365 days, and 90 without a warrant
WITHIN_WARRANT_FREE = {1, 45}
WITHIN_LOOKBACK = {1, 45, 120, 200}
FORMS = {
    "exact": {"plate": PLATE},
    "wildcard": {"plate": "7SHR*"},
    "fuzzy": {"plate": "7SHRO01", "fuzzy": True},
    "contains": {"plate": "SHR0", "match": "contains"},  # issue 20: a part of the plate
}


@dataclass(frozen=True)
class World:
    settings: Settings
    now_ms: int
    tokens: dict[str, dict[str, str]]  # agency slug -> role -> token secret
    names: dict[str, str]
    owner_read_ids: dict[str, int]  # read id -> age in days


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_settings_environment(monkeypatch)
        settings = load_settings(data=Path(tmp_path_factory.mktemp("sharing")) / "data")
    now = time.time_ns() // 1_000_000
    clock = FixedClock(now - 10 * DAY_MS)
    everything = dict(
        query_kinds=frozenset(QueryKind),
        purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.VIOLENT_CRIME, Purpose.IMMIGRATION_ENFORCEMENT}),
        max_lookback_days=3650,
    )
    with opened(settings, clock) as platform:
        kits = {
            slug: seed_agency(platform, slug, name=f"{slug} agency", kind=kind, state=state)
            for slug, kind, state in (
                (OWNER, "municipal", "CA"),
                ("ca-partner", "municipal", "CA"),
                ("ca-none", "municipal", "CA"),
                ("ca-pending", "county", "CA"),
                ("ca-declined", "county", "CA"),
                ("ca-revoked", "municipal", "CA"),
                ("ca-expired", "municipal", "CA"),
                ("fed", "federal", "DC"),
                ("nv-pd", "municipal", "NV"),
            )
        }
        owner_admin = kits[OWNER].admin
        # Each agency's investigator searches in many tests of this module, well within an hour: a query budget
        # none of them reaches (the budget itself is tested in test_query_budget.py).
        roomy = {"query_budget": QueryBudget(max_queries=100_000, max_reads=10_000_000)}
        for slug in kits:
            platform.policies.set(SYSTEM, slug, Policy().model_copy(update=roomy))
        # Without the preset's two-person approval of area searches: this module tests the gate's other rules
        # (approval is tested in test_approval.py).
        california = PRESETS[Preset.CALIFORNIA][0].model_copy(update={**roomy, "approval": ApprovalRules()})
        platform.policies.set_as(owner_admin, OWNER, california, preset="california")

        def agreement(slug: str, expires_days: int = 365) -> int:
            terms = Terms(**everything, expires_ms=clock.now_ms() + expires_days * DAY_MS)  # type: ignore[arg-type]
            return platform.agreements.request(kits[slug].admin, owner=OWNER, terms=terms).id

        for slug in ("ca-partner", "fed", "nv-pd", "ca-revoked"):
            platform.agreements.accept(owner_admin, agreement(slug))
        platform.agreements.accept(owner_admin, agreement("ca-expired", expires_days=5))
        agreement("ca-pending")
        platform.agreements.decline(owner_admin, agreement("ca-declined"))
        platform.agreements.revoke(owner_admin, 4)  # ca-revoked's, the fourth accepted above
        clock.advance(10 * DAY_MS)
        camera = kits[OWNER].cameras[0]
        ids = {f"r{age}": age for age in AGES}
        stored = ingest(
            platform,
            kits[OWNER],
            [read(PLATE, camera=camera, ts=now - age * DAY_MS, read_id=f"r{age}") for age in AGES],
        )
        assert stored.stored == len(AGES)
        for slug, kit in kits.items():
            if slug != OWNER:  # every other agency has a read of the same plate, so "nothing" is meaningful
                ingest(platform, kit, [read(PLATE, camera=kit.cameras[0], ts=now - DAY_MS, read_id=f"own-{slug}")])
    return World(
        settings=settings,
        now_ms=now,
        tokens={slug: kit.tokens for slug, kit in kits.items()},
        names={slug: kit.agency.name for slug, kit in kits.items()},
        owner_read_ids=ids,
    )


@pytest.fixture
def platform(world: World) -> Iterator[Platform]:
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        yield platform


# -- three channels, one answer shape (result_json) ------------------------------------------------------------
Channel = Callable[[World, str, dict[str, Any]], dict[str, Any]]


def via_library(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        principal = platform.tokens.authenticate(token)
        return result_json(platform.searches.search(principal, PlateSearch(**params)))


def via_http(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        client = TestClient(create_app(platform=platform))
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items() if v is not None}
        response = client.get("/api/v1/search/plate", params=query, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 403:
        raise PermissionDenied(response.json()["detail"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def via_cli(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    args = ["search", "plate", params["plate"], "--token", token, "--data", str(world.settings.data), "--json"]
    for name, option in (("purpose", "--purpose"), ("case_number", "--case"), ("warrant", "--warrant")):
        if params.get(name):
            args += [option, params[name]]
    if params.get("fuzzy"):
        args.append("--fuzzy")
    if params.get("match") == "contains":
        args.append("--contains")
    result = CliRunner().invoke(cli_app, args)
    if isinstance(result.exception, PermissionDenied):
        raise result.exception
    assert result.exit_code == 0, (result.output, result.exception)
    body: dict[str, Any] = orjson.loads(result.stdout)
    return body


CHANNELS = {"library": via_library, "http": via_http, "cli": via_cli}


def owner_reads(world: World, body: dict[str, Any]) -> set[int]:
    """Ages (days) of the owner's reads in an answer."""
    return {world.owner_read_ids[r["read_id"]] for r in body["reads"] if r["owner"] == world.names[OWNER]}


def withheld_rule(world: World, body: dict[str, Any], slug: str = OWNER) -> str | None:
    rules = {w["owner"]: w["rule"] for w in body["withheld"]}
    return rules.get(world.names[slug])


def logged_rule(platform: Platform, world: World, seq: int) -> str | None:
    """The owner's access log entry for the search ``seq``, as its admin sees it: the rule that withheld the
    owner's reads (``None``: permitted)."""
    admin = platform.tokens.authenticate(world.tokens[OWNER]["admin"])
    (entry,) = platform.access_log.view(admin, OWNER, after_seq=seq - 1, limit=1).entries
    assert entry.seq == seq
    return entry.rule if entry.outcome == "withheld" else None


def audited_rule(platform: Platform, seq: int, slug: str = OWNER) -> str | None:
    """The rule the audit entry records against ``slug`` (``None``: the owner was permitted)."""
    with platform.governance.session() as session:
        entry = session.get(AuditEntry, seq)
        assert entry is not None
        params, counts = orjson.loads(entry.params), orjson.loads(entry.counts)
    if slug in counts.get("per_owner", {}):
        return None
    rule = params["withheld"].get(slug) or params["withheld_others"]
    assert rule, entry.params
    return str(rule)


REFUSALS = [  # (requester, purpose, the rule as a regular expression)
    ("ca-none", "stolen_vehicle", re.escape(DEFAULT_DENY)),
    ("ca-pending", "stolen_vehicle", r"sharing agreement #\d+ is pending, not accepted"),
    ("ca-declined", "stolen_vehicle", r"sharing agreement #\d+ is declined, not accepted"),
    ("ca-revoked", "stolen_vehicle", r"sharing agreement #\d+ is revoked, not accepted"),
    ("ca-expired", "stolen_vehicle", r"sharing agreement #\d+ expired on \d{4}-\d\d-\d\d"),
    ("ca-partner", "immigration_enforcement", "owner's policy prohibits purpose immigration_enforcement"),
    (OWNER, "immigration_enforcement", "owner's policy prohibits purpose immigration_enforcement"),
    ("fed", "stolen_vehicle", "owner's policy denies requests from federal agencies"),
    ("nv-pd", "stolen_vehicle", "owner's policy denies requesters outside US-CA"),
    ("ca-partner", "drug_crime", r"sharing agreement #\d+ does not cover purpose drug_crime"),
]


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize(("requester", "purpose", "rule"), REFUSALS, ids=[f"{r}-{p}" for r, p, _ in REFUSALS])
def test_a_refused_owner_returns_nothing_and_is_recorded_with_its_rule(
    world: World, channel: str, form: str, requester: str, purpose: str, rule: str
) -> None:
    for warrant in (None, "W-2026-1"):  # a warrant never opens what a rule closes
        params = {**FORMS[form], "purpose": purpose, "case_number": "C-1", "warrant": warrant}
        body = CHANNELS[channel](world, world.tokens[requester]["investigator"], params)
        assert owner_reads(world, body) == set()
        got = withheld_rule(world, body)
        assert got is not None
        assert re.fullmatch(rule, got), got
        with opened(world.settings, FixedClock(world.now_ms)) as platform:
            recorded = audited_rule(platform, body["audit_seq"])
            logged = logged_rule(platform, world, body["audit_seq"])
        assert recorded == logged == got


LOOKBACKS = [
    ("ca-partner", None, WITHIN_WARRANT_FREE, "longer lookback requires a warrant"),
    ("ca-partner", "W-2026-1", WITHIN_LOOKBACK, "owner's lookback limit"),
    (OWNER, None, WITHIN_WARRANT_FREE, "longer lookback requires a warrant"),
    (OWNER, "W-2026-1", WITHIN_LOOKBACK, "owner's lookback limit"),
]


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize(("requester", "warrant", "ages", "why"), LOOKBACKS)
def test_lookback_is_clipped_without_a_warrant_and_never_beyond_the_limit(
    world: World, channel: str, form: str, requester: str, warrant: str | None, ages: set[int], why: str
) -> None:
    params = {**FORMS[form], "purpose": "violent_crime", "case_number": "C-2", "warrant": warrant}
    body = CHANNELS[channel](world, world.tokens[requester]["investigator"], params)
    assert owner_reads(world, body) == ages
    limited = {w["owner"]: w["rule"] for w in body["limited"]}
    assert why in limited[world.names[OWNER]]
    assert body["warrant"] == warrant
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        assert audited_rule(platform, body["audit_seq"]) is None  # permitted, and counted
        assert logged_rule(platform, world, body["audit_seq"]) is None
        with platform.governance.session() as session:
            entry = session.get(AuditEntry, body["audit_seq"])
            assert entry is not None
            assert orjson.loads(entry.counts)["per_owner"][OWNER] == len(ages)
            assert orjson.loads(entry.params)["warrant"] == warrant


BLANK_WARRANTS = [" ", "   ", "\t", " \t ", "\x00", "W-1\x1b[2J", "W-1\n", "--", "x" * 65]


@pytest.mark.parametrize("warrant", BLANK_WARRANTS, ids=range(len(BLANK_WARRANTS)))
def test_a_blank_or_malformed_warrant_is_refused_and_audited_through_every_door(world: World, warrant: str) -> None:
    """Issue 15, defect 3: a warrant of one space counted as a warrant and lifted the lookback limit."""
    token = world.tokens["ca-partner"]["investigator"]
    query = {"plate": PLATE, "purpose": "violent_crime", "case_number": "C-W", "warrant": warrant}
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        with pytest.raises(FieldInvalid) as refused:
            platform.searches.search(platform.tokens.authenticate(token), PlateSearch(**query))
        assert refused.value.field == "warrant"
        response = TestClient(create_app(platform=platform)).get(
            "/api/v1/search/plate", params=query, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "warrant"
    args = ["search", "plate", PLATE, "--purpose", "violent_crime", "--case", "C-W", "--warrant", warrant]
    cli = CliRunner().invoke(cli_app, [*args, "--token", token, "--data", str(world.settings.data), "--json"])
    assert cli.exit_code != 0
    assert isinstance(cli.exception, FieldInvalid) or "warrant" in cli.output, cli.output
    with opened(world.settings, FixedClock(world.now_ms)) as platform, platform.governance.session() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(3)).all()
    assert [e.action for e in last] == ["search.refused"] * 3
    assert all("warrant" in orjson.loads(e.params)["reason"] for e in last)


def test_a_warrant_is_stripped_of_surrounding_spaces_and_recorded_so(world: World) -> None:
    params = {"plate": PLATE, "purpose": "violent_crime", "case_number": "C-W", "warrant": "  W-2026-7 "}
    for channel in sorted(CHANNELS):
        body = CHANNELS[channel](world, world.tokens["ca-partner"]["investigator"], params)
        assert body["warrant"] == "W-2026-7"
        assert owner_reads(world, body) == WITHIN_LOOKBACK


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("role", ["auditor", "device"])
@pytest.mark.parametrize("requester", [OWNER, "ca-partner"])
def test_auditor_and_device_tokens_cannot_search_and_the_refusal_is_recorded_per_owner(
    world: World, channel: str, role: str, requester: str
) -> None:
    params = {"plate": PLATE, "purpose": "stolen_vehicle", "case_number": "C-3"}
    with pytest.raises(PermissionDenied, match=f"{role} cannot search reads"):
        CHANNELS[channel](world, world.tokens[requester][role], params)
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        last = next(
            e for e in reversed(platform.audit.entries(after_seq=0, limit=100_000)) if e.action.startswith("search")
        )
        assert (last.action, last.outcome) == ("search.refused", "refused")
        assert audited_rule(platform, last.seq) == f"role {role} may not read plate data"
        assert logged_rule(platform, world, last.seq) == f"role {role} may not read plate data"


# -- area searches ---------------------------------------------------------------------------------------------
def area_via_library(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        principal = platform.tokens.authenticate(token)
        return result_json(platform.areas.search(principal, AreaSearch(**params)))


def area_via_http(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        client = TestClient(create_app(platform=platform))
        response = client.get("/api/v1/search/area", params=params, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def area_via_cli(world: World, token: str, params: dict[str, Any]) -> dict[str, Any]:
    args = ["search", "area", "--token", token, "--data", str(world.settings.data), "--json", "--case", "C-A"]
    for name in ("purpose", "lat", "lon", "radius_m", "since", "until"):
        args += [f"--{name.replace('_', '-')}", str(params[name])]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    body: dict[str, Any] = orjson.loads(result.stdout)
    return body


AREA_CHANNELS = {"library": area_via_library, "http": area_via_http, "cli": area_via_cli}
AREAS = [  # (requester, radius m, window hours, purpose, the rule or None when the owner's 1-day-old read is returned)
    ("ca-partner", 500, 24, "violent_crime", None),
    (OWNER, 500, 24, "violent_crime", None),
    ("ca-partner", 5000, 24, "violent_crime", "owner's policy limits area searches to 1000 m"),
    (OWNER, 5000, 24, "violent_crime", "owner's policy limits area searches to 1000 m"),
    ("ca-partner", 500, 48, "violent_crime", "owner's policy limits area searches to 24 hours"),
    ("ca-partner", 500, 24, "immigration_enforcement", "owner's policy prohibits purpose immigration_enforcement"),
    ("ca-none", 500, 24, "violent_crime", re.escape(DEFAULT_DENY)),
    ("ca-revoked", 500, 24, "violent_crime", r"sharing agreement #\d+ is revoked, not accepted"),
    ("fed", 500, 24, "violent_crime", "owner's policy denies requests from federal agencies"),
    ("nv-pd", 500, 24, "violent_crime", "owner's policy denies requesters outside US-CA"),
]


@pytest.mark.parametrize("channel", sorted(AREA_CHANNELS))
@pytest.mark.parametrize(("requester", "radius", "hours", "purpose", "rule"), AREAS)
def test_area_searches_respect_the_owners_limits(
    world: World, channel: str, requester: str, radius: int, hours: int, purpose: str, rule: str | None
) -> None:
    since = world.now_ms - DAY_MS - hours * HOUR_MS // 2  # the window holds the owner's 1-day-old read
    params = {
        "purpose": purpose,
        "case_number": "C-A",
        "lat": 37.7749,
        "lon": -122.4194,
        "radius_m": radius,
        "since": since,
        "until": since + hours * HOUR_MS,
    }
    body = AREA_CHANNELS[channel](world, world.tokens[requester]["investigator"], params)
    with opened(world.settings, FixedClock(world.now_ms)) as platform:
        logged = logged_rule(platform, world, body["audit_seq"])
    if rule is None:
        assert owner_reads(world, body) == {1}
        assert logged is None
        return
    assert owner_reads(world, body) == set()
    got = withheld_rule(world, body)
    assert got is not None
    assert re.fullmatch(rule, got), got
    assert logged == got


def test_the_library_answer_lists_every_owner_exactly_once(platform: Platform, world: World) -> None:
    principal = platform.tokens.authenticate(world.tokens["ca-partner"]["investigator"])
    result = platform.searches.search(principal, PlateSearch(plate=PLATE, purpose="stolen_vehicle", case_number="C"))
    permitted = {platform.registry.agency_by_id(r.owner).slug for r in result.reads}
    assert permitted == {OWNER, "ca-partner"}
    withheld = [w.owner for w in result.withheld]
    assert sorted(withheld) == sorted(name for slug, name in world.names.items() if slug not in permitted)
    # Nothing about withheld data is revealed: only names and rules.
    assert all(set(vars(w)) == {"owner", "rule"} for w in result.withheld)


def test_a_revoked_agreement_stops_granting_at_once(platform: Platform, world: World) -> None:
    owner_admin = platform.tokens.authenticate(world.tokens[OWNER]["admin"])
    partner = platform.tokens.authenticate(world.tokens["ca-partner"]["investigator"])
    ask = PlateSearch(plate=PLATE, purpose="stolen_vehicle", case_number="C-9")
    assert owner_reads(world, result_json(platform.searches.search(partner, ask)))
    platform.agreements.revoke(owner_admin, 1, note="test")
    try:
        body = result_json(platform.searches.search(partner, ask))
        assert owner_reads(world, body) == set()
        assert withheld_rule(world, body) == "sharing agreement #1 is revoked, not accepted"
    finally:
        # Restore the module's world: a new request, accepted.
        partner_admin = platform.tokens.authenticate(world.tokens["ca-partner"]["admin"])
        terms = Terms(
            query_kinds=frozenset(QueryKind),
            purposes=frozenset({Purpose.STOLEN_VEHICLE, Purpose.VIOLENT_CRIME, Purpose.IMMIGRATION_ENFORCEMENT}),
            max_lookback_days=3650,
            expires_ms=world.now_ms + 300 * DAY_MS,
        )
        again = platform.agreements.request(partner_admin, owner=OWNER, terms=terms)
        platform.agreements.accept(owner_admin, again.id)
    assert owner_reads(world, result_json(platform.searches.search(partner, ask)))
