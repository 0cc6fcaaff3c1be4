"""An owner's policy and a sharing agreement's terms: validated models, the presets, and the plain-language text.

The policy text of transparency reports and the policy preview come from :func:`describe`, computed from the
configured :class:`Policy` itself (invariant 7: what is published is what is enforced). The gate reads the same
object. Presets are starting points; an agency's admin applies one and may then change any field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plateledger.oversight import params as oversight_params
from plateledger.oversight.params import OversightParams
from plateledger.oversight.terms import PROHIBITED
from plateledger.vocab import AgencyKind, Purpose, QueryKind

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_DAYS = 3650
#: Longest expiry a sharing agreement may carry from the day it is requested.
MAX_AGREEMENT_DAYS = 5 * 365


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaLimits(_Strict):
    allowed: bool = True
    max_radius_m: int = Field(1000, ge=10, le=50_000)
    max_window_hours: int = Field(24, ge=1, le=24 * 31)


class DescriptionLimits(_Strict):
    """Searches by vehicle description without a plate (query kind ``vehicle``): off unless the owner opts
    in; limited like area search (radius or polygon bounding radius, window, lookback) and to a number of cameras
    when a camera set is searched instead of an area."""

    allowed: bool = False
    max_radius_m: int = Field(1000, ge=10, le=50_000)
    max_window_hours: int = Field(24, ge=1, le=24 * 31)
    max_cameras: int = Field(10, ge=1, le=100)
    lookback_days: int = Field(30, ge=1, le=MAX_DAYS)


class QueryBudget(_Strict):
    """How much one of the agency's users may pull: searches and reads returned per window (any owner's reads,
    every kind of search). Enforced by :mod:`plateledger.search.budget`."""

    window_seconds: int = Field(3600, ge=1, le=86_400)
    max_queries: int = Field(60, ge=1, le=1_000_000)
    max_reads: int = Field(5_000, ge=1, le=100_000_000)


class Approver(StrEnum):
    """Whose supervisor approves a search the rules hold: the requesting agency's (the BJA model policy: the
    investigator's own supervisor), or the data owner's (the owner signs off each such search of its reads)."""

    REQUESTER = "requester"
    OWNER = "owner"


class ApprovalRules(_Strict):
    """Which searches wait for a supervisor's approval (two people: the requester and a supervisor): area
    searches, a lookback beyond ``lookback_after_days``, requesters outside the owner's state, and searches under
    ``purposes``. In an owner's policy they hold searches of its reads; in the requester's own agency's policy,
    every search its users make. Enforced by the gate (:func:`plateledger.policy.gate.decide`)."""

    area: bool = False
    #: Searches by vehicle description (query kind ``vehicle``).
    description: bool = False
    lookback_after_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    out_of_state: bool = False
    purposes: frozenset[Purpose] = frozenset()
    approver: Approver = Approver.REQUESTER

    def needed(self, *, kind: QueryKind, lookback_ms: int | None, out_of_state: bool, purpose: str) -> str | None:
        """Why a search needs approval under these rules (the first rule that holds it), or None.
        ``lookback_ms``: how far back the search reaches (None: no limit). A live alert looks back at nothing and
        covers no area, so only the requester's state and the purpose can hold it."""
        if kind is QueryKind.ALERT:
            if self.out_of_state and out_of_state:
                return "alerts to agencies outside the owner's state need a supervisor's approval"
            if purpose in self.purposes:
                return f"alerts for {purpose.replace('_', ' ')} need a supervisor's approval"
            return None
        if self.area and kind is QueryKind.AREA:
            return "area searches need a supervisor's approval"
        if self.description and kind is QueryKind.DESCRIPTION:
            return "vehicle description searches need a supervisor's approval"
        days = self.lookback_after_days
        if days is not None and (lookback_ms is None or lookback_ms > days * DAY_MS):
            return f"looking back more than {_days(days)} needs a supervisor's approval"
        if self.out_of_state and out_of_state:
            return "searches by agencies outside the owner's state need a supervisor's approval"
        if purpose in self.purposes:
            return f"searches for {purpose.replace('_', ' ')} need a supervisor's approval"
        return None

    @property
    def any(self) -> bool:
        return (
            self.area
            or self.description
            or self.lookback_after_days is not None
            or self.out_of_state
            or bool(self.purposes)
        )


