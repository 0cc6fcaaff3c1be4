"""The policy gate: pure per-owner decisions with reasons, and a Permit nobody else can mint."""

from __future__ import annotations

import pytest

from plateledger.policy import gate as gate_module
from plateledger.policy.gate import Decision, Gate, Owner, Permit, Request, decide
from plateledger.vocab import QueryKind, Role

OWN = Owner(agency_id=1, slug="city-pd", name="City PD")
OTHER = Owner(agency_id=2, slug="county-so", name="County SO")
NOW = 1_748_779_200_000


def request(role: Role, agency_id: int = 1) -> Request:
    return Request(
        agency_id=agency_id,
        agency_kind="municipal",
        country="US",
        state="CA",
        role=role,
        purpose="stolen_vehicle",
        case_number="2025-1",
        query_kind=QueryKind.PLATE,
        since_ms=None,
        now_ms=NOW,
    )


def test_a_permit_cannot_be_constructed_outside_the_gate() -> None:
    with pytest.raises(TypeError, match="only issued by the policy gate"):
        Permit((), _token=object())
    with pytest.raises(TypeError):
        Permit(())  # type: ignore[call-arg]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INVESTIGATOR])
def test_searching_roles_see_their_own_agency(role: Role) -> None:
    decision = decide(request(role), OWN)
    assert decision.allowed
    assert decision.rule == "own agency's data"
    assert decision.earliest_ms is None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INVESTIGATOR])
def test_other_agencies_are_denied_by_default(role: Role) -> None:
    decision = decide(request(role), OTHER)
    assert not decision.allowed
    assert "default deny" in decision.rule
    assert decision.owner == OTHER


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.DEVICE])
@pytest.mark.parametrize("owner", [OWN, OTHER], ids=["own", "other"])
def test_auditors_and_devices_never_read(role: Role, owner: Owner) -> None:
    decision = decide(request(role), owner)
    assert not decision.allowed
    assert role.value in decision.rule


def test_gate_decides_per_owner() -> None:
    permit = Gate().permit(request(Role.INVESTIGATOR), [OWN, OTHER])
    assert [d.owner for d in permit.decisions] == [OWN, OTHER]
    assert [d.owner for d in permit.allowed] == [OWN]
    assert permit.sql_clause() == "(owner = 1)"


def test_sql_clause_is_none_when_nothing_is_allowed() -> None:
    assert Gate().permit(request(Role.AUDITOR), [OWN, OTHER]).sql_clause() is None
    assert Gate().permit(request(Role.INVESTIGATOR), []).sql_clause() is None
    assert Gate().permit(request(Role.INVESTIGATOR, agency_id=9), [OWN, OTHER]).sql_clause() is None


def test_sql_clause_limits_lookback_per_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lookback-limited decision (what sharing agreements will produce) restricts ts for that owner only.
    def lookback(req: Request, owner: Owner) -> Decision:
        earliest = None if owner == OWN else NOW - 86_400_000
        return Decision(owner, True, "test", earliest_ms=earliest)

    monkeypatch.setattr(gate_module, "decide", lookback)
    clause = Gate().permit(request(Role.INVESTIGATOR), [OWN, OTHER]).sql_clause()
    assert clause == ("(owner = 1 OR (owner = 2 AND ts >= fromUnixTimestamp64Milli(1748692800000, 'UTC')))")
