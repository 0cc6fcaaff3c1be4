"""Measure reads-table layouts for plate lookups: the evidence behind the ORDER BY in docs/architecture.md.

Each variant gets the same synthetic rows (generated inside ClickHouse), is merged like a settled store, and
answers the same exact and fuzzy plate lookups one at a time. Prints JSON.

    .venv/bin/python benchmarks/schema_choice.py --rows 10000000 --lookups 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

from chdb import session as chdb_session

FOLD = "translate({}, 'OQDILZSBG', '000112586')"
COLUMNS = """
    plate_key String CODEC(ZSTD(3)), plate String CODEC(ZSTD(3)),
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)), owner UInt32 CODEC(ZSTD(3)),
    camera LowCardinality(String), lat Float32 CODEC(ZSTD(3)), lon Float32 CODEC(ZSTD(3)),
    confidence Float32 CODEC(ZSTD(3))
"""
VARIANTS = {
    "order_key_plate_ts": "ORDER BY (plate_key, plate, ts)",
    "order_plate_ts": "ORDER BY (plate, ts)",
    "order_key_plate_ts_monthly": "PARTITION BY toYYYYMM(ts) ORDER BY (plate_key, plate, ts)",
    "order_owner_plate_ts": "ORDER BY (owner, plate, ts)",
}


def generate(rows: int, plates: int) -> str:
    letters = "'ABCDEFGHJKLMNPRSTUVWXYZ'"
    plate = (
        f"concat(toString(1 + p % 9), substring({letters}, 1 + intDiv(p, 9) % 23, 1), "
        f"substring({letters}, 1 + intDiv(p, 207) % 23, 1), substring({letters}, 1 + intDiv(p, 4761) % 23, 1), "
        "leftPad(toString(intDiv(p, 109503) % 1000), 3, '0'))"
    )
    # A year of reads, so monthly partitions number twelve.
    # Skewed popularity: p = plates * u^3 puts most reads on a few plates, like real traffic.
    return f"""
        SELECT {FOLD.format("pl")} AS plate_key, pl AS plate,
               fromUnixTimestamp64Milli(toInt64(1733011200000 + rand64(1) % 31536000000), 'UTC') AS ts,
               toUInt32(1 + rand(2) % 6) AS owner, concat('cam-', toString(rand(3) % 500)) AS camera,
               toFloat32(37 + (rand(3) % 500) / 1000) AS lat, toFloat32(-122 - (rand(3) % 500) / 1000) AS lon,
               toFloat32(0.8 + (rand(4) % 20) / 100) AS confidence
        FROM (SELECT toUInt64(floor({plates} * pow(rand(5) / 4294967295, 3))) AS p, {plate} AS pl
              FROM numbers({rows}))
    """


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(rows: int, lookups: int) -> dict[str, Any]:
    plates = max(rows // 20, 1000)
    results: dict[str, Any] = {"rows": rows, "distinct_plate_pool": plates, "lookups": lookups, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        session = chdb_session.Session(tmp)
        session.query(f"CREATE TABLE src ENGINE = Memory AS {generate(rows, plates)}")
        sample = [
            r.split(",")[0].strip('"')
            for r in str(session.query(f"SELECT plate FROM src ORDER BY rand() LIMIT {lookups}", "CSV")).split()
        ]
        for name, layout in VARIANTS.items():
            session.query(f"CREATE TABLE {name} ({COLUMNS}) ENGINE = MergeTree {layout}")
            start = time.perf_counter()
            session.query(f"INSERT INTO {name} SELECT * FROM src")
            insert_s = time.perf_counter() - start
            session.query(f"OPTIMIZE TABLE {name} FINAL")
            parts = int(
                str(session.query(f"SELECT count() FROM system.parts WHERE active AND table = '{name}'", "CSV"))
            )
            size = int(
                str(
                    session.query(
                        f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = '{name}'", "CSV"
                    )
                )
            )
            timings: dict[str, list[float]] = {"exact": [], "fuzzy": []}
            for plate in sample:
                key = plate.translate(str.maketrans("OQDILZSBG", "000112586"))
                for kind, where in (
                    ("exact", f"plate_key = '{key}' AND plate = '{plate}'" if "key" in name else f"plate = '{plate}'"),
                    ("fuzzy", f"plate_key = '{key}'"),
                ):
                    start = time.perf_counter()
                    session.query(
                        f"SELECT ts, camera, lat, lon, owner FROM {name} WHERE {where} AND owner IN (1, 2, 3) "
                        "ORDER BY ts SETTINGS max_threads = 1",
                        "JSONCompact",
                    )
                    timings[kind].append((time.perf_counter() - start) * 1000)
            results["variants"][name] = {
                "layout": layout,
                "insert_rows_per_s": round(rows / insert_s),
                "active_parts": parts,
                "bytes_per_read": round(size / rows, 2),
                **{
                    f"{kind}_ms": {
                        "p50": round(statistics.median(values), 2),
                        "p99": round(percentile(values, 0.99), 2),
                    }
                    for kind, values in timings.items()
                },
            }
        session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(measure(int(args.rows), args.lookups), indent=2))


if __name__ == "__main__":
    main()