class Oversight(_Strict):
    """What the oversight rules watch for in the agency's users' searches (docs/oversight.md): the thresholds,
    the prohibited-purpose terms by category, and the agency's case-number pattern (a regular expression a case
    number must match in full; None: not checked). Part of the published policy; the sensitive places are not
    (their positions stay with the agency: :mod:`plateledger.review.places`)."""

    params: OversightParams = oversight_params.DEFAULT
    prohibited: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(PROHIBITED))
    case_pattern: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("prohibited")
    @classmethod
    def _terms(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if len(value) > 50 or any(not k.strip() or len(k) > 64 for k in value):
            raise ValueError("at most 50 categories, each named in 1-64 characters")
        if any(len(terms) > 500 or any(not t.strip() or len(t) > 100 for t in terms) for terms in value.values()):
            raise ValueError("at most 500 terms per category, each 1-100 characters")
        return value

    @field_validator("case_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class Policy(_Strict):
    """What an owner allows on its reads. Applies to its own users too, except the requester rules."""

    prohibited_purposes: frozenset[Purpose] = frozenset()
    denied_requester_kinds: frozenset[AgencyKind] = frozenset()
    same_country_only: bool = False
    same_state_only: bool = False
    #: Text an out-of-state requester must have attested in its agreement (Illinois-style declarations).
    out_of_state_attestation: str | None = Field(None, min_length=10, max_length=500)
    plate_lookback_days: int = Field(365, ge=1, le=MAX_DAYS)
    area_lookback_days: int = Field(30, ge=1, le=MAX_DAYS)
    #: Lookback beyond this many days needs a warrant or court-order reference recorded with the search.
    warrant_after_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    area: AreaLimits = AreaLimits()
    #: Searches by vehicle description without a plate: off unless the owner opts in.
    description: DescriptionLimits = DescriptionLimits()
    #: Per-user budget of this agency's own users (searches and reads returned per window).
    query_budget: QueryBudget = QueryBudget()
    #: Searches that wait for a supervisor's approval (docs/approval.md).
    approval: ApprovalRules = ApprovalRules()
    retention_days: int = Field(365, ge=1, le=MAX_DAYS)
    #: Retention of reads linked to a hot-list alert or a case.
    hit_retention_days: int = Field(1825, ge=1, le=MAX_DAYS)
    #: What the oversight rules watch for in this agency's users' searches.
    oversight: Oversight = Oversight()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.hit_retention_days < self.retention_days:
            raise ValueError("hit_retention_days must be at least retention_days")
        return self

    def lookback_days(self, kind: QueryKind) -> int:
        if kind is QueryKind.DESCRIPTION:
            return self.description.lookback_days
        return self.area_lookback_days if kind is QueryKind.AREA else self.plate_lookback_days


class AgreementState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"


class Terms(_Strict):
    """What an agreement grants the requester on the owner's reads (both sides see the same terms)."""

    query_kinds: frozenset[QueryKind] = Field(min_length=1)
    purposes: frozenset[Purpose] = Field(min_length=1)
    max_lookback_days: int = Field(ge=1, le=MAX_DAYS)
    expires_ms: int = Field(ge=0)

    def within(self, other: Terms) -> bool:
        """True when these terms grant no more than ``other`` (an owner may only narrow a request)."""
        return (
            self.query_kinds <= other.query_kinds
            and self.purposes <= other.purposes
            and self.max_lookback_days <= other.max_lookback_days
            and self.expires_ms <= other.expires_ms
        )


class Preset(StrEnum):
    CALIFORNIA = "california"
    ILLINOIS = "illinois"
    STRICT = "strict"
    OPEN = "open"


#: The policy of an agency whose admin has not set one (version 0).
DEFAULT = Policy()

ILLINOIS_ATTESTATION = (
    "The requesting agency will not use these reads, or share them, to investigate or enforce immigration law "
    "or to investigate a person for seeking, receiving or providing reproductive health care that is lawful "
    "in Illinois."
)

PRESETS: dict[Preset, tuple[Policy, str]] = {
    Preset.CALIFORNIA: (
        Policy(
            prohibited_purposes=frozenset({Purpose.IMMIGRATION_ENFORCEMENT}),
            denied_requester_kinds=frozenset({AgencyKind.FEDERAL, AgencyKind.PRIVATE}),
            same_country_only=True,
            same_state_only=True,
            warrant_after_days=90,
            approval=ApprovalRules(area=True),
        ),
        "California: Civil Code 1798.90.55(b) (SB 34) lets a public agency share ALPR data only with other "
        "California public agencies, so federal, private and out-of-state requesters are denied; Government "
        "Code 7284.6 (SB 54, the California Values Act) bars using it for immigration enforcement, so that "
        "purpose is prohibited for everyone, the owner included. Following the BJA/DOJ model policy adopted by "
        "California cities, area searches wait for the approval of a supervisor of the requesting agency.",
    ),
    Preset.ILLINOIS: (
        Policy(
            prohibited_purposes=frozenset({Purpose.IMMIGRATION_ENFORCEMENT}),
            out_of_state_attestation=ILLINOIS_ATTESTATION,
            warrant_after_days=90,
            approval=ApprovalRules(area=True, out_of_state=True),
        ),
        "Illinois: 625 ILCS 5/2-130 as amended by HB 3326 (2023) forbids sharing ALPR data for immigration "
        "enforcement or to investigate reproductive health care lawful in Illinois, and requires out-of-state "
        "agencies to declare in writing that they will not. Immigration enforcement is prohibited for everyone; "
        "an out-of-state requester needs an agreement carrying that declaration (the taxonomy has no purpose "
        "for abortion investigations, so the declaration is how the rule is enforced). Area searches and searches by "
        "out-of-state agencies wait for the approval of a supervisor of the requesting agency.",
    ),
    Preset.STRICT: (
        Policy(
            plate_lookback_days=21,
            area_lookback_days=21,
            warrant_after_days=7,
            area=AreaLimits(allowed=False),
            retention_days=21,
            hit_retention_days=365,
        ),
        "Strict: for agencies that keep as little as they can: reads kept 21 days (hits one year), no area "
        "searches, and a warrant or court-order reference for any lookback beyond 7 days.",
    ),
    Preset.OPEN: (
        Policy(
            plate_lookback_days=365,
            area_lookback_days=90,
            area=AreaLimits(allowed=True, max_radius_m=5000, max_window_hours=72),
        ),
        "Open: for private operators (parking, campuses) that share with agencies under agreements: no "
        "purpose prohibitions or requester rules beyond the agreements themselves, one-year retention, area "
        "searches up to 5 km and 72 hours.",
    ),
}


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _window(seconds: int) -> str:
    """The window in words (hour, 2 hours, 10 minutes, 30 seconds): the largest unit that divides it."""
    if seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        n, unit = seconds // 60, "minute"
    else:
        n, unit = seconds, "second"
    return unit if n == 1 else f"{n} {unit}s"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _approval_lines(rules: ApprovalRules) -> list[str]:
    if not rules.any:
        return []
    held = []
    if rules.area:
        held.append("area searches")
    if rules.description:
        held.append("vehicle description searches")
    if rules.lookback_after_days is not None:
        held.append(f"searches looking back more than {_days(rules.lookback_after_days)}")
    if rules.out_of_state:
        held.append("searches by agencies outside its state")
    if rules.purposes:
        held.append("searches for " + _join(sorted(p.value.replace("_", " ") for p in rules.purposes)))
    who = "the requesting agency" if rules.approver is Approver.REQUESTER else "this agency"
    lines = [
        f"{_join(held).capitalize()} are not run until a supervisor of {who}, another person than the "
        "requester, approves that exact search; an approval is used once and expires. In an emergency this "
        "agency's own users may run such a search at once as break-glass, recorded as such and reviewed by a "
        "supervisor within 24 hours; other agencies' searches of its reads always wait for the approval."
    ]
    alerts = []
    if rules.out_of_state:
        alerts.append("to agencies outside its state")
    if rules.purposes:
        alerts.append("for " + _join(sorted(p.value.replace("_", " ") for p in rules.purposes)))
    if alerts:
        lines.append(
            f"Hot-list alerts {_join(alerts)} are not sent: a standing alert cannot carry a supervisor's approval."
        )
    return lines


def _description_line(limits: DescriptionLimits) -> str:
    if not limits.allowed:
        return "Searches by vehicle description (make, model, colour, type) without a plate are not allowed."
    return (
        "Searches by vehicle description (make, model, colour, type) without a plate are allowed within "
        f"{limits.max_radius_m} m around a point or at most {limits.max_cameras} cameras, over at most "
        f"{limits.max_window_hours} hours, looking back at most {_days(limits.lookback_days)}; they need a purpose "
        "and a case number like every search."
    )


def describe(policy: Policy, *, country: str, state: str) -> list[str]:
    """The policy as plain-language sentences, generated from the configured values only."""
    lines = []
    if policy.prohibited_purposes:
        names = _join(sorted(p.value.replace("_", " ") for p in policy.prohibited_purposes))
        lines.append(f"No one, including this agency, may search its reads for {names}.")
    lines.append(
        "Other agencies see nothing unless this agency has accepted a sharing agreement with them; "
        "each agreement names the search kinds, purposes and lookback it grants, and an expiry date."
    )
    if policy.denied_requester_kinds:
        kinds = _join(sorted(k.value for k in policy.denied_requester_kinds))
        lines.append(f"Requests from {kinds} agencies are refused, whatever any agreement says.")
    if policy.same_state_only:
        lines.append(f"Only agencies in {country}-{state} may receive its reads.")
    elif policy.same_country_only:
        lines.append(f"Only agencies in {country} may receive its reads.")
    if policy.out_of_state_attestation:
        lines.append(
            f"Agencies outside {country}-{state} must have declared in their agreement: "
            f"\u201c{policy.out_of_state_attestation}\u201d"
        )
    lines.append(
        f"Plate searches may look back at most {_days(policy.plate_lookback_days)}"
        + (
            f"; area searches at most {_days(policy.area_lookback_days)}."
            if policy.area.allowed
            else "; area searches are not allowed."
        )
    )
    if policy.area.allowed:
        lines.append(
            f"An area search may cover at most {policy.area.max_radius_m} m around a point "
            f"and {policy.area.max_window_hours} hours."
        )
    lines.append(_description_line(policy.description))
    if policy.warrant_after_days is not None:
        lines.append(
            f"Looking back more than {_days(policy.warrant_after_days)} requires a warrant or court-order "
            "reference, recorded with the search."
        )
    lines.extend(_approval_lines(policy.approval))
    budget = policy.query_budget
    lines.append(
        f"Each of this agency's users may run at most {budget.max_queries} searches and receive at most "
        f"{budget.max_reads} reads in any {_window(budget.window_seconds)}; beyond that, searches are refused "
        "(and the refusal recorded) until the window has passed."
    )
    lines.append(
        f"Reads are deleted {_days(policy.retention_days)} after they were taken; reads linked to a hot-list "
        f"alert or a case are kept {_days(policy.hit_retention_days)}."
    )
    lines.append("Every search, and every refusal, is recorded in a tamper-evident audit log this agency can read.")
    watch = policy.oversight
    lines += oversight_params.describe(watch.params, prohibited=watch.prohibited)
    if watch.prohibited:
        lines.append(
            "Terms watched for: "
            + "; ".join(f"{category}: {', '.join(terms)}" for category, terms in sorted(watch.prohibited.items()))
            + "."
        )
    if watch.case_pattern:
        lines.append(f"Case numbers must match the pattern {watch.case_pattern}.")
    else:
        lines.append("No case-number pattern is set, so case numbers are not checked against one.")
    return lines


def date_text(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).date().isoformat()
