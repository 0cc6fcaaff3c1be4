"""Request dependencies of the API routes: the platform (``appstate``'s, shared with the UI) and the authenticated
principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plateledger.api.redact import redact_path
from plateledger.appstate import ClientDep as ClientDep
from plateledger.appstate import PlatformDep as PlatformDep
from plateledger.appstate import client_of
from plateledger.auth.tokens import Principal


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def get_principal(request: Request, platform: PlatformDep) -> Principal:
    """Authenticate the bearer token (the principal carries the request's client address); a refusal is audited
    before the 401 goes out."""
    where = f"{request.method} {redact_path(request.url.path)}"
    return platform.tokens.authenticate(bearer(request), where=where, client=client_of(request, platform))


PrincipalDep = Annotated[Principal, Depends(get_principal)]
