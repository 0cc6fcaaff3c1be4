"""The benchmark: a national-scale workload through Plateledger, and the same workload on PostgreSQL 15.

    .venv/bin/python benchmarks/run.py --reads 1e6                      # the quick check (make bench-quick)
    .venv/bin/python benchmarks/run.py --reads 1e8 --json --out results/
    .venv/bin/python benchmarks/run.py --curve 1e6,1e7,1e8 --out results/

One run: set up the real sharing graph with the owners' cameras at real positions and a hot list of ``--entries``
(1M) entries (``workload.py``), generate ``--reads`` reads of vehicles with routines, then measure:

* bulk ingest: the owners' JSONL files through ``plateledger ingest``'s library path (``Ingest.ingest_file``:
  parse, validate and normalise in the engine, de-duplicate, store, hot-list match, raise alerts), reads/s;
* HTTP ingest: ``plateledger serve`` (uvicorn, its own process), POSTs of 1,000 reads, 1 and 4 clients;
* plate search through ``GET /api/v1/search/plate`` (token, policy gate over the whole graph, audit append):
  ``--searches`` plates of mixed popularity (half drawn by how often they are read, half uniformly from the pool,
  the long tail), exact, wildcard (3-character prefix and ``*``) and fuzzy, p50/p95/p99 each;
* area search through ``GET /api/v1/search/area``: 500 m around a camera, 1-hour and 24-hour windows in the
  last 30 days, p50/p99 (first page);
* alert latency: POST → SSE at ``--alert-rate`` reads/s (``alert_latency.measure``) against the same server;
* with ``--mixed-seconds``, the mixed load (``mixed_load.py``): concurrent searchers while ingest clients stream
  reads, search p50/p99 by kind, ingest acknowledgement, alert latency, and acknowledged reads against stored;
* storage (bytes/read of the active parts, ``du``), peak RSS of the server;
* PostgreSQL (``postgres.py``): COPY of the same stored rows, each index built after the load, bytes/read with
  indexes, the same searches as SQL; and the Plateledger/PostgreSQL ratio of every figure.

``--curve`` runs the whole benchmark at each size, each on fresh directories, and adds a table of the search
costs by size. JSON goes to stdout with ``--json`` (the table to stderr), else the table to stdout; ``--out DIR``
keeps both as files.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import orjson

import alert_latency
import mixed_load
import postgres
import tail
from core import (
    DEFAULT_CAMERAS,
    SEARCH_PARAMS,
    SEARCH_ROUTE,
    SEED,
    WARMUP_SEARCHES,
    ReadSource,
    Server,
    Tokens,
    approve_held,
    fresh_batches,
    http_ingest,
    log,
    machine_info,
    py_spy,
    run_searches,
    store_stats,
    summarise_ms,
    timed,
)
from hotlists import add_entries, patterns, pick_entries, timed_ingest
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store.queries import AreaQuery, PlateQuery, area_sql, plate_sql
from report import curve_table, ratios, table
from workload import Network, generate, setup_network

AREA_ROUTE = "/api/v1/search/area"
HOUR_MS = 3_600_000
AREA_RADIUS_M = 500
WINDOWS = {"1h": HOUR_MS, "24h": 24 * HOUR_MS}


def size(text: str) -> int:
    """``1e6``, ``1000000`` or ``1_000_000`` as an int."""
    value = float(text.replace("_", ""))
    if value != int(value) or value < 1_000:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of reads, at least 1000")
    return int(value)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=size, default=1_000_000, help="reads to generate and bulk-ingest (1e6)")
    parser.add_argument("--curve", type=lambda t: [size(v) for v in t.split(",")], help="sizes, e.g. 1e6,1e7,1e8")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    parser.add_argument("--skip-postgres", action="store_true", help="do not run the PostgreSQL side")
    parser.add_argument("--out", type=Path, help="directory for run-<reads>.json and the table")
    parser.add_argument("--plates", type=int, help="vehicles (distinct plates) in the pool (default reads/20)")
    parser.add_argument("--owners", type=int, default=8, help="owner agencies with cameras (home + partners)")
    parser.add_argument("--camera-count", type=int, default=500, help="cameras at real positions (<= 5000)")
    parser.add_argument("--cameras", type=Path, default=DEFAULT_CAMERAS, help="OSM ALPR cameras CSV (.gz)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="active hot-list entries (1M)")
    parser.add_argument("--patterns", type=int, default=1_000, help="of which wildcard entries")
    parser.add_argument("--hit-rate", type=float, default=0.001, help="share of reads on a listed plate")
    parser.add_argument("--searches", type=int, default=1_000, help="plate searches of each kind")
    parser.add_argument("--area-searches", type=int, default=200, help="area searches of each window")
    parser.add_argument("--http-batches", type=int, default=50, help="POSTs of 1,000 reads per HTTP run")
    parser.add_argument("--alert-seconds", type=float, default=20, help="how long to measure alert latency")
    parser.add_argument("--alert-rate", type=float, default=1_000, help="reads/s POSTed during that time")
    parser.add_argument("--gzip", action="store_true", help="write the reads files gzipped (less disk)")
    parser.add_argument("--pg-bin", type=Path, help="PostgreSQL server binaries (default Debian's 15)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="parent of temp dirs")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and files")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="directory for py-spy profiles of the server (raw stacks, 100 Hz): http-ingest-<size>.txt during HTTP "
        "ingest and search-<size>.txt during the API searches; a profile run, not a timing run",
    )
    mixed_load.add_arguments(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.owners <= 50 or not args.owners <= args.camera_count <= 5_000:
        parser.error("--owners must be 1-50 and --camera-count between --owners and 5000")
    if args.entries <= args.patterns:
        parser.error("--entries must be larger than --patterns")
    return args


# -- the searches ---------------------------------------------------------------------------------------------


def plate_plan(source: ReadSource, rng: np.random.Generator, count: int) -> list[str]:
    """Plates of mixed popularity: half drawn by how often they are read, half uniformly from the pool."""
    popular = source.sample_plates(rng, count - count // 2)
    tail = rng.integers(0, len(source.plates), count // 2)
    picks = np.concatenate([popular, tail])
    return [source.plate_text(int(i)) for i in rng.permutation(picks)]


def area_plan(network: Network, rng: np.random.Generator, count: int, window_ms: int) -> list[dict[str, Any]]:
    """Circles of 500 m around random cameras, windows ending at random times in the last 30 days."""
    now_ms = time.time_ns() // 1_000_000
    plans = []
    for _ in range(count):
        camera = network.cameras[int(rng.integers(0, len(network.cameras)))]
        until = now_ms - int(rng.integers(0, 29 * 24 * HOUR_MS))
        plans.append({"lat": camera.lat, "lon": camera.lon, "since": until - window_ms, "until": until})
    return plans


def area_params(circle: dict[str, Any]) -> dict[str, str]:
    """Query parameters of one area search (purpose and case are added by ``run_searches``)."""
    names = ("lat", "lon", "since", "until")
    return {name: str(circle[name]) for name in names} | {"radius_m": str(AREA_RADIUS_M)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def http_searches(
    base: str, tokens: Tokens, plan: dict[str, Any], record: Callable[[int, float, float, Any], None] | None = None
) -> dict[str, Any]:
    """Warm-up, then each plate and area plan through the API, sequential. Searches the home agency's policy holds
    for approval are approved by its supervisor first (``run_searches``). ``record`` gets each exact search
    (``tail.recorder``)."""
    results: dict[str, Any] = {}
    with (
        httpx2.Client(base_url=base, headers=bearer(tokens.investigator), timeout=120.0) as client,
        httpx2.Client(base_url=base, headers=bearer(tokens.supervisor or ""), timeout=120.0) as approver,
    ):
        run_searches(client, ({"plate": p} for p in plan["exact"][:WARMUP_SEARCHES]))
        kinds: dict[str, Iterator[dict[str, str]]] = {
            "exact": ({"plate": p} for p in plan["exact"]),
            "wildcard": ({"plate": p[:3] + "*"} for p in plan["wildcard"]),
            "fuzzy": ({"plate": p, "fuzzy": "true"} for p in plan["fuzzy"]),
        }
        for kind, queries in kinds.items():
            results[kind] = run_searches(client, queries, record=record if kind == "exact" else None).summary()
        for window, circles in plan["area"].items():
            results[f"area_{window}"] = run_searches(client, map(area_params, circles), AREA_ROUTE, approver).summary()
        # The owners the gate withholds from this investigator, so that PostgreSQL gets the same owner clause.
        withheld: set[str] = set()
        for route, params in (
            (SEARCH_ROUTE, {"plate": plan["exact"][0]}),
            (AREA_ROUTE, area_params(plan["area"]["24h"][0])),
        ):
            held = approve_held(client, approver, client.get(route, params=params | SEARCH_PARAMS))
            approval = {} if held is None else {"approval": held}
            body = client.get(route, params=params | SEARCH_PARAMS | approval).json()
            withheld.update(w["owner"] for w in body["withheld"])
        results["withheld_owners"] = sorted(withheld)
    return results


def store_searches(
    data: Path, plan: dict[str, Any], owners: list[int], page: int, copy_file: Path | None
) -> dict[str, Any]:
    """The same searches as the store's own SQL (``plate_sql``/``area_sql``) on chDB, in process, with the same
    owner clause as PostgreSQL: the engine against the engine, without HTTP, token, gate or audit. Then every
    stored read (bulk, HTTP and alert-latency reads alike) is exported to ``copy_file`` for PostgreSQL."""
    clause = f"owner IN ({', '.join(map(str, owners))})"
    queries: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "exact": [plate_sql(PlateQuery(plate=p, limit=page), clause) for p in plan["exact"]],
        "wildcard": [plate_sql(PlateQuery(like=p[:3] + "%", limit=page), clause) for p in plan["wildcard"]],
        "fuzzy": [plate_sql(PlateQuery(plate=p, fuzzy=True, limit=page), clause) for p in plan["fuzzy"]],
    }
    for window, circles in plan["area"].items():
        queries[f"area_{window}"] = [
            area_sql(
                AreaQuery(c["since"], c["until"], lat=c["lat"], lon=c["lon"], radius_m=AREA_RADIUS_M, limit=page + 1),
                clause,
            )
            for c in circles
        ]
    results: dict[str, Any] = {}
    platform = Platform.open(load_settings(data=data))
    try:
        for statement, params in queries["exact"][:WARMUP_SEARCHES]:
            platform.reads._rows(statement, params)
        for kind, calls in queries.items():
            latencies, counts = [], []
            for statement, params in calls:
                started = time.perf_counter()
                counts.append(len(platform.reads._rows(statement, params)))
                latencies.append(time.perf_counter() - started)
            results[kind] = {**summarise_ms(latencies), "mean_reads_returned": round(float(np.mean(counts)), 1)}
        if copy_file is not None:
            postgres.export(platform, copy_file)
    finally:
        platform.close()
    return results


def pg_searches(cluster: postgres.Cluster, plan: dict[str, Any], owners: list[int], page: int) -> dict[str, Any]:
    """The same searches as SQL, with the owners the gate permits as the owner clause."""
    from plateledger import geo
    from plateledger.plates import confusable_key

    results: dict[str, Any] = {}
    common = {"owners": owners, "limit": page}
    exact = [{"plate": p, **common} for p in plan["exact"]]
    postgres.run_queries(cluster, "exact", iter(exact[:WARMUP_SEARCHES]))
    results["exact"] = postgres.run_queries(cluster, "exact", iter(exact))
    results["wildcard"] = postgres.run_queries(
        cluster, "wildcard", iter({"like": p[:3] + "%", **common} for p in plan["wildcard"])
    )
    results["fuzzy"] = postgres.run_queries(
        cluster, "fuzzy", iter({"key": confusable_key(p), **common} for p in plan["fuzzy"])
    )
    plans: dict[str, list[str]] = {}
    for window, circles in plan["area"].items():
        params = []
        for c in circles:
            box = geo.circle_box(c["lat"], c["lon"], AREA_RADIUS_M)
            params.append(
                {
                    **common,
                    "limit": page + 1,
                    "since": datetime.fromtimestamp(c["since"] / 1000, UTC),
                    "until": datetime.fromtimestamp(c["until"] / 1000, UTC),
                    "lat": c["lat"],
                    "lon": c["lon"],
                    "radius": AREA_RADIUS_M,
                    "min_lat": box.min_lat,
                    "max_lat": box.max_lat,
                    "min_lon": box.min_lon,
                    "max_lon": box.max_lon,
                }
            )
        results[f"area_{window}"] = postgres.run_queries(cluster, "area", iter(params))
        plans[f"area_{window}"] = postgres.explain(cluster, "area", params[0])
    plans["exact"] = postgres.explain(cluster, "exact", exact[0])
    plans["wildcard"] = postgres.explain(cluster, "wildcard", {"like": plan["wildcard"][0][:3] + "%", **common})
    plans["fuzzy"] = postgres.explain(cluster, "fuzzy", {"key": confusable_key(plan["fuzzy"][0]), **common})
    results["plans"] = plans
    return results


def exact_once_idle(
    base: str, tokens: Tokens, source: ReadSource, args: argparse.Namespace, watch: tail.PartWatch, pid: int
) -> dict[str, Any]:
    """Exact searches again (fresh plates drawn the same way) once no merge has run for 5 s (waited for at most
    3 minutes): a server that has finished merging after a bulk load. A separate figure, beside the phase's."""
    waited_s = watch.idle(quiet_s=5.0, limit_s=180.0)
    plates = plate_plan(source, np.random.default_rng(SEED + 7), args.searches)
    records: list[dict[str, Any]] = []
    with httpx2.Client(base_url=base, headers=bearer(tokens.investigator), timeout=120.0) as client:
        run = run_searches(
            client, ({"plate": p} for p in plates), record=tail.recorder(watch, time.perf_counter(), records, pid)
        )
    attributed = tail.attribution(records)
    log(f"exact searches once merges were idle (waited {waited_s} s):\n{tail.slowest_table(attributed)}")
    return {"waited_s": waited_s, **run.summary(), "tail": attributed}


