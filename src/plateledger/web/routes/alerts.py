"""Alerts: the feed (new first, then decided ones), the live stream for the page (Server-Sent Events from the same
broker as the API's ``/api/v1/alerts/stream``, authenticated by the session cookie) and confirm/dismiss."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from plateledger.alerts.delivery import Broker
from plateledger.alerts.service import VERIFY_FIRST
from plateledger.api.deps import PlatformDep
from plateledger.core.errors import FieldInvalid
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field

router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, Path(ge=1, le=2**53)]
SHOWN = 200


@router.get("/ui/alerts")
def alerts_page(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    Broker.check(signed.principal)
    alerts = platform.alerts.listing(signed.principal, limit=1000)
    alerts = sorted(alerts, key=lambda a: (a["state"] != "new", -a["id"]))[:SHOWN]
    last = max((a["id"] for a in alerts), default=0)
    return page(request, "alerts.html", signed, alerts=alerts, verify_first=VERIFY_FIRST, last_id=last)


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


@router.post("/ui/alerts/{alert_id}/decide")
async def decide(alert_id: AlertId, request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    state = field(form, "decision")
    if state not in ("confirmed", "dismissed"):
        raise FieldInvalid("decision", "confirm or dismiss")
    platform.alerts.decide(signed.principal, alert_id, state, field(form, "note"))
    return see_other(f"/ui/alerts#alert-{alert_id}")
