"""`plateledger mqtt`: the MQTT ingest worker on its own (``serve`` runs the same worker when configured)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from prometheus_client import start_http_server

from plateledger.cli.common import DataOpt, err, opened, out, settings_for, start_logging
from plateledger.core.errors import DataDirectoryBusy
from plateledger.mqtt.ingest import MqttIngest


def mqtt(
    broker: Annotated[
        str | None, typer.Option(help="Broker URL mqtt://[user:password@]host[:port] [setting mqtt_ingest_url]")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Device token; its agency owns the reads [setting mqtt_ingest_token]", show_default=False),
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Frigate's topic prefix [default frigate]")] = None,
    quiet: Annotated[
        float | None, typer.Option(help="Seconds without a new plate before a vehicle's read is stored [default 5]")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the worker's Prometheus metrics on 127.0.0.1:PORT/metrics")
    ] = None,
    data: DataOpt = None,
) -> None:
    """Ingest Frigate's license plate reads from an MQTT broker until stopped (Ctrl-C or SIGTERM).

    Subscribes to TOPIC/tracked_object_update and TOPIC/events, stores one read per vehicle through the same
    ingest path as HTTP (audited, unknown cameras quarantined, hot lists matched), logs and counts bad messages
    and skips them, and reconnects with backoff when the broker goes away. Takes the data directory's lock: when
    `plateledger serve` holds it, set mqtt_ingest_url and mqtt_ingest_token for serve instead.
    """
    if quiet is not None and not 0.1 <= quiet <= 600:
        raise typer.BadParameter("must be between 0.1 and 600", param_hint="--quiet")
    start_logging(settings_for(data))
    try:
        with opened(data) as platform:
            worker = MqttIngest.configured(platform, url=broker, token=token, topic=topic, quiet_s=quiet)
            _run(worker, metrics_port)
    except DataDirectoryBusy as busy:
        raise DataDirectoryBusy(
            f"{busy.detail}; to ingest MQTT there, set mqtt_ingest_url and mqtt_ingest_token for `plateledger serve`"
        ) from None


def _run(worker: MqttIngest, metrics_port: int | None) -> None:
    stop = threading.Event()
    worker.start()
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=worker.metrics.registry)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    where = f"{worker.host}:{worker.port}"
    if worker.connected.wait(5):
        out.print(f"connected to {where}: ingesting Frigate's plates (Ctrl-C stops)")
    else:
        err.print(f"broker {where} not reachable yet: retrying with backoff (Ctrl-C stops)")
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    err.print("stopping: storing the vehicles still open ...")
    worker.stop()
    stored = worker.metrics.value("plateledger_mqtt_ingest_reads_total", outcome="stored")
    bad = worker.metrics.value("plateledger_mqtt_ingest_messages_total", outcome="malformed")
    out.print(f"stopped: {stored:.0f} reads stored, {bad:.0f} bad messages skipped")
