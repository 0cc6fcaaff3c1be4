"""GET /api/v1/search/plate: purpose-bound plate history through the policy gate, audited before answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import SearchOut
from plateledger.core.errors import FieldInvalid
from plateledger.search.plate import PlateSearch, result_json

router = APIRouter(prefix="/api/v1/search", tags=["search"])


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise FieldInvalid("since/until", "needs a time zone (e.g. 2026-11-01T00:00:00Z)")
    return int(value.timestamp() * 1000)


@router.get(
    "/plate",
    response_class=Response,
    responses={200: {"model": SearchOut, "content": {"application/json": {}}}, 401: {}, 403: {}, 422: {}, 503: {}},
)
def search_plate(
    platform: PlatformDep,
    principal: PrincipalDep,
    plate: Annotated[str | None, Query(description="Plate, or a pattern with * and ?")] = None,
    purpose: Annotated[str | None, Query(description="Required; from the closed purpose taxonomy")] = None,
    case_number: Annotated[str | None, Query(description="Required; 1-64 printable characters")] = None,
    fuzzy: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    region: str | None = None,
    camera: str | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    note: Annotated[str | None, Query(description="Free text, in addition to purpose and case")] = None,
) -> Response:
    """Parameters are optional at the HTTP layer on purpose: the search service validates them so that a
    refusal (a missing purpose, say) is audited like any other."""
    ask = PlateSearch(
        plate=plate,
        purpose=purpose,
        case_number=case_number,
        fuzzy=fuzzy,
        since_ms=_ms(since),
        until_ms=_ms(until),
        region=region,
        camera=camera,
        limit=limit,
        note=note,
    )
    # Serialised once with orjson: the shape is SearchOut (documented above), built by result_json.
    return Response(orjson.dumps(result_json(platform.searches.search(principal, ask))), media_type="application/json")
