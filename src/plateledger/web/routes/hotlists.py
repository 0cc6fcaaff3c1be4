"""Hot lists: the agency's lists, a list's entries (expiry shown; expired entries no longer match), adding and
removing entries by hand, and importing a file with its per-line report. Calls ``platform.hotlists`` and the
importer exactly as the API's hot-list routes do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.core import zones
from plateledger.core.clock import parse_iso_ms
from plateledger.core.errors import FieldInvalid, ImportRefused
from plateledger.hotlists.importer import ImportRequest, add_entries, remove_entries
from plateledger.hotlists.imports import Format
from plateledger.platform import Platform
from plateledger.web.paging import PAGE_SIZE, OffsetQuery, SizeQuery, pager
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
ListId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/ui/hotlists")
def lists(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    views = [v.as_json() for v in platform.hotlists.listing(signed.principal)]
    return page(request, "hotlists.html", signed, lists=views)


@router.post("/ui/hotlists")
async def create(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    viewers = [v.strip() for v in field(form, "viewers").split(",") if v.strip()]
    view = platform.hotlists.create(
        signed.principal,
        name=field(form, "name"),
        default_purpose=field(form, "default_purpose"),
        alert_level=field(form, "alert_level") or "medium",
        visibility=field(form, "visibility") or "private",
        covert=field(form, "covert") == "yes",
        viewers=viewers,
        match_confusable=field(form, "match_confusable") == "yes",
    )
    return see_other(f"/ui/hotlists/{view.id}")


def _list_page(
    request: Request,
    platform: Platform,
    signed: SignedIn,
    list_id: int,
    report: dict[str, Any] | None = None,
    *,
    offset: int = 0,
    size: int = PAGE_SIZE,
) -> Response:
    view = platform.hotlists.get(signed.principal, list_id)
    now = platform.clock.now_ms()
    entries, total = platform.hotlists.entries_page(signed.principal, list_id, offset=offset, limit=size)
    for entry in entries:
        entry["expired"] = parse_iso_ms(entry["expires"]) <= now
    formats = [f.value for f in Format]
    status = 422 if report and report.get("refused") else 200
    return page(
        request,
        "hotlist.html",
        signed,
        status=status,
        hot=view.as_json(),
        entries=entries,
        report=report,
        formats=formats,
        pager=pager(request, offset=offset, size=size, shown=len(entries), total=total),
    )


@router.get("/ui/hotlists/{list_id}")
def one_list(
    list_id: ListId,
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    offset: OffsetQuery = 0,
    size: SizeQuery = PAGE_SIZE,
) -> Response:
    return _list_page(request, platform, signed, list_id, offset=offset, size=size)


@router.post("/ui/hotlists/{list_id}/entries")
async def add(list_id: ListId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    body = {name: field(form, name) or None for name in ("plate", "region", "purpose", "reference", "reason")}
    body["expires"] = zones.typed(field(form, "expires"), signed.principal.time_zone)
    add_entries(platform.hotlists, signed.principal, list_id, [body])
    return see_other(f"/ui/hotlists/{list_id}")


@router.post("/ui/hotlists/{list_id}/remove")
async def remove(list_id: ListId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    remove_entries(platform.hotlists, signed.principal, list_id, [field(form, "plate")])
    return see_other(f"/ui/hotlists/{list_id}")


@router.post("/ui/hotlists/{list_id}/import")
async def import_file(list_id: ListId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """A file upload; the page shows the importer's report line by line, whether it was applied or refused."""
    form = await checked_form(request, platform, signed)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FieldInvalid("file", "choose a file to import")
        data = await upload.read(platform.imports.max_bytes + 1)
    finally:
        await form.close()
    ask = ImportRequest(
        format=field(form, "format"),
        mode=field(form, "mode") or "incremental",
        skip_invalid=field(form, "skip_invalid") == "yes",
        source="web",
        purpose=field(form, "purpose") or None,
        reference=field(form, "reference") or None,
        reason=field(form, "reason") or None,
        filename=upload.filename,
    )
    try:
        report = await run_in_threadpool(platform.imports.run, signed.principal, list_id, data, ask)
        report["refused"] = ""
    except ImportRefused as refused:
        report = {**refused.report, "refused": refused.detail}
    return _list_page(request, platform, signed, list_id, report=report)
