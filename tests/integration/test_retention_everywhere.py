"""Retention everywhere reads live (issue 17, item 4): quarantined reads and alert hits expire with the owner's
limits, and a retention run killed (kill -9) at any step is completed by the next run, so that ``reads``,
``read_keys`` and the audit log agree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from plateledger.adapters.base import Adapted, Image, SourceRead
from plateledger.audit.log import SYSTEM
from plateledger.cameras.quarantine import Held
from plateledger.core.clock import FixedClock
from plateledger.core.crashpoints import FILE_ENV, POINT_ENV
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import Policy
from plateledger.store.models import Alert, QuarantinedRead
from tests.integration.alert_kit import hot_list, raise_alert
from tests.integration.test_retention import key_count, seed
from tests.support import DAY_MS, NOW_MS, AgencyKit, ingest, opened, read, seed_agency

CLI = [sys.executable, "-m", "plateledger.cli.main"]


def quarantine(platform: Platform, kit: AgencyKit, *ages_days: int, now: int = NOW_MS) -> None:
    """Hold one read per age (days before ``now``) from an unregistered vendor camera."""
    held = [
        Held(i, "unknown-cam", orjson.dumps({"plate": f"Q{i}", "ts": now - days * DAY_MS, "camera": "unknown-cam"}))
        for i, days in enumerate(ages_days)
    ]
    platform.quarantine.hold(SYSTEM, kit.agency, held, channel="test", source="test")


def quarantined(platform: Platform) -> list[str]:
    with platform.governance.session() as session:
        lines = session.scalars(select(QuarantinedRead.line).order_by(QuarantinedRead.id))
        return [orjson.loads(line)["plate"] for line in lines]


def completions(platform: Platform) -> list[dict[str, object]]:
    return [
        {**orjson.loads(e.params), **orjson.loads(e.counts)}
        for e in platform.audit.entries(action="retention.completed")
    ]


def test_quarantined_reads_past_the_limit_are_deleted(gov_platform: Platform) -> None:
    platform = gov_platform
    city, _county = seed(platform)  # city keeps reads 30 days
    quarantine(platform, city, 31, 2)
    # An ISO time and a line without a parseable one (which goes by its arrival time, now).
    platform.quarantine.hold(
        SYSTEM,
        city.agency,
        [
            Held(0, "unknown-cam", b'{"plate": "QISO", "ts": "2025-04-01T08:00:00-07:00", "camera": "unknown-cam"}'),
            Held(1, "unknown-cam", b'{"plate": "QBAD", "ts": "yesterday", "camera": "unknown-cam"}'),
        ],
        channel="test",
        source="test",
    )
    report = platform.retention.run(SYSTEM)
    assert quarantined(platform) == ["Q1", "QBAD"]
    assert report.completed is not None
    assert report.completed.quarantined == 2
    assert completions(platform) == [
        {"run_seq": report.audit_seq, "resumed": False, "images": 0, "quarantined": 2, "alerts": 0}
    ]


def test_alert_hits_go_with_their_read(gov_platform: Platform, clock: FixedClock) -> None:
    platform = gov_platform
    kit = seed_agency(platform, "city", roles=("investigator", "device"))
    platform.policies.set(SYSTEM, "city", Policy(retention_days=30, hit_retention_days=90))
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    kept = raise_alert(platform, kit, entry, "r-kept")
    platform.alerts.decide(kit.investigator, kept, "confirmed", "plate checked")  # holds its read (hit limit)
    raise_alert(platform, kit, entry, "r-gone")
    clock.advance(40 * DAY_MS)
    report = platform.retention.run(SYSTEM)
    assert report.completed is not None
    assert report.completed.alerts == 1
    with platform.governance.session() as session:
        assert list(session.scalars(select(Alert.read_id))) == ["r-kept"]
    clock.advance(60 * DAY_MS)  # past the hit limit: the confirmed hit goes too
    platform.retention.run(SYSTEM)
    with platform.governance.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0


def kill_at(point: str, data: Path, signal_file: Path) -> None:
    """Start `plateledger retention run` and kill -9 it when it reaches ``point`` (core/crashpoints.py)."""
    env = {**os.environ, POINT_ENV: point, FILE_ENV: str(signal_file)}
    log = signal_file.with_suffix(".stderr")
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [*CLI, "retention", "run", "--data", str(data)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    deadline = time.monotonic() + 120
    while not signal_file.exists():  # the crash point's signal: the process waits there
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{point} never reached"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


@pytest.mark.slow
@pytest.mark.parametrize(
    "point", ["retention.audited", "retention.keys_deleted", "retention.reads_deleted", "retention.images_deleted"]
)
def test_a_killed_run_is_completed_by_the_next(point: str, settings: Settings, tmp_path: Path) -> None:
    now = int(time.time() * 1000)  # the CLI runs on the system clock
    clock = FixedClock(now)
    with opened(settings, clock) as platform:
        city = seed_agency(platform, "city", roles=("device",))
        platform.policies.set(SYSTEM, "city", Policy(retention_days=30, hit_retention_days=90))
        camera = city.cameras[0]
        ages = [40, 31, 40, 29, 2, 1]  # days: three past the 30-day limit
        ingest(platform, city, [read(f"R{i}", camera=camera, ts=now - d * DAY_MS) for i, d in enumerate(ages)])
        crop = Image("plate", "image/jpeg", b"\xff\xd8an-expired-crop")  # with a fourth expired read
        old = SourceRead(plate="IMG1", ts_ms=now - 35 * DAY_MS, camera=camera, source_ts="", images=(crop,))
        assert platform.vendor.store(SYSTEM, city.agency, Adapted(reads=[old]), channel="http", source="test").images
        quarantine(platform, city, 31, 2, now=now)
        before = platform.reads.count()
    kill_at(point, settings.data, tmp_path / "reached")
    # Killed between the two mutations, the reads store's journal is left for the next open to complete.
    assert (settings.reads_dir / "expiry-pending.json").exists() == (point == "retention.keys_deleted")

    with opened(settings, clock) as platform:
        assert platform.reads.count() == key_count(platform)  # repaired on open, whatever the step
        (run,) = platform.audit.entries(action="retention.run")
        assert completions(platform) == []  # the killed run did not complete
        report = platform.retention.run(SYSTEM)
        claimed = orjson.loads(run.counts)["deleted"]
        assert claimed == 4
        assert platform.reads.count() == key_count(platform) == before - claimed
        assert report.deleted == 0  # the new run finds nothing more
        assert report.resumed is not None
        assert report.resumed.run_seq == run.seq
        assert completions(platform)[0] == {
            "run_seq": run.seq,
            "resumed": True,
            "images": int(point != "retention.images_deleted"),  # (killed after the images: done by then)
            "quarantined": 1,
            "alerts": 0,
        }
        assert not any(p.is_file() for p in settings.images_dir.rglob("*"))  # the expired read's image is gone
        assert quarantined(platform) == ["Q1"]
        assert platform.audit.verify().intact
