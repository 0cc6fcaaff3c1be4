"""GET /api/v1/search/plate, /area and /description: purpose-bound searches through the policy gate, audited
before answer. Every route of this router refuses a query parameter it does not declare (422, naming it)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from plateledger.api.deps import KnownQuery, PlatformDep, PrincipalDep
from plateledger.api.openapi import REQUIRED
from plateledger.api.schemas import SearchOut
from plateledger.api.vocabulary import PurposeName
from plateledger.core import timing
from plateledger.search.area import AreaSearch
from plateledger.search.description import DescriptionSearch
from plateledger.search.plate import PlateSearch
from plateledger.search.results import result_json

router = APIRouter(prefix="/api/v1/search", tags=["search"], dependencies=[KnownQuery])

# Required, and taken as optional so that the search service refuses (and audits) a search without them.
PurposeParam = Annotated[
    PurposeName | None, Query(description="From the closed purpose taxonomy", json_schema_extra=REQUIRED)
]
CaseParam = Annotated[str | None, Query(description="1-64 printable characters", json_schema_extra=REQUIRED)]
ApprovalParam = Annotated[
    str | None, Query(description="Id of your approved approval request: run the identical search it holds, once")
]
BreakGlassParam = Annotated[
    str | None, Query(description="true: an exigent search that runs at once and is reviewed (note required)")
]
_VEHICLE = "case-insensitive, trimmed, at most 64 characters"
MakeParam = Annotated[str | None, Query(description=f"Vehicle make, e.g. Toyota ({_VEHICLE})")]
ModelParam = Annotated[str | None, Query(description=f"Vehicle model, e.g. Corolla ({_VEHICLE})")]
ColorParam = Annotated[str | None, Query(description=f"Vehicle colour, e.g. red ({_VEHICLE})")]
TypeParam = Annotated[str | None, Query(alias="type", description=f"Vehicle type, e.g. sedan ({_VEHICLE})")]
SinceParam = Annotated[
    str | None, Query(description="ISO 8601 with a time zone or epoch ms (inclusive)", json_schema_extra=REQUIRED)
]
UntilParam = Annotated[
    str | None, Query(description="ISO 8601 with a time zone or epoch ms (exclusive)", json_schema_extra=REQUIRED)
]
LatParam = Annotated[str | None, Query(description="Centre latitude (with lon and radius_m)")]
LonParam = Annotated[str | None, Query(description="Centre longitude")]
RadiusParam = Annotated[str | None, Query(description="Radius in metres (at most 50,000)")]
PolygonParam = Annotated[str | None, Query(description="Instead of a circle: 'lat,lon;lat,lon;...', 3-100 vertices")]
PageParam = Annotated[str | None, Query(description="Most reads per page (default search_page)")]
CursorParam = Annotated[str | None, Query(description="next_cursor of the previous page")]
NoteParam = Annotated[str | None, Query(description="Free text, in addition to purpose and case")]
WarrantParam = Annotated[str | None, Query(description="Warrant or court-order reference, where an owner requires one")]
#: A search held for approval: 403 with type approval-required and ``approval_request`` (docs/approval.md).
SEARCH_ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 404: {}, 422: {}, 503: {}}


@router.get(
    "/plate",
    response_class=Response,
    responses={200: {"model": SearchOut, "content": {"application/json": {}}}, **SEARCH_ERRORS},
)
def search_plate(
    platform: PlatformDep,
    principal: PrincipalDep,
    plate: Annotated[
        str | None, Query(description="Plate, or a pattern with * and ?", json_schema_extra=REQUIRED)
    ] = None,
    purpose: PurposeParam = None,
    case_number: CaseParam = None,
    match: Annotated[
        str | None,
        Query(
            description="exact, wildcard or contains (plates containing `plate`, at least 3 letters or digits); "
            "left out: wildcard when `plate` has * or ?, else exact"
        ),
    ] = None,
    fuzzy: Annotated[str | None, Query(description="true to match OCR-confusable characters")] = None,
    since: Annotated[str | None, Query(description="ISO 8601 with a time zone (inclusive)")] = None,
    until: Annotated[str | None, Query(description="ISO 8601 with a time zone (exclusive)")] = None,
    region: Annotated[str | None, Query(description="ISO 3166-2, e.g. US-CA")] = None,
    camera: Annotated[str | None, Query(description="Camera id")] = None,
    limit: Annotated[str | None, Query(description="Most reads to return (default search_page)")] = None,
    note: Annotated[str | None, Query(description="Free text, in addition to purpose and case")] = None,
    warrant: Annotated[
        str | None, Query(description="Warrant or court-order reference, where an owner requires one")
    ] = None,
    approval: ApprovalParam = None,
    break_glass: BreakGlassParam = None,
    make: MakeParam = None,
    model: ModelParam = None,
    color: ColorParam = None,
    vehicle_type: TypeParam = None,
) -> Response:
    """Parameters are optional strings at the HTTP layer on purpose: the search service validates every one of
    them, so that any refusal (a missing purpose, a malformed time) is audited like an answer."""
    ask = PlateSearch(
        plate=plate,
        purpose=purpose,
        case_number=case_number,
        fuzzy=fuzzy or False,
        since=since,
        until=until,
        region=region,
        camera=camera,
        limit=limit,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass or False,
        match=match,
        make=make,
        model=model,
        color=color,
        vehicle_type=vehicle_type,
    )
    result = platform.searches.search(principal, ask)
    # Serialised once with orjson: the shape is SearchOut (documented above), built by result_json.
    with timing.stage("answer"):
        body = orjson.dumps(result_json(result))
    return Response(body, media_type="application/json")


@router.get(
    "/area",
    response_class=Response,
    responses={200: {"model": SearchOut, "content": {"application/json": {}}}, **SEARCH_ERRORS},
)
def search_area(
    platform: PlatformDep,
    principal: PrincipalDep,
    purpose: PurposeParam = None,
    case_number: CaseParam = None,
    lat: LatParam = None,
    lon: LonParam = None,
    radius_m: RadiusParam = None,
    polygon: PolygonParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
    limit: PageParam = None,
    cursor: CursorParam = None,
    note: NoteParam = None,
    warrant: WarrantParam = None,
    approval: ApprovalParam = None,
    break_glass: BreakGlassParam = None,
) -> Response:
    """Reads within a radius of a point, or inside a polygon, in a time window, ordered by time, one page at a
    time; each page is gated by every owner's area limits and audited. Parameters are strings at the HTTP layer
    so that the search service validates (and audits the refusal of) every one."""
    ask = AreaSearch(
        purpose=purpose,
        case_number=case_number,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        polygon=polygon,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass or False,
    )
    return Response(orjson.dumps(result_json(platform.areas.search(principal, ask))), media_type="application/json")


@router.get(
    "/description",
    response_class=Response,
    responses={200: {"model": SearchOut, "content": {"application/json": {}}}, **SEARCH_ERRORS},
)
def search_description(
    platform: PlatformDep,
    principal: PrincipalDep,
    purpose: PurposeParam = None,
    case_number: CaseParam = None,
    make: MakeParam = None,
    model: ModelParam = None,
    color: ColorParam = None,
    vehicle_type: TypeParam = None,
    lat: LatParam = None,
    lon: LonParam = None,
    radius_m: RadiusParam = None,
    polygon: PolygonParam = None,
    cameras: Annotated[
        str | None, Query(description="Instead of an area: camera ids separated by commas (at most 100)")
    ] = None,
    since: SinceParam = None,
    until: UntilParam = None,
    limit: PageParam = None,
    cursor: CursorParam = None,
    note: NoteParam = None,
    warrant: WarrantParam = None,
    approval: ApprovalParam = None,
    break_glass: BreakGlassParam = None,
) -> Response:
    """Reads of vehicles so described (at least one of make, model, color, type), without a plate, in an area
    or a set of cameras and a time window, one page at a time. A broad query: only owners whose policy allows it
    (and, for other agencies, whose agreement grants the ``vehicle`` kind) answer; the others are named
    as withheld. Parameters are strings so that the search service validates (and audits the refusal of) each."""
    ask = DescriptionSearch(
        purpose=purpose,
        case_number=case_number,
        make=make,
        model=model,
        color=color,
        vehicle_type=vehicle_type,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        polygon=polygon,
        cameras=cameras,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass or False,
    )
    result = platform.descriptions.search(principal, ask)
    return Response(orjson.dumps(result_json(result)), media_type="application/json")
