"""The audit log records outcomes (issue 17, item 1): a full disk during HTTP and CLI ingest, and kill -9 at each
step of an ingest batch, leave the audit log's ``stored`` totals equal to what the store holds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.cli.main import app as cli_app
from plateledger.core import crashpoints
from plateledger.core.clock import FixedClock
from plateledger.core.errors import ConfigurationError, StorageFull
from plateledger.core.settings import load_settings
from plateledger.ops.damage import audited_by_owner
from plateledger.platform import Platform
from tests.support import HOUR_MS, METRICS_TOKEN, NOW_MS, opened, seed_agency


def random_reads(count: int, camera: str, tag: str) -> list[dict[str, object]]:
    """Reads that compress badly (random ids and vehicle text), so a small disk fills in a few batches."""
    return [
        {
            "read_id": f"{tag}-{i}-{os.urandom(16).hex()}",
            "plate": f"P{i:05d}",
            "ts": NOW_MS - HOUR_MS + i,
            "camera": camera,
            "vehicle": {"make": os.urandom(24).hex(), "model": os.urandom(24).hex()},
        }
        for i in range(count)
    ]


def entries(platform: Platform, action: str) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    return [
        (e.outcome, orjson.loads(e.params), orjson.loads(e.counts))
        for e in platform.audit.entries(action=action, limit=100_000)
    ]


def assert_records_agree(platform: Platform, owner: str) -> None:
    """The audit log's stored total, the reads and the read keys agree exactly, and no intent lacks its outcome."""
    stored = platform.reads.count()
    assert audited_by_owner(platform.governance).get(owner, 0) == stored
    assert platform.reads.key_count() == stored
    intents = {seq for seq in (e.seq for e in platform.audit.entries(action="ingest.intent", limit=100_000))}
    outcomes = {p.get("intent") for _, p, _ in entries(platform, "ingest.batch")}
    assert intents <= outcomes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs for a data directory (``grow`` it to open the directory again afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)


def test_disk_full_during_http_ingest_is_507_and_audit_equals_store(small_disk: Path) -> None:
    settings = load_settings(data=small_disk / "data", metrics_token=METRICS_TOKEN)
    acknowledged = 0
    statuses: list[int] = []
    with opened(settings, FixedClock(NOW_MS)) as platform:
        kit = seed_agency(platform, "bay")
        client = TestClient(create_app(platform=platform), raise_server_exceptions=False)
        auth = {"Authorization": f"Bearer {kit.tokens['device']}"}
        for batch in range(40):
            answer = client.post("/api/v1/reads", json=random_reads(1000, "bay-fixed", f"b{batch}"), headers=auth)
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                acknowledged += answer.json()["stored"]
            else:
                problem = answer.json()
                assert answer.status_code in (503, 507), problem
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert "disk full" in problem["detail"]
            if statuses[-3:] == [507, 507, 507]:
                break
        assert 507 in statuses
        assert 200 in statuses
    grow(small_disk)
    with opened(settings, FixedClock(NOW_MS)) as platform:
        assert platform.reads.count() == acknowledged
        assert_records_agree(platform, "bay")
        failed = [c for outcome, _, c in entries(platform, "ingest.batch") if outcome == "failed"]
        assert all(c["stored"] == 0 and c["not_stored"] == 1000 for c in failed)


def test_disk_full_during_cli_ingest_is_storage_full_and_audit_equals_store(small_disk: Path, tmp_path: Path) -> None:
    settings = load_settings(data=small_disk / "data")
    with opened(settings, FixedClock(NOW_MS)) as platform:
        seed_agency(platform, "bay")
    source = tmp_path / "reads.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in random_reads(40_000, "bay-fixed", "cli")))
    result = CliRunner().invoke(
        cli_app,
        ["ingest", str(source), "--agency", "bay", "--data", str(settings.data)],
        env={"PLATELEDGER_INGEST_CHUNK_BYTES": str(1024 * 1024)},
    )
    # main() prints the error's one line and exits with its code (9).
    assert isinstance(result.exception, StorageFull), result.output
    assert StorageFull.exit_code == 11
    assert "disk full" in result.exception.detail
    grow(small_disk)
    with opened(settings, FixedClock(NOW_MS)) as platform:
        assert 0 < platform.reads.count() < 40_000
        assert_records_agree(platform, "bay")


def test_crash_points_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crashpoints.POINT_ENV, "ingest.mid_insert")
    with pytest.raises(ConfigurationError, match=crashpoints.POINT_ENV):
        load_settings(environment="production")


@pytest.mark.slow
@pytest.mark.parametrize("step", ["before_insert", "mid_insert", "after_insert"])
def test_kill_9_at_each_step_of_a_cli_ingest(tmp_path: Path, step: str) -> None:
    """The process is killed (the crash point sends itself SIGKILL) after the intent entry, between the
    reads and read_keys inserts, or after both inserts; the next open appends the missing outcome with what is
    really stored, and a rerun of the same file stores the rest and adds no second claim."""
    settings = load_settings(data=tmp_path / "data")
    with opened(settings, FixedClock(NOW_MS)) as platform:
        seed_agency(platform, "bay")
    source = tmp_path / "reads.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in random_reads(500, "bay-fixed", "k")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATELEDGER_")}
    env[crashpoints.POINT_ENV] = f"ingest.{step}"
    command = [sys.executable, "-m", "plateledger.cli.main", "ingest", str(source), "--agency", "bay"]
    killed = subprocess.run([*command, "--data", str(settings.data)], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    with opened(settings, FixedClock(NOW_MS)) as platform:
        [intent] = platform.audit.entries(action="ingest.intent")
        stored = 0 if step == "before_insert" else orjson.loads(intent.counts)["to_store"]
        assert platform.reads.count() == stored
        assert_records_agree(platform, "bay")
        recovered = [(p, c) for outcome, p, c in entries(platform, "ingest.batch") if outcome == "recovered"]
        assert [c["stored"] for _, c in recovered] == [stored]
        assert recovered[0][0]["intent"] == intent.seq
        assert not list(platform.reads.journal.directory.iterdir())
        # The rerun stores the rest once; the reads stored before the kill count as duplicates, not again.
        kit = platform.registry.agency("bay")
        platform.ingest.ingest_file(SYSTEM, kit, source, fmt="jsonl")
        assert platform.reads.count() == 500
        assert_records_agree(platform, "bay")


def test_a_batch_is_audited_as_intent_then_outcome_and_duplicates_alone(platform: Platform) -> None:
    kit = seed_agency(platform, "bay")
    batch = random_reads(20, "bay-fixed", "d")
    lines = [orjson.dumps(r) for r in batch]
    for _ in range(2):
        platform.ingest.store_lines(kit.device.actor, kit.agency, lines, channel="http", source="api")
    [intent] = platform.audit.entries(action="ingest.intent")
    assert orjson.loads(intent.counts) == {"to_store": 20, "duplicates": 0, "rejected": 0}
    first, again = entries(platform, "ingest.batch")
    assert first == (
        "ok",
        {"owner": "bay", "channel": "http", "source": "api", "intent": intent.seq},
        {"stored": 20, "duplicates": 0, "rejected": 0},
    )
    assert again == (
        "ok",
        {"owner": "bay", "channel": "http", "source": "api"},
        {"stored": 0, "duplicates": 20, "rejected": 0},
    )
    assert_records_agree(platform, "bay")
