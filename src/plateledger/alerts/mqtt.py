"""Optional MQTT publishing of alerts for on-premises integrations (dispatch consoles, message buses).

When ``mqtt_alerts_url`` is set (``mqtt://[user:password@]host[:port]``), ``plateledger serve`` publishes each
alert, as the same JSON the API and the live stream carry, to ``{mqtt_alerts_topic}/{agency slug}/alerts`` with
QoS 1. :meth:`MqttPublisher.offer` is the listener subscribed to ``Alerts``: it only queues the alert, so ingest
never waits for the broker. A background thread runs an asyncio loop with an ``aiomqtt`` client that reconnects
with exponential backoff (1 s doubling to 30 s); alerts queued while the broker is away are published when it
is back (up to ``QUEUE_LIMIT``; beyond that the oldest are dropped, with a warning). Alerts of covert lists are
never published: a broker's subscribers are not the list's named viewers.

With ``approvals``, the notice of a search held for an agency's approval, or of a break-glass search it must
review (:mod:`plateledger.approvals.notices`: no plate, place or query), is published the same way to
``{mqtt_alerts_topic}/{agency slug}/approvals``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import orjson

from plateledger.alerts.service import Alerts
from plateledger.approvals.notices import NOTICE_EVENTS
from plateledger.approvals.service import Approvals
from plateledger.core.errors import ConfigurationError
from plateledger.hotlists.service import machine_delivery_allowed
from plateledger.store.governance import Governance
from plateledger.store.models import Agency

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10_000
MAX_BACKOFF_S = 30.0


def parse_broker(url: str, setting: str = "mqtt_alerts_url") -> tuple[str, int, str | None, str | None]:
    """(host, port, username, password) of ``mqtt://[user:password@]host[:port]``; errors name ``setting``."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ConfigurationError(f"{setting} must look like mqtt://host:1883, not {url[:100]!r}")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ConfigurationError(f"{setting} has a bad port: {url[:100]!r}") from None
    return parts.hostname, port, parts.username, parts.password


class MqttPublisher:
    def __init__(
        self, alerts: Alerts, governance: Governance, url: str, topic: str, *, approvals: Approvals | None = None
    ) -> None:
        self.host, self.port, self._username, self._password = parse_broker(url)
        self._alerts = alerts
        self._approvals = approvals
        self._gov = governance
        self._topic = topic.strip("/")
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._subscribed = False
        self.published = 0

    def offer(self, agency_id: int, body: dict[str, Any]) -> None:
        """Queue one alert (called by ``Alerts`` in the ingest thread; never blocks on the broker)."""
        with self._lock:
            if len(self._pending) >= QUEUE_LIMIT:
                self._pending.popleft()
                log.warning("MQTT alert queue full: the oldest alert was dropped")
            self._pending.append((agency_id, body))
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def _message(self, agency_id: int, body: dict[str, Any]) -> tuple[str, bytes] | None:
        with self._gov.session() as session:
            agency = session.get(Agency, agency_id)
            if agency is None:
                return None
            if body.get("event") in NOTICE_EVENTS:
                return f"{self._topic}/{agency.slug}/approvals", orjson.dumps(body)
            if not machine_delivery_allowed(session, int(body["list"]["id"])):
                return None
            slug = agency.slug
        return f"{self._topic}/{slug}/alerts", orjson.dumps(body)

    async def _publish_pending(self, client: aiomqtt.Client) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                agency_id, body = self._pending[0]
            message = await asyncio.to_thread(self._message, agency_id, body)
            if message is not None:
                await client.publish(message[0], message[1], qos=1)
                self.published += 1
            with self._lock:
                self._pending.popleft()  # only once published (or skipped): a broken connection keeps it

    async def _run(self) -> None:
        self._wake = asyncio.Event()
        backoff = 1.0
        while not self._stopping:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, username=self._username, password=self._password, identifier=None
                ) as client:
                    backoff = 1.0
                    while not self._stopping:
                        await self._publish_pending(client)
                        self._wake.clear()
                        if self._pending:
                            continue
                        await self._wake.wait()
            except aiomqtt.MqttError as error:
                if self._stopping:
                    return
                log.warning("MQTT broker %s:%s: %s; retrying in %.0f s", self.host, self.port, error, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)
                self._wake.clear()
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    def start(self) -> None:
        if not self._subscribed:
            self._alerts.subscribe(self.offer)
            if self._approvals is not None:
                self._approvals.subscribe(self.offer)
            self._subscribed = True
        self._thread = threading.Thread(target=self._thread_main, name="mqtt-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
