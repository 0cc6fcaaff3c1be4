"""Request dependencies: the platform and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plateledger.api.redact import redact_path
from plateledger.auth.tokens import Principal
from plateledger.platform import Platform


async def get_platform(request: Request) -> Platform:
    """``async`` on purpose: it does no I/O, and a plain ``def`` dependency costs a hop through the threadpool
    on every request."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def get_principal(request: Request, platform: PlatformDep) -> Principal:
    """Authenticate the bearer token; a refusal is audited before the 401 goes out."""
    return platform.tokens.authenticate(bearer(request), where=f"{request.method} {redact_path(request.url.path)}")


PrincipalDep = Annotated[Principal, Depends(get_principal)]
