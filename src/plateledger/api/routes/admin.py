"""Sign-in, tokens, cameras and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from plateledger.api.deps import ClientDep, PlatformDep, PrincipalDep
from plateledger.api.schemas import CameraIn, CameraOut, LoginIn, TokenIn, TokenOut, VerifyOut
from plateledger.auth.tokens import Principal
from plateledger.core.clock import iso_ms
from plateledger.core.errors import PermissionDenied
from plateledger.vocab import Role

router = APIRouter(prefix="/api/v1")


def _require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise PermissionDenied(f"a {principal.role.value} token cannot do this; needs {', '.join(roles)}")


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


@router.get("/cameras", response_model=list[CameraOut], tags=["cameras"])
def list_cameras(platform: PlatformDep, principal: PrincipalDep) -> list[CameraOut]:
    _require(principal, Role.ADMIN, Role.INVESTIGATOR, Role.AUDITOR)
    return [CameraOut(**c.__dict__) for c in platform.registry.cameras(principal.agency_id)]


@router.post("/cameras", response_model=CameraOut, status_code=201, tags=["cameras"], responses={409: {}})
def add_camera(body: CameraIn, platform: PlatformDep, principal: PrincipalDep) -> CameraOut:
    """Register a camera of your agency (admin)."""
    _require(principal, Role.ADMIN)
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
) -> list[dict[str, Any]]:
    """Audit entries of your agency's users (admin, auditor)."""
    _require(principal, Role.ADMIN, Role.AUDITOR)
    return [
        {
            "seq": e.seq,
            "ts": iso_ms(e.ts_ms),
            "action": e.action,
            "actor": e.actor_username,
            "client": e.client,
            "purpose": e.purpose,
            "case_number": e.case_number,
            "outcome": e.outcome,
            "params": e.params,
            "counts": e.counts,
            "hash": e.hash,
        }
        for e in platform.audit.entries(after_seq=after_seq, limit=limit, agency_id=principal.agency_id)
    ]


@router.get("/audit/verify", response_model=VerifyOut, tags=["audit"])
def audit_verify(platform: PlatformDep, principal: PrincipalDep) -> VerifyOut:
    _require(principal, Role.ADMIN, Role.AUDITOR)
    result = platform.audit.verify()
    return VerifyOut(**result.__dict__)
