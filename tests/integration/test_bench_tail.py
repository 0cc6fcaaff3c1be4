"""benchmarks/tail.py counts the active parts and running merges of the reads store's tables from their
directories (the server holds the process's one chDB session, so ``run.py`` cannot ask ``system.parts``): on a
real store its count agrees with ``system.parts``, superseded parts still on disk included."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from plateledger.platform import Platform
from tests.support import HOUR_MS, NOW_MS, ingest, read, seed_agency

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def tail() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import tail

        yield tail
    finally:
        sys.path.remove(str(BENCHMARKS))


def active_parts(platform: Platform, table: str) -> int:
    return int(
        platform.reads._scalar(
            "SELECT count() FROM system.parts WHERE active AND database = currentDatabase() AND table = {t:String}",
            {"t": table},
        )
    )


def test_the_directory_count_of_parts_agrees_with_system_parts(platform: Platform, tail: ModuleType) -> None:
    kit = seed_agency(platform, "city")
    platform.reads._query("SYSTEM STOP MERGES reads")
    for n in range(3):  # one part per ingest pass
        ingest(platform, kit, [read(f"7ABC12{n}", camera="city-fixed", ts=NOW_MS - HOUR_MS + n)])
    watch = tail.PartWatch(platform.settings.reads_dir)
    reads_parts, reads_merges, keys_parts, _ = watch.now()
    assert reads_parts == active_parts(platform, "reads") == 3
    assert keys_parts == active_parts(platform, "read_keys")
    assert reads_merges == 0
    platform.reads._query("SYSTEM START MERGES reads")
    platform.reads._query("OPTIMIZE TABLE reads FINAL")
    # The merged part covers the three, which stay on disk until the cleanup thread removes them.
    assert watch.now()[0] == active_parts(platform, "reads") == 1
    time.sleep(1.5)
    assert watch.now()[0] == 1


def test_the_slowest_searches_are_told_apart_by_stage_and_parts(tail: ModuleType) -> None:
    records = [
        {"index": i, "client_ms": float(ms), "total_ms": ms - 1.0, "store_ms": 5.0, "store_wait_ms": 0.0}
        | {"audit_ms": 2.0, "gc_ms": 0.0, "http_ms": 1.0, "since_ingest_s": i / 10}
        | {"reads_parts": 9, "reads_merges": int(ms > 100), "keys_parts": 4, "keys_merges": 0}
        for i, ms in enumerate([20, 21, 180, 19, 22, 150, 20])
    ]
    attributed = tail.attribution(records)
    assert [r["index"] for r in attributed["slowest"]] == [2, 5, 4, 1, 0]
    assert attributed["while_merging"]["searches"] == 2
    assert attributed["no_merge_running"]["max_ms"] == 22.0
    text = tail.slowest_table(attributed)
    assert "   2   180.0" in text
    assert "while merging: 2 searches" in text
