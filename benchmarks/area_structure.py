"""Measure structures for area search: the evidence behind the reads table's time-ordered projection.

Area search asks for the reads within a radius of a point in a time window. ``reads`` is ordered by plate, so
without help that is a full scan. Each variant below is the real ``reads`` table of ``store/sql.py`` with or
without a time-ordered structure; each gets the same synthetic rows (generated inside ClickHouse: 500 cameras in
a 60 km square, 8% of reads without a position, times over 30 days), inserted in 500k-row blocks (insert
throughput is measured on that), merged like a settled store, and answers the same area queries (a 1 km circle
around a random camera, a 1-hour and a 24-hour window) one at a time, with the store's own SQL.

    .venv/bin/python benchmarks/area_structure.py --rows 5000000 --queries 100

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from typing import Any

from chdb import session as chdb_session

from plateledger.store import sql
from plateledger.store.queries import AreaQuery, area_sql

T0_MS = 1_733_011_200_000  # 2024-12-01
SPAN_MS = 30 * 86_400_000
HOUR_MS = 3_600_000
CENTRE = (37.60, -122.20)

VARIANTS = {
    "none": "",
    # The projection the store uses: every column, ordered by time.
    "projection_all_columns_by_ts": f", {sql.AREA_PROJECTION}",
    # An index-like projection: only the sort key and the row's offset in the part; the rows come from the
    # plate-ordered table.
    "projection_part_offset_by_ts": ", PROJECTION by_ts_offset (SELECT _part_offset ORDER BY ts)",
    # A narrow projection with the filter columns; the other columns through _part_offset.
    "projection_narrow_by_ts": ", PROJECTION by_ts_narrow (SELECT ts, owner, lat, lon, _part_offset ORDER BY ts)",
}


def generate(rows: int) -> str:
    letters = "'ABCDEFGHJKLMNPRSTUVWXYZ'"
    plate = (
        f"concat(toString(1 + p % 9), substring({letters}, 1 + intDiv(p, 9) % 23, 1), "
        f"substring({letters}, 1 + intDiv(p, 207) % 23, 1), substring({letters}, 1 + intDiv(p, 4761) % 23, 1), "
        "leftPad(toString(intDiv(p, 109503) % 1000), 3, '0'))"
    )
    cam = "rand(3) % 500"
    # Camera c sits at a fixed pseudo-random point of a 0.6 x 0.75 degree square (~60 km); 8% of reads (mobile
    # units without a fix) have no position.
    lat = f"if(rand(6) % 100 < 8, nan, {CENTRE[0]} - 0.3 + (cityHash64(c, 1) % 600000) / 1000000)"
    lon = f"if(rand(6) % 100 < 8, nan, {CENTRE[1]} - 0.375 + (cityHash64(c, 2) % 750000) / 1000000)"
    return f"""
        SELECT n, {sql.FOLD.format("pl")} AS plate_key, pl AS plate,
               fromUnixTimestamp64Milli(toInt64({T0_MS} + rand64(1) % {SPAN_MS}), 'UTC') AS ts,
               toUInt32(1 + rand(2) % 6) AS owner, concat('cam-', toString(c)) AS camera, pl AS plate_raw,
               '' AS read_id, 'US-CA' AS region, toFloat32({lat}) AS lat, toFloat32({lon}) AS lon,
               toFloat32(0.8 + (rand(4) % 20) / 100) AS confidence,
               if(rand(7) % 10 < 6, ['Toyota','Honda','Ford','Tesla'][1 + rand(8) % 4], '') AS make, '' AS model,
               if(rand(7) % 10 < 6, ['white','black','silver'][1 + rand(9) % 3], '') AS color, '' AS vtype,
               toFloat32(nan) AS direction, 'bench' AS source, ts AS ingest_ts
        FROM (SELECT number AS n, toUInt64(floor({rows // 20} * pow(rand(5) / 4294967295, 3))) AS p,
                     {plate} AS pl, {cam} AS c
              FROM numbers({rows}))
    """


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def scalar(session: Any, statement: str) -> str:
    return str(session.query(statement, "CSV")).strip().strip('"')


def measure(rows: int, queries: int, block: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rows": rows, "queries": queries, "insert_block_rows": block, "variants": {}}
    rng = random.Random(20251201)
    with tempfile.TemporaryDirectory() as tmp:
        session = chdb_session.Session(tmp)
        session.query(f"CREATE TABLE src ENGINE = Memory AS {generate(rows)}")
        cameras = [
            tuple(float(x) for x in line.split(","))
            for line in scalar(session, "SELECT DISTINCT lat, lon FROM src WHERE NOT isNaN(lat) LIMIT 500").split()
        ]
        asks = [
            (rng.choice(cameras), T0_MS + rng.randrange(SPAN_MS - 25 * HOUR_MS), hours)
            for hours in (1, 24)
            for _ in range(queries)
        ]
        for name, extra in VARIANTS.items():
            ddl = sql.reads_table_ddl(name, projection=extra)
            session.query(ddl)
            start = time.perf_counter()
            for offset in range(0, rows, block):
                session.query(
                    f"INSERT INTO {name} SELECT * EXCEPT n FROM src WHERE n >= {offset} AND n < {offset + block}"
                )
            insert_s = time.perf_counter() - start
            session.query(f"OPTIMIZE TABLE {name} FINAL")
            size = int(
                scalar(session, f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = '{name}'")
            )
            timings: dict[int, list[float]] = {1: [], 24: []}
            matched: dict[int, list[int]] = {1: [], 24: []}
            for (lat, lon), since, hours in asks:
                query = AreaQuery(
                    since_ms=since, until_ms=since + hours * HOUR_MS, lat=lat, lon=lon, radius_m=1000.0, limit=10_001
                )
                statement, params = area_sql(query, "(owner IN (1, 2, 3))", table=name)
                start = time.perf_counter()
                found = session.query(statement, "JSONCompact", params=params)
                timings[hours].append((time.perf_counter() - start) * 1000)
                matched[hours].append(len(json.loads(found.bytes())["data"]))
            results["variants"][name] = {
                "projection": extra.lstrip(", ") or None,
                "insert_rows_per_s": round(rows / insert_s),
                "bytes_per_read": round(size / rows, 2),
                **{
                    f"area_{hours}h_ms": {
                        "p50": round(statistics.median(values), 2),
                        "p99": round(percentile(values, 0.99), 2),
                        "mean_reads": round(statistics.mean(matched[hours]), 1),
                    }
                    for hours, values in timings.items()
                },
            }
            session.query(f"DROP TABLE {name} SYNC")
        session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=5_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--block", type=int, default=500_000, help="rows per INSERT")
    args = parser.parse_args()
    print(json.dumps(measure(int(args.rows), args.queries, args.block), indent=2))


if __name__ == "__main__":
    main()
