"""Alerts published to a real MQTT broker (mosquitto, started per test on a free port): the alert JSON on
PREFIX/AGENCY/alerts, nothing for covert lists, and alerts raised while the broker is down published once it is
back."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import aiomqtt
import orjson
import pytest

from plateledger.alerts.mqtt import MqttPublisher, parse_broker
from plateledger.alerts.service import Hit
from plateledger.core.clock import FixedClock
from plateledger.core.errors import ConfigurationError
from plateledger.hotlists.service import EntryIn
from plateledger.platform import Platform
from tests.integration.alert_kit import VEHICLE
from tests.integration.mqtt_kit import start_broker, wait_until
from tests.support import DAY_MS, AgencyKit, free_port, seed_agency


@pytest.fixture
def broker() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    port = free_port()
    procs = [start_broker(port)]
    yield port, procs
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


class Subscriber:
    """Collects messages on a topic filter in a background asyncio loop (a thread of its own)."""

    def __init__(self, port: int, topic: str) -> None:
        import threading

        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._ready = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(port, topic)), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _run(self, port: int, topic: str) -> None:
        try:
            await self._listen(port, topic)
        except aiomqtt.MqttError:
            return  # the broker stopped at the end of the test

    async def _listen(self, port: int, topic: str) -> None:
        async with aiomqtt.Client("127.0.0.1", port) as client:
            await client.subscribe(topic, qos=1)
            self._ready.set()
            async for message in client.messages:
                self.messages.append((str(message.topic), orjson.loads(bytes(message.payload))))  # type: ignore[arg-type]
                if self._done:
                    return

    def wait_for(self, count: int, timeout_s: float = 20) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def make_list(platform: Platform, kit: AgencyKit, clock: FixedClock, name: str, covert: bool = False) -> int:
    view = platform.hotlists.create(kit.investigator, name=name, default_purpose="stolen_vehicle", covert=covert)
    raw = EntryIn(plate="7ABC123", reference="C-1", reason="test", expires_ms=clock.now_ms() + DAY_MS)
    valid, errors = platform.hotlists.validate(view, [raw])
    assert errors == []
    platform.hotlists.apply(kit.investigator, view.id, add=valid)
    (entry,) = platform.hotlists.entries(kit.investigator, view.id)
    entry_id: int = entry["id"]
    return entry_id


def hit(kit: AgencyKit, entry_id: int, clock: FixedClock, read_id: str, **vehicle: str) -> Hit:
    return Hit(
        entry_id,
        kit.agency.id,
        read_id,
        "7ABC123",
        "US-CA",
        clock.now_ms() - 1000,
        kit.cameras[0],
        37.7,
        -122.4,
        0.9,
        **vehicle,
    )


def test_alerts_are_published_and_covert_ones_are_not(
    platform: Platform, clock: FixedClock, broker: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, _ = broker
    kit = seed_agency(platform, "mqtt-pd")
    open_entry = make_list(platform, kit, clock, "open")
    covert_entry = make_list(platform, kit, clock, "covert", covert=True)
    subscriber = Subscriber(port, "plateledger/+/alerts")
    publisher = MqttPublisher(platform.alerts, platform.governance, f"mqtt://127.0.0.1:{port}", "plateledger")
    publisher.start()
    try:
        raised = platform.alerts.process(
            [hit(kit, covert_entry, clock, "covert-1"), hit(kit, open_entry, clock, "open-1", **VEHICLE)]
        ).raised
        assert len(raised) == 2
        messages = subscriber.wait_for(1)
        time.sleep(0.5)  # a covert alert, if it were published, would arrive by now
    finally:
        publisher.stop()
    assert [(topic, body["read"]["read_id"]) for topic, body in messages] == [("plateledger/mqtt-pd/alerts", "open-1")]
    assert messages[0][1]["verify_first"]
    assert messages[0][1]["read"]["vehicle"] == {"make": "Toyota", "model": "Corolla", "color": "red", "type": "sedan"}
    assert publisher.published == 1


def test_alerts_raised_while_the_broker_is_down_are_published_when_it_is_back(
    platform: Platform, clock: FixedClock, broker: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, procs = broker
    kit = seed_agency(platform, "mqtt-pd")
    entry = make_list(platform, kit, clock, "open")
    publisher = MqttPublisher(platform.alerts, platform.governance, f"mqtt://127.0.0.1:{port}", "site")
    publisher.start()
    try:
        procs[0].terminate()
        procs[0].wait(timeout=10)
        platform.alerts.process([hit(kit, entry, clock, "while-down")])
        time.sleep(1.5)  # the publisher notices and backs off
        procs.append(start_broker(port))
        subscriber = Subscriber(port, "site/#")
        messages = subscriber.wait_for(1, timeout_s=40)
    finally:
        publisher.stop()
    assert [body["read"]["read_id"] for _, body in messages] == ["while-down"]


@pytest.mark.parametrize("url", ["http://broker:1883", "mqtt://", "mqtt://host:99999"])
def test_bad_broker_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_broker(url)
    assert parse_broker("mqtt://u:p@example.org:8883") == ("example.org", 8883, "u", "p")


def test_home_assistant_discovery_announces_alert_topics_retained(
    platform: Platform, clock: FixedClock, broker: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, _ = broker
    kit = seed_agency(platform, "ha-pd")
    make_list(platform, kit, clock, "covert", covert=True)
    publisher = MqttPublisher(
        platform.alerts,
        platform.governance,
        f"mqtt://127.0.0.1:{port}",
        "plateledger",
        discovery_prefix="homeassistant",
    )
    publisher.start()
    try:
        time.sleep(1)  # announced on connecting; a late subscriber still gets them (retained)
        configs = Subscriber(port, "homeassistant/#").wait_for(2)
        later = seed_agency(platform, "late-pd")  # created after the connection: announced before its first alert
        entry = make_list(platform, later, clock, "open")
        platform.alerts.process([hit(later, entry, clock, "late-1")])
        wait_until(lambda: publisher.published == 1, what="the alert published")
        alerts = Subscriber(port, "plateledger/+/alerts")  # after it was published
        everything = Subscriber(port, "homeassistant/#").wait_for(4)
    finally:
        publisher.stop()
    by_topic = {topic: body for topic, body in configs}
    event = by_topic["homeassistant/event/plateledger_ha-pd/alerts/config"]
    sensor = by_topic["homeassistant/sensor/plateledger_ha-pd/last_plate/config"]
    assert event["state_topic"] == sensor["state_topic"] == "plateledger/ha-pd/alerts"
    assert event["event_types"] == ["alert"]
    assert "value_json.read.vehicle" in event["value_template"]
    assert "value_json.read.vehicle" in sensor["json_attributes_template"]
    assert event["device"]["identifiers"] == ["plateledger_ha-pd"]
    assert {t for t, _ in everything} >= {
        "homeassistant/event/plateledger_late-pd/alerts/config",
        "homeassistant/sensor/plateledger_late-pd/last_plate/config",
    }
    text = orjson.dumps(everything).decode()
    assert "covert" not in text  # lists are never announced, covert ones least of all
    assert alerts.messages == []  # the alert itself was not retained
