"""What keeps the web UI safe in a browser: security headers with a strict Content-Security-Policy, the session
cookie, and CSRF checks on every state-changing form.

* CSP: scripts, styles, fonts and connections only from this origin (no inline script or style), images also
  from the map tile server when ``map_tile_url`` is set; no framing, no plugins, forms post only here.
* Session cookie ``plateledger_session``: Secure, HttpOnly, SameSite=Strict, path ``/``; the value is a random
  secret whose hash names a server-side session (:mod:`plateledger.auth.sessions`).
* CSRF: every POST form carries the session's token (``csrf`` field, compared in constant time); the sign-in
  form, before any session exists, carries a token matching a short-lived ``plateledger_signin`` cookie
  (double submit). A POST whose ``Origin`` header names another site is refused too. Refusals are audited
  (``auth.refused``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plateledger.appstate import PlatformDep, client_of
from plateledger.auth.sessions import SignedIn
from plateledger.core.errors import AuthenticationFailed, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform

SESSION_COOKIE = "plateledger_session"
SIGNIN_COOKIE = "plateledger_signin"
CSRF_FIELD = "csrf"


def content_security_policy(settings: Settings) -> str:
    images = "'self' data:"
    if settings.map_tile_url:
        parts = urlsplit(settings.map_tile_url)
        images += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    )


class SecurityHeaders:
    """Pure ASGI middleware adding the UI's security headers to every response under ``/ui`` (and ``/``)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(("/ui/static/", "/ui/vendor/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if not (static and h[0] == b"cache-control")]
                extra = [h for h in self.headers if not (static and h[0] == b"cache-control")]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, with_headers)


class SignInRequired(Exception):
    """No valid session: the UI answers with a redirect to the sign-in page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def current(request: Request, platform: PlatformDep) -> SignedIn:
    try:
        return platform.sessions.resolve(request.cookies.get(SESSION_COOKIE), client=client_of(request, platform))
    except AuthenticationFailed as refusal:
        raise SignInRequired(refusal.detail) from None


SessionDep = Annotated[SignedIn, Depends(current)]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def checked_form(request: Request, platform: Platform, signed: SignedIn) -> FormData:
    """The POSTed form, once its CSRF token matches the session's (else audited and PermissionDenied)."""
    form = await request.form()
    try:
        platform.sessions.check_form(
            signed.principal.actor,
            given=form.get(CSRF_FIELD),
            expected=signed.csrf,
            same_origin=_same_origin(request),
            path=request.url.path,
        )
    except PermissionDenied:
        await form.close()
        raise
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def fields(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]
