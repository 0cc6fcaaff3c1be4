"""Alerts of hot-list matches: /api/v1/alerts (list, view, confirm, dismiss) and the live stream (SSE).

Every answer carries ``verify_first``: a match alone is not grounds for action.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from plateledger.alerts.delivery import Broker
from plateledger.alerts.service import VERIFY_FIRST
from plateledger.api.alert_schemas import AlertOut, AlertsOut, DecisionIn
from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.vocabulary import AlertStateName
from plateledger.core.errors import FieldInvalid

router = APIRouter(prefix="/api/v1", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**53)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {}, 422: {}}


@router.get("/alerts", response_model=AlertsOut, responses={403: {}, 422: {}})
def list_alerts(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: Annotated[AlertStateName | None, Query(description="new, confirmed or dismissed")] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1, description="Only alerts with a greater id (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Your agency's alerts that you may see (covert lists: their viewers only), oldest first. Not audited
    one by one: viewing an alert (GET /alerts/{id}) is."""
    alerts = platform.alerts.listing(principal, state=state, after_id=after_id, limit=limit)
    return {"verify_first": VERIFY_FIRST, "alerts": alerts}


@router.get(
    "/alerts/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 403: {}},
)
async def stream_alerts(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this alert id")] = None,
) -> StreamingResponse:
    """Server-Sent Events: each alert you may see as an ``alert`` event whose id is the alert id, heartbeat
    comments while idle. A new stream starts with the alerts raised from the moment it connects; reconnect with
    ``Last-Event-ID`` to first receive the alerts raised since that one (``Last-Event-ID: 0``: every alert you may
    see, oldest first)."""
    # Read before the stream subscribes: an alert raised in between is replayed, none is lost.
    after = await run_in_threadpool(platform.alerts.latest_id)
    if last_event_id:
        if not last_event_id.strip().isdigit():
            raise FieldInvalid("Last-Event-ID", "an alert id (a whole number)")
        after = int(last_event_id.strip())
    broker: Broker = request.app.state.broker
    broker.check(principal)
    return StreamingResponse(
        broker.events(principal, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=ERRORS)
def view_alert(alert_id: AlertId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """One alert (the viewing audited as ``alert.decided`` with state ``viewed``)."""
    return platform.alerts.view(principal, alert_id)


@router.post("/alerts/{alert_id}/confirm", response_model=AlertOut, responses=ERRORS)
def confirm_alert(
    alert_id: AlertId, body: DecisionIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Confirm a new alert: you verified the plate characters and state against the image. Audited."""
    return platform.alerts.decide(principal, alert_id, "confirmed", body.note)


@router.post("/alerts/{alert_id}/dismiss", response_model=AlertOut, responses=ERRORS)
def dismiss_alert(
    alert_id: AlertId, body: DecisionIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Dismiss a new alert (a misread, or no longer relevant), with why. Audited."""
    return platform.alerts.decide(principal, alert_id, "dismissed", body.note)
