"""Smaller, cacheable UI answers: gzip for every ``/ui`` answer of at least :data:`MIN_BYTES` whose client accepts
it (pages, scripts, styles, Leaflet; not images, which are compressed already, nor the live alert stream), and
caching headers for the static assets.

* gzip (Starlette's ``GZipMiddleware``, level 6) only under ``/ui/``: the API's answers are left as they are
  (clients and proxies of the API choose their own). No brotli: no maintained brotli library is a dependency.
* A compressed answer's ``ETag`` becomes weak (``W/"..."``): the bytes differ from the file's, while a
  revalidation (``If-None-Match``) still matches the file and gets its 304.
* ``Cache-Control``: our own scripts and styles ``no-cache`` (kept, but revalidated by ETag on each use, so a new
  release is picked up at once); the vendored Leaflet, whose files change only with its version, a day.
  Pages keep ``no-store`` (``web/security.py``).

The public subject-request pages are never compressed (:data:`UNCOMPRESSED`): their answer is the same page
for every plate, and must stay the same length too. Compressing pages that hold a CSRF token beside text a
request chose (BREACH) needs the attacker's requests to carry the victim's session; the session cookie is
``SameSite=Strict``, so a request another site makes has none.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Answers shorter than this are sent as they are (the gzip header and a round trip cost more than they save).
MIN_BYTES = 1024
#: Never compressed: the public subject-request form answers every request with the same page, which must keep
#: the same length whatever the plate (a compressed length would vary with what the page holds).
UNCOMPRESSED = ("/ui/subject-request",)
#: Our own scripts and styles: kept by the browser, revalidated by their ETag before each use.
STATIC_CACHE = b"no-cache"
#: The vendored Leaflet (its files change only with its version): a day.
VENDOR_CACHE = b"public, max-age=86400"


class CompressedUI:
    """Pure ASGI middleware: gzip and static caching for ``/ui/`` (see the module's docstring)."""

    def __init__(self, app: ASGIApp, minimum_size: int = MIN_BYTES) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/ui/") or path.startswith(UNCOMPRESSED):
            await self.app(scope, receive, send)
            return
        cache = (
            STATIC_CACHE if path.startswith("/ui/static/") else VENDOR_CACHE if path.startswith("/ui/vendor/") else b""
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                gzipped = (b"content-encoding", b"gzip") in headers
                if gzipped:
                    headers = [(k, b"W/" + v if k == b"etag" and v.startswith(b'"') else v) for k, v in headers]
                if cache:
                    headers = [h for h in headers if h[0] != b"cache-control"] + [(b"cache-control", cache)]
                message["headers"] = headers
            await send(message)

        await self.gzip(scope, receive, with_headers)
