"""Helpers for the alert delivery tests: hot lists and hits through the real services, a uvicorn server in a
thread, an SSE reader, and a small real HTTP receiver for webhooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import uvicorn

from plateledger.alerts.service import Hit
from plateledger.app import create_app
from plateledger.hotlists.service import EntryIn
from plateledger.platform import Platform
from tests.support import DAY_MS, AgencyKit, free_port


def hot_list(platform: Platform, kit: AgencyKit, name: str, plate: str, **options: Any) -> int:
    """A list of ``kit``'s investigator with one entry for ``plate``; returns the entry id."""
    return new_list(platform, kit, name, plate, **options)[1]


def new_list(platform: Platform, kit: AgencyKit, name: str, plate: str, **options: Any) -> tuple[int, int]:
    """A list of ``kit``'s investigator with one entry for ``plate``; returns the list's id and the entry's."""
    view = platform.hotlists.create(kit.investigator, name=name, default_purpose="stolen_vehicle", **options)
    entry = EntryIn(
        plate=plate,
        purpose="stolen_vehicle",
        reference="CASE-1",
        reason="test entry",
        expires_ms=platform.clock.now_ms() + 10 * DAY_MS,
    )
    valid, errors = platform.hotlists.validate(view, [entry])
    assert errors == []
    platform.hotlists.apply(kit.investigator, view.id, add=valid)
    entry_id: int = platform.hotlists.entries(kit.investigator, view.id)[0]["id"]
    return view.id, entry_id


#: A read's vehicle as cameras describe one (``raise_alert(..., **VEHICLE)``).
VEHICLE = {"make": "Toyota", "model": "Corolla", "color": "red", "vtype": "sedan"}


def raise_alert(
    platform: Platform, kit: AgencyKit, entry_id: int, read_id: str, plate: str = "7ABC123", **vehicle: str
) -> int:
    """Process one hit of ``kit``'s own read (its vehicle: ``make``, ``model``, ``color``, ``vtype``); returns the
    alert id."""
    outcome = platform.alerts.process(
        [
            Hit(
                entry_id=entry_id,
                owner=kit.agency.id,
                read_id=read_id,
                plate=plate,
                region="US-CA",
                ts_ms=platform.clock.now_ms() - 60_000,
                camera=kit.cameras[0],
                lat=37.77,
                lon=-122.42,
                confidence=0.93,
                **vehicle,
            )
        ]
    )
    assert len(outcome.raised) == 1, outcome
    return outcome.raised[0]


@contextmanager
def serving(platform: Platform, port: int | None = None) -> Iterator[str]:
    """The API of ``platform`` served by uvicorn in a thread (on ``port``, else a free one); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(platform=platform), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class SseEvent:
    id: int
    event: str
    data: dict[str, Any]


def sse_events(lines: Iterator[str]) -> Iterator[SseEvent | str]:
    """Parse SSE lines into events; comments are yielded as strings (``connected``, ``heartbeat``)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield line[1:].strip()
        elif line == "":
            if "data" in fields:
                yield SseEvent(int(fields["id"]), fields.get("event", "message"), orjson.loads(fields["data"]))
            fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@dataclass
class Receiver:
    """A real HTTP server that answers 500 to the first ``fail_first`` requests (all of them if negative)."""

    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                failing = receiver.fail_first < 0 or len(receiver.requests) < receiver.fail_first
                code = 500 if failing else 204
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
