"""Subject requests in the browser: the public "is my plate held?" form (no sign-in; it never answers online),
and the admin's queue, keeper verification and letter (docs/subject-requests.md)."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from plateledger.appstate import ClientDep, PlatformDep
from plateledger.audit.log import Actor
from plateledger.core.errors import AuthenticationFailed, PlateledgerError, TooManyRequests
from plateledger.subjects.render import letter_css, render_html, render_pdf
from plateledger.subjects.requests import METHODS, PUBLIC, SubjectAsk
from plateledger.web.paging import PAGE_SIZE, OffsetQuery, SizeQuery, pager
from plateledger.web.render import page, see_other
from plateledger.web.security import CSRF_FIELD, SESSION_COOKIE, SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
FORM = "/ui/subject-request"
#: The public form's double-submit CSRF cookie (no session exists for a member of the public).
SUBJECT_COOKIE = "plateledger_subject"
CSS_PATH = "/ui/admin/subject-requests/letter.css"
RequestId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _form_page(
    request: Request, platform: PlatformDep, *, error: str = "", values: dict[str, str] | None = None, status: int = 200
) -> Response:
    try:
        signed = platform.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    except AuthenticationFailed:
        signed = None
    token = secrets.token_urlsafe(32)
    response = page(
        request, "subject_request.html", signed, status=status, error=error, values=values or {}, form_csrf=token
    )
    response.set_cookie(SUBJECT_COOKIE, token, max_age=3600, path=FORM, secure=True, httponly=True, samesite="strict")
    return response


@router.get(FORM)
def subject_form(request: Request, platform: PlatformDep) -> Response:
    return _form_page(request, platform)


@router.post(FORM)
async def subject_submit(request: Request, platform: PlatformDep, client: ClientDep) -> Response:
    form = await request.form()
    platform.sessions.check_form(
        Actor(username=PUBLIC, agency_id=None, client=client),
        given=form.get(CSRF_FIELD),
        expected=request.cookies.get(SUBJECT_COOKIE),
        same_origin=True,  # no session: the double-submit cookie (SameSite=Strict) is the check
        path=request.url.path,
    )
    names = ("plate", "country", "state", "name", "email", "postal_address")
    values = {name: field(form, name) for name in names}
    try:
        received = platform.subjects.submit(SubjectAsk(**values), client=client)
    except PlateledgerError as refused:
        response = _form_page(request, platform, error=refused.detail, values=values, status=refused.status)
        if isinstance(refused, TooManyRequests):
            response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    response = page(request, "subject_received.html", None, reference=received.reference)
    response.delete_cookie(SUBJECT_COOKIE, path=FORM)
    return response


@router.get("/ui/admin/subject-requests")
def subject_queue(
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    offset: OffsetQuery = 0,
    size: SizeQuery = PAGE_SIZE,
) -> Response:
    requests, total = platform.subjects.queue_page(signed.principal, offset=offset, limit=size)
    paged = pager(request, offset=offset, size=size, shown=len(requests), total=total)
    return page(request, "subject_requests.html", signed, requests=requests, pager=paged)


@router.get(CSS_PATH)
def subject_letter_css(signed: SessionDep) -> Response:
    return Response(letter_css(), media_type="text/css")


@router.get("/ui/admin/subject-requests/{request_id}")
def subject_request(request: Request, platform: PlatformDep, signed: SessionDep, request_id: RequestId) -> Response:
    item = platform.subjects.item(signed.principal, request_id)
    return page(request, "subject_request_admin.html", signed, item=item, methods=METHODS)


@router.post("/ui/admin/subject-requests/{request_id}/verification")
async def subject_verify(
    request: Request, platform: PlatformDep, signed: SessionDep, request_id: RequestId
) -> Response:
    form = await checked_form(request, platform, signed)
    platform.subjects.verify(
        signed.principal,
        request_id,
        method=field(form, "method"),
        verified_on=field(form, "verified_on"),
        note=field(form, "note"),
    )
    return see_other(f"/ui/admin/subject-requests/{request_id}")


@router.get("/ui/admin/subject-requests/{request_id}/letter")
def subject_letter(
    platform: PlatformDep,
    signed: SessionDep,
    request_id: RequestId,
    format: Annotated[Literal["html", "pdf"], Query()] = "html",
) -> Response:
    written = platform.letters.letter(signed.principal, request_id, fmt=format)
    if format == "pdf":
        name = f"{written.reference}-{written.agency}.pdf"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(render_pdf(written), media_type="application/pdf", headers=disposition)
    return HTMLResponse(render_html(written, stylesheet=CSS_PATH))
