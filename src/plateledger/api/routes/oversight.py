"""Oversight of an agency's users' searches: the review queue, a run of the rules over a period, the sensitive
places, the case register and the users' units (/api/v1/agencies/{agency}/oversight/..., .../cases, .../units).
Each route calls one operation of ``platform.review``, ``platform.places`` or ``platform.cases``, which authorise
and audit."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.core.errors import FieldInvalid
from plateledger.review.register import MAX_IMPORT_BYTES, make_case, parse_day

router = APIRouter(prefix="/api/v1/agencies/{agency}", tags=["oversight"])
Agency = Annotated[str, Path(max_length=64, description="Your agency's slug")]
FlagId = Annotated[int, Path(ge=1, le=2**53)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {}, 422: {}}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlagDecisionIn(_In):
    decision: str = Field(description="dismissed, confirmed or escalated", max_length=16)
    note: str = Field(min_length=1, max_length=2000, description="Required: why")


class OversightRunIn(_In):
    since: str = Field(max_length=40, description="Start of the period: YYYY-MM-DD (UTC) or ISO 8601 with a zone")
    until: str = Field(max_length=40, description="End of the period (exclusive), as since")


class CaseIn(_In):
    case_number: str = Field(min_length=1, max_length=64)
    opened: str = Field(max_length=40, description="YYYY-MM-DD (UTC) or ISO 8601 with a zone")
    closed: str | None = Field(None, max_length=40, description="When it was closed, if it was")
    unit: str | None = Field(None, max_length=64, description="The unit it is assigned to")


class UnitIn(_In):
    unit: str | None = Field(None, max_length=64, description="The user's unit (null or blank: none)")


@router.get("/oversight/flags", responses={403: {}, 404: {}, 422: {}})
def queue(
    agency: Agency,
    platform: PlatformDep,
    principal: PrincipalDep,
    status: Annotated[str, Query(max_length=16, description="queue (open and escalated), or one status")] = "queue",
) -> dict[str, Any]:
    """The review queue: the agency's oversight flags grouped by user and rule (for its auditors and admins), and
    (``queue``) the open break-glass searches its supervisors must review, with their evidence and ``overdue``
    (showing them is audited; reviewing is ``POST /api/v1/break-glass/{id}/review``, a supervisor's act)."""
    return platform.review.queue(principal, agency, status=status)


@router.get("/oversight/flags/{flag_id}", responses={403: {}, 404: {}})
def flag(agency: Agency, flag_id: FlagId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """One flag with its evidence: the audit entries, the numbers, the threshold, the explanation (audited)."""
    return platform.review.flag(principal, agency, flag_id)


@router.post("/oversight/flags/{flag_id}/decision", responses=ERRORS)
def decide(
    agency: Agency, flag_id: FlagId, body: FlagDecisionIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Dismiss, confirm or escalate a flag, with a note (audited)."""
    return platform.review.decide(principal, agency, flag_id, body.decision, body.note)


@router.post("/oversight/run", responses=ERRORS)
async def run(agency: Agency, body: OversightRunIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Run every rule over the agency's users' searches of a period and store the flags (audited)."""
    since, until = parse_day(body.since, "since"), parse_day(body.until, "until")
    return await run_in_threadpool(platform.review.run, principal, agency, since_ms=since, until_ms=until)


@router.get("/oversight/places", responses={403: {}, 404: {}})
def places(agency: Agency, platform: PlatformDep, principal: PrincipalDep) -> Any:
    """The agency's sensitive places as GeoJSON (its admins: not published)."""
    return platform.places.get(principal, agency)


@router.put("/oversight/places", responses=ERRORS)
def set_places(
    agency: Agency,
    platform: PlatformDep,
    principal: PrincipalDep,
    geojson: Annotated[dict[str, Any], Body(description="A GeoJSON FeatureCollection, Feature or geometry")],
) -> dict[str, Any]:
    """Replace the agency's sensitive places (audited: their number and kinds)."""
    return platform.places.set(principal, agency, orjson.dumps(geojson))


@router.get("/cases", responses={403: {}, 404: {}})
def cases(agency: Agency, platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The agency's case register."""
    return [c.as_json() for c in platform.cases.listing(principal, agency)]


@router.post("/cases", responses=ERRORS)
def add_case(agency: Agency, body: CaseIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, int]:
    """Add a case to the register, or replace the one with that number (audited)."""
    case = make_case(body.case_number, body.opened, body.closed, body.unit)
    return platform.cases.put(principal, agency, [case])


@router.post(
    "/cases/import",
    responses=ERRORS,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_cases(
    agency: Agency, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, int]:
    """Cases from a CSV file (case_number,opened,closed,unit), applied whole or not at all (audited)."""
    data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise FieldInvalid("body", f"at most {MAX_IMPORT_BYTES} bytes")
    return await run_in_threadpool(platform.cases.import_csv, principal, agency, data, source="api")


@router.put("/units/{username}", responses=ERRORS)
def set_unit(
    agency: Agency,
    username: Annotated[str, Path(max_length=64)],
    body: UnitIn,
    platform: PlatformDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Set the unit a user of the agency works in (audited)."""
    return platform.cases.set_unit(principal, agency, username, body.unit)
