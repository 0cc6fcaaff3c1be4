"""Ingest floors: how fast reads can go into chDB at all, where the real pass spends its time, and how many reads
per second HTTP can even deliver on this machine.

On one generated JSONL file of ``--reads`` canonical reads (``core.write_reads_file``: 500 OpenStreetMap cameras,
the Zipf plate pool), in a work directory under ``--workdir`` that is deleted at the end:

1. **engine** — a fresh reads store (the real DDL of ``sql.py``): the JSON parse alone (``SELECT ... FROM
   file(.., JSONEachRow) FORMAT Null``), the bare ``INSERT INTO reads SELECT ... FROM file(.., JSONEachRow)`` with
   only the conversions a stored row needs (folded plate key, time), into the table with the area projection and
   into the same table without it, then the ``read_keys`` insert of those reads.
2. **pass** — the library path of ``plateledger ingest`` (``Ingestor.ingest_file``: chunks of
   ``ingest_chunk_bytes``, the SQL validator, de-duplication, the audit intent and outcome, insert, keys, hot-list
   match against ``--entries`` mirror entries) on a data directory set up through the library. Every chDB
   statement is timed (its first 60 characters), and so are the staging file writes and the audit appends; what is
   left is Python around them. Then the would-be fast path at the same chunk size: ``fastpath.staged_rows`` over
   the chunk with its line limit lifted (the Python typing of each read), and how many lines it would refuse.
   ``cli_startup_s`` is ``plateledger ingest`` of a 10-read file, the fixed cost of the CLI.
3. **http** — ``--http-batches`` POSTs of 1,000 reads (``core.fresh_batches``) from ``--clients`` client threads
   (``core.http_ingest``) against: the same server stack as ``plateledger serve`` (uvicorn + FastAPI, this module
   as the app) whose ``POST /api/v1/reads`` only reads the body (``echo=body``), also decodes it with orjson
   (``echo=parse``) and also re-encodes each read as ``Ingestor._split_body`` does (``echo=split``); then the real
   endpoint of ``plateledger serve`` on the data directory of step 2, sampled by py-spy when ``--py-spy FILE``
   is given (shares of the samples per stage are printed).

    .venv/bin/python benchmarks/ingest_floor.py --reads 1e6 --workdir /tmp/floors --py-spy /tmp/floors/http.txt

4. **compare** (with ``--variant NAME=PYTHONPATH``, repeatable) — per round and variant, alternating: a fresh data
   directory, ``plateledger ingest`` of the file as ``core.py`` times it (start-up included) and of a 10-read file,
   then ``plateledger serve`` and HTTP ingest from 1 and 4 clients, each with that variant's code.

    .venv/bin/python benchmarks/ingest_floor.py --reads 1e6 --skip engine,pass,http \\
        --variant before=/tmp/old/src --variant after=src --rounds 2

Prints one JSON object. ``--skip`` engine,pass,http leaves steps out (http needs pass's data directory).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from core import (
    AGENCY,
    BENCH_ACTOR,
    DEFAULT_CAMERAS,
    OTHER_CAMERAS,
    SEED,
    ReadSource,
    Server,
    cli,
    fresh_batches,
    http_ingest,
    load_cameras,
    py_spy,
    run_cli_ingest,
    setup_data_dir,
    write_reads_file,
)
from plateledger.api.routes.reads import read_body
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store import fastpath, sql
from plateledger.store.matching import MirrorEntry
from plateledger.store.reads import ReadsStore

#: The canonical read as ``core.ReadSource.render`` writes it, for ClickHouse's JSON parser.
JSON_STRUCTURE = "plate String, ts Int64, camera String, region String, confidence Float64, vehicle Map(String, String)"
#: A stored row from a parsed line, with only the conversions every stored read needs (no validation).
BARE_SELECT = (
    f"{sql.FOLD.format('p')} AS plate_key, p AS plate, fromUnixTimestamp64Milli(t, 'UTC') AS ts, toUInt32(1) AS owner, "
    "cam AS camera, '' AS plate_raw, '' AS read_id, reg AS region, toFloat32(0) AS lat, toFloat32(0) AS lon, "
    "toFloat32(conf) AS confidence, veh['make'] AS make, '' AS model, veh['color'] AS color, '' AS vtype, "
    "toFloat32(nan) AS direction, 'bulk' AS source, now64(3) AS ingest_ts, '' AS source_ts, '' AS source_confidence"
)
#: Frames whose share of the real endpoint's py-spy samples is reported (a sample counts once per frame name).
SPY_FRAMES = (
    "post_reads",
    "read_body",
    "ingest_json_body",
    "_split_body",
    "ingest_block",
    "staged_rows",
    "typed_row",
    "typed_read",
    "_staging_file",
    "_query",
    "append",
    "batched",
    "saw_reads",
    "flush",
    "match",
    "process",
)


def rate(reads: int, seconds: float) -> dict[str, Any]:
    return {"s": round(seconds, 3), "reads_per_s": round(reads / seconds) if seconds else None}


# -- 1. the engine's floor ----------------------------------------------------------------------------------


def engine_floor(path: Path, reads: int, work: Path) -> dict[str, Any]:
    """Bare statements on a fresh store with the real DDL; reads/s of each."""
    store = ReadsStore(work / "engine")
    source = (
        "(SELECT plate AS p, ts AS t, camera AS cam, region AS reg, confidence AS conf, vehicle AS veh FROM "
        f"file('{path}', 'JSONEachRow', '{JSON_STRUCTURE}'))"
    )
    result: dict[str, Any] = {}
    try:
        store._query(sql.reads_table_ddl("reads_bare", projection=""))

        def timed(name: str, statement: str) -> None:
            started = time.perf_counter()
            store._query(statement)
            result[name] = rate(reads, time.perf_counter() - started)

        timed("json_parse_only", f"SELECT * FROM {source} FORMAT Null")
        timed("parse_and_convert_only", f"SELECT {BARE_SELECT} FROM {source} FORMAT Null")
        timed(
            "insert_reads_with_projection",
            f"INSERT INTO reads ({sql.STORED_COLUMNS}) SELECT {BARE_SELECT} FROM {source}",
        )
        timed(
            "insert_reads_without_projection",
            f"INSERT INTO reads_bare ({sql.STORED_COLUMNS}) SELECT {BARE_SELECT} FROM {source}",
        )
        timed("insert_read_keys", f"INSERT INTO read_keys SELECT owner, {sql.READ_KEY} FROM reads_bare")
        result["stored"] = int(store._scalar("SELECT count() FROM reads"))
    finally:
        store.close()
    return result


# -- 2. the real pass ---------------------------------------------------------------------------------------


class Stopwatch:
    """Seconds and calls per label, summed."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def wrap(self, label: Callable[..., str], action: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return action(*args, **kwargs)
            finally:
                entry = self.spent[label(*args)]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        return run

    def report(self, reads: int) -> list[dict[str, Any]]:
        ranked = sorted(self.spent.items(), key=lambda item: -item[1][1])
        return [
            {"stage": name, "calls": int(calls), "s": round(s, 3), "reads_per_s": round(reads / s) if s else None}
            for name, (calls, s) in ranked
        ]


