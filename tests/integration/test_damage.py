"""Damage detected and surfaced (issue 17, item 2): a truncated and a bit-flipped reads part fail /readyz, log an
alarm, show in the metrics, and `plateledger doctor` names the part, the owners and the reads affected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.errors import StoreUnavailable
from plateledger.core.settings import Settings, load_settings
from plateledger.store.reads import ReadsStore
from tests.support import HOUR_MS, METRICS_AUTH, METRICS_TOKEN, NOW_MS, ingest, opened, read, seed_agency


@pytest.fixture
def damaged_settings(tmp_path: Path) -> Settings:
    """A data directory whose one reads part holds 300 reads of owner ``bay``."""
    settings = load_settings(data=tmp_path / "data", metrics_token=METRICS_TOKEN)
    with opened(settings, FixedClock(NOW_MS)) as platform:
        kit = seed_agency(platform, "bay")
        ingest(platform, kit, [read(f"AB{i:04d}", camera="bay-fixed", ts=NOW_MS - HOUR_MS + i) for i in range(300)])
    return settings


def part_file(settings: Settings) -> Path:
    """The largest data file of the reads table's only part."""
    [part] = (settings.reads_dir / "data" / "default" / "reads").resolve().glob("all_*")
    return max(part.glob("*.bin"), key=lambda p: p.stat().st_size)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_bits(path: Path) -> None:
    """Flip 64 bytes near the end of the file: in the part's last columns, so ``owner`` (whose damage the finding
    would name as "owners unreadable") stays readable whatever the columns' codecs make their sizes."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 80, len(data) - 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def doctor(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["doctor", "--data", str(settings.data), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("damage", "finding"),
    [
        (
            truncate,
            "broken part: reads/broken-on-start_all_1_1_0 (detached by ClickHouse, reason broken-on-start; 300 rows)",
        ),
        (flip_bits, "damaged part: reads/all_1_1_0 (300 rows; owners bay: 300 reads) fails its checksums"),
    ],
    ids=["truncated", "bit-flipped"],
)
def test_damaged_part_fails_readyz_alarms_and_doctor_names_it(
    damaged_settings: Settings, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None], finding: str
) -> None:
    damage(part_file(damaged_settings))
    with (
        caplog.at_level(logging.ERROR, logger="plateledger.integrity"),
        opened(damaged_settings, FixedClock(NOW_MS)) as platform,
    ):
        client = TestClient(create_app(platform=platform))
        answer = client.get("/readyz")
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert answer.json()["status"] == "not ready"
        assert not checks["parts"]["ok"]
        assert finding in checks["parts"]["detail"]
        assert all(checks[name]["ok"] for name in ("reads_store", "audit_appendable", "disk"))
        assert client.get("/healthz").status_code == 200  # liveness is not readiness
        metrics = client.get("/metrics", headers=METRICS_AUTH).text
        assert "plateledger_ready 0.0" in metrics
        assert "plateledger_damaged_parts 1.0" in metrics
        assert 'plateledger_ready_check{check="parts"} 0.0' in metrics
    assert any(finding in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    code, output = doctor(damaged_settings)
    assert code == 1
    assert finding in output
    assert "what to do:" in output
    if damage is truncate:
        assert "owner bay: 0 reads in the store, the audit log records 300" in output
        assert "reads missing: 300" in output


def test_doctor_detaches_a_part_failing_its_checksums(damaged_settings: Settings) -> None:
    flip_bits(part_file(damaged_settings))
    code, output = doctor(damaged_settings, "--detach-damaged")
    assert code == 1
    assert "detached reads/all_1_1_0 as broken" in output
    assert "broken part: reads/broken_all_1_1_0" in output
    assert "owner bay: 0 reads in the store, the audit log records 300: 300 reads missing" in output


def test_ready_when_undamaged_and_each_check_named(damaged_settings: Settings) -> None:
    with opened(damaged_settings, FixedClock(NOW_MS)) as platform:
        answer = TestClient(create_app(platform=platform)).get("/readyz")
        assert answer.status_code == 200
        assert answer.json()["status"] == "ready"
        assert set(answer.json()["checks"]) == {"reads_store", "audit_appendable", "parts", "disk", "checkpoint"}
    code, output = doctor(damaged_settings)
    assert code == 0
    assert "no damage found" in output
    low = load_settings(data=damaged_settings.data, ready_min_free_bytes=1 << 60)
    with opened(low, FixedClock(NOW_MS)) as platform:
        answer = TestClient(create_app(platform=platform)).get("/readyz")
        assert answer.status_code == 503
        assert not answer.json()["checks"]["disk"]["ok"]


def test_readyz_fails_while_old_entries_are_in_no_published_checkpoint(damaged_settings: Settings) -> None:
    """Issue 17: readiness includes "checkpoint current" (issue 16's witnessed checkpoints)."""
    clock = FixedClock(NOW_MS)
    settings = load_settings(data=damaged_settings.data, checkpoint_stale_s=600)
    with opened(settings, clock) as platform:
        client = TestClient(create_app(platform=platform))
        size, published = platform.checkpoints.sizes()
        assert size > (published or 0)  # the seeded agency and its reads, never checkpointed
        assert client.get("/readyz").status_code == 200  # young enough
        clock.advance(601_000)
        stale = client.get("/readyz")
        assert stale.status_code == 503
        check = stale.json()["checks"]["checkpoint"]
        assert not check["ok"]
        assert (
            f"{size - (published or 0)} entries not yet in a published checkpoint, the oldest 601 s old"
            in (check["detail"])
        )
        assert platform.checkpoints.checkpoint().published  # no witnesses configured: quorum none
        fresh = client.get("/readyz")
        assert fresh.status_code == 200, fresh.json()
        assert fresh.json()["checks"]["checkpoint"]["detail"].startswith("the published checkpoint covers every")


def test_a_statement_that_fails_midway_leaves_nothing_in_the_next_answer(tmp_path: Path) -> None:
    # chDB hands out what a failed statement had written ahead of the next statement's output (as a read failing
    # on a damaged part did): the store drains it, so the next answer is its own.
    store = ReadsStore(tmp_path / "reads")
    try:
        with pytest.raises(StoreUnavailable):
            store._rows(
                "SELECT number, throwIf(number = 50000, 'boom') FROM numbers(100000) "
                "SETTINGS max_block_size = 1000, max_threads = 1"
            )
        assert store._rows("SELECT 1") == [[1]]
    finally:
        store.close()
