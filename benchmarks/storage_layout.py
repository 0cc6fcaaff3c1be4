"""Bytes per read of the reads store's layouts, and what each costs area search: issue 21, item 3.

Builds a store once with the run's national workload (``run.py``'s network, generator and bulk ingest) in
``--workdir`` and keeps it (``--workdir/data-<reads>``, with the area circles in ``plan-<reads>.json``); later
runs reuse it. Each variant is a copy of the stored reads (``INSERT ... SELECT``) in a table of its own, merged to
one part like a settled store; the current layout is copied the same way, so every variant compares with it on
equal terms. Prints bytes per read by table, column and projection (``system.parts_columns``,
``system.projection_parts_columns``), then the store's own area SQL (``queries.area_sql``) at 1 h and 24 h,
the variants taking turns on each circle. Prints JSON; the variant tables are dropped at the end.

    PYTHONPATH=src .venv/bin/python benchmarks/storage_layout.py --reads 1e7 --workdir /tmp/storage \\
        --variants after,after_offset_index,after_latlon_lowcard --keys keys_64bit,keys_48bit --area-searches 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chdb import session as chdb_session

from area_structure import percentile
from core import SEED
from hotlists import timed_ingest
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store import sql
from plateledger.store.queries import AreaQuery, area_sql
from run import AREA_RADIUS_M, DEFAULT_CAMERAS, WINDOWS, area_plan, size
from workload import generate, setup_network

#: The area projection that keeps only the row's place in its part (``_part_offset``): a secondary index.
OFFSET_PROJECTION = (
    f"PROJECTION {sql.AREA_PROJECTION_NAME} (SELECT _part_offset ORDER BY (toStartOfHour(ts), lat, lon, ts))"
)
#: The narrowest index that still answers the area filter inside the projection: time, place and owner.
NARROW_PROJECTION = (
    f"PROJECTION {sql.AREA_PROJECTION_NAME} "
    "(SELECT ts, owner, lat, lon, _part_offset ORDER BY (toStartOfHour(ts), lat, lon, ts))"
)
FULL = f", {sql.AREA_PROJECTION}"


#: The layout before issue 21's second pass (issue 7's 100M run): explicit codecs, the engine's LZ4 for the rest.
BEFORE_TYPES = {
    **sql.READS_COLUMN_TYPES,
    "ts": "DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3))",
    "ingest_ts": "DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3))",
    "lat": "Float32 CODEC(ZSTD(3))",
    "lon": "Float32 CODEC(ZSTD(3))",
    "confidence": "Float32 CODEC(ZSTD(3))",
    "direction": "Float32 CODEC(ZSTD(3))",
}
COMPRESSION_SQL = ", " + ", ".join(f"{name} = {value}" for name, value in sql.COMPRESSION.items())


def _ddl(projection: str = FULL, compression: bool = True, **types: str) -> Callable[[str], str]:
    """The reads table named by the caller: the store's columns with ``types`` changed, ``projection``, and the
    store's settings (without ``sql.COMPRESSION`` when ``compression`` is false)."""

    def ddl(name: str) -> str:
        text = sql.reads_table_ddl(
            name, projection=projection, columns=sql.columns_ddl({**sql.READS_COLUMN_TYPES, **types})
        )
        return text if compression else text.replace(COMPRESSION_SQL, "")

    return ddl


