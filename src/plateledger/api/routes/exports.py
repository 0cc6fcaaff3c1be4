"""GET /api/v1/search/{kind}/export: a search's answer as CSV, GeoJSON, KML or a PDF case packet.

The search's own parameters (those of ``GET /api/v1/search/plate`` or ``/area``) are passed through as strings,
so that the search service validates them and refuses (and audits) a bad one exactly as for the search.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.openapi import REQUIRED
from plateledger.api.routes.search import SEARCH_ERRORS
from plateledger.search.export import FORMATS, ask_of

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get(
    "/{kind}/export",
    response_class=Response,
    summary="A search's answer as a file: CSV, GeoJSON, KML or a PDF case packet (the search and the download audited)",
    responses={200: {"content": {media: {} for media, _ in FORMATS.values()}}, **SEARCH_ERRORS},
)
async def export_search(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    kind: Annotated[
        Literal["plate", "area", "description"], Path(description="The search to run: plate, area or description")
    ],
    format: Annotated[
        str | None, Query(description="csv, geojson, kml or pdf (a case packet)", json_schema_extra=REQUIRED)
    ] = None,
) -> Response:
    """Every other query parameter is one of the search's (`purpose`, `case_number`, `plate`, `since`, ...):
    the search runs through the gate and is audited like any other, a refusal answers as the search would, and
    the download is audited (`search.exported`, with the format) before the file is sent."""
    params = {k: v for k, v in request.query_params.items() if k != "format"}
    ask = ask_of(kind, params)
    done = await run_in_threadpool(platform.exports.export, principal, ask, format)
    return Response(
        done.body,
        media_type=done.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{done.filename}"',
            "Cache-Control": "no-store",
            "X-Audit-Seq": str(done.result.audit_seq),
        },
    )
