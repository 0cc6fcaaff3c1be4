"""Hot lists of the caller's agency: /api/v1/hotlists/... (admins and investigators; a covert list is 404 to
everyone but its creator and named viewers)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.hotlist_schemas import ChangeOut, EntriesIn, EntryOut, HotListIn, HotListOut, ImportOut, RemoveIn
from plateledger.api.routes.reads import declared_length, read_body
from plateledger.api.vocabulary import ImportFormatName, ImportModeName, PurposeName
from plateledger.hotlists.importer import ImportRequest, add_entries, remove_entries

router = APIRouter(prefix="/api/v1/hotlists", tags=["hotlists"])
ListId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 422: {}}


@router.post("", response_model=HotListOut, status_code=201, responses=ERRORS)
def create_list(body: HotListIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Create a hot list of your agency (admin or investigator). Audited."""
    view = platform.hotlists.create(
        principal,
        name=body.name,
        default_purpose=body.default_purpose,
        alert_level=body.alert_level,
        visibility=body.visibility,
        covert=body.covert,
        viewers=body.viewers,
    )
    return view.as_json()


@router.get("", response_model=list[HotListOut], responses={403: {}})
def list_lists(platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Your agency's hot lists that you may see."""
    return [view.as_json() for view in platform.hotlists.listing(principal)]


@router.get("/{list_id}", response_model=HotListOut, responses=ERRORS)
def get_list(list_id: ListId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return platform.hotlists.get(principal, list_id).as_json()


@router.get("/{list_id}/entries", response_model=list[EntryOut], responses=ERRORS)
def list_entries(
    list_id: ListId,
    platform: PlatformDep,
    principal: PrincipalDep,
    include_removed: Annotated[bool, Query(description="Also entries removed or replaced")] = False,
) -> list[dict[str, Any]]:
    """The list's entries (live ones, unless `include_removed`), expired ones included with their expiry."""
    return platform.hotlists.entries(principal, list_id, include_removed=include_removed)


@router.post("/{list_id}/entries", response_model=ChangeOut, status_code=201, responses=ERRORS)
def post_entries(list_id: ListId, body: EntriesIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, int]:
    """Add entries, all or none: an invalid entry is refused naming it and its field. Audited."""
    entries = [e.model_dump() for e in body.entries]
    return add_entries(platform.hotlists, principal, list_id, entries)


@router.delete("/{list_id}/entries/{plate}", response_model=ChangeOut, responses=ERRORS)
def delete_entry(
    list_id: ListId, plate: Annotated[str, Path(max_length=32)], platform: PlatformDep, principal: PrincipalDep
) -> dict[str, int]:
    """Remove the live entry (or entries) of one plate or pattern. Audited."""
    return remove_entries(platform.hotlists, principal, list_id, [plate])


@router.post("/{list_id}/entries/remove", response_model=ChangeOut, responses=ERRORS)
def remove_many(list_id: ListId, body: RemoveIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, int]:
    """Remove the live entries of these plates or patterns, in one transaction. Audited."""
    return remove_entries(platform.hotlists, principal, list_id, body.plates)


IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The hot-list file, as its source writes it (`format` says which)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/{list_id}/import", response_model=ImportOut, responses={**ERRORS, 400: {}, 413: {}}, openapi_extra=IMPORT_BODY
)
async def import_file(
    list_id: ListId,
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    format: Annotated[ImportFormatName, Query(description="csv, ncic, ca-doj or genetec", max_length=16)],
    mode: Annotated[ImportModeName, Query(description="complete (replace the list) or incremental", max_length=16)],
    skip_invalid: Annotated[bool, Query(description="Apply the valid lines; the rejected count is audited")] = False,
    purpose: Annotated[PurposeName | None, Query(description="Purpose of lines that carry none", max_length=64)] = None,
    reference: Annotated[str | None, Query(description="Reference of lines that carry none", max_length=64)] = None,
    reason: Annotated[str | None, Query(description="Reason of lines that carry none", max_length=500)] = None,
    expires: Annotated[str | None, Query(description="Expiry of lines that carry none", max_length=40)] = None,
    expiry_days: Annotated[int | None, Query(ge=1, le=3650, description="Instead of `expires`: days")] = None,
    country: Annotated[str, Query(description="Country of two-letter states", max_length=2)] = "US",
    delimiter: Annotated[str, Query(description="genetec: ; , : or tab", max_length=3)] = ";",
    columns: Annotated[str | None, Query(description="genetec: PlateNumber=3,PlateState=2,...", max_length=300)] = None,
    kind: Annotated[str | None, Query(description="ca-doj: svs, sfr or slr", max_length=8)] = None,
    filename: Annotated[str | None, Query(description="The file's name (ca-doj: its kind)", max_length=200)] = None,
) -> dict[str, Any]:
    """Import a hot-list file sent as the raw request body. Every line is validated first; if any is invalid the
    import is refused whole (422, `report` lists each line, field and reason) unless `skip_invalid`. A complete
    import replaces the list, an incremental one adds or updates by plate; one transaction either way."""
    data = await read_body(request, platform.imports.max_bytes)
    ask = ImportRequest(
        format=format,
        mode=mode,
        skip_invalid=skip_invalid,
        source="api",
        purpose=purpose,
        reference=reference,
        reason=reason,
        expires=expires,
        expiry_days=expiry_days,
        country=country,
        delimiter=delimiter,
        columns=columns,
        kind=kind,
        filename=filename,
    )
    return await run_in_threadpool(
        partial(platform.imports.run, principal, list_id, data, ask, declared=declared_length(request))
    )
