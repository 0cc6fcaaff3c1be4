"""Request dependencies of the API routes: the platform (``appstate``'s, shared with the UI) and the authenticated
principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from plateledger.api.redact import redact_path
from plateledger.appstate import ClientDep as ClientDep
from plateledger.appstate import PlatformDep as PlatformDep
from plateledger.appstate import client_of
from plateledger.auth.tokens import Principal
from plateledger.core import timing
from plateledger.core.errors import FieldInvalid


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
    with timing.stage("auth"):
        return platform.tokens.authenticate(bearer(request), where=where, client=client_of(request, platform))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included (by the name a caller sends)."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def refuse_unknown_query(request: Request, principal: PrincipalDep) -> None:
    """A route's query parameters are all it takes: one it does not declare (``make=`` where there is no such
    filter) is refused with a 422 naming it, never silently ignored (after authentication, so an anonymous
    caller learns nothing but 401). ``async``: it does no I/O, and a plain ``def`` costs every search a hop
    through the threadpool."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    for name in request.query_params:
        if name not in known:
            raise FieldInvalid(name[:64], "unknown parameter; this route takes " + ", ".join(sorted(known)))


KnownQuery = Depends(refuse_unknown_query)
