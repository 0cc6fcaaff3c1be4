"""The policy gate: pure per-owner decisions with reasons, checked rule by rule, exhaustively over a grid, and
by hypothesis over generated policies and agreements; and a Permit nobody else can mint."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger.policy.actions import TABLE, Action
from plateledger.policy.gate import (
    DEFAULT_DENY,
    Agreement,
    Approval,
    Book,
    Decision,
    Gate,
    Owner,
    Permit,
    Request,
    decide,
)
from plateledger.policy.rules import (
    DAY_MS,
    DEFAULT,
    HOUR_MS,
    ILLINOIS_ATTESTATION,
    PRESETS,
    AgreementState,
    ApprovalRules,
    AreaLimits,
    DescriptionLimits,
    Policy,
    Preset,
    Terms,
)
from plateledger.vocab import AgencyKind, Purpose, QueryKind, Role

#: The roles that may search: the authorisation table's, the one statement of them.
SEARCHERS = TABLE[Action.SEARCH].roles

NOW = 1_780_000_000_000
OWN = Owner(agency_id=1, slug="city-pd", name="City PD", country="US", state="CA")
OTHER = Owner(agency_id=2, slug="county-so", name="County SO", country="US", state="CA")
EVERYTHING = Terms(
    query_kinds=frozenset(QueryKind),
    purposes=frozenset(Purpose),
    max_lookback_days=3650,
    expires_ms=NOW + 365 * DAY_MS,
)


def request(
    role: Role = Role.INVESTIGATOR,
    *,
    agency_id: int = 1,
    kind: str = "municipal",
    country: str = "US",
    state: str = "CA",
    purpose: str = "stolen_vehicle",
    query_kind: QueryKind = QueryKind.PLATE,
    since_days: int | None = None,
    warrant: str | None = None,
    radius_m: float | None = None,
    window_hours: int | None = None,
    cameras: int | None = None,
) -> Request:
    return Request(
        agency_id=agency_id,
        agency_kind=kind,
        country=country,
        state=state,
        role=role,
        purpose=purpose,
        case_number="2026-1",
        query_kind=query_kind,
        since_ms=None if since_days is None else NOW - since_days * DAY_MS,
        now_ms=NOW,
        warrant=warrant,
        radius_m=radius_m,
        window_ms=None if window_hours is None else window_hours * HOUR_MS,
        cameras=cameras,
    )


def narrowed(**changes: object) -> Terms:
    return Terms.model_validate({**EVERYTHING.model_dump(), **changes})


def accepted(terms: Terms = EVERYTHING, attestation: str | None = None) -> Agreement:
    return Agreement(id=7, state=AgreementState.ACCEPTED, terms=terms, attestation=attestation)


FROM_OTHER = {"agency_id": 3}


def test_a_permit_cannot_be_constructed_outside_the_gate() -> None:
    with pytest.raises(TypeError, match="only issued by the policy gate"):
        Permit((), _token=object())
    with pytest.raises(TypeError):
        Permit(())  # type: ignore[call-arg]


@pytest.mark.parametrize("role", sorted(SEARCHERS))
def test_searching_roles_see_their_own_agency_within_its_lookback(role: Role) -> None:
    decision = decide(request(role), OWN, DEFAULT, None)
    assert decision.allowed
    assert decision.rule == "own agency's data"
    assert decision.earliest_ms == NOW - DEFAULT.plate_lookback_days * DAY_MS
    assert decision.clipped == "limited to the last 365 days: owner's lookback limit"
    narrow = decide(request(role, since_days=10), OWN, DEFAULT, None)
    assert narrow.allowed
    assert narrow.clipped is None


@pytest.mark.parametrize("role", sorted(SEARCHERS))
def test_other_agencies_are_denied_by_default(role: Role) -> None:
    decision = decide(request(role), OTHER, DEFAULT, None)
    assert not decision.allowed
    assert decision.rule == DEFAULT_DENY


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.DEVICE])
@pytest.mark.parametrize("owner", [OWN, OTHER], ids=["own", "other"])
@pytest.mark.parametrize("kind", [QueryKind.PLATE, QueryKind.AREA])
def test_auditors_and_devices_never_read(role: Role, owner: Owner, kind: QueryKind) -> None:
    decision = decide(request(role, query_kind=kind), owner, DEFAULT, accepted())
    assert not decision.allowed
    assert decision.rule == f"role {role.value} may not read plate data"


@pytest.mark.parametrize("owner", [OWN, OTHER], ids=["own", "other"])
def test_a_prohibited_purpose_binds_everyone_including_agreements_and_the_owner(owner: Owner) -> None:
    policy = Policy(prohibited_purposes=frozenset({Purpose.IMMIGRATION_ENFORCEMENT}))
    decision = decide(request(purpose="immigration_enforcement"), owner, policy, accepted())
    assert not decision.allowed
    assert decision.rule == "owner's policy prohibits purpose immigration_enforcement"


def test_requester_rules_override_an_agreement() -> None:
    california = PRESETS[Preset.CALIFORNIA][0]
    cases = [
        (request(kind="federal", **FROM_OTHER), "owner's policy denies requests from federal agencies"),
        (request(kind="private", **FROM_OTHER), "owner's policy denies requests from private agencies"),
        (request(state="NV", **FROM_OTHER), "owner's policy denies requesters outside US-CA"),
        (request(country="MX", state="BCN", **FROM_OTHER), "owner's policy denies requesters outside US"),
    ]
    for req, rule in cases:
        decision = decide(req, OTHER, california, accepted())
        assert (decision.allowed, decision.rule) == (False, rule)
    assert decide(request(**FROM_OTHER), OTHER, california, accepted()).allowed


@pytest.mark.parametrize(
    "state", [AgreementState.PENDING, AgreementState.DECLINED, AgreementState.REVOKED, AgreementState.WITHDRAWN]
)
def test_an_agreement_that_is_not_accepted_grants_nothing(state: AgreementState) -> None:
    for terms in (EVERYTHING, None):
        decision = decide(request(**FROM_OTHER), OTHER, DEFAULT, Agreement(7, state, terms))
        assert not decision.allowed
        assert decision.rule == f"sharing agreement #7 is {state.value}, not accepted"


def test_an_expired_agreement_grants_nothing() -> None:
    expired = accepted(narrowed(expires_ms=NOW))
    decision = decide(request(**FROM_OTHER), OTHER, DEFAULT, expired)
    assert not decision.allowed
    assert decision.rule.startswith("sharing agreement #7 expired on ")


def test_an_agreement_grants_only_its_query_kinds_and_purposes() -> None:
    plate_only = accepted(narrowed(query_kinds=frozenset({QueryKind.PLATE})))
    area = decide(
        request(query_kind=QueryKind.AREA, radius_m=100, window_hours=1, **FROM_OTHER), OTHER, DEFAULT, plate_only
    )
    assert (area.allowed, area.rule) == (False, "sharing agreement #7 does not grant area searches")
    theft_only = accepted(narrowed(purposes=frozenset({Purpose.STOLEN_VEHICLE})))
    drugs = decide(request(purpose="drug_crime", **FROM_OTHER), OTHER, DEFAULT, theft_only)
    assert (drugs.allowed, drugs.rule) == (False, "sharing agreement #7 does not cover purpose drug_crime")
    assert decide(request(**FROM_OTHER), OTHER, DEFAULT, theft_only).rule == "shared under agreement #7"


def test_out_of_state_requesters_need_the_owners_attestation() -> None:
    illinois = PRESETS[Preset.ILLINOIS][0]
    chicago = Owner(agency_id=2, slug="chicago", name="Chicago PD", country="US", state="IL")
    out_of_state = request(state="IN", **FROM_OTHER)
    refused = decide(out_of_state, chicago, illinois, accepted())
    assert not refused.allowed
    assert "attest" in refused.rule
    assert not decide(out_of_state, chicago, illinois, accepted(attestation="something else entirely")).allowed
    attested = accepted(attestation=ILLINOIS_ATTESTATION)
    held = decide(out_of_state, chicago, illinois, attested)
    assert (held.allowed, held.approver) == (False, out_of_state.agency_id)
    assert "approval required" in held.rule
    approved = replace(out_of_state, approval=Approval(request_id=5, agencies=frozenset({out_of_state.agency_id})))
    assert decide(approved, chicago, illinois, attested).allowed
    assert not decide(approved, chicago, illinois, accepted()).allowed
    assert decide(request(state="IL", **FROM_OTHER), chicago, illinois, accepted()).allowed


def test_break_glass_meets_only_the_requesters_own_agencys_approval_rules() -> None:
    glass = Approval(request_id=None, break_glass=True)
    holds_area = Policy(area=AreaLimits(allowed=True), approval=ApprovalRules(area=True))
    area = {"query_kind": QueryKind.AREA, "radius_m": 500.0, "window_hours": 2}
    own = replace(request(**area), approval=glass)  # type: ignore[arg-type]
    assert decide(own, OWN, holds_area, None).approved == "break-glass"  # own data, own rules
    theirs = replace(request(**FROM_OTHER, **area), approval=glass)  # type: ignore[arg-type]
    held = decide(theirs, OTHER, holds_area, accepted())
    assert (held.allowed, held.approver) == (False, 3)
    assert "break-glass stands in for the requester's own agency's approval only" in held.rule
    # The requester's own policy's rules, on another owner's reads: its break-glass stands in for them.
    assert decide(theirs, OTHER, Policy(area=AreaLimits(allowed=True)), accepted(), holds_area).allowed


def test_alerts_the_approval_rules_would_hold_are_withheld() -> None:
    by_purpose = Policy(approval=ApprovalRules(purposes=frozenset({Purpose.VIOLENT_CRIME})))
    alert = request(query_kind=QueryKind.ALERT, purpose="violent_crime")
    withheld = decide(alert, OWN, by_purpose, None)
    assert (withheld.allowed, withheld.approver) == (False, None)
    assert withheld.rule.startswith("alert withheld: agency's policy: alerts for violent crime need")
    assert decide(request(query_kind=QueryKind.ALERT), OWN, by_purpose, None).allowed  # another purpose
    illinois = PRESETS[Preset.ILLINOIS][0]
    chicago = Owner(agency_id=2, slug="chicago", name="Chicago PD", country="US", state="IL")
    attested = accepted(attestation=ILLINOIS_ATTESTATION)
    far = decide(request(state="IN", query_kind=QueryKind.ALERT, **FROM_OTHER), chicago, illinois, attested)
    assert not far.allowed
    assert "alerts to agencies outside the owner's state" in far.rule
    assert decide(request(state="IL", query_kind=QueryKind.ALERT, **FROM_OTHER), chicago, illinois, attested).allowed


def test_area_limits() -> None:
    policy = Policy(area=AreaLimits(allowed=True, max_radius_m=500, max_window_hours=24))

    def area(radius: float, hours: int, pol: Policy = policy) -> Decision:
        return decide(request(query_kind=QueryKind.AREA, radius_m=radius, window_hours=hours), OWN, pol, None)

    assert area(500, 24).allowed
    assert area(501, 1).rule == "owner's policy limits area searches to 500 m"
    assert area(100, 25).rule == "owner's policy limits area searches to 24 hours"
    assert area(100, 1, PRESETS[Preset.STRICT][0]).rule == "owner's policy does not allow area searches"
    missing = decide(request(query_kind=QueryKind.AREA), OWN, policy, None)
    assert not missing.allowed


def test_lookback_is_clipped_to_the_tightest_limit() -> None:
    policy = Policy(plate_lookback_days=365, warrant_after_days=90)
    short = accepted(narrowed(max_lookback_days=30))
    cases = [
        # (owner, agreement, since days, warrant) -> (days, why)
        (OWN, None, 400, None, 90, "longer lookback requires a warrant or court-order reference"),
        (OWN, None, 400, "W-1", 365, "owner's lookback limit"),
        (OWN, None, None, "W-1", 365, "owner's lookback limit"),
        (OTHER, short, 400, "W-1", 30, "agreement's lookback limit"),
        (OTHER, accepted(), 200, None, 90, "longer lookback requires a warrant or court-order reference"),
    ]
    for owner, agreement, since, warrant, days, why in cases:
        req = request(since_days=since, warrant=warrant, **({} if owner == OWN else FROM_OTHER))
        decision = decide(req, owner, policy, agreement)
        assert decision.allowed
        assert decision.earliest_ms == NOW - days * DAY_MS
        assert decision.clipped == f"limited to the last {days} days: {why}"
    within = decide(request(since_days=60, **FROM_OTHER), OTHER, policy, accepted())
    assert within.clipped is None
    assert within.earliest_ms == NOW - 90 * DAY_MS


@pytest.mark.parametrize("warrant", ["", " ", "   ", "\t", "\n", "\x00", " W-1", "W-1\n", "--"])
def test_a_blank_or_malformed_warrant_is_no_warrant(warrant: str) -> None:
    """Issue 15, defect 3: a warrant of one space lifted the lookback limit."""
    policy = Policy(plate_lookback_days=365, warrant_after_days=90)
    decision = decide(request(since_days=400, warrant=warrant), OWN, policy, None)
    assert decision.earliest_ms == NOW - 90 * DAY_MS
    assert (
        decision.clipped == "limited to the last 90 days: longer lookback requires a warrant or court-order reference"
    )


# -- description searches (issue 20, item 2) ---------------------------------------------------------------


def test_description_needs_the_owners_opt_in_and_keeps_its_limits() -> None:
    ask = {"query_kind": QueryKind.DESCRIPTION, "radius_m": 500.0, "window_hours": 24}
    refused = decide(request(**ask), OWN, DEFAULT, None)  # type: ignore[arg-type]
    assert (refused.allowed, refused.rule) == (False, "owner's policy does not allow vehicle description searches")
    opted = Policy(description=DescriptionLimits(allowed=True, max_cameras=3, lookback_days=7))
    allowed = decide(request(**ask), OWN, opted, None)  # type: ignore[arg-type]
    assert allowed.allowed
    assert allowed.earliest_ms == NOW - 7 * DAY_MS
    too_far = decide(request(**{**ask, "radius_m": 1001.0}), OWN, opted, None)  # type: ignore[arg-type]
    assert too_far.rule == "owner's policy limits vehicle description searches to 1000 m"
    cameras = request(query_kind=QueryKind.DESCRIPTION, cameras=4, window_hours=24)
    assert decide(cameras, OWN, opted, None).rule == "owner's policy limits vehicle description searches to 3 cameras"
    long = decide(request(**{**ask, "window_hours": 25}), OWN, opted, None)  # type: ignore[arg-type]
    assert long.rule == "owner's policy limits vehicle description searches to 24 hours"
    plate_only = accepted(narrowed(query_kinds=frozenset({QueryKind.PLATE, QueryKind.AREA})))
    other = decide(request(**{**ask, "agency_id": 3}), OWN, opted, plate_only)  # type: ignore[arg-type]
    assert other.rule.endswith("does not grant vehicle searches")
    held = Policy(description=DescriptionLimits(allowed=True), approval=ApprovalRules(description=True))
    waiting = decide(request(**ask), OWN, held, None)  # type: ignore[arg-type]
    assert (waiting.allowed, waiting.approver) == (False, 1)
    assert "vehicle description searches need a supervisor's approval" in waiting.rule


# -- exhaustive grid and properties -------------------------------------------------------------------------


def check_invariants(req: Request, owner: Owner, policy: Policy, agreement: Agreement | None, got: Decision) -> None:
    """What no allowed decision may ever violate: the owner's policy, the agreement, the lookback limits."""
    assert got.owner == owner
    assert got.rule
    if not got.allowed:
        return
    own = owner.agency_id == req.agency_id
    assert req.role in SEARCHERS or req.query_kind is QueryKind.ALERT
    if req.approval is None:
        assert got.approved is None
        lookback = None if req.since_ms is None else req.now_ms - req.since_ms
        out_of_state = (req.country, req.state) != (owner.country, owner.state)
        held = policy.approval.needed(
            kind=req.query_kind, lookback_ms=lookback, out_of_state=out_of_state, purpose=req.purpose
        )
        assert held is None, held
    assert req.purpose not in policy.prohibited_purposes
    limits = [policy.lookback_days(req.query_kind)]
    if not req.warrant and policy.warrant_after_days is not None:
        limits.append(policy.warrant_after_days)
    if not own:
        assert req.agency_kind not in policy.denied_requester_kinds
        assert not policy.same_country_only or req.country == owner.country
        assert not policy.same_state_only or (req.country, req.state) == (owner.country, owner.state)
        assert agreement is not None
        assert agreement.state is AgreementState.ACCEPTED
        assert agreement.terms is not None
        assert agreement.terms.expires_ms > req.now_ms
        assert req.query_kind in agreement.terms.query_kinds
        assert req.purpose in agreement.terms.purposes
        if policy.out_of_state_attestation and (req.country, req.state) != (owner.country, owner.state):
            assert agreement.attestation == policy.out_of_state_attestation
        limits.append(agreement.terms.max_lookback_days)
    if req.query_kind is QueryKind.AREA:
        assert policy.area.allowed
        assert req.radius_m is not None
        assert req.radius_m <= policy.area.max_radius_m
        assert req.window_ms is not None
        assert req.window_ms <= policy.area.max_window_hours * HOUR_MS
    if req.query_kind is QueryKind.DESCRIPTION:
        limits_d = policy.description
        assert limits_d.allowed
        if req.cameras is not None:
            assert req.cameras <= limits_d.max_cameras
        else:
            assert req.radius_m is not None
            assert req.radius_m <= limits_d.max_radius_m
        assert req.window_ms is not None
        assert req.window_ms <= limits_d.max_window_hours * HOUR_MS
    assert got.earliest_ms is not None
    assert got.earliest_ms >= req.now_ms - min(limits) * DAY_MS


