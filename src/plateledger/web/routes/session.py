"""Sign-in, sign-out (here or everywhere), and the account page with the optional one-time-code second factor."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from plateledger.appstate import ClientDep, PlatformDep
from plateledger.audit.log import Actor
from plateledger.auth.sessions import SignedIn
from plateledger.core import zones
from plateledger.core.errors import AuthenticationFailed, FieldInvalid, PlateledgerError
from plateledger.policy.actions import Action, allowed
from plateledger.web.render import page, see_other
from plateledger.web.routes.notify import notify_context
from plateledger.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SessionDep,
    checked_form,
    field,
)

router = APIRouter(include_in_schema=False)


#: Why the sign-in page was shown (the ``reason`` query parameter the UI's redirects set).
NOTICES = frozenset({"please sign in", "your session has ended; please sign in again", "signed out"})


def home_of(signed: SignedIn) -> str:
    return "/ui/search" if allowed(signed.principal, Action.SEARCH, None).allowed else "/ui/access-log"


def _local(target: str) -> str:
    """Only a path on this site is a place to go after signing in (no open redirect)."""
    return target if target.startswith("/ui/") and "//" not in target and "\\" not in target else ""


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=303)


@router.get("/ui/")
def home(request: Request, platform: PlatformDep) -> Response:
    try:
        signed = platform.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    except AuthenticationFailed:
        return RedirectResponse("/ui/sign-in", status_code=303)
    return RedirectResponse(home_of(signed), status_code=303)


def _sign_in_page(
    request: Request, *, error: str = "", username: str = "", next_: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        request, "sign_in.html", None, status=status, error=error, username=username, next=next_, signin_csrf=token
    )
    response.set_cookie(SIGNIN_COOKIE, token, max_age=1800, path="/ui/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/ui/sign-in")
def sign_in_form(
    request: Request,
    reason: Annotated[str, Query(max_length=200)] = "",
    next: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    # Only the UI's own messages are shown: a link cannot put words of its choosing on the sign-in page.
    return _sign_in_page(request, error=reason if reason in NOTICES else "", next_=_local(next))


@router.post("/ui/sign-in")
async def sign_in(request: Request, platform: PlatformDep, client: ClientDep) -> Response:
    form = await request.form()
    platform.sessions.check_form(
        Actor(username="anonymous", agency_id=None, client=client),
        given=form.get(CSRF_FIELD),
        expected=request.cookies.get(SIGNIN_COOKIE),
        same_origin=True,  # before any session, the double-submit cookie (SameSite=Strict) is the check
        path=request.url.path,
    )
    username, next_ = field(form, "username"), _local(field(form, "next"))
    password = form.get("password")
    try:
        secret, signed = platform.sessions.sign_in(
            username, password if isinstance(password, str) else "", field(form, "code") or None, client=client
        )
    except PlateledgerError as refused:
        return _sign_in_page(request, error=refused.detail, username=username, next_=next_, status=refused.status)
    response = see_other(next_ or home_of(signed))
    max_age = platform.settings.web_session_hours * 3600
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/ui/")
    return response


@router.post("/ui/sign-out")
async def sign_out(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    platform.sessions.sign_out(signed, everywhere=field(form, "everywhere") == "yes")
    response = see_other("/ui/sign-in?reason=signed+out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _account(
    request: Request, platform: PlatformDep, signed: SignedIn, *, pending: dict[str, str] | None = None, **extra: Any
) -> Response:
    zone: dict[str, Any] = {"value": signed.principal.time_zone or "", "error": "", "names": zones.zone_names()}
    zone.update(extra.pop("zone", {}))
    sessions = platform.sessions.count(signed.principal)
    context = {**notify_context(platform, signed), **extra}
    return page(request, "account.html", signed, sessions=sessions, pending=pending, zone=zone, **context)


@router.get("/ui/account")
def account(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    return _account(request, platform, signed)


@router.post("/ui/account/time-zone")
async def time_zone_set(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """The zone the user reads and types times in (blank: UTC); an unknown name is shown on the page, as typed."""
    form = await checked_form(request, platform, signed)
    typed = field(form, "time_zone")
    try:
        platform.registry.set_time_zone(signed.principal, signed.principal.username, typed)
    except FieldInvalid as invalid:
        return _account(
            request, platform, signed, status=invalid.status, zone={"value": typed, "error": invalid.detail}
        )
    return see_other("/ui/account")


@router.post("/ui/account/totp/start")
async def totp_start(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    await checked_form(request, platform, signed)
    secret = platform.sessions.start_totp(signed.principal)
    uri = platform.sessions.provisioning_uri(signed.principal, secret)
    return _account(request, platform, signed, pending={"secret": secret, "uri": uri})


@router.post("/ui/account/totp")
async def totp_set(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    platform.sessions.set_totp(signed.principal, field(form, "code"), enabled=field(form, "enabled") == "yes")
    return see_other("/ui/account")
