"""What auditors and admins read: the agency's access log (who searched its data; each view audited by
``platform.access_log``) and the audit browser (the entries of the agency's own users, the chain's verification,
and an export that is itself audited)."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.audit.events import event_classes
from plateledger.core import zones
from plateledger.core.errors import FieldInvalid
from plateledger.reports.access_log import MAX_LIMIT, entry_json
from plateledger.reports.audit_export import export_bytes
from plateledger.search.engine import parse_time
from plateledger.web.paging import link
from plateledger.web.render import page
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 200
ACTIONS = sorted(cls.action for cls in event_classes())


def _parse_time(text: str, name: str, time_zone: str | None) -> int | None:
    """A time from the filter form, typed in the user's zone (the form's label names it)."""
    return parse_time(zones.typed(text, time_zone), name)


@router.get("/ui/access-log")
def access_log(
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    outcome: Literal["", "permitted", "withheld"] = "",
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    principal = signed.principal
    log = platform.access_log.view(
        principal,
        principal.agency_slug,
        after_seq=after_seq,
        limit=MAX_LIMIT // 10,
        since_ms=_parse_time(since, "since", principal.time_zone),
        until_ms=_parse_time(until, "until", principal.time_zone),
        outcome=outcome or None,
    )
    entries = [entry_json(e) for e in reversed(log.entries)]
    filters = {"since": since, "until": until, "outcome": outcome}
    later = link(request, after_seq=log.next_after_seq) if log.next_after_seq else ""
    return page(request, "access_log.html", signed, entries=entries, later=later, filters=filters)


@router.get("/ui/audit")
def audit_browser(
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    action: Annotated[str, Query(max_length=64)] = "",
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    listed = platform.audit_entries.listing(
        signed.principal, signed.principal.agency_id, after_seq=after_seq, limit=AUDIT_PAGE, action=action or None
    )
    chain = platform.audit_entries.verify(signed.principal)
    return page(
        request,
        "audit.html",
        signed,
        entries=listed.entries,
        chain=chain,
        actions=ACTIONS,
        action=action,
        later=link(request, after_seq=listed.next_after_seq) if listed.next_after_seq else "",
    )


@router.post("/ui/audit/export.jsonl")
async def audit_export(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """The filtered page as JSON lines (with hashes, so the chain can be checked), audited before it is sent."""
    form = await checked_form(request, platform, signed)
    action, after = field(form, "action"), field(form, "after_seq") or "0"
    if not after.isdigit():
        raise FieldInvalid("after_seq", "a whole number")
    listed = platform.audit_entries.listing(
        signed.principal,
        signed.principal.agency_id,
        after_seq=int(after),
        limit=AUDIT_PAGE,
        action=action or None,
        export=True,
    )
    body = b"".join(orjson.dumps(e.stored) + b"\n" for e in listed.entries)
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="plateledger-audit.jsonl"'},
    )


@router.post("/ui/audit/month-export.json")
async def audit_month_export(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """A month of the agency's users' entries with their leaves, private parts and salts (the audit export
    ``plateledger-verify check-export`` reads), audited before it is sent."""
    form = await checked_form(request, platform, signed)
    month = field(form, "month")
    principal = signed.principal
    body = export_bytes(platform.audit_exports.export(principal, principal.agency_slug, month))
    disposition = f'attachment; filename="plateledger-audit-{principal.agency_slug}-{month}.json"'
    return Response(body, media_type="application/json", headers={"Content-Disposition": disposition})
