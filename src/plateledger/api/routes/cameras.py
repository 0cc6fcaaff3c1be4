"""Camera health and the quarantine of reads from unknown vendor camera ids (admins of the agency)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import Rejection, Strict
from plateledger.cameras.quarantine import Release
from plateledger.core.clock import iso_ms
from plateledger.core.text import MAX_CAMERA_ID

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])

VendorCamera = Annotated[str, Path(min_length=1, max_length=MAX_CAMERA_ID, description="The vendor's camera id")]


class CameraHealthOut(BaseModel):
    external_id: str
    name: str
    mobile: bool
    last_read: str | None = Field(description="Time of the newest read stored from this camera")
    last_heartbeat: str | None = Field(description="Time of the newest heartbeat (status message) it sent")
    healthy: bool = Field(description="False when its last heartbeat reported a fault")
    detail: str
    silent_after_s: int = Field(description="Its silent interval (its own, else the instance default)")
    silent: bool = Field(description="No read or heartbeat for longer than silent_after_s")


class PendingOut(BaseModel):
    vendor_camera: str
    reads: int
    first_received: str
    last_received: str
    sources: list[str]


class MapIn(Strict):
    camera: str = Field(min_length=1, max_length=MAX_CAMERA_ID, description="The registered camera the vendor id is")


class ApproveIn(Strict):
    name: str = Field("", max_length=200)
    mobile: bool = False
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class ReleaseOut(BaseModel):
    vendor_camera: str
    camera: str
    how: str
    released: int
    stored: int
    duplicates: int
    rejected: list[Rejection]


class SilentIn(Strict):
    silent_after_s: int | None = Field(description="Seconds (60 to 30 days); null: the instance default")


def _release_out(release: Release) -> ReleaseOut:
    return ReleaseOut(
        vendor_camera=release.vendor_camera,
        camera=release.camera,
        how=release.how,
        released=release.released,
        stored=release.result.stored,
        duplicates=release.result.duplicates,
        rejected=[Rejection(index=i, reason=r) for i, r in release.result.rejected],
    )


@router.get("/health", response_model=list[CameraHealthOut])
def camera_health(platform: PlatformDep, principal: PrincipalDep) -> list[CameraHealthOut]:
    """Every camera of your agency with its last read and heartbeat, and whether it has gone silent (admin)."""
    return [
        CameraHealthOut(
            external_id=s.external_id,
            name=s.name,
            mobile=s.mobile,
            last_read=iso_ms(s.last_read_ms) if s.last_read_ms is not None else None,
            last_heartbeat=iso_ms(s.last_heartbeat_ms) if s.last_heartbeat_ms is not None else None,
            healthy=s.healthy,
            detail=s.detail,
            silent_after_s=s.silent_after_s,
            silent=s.silent,
        )
        for s in platform.health.states_for(principal, principal.agency_id)
    ]


@router.patch("/{external_id:path}", status_code=204, responses={403: {}, 404: {}, 422: {}})
def configure_camera(external_id: VendorCamera, body: SilentIn, platform: PlatformDep, principal: PrincipalDep) -> None:
    """Set a camera's silent interval (admin; audited)."""
    agency = platform.registry.agency_by_id(principal.agency_id)
    platform.health.configure(principal.actor, agency, external_id, body.silent_after_s)


@router.get("/quarantine", response_model=list[PendingOut], responses={403: {}})
def quarantine(platform: PlatformDep, principal: PrincipalDep) -> list[PendingOut]:
    """Vendor camera ids your agency has not registered, with the reads held for each (admin)."""
    return [
        PendingOut(
            vendor_camera=p.vendor_camera,
            reads=p.reads,
            first_received=iso_ms(p.first_received_ms),
            last_received=iso_ms(p.last_received_ms),
            sources=list(p.sources),
        )
        for p in platform.quarantine.pending(principal.actor, principal.agency_slug)
    ]


@router.post("/quarantine/{vendor_camera:path}/map", response_model=ReleaseOut, responses={403: {}, 404: {}, 409: {}})
async def map_camera(
    vendor_camera: VendorCamera, body: MapIn, platform: PlatformDep, principal: PrincipalDep
) -> ReleaseOut:
    """Map a vendor camera id onto a registered camera and release its held reads with their original times
    (admin; audited). Later reads from that vendor id are stored as that camera's."""
    release = await run_in_threadpool(
        platform.quarantine.map, principal.actor, principal.agency_slug, vendor_camera, body.camera
    )
    return _release_out(release)


@router.post(
    "/quarantine/{vendor_camera:path}/approve", response_model=ReleaseOut, responses={403: {}, 409: {}, 422: {}}
)
async def approve_camera(
    vendor_camera: VendorCamera, body: ApproveIn, platform: PlatformDep, principal: PrincipalDep
) -> ReleaseOut:
    """Register a vendor camera id as a new camera of your agency and release its held reads (admin; audited)."""
    release = await run_in_threadpool(
        lambda: platform.quarantine.approve(
            principal.actor,
            principal.agency_slug,
            vendor_camera,
            name=body.name,
            mobile=body.mobile,
            lat=body.lat,
            lon=body.lon,
        )
    )
    return _release_out(release)
