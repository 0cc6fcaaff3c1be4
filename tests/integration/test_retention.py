"""Retention (invariant 6): each owner's limits enforced, held reads kept until the hit limit, every run audited
with counts per owner before anything is deleted, and the deleted reads gone from disk, not only hidden."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import text

from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock, SystemClock
from plateledger.core.errors import AuditUnavailable, FieldInvalid, NotFound
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import Policy
from plateledger.retention.scheduler import RetentionJob
from plateledger.store import sql
from plateledger.store.reads import ReadsStore
from tests.support import DAY_MS, METRICS_AUTH, METRICS_TOKEN, NOW_MS, AgencyKit, ingest, opened, read, seed_agency

CLI = [sys.executable, "-m", "plateledger.cli.main"]
OPERATOR = SYSTEM


# -- helpers ---------------------------------------------------------------------------------------------------
def rows(store: ReadsStore, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """Raw SQL against the reads store, behind the gate (tests only: they check what is on disk)."""
    return store._rows(statement, params)


def plates(platform: Platform, kit: AgencyKit) -> list[str]:
    found = rows(
        platform.reads, "SELECT plate FROM reads WHERE owner = {o:UInt32} ORDER BY plate", {"o": kit.agency.id}
    )
    return [r[0] for r in found]


def key_count(platform: Platform) -> int:
    return int(rows(platform.reads, "SELECT count() FROM read_keys")[0][0])


def parts(store: ReadsStore, table: str = "reads") -> list[dict[str, Any]]:
    found = rows(
        store,
        "SELECT name, active, rows, path, has_lightweight_delete FROM system.parts "
        "WHERE database = currentDatabase() AND table = {t:String} ORDER BY name",
        {"t": table},
    )
    return [dict(zip(("name", "active", "rows", "path", "lightweight"), r, strict=True)) for r in found]


def part_dirs_on_disk(store: ReadsStore, table: str) -> set[str]:
    """Part directories in the table's data directory (not ``detached``, mutation logs or format files)."""
    data_path = rows(
        store,
        "SELECT data_paths[1] FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        {"t": table},
    )[0][0]
    root = Path(data_path)
    assert not any((root / "detached").iterdir())
    return {p.name for p in root.iterdir() if p.is_dir() and p.name != "detached"}


def entries(platform: Platform) -> list[dict[str, Any]]:
    return [
        {"actor": e.actor_username, "params": orjson.loads(e.params), "counts": orjson.loads(e.counts)}
        for e in platform.audit.entries(action="retention.run")
    ]


def seed(platform: Platform) -> tuple[AgencyKit, AgencyKit]:
    """Two owners. city keeps reads 30 days, hits 90; county 100 days, hits 400. Reads of several ages."""
    city = seed_agency(platform, "city", roles=("device",))
    county = seed_agency(platform, "county", roles=("device",))
    platform.policies.set(OPERATOR, "city", Policy(retention_days=30, hit_retention_days=90))
    platform.policies.set(OPERATOR, "county", Policy(retention_days=100, hit_retention_days=400))
    cam, ccam = city.cameras[0], county.cameras[0]
    stored = ingest(
        platform,
        city,
        [
            read("OLD1", camera=cam, ts=NOW_MS - 40 * DAY_MS),  # past 30 days: deleted
            read("OLD2", camera=cam, ts=NOW_MS - 31 * DAY_MS, read_id="c-old2"),  # deleted
            read("HIT1", camera=cam, ts=NOW_MS - 40 * DAY_MS, read_id="c-hit1"),  # held, within 90: kept
            read("HIT2", camera=cam, ts=NOW_MS - 91 * DAY_MS, read_id="c-hit2"),  # held, past 90: deleted
            read("EDGE", camera=cam, ts=NOW_MS - 30 * DAY_MS),  # exactly at the cutoff: kept
            read("NEW1", camera=cam, ts=NOW_MS - 2 * DAY_MS),  # kept
        ],
    )
    assert stored.stored == 6
    stored = ingest(
        platform,
        county,
        [
            read("OLD1", camera=ccam, ts=NOW_MS - 150 * DAY_MS),  # the same plate, another owner: deleted
            read("CTY2", camera=ccam, ts=NOW_MS - 40 * DAY_MS),  # within 100 days: kept
            # Past 100 days, within 400; city's hold on the same read id does not keep it: deleted.
            read("CTY3", camera=ccam, ts=NOW_MS - 150 * DAY_MS, read_id="k-3"),
        ],
    )
    assert stored.stored == 3
    assert platform.retention.hold(city.agency.id, "c-hit1", "alert", "alert-17")
    assert platform.retention.hold(city.agency.id, "c-hit2", "case", "2025-000123")
    # A hold names its owner: the same read id under another owner keeps nothing.
    assert platform.retention.hold(city.agency.id, "k-3", "alert", "alert-18")
    return city, county


