"""Sign-in, tokens, cameras and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from plateledger.api.deps import ClientDep, PlatformDep, PrincipalDep
from plateledger.api.schemas import CameraIn, CameraOut, LoginIn, MeOut, TimeZoneIn, TokenIn, TokenOut, VerifyOut
from plateledger.core.clock import iso_ms
from plateledger.reports.audit_export import export_bytes

router = APIRouter(prefix="/api/v1")


@router.post("/auth/login", response_model=TokenOut, tags=["auth"], responses={401: {}})
def login(body: LoginIn, platform: PlatformDep, client: ClientDep) -> TokenOut:
    """Exchange a username and password for a bearer token (success and failure are audited). Every refusal
    (unknown user, wrong password, too many failures from this address) gets the same 401."""
    _, issued = platform.tokens.login(body.username, body.password, client=client)
    return TokenOut(token_id=issued.token_id, token=issued.secret, expires=iso_ms(issued.expires_ms))


@router.post("/tokens", response_model=TokenOut, status_code=201, tags=["auth"], responses={403: {}, 404: {}})
def create_token(body: TokenIn, platform: PlatformDep, principal: PrincipalDep) -> TokenOut:
    """Create a token for a user of your agency (admins only; at most `token_ttl_days`). Others sign in again."""
    issued = platform.tokens.issue(principal.actor, body.username, label=body.label, ttl_days=body.ttl_days)
    return TokenOut(token_id=issued.token_id, token=issued.secret, expires=iso_ms(issued.expires_ms))


@router.delete("/tokens/{token_id}", status_code=204, tags=["auth"], responses={403: {}, 404: {}})
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2_147_483_647)], platform: PlatformDep, principal: PrincipalDep
) -> None:
    platform.tokens.revoke(principal.actor, token_id)


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(principal: PrincipalDep) -> MeOut:
    """Who the token acts as, and the time zone the web pages use for you (the API's times stay UTC)."""
    return MeOut(
        username=principal.username,
        role=principal.role.value,
        agency=principal.agency_slug,
        time_zone=principal.time_zone,
    )


@router.put("/me/time-zone", response_model=MeOut, tags=["auth"], responses={422: {}})
def set_time_zone(body: TimeZoneIn, platform: PlatformDep, principal: PrincipalDep) -> MeOut:
    """Set the IANA time zone the web pages show and read your times in (null or blank: UTC); audited
    (`user.time_zone_set`). An unknown zone is a 422 naming it."""
    stored = platform.registry.set_time_zone(principal, principal.username, body.time_zone)
    return MeOut(username=principal.username, role=principal.role.value, agency=principal.agency_slug, time_zone=stored)


@router.get("/cameras", response_model=list[CameraOut], tags=["cameras"])
def list_cameras(platform: PlatformDep, principal: PrincipalDep) -> list[CameraOut]:
    return [CameraOut(**c.__dict__) for c in platform.registry.camera_list(principal, principal.agency_id)]


@router.post("/cameras", response_model=CameraOut, status_code=201, tags=["cameras"], responses={409: {}})
def add_camera(body: CameraIn, platform: PlatformDep, principal: PrincipalDep) -> CameraOut:
    """Register a camera of your agency (admin)."""
    camera = platform.registry.add_camera(principal.actor, agency_slug=principal.agency_slug, **body.model_dump())
    return CameraOut(
        external_id=camera.external_id,
        name=camera.name,
        mobile=camera.mobile,
        lat=camera.lat,
        lon=camera.lon,
    )


@router.get("/audit", tags=["audit"])
def audit_entries(
    platform: PlatformDep,
    principal: PrincipalDep,
    after_seq: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64),
) -> dict[str, Any]:
    """Audit entries of your agency's users (admin, auditor; audited), shaped as `plateledger audit list --json`."""
    return platform.audit_entries.listing(
        principal, principal.agency_id, after_seq=after_seq, limit=limit, action=action
    ).as_json()


@router.get("/audit/verify", response_model=VerifyOut, tags=["audit"])
def audit_verify(platform: PlatformDep, principal: PrincipalDep) -> VerifyOut:
    result = platform.audit_entries.verify(principal)
    return VerifyOut(**result.__dict__)


@router.get(
    "/agencies/{agency}/audit-export",
    tags=["audit"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 403: {}, 404: {}, 422: {}},
)
def audit_export(
    agency: Annotated[str, Path(max_length=64, description="The agency's slug")],
    platform: PlatformDep,
    principal: PrincipalDep,
    month: Annotated[str, Query(max_length=7, description="The calendar month (UTC), YYYY-MM")],
) -> Response:
    """A month of the agency's users' audit entries with their Merkle leaves, private parts and salts, for
    `plateledger-verify check-export` (the agency's admins and auditors; audited as `audit.exported`)."""
    body = export_bytes(platform.audit_exports.export(principal, agency, month))
    disposition = f'attachment; filename="plateledger-audit-{agency}-{month}.json"'
    return Response(body, media_type="application/json", headers={"Content-Disposition": disposition})
