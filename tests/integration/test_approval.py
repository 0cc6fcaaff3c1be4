"""Two-person approval through the library and the HTTP API: a held area search returns approval-required with a
request id and reads nothing; the requester and another agency's supervisor cannot approve; the right supervisor
does; the identical search runs once; a changed or expired one is refused; break-glass runs at once and leaves a
review item counted in the transparency report until reviewed. Each step is audited and in the owner's access log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock
from plateledger.core.errors import ApprovalRequired, NotFound, PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.rules import ApprovalRules, Policy
from tests.support import HOUR_MS, NOW_MS, AgencyKit, ingest, read, seed_agency

ROLES = ("admin", "investigator", "supervisor", "auditor", "device")
LAT, LON = 37.7749, -122.4194
SINCE, UNTIL = NOW_MS - 3 * HOUR_MS, NOW_MS - HOUR_MS
ASK = {
    "purpose": "violent_crime",
    "case_number": "2025-000999",
    "lat": str(LAT),
    "lon": str(LON),
    "radius_m": "500",
    "since": str(SINCE),
    "until": str(UNTIL),
}


@dataclass
class World:
    platform: Platform
    clock: FixedClock
    city: AgencyKit
    county: AgencyKit
    client: TestClient

    def auth(self, kit: AgencyKit, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {kit.tokens[role]}"}


@pytest.fixture
def world(platform: Platform, clock: FixedClock) -> World:
    city = seed_agency(platform, "city", roles=ROLES)
    county = seed_agency(platform, "county", roles=ROLES)
    assert ingest(platform, city, [read("ABC123", camera="city-fixed", ts=NOW_MS - 2 * HOUR_MS)]).stored == 1
    platform.policies.set(SYSTEM, "city", Policy(approval=ApprovalRules(area=True)))
    return World(platform, clock, city, county, TestClient(create_app(platform=platform)))


def search(world: World, role: str = "investigator", kit: AgencyKit | None = None, **extra: str) -> Any:
    return world.client.get("/api/v1/search/area", params={**ASK, **extra}, headers=world.auth(kit or world.city, role))


def held(world: World) -> int:
    answer = search(world)
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["type"] == "https://plateledger.org/problems/approval-required"
    assert isinstance(body["approval_request"], int)
    assert "reads" not in body
    return int(body["approval_request"])


def approve(world: World, request_id: int, kit: AgencyKit, role: str = "supervisor") -> Any:
    return world.client.post(
        f"/api/v1/approvals/{request_id}/approve", json={"note": "checked the case file"}, headers=world.auth(kit, role)
    )


def entries(world: World, after: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, orjson.loads(e.params)) for e in world.platform.audit.entries(after_seq=after)]


def test_held_approved_runs_once_naming_both_people(world: World) -> None:
    mark = world.platform.audit.verify().entries
    request_id = held(world)
    (action, params), *_ = entries(world, mark)
    assert action == "search.refused"
    assert params["approval_request"] == request_id
    assert params["withheld"]["city"].startswith("approval required")

    pending = world.client.get("/api/v1/approvals", headers=world.auth(world.city, "supervisor")).json()["requests"]
    assert [(r["id"], r["kind"], r["requested_by"], r["owners"]) for r in pending] == [
        (request_id, "area", "city-investigator", ["city"])
    ]
    # Not yet approved: the run is refused and nothing is read.
    early = search(world, approval=str(request_id))
    assert early.status_code == 403
    assert "not approved yet" in early.json()["detail"]

    assert approve(world, request_id, world.city, "investigator").status_code == 403  # the requester: not a supervisor
    assert approve(world, request_id, world.county).status_code == 404  # another agency's supervisor: not its request
    approved = approve(world, request_id, world.city)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    changed = search(world, approval=str(request_id), since=str(SINCE - HOUR_MS))
    assert changed.status_code == 403
    assert "differs from the one approved" in changed.json()["detail"]

    mark = world.platform.audit.verify().entries
    ran = search(world, approval=str(request_id))
    assert ran.status_code == 200, ran.text
    assert (ran.json()["count"], ran.json()["approval_request"]) == (1, request_id)
    ((action, params),) = entries(world, mark)
    assert action == "search.area"
    assert params["approval"] == {
        "request": request_id,
        "requested_by": "city-investigator",
        "approved_by": [{"user": "city-supervisor", "agency": "city"}],
        "break_glass": False,
    }
    again = search(world, approval=str(request_id))
    assert again.status_code == 403
    assert "already used" in again.json()["detail"]

    log = world.client.get("/api/v1/agencies/city/access-log", headers=world.auth(world.city, "auditor")).json()
    steps = [(e["action"], e["outcome"]) for e in log["entries"]]
    assert steps == [
        ("search.refused", "withheld"),  # held
        ("search.refused", "withheld"),  # run before approval
        ("approval.granted", "approved"),
        ("search.refused", "withheld"),  # changed window
        ("search.area", "permitted"),
        ("search.refused", "withheld"),  # second run
    ]
    assert world.platform.audit.verify().intact


def test_requester_supervisor_cannot_approve_own_search(world: World) -> None:
    answer = search(world, role="supervisor")
    request_id = answer.json()["approval_request"]
    refused = approve(world, request_id, world.city)
    assert refused.status_code == 403
    assert "second person" in refused.json()["detail"]
    action, params = entries(world, world.platform.audit.verify().entries - 1)[0]
    assert (action, params["operation"]) == ("action.refused", "approval.decide")


def test_refused_and_expired_approvals_do_not_run(world: World) -> None:
    first = held(world)
    refused = world.client.post(
        f"/api/v1/approvals/{first}/refuse", json={"note": "no case link"}, headers=world.auth(world.city, "supervisor")
    )
    assert refused.json()["state"] == "refused"
    assert "was refused" in search(world, approval=str(first)).json()["detail"]

    second = held(world)
    assert approve(world, second, world.city).status_code == 200
    world.clock.advance(world.platform.settings.approval_ttl_s * 1000 + 1)
    expired = search(world, approval=str(second))
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]


def test_library_raises_approval_required_and_unknown_request_is_not_found(world: World) -> None:
    from plateledger.search.area import AreaSearch

    ask = AreaSearch(**ASK)
    with pytest.raises(ApprovalRequired) as caught:
        world.platform.areas.search(world.city.investigator, ask)
    assert caught.value.exit_code == 12
    assert caught.value.status == 403
    with pytest.raises(NotFound):
        world.platform.areas.search(world.county.investigator, AreaSearch(**ASK, approval=caught.value.request_id))
    with pytest.raises(PermissionDenied):
        world.platform.areas.search(world.city.auditor, ask)


def test_break_glass_runs_at_once_and_is_counted_until_reviewed(world: World) -> None:
    no_note = search(world, break_glass="true")
    assert no_note.status_code == 422
    ran = search(world, break_glass="true", note="child missing, vehicle seen leaving")
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert (body["count"], body["break_glass"]) == (1, True)
    item = body["approval_request"]
    action, params = entries(world, body["audit_seq"] - 1)[0]
    assert action == "search.area"
    assert params["approval"]["break_glass"] is True

    report = world.client.get("/transparency/city.json").json()
    assert report["approvals"]["break_glass"] == {"total": 1, "open": 1, "overdue": 0, "reviewed": 0}
    world.clock.advance(25 * HOUR_MS)
    items = world.client.get("/api/v1/break-glass", headers=world.auth(world.city, "supervisor")).json()["items"]
    assert [(i["id"], i["overdue"]) for i in items] == [(item, True)]
    report = world.client.get("/transparency/city.json").json()
    assert report["approvals"]["break_glass"]["overdue"] == 1

    own = world.client.post(
        f"/api/v1/break-glass/{item}/review", json={"note": "ok"}, headers=world.auth(world.city, "investigator")
    )
    assert own.status_code == 403
    reviewed = world.client.post(
        f"/api/v1/break-glass/{item}/review", json={"note": "justified"}, headers=world.auth(world.city, "supervisor")
    )
    assert reviewed.json()["state"] == "reviewed"
    report = world.client.get("/transparency/city.json").json()
    assert report["approvals"]["break_glass"] == {"total": 1, "open": 0, "overdue": 0, "reviewed": 1}
    assert world.client.get("/api/v1/break-glass", headers=world.auth(world.city, "supervisor")).json()["items"] == []


def test_policy_text_states_the_approval_rules(world: World) -> None:
    report = world.client.get("/transparency/city.json").json()
    assert any("Area searches are not run until a supervisor" in line for line in report["policy"]["text"])


# -- the review's findings: break-glass and alerts never stand in for another owner's approval --------------------
def test_break_glass_never_stands_in_for_another_owners_approval(platform: Platform, clock: FixedClock) -> None:
    """An out-of-state requester under the owner's "my supervisor approves out-of-state searches" rule broke the
    glass and got the reads: the owner's rule was advisory. Break-glass now meets the requester's own agency's
    rules only; the owner's supervisor must approve (and only then does the search run)."""
    from plateledger.policy.rules import Approver, Terms
    from plateledger.search.plate import PlateSearch
    from plateledger.vocab import Purpose, QueryKind
    from tests.support import DAY_MS

    owner = seed_agency(platform, "owner", roles=ROLES, state="IL")
    far = seed_agency(platform, "far", roles=ROLES, state="TX")
    platform.policies.set(SYSTEM, "owner", Policy(approval=ApprovalRules(out_of_state=True, approver=Approver.OWNER)))
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE, QueryKind.ALERT}),
        purposes=frozenset({Purpose.VIOLENT_CRIME}),
        max_lookback_days=90,
        expires_ms=NOW_MS + 365 * DAY_MS,
    )
    platform.agreements.accept(owner.admin, platform.agreements.request(far.admin, owner="owner", terms=terms).id)
    ingest(platform, owner, [read("7ABC123", camera=owner.cameras[0], ts=NOW_MS - 2 * HOUR_MS)])
    ask = PlateSearch(plate="7ABC123", purpose="violent_crime", case_number="C-1")
    glass = PlateSearch(plate="7ABC123", purpose="violent_crime", case_number="C-1", break_glass=True, note="urgent")
    with pytest.raises(ApprovalRequired):
        platform.searches.search(far.investigator, ask)
    with pytest.raises(ApprovalRequired, match="break-glass stands in for the requester's own agency's approval only"):
        platform.searches.search(far.investigator, glass)
    assert platform.approvals.break_glass_json(owner.principals["supervisor"], "all") == {"items": []}
    # The owner's own users may still break the glass on their own data's rules (none hold them here).
    assert platform.searches.search(owner.investigator, glass).reads


