"""Alert webhooks of your agency (admin): /api/v1/webhooks, their delivery log, re-enabling."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from plateledger.api.alert_schemas import DeliveryOut, WebhookCreatedOut, WebhookIn, WebhookOut
from plateledger.api.deps import PlatformDep, PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 422: {}}


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=201, responses=ERRORS)
def create_webhook(body: WebhookIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a webhook for your agency's alerts (not those of covert lists). The answer holds the signing
    secret, shown this once. Audited."""
    return platform.webhooks.create(principal, body.url)


@router.get("/webhooks", response_model=list[WebhookOut], responses={403: {}})
def list_webhooks(platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return platform.webhooks.listing(principal)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=ERRORS)
def delete_webhook(webhook_id: WebhookId, platform: PlatformDep, principal: PrincipalDep) -> None:
    """Delete a webhook and its delivery log. Audited."""
    platform.webhooks.delete(principal, webhook_id)


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut, responses=ERRORS)
def enable_webhook(webhook_id: WebhookId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Re-enable a webhook disabled after repeated failures. Audited."""
    return platform.webhooks.enable(principal, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut], responses=ERRORS)
def webhook_deliveries(
    webhook_id: WebhookId,
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Every attempt to deliver an alert to the webhook, newest first."""
    return platform.webhooks.deliveries(principal, webhook_id, limit=limit)
