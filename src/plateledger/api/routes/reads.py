"""POST /api/v1/reads: canonical reads from a device token's agency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import IngestOut, IngestWarning, Rejection
from plateledger.audit.events import IngestRefused
from plateledger.core.errors import PayloadTooLarge, PermissionDenied
from plateledger.ingest.expiring import warnings
from plateledger.vocab import Role

router = APIRouter(prefix="/api/v1", tags=["ingest"])


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
    return bytes(body)


@router.post(
    "/reads",
    response_model=IngestOut,
    summary="Ingest a JSON array of canonical reads (at most max_batch_reads)",
    responses={400: {}, 401: {}, 403: {}, 413: {}},
)
async def post_reads(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    quarantine_unknown: Annotated[
        bool,
        Query(description="Hold reads of cameras the agency has not registered, as the vendor endpoints do"),
    ] = False,
) -> IngestOut:
    """Stores the valid reads; each rejected read comes back with its index and reason. Stored reads are
    on disk and the batch is in the audit log before the response is sent."""
    if principal.role != Role.DEVICE:
        platform.audit.append(principal.actor, IngestRefused(reason="only device tokens may ingest"))
        raise PermissionDenied("only a device token may ingest reads")
    try:
        body = await read_body(request, platform.settings.max_body_bytes)
    except PayloadTooLarge as refusal:
        platform.audit.append(principal.actor, IngestRefused(reason=refusal.detail))
        raise
    owner = platform.registry.agency_by_id(principal.agency_id)
    # Synchronous store work runs in the threadpool so the event loop stays free.
    store = platform.quarantine.store_block if quarantine_unknown else None
    result = await run_in_threadpool(platform.ingest.ingest_json_body, principal.actor, owner, body, store=store)
    return IngestOut(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected_count=len(result.rejected),
        rejected=[Rejection(index=i, reason=r) for i, r in result.rejected],
        quarantined=result.quarantined,
        warnings=[IngestWarning(code=w.code, count=w.count, detail=w.message()) for w in warnings(result)],
    )
