"""The one gate between the reads store and every caller (invariant 1).

``Gate.permit`` decides, per data owner, whether a request may see that owner's reads and over which time
window, and returns the decisions with their reasons in a :class:`Permit`. The reads store only answers
queries that carry a Permit, and only this module can mint one. Search, export, alerts, API, CLI and UI all
come through here.

:func:`decide` is the whole rule set, a pure function of the request, the owner, the owner's policy and the
agreement between the two (if any). Rules are checked in this order and the first that refuses names the
decision: the requester's role; the owner's prohibited purposes (binding on the owner's own users too); for
another agency, the owner's requester rules (agency kind, country, state), then the agreement (absent, not
accepted, expired, query kind or purpose not granted, attestation missing); then the owner's area limits (or,
for a search by vehicle description, its opt-in and limits);
finally the lookback is clipped to the tightest of the owner's limit, the agreement's limit and, without a
warrant reference, the owner's warrant threshold. A search the gate would allow is then held for approval
(refused, with ``approver`` set) when the owner's or the requester's own approval rules name it and the request
carries no :class:`Approval` from the agency those rules name (or, for the requester's own agency's rules only, a
break-glass mark): approval is an input the gate checks, never a way around the rules above, which apply again
when the approved search runs. A live alert the approval rules would hold is withheld (it cannot be approved).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from plateledger.core.text import WARRANT
from plateledger.policy.actions import TABLE, Action
from plateledger.policy.rules import DAY_MS, HOUR_MS, AgreementState, Approver, Policy, Terms, date_text
from plateledger.vocab import QueryKind, Role

DEFAULT_DENY = "no sharing agreement with this owner (default deny)"


@dataclass(frozen=True)
class Approval:
    """An approval a search carries (checked by the approvals service against the stored request: same user,
    same canonical query, approved, unexpired, unused): the agencies whose supervisors approved it, or a
    break-glass mark (an exigent search that runs at once and is reviewed afterwards)."""

    request_id: int | None
    agencies: frozenset[int] = frozenset()
    break_glass: bool = False


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
    #: A warrant or court-order reference given with the search.
    warrant: str | None = None
    #: Area and description searches: the radius (or a polygon's bounding radius) in metres and the window length.
    radius_m: float | None = None
    window_ms: int | None = None
    #: Description searches of a camera set instead of an area: how many cameras.
    cameras: int | None = None
    approval: Approval | None = None


@dataclass(frozen=True)
class Owner:
    """A data owner: its id in the reads store, unique slug (used in the audit log), display name, jurisdiction."""

    agency_id: int
    slug: str
    name: str
    country: str = ""
    state: str = ""


@dataclass(frozen=True)
class Agreement:
    """The agreement between a requester and an owner as the gate sees it."""

    id: int
    state: AgreementState
    terms: Terms | None
    attestation: str | None = None


@dataclass(frozen=True)
class Decision:
    owner: Owner
    allowed: bool
    rule: str
    #: Earliest read time visible to the requester (``None``: no lookback limit).
    earliest_ms: int | None = None
    #: Set when an allowed window was narrowed from what was asked: why.
    clipped: str | None = None
    #: Held for approval (refused until approved): the agency whose supervisor must approve.
    approver: int | None = None
    #: Allowed on an approval: which (``approved under request #n``, or ``break-glass``).
    approved: str | None = None


def _refuse(owner: Owner, rule: str) -> Decision:
    return Decision(owner, False, rule)


def _requester_rule(request: Request, owner: Owner, policy: Policy) -> str | None:
    if request.agency_kind in policy.denied_requester_kinds:
        return f"owner's policy denies requests from {request.agency_kind} agencies"
    if policy.same_country_only and request.country != owner.country:
        return f"owner's policy denies requesters outside {owner.country}"
    if policy.same_state_only and (request.country, request.state) != (owner.country, owner.state):
        return f"owner's policy denies requesters outside {owner.country}-{owner.state}"
    return None


def _agreement_rule(request: Request, owner: Owner, policy: Policy, agreement: Agreement | None) -> str | None:
    if agreement is None:
        return DEFAULT_DENY
    if agreement.state is not AgreementState.ACCEPTED or agreement.terms is None:
        return f"sharing agreement #{agreement.id} is {agreement.state.value}, not accepted"
    terms = agreement.terms
    if terms.expires_ms <= request.now_ms:
        return f"sharing agreement #{agreement.id} expired on {date_text(terms.expires_ms)}"
    if request.query_kind not in terms.query_kinds:
        return f"sharing agreement #{agreement.id} does not grant {request.query_kind.value} searches"
    if request.purpose not in terms.purposes:
        return f"sharing agreement #{agreement.id} does not cover purpose {request.purpose}"
    out_of_state = (request.country, request.state) != (owner.country, owner.state)
    if out_of_state and policy.out_of_state_attestation and agreement.attestation != policy.out_of_state_attestation:
        return "owner's policy requires out-of-state requesters to attest its declaration; the agreement does not"
    return None


def _area_rule(request: Request, policy: Policy) -> str | None:
    if request.query_kind is not QueryKind.AREA:
        return None
    if not policy.area.allowed:
        return "owner's policy does not allow area searches"
    if request.radius_m is None or request.radius_m > policy.area.max_radius_m:
        return f"owner's policy limits area searches to {policy.area.max_radius_m} m"
    if request.window_ms is None or request.window_ms > policy.area.max_window_hours * HOUR_MS:
        hours = policy.area.max_window_hours
        return f"owner's policy limits area searches to {hours} hour{'' if hours == 1 else 's'}"
    return None


def _description_rule(request: Request, policy: Policy) -> str | None:
    """The owner's opt-in and limits for searches by vehicle description (an area or a camera set, a window)."""
    if request.query_kind is not QueryKind.DESCRIPTION:
        return None
    limits = policy.description
    if not limits.allowed:
        return "owner's policy does not allow vehicle description searches"
    if request.cameras is not None:
        if request.cameras > limits.max_cameras:
            return f"owner's policy limits vehicle description searches to {limits.max_cameras} cameras"
    elif request.radius_m is None or request.radius_m > limits.max_radius_m:
        return f"owner's policy limits vehicle description searches to {limits.max_radius_m} m"
    if request.window_ms is None or request.window_ms > limits.max_window_hours * HOUR_MS:
        hours = limits.max_window_hours
        return f"owner's policy limits vehicle description searches to {hours} hour{'' if hours == 1 else 's'}"
    return None


