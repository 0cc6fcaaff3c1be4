"""Measure the de-duplication lookup: ``read_keys`` layouts against batches of 1,000 new keys.

Every ingest batch checks its keys against all the keys the store holds (docs/ingest.md, "De-duplication").
The keys are 64-bit hashes, so one batch's keys fall all over the table, and the lookup costs the granules and
compressed blocks it has to read. Each variant gets the same keys (generated inside ClickHouse, over ten owners),
merged into one part like a settled store, then answers ``--trials`` lookups of 1,000 keys (99% absent, like
fresh reads, 1% already stored), in the store's form. Prints JSON.

    .venv/bin/python benchmarks/dedup_lookup.py --keys 1e8 --trials 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

from chdb import session as chdb_session

from area_structure import percentile, scalar
from plateledger.store import sql

OWNERS = 10
VARIANTS = {
    "granularity 8192, default blocks (before)": "index_granularity = 8192",
    "granularity 1024, default blocks": "index_granularity = 1024",
    "granularity 1024, 8-64 KiB blocks": "index_granularity = 1024, "
    "min_compress_block_size = 8192, max_compress_block_size = 65536",
    "granularity 256, 4-16 KiB blocks": "index_granularity = 256, "
    "min_compress_block_size = 4096, max_compress_block_size = 16384",
    "the store's (sql.READ_KEYS_SETTINGS)": sql.READ_KEYS_SETTINGS,
}


def measure(keys: int, trials: int) -> dict[str, Any]:
    results: dict[str, Any] = {"keys": keys, "batch": 1000, "trials": trials, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        session = chdb_session.Session(tmp)
        # One batch per trial, of one owner (as an HTTP batch is): 990 keys not stored (another hash seed) and
        # 10 that are. Stored key m belongs to owner 1 + m % OWNERS.
        session.query(
            "CREATE TABLE batches ENGINE = Memory AS "
            f"SELECT intDiv(number, 990) AS trial, toUInt32(1 + trial % {OWNERS}) AS owner, "
            f"cityHash64(number, 2) AS key FROM numbers({990 * trials})"
        )
        session.query(
            "INSERT INTO batches SELECT trial, toUInt32(1 + trial % "
            f"{OWNERS}), cityHash64((number * 7919 % {keys // OWNERS}) * {OWNERS} + trial % {OWNERS}, 1) "
            f"FROM (SELECT number, intDiv(number, 10) AS trial FROM numbers({10 * trials}))"
        )
        for name, settings in VARIANTS.items():
            table = f"keys_{len(results['variants'])}"
            session.query(
                f"CREATE TABLE {table} (owner UInt32, key UInt64 CODEC(Delta, ZSTD(3))) "
                f"ENGINE = MergeTree ORDER BY (owner, key) SETTINGS {settings}"
            )
            session.query(
                f"INSERT INTO {table} SELECT toUInt32(1 + number % {OWNERS}), cityHash64(number, 1) "
                f"FROM numbers({keys})"
            )
            session.query(f"OPTIMIZE TABLE {table} FINAL")
            size = int(
                scalar(session, f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = '{table}'")
            )
            index = int(
                scalar(
                    session,
                    f"SELECT sum(primary_key_bytes_in_memory) FROM system.parts WHERE active AND table = '{table}'",
                )
            )
            timings: list[float] = []
            found: list[int] = []
            for trial in range(trials):
                start = time.perf_counter()
                hits = scalar(
                    session,
                    f"SELECT count() FROM {table} WHERE owner IN ({1 + trial % OWNERS}) "
                    f"AND key IN (SELECT key FROM batches WHERE trial = {trial})",
                )
                timings.append((time.perf_counter() - start) * 1000)
                found.append(int(hits))
            results["variants"][name] = {
                "settings": settings,
                "bytes_per_key": round(size / keys, 2),
                "primary_index_bytes_in_memory": index,
                "stored_keys_found_per_batch": round(statistics.mean(found), 2),
                "lookup_ms": {"p50": round(statistics.median(timings), 1), "p99": round(percentile(timings, 0.99), 1)},
            }
            session.query(f"DROP TABLE {table} SYNC")
        session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=float, default=10_000_000)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(measure(int(args.keys), args.trials), indent=2))


if __name__ == "__main__":
    main()
