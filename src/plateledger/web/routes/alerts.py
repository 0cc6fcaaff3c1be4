"""Alerts: the feed (new first, then decided ones), the live stream for the page (Server-Sent Events from the same
broker as the API's ``/api/v1/alerts/stream``, authenticated by the session cookie), the plate crop of an alert's
read and confirm/dismiss.

The crop is fetched by the page (``alerts.js``) from ``/ui/alerts/{id}/crop``, which asks the same library
function as ``GET /api/v1/images/...`` (``platform.image_views.view``) under the alert's own purpose and case: the
gate decides it as a search of that read and the view is audited (``image.viewed``, or ``search.refused``). No
crop, or one the gate refuses, is an empty answer (204): the card simply shows none."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from plateledger.alerts.delivery import Broker
from plateledger.alerts.service import VERIFY_FIRST
from plateledger.appstate import PlatformDep
from plateledger.core.errors import AuditUnavailable, FieldInvalid, PlateledgerError
from plateledger.web.paging import link
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, Path(ge=1, le=2**53)]
SHOWN = 200


@router.get("/ui/alerts")
def alerts_page(
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=2**53, description="Older alerts than this id")] = None,
) -> Response:
    """The newest :data:`SHOWN` alerts (new ones first), read newest first from the store, with the live feed;
    ``before``: an older page (no live feed), by the id cursor of the page before it."""
    alerts = platform.alerts.listing(signed.principal, before_id=before or 2**53, limit=SHOWN + 1)
    older = link(request, before=alerts[SHOWN - 1]["id"]) if len(alerts) > SHOWN else ""
    alerts = sorted(alerts[:SHOWN], key=lambda a: (a["state"] != "new", -a["id"]))
    last = max((a["id"] for a in alerts), default=0)
    return page(
        request,
        "alerts.html",
        signed,
        alerts=alerts,
        verify_first=VERIFY_FIRST,
        last_id=last,
        live=before is None,
        older=older,
    )


@router.get("/ui/alerts/stream")
async def alerts_stream(
    request: Request,
    signed: SessionDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: int = 0,
) -> StreamingResponse:
    """The page's live feed: alerts after ``after`` (the newest the page showed) or ``Last-Event-ID``."""
    if last_event_id:
        if not last_event_id.strip().isdigit():
            raise FieldInvalid("Last-Event-ID", "an alert id (a whole number)")
        after = int(last_event_id.strip())
    broker: Broker = request.app.state.broker
    broker.check(signed.principal)
    return StreamingResponse(
        broker.events(signed.principal, max(after, 0)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/ui/alerts/{alert_id}/crop")
async def crop(
    alert_id: AlertId, platform: PlatformDep, signed: SessionDep, size: Annotated[str, Query(max_length=16)] = "full"
) -> Response:
    """The plate crop of the alert's read (``size``: ``full``, or ``thumb`` for the card), through the policy gate
    under the alert's purpose and case (audited); 204 when the read has none or the gate refuses it. 404 for an
    alert the user may not see; 422 for an unknown size; 503 (the error page) when the view or its refusal cannot
    be audited: an audit outage is never an empty answer."""
    ask = platform.alerts.image_ask(signed.principal, alert_id, size=size)
    try:
        viewed = await run_in_threadpool(platform.image_views.view, signed.principal, ask)
    except (AuditUnavailable, FieldInvalid):  # the alert's purpose and case are valid: only the size can be not
        raise
    except PlateledgerError:
        return Response(status_code=204)
    return Response(
        viewed.data,
        media_type=viewed.content_type,
        headers={"X-Content-Type-Options": "nosniff", "X-Audit-Seq": str(viewed.audit_seq)},
    )


@router.post("/ui/alerts/{alert_id}/decide")
async def decide(alert_id: AlertId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    state = field(form, "decision")
    if state not in ("confirmed", "dismissed"):
        raise FieldInvalid("decision", "confirm or dismiss")
    platform.alerts.decide(signed.principal, alert_id, state, field(form, "note"))
    return see_other(f"/ui/alerts#alert-{alert_id}")
