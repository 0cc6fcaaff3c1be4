"""HTTP request and response bodies of /api/v1/hotlists (separate from the storage models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from plateledger.api.schemas import Strict
from plateledger.api.vocabulary import AlertLevelName, ImportFormatName, ImportModeName, PurposeName, VisibilityName


class HotListIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    default_purpose: PurposeName = Field(description="Purpose of entries that name none", max_length=64)
    alert_level: AlertLevelName = Field("medium", description="low, medium or high", max_length=16)
    visibility: VisibilityName = Field("private", description="private or shared", max_length=16)
    covert: bool = Field(False, description="Visible only to its creator and the named viewers")
    viewers: list[str] = Field(
        default_factory=list, description="Usernames of your agency (covert lists)", max_length=200
    )


class HotListOut(BaseModel):
    id: int
    name: str
    default_purpose: PurposeName
    alert_level: AlertLevelName
    visibility: VisibilityName
    covert: bool
    created: str
    created_by: str
    active_entries: int


class EntryBody(Strict):
    plate: str = Field(description="A plate, or a pattern: `*` any run, `?` one character", max_length=32)
    region: str | None = Field(None, description="ISO 3166-2 like US-CA", max_length=8)
    purpose: PurposeName | None = Field(None, description="Default: the list's purpose", max_length=64)
    reference: str = Field(description="Case number or source record id", max_length=64)
    reason: str = Field(max_length=500)
    expires: str = Field(description="Last day (ISO date, UTC) or an ISO 8601 time with a zone", max_length=40)


class EntriesIn(Strict):
    entries: list[EntryBody] = Field(min_length=1, max_length=10_000)


class RemoveIn(Strict):
    plates: list[str] = Field(min_length=1, max_length=10_000, description="Plates or patterns as listed")


class EntryOut(BaseModel):
    id: int
    plate: str
    pattern: bool
    region: str | None
    purpose: PurposeName
    reference: str
    reason: str
    expires: str
    added: str
    added_by: str
    removed: str | None


class ChangeOut(BaseModel):
    added: int
    removed: int
    rejected: int


class LineError(BaseModel):
    line: int
    field: str | None
    reason: str | None


class LineNote(BaseModel):
    line: int
    reason: str | None


class ImportOut(BaseModel):
    list_id: int
    format: ImportFormatName
    mode: ImportModeName
    applied: bool
    records: int = Field(description="Records read from the file (blank, header and footer lines not counted)")
    added: int
    removed: int = Field(description="Entries removed: replaced (complete), updated or marked for removal")
    rejected: int
    skipped: list[LineNote] = Field(description="Lines deliberately not imported, with why")
    errors: list[LineError] = Field(description="Every invalid line: line number, field, reason")
