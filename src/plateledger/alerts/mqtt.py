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

With ``discovery_prefix`` (settings ``mqtt_discovery`` and ``mqtt_discovery_prefix``), each agency's alert topic is
announced to Home Assistant by retained MQTT discovery configs (:func:`discovery_configs`): an ``event`` entity
(one event per alert: plate, list, camera, time, alert id) and a ``sensor`` (the last alerted plate), both of one
device per agency. They are published on every connection for every agency, and for an agency created since
before its first alert. Only agencies' alert topics are announced: covert lists have no topic, and their alerts
are never published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import orjson
from sqlalchemy import select

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


def discovery_configs(prefix: str, topic: str, slug: str, name: str) -> list[tuple[str, bytes]]:
    """The retained Home Assistant discovery messages (topic, payload) announcing the alert topic of ``slug``."""
    state = f"{topic}/{slug}/alerts"
    node = "plateledger_" + re.sub(r"[^A-Za-z0-9_-]", "_", slug)
    device = {"identifiers": [node], "name": f"Plateledger {name}", "manufacturer": "Plateledger"}
    event = {
        "name": "Hot-list alert",
        "unique_id": f"{node}_alert",
        "state_topic": state,
        "event_types": ["alert"],
        "value_template": (
            '{"event_type": "alert", "plate": {{ value_json.read.plate | tojson }}, '
            '"list": {{ value_json.list.name | tojson }}, "camera": {{ value_json.read.camera | tojson }}, '
            '"time": {{ value_json.read.ts | tojson }}, "vehicle": {{ value_json.read.vehicle | tojson }}, '
            '"alert_id": {{ value_json.id }}}'
        ),
        "device": device,
        "qos": 1,
    }
    sensor = {
        "name": "Last alert plate",
        "unique_id": f"{node}_last_plate",
        "state_topic": state,
        "value_template": "{{ value_json.read.plate }}",
        "json_attributes_topic": state,
        "json_attributes_template": (
            "{{ {'list': value_json.list.name, 'camera': value_json.read.camera, 'time': value_json.read.ts, "
            "'vehicle': value_json.read.vehicle, 'alert_id': value_json.id} | tojson }}"
        ),
        "icon": "mdi:car-search",
        "device": device,
        "qos": 1,
    }
    prefix = prefix.strip("/")
    return [
        (f"{prefix}/event/{node}/alerts/config", orjson.dumps(event)),
        (f"{prefix}/sensor/{node}/last_plate/config", orjson.dumps(sensor)),
    ]


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
        self,
        alerts: Alerts,
        governance: Governance,
        url: str,
        topic: str,
        *,
        approvals: Approvals | None = None,
        discovery_prefix: str | None = None,
    ) -> None:
        self.host, self.port, self._username, self._password = parse_broker(url)
        self._alerts = alerts
        self._approvals = approvals
        self._gov = governance
        self._topic = topic.strip("/")
        self._discovery = discovery_prefix
        #: Agencies (slug) announced to Home Assistant on the current connection.
        self._announced: set[str] = set()
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

    def _message(self, agency_id: int, body: dict[str, Any]) -> tuple[str, bytes, str, str] | None:
        """(topic, payload, agency slug, agency name), or None for what is not published."""
        with self._gov.session() as session:
            agency = session.get(Agency, agency_id)
            if agency is None:
                return None
            if body.get("event") in NOTICE_EVENTS:
                return f"{self._topic}/{agency.slug}/approvals", orjson.dumps(body), agency.slug, agency.name
            if not machine_delivery_allowed(session, int(body["list"]["id"])):
                return None
            slug, name = agency.slug, agency.name
        return f"{self._topic}/{slug}/alerts", orjson.dumps(body), slug, name

    def _agencies(self) -> list[tuple[str, str]]:
        with self._gov.session() as session:
            return [(a.slug, a.name) for a in session.scalars(select(Agency).order_by(Agency.id))]

    async def _announce(self, client: aiomqtt.Client, agencies: list[tuple[str, str]]) -> None:
        """Publish the discovery configs of the agencies not yet announced on this connection (retained)."""
        if self._discovery is None:
            return
        for slug, name in agencies:
            if slug in self._announced:
                continue
            for topic, payload in discovery_configs(self._discovery, self._topic, slug, name):
                await client.publish(topic, payload, qos=1, retain=True)
            self._announced.add(slug)

    async def _publish_pending(self, client: aiomqtt.Client) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                agency_id, body = self._pending[0]
            message = await asyncio.to_thread(self._message, agency_id, body)
            if message is not None:
                await self._announce(client, [(message[2], message[3])])
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
                    self._announced.clear()
                    if self._discovery is not None:
                        await self._announce(client, await asyncio.to_thread(self._agencies))
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
