"""The peer system of ``run.py``: the same reads in PostgreSQL 15, with the schema an experienced engineer would
give it, and the same searches as SQL.

A throwaway cluster is created with ``initdb`` in a temporary directory and stopped (and removed) afterwards;
as root, the server runs as the ``postgres`` OS user (PostgreSQL refuses root; see ``.ci/run``). Bulk-load
settings an engineer would use for a one-off load: ``wal_level = minimal`` with the table created in the COPY's
transaction (no WAL for the data), ``fsync = off``, ``maintenance_work_mem = 1GB`` and parallel index builds.

Schema (see docs/benchmarks.md, "Side by side with PostgreSQL")::

    reads(owner int, plate text, ts timestamptz, camera text, lat real, lon real, confidence real, region text,
          make text, color text)
    reads_plate_ts   btree (plate, ts)                     -- exact plate history
    reads_camera_ts  btree (camera, ts)                    -- a camera's reads
    reads_plate_trgm gin (plate gin_trgm_ops)              -- partial plates (pg_trgm), as ALPR-Database does
    reads_fold_ts    btree (translate(plate, 'OQDILZSBG', '000112586'), ts)  -- fuzzy: our confusable folding
    reads_ts         btree (ts)                            -- area: time window, then box and distance

Loaded with ``COPY`` from the rows Plateledger stored (exported from chDB, so both engines hold the same reads);
the indexes are built after the load and each is timed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from core import free_port, summarise_ms
from plateledger.plates import CONFUSABLE_FROM, CONFUSABLE_TO
from plateledger.platform import Platform

FOLD_SQL = f"translate(plate, '{CONFUSABLE_FROM}', '{CONFUSABLE_TO}')"
COPY_CHUNK = 1 << 20
PG_USER = "postgres"
COLUMNS = "owner, plate, ts, camera, lat, lon, confidence, region, make, color"
#: The chDB side of the export: the same columns in COPY's text format (tab-separated, ``\\N`` for NULL: a
#: position of NaN, ``ts`` as UTC text). Read with the store's private query helper: the library has no export.
EXPORT_SQL = (
    "SELECT owner, plate, ts, camera, if(isNaN(lat), NULL, lat), if(isNaN(lon), NULL, lon), confidence, "
    "region, make, color FROM reads INTO OUTFILE {path} FORMAT TabSeparated"
)
TABLE = """
CREATE TABLE reads (
    owner integer NOT NULL, plate text NOT NULL, ts timestamptz NOT NULL, camera text NOT NULL,
    lat real, lon real, confidence real, region text, make text, color text
)"""
INDEXES = {
    "reads_plate_ts": "CREATE INDEX reads_plate_ts ON reads (plate, ts)",
    "reads_camera_ts": "CREATE INDEX reads_camera_ts ON reads (camera, ts)",
    "reads_plate_trgm": "CREATE INDEX reads_plate_trgm ON reads USING gin (plate gin_trgm_ops)",
    "reads_fold_ts": f"CREATE INDEX reads_fold_ts ON reads (({FOLD_SQL}), ts)",
    "reads_ts": "CREATE INDEX reads_ts ON reads (ts)",
}
SELECT = "SELECT owner, plate, ts, camera, lat, lon, confidence, region, make, color FROM reads"
#: The searches, each with the gate's owner clause as a parameter (the owners the permit allows).
QUERIES = {
    "exact": f"{SELECT} WHERE plate = %(plate)s AND owner = ANY(%(owners)s) ORDER BY ts LIMIT %(limit)s",
    "wildcard": f"{SELECT} WHERE plate LIKE %(like)s AND owner = ANY(%(owners)s) ORDER BY ts LIMIT %(limit)s",
    "fuzzy": f"{SELECT} WHERE {FOLD_SQL} = %(key)s AND owner = ANY(%(owners)s) ORDER BY ts LIMIT %(limit)s",
    # Haversine in metres; the box pre-filters on the rows the ts index returns.
    "area": (
        f"{SELECT} WHERE ts >= %(since)s AND ts < %(until)s AND owner = ANY(%(owners)s) "
        "AND lat BETWEEN %(min_lat)s AND %(max_lat)s AND lon BETWEEN %(min_lon)s AND %(max_lon)s "
        "AND 2 * 6371008.8 * asin(sqrt(power(sin(radians(lat - %(lat)s) / 2), 2) + cos(radians(%(lat)s)) "
        "* cos(radians(lat)) * power(sin(radians(lon - %(lon)s) / 2), 2))) <= %(radius)s "
        "ORDER BY ts LIMIT %(limit)s"
    ),
}


def export(platform: Platform, path: Path) -> None:
    """Write every stored read to ``path`` in COPY's text format, straight from the engine."""
    quoted = "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"
    platform.reads._query(EXPORT_SQL.format(path=quoted))


