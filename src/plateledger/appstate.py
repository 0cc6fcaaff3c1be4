"""What the HTTP app holds for its doors: the opened :class:`~plateledger.platform.Platform`.

``create_app`` (``app.py``) puts the platform in ``app.state``; API routes and UI pages read it through
:data:`PlatformDep`, and the request's client address through :data:`ClientDep`. It lives here, below both ``api``
and ``web``, so neither door imports the other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plateledger.auth.client import client_address, networks
from plateledger.platform import Platform


async def get_platform(request: Request) -> Platform:
    """``async`` on purpose: it does no I/O, and a plain ``def`` dependency costs a hop through the threadpool
    on every request."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def client_of(request: Request, platform: Platform) -> str | None:
    """The request's client address for the audit log and the sign-in lockout: the socket peer, or
    ``X-Forwarded-For`` when the peer is one of ``trusted_proxies`` (:mod:`plateledger.auth.client`)."""
    peer = request.client.host if request.client else None
    trusted = networks(tuple(platform.settings.trusted_proxies))
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def get_client(request: Request, platform: PlatformDep) -> str | None:
    return client_of(request, platform)


ClientDep = Annotated[str | None, Depends(get_client)]
