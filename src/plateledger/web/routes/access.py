"""What auditors and admins read: the agency's access log (who searched its data; each view audited by
``platform.access_log``) and the audit browser (the entries of the agency's own users, the chain's verification,
and an export that is itself audited)."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.audit.events import AuditExported, event_classes
from plateledger.audit.log import entry_fields
from plateledger.auth.sessions import SignedIn
from plateledger.core.errors import FieldInvalid, PermissionDenied
from plateledger.platform import Platform
from plateledger.reports.access_log import MAX_LIMIT, entry_json
from plateledger.search.engine import parse_time
from plateledger.store.models import AuditEntry
from plateledger.vocab import Role
from plateledger.web.render import page
from plateledger.web.routes.search import utc
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 200
ACTIONS = sorted(cls.action for cls in event_classes())


def _parse_time(text: str, name: str) -> int | None:
    return parse_time(utc(text), name)


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
        since_ms=_parse_time(since, "since"),
        until_ms=_parse_time(until, "until"),
        outcome=outcome or None,
    )
    entries = [entry_json(e) for e in reversed(log.entries)]
    filters = {"since": since, "until": until, "outcome": outcome}
    return page(request, "access_log.html", signed, entries=entries, next_after=log.next_after_seq, filters=filters)


def _require_auditor(signed: SignedIn) -> None:
    if signed.principal.role not in (Role.ADMIN, Role.AUDITOR):
        raise PermissionDenied("only the agency's admins and auditors may read its audit entries")


def _entries(platform: Platform, signed: SignedIn, action: str, after_seq: int) -> list[AuditEntry]:
    if action and action not in ACTIONS:
        raise FieldInvalid("action", "one of the audit event types in docs/audit.md")
    return platform.audit.entries(
        after_seq=after_seq, limit=AUDIT_PAGE, action=action or None, agency_id=signed.principal.agency_id
    )


@router.get("/ui/audit")
def audit_browser(
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    action: Annotated[str, Query(max_length=64)] = "",
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    _require_auditor(signed)
    entries = _entries(platform, signed, action, after_seq)
    chain = platform.audit.verify()
    more = entries[-1].seq if len(entries) == AUDIT_PAGE else None
    return page(
        request, "audit.html", signed, entries=entries, chain=chain, actions=ACTIONS, action=action, next_after=more
    )


@router.post("/ui/audit/export.jsonl")
async def audit_export(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """The filtered page as JSON lines (with hashes, so the chain can be checked), audited before it is sent."""
    form = await checked_form(request, platform, signed)
    _require_auditor(signed)
    action, after = field(form, "action"), field(form, "after_seq") or "0"
    if not after.isdigit():
        raise FieldInvalid("after_seq", "a whole number")
    entries = _entries(platform, signed, action, int(after))
    filters = {"action": action or None, "after_seq": int(after)}
    platform.audit.append(signed.principal.actor, AuditExported(filters=filters, entries=len(entries)))
    body = b"".join(orjson.dumps({**entry_fields(e), "hash": e.hash}) + b"\n" for e in entries)
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="plateledger-audit.jsonl"'},
    )
