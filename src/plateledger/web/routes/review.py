"""Oversight review: the queue of flags on the agency's users' searches, one flag with its evidence and the
decision form, and the case register (list, add, CSV import). Calls ``platform.review`` and ``platform.cases``
exactly as the API's oversight routes do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from plateledger.appstate import PlatformDep
from plateledger.core.errors import FieldInvalid
from plateledger.review.register import MAX_IMPORT_BYTES, make_case
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
FlagId = Annotated[int, Path(ge=1, le=2**53)]


@router.get("/ui/oversight")
def queue(request: Request, platform: PlatformDep, signed: SessionDep, status: str = "queue") -> Response:
    me = signed.principal
    answer = platform.review.queue(me, me.agency_slug, status=status)
    return page(request, "oversight.html", signed, queue=answer)


@router.get("/ui/oversight/flags/{flag_id}")
def one_flag(flag_id: FlagId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    me = signed.principal
    return page(request, "oversight_flag.html", signed, flag=platform.review.flag(me, me.agency_slug, flag_id))


@router.post("/ui/oversight/flags/{flag_id}")
async def decide(flag_id: FlagId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    me = signed.principal
    platform.review.decide(me, me.agency_slug, flag_id, field(form, "decision"), field(form, "note"))
    return see_other(f"/ui/oversight/flags/{flag_id}")


@router.get("/ui/oversight/cases")
def cases(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    me = signed.principal
    listed = [c.as_json() for c in platform.cases.listing(me, me.agency_slug)]
    return page(request, "cases.html", signed, cases=listed)


@router.post("/ui/oversight/cases")
async def add_case(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    me = signed.principal
    case = make_case(field(form, "case_number"), field(form, "opened"), field(form, "closed"), field(form, "unit"))
    platform.cases.put(me, me.agency_slug, [case])
    return see_other("/ui/oversight/cases")


@router.post("/ui/oversight/cases/import")
async def import_cases(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FieldInvalid("file", "choose a CSV file to import")
        data = await upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        await form.close()
    me = signed.principal
    await run_in_threadpool(platform.cases.import_csv, me, me.agency_slug, data, source=upload.filename)
    return see_other("/ui/oversight/cases")
