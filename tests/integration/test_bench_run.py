"""benchmarks/run.py at a tiny size: the workload generator and the harness produce every figure, on both
engines. No timing is asserted (performance is measured by running the benchmark, never by tests); what is
checked is that each phase ran, moved the data it should, and that chDB and PostgreSQL answered the same
searches on the same rows with the same reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READS = 20_000
SEARCHES = 30
AREA_SEARCHES = 10
HTTP_BATCHES = 2
KINDS = ("exact", "wildcard", "fuzzy", "area_1h", "area_24h")


def pg_available() -> bool:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import postgres

        return postgres.find_bindir() is not None
    finally:
        sys.path.pop(0)


def run_bench(tmp_path: Path, *extra: str) -> tuple[dict[str, Any], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--reads", str(READS), "--json"]
    command += ["--entries", "20000", "--patterns", "100", "--searches", str(SEARCHES)]
    command += ["--area-searches", str(AREA_SEARCHES), "--http-batches", str(HTTP_BATCHES)]
    command += ["--alert-seconds", "3", "--workdir", str(tmp_path), "--out", str(tmp_path / "out"), *extra]
    result = subprocess.run(command, capture_output=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return orjson.loads(result.stdout), result.stderr.decode()


def figures(report: dict[str, Any]) -> None:
    """Every figure of one run is there and is a measurement of what happened."""
    bulk = report["bulk_ingest"]
    assert bulk["stored"] == READS
    assert bulk["rejected"] == 0
    assert bulk["reads_per_s"] > 0
    assert bulk["reads_per_s_excluding_alerts"] > 0
    assert bulk["matches"] > 0
    assert bulk["alerts_raised"] > 0
    assert sum(report["dataset"]["owners"].values()) == READS
    assert len(report["dataset"]["owners"]) == 8
    assert report["dataset"]["agreements"] == 37_099
    assert report["hot_list"]["entries"] == 20_000
    for clients in ("clients_1", "clients_4"):
        http = report["http_ingest"][clients]
        assert http["stored"] == HTTP_BATCHES * 1_000
        assert http["errors"] == 0
        assert http["reads_per_s"] > 0
    for kind in KINDS:
        expected = AREA_SEARCHES if kind.startswith("area") else SEARCHES
        search = report["search"][kind]
        assert search["errors"] == 0, search
        assert search["searches"] == expected
        assert 0 < search["p50_ms"] <= search["p95_ms"] <= search["p99_ms"]
        assert report["store_sql"][kind]["p99_ms"] > 0
    assert report["search"]["exact"]["mean_reads_returned"] > 0
    # The exact searches' tail, attributed (tail.py): the slowest five with their stages and the store's parts.
    slowest = report["exact_tail"]["slowest"]
    assert len(slowest) == 5
    assert all(r["total_ms"] > 0 and r["store_ms"] > 0 and r["reads_parts"] > 0 for r in slowest), slowest
    searched = report["exact_tail"]["while_merging"]["searches"] + report["exact_tail"]["no_merge_running"]["searches"]
    assert searched == SEARCHES
    idle = report["exact_merges_idle"]
    assert idle["searches"] == SEARCHES
    assert idle["errors"] == 0
    assert idle["tail"]["slowest"][0]["reads_merges"] == 0
    alerts = report["alert_latency"]
    assert alerts["alerts_expected"] > 0
    assert alerts["alerts_missing"] == 0
    assert 0 < alerts["latency_ms_p50"] <= alerts["latency_ms_p99"]
    storage = report["storage"]["at_end"]
    assert storage["reads"] > READS + 2 * HTTP_BATCHES * 1_000 - 1  # and the alert-latency reads
    assert storage["bytes_per_read_active_parts"] > 0
    assert report["server"]["VmHWM"] > 0
    assert report["server"]["unhandled_errors_logged"] == 0


def test_run_produces_every_figure(tmp_path: Path) -> None:
    extra = () if pg_available() else ("--skip-postgres",)
    report, table = run_bench(tmp_path, *extra)
    figures(report)
    assert "exact search p50/p95/p99 ms" in table
    assert "once merges idle p50/p95/p99" in table
    assert (tmp_path / "out" / f"run-{READS}.json").is_file()
    if not extra:
        pg = report["postgres"]
        assert pg["load"]["rows"] == report["storage"]["at_end"]["reads"]  # the same rows in both engines
        assert set(pg["load"]["index_s"]) == {
            "reads_plate_ts",
            "reads_camera_ts",
            "reads_plate_trgm",
            "reads_fold_ts",
            "reads_ts",
        }
        assert pg["load"]["bytes_per_read_total"] > pg["load"]["bytes_per_read_table"] > 0
        for kind in ("exact", "fuzzy", "wildcard"):  # area: geoDistance (WGS-84) vs haversine at the edge
            # The same queries with the same owner clause on the same rows return the same number of reads.
            assert pg["search"][kind]["mean_reads_returned"] == report["store_sql"][kind]["mean_reads_returned"]
        assert all(value is not None for value in report["ratios"].values()), report["ratios"]
        assert "Bitmap Index Scan on reads_plate_trgm" in " ".join(pg["search"]["plans"]["wildcard"]) or any(
            "reads_plate_ts" in line for line in pg["search"]["plans"]["wildcard"]
        )


def test_bad_size_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--reads", "1.5e3x"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"--reads" in result.stderr
