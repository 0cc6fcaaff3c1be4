"""The MQTT ingest worker: Frigate's license plate messages from a broker, stored as reads of one agency.

``plateledger mqtt --broker mqtt://host:1883 --token DEVICE_TOKEN`` runs it alone; ``plateledger serve`` runs it
alongside the API when ``mqtt_ingest_url`` and ``mqtt_ingest_token`` are set. It authenticates as a device of
one agency: the owner of every read comes from the token, never from a message, and the token is checked again
before every batch, so revoking it stops the ingest. A background thread runs an asyncio loop with an ``aiomqtt``
client subscribed (QoS 1) to ``{topic}/tracked_object_update`` and ``{topic}/events``; each message goes through
:func:`plateledger.adapters.frigate.parse` into the :class:`~plateledger.adapters.frigate.Deduplicator`, and
every ``TICK_S`` the reads it completed are stored in one batch through the vendor ingest layer (which audits it,
quarantines unknown cameras and runs hot-list matching). A bad message is logged, counted
(``plateledger_mqtt_ingest_messages_total{outcome="malformed"}``) and skipped. A lost connection is retried with
exponential backoff (1 s doubling to 30 s); at stop, every vehicle still open is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

import aiomqtt
from prometheus_client import CollectorRegistry, Counter, Gauge

from plateledger.adapters import frigate
from plateledger.adapters.base import SourceRead
from plateledger.alerts.mqtt import parse_broker
from plateledger.core.errors import (
    AuditUnavailable,
    ConfigurationError,
    InvalidInput,
    PlateledgerError,
)
from plateledger.platform import Platform

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0
TICK_S = 0.25
#: Most completed reads held for a retry while the audit log is unavailable.
MAX_READY = 100_000
SOURCE = "frigate"


class IngestMetrics:
    """The worker's Prometheus counters, in a registry of their own (``serve`` adds them to ``/metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "plateledger_mqtt_ingest_messages",
            "MQTT messages received by the ingest worker, by outcome (accepted, ignored, late, malformed)",
            ["outcome"],
            registry=self.registry,
        )
        self.reads = Counter(
            "plateledger_mqtt_ingest_reads",
            "Reads the MQTT ingest worker completed, by what the store did with them",
            ["outcome"],
            registry=self.registry,
        )
        self.connections = Counter(
            "plateledger_mqtt_ingest_connections", "Connections made to the MQTT broker", registry=self.registry
        )
        self.connected = Gauge(
            "plateledger_mqtt_ingest_connected", "1 while connected to the MQTT broker", registry=self.registry
        )

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (tests, the CLI's summary)."""
        found = self.registry.get_sample_value(name, labels)
        return found or 0.0


class MqttIngest:
    def __init__(
        self, platform: Platform, *, url: str, token: str, topic: str = "frigate", quiet_s: float = 5.0
    ) -> None:
        self.host, self.port, self._username, self._password = parse_broker(url, "mqtt_ingest_url")
        self._platform = platform
        self._token = token
        self._topic = topic.strip("/")
        self._dedup = frigate.Deduplicator(quiet_ms=int(quiet_s * 1000))
        self._ready: list[SourceRead] = []
        self.metrics = IngestMetrics()
        self.connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._identifier = ""

    @classmethod
    def configured(
        cls,
        platform: Platform,
        *,
        url: str | None = None,
        token: str | None = None,
        topic: str | None = None,
        quiet_s: float | None = None,
    ) -> MqttIngest:
        """A worker with the given values, else the ``mqtt_ingest_*`` settings."""
        settings = platform.settings
        url = url or settings.mqtt_ingest_url
        token = token or settings.mqtt_ingest_token
        if not url:
            raise ConfigurationError("no MQTT broker: give --broker or set mqtt_ingest_url")
        if not token:
            raise ConfigurationError("no device token: give --token or set mqtt_ingest_token")
        return cls(
            platform,
            url=url,
            token=token,
            topic=topic or settings.mqtt_ingest_topic,
            quiet_s=settings.mqtt_ingest_quiet_s if quiet_s is None else quiet_s,
        )

    # ---- authentication and storing (worker thread, via asyncio.to_thread) ----------------------------------
    def _store(self, reads: list[SourceRead]) -> None:
        try:
            result = self._platform.vendor.receive_reads(self._token, reads, channel="mqtt", source=SOURCE)
        except AuditUnavailable:
            raise  # kept for the next tick: nothing was stored
        except PlateledgerError as refusal:
            log.error("MQTT ingest: %d read(s) refused: %s", len(reads), refusal.detail)
            self.metrics.reads.labels("refused").inc(len(reads))
            return
        for outcome, count in (
            ("stored", result.stored),
            ("duplicate", result.duplicates),
            ("rejected", len(result.rejected)),
            ("quarantined", result.quarantined),
        ):
            self.metrics.reads.labels(outcome).inc(count)
        for index, reason in result.rejected:  # no plate in the log: reads leave the store only through the gate
            log.warning("MQTT ingest: a read of camera %s rejected: %s", reads[index].camera[:64], reason[:300])

    async def _store_ready(self) -> None:
        if not self._ready:
            return
        batch, self._ready = self._ready, []
        try:
            await asyncio.to_thread(self._store, batch)
        except AuditUnavailable as error:
            log.error("MQTT ingest: audit log unavailable, %d read(s) kept for retry: %s", len(batch), error.detail)
            self._ready[:0] = batch
            if len(self._ready) > MAX_READY:  # bounded while the audit log stays away: the oldest go
                dropped = len(self._ready) - MAX_READY
                del self._ready[:dropped]
                self.metrics.reads.labels("failed").inc(dropped)
        except Exception:  # a store failure must not end the worker: it is logged and counted
            log.exception("MQTT ingest: storing %d read(s) failed; they are dropped", len(batch))
            self.metrics.reads.labels("failed").inc(len(batch))

    # ---- messages (event loop) ---------------------------------------------------------------------------
    def handle(self, topic: str, payload: Any) -> None:
        """One message: parsed, de-duplicated; a bad one is logged, counted and skipped."""
        try:
            if not isinstance(payload, bytes | bytearray):
                raise InvalidInput("message payload is not bytes")
            sighting = frigate.parse(topic, bytes(payload))
        except PlateledgerError as bad:
            self.metrics.messages.labels("malformed").inc()
            log.warning("MQTT ingest: skipped a bad message on %s: %s", topic[:200], bad.detail[:300])
            return
        if sighting is None:
            self.metrics.messages.labels("ignored").inc()
            return
        late = self._dedup.late
        self._ready.extend(self._dedup.offer(sighting, _monotonic_ms()))
        self.metrics.messages.labels("late" if self._dedup.late > late else "accepted").inc()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._ready.extend(self._dedup.flush(_monotonic_ms()))
            await self._store_ready()

    async def _listen(self) -> None:
        backoff = 1.0
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self._username,
                    password=self._password,
                    identifier=self._identifier,
                    clean_session=False,
                ) as client:
                    for kind in frigate.TOPICS:
                        await client.subscribe(f"{self._topic}/{kind}", qos=1)
                    self.metrics.connections.inc()
                    self.metrics.connected.set(1)
                    self.connected.set()
                    log.info("MQTT ingest: subscribed to %s/# on %s:%s", self._topic, self.host, self.port)
                    backoff = 1.0
                    async for message in client.messages:
                        self.handle(str(message.topic), message.payload)
            except aiomqtt.MqttError as error:
                self.connected.clear()
                self.metrics.connected.set(0)
                log.warning("MQTT broker %s:%s: %s; retrying in %.0f s", self.host, self.port, error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _run(self) -> None:
        tick = asyncio.create_task(self._tick())
        try:
            await self._listen()
        finally:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._run())
            self._started.set()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
            self._ready.extend(self._dedup.drain())
            loop.run_until_complete(self._store_ready())
            loop.run_until_complete(loop.shutdown_default_executor())  # a store cut off by the stop finishes
        finally:
            loop.close()

    def start(self) -> None:
        """Check the token (AuthenticationFailed / PermissionDenied at once, not in the thread) and start."""
        principal = self._platform.vendor.device(self._token, channel="mqtt")
        self._identifier = f"plateledger-ingest-{principal.agency_slug}"[:64]
        self._thread = threading.Thread(target=self._thread_main, name="mqtt-ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Disconnect, store every vehicle still open, and return."""
        self._started.wait(timeout=10)
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=30)


def _monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
