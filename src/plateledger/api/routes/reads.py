"""POST /api/v1/reads: canonical reads from a device token's agency."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import IngestOut, Rejection
from plateledger.audit.events import IngestRefused
from plateledger.core.errors import PayloadTooLarge, PermissionDenied
from plateledger.vocab import Role

router = APIRouter(prefix="/api/v1", tags=["ingest"])

#: The body as the OpenAPI document states it (the route reads it raw, so that a bad read is refused alone).
READS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of canonical reads (ingest contract v1, docs/formats.md)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["plate", "ts", "camera"],
                        "properties": {
                            "read_id": {"type": "string", "maxLength": 64},
                            "plate": {"type": "string", "description": "As read; normalised to A-Z 0-9"},
                            "region": {"type": "string", "description": "ISO 3166-2, e.g. US-CA"},
                            "ts": {
                                "anyOf": [{"type": "string"}, {"type": "integer"}],
                                "description": "ISO 8601 with a zone, or epoch ms",
                            },
                            "camera": {"type": "string", "description": "A camera id of the token's agency"},
                            "lat": {"type": "number"},
                            "lon": {"type": "number"},
                            "confidence": {"type": "number", "description": "0-1 (0-100 is normalised)"},
                            "vehicle": {"type": "object"},
                        },
                    },
                }
            }
        },
    }
}


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
    openapi_extra=READS_BODY,
)
async def post_reads(request: Request, platform: PlatformDep, principal: PrincipalDep) -> IngestOut:
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
    result = await run_in_threadpool(platform.ingest.ingest_json_body, principal.actor, owner, body)
    return IngestOut(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected_count=len(result.rejected),
        rejected=[Rejection(index=i, reason=r) for i, r in result.rejected],
    )