# -- one run ----------------------------------------------------------------------------------------------------


def benchmark(args: argparse.Namespace, reads: int, workdir: Path) -> dict[str, Any]:
    """Every phase at one size in ``workdir``; the report."""
    data = workdir / "data"
    rng = np.random.default_rng(SEED)
    plates = args.plates or max(1_000, reads // 20)
    report: dict[str, Any] = {
        "benchmark": "plateledger run",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()} | {"reads": reads},
    }
    report["config"]["plates"] = plates

    def profile(phase: str) -> Path | None:
        if args.py_spy is None:
            return None
        args.py_spy.mkdir(parents=True, exist_ok=True)
        return args.py_spy / f"{phase}-{reads}.txt"

    network, setup_s = timed(
        "set up the sharing graph and cameras",
        lambda: setup_network(data, args.cameras, args.camera_count, args.owners),
    )
    (source, files, generated), _ = timed(
        f"generate {reads:,} reads", lambda: generate(workdir, network, rng, reads, plates, compress=args.gzip)
    )
    report["dataset"] = {
        "setup_s": round(setup_s, 2),
        "agencies": network.agencies,
        "agreements": network.grants,
        "owners": dict(zip(network.owner_slugs, [n for _, n in files], strict=True)),
        "cameras": len(network.cameras),
        **generated,
    }
    exact, expected = pick_entries(source, rng, args)
    wild = patterns(rng, args.patterns)
    platform = Platform.open(load_settings(data=data))
    try:
        add_s = add_entries(platform, exact, wild, agency=network.owner_slugs[0])
        platform.matcher.sync(platform.clock.now_ms())
        report["hot_list"] = {
            "entries": len(exact) + len(wild),
            "add_s": round(add_s, 2),
            "mirror_load_s": round(platform.matcher.last_load_s, 2),
            "expected_hit_rate": round(expected, 5),
        }
        jobs = [
            (platform.registry.agency(slug), path) for slug, (path, _) in zip(network.owner_slugs, files, strict=True)
        ]
        report["bulk_ingest"], _ = timed("bulk ingest", lambda: timed_ingest(platform, jobs, reads))
    finally:
        platform.close()
    if not args.keep:
        for path, _ in files:
            path.unlink()
    report["storage"] = {"after_ingest": store_stats(data, reads)}

    plan = {
        "exact": plate_plan(source, rng, args.searches),
        "wildcard": plate_plan(source, rng, args.searches),
        "fuzzy": plate_plan(source, rng, args.searches),
        "area": {w: area_plan(network, rng, args.area_searches, ms) for w, ms in WINDOWS.items()},
    }
    # Server-Timing on: each exact search's stages, for the attribution of the slow ones (``tail.py``).
    server = Server.start(data, workdir, env={"PLATELEDGER_SERVER_TIMING": "true"})
    watch = tail.PartWatch(load_settings(data=data).reads_dir)
    try:
        report["server"] = {"startup_s": server.started_s}
        now_ms = time.time_ns() // 1_000_000
        home = network.owned(0)
        # The server loads the hot-list mirror (1M entries) with its first batch: timed apart, not as ingest.
        first = http_ingest(server.base_url, network.tokens.device, fresh_batches(source, rng, 1, now_ms, home), 1)
        report["server"]["first_batch_s"] = first["wall_s"]
        report["http_ingest"] = {}
        with py_spy(server.process.pid, profile("http-ingest"), rate=100):
            for clients in (1, 4):
                bodies = fresh_batches(source, rng, args.http_batches, now_ms, home)
                report["http_ingest"][f"clients_{clients}"], _ = timed(
                    f"HTTP ingest, {clients} client(s)",
                    lambda: http_ingest(server.base_url, network.tokens.device, bodies, clients),  # noqa: B023
                )
        ingest_ended, records = time.perf_counter(), []
        with watch, py_spy(server.process.pid, profile("search"), rate=100):
            report["search"], _ = timed(
                "searches through the API",
                lambda: http_searches(
                    server.base_url,
                    network.tokens,
                    plan,
                    tail.recorder(watch, ingest_ended, records, server.process.pid),
                ),
            )
            report["exact_tail"] = tail.attribution(records)
            log(tail.slowest_table(report["exact_tail"]))
            report["exact_merges_idle"] = exact_once_idle(
                server.base_url, network.tokens, source, args, watch, server.process.pid
            )
        settings = argparse.Namespace(
            seconds=args.alert_seconds, rate=args.alert_rate, interval_s=0.1, match=0.01, drain_s=3
        )
        camera = network.cameras[int(home[0])].external_id
        report["alert_latency"], _ = timed(
            "alert latency",
            lambda: alert_latency.measure(
                server.base_url,
                network.tokens.device,
                network.tokens.investigator,
                exact[: min(len(exact), 10_000)],
                camera,
                settings,
                random.Random(SEED),
            ),
        )
        if args.mixed_seconds > 0:
            report["mixed_load"], _ = timed(
                "mixed load",
                lambda: mixed_load.measure(
                    server.base_url,
                    network.tokens,
                    plan,
                    source,
                    home,
                    exact[:10_000],
                    args,
                    SEED + 5,
                    server.process.pid,
                ),
            )
        report["server"].update(server.memory())
    finally:
        server.stop()
        report.setdefault("server", {})["unhandled_errors_logged"] = server.errors_logged()
    if "mixed_load" in report:
        mixed_load.check_lost(report["mixed_load"], data)
    report["storage"]["at_end"] = store_stats(data, reads)
    withheld = set(report["search"].pop("withheld_owners"))
    owners = [i for i, name in zip(network.owner_ids, network.owner_names, strict=True) if name not in withheld]
    report["search"]["gate"] = {
        "owners_withheld": len(withheld),
        "owners_with_reads_withheld": sorted(withheld & set(network.owner_names)),
    }
    page = load_settings(data=data).search_page
    copy_file = None if args.skip_postgres else workdir / "reads.tsv"
    report["store_sql"], _ = timed("the store's SQL alone", lambda: store_searches(data, plan, owners, page, copy_file))

    if copy_file is not None:
        report["postgres"] = run_postgres(args, copy_file, plan, owners, page)
        report["ratios"] = ratios(report)
    return report