AGREEMENTS: list[Agreement | None] = [
    None,
    accepted(),
    accepted(narrowed(expires_ms=NOW - 1)),
    accepted(narrowed(purposes=frozenset({Purpose.STOLEN_VEHICLE}), max_lookback_days=10)),
    accepted(narrowed(query_kinds=frozenset({QueryKind.ALERT}))),
    *(Agreement(7, s, EVERYTHING) for s in AgreementState if s is not AgreementState.ACCEPTED),
]
POLICIES = [
    DEFAULT,
    *(policy for policy, _ in PRESETS.values()),
    Policy(description=DescriptionLimits(allowed=True), approval=ApprovalRules(description=True)),
    Policy(description=DescriptionLimits(allowed=True, max_radius_m=500)),
]
#: The area (radius, window) of the grid's area and description requests.
WHERE: dict[QueryKind, dict[str, Any]] = {
    QueryKind.AREA: {"radius_m": 800.0, "window_hours": 30},
    QueryKind.DESCRIPTION: {"radius_m": 800.0, "window_hours": 20},
}


def test_every_combination_on_a_grid_respects_policy_and_agreement() -> None:
    owners = [OWN, OTHER, Owner(4, "reno", "Reno PD", "US", "NV")]
    requesters = [
        {"agency_id": 1},
        {"agency_id": 3, "kind": "federal"},
        {"agency_id": 3, "kind": "municipal", "state": "NV"},
        {"agency_id": 3, "kind": "county"},
    ]
    count = 0
    for role, who, kind, purpose, since, warrant, policy, agreement, owner in itertools.product(
        Role,
        requesters,
        QueryKind,
        ["stolen_vehicle", "immigration_enforcement"],
        [None, 5, 60, 400],
        [None, "W-9"],
        POLICIES,
        AGREEMENTS,
        owners,
    ):
        area = WHERE.get(kind, {})
        req = request(role, query_kind=kind, purpose=purpose, since_days=since, warrant=warrant, **who, **area)  # type: ignore[arg-type]
        check_invariants(req, owner, policy, agreement, decide(req, owner, policy, agreement))
        count += 1
    assert count == len(Role) * 4 * len(QueryKind) * 2 * 4 * 2 * len(POLICIES) * len(AGREEMENTS) * 3


