"""Public transparency reports: no sign-in, aggregate counts only, generated on request from the policy in force,
the stores and the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from plateledger.api.deps import PlatformDep
from plateledger.api.report_schemas import TransparencyOut
from plateledger.reports.transparency import MAX_DAYS, render_html

router = APIRouter(tags=["transparency"])

#: The page carries its own styles and nothing else: no scripts, no external assets, no framing.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

Agency = Annotated[str, Path(max_length=64, description="The agency's slug")]
Days = Annotated[
    int | None,
    Query(ge=1, le=MAX_DAYS, description="Length of the reporting period in days, up to now (default 30)"),
]
Month = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}$",
        description="A calendar month YYYY-MM (UTC), instead of days: the period [month start, next month start). "
        "Giving both is refused (422)",
    ),
]


@router.get("/transparency/{agency}.json", response_model=TransparencyOut, responses={404: {}, 422: {}})
def transparency_json(agency: Agency, platform: PlatformDep, days: Days = None, month: Month = None) -> Response:
    """An agency's transparency report as JSON (public; no token). With ``month``, the figures that
    ``plateledger-verify report`` recounts from the public leaves of the audit log."""
    report = TransparencyOut.model_validate(platform.transparency.build(agency, days=days, month=month))
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
    days: Days = None,
    month: Month = None,
    format: Annotated[Literal["html", "json"], Query(description="html (default) or json")] = "html",
) -> Response:
    """An agency's transparency report as a web page (public; no token): its policy in plain language, generated
    from the policy in force; cameras, reads collected, retention; searches of its data by purpose and requesting
    agency; refusals by rule; sharing partners; and the audit log's verification. Aggregate counts only."""
    report = platform.transparency.build(agency, days=days, month=month)
    if format == "json":
        return JSONResponse(TransparencyOut.model_validate(report).model_dump(mode="json"), headers=HEADERS)
    return HTMLResponse(render_html(report), headers=HEADERS)
