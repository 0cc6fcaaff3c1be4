"""The live alert stream over real HTTP (uvicorn in a thread, read with httpx2): SSE events whose id is the alert
id, resumption with Last-Event-ID (missed alerts replayed from the database, then live ones), heartbeats, and
only the alerts the user may see (covert lists only for their viewers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx2
import pytest

from plateledger.alerts.service import VERIFY_FIRST
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.integration.alert_kit import SseEvent, hot_list, raise_alert, serving, sse_events
from tests.support import AgencyKit, seed_agency


@pytest.fixture
def stream_platform(data_dir: object, clock: object) -> Iterator[Platform]:
    platform = Platform.open(load_settings(data=data_dir, alert_heartbeat_s=0.2), clock=clock)  # type: ignore[arg-type]
    yield platform
    platform.close()


def bearer(kit: AgencyKit, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def next_event(events: Iterator[SseEvent | str]) -> SseEvent:
    for item in events:
        if isinstance(item, SseEvent):
            return item
    raise AssertionError("stream ended")


def until_comment(events: Iterator[SseEvent | str], comment: str) -> None:
    for item in events:
        assert not isinstance(item, SseEvent), item
        if item == comment:
            return
    raise AssertionError("stream ended")


def test_stream_delivers_live_and_resumes_with_last_event_id(stream_platform: Platform) -> None:
    platform = stream_platform
    kit = seed_agency(platform, "lister-pd")
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    with serving(platform) as base, httpx2.Client(base_url=base, timeout=10) as client:
        with client.stream("GET", "/api/v1/alerts/stream", headers=bearer(kit, "investigator")) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response.iter_lines())
            until_comment(events, "connected")
            first = raise_alert(platform, kit, entry, "r1")
            event = next_event(events)
            assert (event.id, event.event, event.data["id"]) == (first, "alert", first)
            assert event.data["verify_first"] == VERIFY_FIRST
            until_comment(events, "heartbeat")  # an idle stream keeps talking

        missed = [raise_alert(platform, kit, entry, f"r{n}") for n in (2, 3)]
        headers = {**bearer(kit, "investigator"), "Last-Event-ID": str(first)}
        with client.stream("GET", "/api/v1/alerts/stream", headers=headers) as response:
            events = sse_events(response.iter_lines())
            assert [next_event(events).id for _ in missed] == missed  # replayed from the database
            until_comment(events, "heartbeat")
            live = raise_alert(platform, kit, entry, "r4")
            assert next_event(events).id == live


def test_a_new_stream_starts_live_and_last_event_id_zero_replays_everything(stream_platform: Platform) -> None:
    """A stream opened without Last-Event-ID does not replay history (a busy agency has many thousands of
    alerts); ``Last-Event-ID: 0`` asks for all of it."""
    platform = stream_platform
    kit = seed_agency(platform, "history-pd")
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    old = [raise_alert(platform, kit, entry, f"old{n}") for n in range(3)]
    with serving(platform) as base, httpx2.Client(base_url=base, timeout=10) as client:
        with client.stream("GET", "/api/v1/alerts/stream", headers=bearer(kit, "investigator")) as response:
            events = sse_events(response.iter_lines())
            until_comment(events, "connected")
            live = raise_alert(platform, kit, entry, "live")
            assert next_event(events).id == live
        headers = {**bearer(kit, "investigator"), "Last-Event-ID": "0"}
        with client.stream("GET", "/api/v1/alerts/stream", headers=headers) as response:
            events = sse_events(response.iter_lines())
            assert [next_event(events).id for _ in range(4)] == [*old, live]


def test_covert_alerts_are_streamed_only_to_their_viewers(stream_platform: Platform) -> None:
    platform = stream_platform
    kit = seed_agency(platform, "lister-pd")
    other = seed_agency(platform, "other-pd")
    covert = hot_list(platform, kit, "covert", "7ABC123", covert=True)
    plain = hot_list(platform, kit, "plain", "7ABC123")
    received: dict[str, list[int]] = {"investigator": [], "admin": [], "other": []}
    ready = threading.Barrier(4)

    def listen(name: str, headers: dict[str, str], count: int) -> None:
        with (
            httpx2.Client(base_url=base, timeout=10) as client,
            client.stream("GET", "/api/v1/alerts/stream", headers=headers) as response,
        ):
            events = sse_events(response.iter_lines())
            until_comment(events, "connected")
            ready.wait()
            for _ in range(count):
                received[name].append(next_event(events).id)

    with serving(platform) as base:
        listeners = [
            threading.Thread(target=listen, args=("investigator", bearer(kit, "investigator"), 2)),
            threading.Thread(target=listen, args=("admin", bearer(kit, "admin"), 1)),
            threading.Thread(target=listen, args=("other", bearer(other, "investigator"), 0)),
        ]
        for thread in listeners:
            thread.start()
        ready.wait()
        secret = raise_alert(platform, kit, covert, "r1")
        shown = raise_alert(platform, kit, plain, "r2")
        for thread in listeners:
            thread.join(10)
            assert not thread.is_alive()
        assert received == {"investigator": [secret, shown], "admin": [shown], "other": []}

        # a replay from the database is filtered the same way
        with (
            httpx2.Client(base_url=base, timeout=10) as client,
            client.stream("GET", "/api/v1/alerts/stream", headers={**bearer(kit, "admin"), "Last-Event-ID": "0"}) as r,
        ):
            assert next_event(sse_events(r.iter_lines())).id == shown


def test_stream_refuses_roles_without_alerts_and_bad_last_event_id(stream_platform: Platform) -> None:
    platform = stream_platform
    kit = seed_agency(platform, "lister-pd")
    with serving(platform) as base, httpx2.Client(base_url=base, timeout=10) as client:
        assert client.get("/api/v1/alerts/stream", headers=bearer(kit, "auditor")).status_code == 403
        assert client.get("/api/v1/alerts/stream").status_code == 401
        bad = {**bearer(kit, "investigator"), "Last-Event-ID": "abc"}
        response = client.get("/api/v1/alerts/stream", headers=bad)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
