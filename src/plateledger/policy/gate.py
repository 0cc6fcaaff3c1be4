"""The one gate between the reads store and every caller (invariant 1).

``Gate.permit`` decides, per data owner, whether a request may see that owner's reads and over which time
window, and returns the decisions with their reasons plus a :class:`Permit`. The reads store only answers
queries that carry a Permit, and only this module can mint one. Search, export, alerts, API, CLI and UI all
come through here.

Rules in force now (the sharing engine extends :func:`decide` without touching callers):

* a requester's own agency's reads are visible to its ``admin`` and ``investigator`` users;
* every other owner is withheld: no sharing agreement (default deny, invariant 4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from plateledger.vocab import SEARCH_ROLES, QueryKind, Role


@dataclass(frozen=True)
class Request:
    """Who asks, for what: everything a decision may depend on."""

    agency_id: int
    agency_kind: str
    country: str
    state: str
    role: Role
    purpose: str
    case_number: str
    query_kind: QueryKind
    since_ms: int | None
    now_ms: int


@dataclass(frozen=True)
class Owner:
    """A data owner: its id in the reads store, its unique slug (used in the audit log) and display name."""

    agency_id: int
    slug: str
    name: str


@dataclass(frozen=True)
class Decision:
    owner: Owner
    allowed: bool
    rule: str
    #: Earliest read time visible to the requester (``None``: no lookback limit).
    earliest_ms: int | None = None


def decide(request: Request, owner: Owner) -> Decision:
    """Pure decision for one owner, with the rule that made it."""
    if request.role not in SEARCH_ROLES:
        return Decision(owner, False, f"role {request.role.value} may not read plate data")
    if owner.agency_id == request.agency_id:
        return Decision(owner, True, "own agency's data")
    return Decision(owner, False, "no sharing agreement with this owner (default deny)")


_MINT = object()


class Permit:
    """Proof that the gate allowed a query: the owners and their windows. Only :class:`Gate` creates these."""

    __slots__ = ("decisions",)

    def __init__(self, decisions: tuple[Decision, ...], *, _token: object) -> None:
        if _token is not _MINT:
            raise TypeError("a Permit is only issued by the policy gate")
        self.decisions = decisions

    @property
    def allowed(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.allowed)

    def sql_clause(self) -> str | None:
        """ClickHouse condition restricting ``owner`` and ``ts`` to what was allowed; None when nothing was."""
        parts = []
        for decision in self.allowed:
            owner = int(decision.owner.agency_id)
            if decision.earliest_ms is None:
                parts.append(f"owner = {owner}")
            else:
                parts.append(
                    f"(owner = {owner} AND ts >= fromUnixTimestamp64Milli({int(decision.earliest_ms)}, 'UTC'))"
                )
        return "(" + " OR ".join(parts) + ")" if parts else None


class Gate:
    def permit(self, request: Request, owners: Iterable[Owner]) -> Permit:
        return Permit(tuple(decide(request, owner) for owner in owners), _token=_MINT)
