"""POST /api/v1/ingest/{source}: what ALPR equipment sends, as it sends it, through the source's adapter.

Authenticated by a device token in the ``Authorization: Bearer`` header, or, for equipment that cannot set
headers, in the path (``/api/v1/ingest/{source}/{token}``; never logged: see ``api/redact.py``). The body is read
up to one byte over ``max_body_bytes`` and handed to the vendor ingest layer (``cameras/vendor.py``), which checks,
adapts (``plateledger.adapters``) and stores it, and audits every refusal (``ingest.refused``); a refusal is
answered as problem+json naming the field and rule, an accepted payload with what happened to each part of it.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from plateledger.adapters import SOURCES
from plateledger.api.deps import PlatformDep, bearer
from plateledger.api.redact import redact_path
from plateledger.api.routes.reads import declared_length, read_body
from plateledger.api.schemas import Rejection
from plateledger.api.vocabulary import SourceName
from plateledger.auth.tokens import Principal
from plateledger.core.text import MAX_CAMERA_ID
from plateledger.platform import Platform

router = APIRouter(prefix="/api/v1", tags=["ingest"])

#: Headers in which equipment names itself when its body does not (Survision sends its serial number).
CAMERA_HEADERS = ("survision-serial-number",)

SourceParam = Annotated[SourceName, Path(description="Source adapter: " + ", ".join(sorted(SOURCES)), max_length=64)]
CameraParam = Annotated[
    str | None,
    Query(
        description="Camera id for reads whose payload names no camera (e.g. Survision without its serial-number "
        "header)",
        max_length=MAX_CAMERA_ID,
    ),
]


class VendorIngestOut(BaseModel):
    stored: int = Field(description="Reads stored")
    duplicates: int = Field(description="Reads already stored (same read id or camera, time and plate)")
    rejected_count: int
    rejected: list[Rejection] = Field(description="Reads refused: index in the payload's reads, and why")
    quarantined: int = Field(description="Reads held until an admin maps or approves their unknown vendor camera")
    heartbeats: int = Field(description="Camera status messages recorded")
    images: int = Field(description="Images stored with accepted reads")
    ignored: list[str] = Field(description="Parts of the payload not stored, and why (test pings, frames, ...)")
    warnings: list[str] = Field(
        default_factory=list, description="What the sender should know about stored reads (older than retention)"
    )


def _default_camera(request: Request, camera: str | None) -> str | None:
    return camera or next((request.headers[h] for h in CAMERA_HEADERS if request.headers.get(h)), None)


async def _ingest(
    request: Request, platform: Platform, principal: Principal, source: str, camera: str | None
) -> VendorIngestOut:
    body = await read_body(request, platform.settings.max_body_bytes)
    result = await run_in_threadpool(
        partial(
            platform.vendor.receive,
            principal,
            source,
            body,
            content_type=request.headers.get("content-type", ""),
            declared=declared_length(request),
            camera=_default_camera(request, camera),
        )
    )
    return VendorIngestOut(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected_count=len(result.rejected),
        rejected=[Rejection(index=i, reason=r) for i, r in result.rejected],
        quarantined=result.quarantined,
        heartbeats=result.heartbeats,
        images=result.images,
        ignored=result.ignored,
        warnings=result.warnings,
    )


_RESPONSES: dict[int | str, dict[str, object]] = {400: {}, 401: {}, 403: {}, 404: {}, 413: {}, 415: {}, 422: {}}


@router.post(
    "/ingest/{source}",
    response_model=VendorIngestOut,
    summary="Ingest a vendor payload (device token in the Authorization header)",
    responses=_RESPONSES,
)
async def post_vendor(
    request: Request, platform: PlatformDep, source: SourceParam, camera: CameraParam = None
) -> VendorIngestOut:
    """The body exactly as the equipment sends it (JSON, XML or multipart, per source). Reads of cameras the
    agency has not registered are quarantined, not dropped."""
    principal = platform.tokens.authenticate(bearer(request), where=f"POST {redact_path(request.url.path)}")
    return await _ingest(request, platform, principal, source, camera)


@router.post(
    "/ingest/{source}/{token}",
    response_model=VendorIngestOut,
    summary="Ingest a vendor payload, device token in the URL (for equipment that cannot set headers)",
    responses=_RESPONSES,
)
async def post_vendor_url_token(
    request: Request,
    platform: PlatformDep,
    source: SourceParam,
    token: Annotated[str, Path(description="A device token (never logged; revoke it like any token)")],
    camera: CameraParam = None,
) -> VendorIngestOut:
    """Same as ``POST /api/v1/ingest/{source}``. Prefer the header where the equipment allows it: a URL is
    easier to leak (equipment screens, proxies' logs) than a header."""
    principal = platform.tokens.authenticate(token, where=f"POST {redact_path(request.url.path)}")
    return await _ingest(request, platform, principal, source, camera)
