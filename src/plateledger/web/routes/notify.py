"""The account page's alert notifications: a user's e-mail and push subscriptions (an admin sees the agency's
users'), adding and removing them, and each one's delivery log. Calls ``platform.notify`` exactly as the API's
notification routes do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.platform import Platform
from plateledger.policy.actions import Action, allowed
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
SubscriptionId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ACCOUNT = "/ui/account#notifications"


def notify_context(platform: Platform, signed: SignedIn) -> dict[str, Any]:
    """What the account page's notification section shows: the user's subscriptions and the lists they may
    follow, or, for an admin, every subscription of the agency."""
    principal = signed.principal
    may = allowed(principal, Action.NOTIFY_SUBSCRIBE, principal.agency_id).allowed
    context: dict[str, Any] = {"notify_may": may, "notify_own": [], "notify_lists": [], "notify_agency": None}
    if may:
        context["notify_own"] = platform.notify.listing(principal)
        context["notify_lists"] = [v.as_json() for v in platform.hotlists.listing(principal)]
    if allowed(principal, Action.NOTIFY_OVERSEE, principal.agency_id).allowed:
        context["notify_agency"] = platform.notify.listing(principal, agency_wide=True)
    return context


@router.post("/ui/account/notifications")
async def subscribe(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    follows = field(form, "follows")  # "list:ID" or "purpose:NAME"
    kind, _, value = follows.partition(":")
    list_id = int(value) if kind == "list" and value.isdigit() else None
    purpose = value if kind == "purpose" else None
    channel = field(form, "channel")
    platform.notify.subscribe(
        signed.principal,
        channel,
        list_id=list_id,
        purpose=purpose,
        address=field(form, "address") if channel == "email" else None,
        push_urls=field(form, "push_urls").split() if channel == "push" else None,
    )
    return see_other(ACCOUNT)


@router.post("/ui/account/notifications/{subscription_id}/remove")
async def remove(
    subscription_id: SubscriptionId, request: Request, platform: PlatformDep, signed: SessionDep
) -> Response:
    await checked_form(request, platform, signed)
    platform.notify.unsubscribe(signed.principal, subscription_id)
    return see_other(ACCOUNT)


@router.get("/ui/account/notifications/{subscription_id}")
def deliveries(
    subscription_id: SubscriptionId, request: Request, platform: PlatformDep, signed: SessionDep
) -> Response:
    log = platform.notify.deliveries(signed.principal, subscription_id)
    return page(request, "notify_deliveries.html", signed, subscription_id=subscription_id, deliveries=log)
