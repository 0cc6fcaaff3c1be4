"""The one mapping from errors to RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from plateledger.api.redact import redact_path
from plateledger.core.errors import ApprovalRequired, PlateledgerError, TooManyRequests
from plateledger.core.logging import REQUEST_ID

PROBLEM = "application/problem+json"
log = logging.getLogger("plateledger.api")


def problem(status: int, title: str, detail: str, type_uri: str, **extra: Any) -> JSONResponse:
    body = {"type": type_uri, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def problem_for(error: PlateledgerError, path: str) -> JSONResponse:
    """The problem+json of ``error`` on the request for ``path`` (a URL token in it is redacted here, so no
    handler can write one into a body)."""
    extra: dict[str, Any] = {"instance": redact_path(path)}
    field = getattr(error, "field", None)
    if field:
        extra["field"] = field
    report = getattr(error, "report", None)
    if report:
        extra["report"] = report
    if isinstance(error, ApprovalRequired):
        extra["approval_request"] = error.request_id
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after_s)}
    response = problem(error.status, error.title, error.detail, error.type_uri, **extra)
    if headers:
        response.headers.update(headers)
    return response


def validation_problem(request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path")]
    field = ".".join(loc) or "request"
    return problem(
        422,
        "Invalid field",
        f"{field}: {first.get('msg', 'invalid')}",
        "https://plateledger.org/problems/invalid-field",
        field=field,
        instance=redact_path(request.url.path),
    )


def http_problem(request: Request, error: StarletteHTTPException) -> JSONResponse:
    response = problem(
        error.status_code,
        str(error.detail),
        str(error.detail),
        "about:blank",
        instance=redact_path(request.url.path),
    )
    if error.headers:  # a 405's Allow, for one
        response.headers.update(error.headers)
    return response


def unexpected_problem(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", redact_path(request.url.path), exc_info=error)
    response = problem(
        500,
        "Internal error",
        "the server failed; the request was not completed",
        "https://plateledger.org/problems/internal",
        instance=redact_path(request.url.path),
    )
    # Answered outside the request-id middleware (api/request_log.py), whose id is still set here.
    if rid := REQUEST_ID.get():
        response.headers["X-Request-ID"] = rid
    return response


def install(app: FastAPI) -> None:
    """Request validation, HTTP and unexpected errors as problem+json, on every path. Library errors
    (:class:`PlateledgerError`) are answered by the app factory (``app.py``), which chooses between
    :func:`problem_for` and the UI's error page by path; it does the same for these three under the UI."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return validation_problem(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return http_problem(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        return unexpected_problem(request, error)
