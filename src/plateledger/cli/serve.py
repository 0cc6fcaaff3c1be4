"""`plateledger serve` and `plateledger demo`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from plateledger.alerts.mqtt import MqttPublisher
from plateledger.alerts.notifier import Notifier
from plateledger.alerts.sender import WebhookSender
from plateledger.audit.checkpoint_job import CheckpointJob
from plateledger.cameras.health import HealthFlush
from plateledger.cli.common import DataOpt, JsonOpt, err, out, print_json, settings_for, start_logging
from plateledger.cli.progress import progress
from plateledger.core.clock import SystemClock, iso_ms
from plateledger.demo.trickle import Trickle
from plateledger.mqtt.ingest import MqttIngest
from plateledger.platform import Platform
from plateledger.retention.scheduler import RetentionJob
from plateledger.review.job import OversightJob

log = logging.getLogger("plateledger.serve")


def _serve(platform: Platform, *, live_reads: bool = False) -> None:
    """Serve until stopped, with the retention job (and, for the demo, a trickle of live reads)."""
    settings = platform.settings
    # Load the hot-list matching mirror before taking traffic, so the first batch is not the one that waits for it.
    platform.matcher.sync(platform.clock.now_ms())
    if platform.matcher.last_load_entries:
        log.info(
            "hot-list matching: %s active entries loaded in %.1f s",
            platform.matcher.last_load_entries,
            platform.matcher.last_load_s,
        )
    platform.warm_up()  # the first searches would wait for what it loads
    log.info("serving http://%s:%s (OpenAPI: /docs, /openapi.json; Ctrl-C stops)", settings.host, settings.port)
    job = RetentionJob(platform.retention, settings.retention_interval_s) if settings.retention_interval_s else None
    trickle = Trickle(platform) if live_reads else None
    sender = WebhookSender(platform.alerts, platform.webhooks, settings, platform.clock, approvals=platform.approvals)
    notifier = Notifier(platform.alerts, platform.notify, settings, platform.clock)
    mqtt = (
        MqttPublisher(
            platform.alerts,
            platform.governance,
            settings.mqtt_alerts_url,
            settings.mqtt_alerts_topic,
            approvals=platform.approvals,
            discovery_prefix=settings.mqtt_discovery_prefix if settings.mqtt_discovery else None,
        )
        if settings.mqtt_alerts_url
        else None
    )
    ingest = MqttIngest.configured(platform) if settings.mqtt_ingest_url else None
    checkpoints = CheckpointJob(
        platform.checkpoints,
        every_entries=settings.checkpoint_every_entries,
        interval_s=settings.checkpoint_interval_s,
    )
    oversight = OversightJob(platform.oversight)
    health = HealthFlush(platform.health)
    for worker in (job, sender, notifier, mqtt, ingest, trickle, checkpoints, oversight, health):
        if worker is not None:
            worker.start()
    collectors = [ingest.metrics.registry] if ingest else []
    # The web stack is imported here, not with the CLI: every other command (`plateledger ingest` of a file
    # among them) starts without loading FastAPI, Jinja and the routes (about a second, measured in
    # docs/benchmarks.md).
    from plateledger.app import create_app
    from plateledger.cli.httpserver import run_http

    try:
        app = create_app(platform=platform, collectors=collectors)
        run_http(app, settings)
    finally:
        for worker in (health, oversight, checkpoints, trickle, ingest, mqtt, notifier, sender, job):
            if worker is not None:
                worker.stop()


def serve(
    data: DataOpt = None,
    host: Annotated[str | None, typer.Option(help="Bind address [default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000]")] = None,
) -> None:
    """Serve the HTTP API on the data directory (takes its lock; CLI searches then go through the server)."""
    settings = settings_for(data, host=host, port=port)
    start_logging(settings)
    platform = Platform.open(settings, url=f"http://{settings.host}:{settings.port}")
    try:
        _serve(platform)
    finally:
        platform.close()


def _print_welcome(summary: dict[str, Any], data: Path, host: str, port: int) -> None:
    out.print(f"\nDemo network seeded in {data}: {summary['reads']['stored']:,} reads.")
    out.print("Camera positions: © OpenStreetMap contributors (ODbL).\n")
    out.print("Agencies:")
    for agency in summary["agencies"]:
        out.print(
            f"  {agency['slug']:<28} {agency['kind']:<10} {agency['country']}-{agency['state']}  {agency['name']}"
        )
    out.print("\nUsers, passwords and API tokens (shown once; keep them):")
    for user in summary["users"]:
        out.print(f"  {user['username']:<36} {user['role']:<13} {user['password']:<18} {user['token']}")
    plates = [p["plate"] for p in summary["example_plates"]] or ["7ABC123"]
    agency = summary["example_plates"][0]["agencies"][0] if summary["example_plates"] else None
    investigator = next(
        u for u in summary["users"] if u["role"] == "investigator" and (agency is None or u["agency"] == agency)
    )
    device = next(u for u in summary["users"] if u["role"] == "device" and u["agency"] == investigator["agency"])
    base = f"http://{host}:{port}"
    _print_web(summary, base, investigator)
    out.print(f"\nTry these (investigator of {investigator['agency']}):")
    out.print(
        f"  curl -s -H 'Authorization: Bearer {investigator['token']}' "
        f"'{base}/api/v1/search/plate?plate={plates[0]}&purpose=stolen_vehicle&case_number=C-1'"
    )
    out.print(
        f"  curl -s -H 'Authorization: Bearer {investigator['token']}' "
        f"'{base}/api/v1/search/plate?plate={plates[0][:3]}*&purpose=violent_crime&case_number=C-2'"
    )
    out.print(
        f"  plateledger search plate {plates[0]} --fuzzy --purpose missing_person --case C-3 "
        f"--token {investigator['token']} --data {data}"
    )
    camera = next((c["external_id"] for c in summary["cameras"] if c["agency"] == device["agency"]), "cam")
    reads = orjson.dumps(
        [
            {"plate": plates[0], "ts": iso_ms(SystemClock().now_ms() - 60_000), "camera": camera},
            {"plate": plates[0], "ts": "2026-01-01T00:00:00Z", "camera": "no-such-camera"},
        ]
    ).decode()
    out.print(f"  curl -s -X POST -H 'Authorization: Bearer {device['token']}' -d '{reads}' {base}/api/v1/reads")
    out.print("    (a device's batch: the first read is stored, the second rejected with its index and reason)")
    lists = summary.get("hot_lists", [])
    if lists:
        out.print("\nHot lists (live reads of these plates arrive while the demo serves):")
        for hot in lists:
            out.print(f"  {hot['agency']:<24} {hot['name']:<30} {hot['purpose']:<24} {', '.join(hot['plates'])}")
        owner = next(u for u in summary["users"] if u["role"] == "investigator" and u["agency"] == lists[0]["agency"])
        out.print(f"  Alerts of {owner['agency']} as they arrive (Server-Sent Events):")
        out.print(f"  curl -N -H 'Authorization: Bearer {owner['token']}' {base}/api/v1/alerts/stream")
    out.print(f"\nAudit log: plateledger audit list --data {data};  verify: plateledger audit verify --data {data}\n")


def _print_web(summary: dict[str, Any], base: str, investigator: dict[str, Any]) -> None:
    """Where a newcomer starts in the browser, and as whom."""

    def user(role: str, agency: str) -> dict[str, Any]:
        found = (u for u in summary["users"] if u["role"] == role and u["agency"] == agency)
        return next(found, investigator)

    lists = summary.get("hot_lists", [])
    alerts = user("investigator", lists[0]["agency"]) if lists else investigator
    pending = next((a for a in summary.get("agreements", []) if a["state"] == "pending"), None)
    admin = user("admin", pending["owner"]) if pending else user("admin", investigator["agency"])
    out.print(f"\nWeb UI: {base}/ui/  (public transparency reports, no sign-in: {base}/ui/public)")
    out.print(f"  search:        sign in as {investigator['username']}  password {investigator['password']}")
    out.print(f"  live alerts:   sign in as {alerts['username']}  password {alerts['password']}")
    out.print(f"  sharing, policy, access log (a request awaits): {admin['username']}  password {admin['password']}")
    auditor = user("auditor", admin["agency"])
    out.print(f"  audit log:     sign in as {auditor['username']}  password {auditor['password']}")


def demo(
    data: DataOpt = None,
    reads: Annotated[int, typer.Option(help="Reads to simulate over the last 30 days")] = 1_000_000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed only; do not start the server")] = False,
    json: JsonOpt = False,
    host: Annotated[str | None, typer.Option(help="Bind address [default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000]")] = None,
) -> None:
    """Seed a realistic demo network (fictional agencies, real camera positions, simulated vehicles) and serve."""
    from plateledger.demo.network import seed_demo

    if reads < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--reads")
    settings = settings_for(data, host=host, port=port)
    start_logging(settings)
    url = None if no_serve else f"http://{settings.host}:{settings.port}"
    platform = Platform.open(settings, url=url)
    try:
        if not json:
            err.print(f"seeding the demo network with {reads:,} reads ...")
        with progress("seeding", reads, unit="reads", every_s=settings.progress_interval_s, bar=not json) as advance:
            summary = seed_demo(platform, reads=reads, progress=advance).as_json()
        if json:
            print_json(summary)
        else:
            _print_welcome(summary, settings.data, settings.host, settings.port)
        if not no_serve:
            if not json:
                out.print("live reads: a few reads a second arrive at the demo cameras, some of hot-listed plates")
            _serve(platform, live_reads=True)
    finally:
        platform.close()
