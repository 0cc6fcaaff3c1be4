"""Two-person approval: /api/v1/approvals (held searches for your agency's supervisors: list, approve, refuse)
and /api/v1/break-glass (exigent searches that ran at once: list, review). docs/approval.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import Strict
from plateledger.approvals.service import MAX_NOTE

router = APIRouter(prefix="/api/v1", tags=["approvals"])
RequestId = Annotated[int, Path(ge=1, le=2**53)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {}, 422: {}}


class ApprovalNoteIn(Strict):
    note: str = Field(min_length=1, max_length=MAX_NOTE, description="Required: why approved, refused, or reviewed")


@router.get("/approvals", responses={403: {}, 422: {}})
def list_approvals(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: Annotated[
        Literal["pending", "approved", "refused", "used", "all"], Query(description="Which requests (default pending)")
    ] = "pending",
) -> dict[str, Any]:
    """Searches held for approval by a supervisor of your agency (supervisors, admins, auditors), oldest first:
    the exact query, who asked, why it is held, and the decisions so far."""
    return platform.approvals.requests_json(principal, state)


@router.post("/approvals/{request_id}/approve", responses=ERRORS)
def approve(
    platform: PlatformDep, principal: PrincipalDep, request_id: RequestId, body: ApprovalNoteIn
) -> dict[str, Any]:
    """Approve a held search (a supervisor of an agency it names, not the requester). The requester may then run
    the identical search once, with ``approval=<id>``, before ``approval_ttl_s`` passes. Audited."""
    return platform.approvals.decide(principal, request_id, approve=True, note=body.note).json()


@router.post("/approvals/{request_id}/refuse", responses=ERRORS)
def refuse(
    platform: PlatformDep, principal: PrincipalDep, request_id: RequestId, body: ApprovalNoteIn
) -> dict[str, Any]:
    """Refuse a held search: it can no longer run. Audited."""
    return platform.approvals.decide(principal, request_id, approve=False, note=body.note).json()


@router.get("/break-glass", responses={403: {}, 422: {}})
def list_break_glass(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: Annotated[Literal["open", "reviewed", "all"], Query(description="Which items (default open)")] = "open",
) -> dict[str, Any]:
    """Break-glass searches your agency's supervisors must review (within 24 hours of the search; ``overdue``
    past that), oldest first."""
    return platform.approvals.break_glass_json(principal, state)


@router.post("/break-glass/{request_id}/review", responses=ERRORS)
def review(
    platform: PlatformDep, principal: PrincipalDep, request_id: RequestId, body: ApprovalNoteIn
) -> dict[str, Any]:
    """Review a break-glass search (a supervisor of an agency it names, not the one who ran it). Audited."""
    return platform.approvals.review(principal, request_id, note=body.note).json()
