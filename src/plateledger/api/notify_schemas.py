"""HTTP bodies of alert notifications: subscriptions by e-mail or push, and their delivery log."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from plateledger.alerts.subscriptions import MAX_PUSH_URLS, MAX_URL
from plateledger.api.schemas import Strict
from plateledger.api.vocabulary import PurposeName


class SubscriptionIn(Strict):
    channel: Literal["email", "push"] = Field(description="email (the server's SMTP) or push (Apprise URLs)")
    list_id: int | None = Field(None, ge=1, le=2_147_483_647, description="The hot list to follow (or `purpose`)")
    purpose: PurposeName | None = Field(None, description="Follow every list of this purpose (or `list_id`)")
    address: str | None = Field(None, max_length=254, description="The e-mail address (channel email)")
    push_urls: list[str] | None = Field(
        None,
        max_length=MAX_PUSH_URLS,
        description="Apprise URLs (channel push), e.g. `ntfys://my-topic`, `pover://USER@TOKEN`, "
        "`msteams://...`; they carry tokens and are never shown back in full",
    )

    def urls(self) -> list[str] | None:
        return [u[: MAX_URL + 1] for u in self.push_urls] if self.push_urls is not None else None


class SubscriptionListOut(BaseModel):
    id: int
    name: str | None = Field(description="None for a covert list the caller may not see (an admin's view)")


class SubscriptionOut(BaseModel):
    id: int
    user: str
    channel: Literal["email", "push"]
    list: SubscriptionListOut | None
    purpose: PurposeName | None
    target: str = Field(description="The e-mail address, or the Apprise URLs redacted (service and scheme only)")
    created: str | None


class NotifyDeliveryOut(BaseModel):
    id: int
    subscription: int
    alert_id: int
    attempt: int
    ts: str | None
    status: Literal["delivered", "retrying", "failed"]
    error: str = Field(description="Why the attempt failed (secrets of the target removed); empty when delivered")
    next_attempt: str | None
