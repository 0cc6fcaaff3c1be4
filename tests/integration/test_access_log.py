"""The owner's access log: complete and exact against an independent reading of the raw audit log, owner-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.api.report_schemas import AccessLogOut
from plateledger.app import create_app
from plateledger.audit.events import AreaSearched, SearchRefused
from plateledger.audit.log import SYSTEM
from plateledger.auth.tokens import Principal
from plateledger.core.clock import FixedClock
from plateledger.core.errors import FieldInvalid, NotFound, PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.rules import Terms
from plateledger.reports.access_log import entry_json
from plateledger.sharing.service import preset_policy
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, search, seed_agency

PLATE = "7ABC123"


@dataclass
class Network:
    alpha: AgencyKit  # California preset: immigration prohibited, federal/private/out-of-state denied
    beta: AgencyKit  # default policy
    gamma: AgencyKit  # Nevada, strict preset
    fed: AgencyKit  # a federal agency
    late: AgencyKit  # its first camera comes after the first searches

    @property
    def owners(self) -> list[AgencyKit]:
        return [self.alpha, self.beta, self.gamma, self.fed, self.late]


def _terms(kinds: set[QueryKind], purposes: set[Purpose], expires_ms: int) -> Terms:
    return Terms(
        query_kinds=frozenset(kinds), purposes=frozenset(purposes), max_lookback_days=30, expires_ms=expires_ms
    )


def _agree(platform: Platform, requester: AgencyKit, owner: AgencyKit, terms: Terms, *, then: str) -> int:
    view = platform.agreements.request(requester.admin, owner=owner.slug, terms=terms)
    if then == "accept":
        platform.agreements.accept(owner.admin, view.id)
    elif then == "decline":
        platform.agreements.decline(owner.admin, view.id)
    elif then == "revoke":
        platform.agreements.accept(owner.admin, view.id)
        platform.agreements.revoke(owner.admin, view.id)
    return view.id


def varied_history(platform: Platform, clock: FixedClock) -> Network:
    """A varied history over five agencies: answers with reads and with none, refusals by default deny, by
    prohibited purpose, by requester rules, by every agreement state, by role, malformed refusals, an area
    search, and an owner whose first camera comes late."""
    net = Network(
        alpha=seed_agency(platform, "alpha", country="US", state="CA"),
        beta=seed_agency(platform, "beta", kind="county", country="US", state="CA"),
        gamma=seed_agency(platform, "gamma", kind="state", country="US", state="NV"),
        fed=seed_agency(platform, "fed", kind="federal", country="US", state="DC"),
        late=seed_agency(platform, "late", cameras=()),
    )
    platform.policies.set(SYSTEM, "alpha", preset_policy("california"), preset="california")
    platform.policies.set(SYSTEM, "gamma", preset_policy("strict"), preset="strict")
    year = NOW_MS + 365 * DAY_MS
    _agree(platform, net.beta, net.alpha, _terms({QueryKind.PLATE}, {Purpose.STOLEN_VEHICLE}, year), then="accept")
    _agree(platform, net.gamma, net.beta, _terms({QueryKind.PLATE}, {Purpose.STOLEN_VEHICLE}, year), then="request")
    _agree(platform, net.fed, net.beta, _terms({QueryKind.PLATE}, set(Purpose), year), then="revoke")
    _agree(platform, net.alpha, net.beta, _terms({QueryKind.PLATE}, set(Purpose), year), then="decline")
    _agree(platform, net.alpha, net.gamma, _terms({QueryKind.AREA}, {Purpose.STOLEN_VEHICLE}, year), then="accept")
    _agree(
        platform,
        net.beta,
        net.gamma,
        _terms({QueryKind.PLATE}, {Purpose.STOLEN_VEHICLE}, NOW_MS + DAY_MS),
        then="accept",
    )
    for kit in (net.alpha, net.beta, net.gamma):
        ingest(platform, kit, [read(PLATE, camera=f"{kit.slug}-fixed"), read(PLATE, camera=f"{kit.slug}-mobile")])

    search(platform, net.alpha.investigator, PLATE)  # own reads
    search(platform, net.alpha.investigator, "0NONE00")  # 0 reads
    search(platform, net.beta.investigator, PLATE)  # alpha shared, gamma shared (not yet expired)
    search(platform, net.beta.investigator, PLATE, purpose="violent_crime")  # purpose not granted
    search(platform, net.beta.admin, PLATE, purpose="immigration_enforcement")  # alpha prohibits
    search(platform, net.fed.investigator, PLATE)  # federal denied by alpha; revoked at beta
    search(platform, net.gamma.investigator, PLATE)  # out of state for alpha; pending at beta
    search(platform, net.alpha.investigator, PLATE, purpose="wanted_person")  # declined at beta; area-only at gamma
    for role in ("auditor", "device"):
        with pytest.raises(PermissionDenied):
            search(platform, net.alpha.principals[role], PLATE)
    with pytest.raises(FieldInvalid):
        search(platform, net.beta.investigator, PLATE, purpose=None)  # malformed: no owner evaluated
    with pytest.raises(FieldInvalid):
        search(platform, net.beta.investigator, PLATE, case_number="\x07")
    platform.audit.append(
        net.alpha.investigator.actor,
        AreaSearched(
            purpose="stolen_vehicle",
            case_number="A-1",
            query={"lat": 37.77, "lon": -122.42, "radius_m": 500},
            per_owner={"alpha": 2, "gamma": 0},
            withheld={"beta": "owner's policy limits area searches to 1000 m"},
            withheld_others="no sharing agreement with this owner (default deny)",
        ),
    )
    platform.audit.append(
        net.gamma.investigator.actor,
        SearchRefused(reason="bad radius", kind="area", purpose="stolen_vehicle", case_number="A-2"),
    )  # malformed area refusal
    clock.advance(2 * DAY_MS)
    platform.registry.add_camera(SYSTEM, agency_slug="late", external_id="late-1", lat=37.0, lon=-122.0)
    search(platform, net.beta.investigator, PLATE, case_number="C-expired")  # gamma's agreement expired
    search(platform, net.late.investigator, PLATE, note="late arrival")
    return net


@pytest.fixture
def network(platform: Platform, clock: FixedClock) -> Network:
    return varied_history(platform, clock)


# -- an independent reading of the raw audit log -----------------------------------------------------------------
def expected_log(platform: Platform, slug: str) -> list[dict[str, Any]]:
    """What ``slug``'s access log must hold, computed from the raw entries alone (cameras from camera.added; the
    first camera's hour, as public leaves record hours)."""
    entries = platform.audit.entries(limit=1_000_000)
    agencies = {a.id: a for a in platform.registry.agencies()}
    first_camera = min(
        (e.ts_ms for e in entries if e.action == "camera.added" and orjson.loads(e.params)["agency"] == slug),
        default=None,
    )
    rows = []
    for e in entries:
        if e.action not in ("search.plate", "search.area", "search.refused"):
            continue
        params, counts = orjson.loads(e.params), orjson.loads(e.counts)
        per_owner = counts.get("per_owner", {})
        if slug in per_owner:
            outcome, n, rule = "permitted", per_owner[slug], None
        elif slug in params["withheld"]:
            outcome, n, rule = "withheld", None, params["withheld"][slug]
        elif params["withheld_others"] and first_camera is not None and first_camera // HOUR_MS <= e.ts_ms // HOUR_MS:
            outcome, n, rule = "withheld", None, params["withheld_others"]
        else:
            continue
        assert e.actor_agency_id is not None
        requester = agencies[e.actor_agency_id]
        rows.append(
            {
                "seq": e.seq,
                "outcome": outcome,
                "rows": n,
                "rule": rule,
                "requester": requester.slug,
                "requester_name": requester.name,
                "user": e.actor_username,
                "purpose": e.purpose,
                "case_number": e.case_number,
                "kind": params["kind"] if e.action == "search.refused" else e.action.split(".")[1],
                "query": params["query"],
            }
        )
    return rows


