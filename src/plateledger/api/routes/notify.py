"""Your alert notifications by e-mail or push: /api/v1/notifications/subscriptions and their delivery logs
(an admin sees and removes those of the agency's users)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.notify_schemas import NotifyDeliveryOut, SubscriptionIn, SubscriptionOut

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
SubscriptionId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 422: {}}


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201, responses=ERRORS)
def subscribe(body: SubscriptionIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Subscribe yourself to the alerts of a hot list you may see, or of every list of a purpose, by e-mail or
    push. Nothing is sent once you may no longer see an alert. Audited (push URLs redacted)."""
    return platform.notify.subscribe(
        principal,
        body.channel,
        list_id=body.list_id,
        purpose=body.purpose,
        address=body.address,
        push_urls=body.urls(),
    )


@router.get("/subscriptions", response_model=list[SubscriptionOut], responses={403: {}})
def list_subscriptions(
    platform: PlatformDep,
    principal: PrincipalDep,
    agency: Annotated[bool, Query(description="Every user's of your agency (admin)")] = False,
) -> list[dict[str, Any]]:
    """Your subscriptions (with `agency=true`, an admin's view of all of the agency's)."""
    return platform.notify.listing(principal, agency_wide=agency)


@router.delete("/subscriptions/{subscription_id}", status_code=204, responses=ERRORS)
def unsubscribe(subscription_id: SubscriptionId, platform: PlatformDep, principal: PrincipalDep) -> None:
    """Remove a subscription (yours, or as admin one of your agency's users') and its delivery log. Audited."""
    platform.notify.unsubscribe(principal, subscription_id)


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[NotifyDeliveryOut], responses=ERRORS)
def deliveries(
    subscription_id: SubscriptionId,
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Every attempt to deliver an alert to the subscription, newest first."""
    return platform.notify.deliveries(principal, subscription_id, limit=limit)
