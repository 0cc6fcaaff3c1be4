"""Agency administration of cameras: the map, each camera's health (last read, last heartbeat, fault, silent, its
silent interval), adding a camera, and the quarantine of reads from vendor camera ids the agency has not
registered (map one onto a registered camera, or approve it as a new one; the answer shows what the release
stored and rejected). Admins only; every change goes through the registry, ``platform.health`` and
``platform.quarantine``, which check the role again and audit it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.cameras.quarantine import Release
from plateledger.core.errors import Conflict, FieldInvalid
from plateledger.platform import Platform
from plateledger.web.render import json_for_page, page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
PAGE = "/ui/admin/cameras"


def _number(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FieldInvalid(name, "a number") from None


def _cameras_page(
    request: Request,
    platform: Platform,
    signed: SignedIn,
    release: Release | None,
    *,
    refused: dict[str, str] | None = None,
    adding: dict[str, str] | None = None,
) -> Response:
    """The agency's cameras with their health, the map and the quarantine; ``release``: what a map or approve
    just did, shown once; ``refused``: an approval the registry refused (the vendor id, the field, why, and what
    was typed), shown in its form, with status 422; ``adding``: likewise for the add-a-camera form."""
    principal = signed.principal
    states = platform.health.states_for(principal, principal.agency_id)
    own = platform.registry.camera_list(principal, principal.agency_id)
    silent = {s.external_id for s in states if s.silent}
    pending = platform.quarantine.pending(principal.actor, principal.agency_slug)
    settings = platform.settings
    data = {
        "cameras": [
            {
                "id": c.external_id,
                "name": c.name + (" (silent)" if c.external_id in silent else ""),
                "lat": c.lat,
                "lon": c.lon,
                "silent": c.external_id in silent,
            }
            for c in own
            if c.lat is not None and c.lon is not None
        ],
        "reads": [],
        "tiles": settings.map_tile_url,
        "attribution": settings.map_tile_attribution,
    }
    return page(
        request,
        "cameras.html",
        signed,
        states=states,
        positions={c.external_id: (c.lat, c.lon) for c in own if c.lat is not None and c.lon is not None},
        pending=pending,
        release=release,
        default_silent_s=settings.camera_silent_after_s,
        map_data=json_for_page(data),
        refused=refused,
        adding=adding,
        status=422 if refused or adding else 200,
    )


@router.get(PAGE)
def cameras(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    return _cameras_page(request, platform, signed, None)


@router.post(PAGE)
async def add_camera(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """Register a camera; a refusal of what was typed (no position for a fixed camera, a bad id, an id already
    registered) is said in the form, with what was typed, on the cameras page (422)."""
    form = await checked_form(request, platform, signed)
    typed = {name: field(form, name) for name in ("external_id", "name", "lat", "lon", "mobile")}
    try:
        platform.registry.add_camera(
            signed.principal.actor,
            agency_slug=signed.principal.agency_slug,
            external_id=typed["external_id"],
            name=typed["name"],
            mobile=typed["mobile"] == "yes",
            lat=_number(typed["lat"], "lat"),
            lon=_number(typed["lon"], "lon"),
        )
    except (FieldInvalid, Conflict) as error:
        refused = {**typed, "field": getattr(error, "field", "external_id"), "detail": error.detail}
        return _cameras_page(request, platform, signed, None, adding=refused)
    return see_other(PAGE)


@router.post(PAGE + "/silent")
async def configure_silent(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """A camera's silent interval in seconds; empty: back to the instance default."""
    form = await checked_form(request, platform, signed)
    text = field(form, "silent_after_s")
    if text and not text.isdigit():
        raise FieldInvalid("silent_after_s", "a whole number of seconds, or empty for the default")
    agency = platform.registry.agency_by_id(signed.principal.agency_id)
    platform.health.configure(signed.principal.actor, agency, field(form, "camera"), int(text) if text else None)
    return see_other(PAGE)


@router.post(PAGE + "/quarantine/map")
async def map_vendor_camera(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """Map a waiting vendor camera id onto a registered camera; the page shows what the release did."""
    form = await checked_form(request, platform, signed)
    vendor, camera = field(form, "vendor_camera"), field(form, "camera")
    if not camera:
        raise FieldInvalid("camera", "required: the registered camera the vendor id is")
    release = await run_in_threadpool(
        platform.quarantine.map, signed.principal.actor, signed.principal.agency_slug, vendor, camera
    )
    return _cameras_page(request, platform, signed, release)


@router.post(PAGE + "/quarantine/approve")
async def approve_vendor_camera(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """Register a waiting vendor camera id as a new camera (fixed at lat/lon, or mobile) and release its reads."""
    form = await checked_form(request, platform, signed)
    mobile = field(form, "mobile") == "yes"
    typed = {name: field(form, name) for name in ("vendor_camera", "name", "lat", "lon", "mobile")}
    try:
        lat, lon = _number(typed["lat"], "lat"), _number(typed["lon"], "lon")
        release = await run_in_threadpool(
            lambda: platform.quarantine.approve(
                signed.principal.actor,
                signed.principal.agency_slug,
                typed["vendor_camera"],
                name=typed["name"],
                mobile=mobile,
                lat=lat,
                lon=lon,
            )
        )
    except FieldInvalid as error:  # a position missing or out of range: said in the form, with what was typed
        return _cameras_page(
            request, platform, signed, None, refused={**typed, "field": error.field, "detail": error.detail}
        )
    return _cameras_page(request, platform, signed, release)
