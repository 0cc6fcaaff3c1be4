"""Plate, area and vehicle description search: the form, the answer (table, map, timeline, withheld owners) and
its audited exports.

A search is a POST carrying the session's CSRF token, because every search is an access recorded on the audit
log. It runs through ``platform.searches`` / ``platform.areas`` / ``platform.descriptions`` exactly as the API's
search routes do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.core import zones
from plateledger.core.errors import PlateledgerError
from plateledger.platform import Platform
from plateledger.policy.actions import Action, allowed
from plateledger.search.area import AreaSearch
from plateledger.search.description import DescriptionSearch
from plateledger.search.engine import SearchResult
from plateledger.search.plate import PlateSearch
from plateledger.search.results import grouped, hint_json, plate_groups, read_json
from plateledger.web.render import json_for_page, page
from plateledger.web.routes.images import link_images
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)

#: The form's fields, carried from the answer to the export.
FIELDS = (
    "mode",
    "plate",
    "fuzzy",
    "match",
    "lat",
    "lon",
    "radius_m",
    "polygon",
    "since",
    "until",
    "purpose",
    "case_number",
    "warrant",
    "note",
    "approval",
    "break_glass",
    "make",
    "model",
    "color",
    "type",
    "cameras",
)
#: The search form's modes (``mode``): anything else is a plate search.
MODES = ("plate", "area", "description")


def _run(platform: Platform, signed: SignedIn, values: dict[str, str]) -> SearchResult:
    ask = _ask(values, signed.principal.time_zone)
    if isinstance(ask, DescriptionSearch):
        return platform.descriptions.search(signed.principal, ask)
    if isinstance(ask, AreaSearch):
        return platform.areas.search(signed.principal, ask)
    return platform.searches.search(signed.principal, ask)


def _ask(values: dict[str, str], time_zone: str | None) -> PlateSearch | AreaSearch | DescriptionSearch:
    """The search the form asks for (the library checks it; an empty field is a field not given); the times typed
    are in the user's zone ``time_zone``, as the form's labels say."""
    common = {
        "purpose": values["purpose"] or None,
        "case_number": values["case_number"] or None,
        "since": zones.typed(values["since"], time_zone),
        "until": zones.typed(values["until"], time_zone),
        "note": values["note"] or None,
        "warrant": values["warrant"] or None,
        "approval": values["approval"] or None,
    }
    glass = values["break_glass"] == "true"
    vehicle = {
        "make": values["make"] or None,
        "model": values["model"] or None,
        "color": values["color"] or None,
        "vehicle_type": values["type"] or None,
    }
    if values["mode"] == "description":
        # The radius field has a default: with cameras and no centre, it is not part of the search.
        circle = not values["cameras"] or values["lat"] or values["lon"]
        return DescriptionSearch(
            lat=values["lat"] or None,
            lon=values["lon"] or None,
            radius_m=(values["radius_m"] or None) if circle else None,
            polygon=values["polygon"] or None,
            cameras=values["cameras"] or None,
            break_glass=glass,
            **vehicle,
            **common,
        )
    if values["mode"] == "area":
        return AreaSearch(
            lat=values["lat"] or None,
            lon=values["lon"] or None,
            radius_m=values["radius_m"] or None,
            polygon=values["polygon"] or None,
            break_glass=glass,
            **common,
        )
    return PlateSearch(
        plate=values["plate"] or None,
        fuzzy=values["fuzzy"] == "true",
        match=values["match"] or None,
        break_glass=glass,
        **vehicle,
        **common,
    )


def _values(form: FormData | None) -> dict[str, str]:
    values = {name: field(form, name) if form is not None else "" for name in FIELDS}
    warrant = form.get("warrant") if form is not None else None
    if isinstance(warrant, str) and warrant:  # as typed: a warrant of only spaces is the library's to refuse
        values["warrant"] = warrant
    values["mode"] = values["mode"] if values["mode"] in MODES else "plate"
    return values


def _timeline(reads: list[dict[str, Any]], times: list[int], time_zone: str | None) -> dict[str, Any]:
    """Points of an SVG timeline 800 wide: x from the first read's time to the last's."""
    if not times:
        return {"points": [], "start": None, "end": None}
    first, last = min(times), max(times)
    span = max(last - first, 1)
    points = [
        {
            "x": round(20 + (t - first) / span * 760, 1),
            "label": f"{zones.shown(t, time_zone)} {r['plate']} at {r['camera']}",
        }
        for r, t in zip(reads, times, strict=True)
    ]
    return {"points": points, "start": first, "end": last}


def _area_limits(platform: Platform, signed: SignedIn) -> list[dict[str, Any]]:
    """Each owner's area-search limits for this user (largest first), for the form to show before a search."""
    if not allowed(signed.principal, Action.SEARCH, signed.principal.agency_id).allowed:
        return []
    found = platform.areas.limits(signed.principal)
    limits = [
        {"owner": a.owner.name, "slug": a.owner.slug, "radius_m": a.max_radius_m, "hours": a.max_window_hours}
        for a in found
    ]
    return sorted(limits, key=lambda a: (-a["radius_m"], a["owner"]))