def actual_log(platform: Platform, viewer: Principal, slug: str, *, limit: int) -> list[dict[str, Any]]:
    """The access log as the owner reads it, page by page."""
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        page = platform.access_log.view(viewer, slug, after_seq=after, limit=limit)
        assert len(page.entries) <= limit
        rows.extend(entry_json(e) for e in page.entries)
        if page.next_after_seq is None:
            return rows
        after = page.next_after_seq


KEYS = ("seq", "outcome", "rows", "rule", "requester", "requester_name", "user", "purpose", "case_number", "kind")


def test_every_owners_access_log_is_the_audit_log_exactly(platform: Platform, network: Network) -> None:
    seen: dict[int, set[str]] = {}
    for kit in network.owners:
        expected = expected_log(platform, kit.slug)
        actual = actual_log(platform, kit.auditor, kit.slug, limit=3)
        assert [{k: row[k] for k in (*KEYS, "query")} for row in actual] == expected, kit.slug
        for row in actual:
            seen.setdefault(row["seq"], set()).add(kit.slug)
    # Complete: every search entry that was decided per owner is in the log of every owner that had a camera.
    entries = platform.audit.entries(limit=1_000_000)
    cameras = [(e.ts_ms, orjson.loads(e.params)["agency"]) for e in entries if e.action == "camera.added"]
    for e in entries:
        if e.action not in ("search.plate", "search.area", "search.refused"):
            continue
        params = orjson.loads(e.params)
        malformed = not params["withheld"] and not params["withheld_others"] and e.action == "search.refused"
        owners_then = {slug for ts, slug in cameras if ts <= e.ts_ms}
        assert seen.get(e.seq, set()) == (set() if malformed else owners_then), e.seq