def test_alerts_the_approval_rules_would_hold_are_withheld(platform: Platform, clock: FixedClock) -> None:
    """A plate search under a purpose the policy holds for approval was refused, but a hot-list entry under the
    same purpose delivered every new read of the plate: live tracking without the approval."""
    from plateledger.hotlists.service import EntryIn
    from plateledger.search.plate import PlateSearch
    from tests.support import DAY_MS

    city = seed_agency(platform, "city", roles=ROLES)
    platform.policies.set(SYSTEM, "city", Policy(approval=ApprovalRules(purposes=frozenset({"violent_crime"}))))
    with pytest.raises(ApprovalRequired):
        platform.searches.search(
            city.investigator, PlateSearch(plate="7ABC123", purpose="violent_crime", case_number="C-1")
        )
    view = platform.hotlists.create(city.investigator, name="watch", default_purpose="violent_crime")
    entry = EntryIn(plate="7ABC123", purpose="violent_crime", reference="C-1", reason="x", expires_ms=NOW_MS + DAY_MS)
    valid, errors = platform.hotlists.validate(view, [entry])
    assert errors == []
    platform.hotlists.apply(city.investigator, view.id, add=valid)
    ingest(platform, city, [read("7ABC123", camera=city.cameras[0], ts=NOW_MS - 60_000, read_id="new1")])
    assert platform.alerts.listing(city.investigator) == []
    text = " ".join(platform.policies.current("city").as_json()["text"])
    assert "Hot-list alerts for violent crime are not sent" in text


def test_listing_the_held_searches_is_audited_before_the_answer(world: World) -> None:
    """The list of held searches names each one's query, purpose, case and requester: showing it is audited
    (``approval.queue_viewed``, the request ids; counts an integer), through the library and the API; an empty
    list writes nothing."""
    platform = world.platform
    before = platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
    assert platform.approvals.requests_json(world.county.principals["supervisor"])["requests"] == []
    assert entries(world, before) == []
    request_id = held(world)
    after_held = platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
    shown = world.client.get("/api/v1/approvals", headers=world.auth(world.city, "auditor"))
    assert [r["id"] for r in shown.json()["requests"]] == [request_id]
    (viewed,) = platform.audit.entries(after_seq=after_held, limit=10)
    assert (viewed.action, viewed.actor_username) == ("approval.queue_viewed", "city-auditor")
    params = orjson.loads(viewed.params)
    assert (params["requests"], params["break_glass"], params["states"]) == ([request_id], False, ["pending"])
    assert orjson.loads(viewed.counts) == {"requests": 1}