policies = st.builds(
    Policy,
    prohibited_purposes=st.frozensets(st.sampled_from(Purpose)),
    denied_requester_kinds=st.frozensets(st.sampled_from(AgencyKind)),
    same_country_only=st.booleans(),
    same_state_only=st.booleans(),
    out_of_state_attestation=st.sampled_from([None, ILLINOIS_ATTESTATION]),
    plate_lookback_days=st.integers(1, 3650),
    area_lookback_days=st.integers(1, 3650),
    warrant_after_days=st.one_of(st.none(), st.integers(1, 3650)),
    area=st.builds(
        AreaLimits, allowed=st.booleans(), max_radius_m=st.integers(10, 50_000), max_window_hours=st.integers(1, 744)
    ),
    description=st.builds(
        DescriptionLimits,
        allowed=st.booleans(),
        max_radius_m=st.integers(10, 50_000),
        max_window_hours=st.integers(1, 744),
        max_cameras=st.integers(1, 100),
        lookback_days=st.integers(1, 3650),
    ),
)
terms = st.builds(
    Terms,
    query_kinds=st.frozensets(st.sampled_from(QueryKind), min_size=1),
    purposes=st.frozensets(st.sampled_from(Purpose), min_size=1),
    max_lookback_days=st.integers(1, 3650),
    expires_ms=st.integers(NOW - 10 * DAY_MS, NOW + 10 * DAY_MS),
)
agreements = st.one_of(
    st.none(),
    st.builds(
        Agreement,
        id=st.integers(1, 99),
        state=st.sampled_from(AgreementState),
        terms=st.one_of(st.none(), terms),
        attestation=st.sampled_from([None, ILLINOIS_ATTESTATION, "another declaration"]),
    ),
)
requests = st.builds(
    request,
    st.sampled_from(Role),
    agency_id=st.sampled_from([1, 2, 3]),
    kind=st.sampled_from([k.value for k in AgencyKind]),
    country=st.sampled_from(["US", "CA"]),
    state=st.sampled_from(["CA", "NV", "IL"]),
    purpose=st.sampled_from([p.value for p in Purpose]),
    query_kind=st.sampled_from(QueryKind),
    since_days=st.one_of(st.none(), st.integers(0, 4000)),
    warrant=st.sampled_from([None, "W-1"]),
    radius_m=st.one_of(st.none(), st.floats(1, 60_000)),
    window_hours=st.one_of(st.none(), st.integers(1, 1000)),
    cameras=st.one_of(st.none(), st.integers(1, 200)),
)


