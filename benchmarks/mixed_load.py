"""Mixed load: investigators searching while cameras stream reads in, against one running server.

Part of ``run.py`` (``--mixed-seconds S``, after the other server phases, on the same server and data):

    .venv/bin/python benchmarks/run.py --reads 1e6 --skip-postgres --mixed-seconds 120 \
        --mixed-searchers 32 --mixed-ingest-clients 4 --mixed-rate 5000

For ``S`` seconds, ``--mixed-searchers`` threads each run searches back to back through the API (persistent
connections; investigator token, purpose and case): a mix of exact plate (60%), wildcard (20%) and 1-hour area
(20%) searches drawn from the run's own plans (area searches a policy holds for approval are approved by the
supervisor first, untimed, as in the sequential runs). Meanwhile ``--mixed-ingest-clients`` threads POST fresh
reads (``core.fresh_batches``) so that together they send ``--mixed-rate`` reads/s, each client one POST every
``INTERVAL_S``; 1% of them on plates of the hot list, whose alerts an SSE client times from the POST's start to
the event (``alert_latency.StreamClient``).

Reported: search p50/p99 by kind and searches/s, ingest acknowledgement p50/p99 and the rate reached, alert
latency p99 and alerts missing, errors of each; after the server has stopped, ``stored_since`` counts the reads
stored since the phase began, which must equal the reads acknowledged (``lost`` = acknowledged - stored).

``throughput`` reads the load the way Little's law does: closed-loop searchers keep ``--mixed-searchers``
requests in the server, so the mean search latency is about searchers / searches per second, whatever the
latency of one search alone; what bounds the throughput is then the question. So it also reports the reads
store's engine (``plateledger_reads_engine`` from ``/metrics``, read just before and after the phase: the share of
the phase the engine was running a statement, statements per second, the mean wait for a turn) and the CPU: the
server process's cores in use (``/proc/PID/stat``), the whole machine's, and the benchmark's own clients'.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import orjson
from numpy.typing import NDArray

from alert_latency import StreamClient, percentile
from core import (
    INGEST_ROUTE,
    METRICS_TOKEN,
    SEARCH_PARAMS,
    SEARCH_ROUTE,
    ReadSource,
    approve_held,
    fresh_batches,
    summarise_ms,
)
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

#: Seconds between two POSTs of one ingest client (a camera gateway forwarding what it has, five times a second).
INTERVAL_S = 0.2
#: Seconds to wait after the phase for alerts not yet seen on the stream before counting them missing.
ALERT_GRACE_S = 30.0
#: Share of the streamed reads on a listed plate (each should raise an alert).
HIT_SHARE = 0.01
#: The search mix: kind -> weight.
MIX = {"exact": 0.6, "wildcard": 0.2, "area_1h": 0.2}
AREA_ROUTE = "/api/v1/search/area"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``run.py`` takes for this phase."""
    parser.add_argument("--mixed-seconds", type=float, default=0, help="mixed-load phase length (0: skipped)")
    parser.add_argument("--mixed-searchers", type=int, default=32, help="concurrent API searchers")
    parser.add_argument("--mixed-ingest-clients", type=int, default=4, help="concurrent HTTP ingest clients")
    parser.add_argument("--mixed-rate", type=float, default=5_000, help="reads/s the ingest clients send together")