def _searched(values: dict[str, str] | None) -> dict[str, str] | None:
    """The area an answered area search covered, as typed (the result map draws it)."""
    if values is None or values["mode"] != "area":
        return None
    return {name: values[name] for name in ("lat", "lon", "radius_m", "polygon")}


def _map_data(
    platform: Platform,
    signed: SignedIn,
    rows: list[dict[str, Any]],
    *,
    limits: list[dict[str, Any]] | None = None,
    searched: dict[str, str] | None = None,
) -> Markup:
    cameras = [
        {"id": c.external_id, "name": c.name, "lat": c.lat, "lon": c.lon}
        for c in platform.registry.camera_list(signed.principal, signed.principal.agency_id)
        if c.lat is not None and c.lon is not None
    ]
    reads = [{k: r[k] for k in ("ts", "plate", "camera", "owner", "lat", "lon")} for r in rows if r["lat"] is not None]
    settings = platform.settings
    body = {
        "cameras": cameras,
        "reads": reads,
        "tiles": settings.map_tile_url,
        "attribution": settings.map_tile_attribution,
        "limits": limits or [],
        "searched": searched,
    }
    return json_for_page(body)


@router.get("/ui/search")
def search_form(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    return page(
        request,
        "search.html",
        signed,
        values=_values(None),
        result=None,
        error=None,
        limits=(limits := _area_limits(platform, signed)),
        map_data=_map_data(platform, signed, [], limits=limits),
    )


@router.post("/ui/search")
async def search(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    values = _values(await checked_form(request, platform, signed))
    try:
        result = _run(platform, signed, values)
    except PlateledgerError as refused:
        error = {
            "detail": refused.detail,
            "field": getattr(refused, "field", None),
            "approval_request": getattr(refused, "request_id", None),
        }
        return page(
            request,
            "search.html",
            signed,
            status=refused.status,
            values=values,
            result=None,
            error=error,
            limits=(limits := _area_limits(platform, signed)),
            map_data=_map_data(platform, signed, [], limits=limits),
        )
    rows = [read_json(r, result.owner_names) for r in result.reads]
    link_images(platform, result, rows)
    groups = None
    if grouped(result):
        groups = plate_groups(result.reads)
        for group in groups:
            group["rows"] = [row for row in rows if row["plate"] == group["plate"]]
    return page(
        request,
        "search.html",
        signed,
        values=values,
        result=result,
        rows=rows,
        groups=groups,
        hint=hint_json(result),
        error=None,
        limits=(limits := _area_limits(platform, signed)),
        map_data=_map_data(platform, signed, rows, limits=limits, searched=_searched(values)),
        timeline=_timeline(rows, [r.ts_ms for r in result.reads], signed.principal.time_zone),
    )


@router.post("/ui/search/export.{fmt}")
async def export(request: Request, platform: PlatformDep, signed: SessionDep, fmt: str) -> Response:
    """The same search run again (gated and audited) and its answer downloaded as CSV, GeoJSON, KML or a PDF
    case packet; the download is audited too."""
    values = _values(await checked_form(request, platform, signed))
    ask = _ask(values, signed.principal.time_zone)
    done = await run_in_threadpool(platform.exports.export, signed.principal, ask, fmt)
    return Response(
        done.body,
        media_type=done.media_type,
        headers={"Content-Disposition": f'attachment; filename="{done.filename}"', "Cache-Control": "no-store"},
    )
