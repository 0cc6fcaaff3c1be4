"""The floor of an exact plate lookup: the store's SQL against narrower and differently laid out variants.

```sh
.venv/bin/python benchmarks/plate_floor.py --rows 10000000 --parts 10 --lookups 300
```

In one throwaway chDB directory: the real ``reads`` table (``store/sql.py``) and variants with smaller granules,
filled with the same synthetic reads (``area_structure.generate``: skewed plates, 500 cameras, 30 days) in
``--parts`` inserts with merges stopped, then measured; then merged to one part and measured again. Each lookup is
the store's own ``plate_sql`` (the owner clause a gate gives), timed as:

- ``all_columns_json``: every column of a returned read, JSONCompact, parsed and built into ``StoredRead`` (the
  store's path before this benchmark);
- ``all_columns_columns``: the same SELECT as JSONCompactColumns (one list per column), zipped into reads;
- ``all_columns_arrow``: the same SELECT as an Arrow table, converted to Python lists per column;
- ``needed_only``: only time, owner and camera (the least an answer needs), JSONCompact;
- ``sql_only``: the store's SELECT with its output discarded in the engine (format Null): the engine's time;
- ``sql_only_no_order``: the same without its ORDER BY (what the engine's ordering costs; its LIMIT then keeps
  any rows, so the store cannot simply drop it: docs/benchmarks.md, "Performance II, third pass");
- ``sql_only_with_source``, ``sql_only_ten_columns``, ``sql_only_plate_only``, ``sql_only_no_expressions``: the
  same with other column sets (``COLUMN_SETS``): what each column read, and the computed columns, cost.

``--layouts`` picks the table variants (default all), ``--workdir`` the parent of the throwaway directory.

Plates are drawn half by read frequency, half uniformly from the pool. Prints JSON: per table and parts state,
per way, p50/p99 ms, the process's CPU time per lookup (p50, mean), the mean reads per lookup and the engine's
counters per lookup (``COUNTERS``: blocks and bytes decompressed, column files opened, marks selected).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from chdb import session as chdb_session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from area_structure import generate, percentile
from plateledger.store import sql
from plateledger.store.queries import (
    READ_COLUMNS,
    PlateQuery,
    plate_sql,
    stored_read,
    stored_reads,
)

OWNERS = "(owner IN (1, 2, 3))"

#: Other column sets for the store's lookup (engine time only, like ``sql_only``): what one column more or fewer
#: costs. ``with_source``: the 18 columns searches read before the ingest channel was left out.
COLUMN_SETS = {
    "with_source": READ_COLUMNS.replace("direction, source_ts", "direction, source, source_ts"),
    "ten_columns": f"{sql.EFFECTIVE_READ_ID} AS rid, plate, plate_raw, region, ts, camera, lat, lon, confidence, owner",
    "plate_only": "plate",
    # The same 17 columns as stored, without the computed read id, plate as read and epoch milliseconds.
    "no_expressions": "read_id, plate, plate_raw, region, ts, camera, lat, lon, confidence, owner, make, model, color, "
    "vtype, direction, source_ts, source_confidence",
}

#: name -> (index_granularity, extra settings) of the reads table variants.
LAYOUTS = {
    "reads_g8192": 8192,
    "reads_g1024": 1024,
}


def ddl(name: str, granularity: int) -> str:
    return sql.reads_table_ddl(name).replace("index_granularity = 8192,", f"index_granularity = {granularity},")


def ways(session: Any, table: str) -> dict[str, Callable[[PlateQuery], int]]:
    def statement(query: PlateQuery) -> tuple[str, dict[str, Any]]:
        text, params = plate_sql(query, OWNERS)
        return text.replace("FROM reads ", f"FROM {table} "), params

    def json_rows(query: PlateQuery) -> int:
        text, params = statement(query)
        raw = session.query(text, "JSONCompact", params=params).bytes()
        return len([stored_read(r) for r in orjson.loads(raw)["data"]])

    def columns(query: PlateQuery) -> int:
        text, params = statement(query)
        raw = session.query(text, "JSONCompactColumns", params=params).bytes()
        return len(stored_reads(orjson.loads(raw)))

    def arrow(query: PlateQuery) -> int:
        text, params = statement(query)
        table_ = session.query(text, "ArrowTable", params=params)
        cols = [c.to_pylist() for c in table_.columns]
        return len(list(zip(*cols, strict=True)))

    def needed(query: PlateQuery) -> int:
        text, params = statement(query)
        select = text.split(" FROM ", 1)[1]
        raw = session.query(
            f"SELECT toUnixTimestamp64Milli(ts), owner, camera FROM {select}", "JSONCompact", params=params
        ).bytes()
        return len(orjson.loads(raw)["data"])

    def sql_only(query: PlateQuery) -> int:
        text, params = statement(query)
        session.query(text, "Null", params=params)
        return 0

    def sql_only_no_order(query: PlateQuery) -> int:
        text, params = statement(query)
        session.query(text.replace("ORDER BY ts, owner, camera ", "", 1), "Null", params=params)
        return 0

    def null_with(select: str) -> Callable[[PlateQuery], int]:
        """The store's lookup selecting ``select`` instead of READ_COLUMNS, output discarded (engine time)."""

        def way(query: PlateQuery) -> int:
            text, params = statement(query)
            session.query(text.replace(READ_COLUMNS, select, 1), "Null", params=params)
            return 0

        return way

    return {
        "all_columns_json": json_rows,
        "all_columns_columns": columns,
        "all_columns_arrow": arrow,
        "needed_only": needed,
        "sql_only": sql_only,
        "sql_only_no_order": sql_only_no_order,
        **{f"sql_only_{name}": null_with(select) for name, select in COLUMN_SETS.items()},
    }


