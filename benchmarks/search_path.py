"""Plate search through the HTTP API on a kept store: where the time goes outside the engine, request by request.

Copies ``--data`` (a data directory kept by ``run.py``, e.g. ``--keep``; never used in place: chDB locks a store
per process) into a temporary directory, issues a token for ``--user`` through the library, draws ``--searches``
plates with the read skew (the plates of random reads), and then, ``--rounds`` times, for each ``--variant``
in turn (alternating, so that every variant sees the same machine load): starts ``plateledger serve`` on the copy
with ``server_timing`` on, runs the exact searches sequentially (the first ``--cold`` of them, from the moment
the server answers ``/healthz``, reported apart as *cold*), and stops it; the server's CPU time over the warm
searches, per search, comes with each round (not with ``--interleave``). Each answer's ``Server-Timing`` header
gives the server's stages of that request (``plateledger.core.timing``: auth, gate, budget, store, audit,
audit_commit, answer, gc, total); ``http`` is the client's time less the server's total.

With ``--interleave`` every variant is served at once, each on its own copy, and each plate is searched on all of
them in turn (the machine's load then falls on every variant alike; a busy shared machine needs it).

Prints JSON: per variant and round, the client's p50/p95/p99/max, the same per stage (``other``: the server's
total less its named stages), and the stages of each cold request and of the slowest 1% of the others (what a tail
request spends its time on). With ``--py-spy FILE`` the server of the first variant is sampled with py-spy in its
first round (raw collapsed stacks, 200 Hz).

    .venv/bin/python benchmarks/search_path.py --data /path/to/kept/data --rounds 2
    .venv/bin/python benchmarks/search_path.py --data DATA --variant before=/tmp/old/src --variant after=src
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import orjson

from core import SEARCH_PARAMS, SEARCH_ROUTE, Server, py_spy, summarise_ms
from plateledger.audit.log import Actor
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

ACTOR = Actor(username="cli:benchmark", agency_id=None)


def prepare(data: Path, user: str, searches: int) -> tuple[str, list[str]]:
    """A token for ``user`` and ``searches`` plates drawn with the read skew, through the library."""
    platform = Platform.open(load_settings(data=data))
    try:
        secret = platform.tokens.issue(ACTOR, user, label="search-path benchmark").secret
        rows = platform.reads._rows("SELECT plate FROM reads ORDER BY rand() LIMIT {n:UInt32}", {"n": searches})
        return secret, [str(row[0]) for row in rows]
    finally:
        platform.close()


def server_stages(header: str) -> dict[str, float]:
    """Seconds by stage from a ``Server-Timing`` header (``name;dur=ms, ...``)."""
    stages: dict[str, float] = {}
    for item in header.split(","):
        name, _, rest = item.strip().partition(";dur=")
        if name and rest:
            stages[name] = float(rest) / 1000
    return stages


def by_stage(requests: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50/p95/p99/max/mean of each stage over ``requests`` (a stage a request did not time counts as 0)."""
    names = sorted({name for request in requests for name in request})
    return {name: summarise_ms([r.get(name, 0.0) for r in requests], 3) for name in names}


def timed_search(client: httpx2.Client, plate: str) -> dict[str, float] | None:
    """One search: the client's time and the server's stages (None when it was not answered 200)."""
    start = time.perf_counter()
    response = client.get(SEARCH_ROUTE, params={"plate": plate, **SEARCH_PARAMS})
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        return None
    stages = server_stages(response.headers.get("server-timing", ""))
    inner = ("auth", "gate", "budget", "store", "audit", "answer")
    stages["other"] = max(0.0, stages.get("total", 0.0) - sum(stages.get(k, 0.0) for k in inner))
    stages["client"] = elapsed
    stages["http"] = max(0.0, elapsed - stages.get("total", elapsed))
    stages["reads"] = float(response.json()["count"])
    return stages


def client_for(base_url: str, token: str) -> httpx2.Client:
    return httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120.0)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the process ``pid`` has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(base_url: str, token: str, plates: list[str], cold: int, pid: int) -> dict[str, Any]:
    """The searches, sequentially; each request's client time and server stages, and the server's CPU time per
    warm search (its work, which a busy machine stretches less than wall time; background jobs included)."""
    with client_for(base_url, token) as client:
        answers = [timed_search(client, plate) for plate in plates[:cold]]
        start = cpu_seconds(pid)
        answers += [timed_search(client, plate) for plate in plates[cold:]]
        used = cpu_seconds(pid) - start
    report = summary([a for a in answers if a is not None], answers.count(None), cold)
    report["server_cpu_ms_per_warm_search"] = round(used * 1000 / max(1, len(plates) - cold), 2)
    return report


