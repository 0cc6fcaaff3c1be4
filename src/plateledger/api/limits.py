"""One limit on the size of every request body, before any route reads it.

:class:`BodyLimit` is pure ASGI middleware. A request whose ``Content-Length`` is over its route's limit is answered
413 (problem+json) before the app runs; a body sent without a length (chunked) is counted as the app receives it,
and the first chunk past the limit is answered 413 at once and raises :class:`PayloadTooLarge` into the app, so
nothing more is read. Most routes take small JSON or forms (``max_request_bytes``, 1 MiB by default); the few that
take files (:func:`route_limits`) have the larger limits they had before. Ingest routes check their limit themselves
too, after authentication, so that a device's oversized batch is on the audit log (``ingest.refused``): for them the
middleware counts the stream but leaves the ``Content-Length`` refusal to the route.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plateledger.api.problems import problem_for
from plateledger.core.errors import PayloadTooLarge
from plateledger.core.settings import Settings

#: Room for a multipart form's boundaries and fields around an uploaded file.
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class RouteLimit:
    """The body limit of the routes whose path matches ``pattern``; ``audited_by_route``: the route refuses a
    declared oversized body itself, after authentication, and audits the refusal."""

    pattern: re.Pattern[str]
    limit: int
    audited_by_route: bool = False


def route_limits(settings: Settings) -> tuple[RouteLimit, ...]:
    """The routes that take more than ``max_request_bytes``: ingest (``max_body_bytes``) and hot-list imports."""
    imports = settings.hotlist_import_max_bytes
    return (
        RouteLimit(re.compile(r"/api/v1/(reads|ingest/[^/]+)"), settings.max_body_bytes, audited_by_route=True),
        RouteLimit(re.compile(r"/api/v1/hotlists/[^/]+/import"), imports),
        RouteLimit(re.compile(r"/ui/hotlists/[^/]+/import"), imports + FORM_OVERHEAD),
    )


class BodyLimit:
    """Refuse request bodies over their route's limit with 413, reading no further than the limit."""

    def __init__(self, app: ASGIApp, *, default: int, routes: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.default = default
        self.routes = tuple(routes)

    def _limit(self, path: str) -> RouteLimit:
        for route in self.routes:
            if route.pattern.fullmatch(path):
                return route
        return RouteLimit(re.compile(""), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._limit(scope["path"])
        refusal = PayloadTooLarge(f"body larger than {route.limit} bytes")
        declared = _content_length(scope)
        if declared is not None and declared > route.limit and not route.audited_by_route:
            await _answer(scope, receive, send, refusal)
            return
        received = 0
        answered = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > route.limit:
                    if not started and not answered:
                        answered = True
                        await _answer(scope, receive, send, refusal)
                    raise refusal
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 is out; what the app answers to the refusal is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except PayloadTooLarge:
            if not answered:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, refusal: PayloadTooLarge) -> None:
    response = problem_for(refusal, scope["path"])
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