def run_postgres(
    args: argparse.Namespace, copy_file: Path, plan: dict[str, Any], owners: list[int], page: int
) -> dict[str, Any]:
    bindir = args.pg_bin or postgres.find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found: pass --pg-bin DIR or --skip-postgres")
    # In the system temp dir, not --workdir: as root the server runs as the postgres user, who must reach it.
    cluster = postgres.Cluster.start(bindir, Path(tempfile.gettempdir()))
    try:
        result: dict[str, Any] = {"version": cluster.version, "owners_in_clause": owners}
        result["load"], _ = timed("PostgreSQL: COPY and indexes", lambda: postgres.load(cluster, copy_file))
        if not args.keep:
            copy_file.unlink()
        result["search"], _ = timed("PostgreSQL: searches", lambda: pg_searches(cluster, plan, owners, page))
    finally:
        cluster.stop()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = args.curve or [args.reads]
    args.workdir.mkdir(parents=True, exist_ok=True)
    reports = []
    for reads in sizes:
        workdir = Path(tempfile.mkdtemp(prefix="plateledger-run-", dir=args.workdir))
        started = time.perf_counter()
        try:
            report = benchmark(args, reads, workdir)
        finally:
            if args.keep:
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        report["total_s"] = round(time.perf_counter() - started, 1)
        reports.append(report)
        emit(args, report, f"run-{reads}", table(report))
    if args.curve:
        emit(args, {"benchmark": "plateledger cost curve", "runs": reports}, "curve", curve_table(reports))
    return 0


def emit(args: argparse.Namespace, report: dict[str, Any], name: str, text: str) -> None:
    """JSON and table to stdout/stderr (see the module docstring) and, with --out, to files."""
    body = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
    if args.json:
        sys.stdout.write(body)
        sys.stderr.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.json").write_text(body)
        (args.out / f"{name}.txt").write_text(text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