@settings(max_examples=3000, deadline=None)
@given(req=requests, policy=policies, agreement=agreements, owner=st.sampled_from([OWN, OTHER]))
def test_no_generated_combination_allows_what_the_owner_forbids(
    req: Request, policy: Policy, agreement: Agreement | None, owner: Owner
) -> None:
    check_invariants(req, owner, policy, agreement, decide(req, owner, policy, agreement))


@settings(max_examples=300, deadline=None)
@given(
    req=requests,
    owner_policies=st.lists(policies, min_size=1, max_size=6),
    pair_agreements=st.lists(agreements, min_size=6, max_size=6),
)
def test_the_gates_cached_path_decides_exactly_like_decide(
    req: Request, owner_policies: list[Policy], pair_agreements: list[Agreement | None]
) -> None:
    owners = [Owner(i + 1, f"a{i + 1}", f"Agency {i + 1}", "US", "CA" if i % 2 else "NV") for i in range(6)]
    policy_map = {o.agency_id: owner_policies[i % len(owner_policies)] for i, o in enumerate(owners) if i % 3}
    agreement_map = {
        (req.agency_id, o.agency_id): a for o, a in zip(owners, pair_agreements, strict=True) if a is not None
    }
    book = Book(1, owners, policy_map, agreement_map, DEFAULT)
    for _ in range(2):  # the second pass is served from the book's cache
        permit = Gate().permit(req, book)
        expected = {
            o.agency_id: decide(req, o, book.policy(o.agency_id), agreement_map.get((req.agency_id, o.agency_id)))
            for o in owners
        }
        assert {d.owner.agency_id: d for d in permit.decisions} == expected
        assert len(permit.decisions) == len(owners)


