"""Backup and restore (issue 17, item 3): a backup made while reads are being ingested restores, after the source
directory is lost, into a new directory whose audit chain verifies and which holds every read acknowledged before
the backup; a restore applies retention again; a damaged or mismatched backup is refused and nothing is left."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.backup.manifest import Manifest
from plateledger.backup.service import operator_token_to_forward
from plateledger.core.clock import FixedClock
from plateledger.core.errors import (
    AuthenticationFailed,
    BackupInvalid,
    ConfigurationError,
    Conflict,
    PermissionDenied,
)
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from tests.integration.test_retention import key_count, rows, seed
from tests.support import NOW_MS, ingest, opened, read, seed_agency

BATCHES = 50
BATCH = 1_000


def plates_in(platform: Platform) -> set[str]:
    return {str(r[0]) for r in rows(platform.reads, "SELECT plate FROM reads")}


def audited_stored(platform: Platform, upto: int) -> int:
    """Reads the audit log says were stored by ingest batches up to entry ``upto``."""
    return sum(
        orjson.loads(e.counts)["stored"]
        for e in platform.audit.entries(action="ingest.batch", limit=100_000)
        if e.seq <= upto
    )


def restored_settings(tmp_path: Path) -> Settings:
    return load_settings(data=tmp_path / "restored")


def test_backup_during_ingest_restores_every_acknowledged_read(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    acknowledged: list[set[str]] = []  # per batch, in order, once ingest returned
    ten_done = threading.Event()
    dest = tmp_path / "backup"
    with opened(settings, clock) as platform:
        kit = seed_agency(platform, "city", roles=("device",))
        camera = kit.cameras[0]

        def ingest_all() -> None:
            for batch in range(BATCHES):
                plates = [f"B{batch:03d}{i:04d}" for i in range(BATCH)]
                result = ingest(platform, kit, [read(p, camera=camera) for p in plates])
                assert result.stored == BATCH
                acknowledged.append(set(plates))
                if batch == 9:
                    ten_done.set()

        writer = threading.Thread(target=ingest_all)
        writer.start()
        assert ten_done.wait(120)
        before = set().union(*acknowledged)  # acknowledged before the backup started
        report = platform.backups.make(SYSTEM, dest)
        writer.join(120)
        assert not writer.is_alive()
        assert platform.reads.count() == BATCHES * BATCH
        made = platform.audit.entries(action="backup.made")
        assert [e.seq for e in made] == [report.audit_seq]
        assert orjson.loads(made[0].counts)["reads"] == report.manifest.reads
    manifest = Manifest.load(dest)
    assert len(before) <= manifest.reads < BATCHES * BATCH  # taken while batches were still arriving
    assert manifest.per_owner == {"city": manifest.reads}

    shutil.rmtree(settings.data)  # the source directory is lost
    target = restored_settings(tmp_path)
    restored = Platform.restore(dest, target, SYSTEM, clock=clock)
    assert restored.retention.deleted == 0
    with opened(target, clock) as platform:
        verified = platform.audit.verify()
        assert verified.intact
        found = plates_in(platform)
        assert before <= found  # every read acknowledged before the backup is there
        assert len(found) == platform.reads.count() == key_count(platform) == manifest.reads
        # ... and the audit log up to the backup's head claims exactly the reads that are there.
        assert audited_stored(platform, manifest.audit_seq) == manifest.reads
        after_head = [e.action for e in platform.audit.entries(after_seq=manifest.audit_seq)]
        assert after_head == ["backup.restored", "retention.run", "retention.completed"]


def test_restore_applies_retention_again(settings: Settings, clock: FixedClock, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    with opened(settings, clock) as platform:
        seed(platform)
        platform.backups.make(SYSTEM, dest)
        assert platform.retention.run(SYSTEM).deleted == 5
        survivors = platform.reads.count()
    target = restored_settings(tmp_path)
    report = Platform.restore(dest, target, SYSTEM, clock=clock)
    assert report.manifest.reads == survivors + 5
    assert report.retention.deleted == 5  # the expired reads of the old backup do not come back
    with opened(target, clock) as platform:
        assert platform.reads.count() == key_count(platform) == survivors
        run = platform.audit.entries(action="retention.run")[-1]
        assert orjson.loads(run.counts)["deleted"] == 5
        assert platform.audit.verify().intact


def test_backup_target_must_be_new_and_engine_sqlite(platform: Platform, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    with pytest.raises(Conflict, match="not empty"):
        platform.backups.make(SYSTEM, busy)
    assert (busy / "something").exists()
    with pytest.raises(ConfigurationError, match="unset database_url"):
        Platform.restore(tmp_path, load_settings(data=tmp_path / "x", database_url="postgresql://h/db"), SYSTEM)


@pytest.fixture
def backup_dir(settings: Settings, clock: FixedClock, tmp_path: Path) -> Path:
    dest = tmp_path / "backup"
    with opened(settings, clock) as platform:
        kit = seed_agency(platform, "city", roles=("device",))
        ingest(platform, kit, [read(f"P{i}", camera=kit.cameras[0], ts=NOW_MS - 1000 * i) for i in range(20)])
        platform.backups.make(SYSTEM, dest)
    return dest


def test_restore_refuses_a_backup_that_does_not_match(backup_dir: Path, clock: FixedClock, tmp_path: Path) -> None:
    target = restored_settings(tmp_path)
    manifest = orjson.loads((backup_dir / "manifest.json").read_bytes())
    manifest["per_owner"]["city"] = 21
    (backup_dir / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(BackupInvalid, match="city: 20 of 21"):
        Platform.restore(backup_dir, target, SYSTEM, clock=clock)
    assert not target.data.exists()  # nothing half-restored is left to serve

    manifest["per_owner"]["city"] = 20
    (backup_dir / "manifest.json").write_bytes(orjson.dumps(manifest))
    with sqlite3.connect(backup_dir / "governance.db") as conn:
        conn.execute("UPDATE audit_log SET counts = '{\"stored\": 19}' WHERE action = 'ingest.batch'")
    conn.close()
    with pytest.raises(BackupInvalid, match="audit log is broken"):
        Platform.restore(backup_dir, target, SYSTEM, clock=clock)
    assert not target.data.exists()


def test_restore_refuses_an_incomplete_backup_or_a_used_directory(backup_dir: Path, tmp_path: Path) -> None:
    used = load_settings(data=tmp_path / "used")
    used.data.mkdir()
    (used.data / "governance.db").write_text("")
    with pytest.raises(Conflict, match="not empty"):
        Platform.restore(backup_dir, used, SYSTEM)
    assert (used.data / "governance.db").exists()  # a directory in use is never touched
    (backup_dir / "manifest.json").unlink()
    with pytest.raises(BackupInvalid, match=r"no manifest\.json"):
        Platform.restore(backup_dir, restored_settings(tmp_path), SYSTEM)


def test_operator_route_makes_a_backup_for_the_operator_token_only(
    platform_factory: Callable[..., Platform], tmp_path: Path
) -> None:
    token = "operator-token-of-the-test-suite-0123456789"
    first = platform_factory()
    closed = TestClient(create_app(platform=first))
    answer = closed.post("/api/v1/operator/backup", json={"dest": str(tmp_path / "b0")})
    assert (answer.status_code, answer.json()["type"]) == (401, AuthenticationFailed.problem_type())
    first.close()  # (chDB: one open store per data directory)

    platform = platform_factory(operator_token=token)
    kit = seed_agency(platform, "city", roles=("admin", "device"))
    ingest(platform, kit, [read("7ABC123", camera=kit.cameras[0])])
    client = TestClient(create_app(platform=platform))
    for header in (f"Bearer {kit.tokens['admin']}", "Bearer nope", None):  # an agency admin is not the operator
        sent = client.post(
            "/api/v1/operator/backup",
            json={"dest": str(tmp_path / "b1")},
            headers={"Authorization": header} if header else {},
        )
        assert sent.status_code == 401
    assert not (tmp_path / "b1").exists()
    refusals = platform.audit.entries(action="auth.refused")  # every wrong attempt leaves a trace
    assert [orjson.loads(e.params)["path"] for e in refusals] == ["POST /api/v1/operator/backup"] * 4  # closed + 3
    assert client.post("/api/v1/operator/backup", json={}, headers={"Authorization": "Bearer x"}).status_code == 401
    made = client.post(
        "/api/v1/operator/backup", json={"dest": str(tmp_path / "b1")}, headers={"Authorization": f"Bearer {token}"}
    )
    assert made.status_code == 200, made.text
    assert made.json()["manifest"]["per_owner"] == {"city": 1}
    (entry,) = platform.audit.entries(action="backup.made")
    assert entry.actor_username == "operator"


def test_console_backup_beside_a_server_needs_the_operator_token_by_the_library_rule() -> None:
    with pytest.raises(PermissionDenied, match="operator_token"):
        operator_token_to_forward(Settings(operator_token=None))
    assert operator_token_to_forward(Settings(operator_token="t" * 40)) == "t" * 40  # type: ignore[arg-type]
