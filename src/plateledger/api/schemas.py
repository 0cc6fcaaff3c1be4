"""HTTP request and response bodies (separate from the storage models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class IngestOut(BaseModel):
    stored: int
    duplicates: int
    rejected_count: int
    rejected: list[Rejection]


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


class WithheldOut(BaseModel):
    owner: str
    rule: str


class SearchOut(BaseModel):
    obtained_under: str = Field(description="The purpose and case (and warrant) these results were obtained under")
    purpose: str
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


class VerifyOut(BaseModel):
    intact: bool
    entries: int
    first_bad_seq: int | None
    problem: str
