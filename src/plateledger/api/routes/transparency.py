"""Public transparency reports: no sign-in, aggregate counts only, generated on request from the policy in force,
the stores and the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from plateledger.api.deps import PlatformDep
from plateledger.api.report_schemas import TransparencyOut
from plateledger.reports.transparency import DEFAULT_DAYS, MAX_DAYS, render_html

router = APIRouter(tags=["transparency"])

#: The page carries its own styles and nothing else: no scripts, no external assets, no framing.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

Agency = Annotated[str, Path(max_length=64, description="The agency's slug")]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Length of the reporting period in days")]


@router.get("/transparency/{agency}.json", response_model=TransparencyOut, responses={404: {}, 422: {}})
def transparency_json(agency: Agency, platform: PlatformDep, days: Days = DEFAULT_DAYS) -> Response:
    """An agency's transparency report as JSON (public; no token)."""
    report = TransparencyOut.model_validate(platform.transparency.build(agency, days=days))
    return JSONResponse(report.model_dump(mode="json"), headers=HEADERS)


@router.get(
    "/transparency/{agency}",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/TransparencyOut"}}}},
        404: {},
    },
)
def transparency_page(
    agency: Agency,
    platform: PlatformDep,
    days: Days = DEFAULT_DAYS,
    format: Annotated[Literal["html", "json"], Query(description="html (default) or json")] = "html",
) -> Response:
    """An agency's transparency report as a web page (public; no token): its policy in plain language, generated
    from the policy in force; cameras, reads collected, retention; searches of its data by purpose and requesting
    agency; refusals by rule; sharing partners; and the audit log's verification. Aggregate counts only."""
    report = platform.transparency.build(agency, days=days)
    if format == "json":
        return JSONResponse(TransparencyOut.model_validate(report).model_dump(mode="json"), headers=HEADERS)
    return HTMLResponse(render_html(report), headers=HEADERS)
