"""CLI progress: a bar with totals and time left on a terminal; plain lines at an interval otherwise, so a long
ingest is never silent; totals counted from the file."""

from __future__ import annotations

import gzip
import io
import time
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from plateledger.cli.main import app as cli_app
from plateledger.cli.progress import progress
from plateledger.core.clock import SystemClock
from plateledger.core.settings import Settings
from plateledger.ingest.count import count_records
from plateledger.platform import Platform
from tests.support import read, seed_agency


def test_plain_lines_name_the_total_and_the_time_left() -> None:
    buffer = io.StringIO()
    with progress("ingest reads.jsonl", 1_000, unit="lines", every_s=0.05, console=Console(file=buffer)) as advance:
        advance(250)
        time.sleep(0.3)
    lines = buffer.getvalue().splitlines()
    assert lines, "no progress line while the work went on"
    assert lines[-1].startswith("ingest reads.jsonl: 250/1,000 lines (25%), 0:00:00 elapsed, ")
    assert lines[-1].endswith(" left")


def test_plain_lines_without_a_total() -> None:
    buffer = io.StringIO()
    with progress("seeding", None, unit="reads", every_s=0.05, console=Console(file=buffer)) as advance:
        advance(7)
        time.sleep(0.2)
    assert buffer.getvalue().splitlines()[-1].startswith("seeding: 7 reads, ")


def test_a_terminal_gets_a_bar_with_total_and_eta() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=160)
    with progress("ingest reads.jsonl", 1_000, unit="lines", every_s=60, console=terminal) as advance:
        advance(1_000)
    shown = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert "1000/1000" in shown
    assert "eta" in shown


@pytest.mark.parametrize(
    ("content", "fmt", "expected"),
    [
        (b'{"a": 1}\n{"a": 2}\n', "jsonl", 2),
        (b'{"a": 1}\n\n{"a": 2}', "jsonl", 3),  # a blank line keeps its number; the last line has no end
        (b"", "jsonl", 0),
        (b"plate,ts,camera\n7ABC123,1,c\n8ABC123,2,c\n", "csv", 2),
    ],
)
def test_records_are_counted_as_the_ingest_numbers_them(
    tmp_path: Path, content: bytes, fmt: str, expected: int
) -> None:
    path = tmp_path / "in"
    path.write_bytes(content)
    assert count_records(path, fmt) == expected  # type: ignore[arg-type]
    path.with_suffix(".gz").write_bytes(gzip.compress(content))
    assert count_records(path.with_suffix(".gz"), fmt) == expected  # type: ignore[arg-type]


def test_an_unreadable_file_has_no_count(tmp_path: Path) -> None:
    assert count_records(tmp_path / "missing.jsonl", "jsonl") is None
    (tmp_path / "broken.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:-20])
    assert count_records(tmp_path / "broken.gz", "jsonl") is None


def test_ingest_off_a_terminal_prints_progress_lines(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What issue 17 found silent for 55 s: an ingest whose stderr is not a terminal, chunk after chunk."""
    platform = Platform.open(settings, clock=SystemClock())
    try:
        kit = seed_agency(platform, "bayview-pd")
        now = platform.clock.now_ms()
    finally:
        platform.close()
    path = tmp_path / "reads.jsonl"
    reads = (read(f"P{i:06d}", camera=kit.cameras[0], ts=now - 60_000 - i) for i in range(30_000))
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in reads) + b"\n")
    monkeypatch.setenv("PLATELEDGER_PROGRESS_INTERVAL_S", "0.1")
    monkeypatch.setenv("PLATELEDGER_INGEST_CHUNK_BYTES", str(1024 * 1024))  # a few chunks
    result = CliRunner().invoke(cli_app, ["ingest", str(path), "--agency", "bayview-pd", "--data", str(settings.data)])
    assert result.exit_code == 0, result.output
    assert "stored 30000, duplicates 0, rejected 0" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("ingest reads.jsonl: ")]
    assert lines, result.stderr
    assert all("/30,000 lines (" in line for line in lines)
