"""An owner's access log: every search that touched the agency's data or was refused it (its admins and auditors)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.report_schemas import AccessLogOut
from plateledger.auth.tokens import Principal
from plateledger.platform import Platform
from plateledger.reports.access_log import MAX_LIMIT, page_json
from plateledger.search.engine import parse_time

router = APIRouter(prefix="/api/v1", tags=["access log"])

AfterSeq = Annotated[int, Query(ge=0, le=2**63 - 1, description="Entries after this audit sequence number")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most entries to return")]
Since = Annotated[str | None, Query(description="ISO 8601 with a time zone (inclusive)")]
Until = Annotated[str | None, Query(description="ISO 8601 with a time zone (exclusive)")]
Outcome = Annotated[
    Literal["permitted", "withheld"] | None, Query(description="Only searches that were permitted or withheld")
]


def _page(
    platform: Platform,
    principal: Principal,
    agency: str,
    after_seq: int,
    limit: int,
    since: str | None,
    until: str | None,
    outcome: str | None,
) -> AccessLogOut:
    page = platform.access_log.view(
        principal,
        agency,
        after_seq=after_seq,
        limit=limit,
        since_ms=parse_time(since, "since"),
        until_ms=parse_time(until, "until"),
        outcome=outcome,
    )
    return AccessLogOut.model_validate(page_json(page))


@router.get("/agencies/{agency}/access-log", response_model=AccessLogOut, responses={403: {}, 404: {}, 422: {}})
def agency_access_log(
    agency: Annotated[str, Path(max_length=64, description="The owner agency's slug")],
    platform: PlatformDep,
    principal: PrincipalDep,
    after_seq: AfterSeq = 0,
    limit: Limit = 100,
    since: Since = None,
    until: Until = None,
    outcome: Outcome = None,
) -> AccessLogOut:
    """Every search by anyone that touched this agency's reads or was refused them, oldest first: when, the
    requesting agency and user, purpose, case, query kind and parameters, reads returned from this agency or the
    rule that withheld them. For the agency's own admins and auditors; each view is audited."""
    return _page(platform, principal, agency, after_seq, limit, since, until, outcome)


@router.get("/access-log", response_model=AccessLogOut, responses={403: {}, 422: {}})
def own_access_log(
    platform: PlatformDep,
    principal: PrincipalDep,
    after_seq: AfterSeq = 0,
    limit: Limit = 100,
    since: Since = None,
    until: Until = None,
    outcome: Outcome = None,
) -> AccessLogOut:
    """The access log of the caller's own agency (as `/agencies/{agency}/access-log`)."""
    return _page(platform, principal, principal.agency_slug, after_seq, limit, since, until, outcome)