@dataclass
class Tally:
    """What the threads of one kind saw (latencies in seconds)."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: set[str] = field(default_factory=set)

    def error(self, text: str) -> None:
        self.errors += 1
        self.error_samples.add(text[:200])

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "count": len(self.latencies),
            "per_s": round(len(self.latencies) / seconds, 1),
            **summarise_ms(self.latencies),
            "errors": self.errors,
            "error_samples": sorted(self.error_samples)[:5],
        }


def engine_use(base: str) -> dict[str, float]:
    """The server's ``plateledger_reads_engine`` gauges: statements, busy_seconds, waited_seconds since start."""
    text = httpx2.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=120).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("plateledger_reads_engine{"):
            found[line.split('of="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return found


def cpu_seconds(pid: int | None) -> dict[str, float]:
    """CPU seconds so far: the server process's (user + system), the machine's non-idle, this process's."""
    ticks = os.sysconf("SC_CLK_TCK")
    machine = [int(v) for v in open("/proc/stat").readline().split()[1:]]  # noqa: SIM115 - one line
    mine = resource.getrusage(resource.RUSAGE_SELF)
    found = {
        "machine": (sum(machine) - machine[3] - machine[4]) / ticks,  # all but idle and iowait
        "clients": mine.ru_utime + mine.ru_stime,
    }
    if pid is not None:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - one line
        found["server"] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def throughput(
    report: dict[str, Any],
    wall: float,
    engine: tuple[dict[str, float], dict[str, float]],
    cpu: tuple[dict[str, float], dict[str, float]],
) -> dict[str, Any]:
    """Searches/s, reads/s, Little's law's mean latency, the engine's busy share and the CPU in use (cores)."""
    searches = sum(tally["count"] for tally in report["search"].values())
    per_s = searches / wall
    result: dict[str, Any] = {
        "searches_per_s": round(per_s, 1),
        "reads_per_s": report["ingest_reads_per_s"],
        "littles_law_mean_search_ms": round(report["searchers"] / per_s * 1000) if per_s else None,
    }
    before, after = engine
    if before and after:
        statements = after["statements"] - before["statements"]
        result["engine"] = {
            "busy_share": round((after["busy_seconds"] - before["busy_seconds"]) / wall, 3),
            "statements_per_s": round(statements / wall, 1),
            "mean_statement_ms": round((after["busy_seconds"] - before["busy_seconds"]) / statements * 1000, 2)
            if statements
            else None,
            "mean_wait_ms": round((after["waited_seconds"] - before["waited_seconds"]) / statements * 1000, 1)
            if statements
            else None,
        }
    result["cpu_cores"] = {name: round((cpu[1][name] - cpu[0][name]) / wall, 2) for name in cpu[0]}
    result["cpu_cores"]["available"] = os.cpu_count()
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return result


def ingest_bodies(
    source: ReadSource,
    rng: np.random.Generator,
    reads: int,
    batch: int,
    now_ms: int,
    cameras: NDArray[np.int64] | None,
    listed: list[str],
    client: int,
) -> tuple[list[bytes], list[set[str]]]:
    """POST bodies of ``batch`` fresh reads each (``reads`` in all), ``HIT_SHARE`` of them on ``listed`` plates
    with read ids (unique across ``client``s), and per body the read ids that should raise an alert."""
    items: list[dict[str, Any]] = []
    for body in fresh_batches(source, rng, -(-reads // 1_000), now_ms, cameras):
        items.extend(orjson.loads(body))
    hits: list[set[str]] = []
    bodies: list[bytes] = []
    pick = random.Random(int(rng.integers(1 << 31)))
    for start in range(0, reads, batch):
        chunk = items[start : start + batch]
        ids: set[str] = set()
        for n, item in enumerate(chunk):
            if listed and pick.random() < HIT_SHARE:
                item["plate"] = pick.choice(listed)
                item["read_id"] = f"mixed-{client}-{start + n}"
                ids.add(item["read_id"])
        bodies.append(orjson.dumps(chunk))
        hits.append(ids)
    return bodies, hits


def measure(
    base: str,
    tokens: Any,
    plan: dict[str, Any],
    source: ReadSource,
    cameras: NDArray[np.int64] | None,
    listed: list[str],
    args: argparse.Namespace,
    seed: int,
    pid: int | None = None,
) -> dict[str, Any]:
    """The phase against the server at ``base`` (``tokens``: core.Tokens; ``plan``: run.py's search plan; ``pid``:
    the server's process, for its CPU time)."""
    seconds, clients = float(args.mixed_seconds), int(args.mixed_ingest_clients)
    rng = np.random.default_rng(seed)
    batch = max(1, round(args.mixed_rate * INTERVAL_S / clients))
    posts = int(seconds / INTERVAL_S) + 2
    shares = [
        ingest_bodies(source, rng, batch * posts, batch, time.time_ns() // 1_000_000, cameras, listed, client)
        for client in range(clients)
    ]
    searches = {kind: Tally() for kind in MIX}
    ingest = Tally()
    acknowledged = [0]
    sent_alerts: dict[str, float] = {}
    lock = threading.Lock()
    stream = StreamClient(base, tokens.investigator)
    stream.start()
    if not stream.connected.wait(10):
        raise SystemExit("the alert stream did not connect")
    engine_before = engine_use(base)
    cpu_before = cpu_seconds(pid)
    start_ms = time.time_ns() // 1_000_000
    began = time.perf_counter()
    deadline = began + seconds

    def searcher(number: int) -> None:
        pick = random.Random(seed + number)
        kinds, weights = list(MIX), list(MIX.values())
        headers = {"Authorization": f"Bearer {tokens.investigator}"}
        with (
            httpx2.Client(base_url=base, headers=headers, timeout=120.0) as client,
            httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens.supervisor or ''}"}) as approver,
        ):
            while time.perf_counter() < deadline:
                kind = pick.choices(kinds, weights)[0]
                if kind == "area_1h":
                    circle = pick.choice(plan["area"]["1h"])
                    route = AREA_ROUTE
                    params = {name: str(circle[name]) for name in ("lat", "lon", "since", "until")}
                    params |= {"radius_m": "500", **SEARCH_PARAMS}
                else:
                    plate = pick.choice(plan[kind])
                    route, params = SEARCH_ROUTE, {"plate": plate if kind == "exact" else plate[:3] + "*"}
                    params |= SEARCH_PARAMS
                try:
                    if kind == "area_1h":
                        held = approve_held(client, approver, client.get(route, params=params))
                        if held is not None:
                            params["approval"] = held
                    started = time.perf_counter()
                    response = client.get(route, params=params)
                except httpx2.TransportError as exc:
                    with lock:
                        searches[kind].error(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        searches[kind].latencies.append(elapsed)
                    else:
                        searches[kind].error(f"HTTP {response.status_code}: {response.text}")

    def ingester(number: int) -> None:
        bodies, hits = shares[number]
        headers = {"Authorization": f"Bearer {tokens.device}", "Content-Type": "application/json"}
        next_at = began + INTERVAL_S * number / clients  # clients spread over the interval
        with httpx2.Client(base_url=base, headers=headers, timeout=120.0) as client:
            for body, ids in zip(bodies, hits, strict=True):
                time.sleep(max(0.0, next_at - time.perf_counter()))
                if time.perf_counter() >= deadline:
                    return
                next_at += INTERVAL_S
                started = time.perf_counter()
                try:
                    response = client.post(INGEST_ROUTE, content=body)
                except httpx2.TransportError as exc:
                    with lock:
                        ingest.error(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code != 200:
                        ingest.error(f"HTTP {response.status_code}: {response.text}")
                        continue
                    ingest.latencies.append(elapsed)
                    acknowledged[0] += int(response.json()["stored"])
                    for read_id in ids:
                        sent_alerts[read_id] = started

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(int(args.mixed_searchers))]
    threads += [threading.Thread(target=ingester, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu_after, engine_after = cpu_seconds(pid), engine_use(base)
    waited = time.perf_counter() + ALERT_GRACE_S  # the last alerts: a late one is slow, only one never seen is missing
    while time.perf_counter() < waited and any(r not in stream.arrived for r in list(sent_alerts)):
        time.sleep(0.1)
    stream.stopping.set()
    alerts = [(stream.arrived[r] - t) * 1000 for r, t in sent_alerts.items() if r in stream.arrived]
    report: dict[str, Any] = {
        "seconds": round(wall, 1),
        "searchers": int(args.mixed_searchers),
        "ingest_clients": clients,
        "ingest_rate_target": args.mixed_rate,
        "reads_per_post": batch,
        "search": {kind: tally.summary(wall) for kind, tally in searches.items()},
        "ingest": {**ingest.summary(wall), "reads_acknowledged": acknowledged[0]},
        "ingest_reads_per_s": round(acknowledged[0] / wall),
        "alerts": {
            "expected": len(sent_alerts),
            "received": len(alerts),
            "missing": len(sent_alerts) - len(alerts),
            "p50_ms": round(percentile(alerts, 0.5), 1) if alerts else None,
            "p99_ms": round(percentile(alerts, 0.99), 1) if alerts else None,
        },
        "started_ms": start_ms,
    }
    report["throughput"] = throughput(report, wall, (engine_before, engine_after), (cpu_before, cpu_after))
    return report


def stored_since(data: Path, since_ms: int) -> int:
    """Reads the store took in since ``since_ms`` (by ingest time; the server must have stopped). Through the
    store's private query helper, as ``core.store_stats`` does: a benchmark's check, not a product query."""
    platform = Platform.open(load_settings(data=data))
    try:
        return int(
            platform.reads._scalar(
                "SELECT count() FROM reads WHERE ingest_ts >= fromUnixTimestamp64Milli({t:Int64}, 'UTC')",
                {"t": since_ms},
            )
        )
    finally:
        platform.close()


def check_lost(report: dict[str, Any], data: Path) -> None:
    """Add the count of stored reads and the lost ones (acknowledged but not stored) to ``report``."""
    stored = stored_since(data, int(report.pop("started_ms")))
    acknowledged = int(report["ingest"]["reads_acknowledged"])
    report["after_run"] = {"reads_acknowledged": acknowledged, "reads_stored": stored, "lost": acknowledged - stored}
