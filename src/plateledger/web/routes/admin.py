"""Agency administration: users and roles (create, API tokens created and revoked). Admins only; every change goes
through the registry and token service, which audit it. Cameras are in :mod:`plateledger.web.routes.cameras`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.auth.tokens import IssuedToken
from plateledger.core.errors import FieldInvalid
from plateledger.platform import Platform
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)


@router.get("/ui/admin/users")
def users(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    return _users_page(request, platform, signed, None)


def _users_page(request: Request, platform: Platform, signed: SignedIn, issued: IssuedToken | None) -> Response:
    """The agency's users and live tokens; ``issued``: a token just created, its secret shown this once."""
    principal = signed.principal
    people = platform.registry.users_of(principal, principal.agency_id)
    live = platform.tokens.live(principal, principal.agency_id)
    return page(request, "users.html", signed, users=people, tokens=live, issued=issued)


@router.post("/ui/admin/users")
async def create_user(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    platform.registry.create_user(
        signed.principal.actor,
        agency_slug=signed.principal.agency_slug,
        username=field(form, "username"),
        role=field(form, "role"),
        password=field(form, "password"),
    )
    return see_other("/ui/admin/users")


@router.post("/ui/admin/tokens")
async def create_token(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """The secret is shown once, on the page this answers with."""
    form = await checked_form(request, platform, signed)
    days = field(form, "ttl_days") or str(platform.settings.token_ttl_days)
    if not days.isdigit():
        raise FieldInvalid("ttl_days", "a whole number of days")
    issued = platform.tokens.issue(
        signed.principal.actor, field(form, "username"), label=field(form, "label")[:200], ttl_days=int(days)
    )
    return _users_page(request, platform, signed, issued)


@router.post("/ui/admin/tokens/{token_id}/revoke")
async def revoke_token(token_id: int, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    await checked_form(request, platform, signed)
    platform.tokens.revoke(signed.principal.actor, token_id)
    return see_other("/ui/admin/users")
