"""The public side: every agency's transparency report, no sign-in (the report page itself is
``/transparency/{agency}``, rendered by :mod:`plateledger.reports.transparency`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from plateledger.appstate import PlatformDep
from plateledger.core.errors import AuthenticationFailed
from plateledger.web.render import page
from plateledger.web.security import SESSION_COOKIE

router = APIRouter(include_in_schema=False)


@router.get("/ui/public")
def public(request: Request, platform: PlatformDep) -> Response:
    try:
        signed = platform.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    except AuthenticationFailed:
        signed = None
    return page(request, "public.html", signed, agencies=platform.registry.agencies())
