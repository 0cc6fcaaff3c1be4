"""HTTP bodies of alerts and webhooks (separate from the storage models)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from plateledger.alerts.service import MAX_NOTE, VERIFY_FIRST
from plateledger.api.schemas import Strict
from plateledger.api.vocabulary import AlertStateName, PurposeName


class AlertListOut(BaseModel):
    id: int
    name: str


class AlertEntryOut(BaseModel):
    id: int
    plate: str | None
    pattern: bool = Field(description="Whether `plate` is a wildcard pattern")
    region: str | None
    purpose: PurposeName
    reference: str
    reason: str
    expires: str | None


class AlertReadOut(BaseModel):
    read_id: str
    plate: str
    region: str | None
    ts: str | None
    camera: str
    lat: float | None
    lon: float | None
    confidence: float | None
    owner: str = Field(description="The agency that owns the read")
    vehicle: dict[str, str] | None = Field(
        None,
        description="The read's vehicle as the camera described it, as in search answers: `make`, `model`, "
        "`color`, `type`, each only when given; null when none is. Stored with the alert when it is raised",
    )


class AlertOut(BaseModel):
    id: int = Field(description="The alert id; also the SSE event id of the live stream")
    state: AlertStateName = Field(description="new, confirmed or dismissed")
    created: str | None
    list: AlertListOut
    entry: AlertEntryOut
    read: AlertReadOut
    match: str = Field(description="exact, pattern or confusable")
    image: Literal["stored", "none"] = Field(
        description="stored: the read's plate crop is stored (viewing it is a search of the read, through the gate "
        "and audited); none: no crop of the read is stored. An alert is raised only after its read's images are "
        "stored, so a live alert never arrives ahead of its crop"
    )
    decided: str | None
    decided_by: str | None
    note: str
    verify_first: str = Field(VERIFY_FIRST, description="A match alone is not grounds for action")


class AlertsOut(BaseModel):
    verify_first: str = Field(VERIFY_FIRST, description="A match alone is not grounds for action")
    alerts: list[AlertOut]


class DecisionIn(Strict):
    note: str = Field(
        min_length=1, max_length=MAX_NOTE, description="Required: what was verified, or why it is dismissed"
    )


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=500, description="http:// or https:// URL alerts are POSTed to")


class WebhookOut(BaseModel):
    id: int
    url: str
    created: str | None
    enabled: bool
    disabled: str | None = Field(description="When the sender disabled it after repeated failures")
    failures: int = Field(description="Consecutive failed attempts")


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="The signing secret; shown once")


class DeliveryOut(BaseModel):
    id: int
    alert_id: int | None = Field(description="The alert delivered (null for an approval notice)")
    approval_request: int | None = Field(
        None, description="The approval request an approval notice was about (null for an alert)"
    )
    attempt: int
    ts: str | None
    status: str = Field(description="delivered, retrying or failed")
    response_code: int | None
    error: str
    next_attempt: str | None