def warrant_given(warrant: str | None) -> bool:
    """Whether ``warrant`` is a warrant reference (searches validate it; the gate still never counts a blank or
    malformed one as a warrant)."""
    return warrant is not None and WARRANT.fullmatch(warrant) is not None


def _window(request: Request, owner: Owner, policy: Policy, agreement_days: int | None, rule: str) -> Decision:
    """Allowed: clip the lookback to the tightest limit that applies."""
    limits = [(policy.lookback_days(request.query_kind), "owner's lookback limit")]
    if agreement_days is not None:
        limits.append((agreement_days, "agreement's lookback limit"))
    if policy.warrant_after_days is not None and not warrant_given(request.warrant):
        limits.append((policy.warrant_after_days, "longer lookback requires a warrant or court-order reference"))
    days, why = min(limits, key=lambda item: item[0])
    earliest = request.now_ms - days * DAY_MS
    clipped = None
    if request.since_ms is None or request.since_ms < earliest:
        clipped = f"limited to the last {days} days: {why}"
    return Decision(owner, True, rule, earliest_ms=earliest, clipped=clipped)


def _approval_rule(
    request: Request, owner: Owner, policy: Policy, own_policy: Policy | None, decision: Decision
) -> Decision:
    """An allowed decision, held for approval when the owner's rules (or the requester's own agency's) name the
    search and the request carries no approval from the agency they name. A break-glass mark stands in only for
    the requester's own agency's approval (its own policy, or its own data): another owner's rule is met by an
    approval alone. A live alert cannot carry an approval: one the rules would hold is withheld."""
    since = request.since_ms if request.since_ms is not None else decision.earliest_ms
    if decision.earliest_ms is not None and since is not None:
        since = max(since, decision.earliest_ms)
    lookback = None if since is None else request.now_ms - since
    out_of_state = (request.country, request.state) != (owner.country, owner.state)
    checks = [(policy.approval, owner.agency_id)]
    if own_policy is not None and owner.agency_id != request.agency_id:
        checks.append((own_policy.approval, request.agency_id))
    for rules, agency in checks:
        why = rules.needed(
            kind=request.query_kind, lookback_ms=lookback, out_of_state=out_of_state, purpose=request.purpose
        )
        if why is None:
            continue
        whose = "owner's" if agency == owner.agency_id and agency != request.agency_id else "agency's"
        if request.query_kind is QueryKind.ALERT:
            return _refuse(owner, f"alert withheld: {whose} policy: {why}, which a standing alert cannot carry")
        approver = request.agency_id if rules.approver is Approver.REQUESTER else agency
        approval = request.approval
        if approval is not None and approval.break_glass and agency == request.agency_id:
            decision = replace(decision, approved="break-glass")
        elif approval is not None and approver in approval.agencies:
            decision = replace(decision, approved=f"approved under request #{approval.request_id}")
        else:
            if approval is not None and approval.break_glass:
                why += " (break-glass stands in for the requester's own agency's approval only)"
            return Decision(owner, False, f"approval required: {whose} policy: {why}", approver=approver)
    return decision