def test_access_log_is_exact_on_both_governance_engines(gov_platform: Platform, clock: FixedClock) -> None:
    """The SQL narrowing (LIKE on the JSON text) admits every entry concerning the owner on PostgreSQL too."""
    network = varied_history(gov_platform, clock)
    for kit in network.owners:
        actual = actual_log(gov_platform, kit.admin, kit.slug, limit=1000)
        assert [{k: row[k] for k in (*KEYS, "query")} for row in actual] == expected_log(gov_platform, kit.slug)


def test_the_history_covers_every_kind_of_decision(platform: Platform, network: Network) -> None:
    alpha = [entry_json(e) for e in platform.access_log.entries("alpha")]
    rules = {row["rule"] for row in alpha if row["rule"]}
    assert "owner's policy prohibits purpose immigration_enforcement" in rules
    assert "owner's policy denies requests from federal agencies" in rules
    assert "owner's policy denies requesters outside US-CA" in rules
    assert "role auditor may not read plate data" in rules
    assert "role device may not read plate data" in rules
    assert any(row["outcome"] == "permitted" and row["rows"] == 0 for row in alpha)
    assert any(row["outcome"] == "permitted" and row["requester"] == "beta" and row["rows"] == 2 for row in alpha)
    assert any(row["kind"] == "area" and row["rows"] == 2 for row in alpha)
    beta_rules = {e.rule for e in platform.access_log.entries("beta")}
    assert any("is revoked" in str(r) for r in beta_rules)
    assert any("is pending" in str(r) for r in beta_rules)
    assert any("is declined" in str(r) for r in beta_rules)
    assert "owner's policy limits area searches to 1000 m" in beta_rules
    gamma_rules = {e.rule for e in platform.access_log.entries("gamma")}
    assert any("expired on" in str(r) for r in gamma_rules)
    assert any("does not grant plate searches" in str(r) for r in gamma_rules)
    late = list(platform.access_log.entries("late"))
    assert [e.case_number for e in late] == ["C-expired", "2025-000123"]  # only after its first camera
    assert late[1].query["note"] == "late arrival"
    assert late[1].rows == 0


def test_filters_and_pages(platform: Platform, network: Network) -> None:
    viewer = network.alpha.admin
    everything = [e.seq for e in platform.access_log.entries("alpha")]
    withheld = platform.access_log.view(viewer, "alpha", outcome="withheld", limit=1000).entries
    permitted = platform.access_log.view(viewer, "alpha", outcome="permitted", limit=1000).entries
    assert {e.outcome for e in withheld} == {"withheld"}
    assert {e.outcome for e in permitted} == {"permitted"}
    assert sorted(e.seq for e in withheld + permitted) == everything
    later = platform.access_log.view(viewer, "alpha", since_ms=NOW_MS + DAY_MS, limit=1000).entries
    assert [e.case_number for e in later] == ["C-expired", "2025-000123"]
    earlier = platform.access_log.view(viewer, "alpha", until_ms=NOW_MS + DAY_MS, limit=1000).entries
    assert [e.seq for e in earlier + later] == everything
    first = platform.access_log.view(viewer, "alpha", limit=2)
    assert [e.seq for e in first.entries] == everything[:2]
    assert first.next_after_seq == everything[1]
    with pytest.raises(FieldInvalid):
        platform.access_log.view(viewer, "alpha", outcome="maybe")


