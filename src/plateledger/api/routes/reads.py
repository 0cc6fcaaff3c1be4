"""POST /api/v1/reads: canonical reads from a device token's agency."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import IngestOut, IngestWarning, Rejection
from plateledger.ingest.expiring import warnings

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


def declared_length(request: Request) -> int | None:
    """The body length the request declares (``Content-Length``), if it declares one."""
    declared = request.headers.get("content-length")
    return int(declared) if declared and declared.isdigit() else None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read up to one byte more than ``limit``, so that a larger body is never held in memory
    (the library refuses, and audits, a body over its limit); a body declared larger is not read at all."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        return b""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            break
    return bytes(body[: limit + 1])


@router.post(
    "/reads",
    response_model=IngestOut,
    summary="Ingest a JSON array of canonical reads (at most max_batch_reads)",
    responses={400: {}, 401: {}, 403: {}, 413: {}},
    openapi_extra=READS_BODY,
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
    body = await read_body(request, platform.settings.max_body_bytes)
    # Synchronous store work runs in the threadpool so the event loop stays free.
    store = platform.quarantine.store_block if quarantine_unknown else None
    result = await run_in_threadpool(
        partial(platform.ingest.ingest_json_body, principal, body, declared=declared_length(request), store=store)
    )
    return IngestOut(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected_count=len(result.rejected),
        rejected=[Rejection(index=i, reason=r) for i, r in result.rejected],
        quarantined=result.quarantined,
        warnings=[IngestWarning(code=w.code, count=w.count, detail=w.message()) for w in warnings(result)],
    )