# -- the run ---------------------------------------------------------------------------------------------------
def test_run_deletes_exactly_the_expired_reads_and_audits_counts_per_owner(platform: Platform) -> None:
    city, county = seed(platform)
    report = platform.retention.run(OPERATOR)

    assert plates(platform, city) == ["EDGE", "HIT1", "NEW1"]
    assert plates(platform, county) == ["CTY2"]
    assert platform.reads.count() == key_count(platform) == 4
    by_slug = {o.slug: o for o in report.owners}
    assert (by_slug["city"].deleted, by_slug["city"].held, by_slug["city"].remaining) == (3, 1, 3)
    assert (by_slug["county"].deleted, by_slug["county"].held, by_slug["county"].remaining) == (2, 0, 1)
    assert by_slug["city"].cutoff_ms == NOW_MS - 30 * DAY_MS
    assert by_slug["city"].hit_cutoff_ms == NOW_MS - 90 * DAY_MS
    assert report.deleted == 5
    assert report.outdated_parts == 0

    [entry] = entries(platform)
    assert entry["actor"] == "system"
    assert entry["counts"] == {
        "deleted": 5,
        "per_owner": {
            "city": {"deleted": 3, "held": 1, "remaining": 3},
            "county": {"deleted": 2, "held": 0, "remaining": 1},
        },
    }
    assert entry["params"]["owners"]["city"] == {
        "policy_version": 1,
        "retention_days": 30,
        "hit_retention_days": 90,
        "cutoff_ms": NOW_MS - 30 * DAY_MS,
        "hit_cutoff_ms": NOW_MS - 90 * DAY_MS,
    }
    assert platform.audit.verify().intact


def test_held_reads_survive_until_the_hit_limit(platform: Platform, clock: FixedClock) -> None:
    city, _county = seed(platform)
    platform.retention.run(OPERATOR)
    assert "HIT1" in plates(platform, city)
    clock.advance(49 * DAY_MS)  # HIT1 is now 89 days old; EDGE and NEW1 are past 30
    assert platform.retention.run(OPERATOR).deleted == 2
    assert plates(platform, city) == ["HIT1"]
    clock.advance(2 * DAY_MS)  # 91 days
    report = platform.retention.run(OPERATOR)
    assert plates(platform, city) == []
    assert {o.slug: (o.deleted, o.held) for o in report.owners}["city"] == (1, 0)


def test_default_policy_applies_when_none_is_set(platform: Platform) -> None:
    kit = seed_agency(platform, "town", roles=("device",))
    ingest(
        platform,
        kit,
        [read("A1", camera=kit.cameras[0], ts=NOW_MS - 366 * DAY_MS), read("A2", camera=kit.cameras[0])],
    )
    report = platform.retention.run(OPERATOR)
    assert plates(platform, kit) == ["A2"]
    [owner] = report.owners
    assert (owner.slug, owner.policy_version, owner.retention_days, owner.deleted) == ("town", 0, 365, 1)


def test_a_second_run_deletes_nothing_and_is_still_audited(platform: Platform) -> None:
    seed(platform)
    platform.retention.run(OPERATOR)
    second = platform.retention.run(OPERATOR)
    assert second.deleted == 0
    assert [e["counts"]["deleted"] for e in entries(platform)] == [5, 0]
    assert entries(platform)[1]["counts"]["per_owner"]["city"] == {"deleted": 0, "held": 1, "remaining": 3}
    assert platform.audit.verify().intact


