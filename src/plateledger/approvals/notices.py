"""What the approvers are told, and what the oversight review queue shows, of a held or break-glass search.

A **notice** goes to the approving agency's alert channels (webhooks, MQTT) when a search is held for approval
(``approval.requested``) or a break-glass search has run (``break_glass.ran``). A webhook receiver or an MQTT
broker is a machine outside the platform, read by whoever runs it: the notice says that there is something to
decide and where, never what was sought. It carries the request id, the kind of search, the requesting agency and
user, why it was held (the policy's rule, e.g. ``approval required: agency's policy: area search``), when, the
review deadline of a break-glass search, and the path to open it; no plate, place, window, purpose, case number,
note or owner. The approver reads those where every view is authorised (``/api/v1/approvals``,
``/api/v1/break-glass``, the Approvals page, the oversight review queue).

A **queue item** is an open break-glass search in the review queue of the agency whose supervisor must review it,
with its evidence: who ran it, when, the exact query, the reason given, why it would have been held, the deadline
and whether it is overdue. Showing it is audited by the queue (``oversight.break_glass_viewed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plateledger.core.clock import iso_ms

#: The ``event`` of a notice: a search held for approval, a break-glass search that ran and awaits review.
REQUESTED, BREAK_GLASS_RAN = "approval.requested", "break_glass.ran"
NOTICE_EVENTS = (REQUESTED, BREAK_GLASS_RAN)

#: Where an approver opens the request (API paths; the web UI's page is /ui/approvals).
LINKS = {False: "/api/v1/approvals?state=pending", True: "/api/v1/break-glass?state=open"}


@dataclass(frozen=True)
class RequestView:
    id: int
    state: str
    break_glass: bool
    kind: str
    purpose: str
    case_number: str
    requested_by: str
    requester: str
    created_ms: int
    canonical: dict[str, Any]
    query_hash: str
    owners: list[str]
    approvers: list[str]
    reasons: dict[str, str]
    expires_ms: int | None
    used_ms: int | None
    review_due_ms: int | None
    decisions: list[dict[str, Any]]
    note: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "break_glass": self.break_glass,
            "kind": self.kind,
            "purpose": self.purpose,
            "case_number": self.case_number,
            "requested_by": self.requested_by,
            "requester": self.requester,
            "created": iso_ms(self.created_ms),
            "query": self.canonical.get("query", {}),
            "warrant": self.canonical.get("warrant"),
            "query_hash": self.query_hash,
            "owners": self.owners,
            "approvers": self.approvers,
            "reasons": self.reasons,
            "expires": iso_ms(self.expires_ms) if self.expires_ms is not None else None,
            "used": iso_ms(self.used_ms) if self.used_ms is not None else None,
            "review_due": iso_ms(self.review_due_ms) if self.review_due_ms is not None else None,
            "decisions": self.decisions,
            "note": self.note,
        }


def notice(view: RequestView) -> dict[str, Any]:
    """The notice of a held (``approval.requested``) or break-glass (``break_glass.ran``) search."""
    return {
        "event": BREAK_GLASS_RAN if view.break_glass else REQUESTED,
        "request": view.id,
        "kind": view.kind,
        "break_glass": view.break_glass,
        "requester": view.requester,
        "requested_by": view.requested_by,
        "reasons": sorted(set(view.reasons.values())),
        "created": iso_ms(view.created_ms),
        "review_due": iso_ms(view.review_due_ms) if view.review_due_ms is not None else None,
        "link": LINKS[view.break_glass],
        "web": "/ui/approvals",
    }


def overdue(view: RequestView, now_ms: int) -> bool:
    return view.state == "open" and view.review_due_ms is not None and now_ms > view.review_due_ms


def queue_item(view: RequestView, now_ms: int) -> dict[str, Any]:
    """An open break-glass search as the oversight review queue shows it."""
    return {
        "id": view.id,
        "kind": view.kind,
        "requested_by": view.requested_by,
        "requester": view.requester,
        "created": iso_ms(view.created_ms),
        "purpose": view.purpose,
        "case_number": view.case_number,
        "query": view.canonical.get("query", {}),
        "warrant": view.canonical.get("warrant"),
        "owners": view.owners,
        "note": view.note,
        "reasons": view.reasons,
        "review_due": iso_ms(view.review_due_ms) if view.review_due_ms is not None else None,
        "overdue": overdue(view, now_ms),
        "review": f"/api/v1/break-glass/{view.id}/review",
    }
