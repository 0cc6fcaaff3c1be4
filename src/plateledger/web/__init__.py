"""The web UI: server-rendered pages (Jinja2) with small vanilla JavaScript modules, mounted beside the API in
the one HTTP app (``app.py``), under :data:`UI_PREFIX`.

It is another client of the library: every page calls the same services as the API routes (search engine,
sharing, hot lists, alerts, reports, audit), so the policy gate and the audit log apply unchanged. See
docs/web.md.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from plateledger.auth.sessions import SignedIn
from plateledger.core.errors import PlateledgerError
from plateledger.platform import Platform
from plateledger.web import render
from plateledger.web.compression import CompressedUI
from plateledger.web.routes import (
    access,
    admin,
    alerts,
    approvals,
    cameras,
    hotlists,
    images,
    notify,
    public,
    review,
    search,
    session,
    sharing,
    subjects,
)
from plateledger.web.security import SESSION_COOKIE, SecurityHeaders, SignInRequired, content_security_policy

#: Every UI path starts with this; ``app.py`` answers errors under it with :func:`error_page`.
UI_PREFIX = "/ui/"


def install(app: FastAPI, platform: Platform) -> None:
    """Mount the UI's routes, static assets and sign-in redirect on ``app`` (the one HTTP app)."""
    app.add_middleware(SecurityHeaders, csp=content_security_policy(platform.settings))
    app.add_middleware(CompressedUI)  # outside the security headers: it sees (and sets) the static assets' caching
    app.mount("/ui/static", StaticFiles(directory=str(files("plateledger.web") / "static")), name="ui-static")
    app.mount(
        "/ui/vendor/leaflet",
        StaticFiles(directory=platform.settings.leaflet_dir, check_dir=False),
        name="ui-leaflet",
    )
    for module in (
        session,
        search,
        alerts,
        approvals,
        hotlists,
        sharing,
        admin,
        cameras,
        access,
        images,
        public,
        subjects,
        review,
        notify,
    ):
        app.include_router(module.router)

    async def sign_in_required(request: Request, error: Exception) -> Response:
        reason = error.reason if isinstance(error, SignInRequired) else "please sign in"
        response = RedirectResponse("/ui/sign-in?" + urlencode({"reason": reason[:100]}), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    app.add_exception_handler(SignInRequired, sign_in_required)


def _signed(request: Request, platform: Platform) -> SignedIn | None:
    try:
        return platform.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    except PlateledgerError:  # no session, or the governance store is down: the page shows the public menu
        return None


def error_page(request: Request, error: PlateledgerError, platform: Platform) -> Response:
    """A library error on a UI path as a readable page (with the navigation of whoever is signed in)."""
    return render.error_page(request, error, _signed(request, platform))


def status_page(request: Request, platform: Platform, status: int, path: str, *, detail: str = "") -> Response:
    """An HTTP error on a UI path (no such page, a method the page does not take, an invalid request, a failure)
    as a readable page in the UI's layout; ``path``: the address asked for, redacted."""
    return render.status_page(request, _signed(request, platform), status, path, detail=detail)