# -- gone from disk --------------------------------------------------------------------------------------------
def test_deleted_reads_are_gone_from_disk(platform: Platform) -> None:
    city, county = seed(platform)
    # More than one part, each with reads of both owners, some expired and some not.
    extra = [read(f"ZZ{i}", camera=city.cameras[0], ts=NOW_MS - (i % 60) * DAY_MS) for i in range(200)]
    assert ingest(platform, city, extra).stored == 200
    expired_plates = {"OLD1", "OLD2", "HIT2", "CTY3"} | {f"ZZ{i}" for i in range(200) if i % 60 > 30}
    kept_expected = platform.reads.count() - len(expired_plates) - 1  # county's OLD1 too (same plate)
    before = {p["name"] for p in parts(platform.reads)}
    assert len(before) >= 3

    report = platform.retention.run(OPERATOR)
    assert report.deleted == len(expired_plates) + 1
    assert report.outdated_parts == 0

    for table in ("reads", "read_keys"):
        found = parts(platform.reads, table)
        # No superseded part is left, in ClickHouse's view or on disk: each part that held a deleted read was
        # rewritten by the mutation and the old one removed.
        assert all(p["active"] for p in found), found
        assert part_dirs_on_disk(platform.reads, table) == {p["name"] for p in found}
        assert not ({p["name"] for p in found} & before)
        # Physically deleted, not masked: no lightweight-delete mask, and each part's stored row count equals
        # the rows it returns.
        assert not any(p["lightweight"] for p in found)
        assert sum(int(p["rows"]) for p in found) == kept_expected
    visible = dict(rows(platform.reads, "SELECT _part, count() FROM reads GROUP BY _part"))
    assert {p["name"]: int(p["rows"]) for p in parts(platform.reads)} == {k: int(v) for k, v in visible.items()}
    # The deleted plates are in no remaining part; the kept ones are.
    for part in parts(platform.reads):
        in_part = {
            r[0] for r in rows(platform.reads, "SELECT plate FROM reads WHERE _part = {p:String}", {"p": part["name"]})
        }
        assert not in_part & expired_plates  # both owners' OLD1 reads included
    assert {"EDGE", "HIT1", "NEW1", "CTY2"} <= set(plates(platform, city) + plates(platform, county))


