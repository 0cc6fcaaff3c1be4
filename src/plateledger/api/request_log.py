"""Request ids and the access log: :class:`RequestLog`, pure ASGI middleware, the outermost of the app's own.

Each HTTP request gets an id: the caller's ``X-Request-ID`` when it is a sane one (1-128 characters of
``A-Z a-z 0-9 . _ : -``, as a proxy or load balancer sets it), otherwise a new random one. The id is echoed in the
response's ``X-Request-ID``, kept in ``scope["state"]["request_id"]``, and set in
:data:`plateledger.core.logging.REQUEST_ID` while the request is answered, so every log line written for it, by
any logger, carries it.

When the response is done, one access-log record is written to the ``plateledger.access`` logger: method, path,
route template, status, duration, client address, response bytes. The path has URL tokens redacted
(:func:`~plateledger.api.redact.redact_path`); the query string is never logged (searches carry plates in it, and
the audit log is where searches are recorded), nor are headers.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plateledger.api.redact import redact_path
from plateledger.core.logging import REQUEST_ID

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("plateledger.access")


def request_id(offered: bytes | None) -> str:
    """``offered`` when it is a sane id, else a new one (32 hex digits)."""
    if offered is not None:
        text = offered.decode("latin-1")
        if _SANE.fullmatch(text):
            return text
    return secrets.token_hex(16)


class RequestLog:
    """Assign or accept a request id, echo it, and write the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        rid = request_id(offered)
        scope.setdefault("state", {})["request_id"] = rid
        token = REQUEST_ID.set(rid)
        start = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response
        sent = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None)
            path = redact_path(scope["path"])
            client = scope.get("client")
            access_log.info(
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                    "bytes": sent,
                    "client": client[0] if client else None,
                },
            )
        # Reset only after a normal return: when the app raised, the server's error handler (outside this
        # middleware, in the same task) logs the traceback and answers 500, and its lines carry the id too. Each
        # request runs in a task of its own, so the id never outlives it.
        REQUEST_ID.reset(token)
