"""Request dependencies: the platform and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plateledger.api.redact import redact_path
from plateledger.auth.client import client_address, networks
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


def client_of(request: Request, platform: Platform) -> str | None:
    """The request's client address for the audit log and the sign-in lockout: the socket peer, or
    ``X-Forwarded-For`` when the peer is one of ``trusted_proxies`` (:mod:`plateledger.auth.client`)."""
    peer = request.client.host if request.client else None
    trusted = networks(tuple(platform.settings.trusted_proxies))
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def get_client(request: Request, platform: PlatformDep) -> str | None:
    return client_of(request, platform)


ClientDep = Annotated[str | None, Depends(get_client)]


def get_principal(request: Request, platform: PlatformDep) -> Principal:
    """Authenticate the bearer token (the principal carries the request's client address); a refusal is audited
    before the 401 goes out."""
    where = f"{request.method} {redact_path(request.url.path)}"
    return platform.tokens.authenticate(bearer(request), where=where, client=client_of(request, platform))


PrincipalDep = Annotated[Principal, Depends(get_principal)]
