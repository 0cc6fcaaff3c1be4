"""Server-rendered pages: one Jinja2 environment (autoescaped), the page helper every route uses, and the HTML
rendering of errors (the same error classes the API maps to problem+json, shown as a readable page)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from plateledger import __version__
from plateledger.alerts.service import vehicle_line
from plateledger.auth.sessions import SignedIn
from plateledger.core import zones
from plateledger.core.errors import PlateledgerError
from plateledger.policy.actions import Action, allowed
from plateledger.vocab import Purpose, QueryKind

PURPOSES = [p.value for p in Purpose]
QUERY_KINDS = [k.value for k in QueryKind]


def when(value: int | str | None, time_zone: str | None = None) -> str:
    """Epoch milliseconds or an ISO 8601 time in the zone ``time_zone`` (None: UTC) with the zone named: the UI's
    one time format, ``2026-12-07 09:14:00 CST`` (core/zones.py)."""
    return zones.shown(value, time_zone)


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, value: int | str | None) -> str:
    """The ``when`` filter: a time in the signed-in user's zone (UTC for a visitor)."""
    me = context.get("me")
    return when(value, me.time_zone if me is not None else None)


#: The menu: each page with the table's action that opens it (docs/permissions.md).
MENU: tuple[tuple[str, str, Action], ...] = (
    ("Search", "/ui/search", Action.SEARCH),
    ("Alerts", "/ui/alerts", Action.ALERT_VIEW),
    ("Hot lists", "/ui/hotlists", Action.HOTLIST_VIEW),
    ("Approvals", "/ui/approvals", Action.APPROVAL_VIEW),
    ("Sharing", "/ui/admin/sharing", Action.SHARING_DECIDE),
    ("Policy", "/ui/admin/policy", Action.POLICY_SET),
    ("Users", "/ui/admin/users", Action.USER_LIST),
    ("Cameras", "/ui/admin/cameras", Action.CAMERA_HEALTH),
    ("Access log", "/ui/access-log", Action.ACCESS_LOG_READ),
    ("Subject requests", "/ui/admin/subject-requests", Action.SUBJECT_REQUEST_VIEW),
    ("Audit", "/ui/audit", Action.AUDIT_READ),
    ("Oversight", "/ui/oversight", Action.OVERSIGHT_REVIEW),
    ("Cases", "/ui/oversight/cases", Action.CASE_VIEW),
)


def nav(signed: SignedIn | None) -> list[tuple[str, str]]:
    """The menu: the pages the signed-in user may open."""
    if signed is None:
        return [("Public reports", "/ui/public"), ("Is my plate held?", "/ui/subject-request")]
    principal = signed.principal
    items = [(name, path) for name, path, action in MENU if allowed(principal, action, principal.agency_id).allowed]
    return [*items, ("Public reports", "/ui/public"), ("Account", "/ui/account")]


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("plateledger.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["vehicle_line"] = vehicle_line
    env.globals.update(purposes=PURPOSES, query_kinds=QUERY_KINDS, version=__version__)
    return env


def page(
    request: Request, template: str, signed: SignedIn | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` for the signed-in user (or an anonymous visitor)."""
    body = (
        environment()
        .get_template(template)
        .render(
            request=request,
            signed=signed,
            me=signed.principal if signed else None,
            csrf=signed.csrf if signed else "",
            menu=nav(signed),
            path=request.url.path,
            zone_name=zones.label(signed.principal.time_zone if signed else None),
            **context,
        )
    )
    return HTMLResponse(body, status_code=status)


def json_for_page(body: Any) -> Markup:
    """JSON to embed in a page's ``<script type="application/json">``: <, > and & escaped, so no value can close
    the element. The one place the UI marks text as safe markup (templates use no ``| safe``)."""
    text = orjson.dumps(body).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: back to a page (POST/redirect/GET)."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, error: PlateledgerError, signed: SignedIn | None) -> HTMLResponse:
    return page(
        request,
        "error.html",
        signed,
        status=error.status,
        title=error.title,
        detail=error.detail,
        field=getattr(error, "field", None),
    )


#: Titles and explanations of the HTTP errors a UI page can meet outside the library's errors.
STATUS_TEXT: dict[int, tuple[str, str]] = {
    404: ("Page not found", "There is no page at {path}. Check the address, or go on from the menu."),
    405: ("Method not allowed", "{path} does not take this kind of request. Go back, or go on from the menu."),
    422: ("Invalid request", "{path}: the request was not understood."),
    500: ("Something went wrong", "The server failed on {path}; the request was not completed. Try again later."),
}


def status_page(request: Request, signed: SignedIn | None, status: int, path: str, *, detail: str = "") -> HTMLResponse:
    title, text = STATUS_TEXT.get(status, ("Request failed", "{path} could not be shown (HTTP status {status})."))
    return page(
        request,
        "error.html",
        signed,
        status=status,
        title=title,
        detail=detail or text.format(path=path, status=status),
        field=None,
    )
