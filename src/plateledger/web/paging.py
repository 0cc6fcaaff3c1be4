"""Server-side paging of the UI's listings that can grow large (hot-list entries, alerts, subject requests): a page
of at most :data:`MAX_PAGE_SIZE` rows is read from the store (``LIMIT``/``OFFSET``, or an id cursor), and the
links to the pages around it keep the page's other query parameters (its filters).

The access log and the audit browser page by sequence number (``after_seq``) already; a search answer is one
audited answer, shown whole and paged in the browser (docs/web.md, "Paging").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request

#: Rows on a page unless the address asks for fewer (``size``).
PAGE_SIZE = 100
#: The most rows a page may ask for.
MAX_PAGE_SIZE = 500

OffsetQuery = Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip")]
SizeQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Rows on the page (at most {MAX_PAGE_SIZE})")]


def link(request: Request, **changed: int | str | None) -> str:
    """This page's address with ``changed`` query parameters (None: dropped), the others kept."""
    params = {k: v for k, v in request.query_params.items() if k not in changed}
    params.update({k: str(v) for k, v in changed.items() if v is not None})
    return request.url.path + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True)
class Pager:
    """Where a page sits in its listing: rows ``first``-``last`` of ``total``, and the links before and after
    (empty where there is none)."""

    first: int
    last: int
    total: int
    previous: str
    next: str


def pager(request: Request, *, offset: int, size: int, shown: int, total: int) -> Pager:
    """The pager of a page of ``shown`` rows read at ``offset`` (``size`` asked for) of ``total``."""
    previous = link(request, offset=max(offset - size, 0) or None) if offset > 0 else ""
    following = link(request, offset=offset + size) if offset + shown < total else ""
    return Pager(first=offset + 1 if shown else 0, last=offset + shown, total=total, previous=previous, next=following)