def decide(
    request: Request, owner: Owner, policy: Policy, agreement: Agreement | None, own_policy: Policy | None = None
) -> Decision:
    """Pure decision for one owner, with the rule that made it. ``own_policy``: the requester's own agency's
    policy, whose approval rules hold its users' searches of any owner."""
    if request.query_kind is not QueryKind.ALERT and request.role not in TABLE[Action.SEARCH].roles:
        return _refuse(owner, f"role {request.role.value} may not read plate data")
    if request.purpose in policy.prohibited_purposes:
        return _refuse(owner, f"owner's policy prohibits purpose {request.purpose}")
    own = owner.agency_id == request.agency_id
    if not own:
        refused = _requester_rule(request, owner, policy) or _agreement_rule(request, owner, policy, agreement)
        if refused:
            return _refuse(owner, refused)
    area = _area_rule(request, policy) or _description_rule(request, policy)
    if area:
        return _refuse(owner, area)
    if own:
        return _approval_rule(
            request, owner, policy, own_policy, _window(request, owner, policy, None, "own agency's data")
        )
    if agreement is None or agreement.terms is None:  # unreachable: _agreement_rule refused; fail closed anyway
        return _refuse(owner, DEFAULT_DENY)
    window = _window(
        request, owner, policy, agreement.terms.max_lookback_days, f"shared under agreement #{agreement.id}"
    )
    return _approval_rule(request, owner, policy, own_policy, window)


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

    @property
    def refused(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if not d.allowed)

    def sql_clause(self) -> str | None:
        """ClickHouse condition restricting ``owner`` and ``ts`` to what was allowed; None when nothing was.
        Owners with the same window share one ``owner IN (...)`` term, so a requester with a hundred
        agreements still sends the engine a short condition."""
        windows: dict[int | None, list[int]] = {}
        for decision in self.allowed:
            windows.setdefault(decision.earliest_ms, []).append(int(decision.owner.agency_id))
        parts = []
        for earliest, owners in sorted(windows.items(), key=lambda item: (item[0] is not None, item[0] or 0)):
            who = f"owner = {owners[0]}" if len(owners) == 1 else f"owner IN ({', '.join(map(str, sorted(owners)))})"
            if earliest is None:
                parts.append(who)
            else:
                parts.append(f"({who} AND ts >= fromUnixTimestamp64Milli({int(earliest)}, 'UTC'))")
        return "(" + " OR ".join(parts) + ")" if parts else None


