"""Sharing agreements and owner policies: the lifecycle, who may take each step, what each step records, and
the gate seeing every change at once — on SQLite and PostgreSQL, through the library and the HTTP API."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.core.errors import Conflict, FieldInvalid, NotFound, PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.rules import DEFAULT, PRESETS, Policy, Preset, Terms
from plateledger.search.plate import PlateSearch
from plateledger.store.models import AuditEntry
from plateledger.vocab import Purpose, QueryKind
from tests.support import DAY_MS, AgencyKit, ingest, read, seed_agency


@pytest.fixture
def kits(gov_platform: Platform) -> dict[str, AgencyKit]:
    return {
        "owner": seed_agency(gov_platform, "owner-pd", name="Owner PD"),
        "asker": seed_agency(gov_platform, "asker-pd", name="Asker PD"),
        "third": seed_agency(gov_platform, "third-so", name="Third SO", kind="county"),
    }


def terms(clock_ms: int, **changes: Any) -> Terms:
    base: dict[str, Any] = {
        "query_kinds": frozenset({QueryKind.PLATE, QueryKind.AREA}),
        "purposes": frozenset({Purpose.STOLEN_VEHICLE, Purpose.VIOLENT_CRIME}),
        "max_lookback_days": 90,
        "expires_ms": clock_ms + 100 * DAY_MS,
    }
    return Terms(**{**base, **changes})


def actions_since(platform: Platform, seq: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, orjson.loads(e.params)) for e in platform.audit.entries(after_seq=seq)]


def head(platform: Platform) -> int:
    entries = platform.audit.entries(after_seq=0, limit=100_000)
    return entries[-1].seq if entries else 0


def test_request_accept_revoke_each_audited_naming_both_agencies(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    platform, owner, asker = gov_platform, kits["owner"], kits["asker"]
    mark = head(platform)
    asked = terms(clock.now_ms())
    view = platform.agreements.request(asker.admin, owner="owner-pd", terms=asked, note="burglary series")
    assert (view.state, view.active, view.requester, view.owner) == ("pending", False, "asker-pd", "owner-pd")
    narrower = terms(clock.now_ms(), purposes=frozenset({Purpose.STOLEN_VEHICLE}), max_lookback_days=30)
    accepted = platform.agreements.accept(owner.admin, view.id, terms=narrower)
    assert accepted.active
    assert accepted.granted_terms is not None
    assert accepted.granted_terms["purposes"] == ["stolen_vehicle"]
    assert accepted.requested_terms["purposes"] == ["stolen_vehicle", "violent_crime"]
    revoked = platform.agreements.revoke(owner.admin, view.id, note="case closed")
    assert (revoked.state, revoked.active, revoked.ended_by) == ("revoked", False, "owner-pd-admin")
    steps = actions_since(platform, mark)
    assert [a for a, _ in steps] == ["sharing.requested", "sharing.accepted", "sharing.revoked"]
    for _, params in steps:
        assert (params["requester"], params["owner"], params["agreement_id"]) == ("asker-pd", "owner-pd", view.id)
    assert steps[0][1]["note"] == "burglary series"
    assert steps[1][1]["terms"]["max_lookback_days"] == 30
    # Both sides see the same agreement.
    assert [v.id for v in platform.agreements.listing(owner.investigator)] == [view.id]
    assert [v.id for v in platform.agreements.listing(asker.auditor)] == [view.id]
    assert platform.agreements.listing(kits["third"].admin) == []
    assert platform.audit.verify().intact


def test_only_the_right_admin_takes_each_step(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    platform, owner, asker, third = gov_platform, kits["owner"], kits["asker"], kits["third"]
    for who in (asker.investigator, asker.auditor, asker.device):
        with pytest.raises(PermissionDenied):
            platform.agreements.request(who, owner="owner-pd", terms=terms(clock.now_ms()))
    view = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms()))
    for who in (asker.admin, owner.investigator, owner.auditor):
        with pytest.raises(PermissionDenied):
            platform.agreements.accept(who, view.id)
        with pytest.raises(PermissionDenied):
            platform.agreements.decline(who, view.id)
    with pytest.raises(NotFound):  # to a third agency the agreement does not exist (issue 15: no probing)
        platform.agreements.accept(third.admin, view.id)
    with pytest.raises(PermissionDenied):
        platform.agreements.withdraw(owner.admin, view.id)
    with pytest.raises(NotFound):
        platform.agreements.get(third.admin, view.id)
    assert platform.agreements.get(owner.auditor, view.id).state == "pending"


def test_states_move_only_forward(gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock) -> None:
    platform, owner, asker = gov_platform, kits["owner"], kits["asker"]
    view = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms()))
    with pytest.raises(Conflict, match="already pending"):
        platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms()))
    with pytest.raises(Conflict, match="cannot be revoked"):
        platform.agreements.revoke(owner.admin, view.id)
    platform.agreements.decline(owner.admin, view.id)
    with pytest.raises(Conflict, match="only a pending request can be accepted"):
        platform.agreements.accept(owner.admin, view.id)
    with pytest.raises(Conflict):
        platform.agreements.withdraw(asker.admin, view.id)
    again = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms()))
    platform.agreements.withdraw(asker.admin, again.id)
    assert platform.agreements.get(asker.admin, again.id).state == "withdrawn"


def test_terms_are_validated_and_an_owner_may_only_narrow(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    platform, owner, asker = gov_platform, kits["owner"], kits["asker"]
    now = clock.now_ms()
    with pytest.raises(FieldInvalid, match="future"):
        platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(now, expires_ms=now))
    with pytest.raises(FieldInvalid, match="days ahead"):
        platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(now, expires_ms=now + 4000 * DAY_MS))
    with pytest.raises(FieldInvalid, match="its own reads"):
        platform.agreements.request(asker.admin, owner="asker-pd", terms=terms(now))
    with pytest.raises(NotFound):
        platform.agreements.request(asker.admin, owner="nobody", terms=terms(now))
    view = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(now))
    for wider in (
        terms(now, max_lookback_days=91),
        terms(now, purposes=frozenset({Purpose.DRUG_CRIME})),
        terms(now, query_kinds=frozenset(QueryKind)),
        terms(now, expires_ms=now + 101 * DAY_MS),
    ):
        with pytest.raises(FieldInvalid, match="never widen"):
            platform.agreements.accept(owner.admin, view.id, terms=wider)
    assert platform.agreements.get(owner.admin, view.id).state == "pending"


def test_the_gate_sees_each_change_at_once(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    platform, owner, asker = gov_platform, kits["owner"], kits["asker"]
    ingest(platform, owner, [read("6SEE001", camera=owner.cameras[0], ts=clock.now_ms() - DAY_MS)])
    ask = PlateSearch(plate="6SEE001", purpose="stolen_vehicle", case_number="C-1")

    def seen() -> int:
        return sum(r.owner == owner.agency.id for r in platform.searches.search(asker.investigator, ask).reads)

    assert seen() == 0
    view = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms(), max_lookback_days=5))
    assert seen() == 0
    platform.agreements.accept(owner.admin, view.id)
    assert seen() == 1
    platform.policies.set_as(owner.admin, "owner-pd", Policy(prohibited_purposes=frozenset({Purpose.STOLEN_VEHICLE})))
    assert seen() == 0
    platform.policies.set_as(owner.admin, "owner-pd", DEFAULT)
    assert seen() == 1
    clock.advance(101 * DAY_MS)  # the agreement expires; nothing else changes
    assert seen() == 0


def test_policy_versions_are_kept_and_each_change_audited_with_old_and_new(
    gov_platform: Platform, kits: dict[str, AgencyKit]
) -> None:
    platform, owner = gov_platform, kits["owner"]
    assert platform.policies.current("owner-pd").version == 0
    mark = head(platform)
    california = PRESETS[Preset.CALIFORNIA][0]
    first = platform.policies.set_as(owner.admin, "owner-pd", california, preset="california")
    second = platform.policies.set_as(owner.admin, "owner-pd", california.model_copy(update={"retention_days": 30}))
    assert (first.version, second.version) == (1, 2)
    assert [v.version for v in platform.policies.history("owner-pd")] == [1, 2]
    assert platform.policies.current("owner-pd").policy.retention_days == 30
    (one, two) = actions_since(platform, mark)
    assert one[0] == two[0] == "policy.changed"
    assert (one[1]["old_version"], one[1]["new_version"], one[1]["preset"]) == (0, 1, "california")
    assert one[1]["old"]["prohibited_purposes"] == []
    assert one[1]["new"]["prohibited_purposes"] == ["immigration_enforcement"]
    assert (two[1]["old"]["retention_days"], two[1]["new"]["retention_days"]) == (365, 30)
    for who in (owner.investigator, owner.auditor, kits["asker"].admin):
        with pytest.raises(PermissionDenied):
            platform.policies.set_as(who, "owner-pd", DEFAULT)
    assert platform.policies.current("owner-pd").version == 2


def test_policy_text_is_generated_from_the_policy(gov_platform: Platform, kits: dict[str, AgencyKit]) -> None:
    platform, owner = gov_platform, kits["owner"]
    before = platform.policies.current("owner-pd").as_json()["text"]
    # The default prohibits no purpose (the oversight lines name immigration only as terms watched for in reasons).
    assert not any("immigration enforcement" in line for line in before)
    platform.policies.set_as(owner.admin, "owner-pd", PRESETS[Preset.CALIFORNIA][0], preset="california")
    after = platform.policies.current("owner-pd").as_json()["text"]
    assert any("immigration enforcement" in line for line in after)
    assert any("federal and private agencies are refused" in line for line in after)
    assert any("Only agencies in US-CA" in line for line in after)


# -- HTTP ------------------------------------------------------------------------------------------------------
def bearer(kit: AgencyKit, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def test_sharing_and_policy_over_http(gov_platform: Platform, kits: dict[str, AgencyKit]) -> None:
    client = TestClient(create_app(platform=gov_platform))
    owner, asker = kits["owner"], kits["asker"]
    body = {
        "owner": "owner-pd",
        "terms": {
            "query_kinds": ["plate"],
            "purposes": ["stolen_vehicle", "missing_person"],
            "max_lookback_days": 60,
            "expires": "2025-12-31",
        },
        "note": "stolen vehicle ring",
    }
    response = client.post("/api/v1/sharing/requests", json=body, headers=bearer(asker, "investigator"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    response = client.post("/api/v1/sharing/requests", json=body, headers=bearer(asker, "admin"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["requested_terms"]["expires"] == "2026-01-01T00:00:00.000Z"  # in force through Dec 31
    narrowed = {**body["terms"], "purposes": ["missing_person"]}  # type: ignore[dict-item]
    path = f"/api/v1/sharing/agreements/{created['id']}"
    response = client.post(f"{path}/accept", json={"terms": narrowed}, headers=bearer(owner, "admin"))
    assert response.status_code == 200, response.text
    assert response.json()["granted_terms"]["purposes"] == ["missing_person"]
    assert response.json()["active"]
    listing = client.get("/api/v1/sharing/agreements", headers=bearer(owner, "auditor")).json()
    assert [a["id"] for a in listing] == [created["id"]]
    assert client.post(f"{path}/decline", json={}, headers=bearer(owner, "admin")).status_code == 409
    assert client.post(f"{path}/revoke", json={}, headers=bearer(owner, "admin")).json()["state"] == "revoked"
    bad = dict(body, terms={**body["terms"], "purposes": ["curiosity"]})  # type: ignore[dict-item]
    response = client.post("/api/v1/sharing/requests", json=bad, headers=bearer(asker, "admin"))
    assert response.status_code == 422
    assert response.json()["field"].startswith("terms.purposes")
    bad = dict(body, terms={**body["terms"], "expires": "next week"})  # type: ignore[dict-item]
    assert client.post("/api/v1/sharing/requests", json=bad, headers=bearer(asker, "admin")).json()["field"] == (
        "terms.expires"
    )

    response = client.put("/api/v1/policies/owner-pd", json={"preset": "strict"}, headers=bearer(owner, "admin"))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.json()["policy"]["retention_days"] == 21
    assert any("not allowed" in line for line in response.json()["text"])
    assert (
        client.put("/api/v1/policies/owner-pd", json={"preset": "strict"}, headers=bearer(asker, "admin")).status_code
        == 403
    )
    response = client.put(
        "/api/v1/policies/owner-pd", json={"policy": {"retention_days": 0}}, headers=bearer(owner, "admin")
    )
    assert response.status_code == 422
    assert response.json()["field"] == "policy.retention_days"
    response = client.put("/api/v1/policies/owner-pd", json={"policy": {"surprise": 1}}, headers=bearer(owner, "admin"))
    assert response.status_code == 422
    assert client.get("/api/v1/policies/owner-pd", headers=bearer(asker, "investigator")).json()["version"] == 1
    assert len(client.get("/api/v1/policies/owner-pd/history", headers=bearer(owner, "auditor")).json()) == 1
    presets = client.get("/api/v1/policy-presets", headers=bearer(owner, "auditor")).json()
    assert [p["name"] for p in presets] == ["california", "illinois", "strict", "open"]
    assert all(p["encodes"] and p["text"] for p in presets)
    with gov_platform.governance.session() as session:
        actions = [e.action for e in session.query(AuditEntry).order_by(AuditEntry.seq)]
    assert actions.count("policy.changed") == 1
    assert actions.count("sharing.revoked") == 1


def test_an_expired_agreement_does_not_block_a_new_request(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    """Issue 15, defect 14: an expired agreement (or a request whose terms expired unanswered) grants nothing,
    so a new request must not be refused with 409 until someone withdraws it; the old one stays as history."""
    platform, owner, asker = gov_platform, kits["owner"], kits["asker"]
    client = TestClient(create_app(platform=platform))
    ingest(platform, owner, [read("6EXP001", camera=owner.cameras[0], ts=clock.now_ms() - DAY_MS)])
    ask = PlateSearch(plate="6EXP001", purpose="stolen_vehicle", case_number="C-14")
    soon = clock.now_ms() + 10 * DAY_MS
    old = platform.agreements.request(asker.admin, owner="owner-pd", terms=terms(clock.now_ms(), expires_ms=soon))
    platform.agreements.accept(owner.admin, old.id)
    unanswered = platform.agreements.request(kits["third"].admin, owner="owner-pd", terms=terms(soon, expires_ms=soon))
    clock.advance(11 * DAY_MS)
    body = {
        "owner": "owner-pd",
        "terms": {
            "query_kinds": ["plate"],
            "purposes": ["stolen_vehicle"],
            "max_lookback_days": 200,
            "expires": "2027-06-30",
        },
    }
    response = client.post("/api/v1/sharing/requests", json=body, headers=bearer(asker, "admin"))
    assert response.status_code == 201, response.text
    renewed = response.json()
    assert renewed["state"] == "pending"
    response = client.post("/api/v1/sharing/requests", json=body, headers=bearer(kits["third"], "admin"))
    assert response.status_code == 201, response.text
    assert client.post("/api/v1/sharing/requests", json=body, headers=bearer(asker, "admin")).status_code == 409
    history = {a["id"]: a for a in client.get("/api/v1/sharing/agreements", headers=bearer(owner, "admin")).json()}
    assert (history[old.id]["state"], history[old.id]["expired"]) == ("accepted", True)
    assert history[unanswered.id]["state"] == "pending"
    assert platform.searches.search(asker.investigator, ask).reads == []
    platform.agreements.accept(owner.admin, renewed["id"])
    assert [r.owner for r in platform.searches.search(asker.investigator, ask).reads] == [owner.agency.id]


def test_a_third_agency_cannot_tell_an_agreement_from_a_made_up_id(
    gov_platform: Platform, kits: dict[str, AgencyKit], clock: FixedClock
) -> None:
    """Issue 15 (oracles like defect 2): accepting, declining, revoking or withdrawing another pair's agreement
    answered 403 where a made-up id got 404."""
    platform, third = gov_platform, kits["third"]
    client = TestClient(create_app(platform=platform))
    view = platform.agreements.request(kits["asker"].admin, owner="owner-pd", terms=terms(clock.now_ms()))
    made_up = view.id + 1000
    for step in ("accept", "decline", "revoke", "withdraw"):
        answers = []
        for agreement_id in (view.id, made_up):
            response = client.post(
                f"/api/v1/sharing/agreements/{agreement_id}/{step}", json={}, headers=bearer(third, "admin")
            )
            body = response.json()
            answers.append((response.status_code, body["detail"].replace(str(agreement_id), "#"), body["type"]))
        assert answers[0] == answers[1], step
        assert answers[0][0] == 404
    assert client.get(f"/api/v1/sharing/agreements/{view.id}", headers=bearer(third, "admin")).status_code == 404
