"""Approvals: the searches held for the approval of the signed-in supervisor's agency (approve or refuse, with a
note) and its break-glass searches to review, on the same library calls as ``/api/v1/approvals`` and
``/api/v1/break-glass`` (docs/approval.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.core.errors import FieldInvalid
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
RequestId = Annotated[int, Path(ge=1, le=2**53)]


@router.get("/ui/approvals")
def approvals_page(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    principal = signed.principal
    return page(
        request,
        "approvals.html",
        signed,
        pending=platform.approvals.requests_json(principal, "pending")["requests"],
        decided=platform.approvals.requests_json(principal, "all")["requests"],
        glass=platform.approvals.break_glass_json(principal, "all")["items"],
        can_decide=principal.role.value == "supervisor",
    )


@router.post("/ui/approvals/{request_id}/decide")
async def decide(request_id: RequestId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    decision = field(form, "decision")
    if decision not in ("approve", "refuse"):
        raise FieldInvalid("decision", "approve or refuse")
    platform.approvals.decide(signed.principal, request_id, approve=decision == "approve", note=field(form, "note"))
    return see_other(f"/ui/approvals#request-{request_id}")


@router.post("/ui/approvals/{request_id}/review")
async def review(request_id: RequestId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    platform.approvals.review(signed.principal, request_id, note=field(form, "note"))
    return see_other(f"/ui/approvals#request-{request_id}")