def statement_label(statement: str, *_: Any) -> str:
    return " ".join(statement.split())[:60]


def load_mirror(store: ReadsStore, entries: int, now_ms: int) -> None:
    """``entries`` active exact entries on plates of the pool's shape that no generated read carries."""
    expires = now_ms + 10**9
    store.load_hot_entries(
        MirrorEntry(n, 1, True, f"Z{n:07d}", False, None, n % 2 == 0, expires) for n in range(entries)
    )


def real_pass(path: Path, reads: int, data: Path, entries: int) -> dict[str, Any]:
    """``Ingestor.ingest_file`` of the file, every stage timed; then the fast path's typing of the first chunk."""
    platform = Platform.open(load_settings(data=data))
    watch = Stopwatch()
    try:
        store = platform.reads
        if entries:
            load_mirror(store, entries, time.time_ns() // 1_000_000)
        # Every statement goes through ``_query`` (``_rows`` and the mirror call it): an instance attribute shadows
        # the method for the store, and the mirror and journal get the same timed callable.
        query = watch.wrap(statement_label, store._query)
        store._query = query  # type: ignore[method-assign]
        store._mirror._query = query
        store.journal._query = query
        store._staging_file = watch.wrap(lambda *_: "python: write staging file", store._staging_file)  # type: ignore[method-assign]
        audit = platform.audit
        audit.append = watch.wrap(lambda *_: "python: audit append", audit.append)  # type: ignore[method-assign]
        started = time.perf_counter()
        total = platform.ingest.ingest_file(BENCH_ACTOR, platform.registry.agency(AGENCY), path, fmt="jsonl")
        wall = time.perf_counter() - started
        stages = watch.report(reads)
        measured = sum(stage["s"] for stage in stages)
        chunk = path.open("rb").read(platform.settings.ingest_chunk_bytes).rsplit(b"\n", 1)[0]
        fast = fast_path_typing(chunk, platform, store)
    finally:
        platform.close()
    return {
        "stored": total.stored,
        "duplicates": total.duplicates,
        "rejected": len(total.rejected),
        "chunk_bytes": len(chunk),
        "chunk_reads": chunk.count(b"\n") + 1,
        "hot_entries": entries,
        **rate(reads, wall),
        "stages": stages,
        "python_rest_s": round(wall - measured, 3),
        "fast_path_typing": fast,
    }


def fast_path_typing(chunk: bytes, platform: Platform, store: ReadsStore) -> dict[str, Any]:
    """The Python typing of a bulk chunk (``fastpath.staged_rows`` with its line limit lifted)."""
    owner = platform.registry.agency(AGENCY)
    cameras = fastpath.camera_positions(platform.registry.cameras_unguarded(owner.id))
    now_ms = time.time_ns() // 1_000_000
    lines = chunk.split(b"\n")
    refused = sum(
        fastpath.typed_row(
            line, owner=owner.id, country="US", cameras=cameras, earliest_ms=0, latest_ms=now_ms, max_bytes=16384
        )
        is None
        for line in lines
    )
    limit, fastpath.MAX_FAST_LINES = fastpath.MAX_FAST_LINES, len(lines) + 1
    try:
        started = time.perf_counter()
        rows = [
            fastpath.typed_row(
                line, owner=owner.id, country="US", cameras=cameras, earliest_ms=0, latest_ms=now_ms, max_bytes=16384
            )
            for line in lines
        ]
        typing_s = time.perf_counter() - started
        started = time.perf_counter()
        fastpath.staged_rows(
            [(chunk, owner.id, "US", "bulk", cameras)], now_ms=now_ms, future_tolerance_ms=0, max_bytes=16384
        )
        staged_s = time.perf_counter() - started
    finally:
        fastpath.MAX_FAST_LINES = limit
    return {
        "lines": len(lines),
        "lines_it_refuses": refused,
        "typed_row_per_line": rate(len(lines), typing_s),
        "staged_rows_whole_chunk": rate(len(lines), staged_s),
        "typed": sum(row is not None for row in rows),
    }


def cli_startup(work: Path) -> float:
    """Wall seconds of ``plateledger ingest`` of a 10-read file into a scratch data directory."""
    data = work / "cli-data"
    cameras = load_cameras(DEFAULT_CAMERAS, 10, "cli-cam")
    setup_data_dir(data, cameras, load_cameras(DEFAULT_CAMERAS, OTHER_CAMERAS, "cli-other", skip=10))
    small = work / "small.jsonl"
    write_reads_file(
        small,
        ReadSource.build(np.random.default_rng(SEED), 50, cameras),
        np.random.default_rng(1),
        10,
        time.time_ns() // 1_000_000,
    )
    command = [cli("plateledger"), "ingest", str(small), "--format", "jsonl", "--agency", AGENCY, "--data", str(data)]
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return round(time.perf_counter() - started, 3)


# -- 3. HTTP --------------------------------------------------------------------------------------------------


def echo_app(mode: str) -> Any:
    """The FastAPI app of the transport floor: ``POST /api/v1/reads`` reads the body as the real route does and,
    by ``mode``, decodes it (``parse``) and re-encodes each read (``split``); it stores nothing."""
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        return ""

    @app.post("/api/v1/reads")
    async def post_reads(request: Request) -> dict[str, int]:
        body = await read_body(request, 64 * 1024 * 1024)
        if mode == "body":
            count = body.count(b'"plate"')
        else:
            items = orjson.loads(body)
            if mode == "split":
                b"\n".join(orjson.dumps(item) for item in items)
            count = len(items)
        return {"stored": count, "duplicates": 0, "rejected_count": 0}

    return app


def serve_echo(argv: list[str]) -> None:
    """``ingest_floor.py --echo MODE serve --data DIR --port PORT`` (as ``core.Server`` starts a server)."""

    mode, port = argv[argv.index("--echo") + 1], int(argv[argv.index("--port") + 1])
    uvicorn.run(echo_app(mode), host="127.0.0.1", port=port, log_config=None, access_log=False)


def spy_shares(path: Path) -> dict[str, float]:
    """Share of the samples (py-spy raw collapsed stacks) in which each of ``SPY_FRAMES`` appears."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        total += samples
        names = {frame.split(" ", 1)[0].rsplit(".", 1)[-1] for frame in stack.split(";")}
        for frame in SPY_FRAMES:
            if frame in names:
                counts[frame] += samples
    return {"samples": total, **{frame: round(100 * counts[frame] / total, 1) for frame in SPY_FRAMES if total}}


def http_floor(
    data: Path, work: Path, token: str, source: ReadSource, batches: int, clients: int, spy: Path | None
) -> dict[str, Any]:
    rng = np.random.default_rng(SEED + 7)
    now_ms = time.time_ns() // 1_000_000
    result: dict[str, Any] = {"batches": batches, "clients": clients}
    for mode in ("body", "parse", "split"):
        server = Server.start(data, work / f"echo-{mode}", [sys.executable, str(Path(__file__)), "--echo", mode])
        try:
            run = http_ingest(server.base_url, token, fresh_batches(source, rng, batches, now_ms), clients)
        finally:
            server.stop()
        result[f"echo_{mode}"] = {
            "reads_per_s": run["reads_per_s"],
            **run["request"],
            "errors": run["errors"],
            "error_samples": run["error_samples"],
        }
    server = Server.start(data, work / "serve")
    try:
        with py_spy(server.process.pid, spy, rate=100):
            run = http_ingest(server.base_url, token, fresh_batches(source, rng, batches, now_ms), clients)
    finally:
        server.stop()
    result["real_endpoint"] = {
        "reads_per_s": run["reads_per_s"],
        **run["request"],
        "errors": run["errors"],
        "error_samples": run["error_samples"],
    }
    if spy is not None and spy.exists():
        result["real_endpoint_py_spy_percent"] = spy_shares(spy)
    return result


# -- 4. before/after ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (its threads included), or by the whole machine
    (all processes, from ``/proc/stat``) when ``pid`` is None."""
    ticks = os.sysconf("SC_CLK_TCK")
    if pid is None:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        return (user + nice + system + irq + softirq + steal) / ticks
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / ticks  # utime, stime (fields 14 and 15)


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of process ``pid``'s live threads: ``python`` (threads that kept the process's name: the
    interpreter's, where requests are decoded and typed) and ``engine`` (threads chDB named: its statements)."""
    ticks = os.sysconf("SC_CLK_TCK")
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    found = {"python": 0.0, "engine": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        found["python" if comm == name else "engine"] += (int(stat[11]) + int(stat[12])) / ticks
    return found


@contextmanager
def pythonpath(value: str) -> Iterator[None]:
    """Subprocesses started inside run the code of ``value``."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def compare(
    variants: dict[str, str], rounds: int, path: Path, reads: int, work: Path, source: ReadSource, batches: int
) -> dict[str, Any]:
    """Per round and variant (alternating): a fresh data directory, ``plateledger ingest`` of the file (wall
    clock, start-up included, as ``core.py`` measures bulk ingest) and of a 10-read file (the start-up), then
    ``plateledger serve`` on it and HTTP ingest of ``batches`` POSTs from 1 and from 4 clients."""
    results: dict[str, Any] = {}
    cameras = load_cameras(DEFAULT_CAMERAS, 500, "bench-cam")
    small = work / "small.jsonl"
    write_reads_file(small, source, np.random.default_rng(2), 10, time.time_ns() // 1_000_000)
    for round_ in range(rounds):
        for name, code in variants.items():
            data = work / f"compare-{name}"
            tokens = setup_data_dir(data, cameras, load_cameras(DEFAULT_CAMERAS, OTHER_CAMERAS, "county-cam", skip=500))
            rng = np.random.default_rng(SEED + round_)
            now_ms = time.time_ns() // 1_000_000
            bodies = {n: fresh_batches(source, rng, batches, now_ms) for n in (1, 4)}
            entry: dict[str, Any] = {"load_average": os.getloadavg()[0]}
            with pythonpath(code):
                bulk = run_cli_ingest(path, AGENCY, data)
                entry["bulk_wall_s"], entry["bulk_stored"] = bulk["wall_s"], bulk["stored"]
                entry["bulk_reads_per_s"] = round(reads / bulk["wall_s"])
                entry["cli_small_file_wall_s"] = run_cli_ingest(small, AGENCY, data)["wall_s"]
                server = Server.start(data, work / f"serve-{name}")
            try:
                for n, body in bodies.items():
                    cpu = cpu_seconds(server.process.pid), cpu_seconds(os.getpid()), cpu_seconds()
                    threads = thread_cpu(server.process.pid)
                    run = http_ingest(server.base_url, tokens.device, body, n)
                    threads = {k: v - threads[k] for k, v in thread_cpu(server.process.pid).items()}
                    used = [
                        after - before
                        for before, after in zip(
                            cpu, (cpu_seconds(server.process.pid), cpu_seconds(os.getpid()), cpu_seconds()), strict=True
                        )
                    ]
                    # CPU per 1,000 reads sent: the server's, the clients' (this process) and the whole machine's
                    # (the other engineers' work included), and the wall time.
                    reads_sent = sum(b.count(b'"plate"') for b in body)
                    entry[f"http_{n}_client_cpu_ms_per_1000"] = {
                        name: round(1000 * 1000 * seconds / reads_sent, 1)
                        for name, seconds in zip(("server", "clients", "machine"), used, strict=True)
                    }
                    # The server's by thread kind (threads that ended during the run are not counted).
                    entry[f"http_{n}_client_server_threads_cpu_ms_per_1000"] = {
                        kind: round(1000 * 1000 * seconds / reads_sent, 1) for kind, seconds in threads.items()
                    }
                    entry[f"http_{n}_client_reads_per_s"] = run["reads_per_s"]
                    entry[f"http_{n}_client_p50_ms"] = run["request"].get("p50_ms")
                    entry[f"http_{n}_client_p99_ms"] = run["request"].get("p99_ms")
                    entry[f"http_{n}_client_errors"] = run["errors"]
            finally:
                server.stop()
                shutil.rmtree(data, ignore_errors=True)
            results.setdefault(name, []).append(entry)
            print(f"round {round_} {name}: {entry}", file=sys.stderr)
    return results


# -- main -----------------------------------------------------------------------------------------------------


@contextmanager
def workdir(parent: Path) -> Iterator[Path]:
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ingest-floor-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--echo" in argv:
        serve_echo(argv)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=float, default=1_000_000)
    parser.add_argument("--entries", type=int, default=0, help="hot-list mirror entries during the pass")
    parser.add_argument("--http-batches", type=int, default=100, help="POSTs of 1,000 reads per HTTP run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--py-spy", type=Path, default=None, help="raw py-spy stacks of the real endpoint")
    parser.add_argument("--skip", default="", help="steps to leave out: engine,pass,http")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=PYTHONPATH: compare bulk (CLI) and HTTP ingest of these code versions, alternating (repeatable)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the --variant comparison")
    args = parser.parse_args(argv)
    reads, skip = int(args.reads), set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {"reads": reads, "load_average_at_start": os.getloadavg()}
    with workdir(args.workdir) as work:
        cameras = load_cameras(DEFAULT_CAMERAS, 500, "bench-cam")
        data = work / "data"
        tokens = setup_data_dir(data, cameras, load_cameras(DEFAULT_CAMERAS, OTHER_CAMERAS, "county-cam", skip=500))
        source = ReadSource.build(np.random.default_rng(SEED), max(1_000, reads // 20), cameras)
        path = work / "reads.jsonl"
        size = write_reads_file(path, source, np.random.default_rng(SEED), reads, time.time_ns() // 1_000_000)
        report["file_bytes"] = size
        if "engine" not in skip:
            report["engine"] = engine_floor(path, reads, work)
        if "pass" not in skip:
            report["pass"] = real_pass(path, reads, data, args.entries)
            report["cli_startup_s"] = cli_startup(work)
        if args.variant:
            variants = dict(v.split("=", 1) for v in args.variant)
            report["compare"] = compare(variants, args.rounds, path, reads, work, source, args.http_batches)
        path.unlink()
        if "http" not in skip:
            report["http"] = http_floor(data, work, tokens.device, source, args.http_batches, args.clients, args.py_spy)
    report["load_average_at_end"] = os.getloadavg()
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