def test_sql_clause_restricts_owner_and_time_per_decision() -> None:
    book = Book(1, [OWN, OTHER], {}, {(1, 2): accepted(narrowed(max_lookback_days=1))}, DEFAULT)
    clause = Gate().permit(request(), book).sql_clause()
    own_from = NOW - 365 * DAY_MS
    assert clause == (
        f"((owner = 1 AND ts >= fromUnixTimestamp64Milli({own_from}, 'UTC')) OR "
        f"(owner = 2 AND ts >= fromUnixTimestamp64Milli({NOW - DAY_MS}, 'UTC')))"
    )


def test_sql_clause_is_none_when_nothing_is_allowed() -> None:
    book = Book(1, [OWN, OTHER], {}, {}, DEFAULT)
    assert Gate().permit(request(Role.AUDITOR), book).sql_clause() is None
    assert Gate().permit(request(agency_id=9), book).sql_clause() is None
    assert Gate().permit(request(), Book(1, [], {}, {}, DEFAULT)).sql_clause() is None


def test_sql_clause_groups_owners_with_the_same_window() -> None:
    owners = [Owner(i, f"a{i}", f"A{i}", "US", "CA") for i in range(1, 6)]
    book = Book(1, owners, {}, {(1, i): accepted() for i in range(2, 6)}, DEFAULT)
    clause = Gate().permit(request(), book).sql_clause()
    assert clause == f"((owner IN (1, 2, 3, 4, 5) AND ts >= fromUnixTimestamp64Milli({NOW - 365 * DAY_MS}, 'UTC')))"


def test_a_book_loads_each_requesters_agreements_once() -> None:
    calls: list[int] = []

    def load(requester: int) -> dict[int, Agreement]:
        calls.append(requester)
        return {2: accepted()} if requester == 1 else {}

    book = Book(1, [OWN, OTHER], {}, load, DEFAULT)
    for _ in range(3):
        assert [d.allowed for d in Gate().permit(request(), book).decisions] == [True, True]
        assert [d.allowed for d in Gate().permit(request(agency_id=2), book).decisions] == [True, False]
    assert calls == [1, 2]
