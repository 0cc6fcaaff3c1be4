"""The OpenAPI document at ``/openapi.json``, made one that clients can trust.

FastAPI generates the paths and bodies; :func:`install` refines that document once, when it is first asked for:

* a ``bearer`` security scheme (HTTP bearer), applied to every operation but the public ones (:data:`PUBLIC`);
* every error an operation can answer declared as ``application/problem+json`` with the :data:`PROBLEM_SCHEMA`
  the one handler (``api/problems.py``) writes. The statuses come from the exception hierarchy
  (``core/errors.py``): each class's status is declared on the operations it applies to (:func:`statuses`),
  never route by route, so a class added there is documented everywhere it can occur;
* FastAPI's own request-validation 422 declared as the problem the handler turns it into;
* the ``405`` every path answers for a method it does not have, with its ``Allow`` header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from plateledger.api.problems import PROBLEM
from plateledger.core.errors import PlateledgerError, all_error_classes

#: Operations that take no bearer token: health, sign-in, the public transparency pages, the audit tree's tiles,
#: a member of the public filing a subject request, and the ingest route for equipment that cannot set headers
#: (its device token is the last segment of the path).
PUBLIC = frozenset(
    {
        ("get", "/healthz"),
        ("post", "/api/v1/auth/login"),
        ("get", "/transparency/{agency}"),
        ("get", "/transparency/{agency}.json"),
        ("get", "/log/checkpoint"),
        ("get", "/log/policy"),
        ("post", "/api/v1/ingest/{source}/{token}"),
        ("get", "/log/tile/{path}"),
        ("post", "/api/v1/subject-requests"),
    }
)
#: Operations that authenticate a credential although they take no bearer header (a 401 is theirs to answer).
AUTHENTICATING = frozenset({("post", "/api/v1/auth/login"), ("post", "/api/v1/ingest/{source}/{token}")})

#: Marks a query parameter the domain requires although the route takes it as optional, so that its absence is
#: refused (and audited) by the domain rather than by FastAPI: ``Query(json_schema_extra=REQUIRED)``. The
#: document says ``required: true``; a request without it is answered 422 all the same.
REQUIRED = {"x-required": True}

SCHEME = "bearer"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A token from `POST /api/v1/auth/login`, `POST /api/v1/tokens` or `plateledger token create`, "
    "sent as `Authorization: Bearer <token>`. What it may do follows from its user's role and agency.",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: every error of the API. Members beyond these are extensions of "
    "particular problems.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URI naming the problem (`about:blank` for plain HTTP errors)"},
        "title": {"type": "string", "description": "Short summary of the problem type"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status"},
        "detail": {"type": "string", "description": "What went wrong with this request"},
        "instance": {"type": "string", "description": "The request path (a URL token redacted)"},
        "field": {"type": "string", "description": "The one field at fault (invalid-field)"},
        "report": {
            "type": "object",
            "description": "import-refused: every invalid line, its field and why",
            "additionalProperties": True,
        },
    },
    "additionalProperties": True,
}

#: Statuses the handler answers that no class of the hierarchy may carry: Starlette's 405 for a method a path
#: does not have, and 429 for a request over a budget or rate limit (until a class of the hierarchy has it).
HTTP_ONLY = {405: "Method not allowed", 429: "Too many requests"}
#: Client errors whose cause is a request body (declared on operations that take one).
BODY_ONLY = frozenset({415})
#: Errors of a credential: declared on operations that take one.
CREDENTIAL_ONLY = frozenset({401, 403})
#: Errors of a change: declared on operations that change something.
CHANGE_ONLY = frozenset({409})
#: Errors any operation may answer, input or not: a body over the limit, a budget or rate limit spent.
ANY_OPERATION = frozenset({413, 429})
CHANGING = frozenset({"post", "put", "patch", "delete"})
WITH_BODY = frozenset({"post", "put", "patch"})

HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme to authenticate with",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    405: {
        "Allow": {
            "description": "The methods the path has",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {"description": "Seconds until the request may succeed", "schema": {"type": "string"}},
    },
}


def error_titles(classes: Iterable[type[PlateledgerError]] | None = None) -> dict[int, list[str]]:
    """Every error status an operation can answer, with the titles of the problems answered with it: the classes
    of the hierarchy that requests raise (4xx and 503; a 500 is never documented), and :data:`HTTP_ONLY`."""
    titles: dict[int, list[str]] = {}
    for cls in classes if classes is not None else all_error_classes():
        if 400 <= cls.status < 500 or cls.status == 503:
            titles.setdefault(cls.status, []).append(cls.title)
    for status, title in HTTP_ONLY.items():
        titles.setdefault(status, [title])  # a class of the hierarchy with the status names it better
    return titles


def statuses(method: str, path: str, operation: dict[str, Any], known: Iterable[int]) -> set[int]:
    """The error statuses of ``known`` that the operation ``method path`` can answer: 413 and 429 on every one;
    401 where a credential is checked, 403 where a bearer token is; 415 where a body is sent; 409 on changes
    with a token; the others (400, 404, 422, 503: input refused, nothing there, audit log down) wherever the
    operation takes input or a credential."""
    has_input = bool(operation.get("parameters") or operation.get("requestBody")) or method in CHANGING
    credential = (method, path) not in PUBLIC or (method, path) in AUTHENTICATING
    found: set[int] = set()
    for status in known:
        if status == 405:
            continue  # a path's, not an operation's: see components/responses
        if status in ANY_OPERATION:
            found.add(status)
        elif status in CREDENTIAL_ONLY:
            if credential and (status == 401 or (method, path) not in PUBLIC):
                found.add(status)
        elif status in BODY_ONLY:
            if method in WITH_BODY:
                found.add(status)
        elif status in CHANGE_ONLY:
            if method in CHANGING and (method, path) not in PUBLIC:
                found.add(status)
        elif has_input or credential:
            found.add(status)
    return found


def problem_response(status: int, titles: list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": "; ".join(dict.fromkeys(titles)),
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def refine(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's document) with security, problem responses and the 405 declared; changed in place."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = SECURITY_SCHEME
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    titles = error_titles()
    components.setdefault("responses", {})["MethodNotAllowed"] = problem_response(405, titles[405])
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if (method, path) not in PUBLIC:
                operation["security"] = [{SCHEME: []}]
            for parameter in operation.get("parameters", []):
                if parameter.get("schema", {}).pop("x-required", False):
                    parameter["required"] = True
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(declared | statuses(method, path, operation, titles)):
                fallback = [responses.get(str(status), {}).get("description", "Error")]
                responses[str(status)] = problem_response(status, titles.get(status, fallback))
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's validation-error shapes are never answered: the handler turns them into problems.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schema["info"]["description"] = (
        schema["info"].get("description", "")
        + "\n\nEvery error is an RFC 9457 `application/problem+json` (schema `Problem`). A method a path does not "
        "have is answered 405 with an `Allow` header naming those it has."
    ).strip()
    return schema


def install(app: FastAPI) -> None:
    """Serve :func:`refine`'s document at ``/openapi.json`` (built once, on first use)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = refine(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its document
