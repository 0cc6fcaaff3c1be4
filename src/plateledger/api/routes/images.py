"""GET /api/v1/images/{owner}/{read_id}/{kind}: a read's image, only through the policy gate (like a search)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.openapi import REQUIRED
from plateledger.api.vocabulary import ImageKindName, ImageSizeName, PurposeName
from plateledger.search.image import ImageAsk

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/images/{owner}/{read_id}/{kind}",
    response_class=Response,
    summary="A read's plate crop or overview image, for a purpose and case (decided and audited like a search)",
    responses={200: {"content": {"image/jpeg": {}}}, 403: {}, 404: {}, 422: {}},
)
async def get_image(
    platform: PlatformDep,
    principal: PrincipalDep,
    owner: Annotated[str, Path(max_length=64, description="The read's owner agency (slug)")],
    read_id: Annotated[str, Path(max_length=64, description="The read's id, as search results give it")],
    kind: Annotated[ImageKindName, Path(max_length=16, description="plate or overview")],
    purpose: Annotated[PurposeName | None, Query(max_length=64, json_schema_extra=REQUIRED)] = None,
    case_number: Annotated[str | None, Query(max_length=64, json_schema_extra=REQUIRED)] = None,
    warrant: Annotated[str | None, Query(max_length=64)] = None,
    size: Annotated[
        ImageSizeName, Query(max_length=16, description="full (as stored) or thumb (a small JPEG of it)")
    ] = "full",
) -> Response:
    """The gate decides the read the image belongs to exactly as for a plate search; the access is on the audit
    log (``image.viewed``) before the bytes are sent. A thumbnail is decided and audited like the full image."""
    ask = ImageAsk(owner, read_id, kind, purpose, case_number, warrant, size)
    viewed = await run_in_threadpool(platform.image_views.view, principal, ask)
    return Response(
        viewed.data,
        media_type=viewed.content_type,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "X-Audit-Seq": str(viewed.audit_seq),
        },
    )
