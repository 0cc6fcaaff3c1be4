"""Live delivery of alerts to connected streams (Server-Sent Events).

:class:`Broker` subscribes to :class:`~plateledger.alerts.service.Alerts`. ``Alerts.process`` runs in ingest
threads; each stream is an asyncio task. The broker hands each alert of an agency to that agency's connected
streams with ``loop.call_soon_threadsafe`` onto a bounded per-stream :class:`asyncio.Queue`, so ingest never waits
for a stream. Which alerts a user may see is decided on the stream's side (``Alerts.visible_to``: same agency,
covert lists only for their viewers), in a worker thread, never in the ingest thread.

A stream is resumable: the event id is the alert id; a client reconnecting with ``Last-Event-ID`` first gets the
alerts with a greater id that it may see, from the database, then live ones (duplicates are skipped by id: the
listeners get alerts in id order, see ``Alerts.subscribe``). A stream whose queue overflows (a slow client)
catches up the same way, from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio.to_thread
import orjson

from plateledger.alerts.service import Alerts
from plateledger.auth.tokens import Principal

REPLAY_PAGE = 1000
#: Milliseconds a client should wait before reconnecting (the SSE ``retry`` field).
RETRY_MS = 2000


def sse_event(body: dict[str, Any]) -> str:
    """One alert as an SSE event: ``id`` the alert id, ``event: alert``, ``data`` the alert's JSON (one line)."""
    return f"id: {body['id']}\nevent: alert\ndata: {orjson.dumps(body).decode()}\n\n"


class Subscription:
    """One connected stream: its principal and the queue the broker feeds from other threads."""

    def __init__(self, principal: Principal, loop: asyncio.AbstractEventLoop, queue_size: int) -> None:
        self.principal = principal
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        self.overflowed = False
        self._loop = loop

    def offer(self, body: dict[str, Any]) -> None:
        """Called from any thread; never blocks."""
        with contextlib.suppress(RuntimeError):  # the stream's loop has closed; it is being disconnected
            self._loop.call_soon_threadsafe(self._put, body)

    def _put(self, body: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(body)
        except asyncio.QueueFull:
            self.overflowed = True


class Broker:
    def __init__(self, alerts: Alerts, *, heartbeat_s: float = 15.0, queue_size: int = 1000) -> None:
        self._alerts = alerts
        self._heartbeat_s = heartbeat_s
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        alerts.subscribe(self._deliver)

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _deliver(self, agency_id: int, body: dict[str, Any]) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if s.principal.agency_id == agency_id]
        for subscription in targets:
            subscription.offer(body)

    def check(self, principal: Principal) -> None:
        """PermissionDenied (audited) for roles that do not receive alerts (call before the response starts)."""
        self._alerts.require_view(principal)

    def connect(self, principal: Principal) -> Subscription:
        """Register a stream on the running loop."""
        self.check(principal)
        subscription = Subscription(principal, asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def disconnect(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    async def events(self, principal: Principal, last_event_id: int = 0) -> AsyncIterator[str]:
        """The SSE text of one stream: replay after ``last_event_id``, then live alerts and heartbeats. Subscribes
        on the first iteration (before the replay, so nothing falls between) and unsubscribes when the client goes
        away."""
        subscription = self.connect(principal)
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            last = last_event_id
            async for body in self._replay(principal, last):
                last = body["id"]
                yield sse_event(body)
            while True:
                if subscription.overflowed:
                    subscription.overflowed = False
                    while not subscription.queue.empty():
                        subscription.queue.get_nowait()
                    async for body in self._replay(principal, last):
                        last = body["id"]
                        yield sse_event(body)
                try:
                    body = await asyncio.wait_for(subscription.queue.get(), self._heartbeat_s)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if body["id"] <= last:
                    continue
                visible = await anyio.to_thread.run_sync(self._alerts.visible_to, principal, principal.agency_id, body)
                if visible:
                    last = body["id"]
                    yield sse_event(body)
        finally:
            self.disconnect(subscription)

    async def _replay(self, principal: Principal, after: int) -> AsyncIterator[dict[str, Any]]:
        """The alerts after ``after`` that ``principal`` may see, from the database, oldest first."""
        while True:
            page = await anyio.to_thread.run_sync(partial(self._page, principal, after))
            for body in page:
                yield body
            if len(page) < REPLAY_PAGE:
                return
            after = page[-1]["id"]

    def _page(self, principal: Principal, after: int) -> list[dict[str, Any]]:
        return self._alerts.listing(principal, after_id=after, limit=REPLAY_PAGE)
