"""The Frigate MQTT ingest worker against a real mosquitto broker and real stores: published messages become one
searchable read per vehicle (through the policy gate, with purpose and case), audited as an MQTT batch; bad
messages are counted and skipped; unknown cameras are quarantined; a broker restart is survived."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiomqtt
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import SystemClock
from plateledger.core.errors import AuthenticationFailed, ConfigurationError, PermissionDenied
from plateledger.core.settings import Settings, load_settings
from plateledger.mqtt.ingest import MqttIngest
from plateledger.platform import Platform
from tests.integration.mqtt_kit import publish, start_broker, wait_until
from tests.support import METRICS_AUTH, NOW_MS, AgencyKit, free_port, opened, search, seed_agency

UPDATE = "frigate/tracked_object_update"
EVENTS = "frigate/events"


@pytest.fixture
def broker() -> Iterator[list[Any]]:
    """[port, process]: the test may replace the process (a restart on the same port)."""
    port = free_port()
    state: list[Any] = [port, start_broker(port)]
    yield state
    proc: subprocess.Popen[bytes] = state[1]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def kit(platform: Platform) -> AgencyKit:
    kit = seed_agency(platform, "frigate-pd")
    platform.registry.add_camera(SYSTEM, agency_slug="frigate-pd", external_id="driveway_cam", lat=37.8, lon=-122.3)
    return kit


@pytest.fixture
def worker(platform: Platform, kit: AgencyKit, broker: list[Any]) -> Iterator[MqttIngest]:
    worker = MqttIngest(platform, url=f"mqtt://127.0.0.1:{broker[0]}", token=kit.tokens["device"], quiet_s=0.3)
    worker.start()
    assert worker.connected.wait(10)
    yield worker
    worker.stop()


def lpr(object_id: str, plate: str, score: float, seconds_ago: float, camera: str = "driveway_cam") -> bytes:
    return orjson.dumps(
        {
            "type": "lpr",
            "id": object_id,
            "name": None,
            "plate": plate,
            "score": score,
            "camera": camera,
            "timestamp": NOW_MS / 1000 - seconds_ago,
            "plate_box": [917, 487, 1029, 529],
        }
    )


def end(object_id: str, seconds_ago: float) -> bytes:
    after = {"id": object_id, "camera": "driveway_cam", "label": "car", "start_time": NOW_MS / 1000 - seconds_ago}
    return orjson.dumps({"type": "end", "before": after, "after": {**after, "frame_time": NOW_MS / 1000 - 1}})


def stored(worker: MqttIngest, outcome: str = "stored") -> float:
    return worker.metrics.value("plateledger_mqtt_ingest_reads_total", outcome=outcome)


def test_published_vehicles_become_one_searchable_read_each(
    platform: Platform, kit: AgencyKit, worker: MqttIngest, broker: list[Any]
) -> None:
    publish(
        broker[0],
        [
            (UPDATE, lpr("1748779080.1-abcdef", "8ABC12", 0.61, seconds_ago=120)),
            (UPDATE, b'{"type": "lpr", "id": '),  # truncated: counted and skipped
            (UPDATE, orjson.dumps({"type": "description", "id": "x", "description": "a red car"})),
            (UPDATE, lpr("1748779080.1-abcdef", "8ABC123", 0.93, seconds_ago=119.5)),
            (UPDATE, lpr("1748779080.1-abcdef", "8ABC128", 0.80, seconds_ago=119)),
            (UPDATE, lpr("1748779080.1-abcdef", "8ABC123", 95, seconds_ago=119)),  # score off scale: skipped
            (EVENTS, end("1748779080.1-abcdef", seconds_ago=121)),
            (UPDATE, lpr("1748779090.2-ghijkl", "7XYZ999", 0.88, seconds_ago=60)),  # no end: flushed when quiet
            (UPDATE, lpr("1748779095.3-mnopqr", "5UNK000", 0.9, seconds_ago=30, camera="garage_cam")),
        ],
    )
    wait_until(lambda: stored(worker) == 2 and stored(worker, "quarantined") == 1, what="2 reads stored, 1 held")

    (best,) = search(platform, kit.investigator, "8ABC123").reads
    assert (best.read_id, best.plate, best.camera, best.ts_ms, best.confidence) == (
        "1748779080.1-abcdef",
        "8ABC123",
        "driveway_cam",
        NOW_MS - 119_500,
        0.93,
    )
    assert (best.lat, best.lon) == (37.8, -122.3)  # the camera's fixed position
    assert search(platform, kit.investigator, "8ABC12").reads == []
    assert search(platform, kit.investigator, "8ABC128").reads == []
    (flushed,) = search(platform, kit.investigator, "7XYZ999").reads
    assert (flushed.read_id, flushed.ts_ms) == ("1748779090.2-ghijkl", NOW_MS - 60_000)
    (held,) = platform.quarantine.pending(kit.admin.actor, "frigate-pd")
    assert (held.vendor_camera, held.reads) == ("garage_cam", 1)

    metrics = worker.metrics
    assert metrics.value("plateledger_mqtt_ingest_messages_total", outcome="malformed") == 2
    assert metrics.value("plateledger_mqtt_ingest_messages_total", outcome="ignored") == 1
    assert metrics.value("plateledger_mqtt_ingest_messages_total", outcome="accepted") == 6
    batches = [orjson.loads(e.params) for e in platform.audit.entries(action="ingest.batch", agency_id=kit.agency.id)]
    assert batches
    assert {(b["channel"], b["source"]) for b in batches} == {("mqtt", "frigate")}
    assert platform.audit.verify().intact

    # the worker's counters are on the API's /metrics when it runs inside serve
    with TestClient(create_app(platform=platform, collectors=[metrics.registry])) as client:
        text = client.get("/metrics", headers=METRICS_AUTH).text
    assert 'plateledger_mqtt_ingest_messages_total{outcome="malformed"} 2.0' in text
    assert 'plateledger_mqtt_ingest_reads_total{outcome="stored"} 2.0' in text


def test_a_broker_restart_is_survived(
    platform: Platform, kit: AgencyKit, worker: MqttIngest, broker: list[Any]
) -> None:
    publish(broker[0], [(UPDATE, lpr("a-1", "1AAA111", 0.9, 60)), (EVENTS, end("a-1", 61))])
    wait_until(lambda: stored(worker) == 1, what="the first read")
    broker[1].terminate()
    broker[1].wait(timeout=10)
    wait_until(lambda: not worker.connected.is_set(), what="the worker to see the broker gone")
    with pytest.raises(aiomqtt.MqttError):
        publish(broker[0], [(UPDATE, lpr("lost", "0LOST00", 0.9, 50))])
    broker[1] = start_broker(broker[0])
    wait_until(lambda: worker.connected.is_set(), timeout_s=40, what="the worker to reconnect")
    publish(broker[0], [(UPDATE, lpr("b-2", "2BBB222", 0.9, 30)), (EVENTS, end("b-2", 31))])
    wait_until(lambda: stored(worker) == 2, what="the read sent after the restart")
    assert [r.read_id for r in search(platform, kit.investigator, "2BBB222").reads] == ["b-2"]
    assert worker.metrics.value("plateledger_mqtt_ingest_connections_total") == 2


def test_vehicles_still_open_are_stored_at_stop(platform: Platform, kit: AgencyKit, broker: list[Any]) -> None:
    worker = MqttIngest(platform, url=f"mqtt://127.0.0.1:{broker[0]}", token=kit.tokens["device"], quiet_s=600)
    worker.start()
    assert worker.connected.wait(10)
    publish(broker[0], [(UPDATE, lpr("open-1", "3CCC333", 0.9, 10))])
    wait_until(lambda: worker.metrics.value("plateledger_mqtt_ingest_messages_total", outcome="accepted") == 1)
    assert search(platform, kit.investigator, "3CCC333").reads == []
    worker.stop()
    assert [r.read_id for r in search(platform, kit.investigator, "3CCC333").reads] == ["open-1"]


def test_the_token_decides_the_owner_and_must_be_a_device(platform: Platform, kit: AgencyKit) -> None:
    url = "mqtt://127.0.0.1:1"
    before = platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq
    with pytest.raises(PermissionDenied):
        MqttIngest(platform, url=url, token=kit.tokens["investigator"]).start()
    (refusal,) = platform.audit.entries(after_seq=before)  # refused and audited as on every ingest door
    assert (refusal.action, refusal.actor_username) == ("ingest.refused", kit.principals["investigator"].username)
    assert "mqtt: " in refusal.params
    with pytest.raises(AuthenticationFailed):
        MqttIngest(platform, url=url, token="not-a-token").start()
    with pytest.raises(ConfigurationError, match="mqtt_ingest_url must look like"):
        MqttIngest(platform, url="http://broker", token=kit.tokens["device"])
    with pytest.raises(ConfigurationError, match="no device token"):
        MqttIngest.configured(platform, url=url)
    with pytest.raises(ConfigurationError, match="mqtt_ingest_token: required when mqtt_ingest_url is set"):
        load_settings(data=platform.settings.data, mqtt_ingest_url=url)
    configured = load_settings(
        data=platform.settings.data, mqtt_ingest_url="mqtt://nvr:1884", mqtt_ingest_token="t", mqtt_ingest_quiet_s=2
    )
    assert (configured.mqtt_ingest_topic, configured.mqtt_ingest_quiet_s) == ("frigate", 2.0)


def test_a_revoked_token_stops_storing(
    platform: Platform, kit: AgencyKit, worker: MqttIngest, broker: list[Any]
) -> None:
    token_id = platform.tokens.authenticate(kit.tokens["device"]).token_id
    assert token_id is not None
    platform.tokens.revoke(kit.admin.actor, token_id)
    publish(broker[0], [(UPDATE, lpr("r-1", "4DDD444", 0.9, 10)), (EVENTS, end("r-1", 11))])
    wait_until(lambda: stored(worker, "refused") == 1, what="the read refused")
    assert search(platform, kit.investigator, "4DDD444").reads == []


@pytest.mark.slow
def test_the_mqtt_command(settings: Settings, broker: list[Any]) -> None:
    """`plateledger mqtt` in its own process: stores what is published, skips a bad message, stops on SIGTERM
    storing the vehicle still open, and says what it did."""
    with opened(settings, SystemClock()) as platform:
        kit = seed_agency(platform, "cli-pd")
    now_s = time.time()
    broker_url = f"mqtt://127.0.0.1:{broker[0]}"
    options = ["--broker", broker_url, "--token", kit.tokens["device"], "--quiet", "600", "--data", str(settings.data)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "plateledger.cli.main", "mqtt", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"connected to 127.0.0.1:{broker[0]}")
        message = orjson.loads(lpr("cli-1", "6CLI666", 0.9, 0, camera="cli-pd-fixed"))
        publish(broker[0], [(UPDATE, b"{"), (UPDATE, orjson.dumps({**message, "timestamp": now_s - 5}))])
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        output, errors = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, errors
    assert "stopped: 1 reads stored, 1 bad messages skipped" in output
    with opened(settings, SystemClock()) as platform:
        (found,) = search(platform, platform.tokens.authenticate(kit.tokens["investigator"]), "6CLI666").reads
    assert (found.read_id, found.camera) == ("cli-1", "cli-pd-fixed")


def _rename_audit_log(platform: Platform, old: str, new: str) -> None:
    with platform.governance.session() as session:
        session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        session.commit()


def test_reads_wait_for_the_audit_log(
    platform: Platform, kit: AgencyKit, worker: MqttIngest, broker: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Fail closed: while the audit log cannot be written nothing is stored; the reads are stored once it is back."""
    _rename_audit_log(platform, "audit_log", "audit_log_gone")
    publish(broker[0], [(UPDATE, lpr("w-1", "9WAIT99", 0.9, 10)), (EVENTS, end("w-1", 11))])
    wait_until(lambda: "audit log unavailable" in caplog.text, what="a failed attempt")
    assert platform.reads.count() == 0
    _rename_audit_log(platform, "audit_log_gone", "audit_log")
    wait_until(lambda: stored(worker) == 1, what="the read stored once the audit log is back")
    assert [r.read_id for r in search(platform, kit.investigator, "9WAIT99").reads] == ["w-1"]
