"""`plateledger cameras quarantine|map|approve|health|silent` on a real data directory."""

from __future__ import annotations

import time
from typing import Any

import orjson
from typer.testing import CliRunner

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.cli.main import app
from plateledger.core.clock import SystemClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.support import HOUR_MS, seed_agency


def cli(settings: Settings, *args: str, json: bool = True) -> Any:
    result = CliRunner().invoke(app, [*args, "--data", str(settings.data), *(["--json"] if json else [])])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout) if json else result.stdout


def test_quarantine_map_approve_and_health(settings: Settings) -> None:
    now = int(time.time() * 1000)
    platform = Platform.open(settings, clock=SystemClock())
    try:
        kit = seed_agency(platform, "city")
        reads = [
            SourceRead(plate="ABC123", ts_ms=now - HOUR_MS, camera="lane-1", source_ts="x"),
            SourceRead(plate="ABC124", ts_ms=now - 2 * HOUR_MS, camera="lane-2", source_ts="y"),
        ]
        stored = platform.vendor.store(kit.device.actor, kit.agency, Adapted(reads=reads), channel="http", source="t")
        assert stored.quarantined == 2
    finally:
        platform.close()

    pending = cli(settings, "cameras", "quarantine", "--agency", "city")
    assert sorted((p["vendor_camera"], p["reads"]) for p in pending) == [("lane-1", 1), ("lane-2", 1)]
    mapped = cli(settings, "cameras", "map", "lane-1", "--agency", "city", "--to", "city-fixed")
    assert (mapped["how"], mapped["released"], mapped["stored"]) == ("mapped", 1, 1)
    approved = cli(settings, "cameras", "approve", "lane-2", "--agency", "city", "--lat", "37.7", "--lon", "-122.4")
    assert (approved["camera"], approved["stored"]) == ("lane-2", 1)
    assert cli(settings, "cameras", "quarantine", "--agency", "city") == []
    health = {h["external_id"]: h for h in cli(settings, "cameras", "health", "--agency", "city")}
    assert health["city-fixed"]["last_read_ms"] is None  # released reads count as reads, not as the camera's flow
    assert set(health) == {"city-fixed", "city-mobile", "lane-2"}
    text = cli(settings, "cameras", "silent", "lane-2", "--agency", "city", "--seconds", "600", json=False)
    assert "silent after 600 s" in text
    assert cli(settings, "cameras", "health", "--agency", "city", json=False).count("every 600s") == 1