def test_existing_tables_get_the_part_cleanup_and_block_settings(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory()
    names = ", ".join(sql.TABLE_SETTINGS)
    for table in ("reads", "read_keys"):
        rows(platform.reads, f"ALTER TABLE {table} RESET SETTING {names}")
    platform.close()
    reopened = platform_factory()
    for table in ("reads", "read_keys"):
        engine = rows(reopened.reads, "SELECT engine_full FROM system.tables WHERE name = {t:String}", {"t": table})[0][
            0
        ]
        for name, value in sql.TABLE_SETTINGS.items():
            assert f" {name} = {value}" in engine, (table, name)


# -- keys, reopening, re-ingest --------------------------------------------------------------------------------
def test_read_keys_follow_the_deletion(platform_factory: Callable[..., Platform], clock: FixedClock) -> None:
    platform = platform_factory()
    city, _county = seed(platform)
    platform.retention.run(OPERATOR)
    assert platform.reads.count() == key_count(platform)
    # A surviving read is still a duplicate; a deleted one can be stored again (its key went with it).
    again = ingest(
        platform,
        city,
        [
            read("NEW1", camera=city.cameras[0], ts=NOW_MS - 2 * DAY_MS),
            read("OLD2", camera=city.cameras[0], ts=NOW_MS - 31 * DAY_MS, read_id="c-old2"),
        ],
    )
    assert (again.stored, again.duplicates) == (1, 1)
    reads, keys = platform.reads.count(), key_count(platform)
    assert reads == keys == 5
    platform.close()

    reopened = platform_factory()
    assert (reopened.reads.count(), key_count(reopened)) == (reads, keys)
    assert ingest(reopened, city, [read("NEW1", camera=city.cameras[0], ts=NOW_MS - 2 * DAY_MS)]).duplicates == 1
    assert reopened.retention.run(OPERATOR).deleted == 1  # OLD2 again
    assert reopened.reads.count() == key_count(reopened) == 4


# -- fail closed -----------------------------------------------------------------------------------------------
def test_nothing_is_deleted_when_the_audit_log_cannot_be_written(platform: Platform) -> None:
    seed(platform)
    before = (platform.reads.count(), key_count(platform), platform.audit.verify().entries)
    with platform.governance.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log RENAME TO audit_log_gone"))
    with pytest.raises(AuditUnavailable):
        platform.retention.run(OPERATOR)
    with platform.governance.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log_gone RENAME TO audit_log"))
    assert (platform.reads.count(), key_count(platform), platform.audit.verify().entries) == before
    assert platform.audit.verify().intact
    assert platform.retention.run(OPERATOR).deleted == 5


# -- holds -----------------------------------------------------------------------------------------------------
def test_hold_is_idempotent_and_validated(platform: Platform) -> None:
    kit = seed_agency(platform, "city", roles=())
    assert platform.retention.hold(kit.agency.id, "r-1", "alert", "alert-1")
    assert not platform.retention.hold(kit.agency.id, "r-1", "alert", "alert-1")
    assert platform.retention.hold(kit.agency.id, "r-1", "case", "C-9")
    with pytest.raises(FieldInvalid, match="kind"):
        platform.retention.hold(kit.agency.id, "r-1", "whim", "x")
    with pytest.raises(FieldInvalid, match="read_id"):
        platform.retention.hold(kit.agency.id, "r" * 65, "alert", "x")
    with pytest.raises(NotFound):
        platform.retention.hold(kit.agency.id + 99, "r-1", "alert", "x")


# -- the scheduled job -----------------------------------------------------------------------------------------
def test_job_runs_at_start_as_system_and_stops_cleanly(platform: Platform) -> None:
    seed(platform)
    job = RetentionJob(platform.retention, interval_s=3600)
    job.start()
    deadline = time.monotonic() + 60
    while job.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop()  # returns at once: the thread waits on the interval, not in a run
    assert job.runs == 1
    assert job.failures == 0
    assert job.last is not None
    assert job.last.deleted == 5
    assert [e["actor"] for e in entries(platform)] == ["system"]


def test_job_logs_a_failed_run_and_carries_on(platform: Platform, caplog: pytest.LogCaptureFixture) -> None:
    seed(platform)
    job = RetentionJob(platform.retention, interval_s=3600)
    with platform.governance.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log RENAME TO audit_log_gone"))
    with caplog.at_level(logging.ERROR, logger="plateledger.retention.scheduler"):
        job.run_once()
    assert (job.runs, job.failures) == (0, 1)
    assert "retention run failed" in caplog.text
    with platform.governance.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log_gone RENAME TO audit_log"))
    assert platform.reads.count() == 9
    job.run_once()
    assert (job.runs, job.failures) == (1, 1)
    assert platform.reads.count() == 4


# -- real processes --------------------------------------------------------------------------------------------
def _seed_now(settings: Settings) -> None:
    """Reads aged against the real clock (the CLI and the server use it): one expired, one not."""
    now = SystemClock().now_ms()
    with opened(settings, FixedClock(now)) as platform:
        kit = seed_agency(platform, "city", roles=("device",))
        ingest(
            platform,
            kit,
            [read("GONE1", camera=kit.cameras[0], ts=now - 400 * DAY_MS), read("KEPT1", camera=kit.cameras[0], ts=now)],
        )


@pytest.mark.slow
def test_cli_retention_run(settings: Settings) -> None:
    _seed_now(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATELEDGER_")}
    args = [*CLI, "retention", "run", "--data", str(settings.data)]
    first = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120, check=True, env=env)
    report = orjson.loads(first.stdout)
    assert report["deleted"] == 1
    assert report["outdated_parts"] == 0
    assert [(o["slug"], o["deleted"], o["remaining"]) for o in report["owners"]] == [("city", 1, 1)]
    second = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True, env=env)
    assert "city" in second.stdout
    assert "retention run: 0 reads deleted" in second.stdout
    with opened(settings, SystemClock()) as platform:
        assert [(e["actor"].startswith("cli:"), e["counts"]["deleted"]) for e in entries(platform)] == [
            (True, 1),
            (True, 0),
        ]
        assert platform.audit.verify().intact


@pytest.mark.slow
def test_serve_runs_retention_and_stops_cleanly(settings: Settings) -> None:
    _seed_now(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATELEDGER_")}
    env["PLATELEDGER_RETENTION_INTERVAL_S"] = "3600"
    env["PLATELEDGER_METRICS_TOKEN"] = METRICS_TOKEN
    proc = subprocess.Popen(
        [*CLI, "serve", "--data", str(settings.data), "--port", str(port)], stdout=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                metrics = httpx2.get(f"http://127.0.0.1:{port}/metrics", headers=METRICS_AUTH, timeout=1)
                if metrics.status_code == 200 and "plateledger_reads_stored 1.0" in metrics.text:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the server's retention run did not happen")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    with opened(settings, SystemClock()) as platform:
        assert [(e["actor"], e["counts"]["deleted"]) for e in entries(platform)] == [("system", 1)]
        assert platform.reads.count() == 1