#: name -> the DDL of the variant's table. ``after`` is the store's layout; the others change one thing of it, or
#: of ``before``.
VARIANTS: dict[str, Callable[[str], str]] = {
    "before": _ddl(compression=False, **BEFORE_TYPES),
    "before_no_projection": _ddl("", compression=False, **BEFORE_TYPES),
    "after": _ddl(),
    "after_no_projection": _ddl(""),
    "after_offset_index": _ddl(f", {OFFSET_PROJECTION}"),
    "after_narrow_index": _ddl(f", {NARROW_PROJECTION}"),
    "after_ts_delta": _ddl(ts="DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3))"),
    "after_ts_doubledelta": _ddl(ts="DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3))"),
    "after_ts_adaptive": _ddl(ts="DateTime64(3, 'UTC')"),
    "after_default_zstd1": lambda name: _ddl()(name).replace(
        "default_compression_codec = 'ZSTD(3)'", "default_compression_codec = 'ZSTD(1)'"
    ),
    "after_default_lz4": lambda name: _ddl()(name).replace(", default_compression_codec = 'ZSTD(3)'", ""),
    # A type change (an existing table would be rebuilt); needs allow_suspicious_low_cardinality_types.
    "after_latlon_lowcard": _ddl(lat="LowCardinality(Float32)", lon="LowCardinality(Float32)"),
    # Every ZSTD(3) of the layout (column codecs and the tables' default) at another level.
    "after_zstd6": lambda name: _ddl()(name).replace("ZSTD(3)", "ZSTD(6)"),
    "after_zstd9": lambda name: _ddl()(name).replace("ZSTD(3)", "ZSTD(9)"),
    "after_latlon_lowcard_zstd9": lambda name: _ddl(lat="LowCardinality(Float32)", lon="LowCardinality(Float32)")(
        name
    ).replace("ZSTD(3)", "ZSTD(9)"),
}


def _key_ddl(bits: int, codec: str = sql.READ_KEY_CODEC, compression: bool = True) -> str:
    ddl = sql.READ_KEYS_DDL.replace(sql.READ_KEY_CODEC, codec)
    ddl = ddl if compression else ddl.replace(COMPRESSION_SQL, "")
    return ddl.replace("key   UInt64", "key   UInt32") if bits <= 32 else ddl


#: ``read_keys`` layouts: (DDL, bits of the key). Every variant is filled from ``reads`` (``sql.narrow_key``), so
#: it does not depend on the width the store was built with.
KEY_VARIANTS: dict[str, tuple[str, int]] = {
    "keys_before": (_key_ddl(64, "CODEC(Delta, ZSTD(3))", compression=False), 64),
    "keys_64bit": (_key_ddl(64), 64),
    "keys_delta_zstd": (_key_ddl(64, "CODEC(Delta, ZSTD(3))"), 64),
    "keys_56bit": (_key_ddl(56), 56),
    "keys_48bit": (_key_ddl(48), 48),
    "keys_40bit": (_key_ddl(40), 40),
    "keys_32bit": (_key_ddl(32), 32),
    # Nearly every new read a candidate: the cost of verifying a batch of collisions (``--dedup-rounds``).
    "keys_16bit": (_key_ddl(16), 16),
}

