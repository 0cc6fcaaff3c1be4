"""A read's images for the pages (the thumbnails of a search answer and the read detail's full images): the same
library function as ``GET /api/v1/images/...`` (``platform.image_views.view``), under the purpose and case of the
search the page shows. The gate decides each view as a search of that read and audits it before the bytes leave
(``image.viewed``, or ``search.refused``); a made-up or forbidden read is the same 404 (the error page) as in the
API. The session cookie is SameSite=Strict, so another site cannot have a signed-in browser fetch one."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from plateledger.appstate import PlatformDep
from plateledger.platform import Platform
from plateledger.search.engine import SearchResult
from plateledger.search.image import ImageAsk
from plateledger.web.security import SessionDep

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Path(max_length=64)]


def link_images(platform: Platform, result: SearchResult, rows: list[dict[str, Any]]) -> None:
    """Give each row of an answer (``rows``: its reads as :func:`read_json` gives them, in order) with an image
    the addresses of its images (``images``: kind, ``thumb`` and ``full``; the plate crop first, whose thumbnail
    the table shows), under the answer's purpose, case and warrant. A read without one gets none: no request, no
    audit entry, no broken image."""
    linked = platform.image_views.linked(result)
    under = {"purpose": result.purpose, "case_number": result.case_number}
    if result.warrant:
        under["warrant"] = result.warrant
    for row, read in zip(rows, result.reads, strict=True):
        owner = result.owner_slugs.get(read.owner, str(read.owner))
        kinds = linked.get((owner, read.read_id), ())
        if kinds:
            base = f"/ui/images/{quote(owner, safe='')}/{quote(read.read_id, safe='')}"
            row["images"] = [
                {
                    "kind": kind,
                    "thumb": f"{base}/{kind}?" + urlencode({**under, "size": "thumb"}),
                    "full": f"{base}/{kind}?" + urlencode(under),
                }
                for kind in kinds
            ]


@router.get("/ui/images/{owner}/{read_id}/{kind}")
async def image(
    owner: Text,
    read_id: Text,
    kind: Text,
    platform: PlatformDep,
    signed: SessionDep,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    case_number: Annotated[str | None, Query(max_length=64)] = None,
    warrant: Annotated[str | None, Query(max_length=64)] = None,
    size: Annotated[str, Query(max_length=16)] = "full",
) -> Response:
    ask = ImageAsk(owner, read_id, kind, purpose, case_number, warrant, size)
    viewed = await run_in_threadpool(platform.image_views.view, signed.principal, ask)
    return Response(
        viewed.data,
        media_type=viewed.content_type,
        headers={
            "Cache-Control": "no-store",  # each view is an audited access: the browser keeps no copy to show later
            "X-Content-Type-Options": "nosniff",
            "X-Audit-Seq": str(viewed.audit_seq),
        },
    )