class Book:
    """What the gate decides from, as of one policy generation: every owner, its policy, and the agreements.

    ``agreements`` is either every agreement keyed by (requester, owner), or a loader returning one requester's
    agreements keyed by owner; a loaded requester is kept for the generation, so a change anywhere costs the
    next search one small query instead of reloading every agreement of a national network.
    """

    def __init__(
        self,
        generation: int,
        owners: Iterable[Owner],
        policies: dict[int, Policy],
        agreements: Mapping[tuple[int, int], Agreement] | Callable[[int], Mapping[int, Agreement]],
        default: Policy,
    ) -> None:
        self.generation = generation
        self.owners = tuple(owners)
        self.policies = policies
        self.default = default
        self._by_requester: dict[int, Mapping[int, Agreement]] = {}
        if callable(agreements):
            self._load: Callable[[int], Mapping[int, Agreement]] = agreements
        else:
            grouped: dict[int, dict[int, Agreement]] = {}
            for (requester, owner_id), agreement in agreements.items():
                grouped.setdefault(requester, {})[owner_id] = agreement
            self._load = lambda requester: grouped.get(requester, {})
        self._lock = threading.Lock()
        self._unrelated: dict[tuple[int, str, str, str, str, str, str], tuple[Decision, ...]] = {}

    def policy(self, agency_id: int) -> Policy:
        return self.policies.get(agency_id, self.default)

    def agreements_of(self, requester: int) -> Mapping[int, Agreement]:
        """The requester's agreements (any state) keyed by owner."""
        found = self._by_requester.get(requester)
        if found is None:
            with self._lock:
                found = self._by_requester.get(requester)
                if found is None:
                    found = self._by_requester[requester] = self._load(requester)
        return found

    def agreement(self, requester: int, owner: int) -> Agreement | None:
        return self.agreements_of(requester).get(owner)

    def related(self, requester: int) -> frozenset[int]:
        """Owners the requester has an agreement (in any state) with, plus itself."""
        return frozenset([requester, *self.agreements_of(requester)])

    def unrelated(self, request: Request) -> tuple[Decision, ...]:
        """Decisions for every owner the requester has no agreement with. They depend only on the request's
        requester, role, purpose and query kind (never on time or lookback), so they are computed once per
        such combination and generation: a search costs the same with 5 owners or 5,000."""
        key = (
            request.agency_id,
            request.agency_kind,
            request.country,
            request.state,
            request.role.value,
            request.purpose,
            request.query_kind.value,
        )
        found = self._unrelated.get(key)
        if found is None:
            related = self.related(request.agency_id)
            found = tuple(
                decide(request, owner, self.policy(owner.agency_id), None)
                for owner in self.owners
                if owner.agency_id not in related
            )
            if len(self._unrelated) > 4096:
                self._unrelated.clear()
            self._unrelated[key] = found
        return found


@dataclass(frozen=True)
class AreaLimit:
    """How large and how long an area search one owner may answer for a requester (its policy's area limits)."""

    owner: Owner
    max_radius_m: int
    max_window_hours: int


def area_limits(book: Book, requester: int, now_ms: int) -> list[AreaLimit]:
    """The owners that may answer ``requester``'s area searches at all, with their limits: its own agency when its
    policy allows area searches, and each owner whose policy allows them under an accepted, unexpired agreement
    granting area searches. The rules of :func:`_area_rule` and :func:`_agreement_rule` that depend on neither the
    purpose nor the time range; the gate still decides each search (purpose, jurisdiction, window, approval)."""
    found = []
    agreements = book.agreements_of(requester)
    for owner in book.owners:
        policy = book.policy(owner.agency_id)
        if not policy.area.allowed:
            continue
        if owner.agency_id != requester:
            agreement = agreements.get(owner.agency_id)
            terms = agreement.terms if agreement is not None else None
            if agreement is None or agreement.state is not AgreementState.ACCEPTED or terms is None:
                continue
            if terms.expires_ms <= now_ms or QueryKind.AREA not in terms.query_kinds:
                continue
        found.append(AreaLimit(owner, policy.area.max_radius_m, policy.area.max_window_hours))
    return found


class Gate:
    def decide_one(self, request: Request, book: Book, owner: Owner) -> Decision:
        """The decision for one owner (an alert: one read's owner), by the same :func:`decide`."""
        return decide(
            request,
            owner,
            book.policy(owner.agency_id),
            book.agreement(request.agency_id, owner.agency_id),
            book.policy(request.agency_id),
        )

    def permit(self, request: Request, book: Book) -> Permit:
        """Decide every owner in the book. Owners with an agreement (or the requester's own) are decided per
        request; all others come from the book's per-requester cache of the same pure :func:`decide`.
        Decisions are in book order, related owners first."""
        related = book.related(request.agency_id)
        own_policy = book.policy(request.agency_id)
        decisions = [
            decide(
                request,
                owner,
                book.policy(owner.agency_id),
                book.agreement(request.agency_id, owner.agency_id),
                own_policy,
            )
            for owner in book.owners
            if owner.agency_id in related
        ]
        decisions.extend(book.unrelated(request))
        return Permit(tuple(decisions), _token=_MINT)