def summary(requests: list[dict[str, float]], errors: int, cold: int) -> dict[str, Any]:
    """Cold and warm percentiles, by stage, and the stages of the cold and the slowest requests."""
    warm = requests[cold:]
    ranked = sorted(warm, key=lambda r: r["client"], reverse=True)
    slowest = ranked[: max(1, len(ranked) // 100)]
    keep = ("client", "total", "auth", "gate", "budget", "store", "audit", "audit_wait", "audit_commit")
    keep += ("answer", "gc", "other", "http")

    def stages_ms(request: dict[str, float]) -> dict[str, float]:
        return {
            k: round(request[k] * 1000, 2) if k != "reads" else int(request[k])
            for k in (*keep, "reads")
            if k in request
        }

    return {
        "errors": errors,
        "cold": {"searches": len(requests[:cold]), **summarise_ms([r["client"] for r in requests[:cold]])},
        "cold_requests": [stages_ms(r) for r in requests[:cold]],
        "warm": {"searches": len(warm), **summarise_ms([r["client"] for r in warm])},
        "warm_stages_ms": by_stage([{k: v for k, v in r.items() if k != "reads"} for r in warm]),
        "slowest": [stages_ms(r) for r in slowest],
    }


def server_env(src: str) -> dict[str, str]:
    env = {"PLATELEDGER_SERVER_TIMING": "true"}
    if src:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), os.environ.get("PYTHONPATH", "")])
    return env


def interleaved(
    work: Path, data: Path, variants: list[tuple[str, str]], token: str, plates: list[str], cold: int, round_no: int
) -> dict[str, dict[str, Any]]:
    """Every variant served at once, each on its own copy of ``data`` (started one after the other), and each
        plate searched on all of them, the first variant rotating: the same moment's load for each. Each server's
    background jobs load the others' machine too; the variant started first changes each round."""
    servers: dict[str, Server] = {}
    try:
        shift = round_no % len(variants)  # who starts first (and settles longest) changes each round
        for name, src in variants[shift:] + variants[:shift]:
            copy = work / f"data-{name}-{round_no}"
            shutil.copytree(data, copy, symlinks=True)
            servers[name] = Server.start(copy, work / f"{name}-{round_no}", env=server_env(src))
        clients = {name: client_for(server.base_url, token) for name, server in servers.items()}
        answers: dict[str, list[dict[str, float] | None]] = {name: [] for name in servers}
        names = list(servers)
        for index, plate in enumerate(plates):
            for name in names[index % len(names) :] + names[: index % len(names)]:
                answers[name].append(timed_search(clients[name], plate))
        for client in clients.values():
            client.close()
    finally:
        for name, server in servers.items():
            server.stop()
            shutil.rmtree(work / f"data-{name}-{round_no}", ignore_errors=True)
    return {
        name: summary([a for a in found if a is not None], found.count(None), cold) for name, found in answers.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a kept data directory (copied, never written)")
    parser.add_argument("--user", default="bench-investigator", help="the investigator to search as")
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--cold", type=int, default=40, help="the first searches of each server, reported apart")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="a source tree to serve from (PYTHONPATH), repeatable; default: this one",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the temporary copy")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="serve every variant at once (a copy each) and send each plate to all of them in turn",
    )
    parser.add_argument("--py-spy", type=Path, default=None, help="write py-spy raw stacks of the server here")
    args = parser.parse_args(argv)
    variants = [tuple(v.split("=", 1)) for v in args.variant] or [("this", "")]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="plateledger-search-path-", dir=args.workdir) as tmp:
        work = Path(tmp)
        data = work / "data"
        shutil.copytree(args.data, data, symlinks=True)  # ClickHouse metadata links stay links
        token, plates = prepare(data, args.user, args.searches)
        for round_no in range(args.rounds):
            if args.interleave:
                for name, summary_ in interleaved(work, data, variants, token, plates, args.cold, round_no).items():
                    results[name].append(summary_)
                continue
            for index, (name, src) in enumerate(variants):
                server = Server.start(data, work / name, env=server_env(src))
                spy = args.py_spy if index == 0 and round_no == 0 else None
                try:
                    with py_spy(server.process.pid, spy):
                        results[name].append(run_round(server.base_url, token, plates, args.cold, server.process.pid))
                finally:
                    server.stop()
                    if args.workdir is not None:  # the server's log, for what its jobs did meanwhile
                        shutil.copy(server.log_path, args.workdir / f"server-{name}-{round_no}.log")
    load = os.getloadavg()
    report = {"searches": len(plates), "load_average": [round(x, 2) for x in load], "variants": results}
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