def find_bindir() -> Path | None:
    """PostgreSQL's server binaries: ``PLATELEDGER_BENCH_PG_BIN``, then Debian's 15, then any Debian version."""
    candidates = [os.environ.get("PLATELEDGER_BENCH_PG_BIN", ""), "/usr/lib/postgresql/15/bin"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    bindir: Path
    root: Path
    port: int
    version: str = ""
    as_user: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, bindir: Path, parent: Path) -> Cluster:
        root = Path(tempfile.mkdtemp(prefix="plateledger-bench-pg-", dir=parent))
        as_user = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
        if as_user:
            if subprocess.run(["id", "-u", PG_USER], capture_output=True, check=False).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
            shutil.chown(root, PG_USER)
        cluster = cls(bindir, root, free_port(), as_user=as_user)
        cluster._run("initdb", "-D", str(root / "data"), "-U", PG_USER, "--auth=trust", "--locale=C.UTF-8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=16GB "
            "-c shared_buffers=1GB -c maintenance_work_mem=1GB -c work_mem=64MB"
        )
        cluster._run(
            "pg_ctl",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "120",
            "-o",
            options,
            "start",
        )
        with cluster.connect() as conn:
            cluster.version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            conn.execute("CREATE EXTENSION pg_trgm")
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.as_user, str(self.bindir / tool), *args], capture_output=True, check=False)
        if result.returncode != 0:
            log_file = self.root / "server.log"
            server_log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise SystemExit(f"{tool} failed: {result.stderr.decode()[-2000:]} {server_log}")

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=PG_USER,
            dbname="postgres",
            autocommit=True,
            options="-c timezone=UTC",
        )

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def load(cluster: Cluster, copy_file: Path) -> dict[str, Any]:
    """Create the table and COPY the file in one transaction, then build each index; timings and sizes."""
    result: dict[str, Any] = {}
    with cluster.connect() as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(TABLE)
            with copy_file.open("rb") as handle, cur.copy(f"COPY reads ({COLUMNS}) FROM STDIN") as copy:
                while block := handle.read(COPY_CHUNK):
                    copy.write(block)
        result["copy_s"] = round(time.perf_counter() - started, 3)
        rows = int(conn.execute("SELECT count(*) FROM reads").fetchone()[0])  # type: ignore[index]
        index_s: dict[str, float] = {}
        for name, statement in INDEXES.items():
            started = time.perf_counter()
            conn.execute(statement)
            index_s[name] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE reads")
        result["vacuum_analyze_s"] = round(time.perf_counter() - started, 3)
        sizes = conn.execute(
            "SELECT pg_relation_size('reads'), pg_total_relation_size('reads'), "
            + ", ".join(f"pg_relation_size('{name}')" for name in INDEXES)
        ).fetchone()
    assert sizes is not None
    table_bytes, total_bytes, *index_bytes = (int(v) for v in sizes)
    per_read = max(rows, 1)
    result.update(
        rows=rows,
        copy_reads_per_s=round(rows / max(result["copy_s"], 1e-9)),
        index_s=index_s,
        index_total_s=round(sum(index_s.values()), 3),
        load_reads_per_s=round(rows / max(result["copy_s"] + sum(index_s.values()), 1e-9)),
        table_bytes=table_bytes,
        total_bytes=total_bytes,
        index_bytes=dict(zip(INDEXES, index_bytes, strict=True)),
        bytes_per_read_table=round(table_bytes / per_read, 1),
        bytes_per_read_total=round(total_bytes / per_read, 1),
    )
    return result


def run_queries(cluster: Cluster, kind: str, params: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Sequential queries of one kind; client-side latency of each (execute and fetch every row)."""
    latencies: list[float] = []
    counts: list[int] = []
    with cluster.connect() as conn, conn.cursor() as cur:
        for values in params:
            started = time.perf_counter()
            cur.execute(QUERIES[kind], values, prepare=True)
            counts.append(len(cur.fetchall()))
            latencies.append(time.perf_counter() - started)
    return {
        "searches": len(latencies),
        **summarise_ms(latencies),
        "mean_reads_returned": round(sum(counts) / max(len(counts), 1), 1),
    }


def explain(cluster: Cluster, kind: str, values: dict[str, Any]) -> list[str]:
    """The plan PostgreSQL picks for one query of ``kind`` (for the report: which index it used)."""
    with cluster.connect() as conn:
        rows = conn.execute(f"EXPLAIN {QUERIES[kind]}", values).fetchall()
    return [str(row[0]) for row in rows]


def owners_list(owners: Sequence[int]) -> list[int]:
    """The permitted owners as the ``owners`` parameter (an int array)."""
    return [int(o) for o in owners]
