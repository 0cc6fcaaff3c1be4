"""Subject requests ("is my plate held?"): a public submission that never answers online, and each candidate
agency's admins' queue, keeper verification and letter (docs/subject-requests.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from plateledger.api.deps import ClientDep, PlatformDep, PrincipalDep
from plateledger.api.subject_schemas import SubjectReceivedOut, SubjectRequestIn, SubjectRequestOut, VerificationIn
from plateledger.core.clock import iso_ms
from plateledger.subjects.render import render_html, render_pdf
from plateledger.subjects.requests import QueueItem, SubjectAsk

router = APIRouter(prefix="/api/v1", tags=["subject requests"])
RECEIVED = (
    "Your request is received. Every agency whose data might hold the plate will write to the registered keeper "
    "at the postal address given, after checking that you are the keeper. Nothing is answered online."
)
#: The letter carries its own styles and nothing else.
LETTER_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
RequestId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def item_out(item: QueueItem) -> SubjectRequestOut:
    return SubjectRequestOut(
        id=item.id,
        reference=item.reference,
        received=iso_ms(item.created_ms),
        plate=item.plate,
        region=item.region,
        name=item.name,
        email=item.email,
        postal_address=item.postal_address,
        verified=iso_ms(item.verified_ms) if item.verified_ms is not None else None,
        verified_by=item.verified_by,
        verification_method=item.verification_method,
        verified_on=item.verified_on,
        verification_note=item.verification_note,
        answered=iso_ms(item.answered_ms) if item.answered_ms is not None else None,
        answered_by=item.answered_by,
    )


@router.post("/subject-requests", status_code=202, response_model=SubjectReceivedOut, responses={422: {}, 429: {}})
def submit(body: SubjectRequestIn, platform: PlatformDep, client: ClientDep) -> JSONResponse:
    """Ask what is held about a plate (public; no token). The answer is the same whether or not any agency holds
    the plate: a reference, never a result. Audited (`subject_access.requested`); rate-limited per plate and per
    client address (429 with `Retry-After`)."""
    ask = SubjectAsk(body.plate, body.country, body.state, body.name, body.email, body.postal_address)
    received = platform.subjects.submit(ask, client=client)
    out = SubjectReceivedOut(reference=received.reference, status="received", message=RECEIVED)
    return JSONResponse(out.model_dump(), status_code=202, headers={"Cache-Control": "no-store"})


@router.get("/subject-requests", response_model=list[SubjectRequestOut], responses={403: {}})
def queue(platform: PlatformDep, principal: PrincipalDep) -> list[SubjectRequestOut]:
    """The subject requests sent to your agency, newest first (admins)."""
    return [item_out(i) for i in platform.subjects.queue(principal)]


@router.get("/subject-requests/{request_id}", response_model=SubjectRequestOut, responses={403: {}, 404: {}})
def one(request_id: RequestId, platform: PlatformDep, principal: PrincipalDep) -> SubjectRequestOut:
    return item_out(platform.subjects.item(principal, request_id))


@router.post(
    "/subject-requests/{request_id}/verification",
    response_model=SubjectRequestOut,
    responses={403: {}, 404: {}, 422: {}},
)
def verify(
    request_id: RequestId, body: VerificationIn, platform: PlatformDep, principal: PrincipalDep
) -> SubjectRequestOut:
    """Record that the requester is the plate's registered keeper: how, on which day (you are who). Audited."""
    platform.subjects.verify(principal, request_id, method=body.method, verified_on=body.verified_on, note=body.note)
    return item_out(platform.subjects.item(principal, request_id))


@router.get(
    "/subject-requests/{request_id}/letter",
    response_class=HTMLResponse,
    responses={200: {"content": {"application/pdf": {}}}, 403: {}, 404: {}},
)
def letter(
    request_id: RequestId,
    platform: PlatformDep,
    principal: PrincipalDep,
    format: Annotated[Literal["html", "pdf"], Query(description="html (default) or pdf")] = "html",
) -> Response:
    """Your agency's letter to the verified keeper (admins; refused until the verification is recorded).
    Generating it reads the plate's data and is audited (`subject_access.answered`) before it is returned."""
    written = platform.letters.letter(principal, request_id, fmt=format)
    if format == "pdf":
        name = f"{written.reference}-{written.agency}.pdf"
        headers = {**LETTER_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(render_pdf(written), media_type="application/pdf", headers=headers)
    return HTMLResponse(render_html(written), headers=LETTER_HEADERS)
