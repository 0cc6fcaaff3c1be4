"""The audit log's public Merkle tree files (C2SP tlog-tiles): hash tiles and entry bundles, no token needed.

Leaves hold public parts only (docs/audit.md, "Leaves and tiles"); what a verifier checks them against is the
signed checkpoint.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from plateledger.api.deps import PlatformDep

router = APIRouter(tags=["log"])

TilePath = Annotated[
    str,
    Path(
        max_length=200,
        description="`<L>/<N>[.p/<W>]` (hash tile of level L) or `entries/<N>[.p/<W>]` (entry bundle), N in the "
        "tlog-tiles `x001/234` form",
    ),
]


@router.get(
    "/log/tile/{path:path}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
def log_tile(path: TilePath, platform: PlatformDep) -> Response:
    """A hash tile or entry bundle of the audit log's Merkle tree (public; no token). Full ones are cached for
    a year (they never change), partial ones briefly; 404 for anything beyond the tree."""
    served = platform.log_files.file(f"tile/{path}")
    return Response(
        served.body,
        media_type=served.content_type,
        headers={"Cache-Control": served.cache_control, "X-Content-Type-Options": "nosniff"},
    )
