"""Request and response bodies of the subject-request routes (``routes/subjects.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SubjectRequestIn(BaseModel):
    """A person's request. Fields are checked by the library (each refusal audited); only sizes here."""

    model_config = ConfigDict(extra="forbid")
    plate: str | None = Field(None, max_length=64, description="The plate, as on the vehicle")
    country: str | None = Field(None, max_length=8, description="Country of the plate (ISO 3166-1, e.g. US)")
    state: str | None = Field(None, max_length=8, description="State or province of the plate (e.g. CA)")
    name: str | None = Field(None, max_length=400, description="The registered keeper's name")
    email: str | None = Field(None, max_length=400, description="An e-mail address to reach the requester")
    postal_address: str | None = Field(None, max_length=2000, description="Where the letter is sent")


class SubjectReceivedOut(BaseModel):
    """The same for every accepted request: the reference, and what happens next. Never an answer."""

    reference: str = Field(description="Quote it in any correspondence")
    status: str = Field(description="Always `received`")
    message: str


class SubjectRequestOut(BaseModel):
    """A request as a candidate agency's admin sees it (never whether any agency holds the plate)."""

    id: int
    reference: str
    received: str
    plate: str
    region: str
    name: str
    email: str
    postal_address: str
    verified: str | None
    verified_by: str | None
    verification_method: str | None
    verified_on: str | None
    verification_note: str
    answered: str | None
    answered_by: str | None


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str = Field(max_length=32, description="registration_document, registry_lookup, in_person or other")
    verified_on: str = Field(max_length=10, description="The day the keeper was verified, YYYY-MM-DD")
    note: str = Field("", max_length=500, description="What was checked (no copy of the document)")