#: The engine's counters (``system.events``) a lookup's work shows in: compressed blocks and bytes decompressed,
#: compressed bytes read, column files opened, marks (granules) selected. Deterministic, unlike times on a shared
#: machine.
COUNTERS = (
    "CompressedReadBufferBlocks",
    "CompressedReadBufferBytes",
    "ReadCompressedBytes",
    "FileOpen",
    "SelectedParts",
    "SelectedMarks",
)


def counters(session: Any) -> dict[str, int]:
    names = ", ".join(f"'{name}'" for name in COUNTERS)
    raw = session.query(f"SELECT event, value FROM system.events WHERE event IN ({names})", "JSONCompact").bytes()
    return {str(name): int(value) for name, value in orjson.loads(raw)["data"]}


def time_ways(session: Any, table: str, plates: list[str]) -> dict[str, Any]:
    """Each plate looked up every way, the ways in turn (rotated per plate), so that a busy machine slows each
    way alike: wall time, the process's CPU time (merges are stopped, so that is the lookup's own work, and less
    sensitive to other processes than wall time) and the engine's counters per lookup."""
    named = list(ways(session, table).items())
    timings: dict[str, list[float]] = {name: [] for name, _ in named}
    cpu: dict[str, list[float]] = {name: [] for name, _ in named}
    work: dict[str, dict[str, int]] = {name: dict.fromkeys(COUNTERS, 0) for name, _ in named}
    found: dict[str, list[int]] = {name: [] for name, _ in named}
    for number, plate in enumerate(plates):
        query = PlateQuery(plate=plate, limit=1001)
        for name, way in named[number % len(named) :] + named[: number % len(named)]:
            before = counters(session)
            start, start_cpu = time.perf_counter(), time.process_time()
            found[name].append(way(query))
            timings[name].append((time.perf_counter() - start) * 1000)
            cpu[name].append((time.process_time() - start_cpu) * 1000)
            after = counters(session)
            for counter in COUNTERS:
                work[name][counter] += after.get(counter, 0) - before.get(counter, 0)
    return {
        name: {
            "p50": round(statistics.median(timings[name]), 2),
            "p99": round(percentile(timings[name], 0.99), 2),
            "cpu_p50": round(statistics.median(cpu[name]), 2),
            "cpu_mean": round(statistics.mean(cpu[name]), 2),
            "mean_reads": round(statistics.mean(found[name]), 1),
            "per_lookup": {counter: round(total / len(plates), 1) for counter, total in work[name].items()},
        }
        for name, _ in named
    }


def measure(
    rows: int, parts: int, lookups: int, layouts: dict[str, int] = LAYOUTS, workdir: Path | None = None
) -> dict[str, Any]:
    results: dict[str, Any] = {"rows": rows, "parts": parts, "lookups": lookups, "tables": {}}
    rng = random.Random(20261207)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        session = chdb_session.Session(tmp)
        session.query("SYSTEM STOP MERGES")
        first = next(iter(layouts))
        session.query(ddl(first, layouts[first]))
        step = -(-rows // parts)
        source = generate(rows)
        session.query(
            "CREATE TABLE src ENGINE = MergeTree ORDER BY n AS "
            f"SELECT *, '' AS source_ts, '' AS source_confidence FROM ({source})"
        )
        for offset in range(0, rows, step):
            session.query(
                f"INSERT INTO {first} SELECT * EXCEPT n FROM src WHERE n >= {offset} AND n < {offset + step} ORDER BY n"
            )
        frequent = orjson.loads(
            session.query(f"SELECT plate FROM src ORDER BY rand() LIMIT {lookups // 2}", "JSONCompact").bytes()
        )["data"]
        pool = orjson.loads(session.query("SELECT DISTINCT plate FROM src", "JSONCompact").bytes())["data"]
        plates = [str(r[0]) for r in frequent] + [str(r[0]) for r in rng.sample(pool, min(len(pool), lookups // 2))]
        rng.shuffle(plates)
        for name, granularity in layouts.items():
            if name != first:
                session.query(ddl(name, granularity))
                for offset in range(0, rows, step):
                    session.query(
                        f"INSERT INTO {name} SELECT * EXCEPT n FROM src WHERE n >= {offset} AND n < {offset + step} "
                        "ORDER BY n"
                    )
        session.query("DROP TABLE src SYNC")
        for name, granularity in layouts.items():
            entry: dict[str, Any] = {"index_granularity": granularity}
            active = int(
                session.query(f"SELECT count() FROM system.parts WHERE active AND table = '{name}'", "CSV")
                .bytes()
                .strip()
            )
            entry[f"unmerged_{active}_parts"] = time_ways(session, name, plates)
            session.query("SYSTEM START MERGES")
            session.query(f"OPTIMIZE TABLE {name} FINAL")
            session.query("SYSTEM STOP MERGES")
            entry["merged_1_part"] = time_ways(session, name, plates)
            size = int(
                session.query(f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = '{name}'", "CSV")
                .bytes()
                .strip()
            )
            entry["bytes_per_read"] = round(size / rows, 2)
            results["tables"][name] = entry
            print(json.dumps({name: entry}), file=sys.stderr, flush=True)
        session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=float, default=10_000_000, help="reads in each table (1e7 accepted)")
    parser.add_argument("--parts", type=int, default=10, help="inserts, so active parts before the merge")
    parser.add_argument("--lookups", type=int, default=300, help="plates looked up per way")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="table variants, of " + ", ".join(LAYOUTS))
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the throwaway chDB directory")
    args = parser.parse_args()
    layouts = {name: LAYOUTS[name] for name in args.layouts.split(",")}
    print(json.dumps(measure(int(args.rows), args.parts, args.lookups, layouts, args.workdir), indent=2))


if __name__ == "__main__":
    main()
