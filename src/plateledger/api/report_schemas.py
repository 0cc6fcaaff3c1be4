"""Response bodies of the owner's access log and the transparency report: the shapes built by
:func:`plateledger.reports.access_log.page_json` and ``TransparencyReports.build``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plateledger.api.vocabulary import AgencyKindName, PresetName, PurposeName, QueryKindName


class AccessEntryOut(BaseModel):
    seq: int = Field(description="The audit entry this row is derived from")
    ts: str
    action: str = Field(description="search.plate, search.area, search.description or search.refused")
    kind: str = Field(description="Query kind: plate or area")
    outcome: str = Field(description="permitted (this owner's reads could be returned) or withheld")
    requester: str | None = Field(description="Requesting agency (slug)")
    requester_name: str | None
    user: str | None = Field(description="Requesting user")
    purpose: str | None
    case_number: str | None
    query: dict[str, Any] = Field(description="The search parameters (plate or area, window, note)")
    rows: int | None = Field(description="Reads of this owner returned (permitted only; 0 included)")
    rule: str | None = Field(description="Why this owner's data was withheld")
    limited: str | None = Field(description="Why a permitted time window was narrowed")
    warrant: str | None
    reason: str | None = Field(description="search.refused: why the search was refused as a whole")


class AccessLogOut(BaseModel):
    agency: str
    entries: list[AccessEntryOut]
    next_after_seq: int | None = Field(description="Pass as after_seq for the next page; null on the last page")


class AgencyOut(BaseModel):
    slug: str
    name: str
    kind: AgencyKindName
    country: str
    state: str


class PeriodOut(BaseModel):
    days: int = Field(description="Length of the period in days (of the month, for a calendar month)")
    month: str | None = Field(description="The calendar month (YYYY-MM, UTC) when one was asked for, else null")
    since: str = Field(description="Start of the period (inclusive)")
    until: str = Field(
        description="End of the period: the report's time (inclusive) for a number of days, the start of the next "
        "month (exclusive) for a calendar month"
    )


class ReportPolicyOut(BaseModel):
    version: int = Field(description="0: the documented default, no policy set")
    preset: PresetName | None
    matches_preset: bool | None = Field(description="Whether the policy is still exactly the preset it came from")
    set_at: str | None
    text: list[str] = Field(description="Generated from the policy in force (never written separately)")


class RetentionOut(BaseModel):
    days: int
    hit_days: int


class CamerasOut(BaseModel):
    total: int
    fixed: int
    mobile: int
    first_added_hour: int | None = Field(
        description="Hour (hours since 1970-01-01T00:00Z) the agency's first camera was added, null if none: from "
        "then on a search that withholds every other agency (a leaf's withheld_others) concerns it; what "
        "plateledger-verify report needs to recount these figures from the public leaves of the audit log"
    )


class PurposeCount(BaseModel):
    purpose: str = Field(description="As the searches gave it (`none` when they gave none)")
    permitted: int
    withheld: int


class RequesterCount(BaseModel):
    agency: str
    name: str
    own: bool
    permitted: int
    withheld: int


class RuleCount(BaseModel):
    rule: str
    count: int


class AlertCountsOut(BaseModel):
    raised: int = Field(description="Hot-list alerts raised on the agency's reads in the period")
    withheld: int = Field(description="Hot-list matches on its reads its policy withheld (no alert existed)")
    withheld_by_rule: list[RuleCount]


class SearchesOut(BaseModel):
    total: int
    permitted: int
    withheld: int
    reads_returned: int
    by_purpose: list[PurposeCount]
    by_requester: list[RequesterCount]
    refusals_by_rule: list[RuleCount]
    alerts: AlertCountsOut


class BreakGlassOut(BaseModel):
    total: int = Field(description="Break-glass searches in the period, by the agency's users or of its reads")
    open: int = Field(description="Not yet reviewed by a supervisor")
    overdue: int = Field(description="Not reviewed within 24 hours of the search")
    reviewed: int


class ApprovalsOut(BaseModel):
    granted: int = Field(description="Searches of its reads a supervisor approved in the period")
    refused: int = Field(description="Searches of its reads a supervisor refused in the period")
    break_glass: BreakGlassOut


class PartnerOut(BaseModel):
    agency: str
    name: str
    agreement: int
    query_kinds: list[QueryKindName]
    purposes: list[PurposeName]
    max_lookback_days: int | None
    expires: str
    attested: bool


class SharingOut(BaseModel):
    shares_with: list[PartnerOut] = Field(description="Agencies that may search this agency's reads")
    receives_from: list[PartnerOut] = Field(description="Agencies whose reads this agency may search")


class SubjectRequestsOut(BaseModel):
    received: int = Field(description='Subject requests ("is my plate held?") sent to this agency in the period')
    answered: int = Field(description="Subject requests this agency answered by letter in the period")


class ChainOut(BaseModel):
    intact: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None
    problem: str | None


class CheckpointOut(BaseModel):
    origin: str = Field(description="The audit log's origin (the checkpoint's first line, the log key's name)")
    size: int = Field(description="Entries the checkpoint covers (the Merkle tree's size)")
    root: str = Field(description="Base64 Merkle root hash of those entries")
    created: str = Field(description="When the log signed it")
    witnesses: list[str] = Field(description="Witnesses (policy names) whose cosignatures it carries")
    quorum: str = Field(description="The witness quorum it met (`none`: no witnesses configured)")


class PlacesOut(BaseModel):
    places: int = Field(description="How many places the agency lists as sensitive (their positions are not published)")
    kinds: dict[str, int] = Field(description="How many of each kind (clinic, place of worship, shelter ...)")


class RuleFlagsOut(BaseModel):
    rule: str
    title: str
    raised: int = Field(description="Flags the rule raised in the period")
    open: int = Field(description="Of those, awaiting review")
    explained: int = Field(description="Explained by an open case of the user's unit or an alert, kept out of review")
    dismissed: int
    confirmed: int
    escalated: int


class OversightOut(BaseModel):
    sensitive_places: PlacesOut
    case_pattern: bool = Field(description="Whether the policy sets a case-number pattern")
    flags: list[RuleFlagsOut] = Field(description="Per oversight rule, the flags raised and how they were reviewed")


class TransparencyOut(BaseModel):
    agency: AgencyOut
    generated: str
    period: PeriodOut
    policy: ReportPolicyOut
    retention: RetentionOut
    cameras: CamerasOut
    reads_collected: int = Field(description="Reads this agency's cameras took in the period")
    searches: SearchesOut
    approvals: ApprovalsOut
    sharing: SharingOut
    subject_requests: SubjectRequestsOut
    oversight: OversightOut
    audit: ChainOut
    checkpoint: CheckpointOut | None = Field(
        description="The latest published (witness-cosigned) checkpoint of the audit log; null before the first. "
        "Verify it with `plateledger-verify init --policy` (the policy at /log/policy) and `plateledger-verify update`"
    )