def test_only_the_owners_admins_and_auditors_may_read_it_and_every_view_is_audited(
    platform: Platform, network: Network
) -> None:
    for viewer in (network.alpha.admin, network.alpha.auditor):
        page = platform.access_log.view(viewer, "alpha", limit=5)
        entry = platform.audit.entries(action="access_log.viewed")[-1]
        assert (entry.outcome, entry.actor_username) == ("ok", viewer.username)
        assert orjson.loads(entry.counts) == {"entries": len(page.entries)}
    for viewer in (network.alpha.investigator, network.alpha.device, network.beta.admin, network.beta.auditor):
        mark = platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
        with pytest.raises(PermissionDenied):
            platform.access_log.view(viewer, "alpha")
        (entry,) = platform.audit.entries(after_seq=mark)  # one refusal, one entry
        assert (entry.action, entry.outcome, entry.actor_username) == ("action.refused", "refused", viewer.username)
    with pytest.raises(NotFound):
        platform.access_log.view(network.alpha.admin, "nowhere")
    assert platform.audit.verify().intact


# -- HTTP -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform)) as test_client:
        yield test_client


def bearer(kit: AgencyKit, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def test_http_access_log_matches_the_audit_log_and_is_owner_only(
    platform: Platform, network: Network, client: TestClient
) -> None:
    url = "/api/v1/agencies/alpha/access-log"
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        response = client.get(url, params={"after_seq": after, "limit": 4}, headers=bearer(network.alpha, "auditor"))
        assert response.status_code == 200, response.text
        body = response.json()
        AccessLogOut.model_validate(body, strict=True)
        rows.extend(body["entries"])
        if body["next_after_seq"] is None:
            break
        after = body["next_after_seq"]
    assert [{k: r[k] for k in (*KEYS, "query")} for r in rows] == expected_log(platform, "alpha")
    own = client.get("/api/v1/access-log", params={"limit": 1000}, headers=bearer(network.alpha, "admin"))
    assert own.json()["entries"] == rows
    withheld = client.get(url, params={"outcome": "withheld"}, headers=bearer(network.alpha, "admin")).json()
    assert {r["outcome"] for r in withheld["entries"]} == {"withheld"}
    for kit, role in ((network.alpha, "investigator"), (network.beta, "admin"), (network.fed, "auditor")):
        refused = client.get(url, headers=bearer(kit, role))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/agencies/nowhere/access-log", headers=bearer(network.alpha, "admin")).status_code == 404
    bad = client.get(url, params={"since": "yesterday"}, headers=bearer(network.alpha, "admin"))
    assert (bad.status_code, bad.json()["field"]) == (422, "since")
    assert client.get(url, params={"outcome": "x"}, headers=bearer(network.alpha, "admin")).status_code == 422


def test_viewing_the_access_log_leaves_it_unchanged(platform: Platform, network: Network) -> None:
    before = [e.seq for e in platform.access_log.entries("alpha")]
    platform.access_log.view(network.alpha.admin, "alpha")
    with pytest.raises(PermissionDenied):
        platform.access_log.view(network.beta.admin, "alpha")
    assert [e.seq for e in platform.access_log.entries("alpha")] == before


def test_a_hostile_query_naming_an_owner_does_not_put_it_in_that_owners_log(platform: Platform) -> None:
    lone = seed_agency(platform, "lone", cameras=(CameraSpec("lone-1"),))
    seed_agency(platform, "other")
    with pytest.raises(FieldInvalid):
        search(platform, lone.investigator, "other", purpose=None, note='"other"')  # refused before any decision
    search(platform, lone.investigator, PLATE, note='"other" "withheld_others":"x"')
    other = [e.seq for e in platform.access_log.entries("other")]
    # Only the real search (withheld by default deny) is in other's log: not the malformed one naming it.
    assert len(other) == 1
    assert next(platform.access_log.entries("other")).rule == "no sharing agreement with this owner (default deny)"