#: The de-duplication statement before the keys were narrowed (every key found in ``read_keys`` a duplicate), to
#: time against ``sql.fresh_select``.
OLD_FRESH = (
    f"SELECT batch, {sql.STORED_COLUMNS}, {sql.READ_KEY} AS key FROM staging.parsed "
    "WHERE reason = '' AND (owner, key) NOT IN ("
    "  SELECT owner, key FROM read_keys WHERE owner IN {owners:Array(UInt32)} AND key IN "
    f"    (SELECT {sql.READ_KEY} FROM staging.parsed WHERE reason = ''))"
    " ORDER BY batch, idx LIMIT 1 BY owner, key"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=size, default=1_000_000, help="reads of the store to build or reuse (1e6)")
    parser.add_argument("--workdir", type=Path, required=True, help="where the store is built and kept")
    parser.add_argument("--variants", default="after", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--keys", default="", help=f"read_keys variants, of: {', '.join(KEY_VARIANTS)}")
    parser.add_argument("--area-searches", type=int, default=100, help="area searches per window and variant")
    parser.add_argument("--insert-rounds", type=int, default=0, help="time inserts of each variant N times")
    parser.add_argument(
        "--dedup-rounds", type=int, default=0, help="time the de-duplication statement, old and new, N times"
    )
    parser.add_argument("--build-only", action="store_true", help="build the store and stop")
    parser.add_argument("--remove", action="store_true", help="delete the kept store at the end")
    args = parser.parse_args(argv)
    unknown = [v for v in filter(None, args.variants.split(",")) if v not in VARIANTS]
    unknown += [v for v in filter(None, args.keys.split(",")) if v not in KEY_VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    return args


def build(workdir: Path, reads: int) -> dict[str, Any]:
    """The national workload bulk-ingested into ``workdir/data-<reads>`` and its area circles, unless kept."""
    data, plan_file = workdir / f"data-{reads}", workdir / f"plan-{reads}.json"
    if plan_file.exists():
        return {"reused": str(data)}
    shutil.rmtree(data, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    network = setup_network(data, DEFAULT_CAMERAS, 500, 8)
    _, files, generated = generate(workdir, network, rng, reads, max(1_000, reads // 20), compress=False)
    platform = Platform.open(load_settings(data=data))
    try:
        jobs = [
            (platform.registry.agency(slug), path) for slug, (path, _) in zip(network.owner_slugs, files, strict=True)
        ]
        ingest = timed_ingest(platform, jobs, reads)
    finally:
        platform.close()
    for path, _ in files:
        path.unlink()
    plan = {w: area_plan(network, rng, 400, ms) for w, ms in WINDOWS.items()}
    plan_file.write_text(json.dumps({"owners": network.owner_ids, "area": plan}))
    return {"built": str(data), "generated": generated, "bulk_ingest": ingest}


def _rows(session: Any, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    raw = session.query(statement, "JSONCompact", params=params or {}).bytes()
    return json.loads(raw)["data"] if raw else []


def layout(session: Any, table: str, reads: int) -> dict[str, Any]:
    """Bytes per read of ``table``: in all, by column (the table's own files) and by projection and its columns."""
    where = "active AND database = currentDatabase() AND table = {t:String}"
    total, parts = _rows(session, f"SELECT sum(bytes_on_disk), count() FROM system.parts WHERE {where}", {"t": table})[
        0
    ]
    columns = _rows(
        session,
        "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.parts_columns "
        f"WHERE {where} GROUP BY column ORDER BY b DESC",
        {"t": table},
    )
    projections = _rows(
        session,
        f"SELECT name, sum(bytes_on_disk) FROM system.projection_parts WHERE {where} GROUP BY name",
        {"t": table},
    )
    projection_columns = _rows(
        session,
        "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.projection_parts_columns "
        f"WHERE {where} GROUP BY column ORDER BY b DESC",
        {"t": table},
    )
    per = max(reads, 1)
    return {
        "parts": int(parts),
        "bytes_per_read": round(int(total or 0) / per, 3),
        "columns": {str(c): round(int(b) / per, 3) for c, b in columns},
        "projections": {str(n): round(int(b) / per, 3) for n, b in projections},
        "projection_columns": {str(c): round(int(b) / per, 3) for c, b in projection_columns},
    }


def insert_rounds(session: Any, names: list[str], rounds: int) -> dict[str, list[float]]:
    """Seconds of one ``INSERT ... SELECT`` of every stored read into a fresh table of each layout (sort, the
    projection and compression: the store's write), then of a second one and the merge of the two parts
    (``OPTIMIZE ... FINAL``: where the adaptive codec choice runs), the layouts taking turns, ``rounds`` times."""
    seconds: dict[str, list[float]] = {f"{name}_{step}": [] for name in names for step in ("insert", "merge")}
    for _ in range(rounds):
        for name in names:
            table = f"insert_{name}"
            session.query(f"DROP TABLE IF EXISTS {table} SYNC")
            session.query(VARIANTS[name](table))
            started = time.perf_counter()
            session.query(f"INSERT INTO {table} SELECT {sql.STORED_COLUMNS} FROM reads")
            seconds[f"{name}_insert"].append(round(time.perf_counter() - started, 2))
            session.query(f"INSERT INTO {table} SELECT {sql.STORED_COLUMNS} FROM reads")
            started = time.perf_counter()
            session.query(f"OPTIMIZE TABLE {table} FINAL")
            seconds[f"{name}_merge"].append(round(time.perf_counter() - started, 2))
            session.query(f"DROP TABLE {table} SYNC")
    return seconds


#: A batch of 1,000 stored reads, as an ingest pass stages it: the newest (``resent``: a batch sent again, looked
#: up by time), 1,000 drawn from the whole store (``resent_spread``: looked up by plate), or the newest a
#: millisecond later (``new``: other generated read ids).
DEDUP_BATCH = (
    "SELECT toUInt64(rowNumberInAllBlocks()) AS idx, toUInt32(0) AS batch, '' AS reason, {columns} FROM "
    f"(SELECT {sql.STORED_COLUMNS} FROM reads ORDER BY {{order}} LIMIT 1000)"
)
DEDUP_KINDS = {
    "new": (sql.STORED_COLUMNS.replace(", ts,", ", ts + toIntervalMillisecond(1) AS ts,", 1), "ts DESC"),
    "resent": (sql.STORED_COLUMNS, "ts DESC"),
    "resent_spread": (sql.STORED_COLUMNS, "cityHash64(plate, ts)"),
}


def _dedup_pass(session: Any, select: str, params: dict[str, Any], verify: bool) -> tuple[int, dict[str, float]]:
    """What an ingest pass runs to de-duplicate ``staging.parsed``: ``staging.fresh`` made by ``select``, then
    (``verify``: the new code) the candidates looked up as ``ReadsStore._verify_candidates`` does. Returns the
    fresh rows left and the milliseconds of each step."""
    ms: dict[str, float] = {}

    def timed(step: str, statement: str, extra: dict[str, Any] | None = None) -> list[list[Any]]:
        started = time.perf_counter()
        rows = _rows(session, statement, {**params, **(extra or {})})
        ms[step] = ms.get(step, 0.0) + (time.perf_counter() - started) * 1000
        return rows

    session.query("DROP TABLE IF EXISTS staging.fresh SYNC")
    timed("fresh", f"CREATE TABLE staging.fresh ENGINE = Memory AS {select}")
    if verify:
        candidates = int(_rows(session, "SELECT countIf(hit) FROM staging.fresh")[0][0])
        if candidates:
            since, until = _rows(
                session, "SELECT toUnixTimestamp64Milli(min(ts)), toUnixTimestamp64Milli(max(ts)) FROM staging.parsed"
            )[0]
            if int(until) - int(since) <= sql.TIME_LOOKUP_MS:
                span = {"since_ms": int(since), "until_ms": int(until)}
                found = [(int(o), str(r)) for o, r in timed("by_time", sql.CONFIRMED_BY_TIME, span)]
            else:
                found = [(int(o), str(r)) for o, r in timed("by_plate", sql.CONFIRMED_BY_PLATE)]
            pairs = "[" + ",".join(f"({o},'{r}')" for o, r in found) + "]"
            if len(found) < candidates:
                left = timed("unconfirmed", sql.UNCONFIRMED, {"confirmed": pairs})
                ids = "[" + ",".join(f"({o},'{r}')" for o, _, r in left) + "]"
                found += [(int(o), str(r)) for o, r in timed("by_read_id", sql.CONFIRMED_BY_READ_ID, {"ids": ids})]
                pairs = "[" + ",".join(f"({o},'{r}')" for o, r in found) + "]"
            if found and len(found) == int(_rows(session, "SELECT count() FROM staging.fresh")[0][0]):
                timed("delete", "TRUNCATE TABLE staging.fresh")
            elif found:
                timed(
                    "delete",
                    f"ALTER TABLE staging.fresh DELETE WHERE hit AND (owner, {sql.EFFECTIVE_READ_ID}) IN "
                    "{found:Array(Tuple(UInt32, String))}",
                    {"found": pairs},
                )
                timed("recount", "SELECT batch, count() FROM staging.fresh GROUP BY batch")
    return int(_rows(session, "SELECT count() FROM staging.fresh")[0][0]), ms


def dedup_rounds(session: Any, plan: dict[str, Any], rounds: int) -> dict[str, dict[str, Any]]:
    """Milliseconds of the ingest pass's de-duplication on a staged batch of 1,000 reads against the whole store
    (``_dedup_pass``): ``old`` (``OLD_FRESH``, 64-bit keys, ``layout_keys_64bit``), ``new`` (``sql.fresh_select``
    with ``layout_keys_48bit``, and the candidates verified) and ``collisions`` (``layout_keys_16bit``: nearly
    every new read a candidate, verified by plate and then by read id), taking turns, ``rounds`` times per batch
    kind. Needs those key variants made by ``--keys``."""
    params = {"owners": "[" + ",".join(map(str, plan["owners"])) + "]"}
    passes = {
        "old": (OLD_FRESH.replace("FROM read_keys", "FROM layout_keys_64bit"), False),
        "new": (sql.fresh_select(48).replace("FROM read_keys", "FROM layout_keys_48bit"), True),
        "collisions": (sql.fresh_select(16).replace("FROM read_keys", "FROM layout_keys_16bit"), True),
    }
    session.query("CREATE DATABASE IF NOT EXISTS staging")
    out: dict[str, dict[str, Any]] = {}
    try:
        for kind, (columns, order) in DEDUP_KINDS.items():
            session.query("DROP TABLE IF EXISTS staging.parsed SYNC")
            batch = DEDUP_BATCH.format(columns=columns, order=order)
            session.query(f"CREATE TABLE staging.parsed ENGINE = Memory AS {batch}")
            times: dict[str, list[float]] = {name: [] for name in passes}
            steps: dict[str, dict[str, list[float]]] = {name: {} for name in passes}
            fresh: dict[str, set[int]] = {name: set() for name in passes}
            for i in range(rounds):
                names = list(passes)
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    count, ms = _dedup_pass(session, passes[name][0], params, passes[name][1])
                    times[name].append(sum(ms.values()))
                    for step, value in ms.items():
                        steps[name].setdefault(step, []).append(value)
                    fresh[name].add(count)
            if len({frozenset(v) for v in fresh.values()}) != 1:
                raise SystemExit(f"de-duplication passes disagree on the {kind} batch: {fresh}")
            out[kind] = {
                name: {
                    "p50_ms": round(statistics.median(t), 2),
                    "steps_p50_ms": {step: round(statistics.median(v), 2) for step, v in steps[name].items()},
                    "fresh": sorted(fresh[name]),
                }
                for name, t in times.items()
            }
    finally:
        session.query("DROP TABLE IF EXISTS staging.parsed, staging.fresh SYNC")
    return out


def copy_table(session: Any, name: str, ddl: str, select: str) -> float:
    """``name`` made from ``ddl`` and filled by ``select``, merged to one part; seconds taken."""
    started = time.perf_counter()
    session.query(f"DROP TABLE IF EXISTS {name} SYNC")
    session.query(ddl)
    session.query(f"INSERT INTO {name} {select}")
    session.query(f"OPTIMIZE TABLE {name} FINAL")
    return time.perf_counter() - started


def explain(session: Any, table: str, plan: dict[str, Any]) -> dict[str, list[str]]:
    """``EXPLAIN indexes = 1`` of the first circle's area SQL at each window: which projection and granules."""
    clause = f"owner IN ({', '.join(map(str, plan['owners']))})"
    out = {}
    for window, circles in plan["area"].items():
        c = circles[0]
        query = AreaQuery(c["since"], c["until"], lat=c["lat"], lon=c["lon"], radius_m=AREA_RADIUS_M, limit=1_000)
        statement, params = area_sql(query, clause, table=table)
        raw = (
            session.query(f"EXPLAIN indexes = 1, projections = 1 {statement}", "TSVRaw", params=params).bytes().decode()
        )
        keep = ("ReadFrom", "rojection", "Granules", "Parts", "Name", "Ranges", "Rows", "Search")
        out[window] = [line.strip() for line in raw.splitlines() if any(k in line for k in keep)]
    return out


def area_latency(
    session: Any, tables: list[str], plan: dict[str, Any], searches: int, page: int = 1_000
) -> dict[str, dict[str, Any]]:
    """The store's area SQL on each table, the tables taking turns per circle; p50/p99 ms and rows by window."""
    clause = f"owner IN ({', '.join(map(str, plan['owners']))})"
    out: dict[str, dict[str, Any]] = {t: {} for t in tables}
    for window, circles in plan["area"].items():
        times: dict[str, list[float]] = {t: [] for t in tables}
        counts: dict[str, list[int]] = {t: [] for t in tables}
        for i, c in enumerate(circles[:searches]):
            query = AreaQuery(c["since"], c["until"], lat=c["lat"], lon=c["lon"], radius_m=AREA_RADIUS_M, limit=page)
            order = tables[i % len(tables) :] + tables[: i % len(tables)]
            for table in order:
                statement, params = area_sql(query, clause, table=table)
                started = time.perf_counter()
                rows = _rows(session, statement, params)
                times[table].append((time.perf_counter() - started) * 1000)
                counts[table].append(len(rows))
        for table in tables:
            out[table][window] = {
                "p50_ms": round(statistics.median(times[table]), 2),
                "p99_ms": round(percentile(times[table], 0.99), 2),
                "mean_rows": round(statistics.fmean(counts[table]), 1),
            }
        first = counts[tables[0]]
        for table in tables[1:]:
            if counts[table] != first:
                raise SystemExit(f"{table} answered {window} with other row counts than {tables[0]}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {"build": build(args.workdir, args.reads)}
    if args.build_only:
        print(json.dumps(report, indent=1))
        return 0
    data = args.workdir / f"data-{args.reads}"
    plan = json.loads((args.workdir / f"plan-{args.reads}.json").read_text())
    session = chdb_session.Session(str(data / "reads"))
    session.query("SET allow_suspicious_low_cardinality_types = 1")
    made: list[str] = []
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        reads = int(_rows(session, "SELECT count() FROM reads")[0][0])
        report["reads"] = reads
        report["store"] = {t: layout(session, t, reads) for t in ("reads", "read_keys")}
        report["variants"] = {}
        for name in filter(None, args.variants.split(",")) if not args.insert_rounds else ():
            table = f"layout_{name}"
            made.append(table)
            seconds = copy_table(session, table, VARIANTS[name](table), f"SELECT {sql.STORED_COLUMNS} FROM reads")
            report["variants"][name] = {
                "copy_and_merge_s": round(seconds, 1),
                **layout(session, table, reads),
                "explain": explain(session, table, plan),
            }
            log(f"{name}: {report['variants'][name]['bytes_per_read']} bytes/read, {seconds:.0f} s")
        for name in filter(None, args.keys.split(",")):
            table = f"layout_{name}"
            made.append(table)
            ddl, bits = KEY_VARIANTS[name]
            ddl = ddl.replace("EXISTS read_keys", f"EXISTS {table}")
            seconds = copy_table(session, table, ddl, f"SELECT owner, {sql.narrow_key(bits)} FROM reads")
            report["variants"][name] = {"copy_and_merge_s": round(seconds, 1), **layout(session, table, reads)}
            log(f"{name}: {report['variants'][name]['bytes_per_read']} bytes/read, {seconds:.0f} s")
        if args.dedup_rounds:
            report["dedup"] = dedup_rounds(session, plan, args.dedup_rounds)
            log(f"dedup: {report['dedup']}")
        tables = [f"layout_{n}" for n in filter(None, args.variants.split(","))]
        if args.insert_rounds:
            names = list(filter(None, args.variants.split(",")))
            report["insert_s"] = insert_rounds(session, names, args.insert_rounds)
            log(f"insert seconds: {report['insert_s']}")
            tables = []
        if args.area_searches and tables:
            report["area"] = area_latency(session, tables, plan, args.area_searches)
    finally:
        for table in made:
            session.query(f"DROP TABLE IF EXISTS {table} SYNC")
        session.close()
    if args.remove:
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
