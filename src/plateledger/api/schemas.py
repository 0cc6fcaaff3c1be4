"""HTTP request and response bodies (separate from the storage models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plateledger.api.vocabulary import AgreementStateName, PresetName, PurposeName, QueryKindName


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenIn(Strict):
    username: str = Field(min_length=1, max_length=64, description="User the token acts as")
    label: str = Field("", max_length=200)
    ttl_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(BaseModel):
    token_id: int
    token: str = Field(description="The secret; shown once, only its hash is stored")
    expires: str


class MeOut(BaseModel):
    username: str
    role: str
    agency: str = Field(description="Your agency's slug")
    time_zone: str | None = Field(
        description="The IANA zone the web pages show and read your times in; null is UTC (the API is always UTC)"
    )


class TimeZoneIn(Strict):
    time_zone: str | None = Field(
        max_length=64, description="An IANA zone name such as America/Chicago; null or blank for UTC"
    )


class CameraIn(Strict):
    external_id: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=200)
    mobile: bool = False
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    direction: float | None = Field(None, ge=0, le=360)


class CameraOut(BaseModel):
    external_id: str
    name: str
    mobile: bool
    lat: float | None
    lon: float | None


class Rejection(BaseModel):
    index: int
    reason: str


class IngestWarning(BaseModel):
    code: str = Field(description="older_than_retention: reads the owner's next retention run deletes")
    count: int = Field(description="How many reads of the request")
    detail: str


class IngestOut(BaseModel):
    stored: int
    duplicates: int
    rejected_count: int
    rejected: list[Rejection]
    quarantined: int = Field(0, description="Reads of unknown cameras held (with quarantine_unknown=true)")
    warnings: list[IngestWarning] = Field(
        default_factory=list, description="What the sender should know about stored reads (see docs/ingest.md)"
    )


class ReadOut(BaseModel):
    read_id: str
    plate: str
    plate_as_read: str
    region: str | None
    ts: str
    camera: str
    lat: float | None
    lon: float | None
    confidence: float | None
    owner: str
    vehicle: dict[str, str | float] | None = None
    source_ts: str | None = Field(None, description="The source's own time value, exactly as it sent it")
    source_confidence: str | None = Field(None, description="The source's own confidence value, exactly as sent")


class WithheldOut(BaseModel):
    owner: str
    rule: str


class PlateGroupOut(BaseModel):
    plate: str
    count: int = Field(description="Reads of this plate in the answer")
    first_seen: str = Field(description="Time of its earliest read in the answer")
    last_seen: str = Field(description="Time of its latest read in the answer")


class ContainsHintOut(BaseModel):
    match: Literal["contains"]
    plate: str = Field(description="The plate searched, normalised: search again with it and match=contains")
    fuzzy: bool = Field(description="Whether the search was fuzzy (keep it for the contains search)")
    detail: str


class SearchOut(BaseModel):
    obtained_under: str = Field(description="The purpose and case (and warrant) these results were obtained under")
    purpose: PurposeName
    case_number: str
    warrant: str | None
    count: int
    truncated: bool
    reads: list[ReadOut]
    withheld: list[WithheldOut] = Field(
        description="Every owner whose reads were withheld, with the rule; nothing else about their data"
    )
    limited: list[WithheldOut] = Field(description="Permitted owners whose time window was narrowed, and why")
    audit_seq: int
    next_cursor: str | None = Field(
        description="Area search: pass as `cursor` for the next page; null on the last page (and for plate search)"
    )
    approval_request: int | None = Field(
        None, description="The approval request this search ran on (approved, or the break-glass review item)"
    )
    break_glass: bool = Field(False, description="Ran at once as break-glass, to be reviewed by a supervisor")
    match: Literal["exact", "wildcard", "contains"] | None = Field(
        None, description="Plate search: how `plate` was matched (null for area search)"
    )
    fuzzy: bool | None = Field(None, description="Plate search: whether OCR-confusable characters matched too")
    groups: list[PlateGroupOut] | None = Field(
        None,
        description="Wildcard, contains and fuzzy plate search: `reads` grouped by distinct plate, most reads "
        "first (null otherwise). They cover the reads of this answer only: see `groups_complete`",
    )
    groups_complete: bool | None = Field(
        None,
        description="false when the answer is truncated: the groups then count only the reads returned (the "
        "earliest `limit` reads), and more reads, of these or other plates, match",
    )
    hint: ContainsHintOut | None = Field(
        None,
        description="An exact plate search with no reads whose plate may be partial (3-9 letters or digits): the "
        "contains search to offer. Never run by itself",
    )


class VerifyOut(BaseModel):
    intact: bool
    entries: int
    first_bad_seq: int | None
    problem: str


class TermsIn(Strict):
    query_kinds: list[QueryKindName] = Field(description="plate, area and/or alert", min_length=1, max_length=3)
    purposes: list[PurposeName] = Field(description="Purposes from the closed taxonomy", min_length=1, max_length=32)
    max_lookback_days: int = Field(ge=1, le=3650)
    expires: str = Field(description="Last day in force (ISO date, UTC) or an ISO 8601 time with a zone", max_length=40)


class SharingRequestIn(Strict):
    owner: str = Field(description="Slug of the agency whose reads you ask for", max_length=64)
    terms: TermsIn
    attestation: str | None = Field(
        None, description="A declaration the owner's policy requires of out-of-state requesters", max_length=500
    )
    note: str | None = Field(None, max_length=500)


class AcceptIn(Strict):
    terms: TermsIn | None = Field(None, description="Narrower terms than requested; omitted: as requested")
    note: str | None = Field(None, max_length=500)


class NoteIn(Strict):
    note: str | None = Field(None, max_length=500)


class TermsOut(BaseModel):
    query_kinds: list[QueryKindName]
    purposes: list[PurposeName]
    max_lookback_days: int
    expires_ms: int
    expires: str


class AgreementOut(BaseModel):
    id: int
    requester: str
    requester_name: str
    owner: str
    owner_name: str
    state: AgreementStateName = Field(description="pending, accepted, declined, revoked or withdrawn")
    active: bool = Field(description="Accepted and unexpired: the only case in which it grants anything")
    expired: bool
    requested_terms: TermsOut
    granted_terms: TermsOut | None
    attestation: str | None
    note: str
    created: str
    created_by: str
    decided: str | None
    decided_by: str | None
    ended: str | None
    ended_by: str | None


class PolicyIn(Strict):
    preset: PresetName | None = Field(None, description="california, illinois, strict or open")
    policy: dict[str, Any] | str | None = Field(
        None, description="A full policy (or its JSON text); omitted: the preset's. Checked after authorisation"
    )


class PolicyOut(BaseModel):
    agency: str
    version: int = Field(description="0 is the documented default, in force until an admin sets a policy")
    preset: PresetName | None
    created: str | None
    created_by: str | None
    policy: dict[str, Any]
    text: list[str] = Field(description="The policy in plain language, generated from the policy itself")


class PresetOut(BaseModel):
    name: PresetName
    encodes: str
    policy: dict[str, Any]
    text: list[str]
