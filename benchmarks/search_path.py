"""Plate search through the HTTP API on a kept store: where the time goes outside the engine.

Copies ``--data`` (a data directory kept by ``run.py``, e.g. ``--keep``; never used in place: chDB locks a store
per process) into a temporary directory, issues a token for ``--user`` through the library, draws ``--searches``
plates with the read skew (the plates of random reads), starts ``plateledger serve`` on the copy and runs the
exact searches sequentially ``--rounds`` times (after 40 warm-up searches). With ``--py-spy FILE`` the server is
sampled with py-spy (raw collapsed stacks, 200 Hz) during the rounds. Prints JSON: per round p50/p95/p99/mean,
the server-side mean from ``/metrics`` and the mean reads returned.

    .venv/bin/python benchmarks/search_path.py --data /path/to/kept/data --rounds 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2
import orjson

from core import Server, py_spy, run_searches
from plateledger.audit.log import Actor
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

ACTOR = Actor(username="cli:benchmark", agency_id=None)
WARMUP = 40


def prepare(data: Path, user: str, searches: int) -> tuple[str, list[str]]:
    """A token for ``user`` and ``searches`` plates drawn with the read skew, through the library."""
    platform = Platform.open(load_settings(data=data))
    try:
        secret = platform.tokens.issue(ACTOR, user, label="search-path benchmark").secret
        rows = platform.reads._rows("SELECT plate FROM reads ORDER BY rand() LIMIT {n:UInt32}", {"n": searches})
        return secret, [str(row[0]) for row in rows]
    finally:
        platform.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a kept data directory (copied, never written)")
    parser.add_argument("--user", default="bench-investigator", help="the investigator to search as")
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--py-spy", type=Path, default=None, help="write py-spy raw stacks of the server here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plateledger-search-path-") as tmp:
        work = Path(tmp)
        data = work / "data"
        shutil.copytree(args.data, data, symlinks=True)  # ClickHouse metadata links stay links
        token, plates = prepare(data, args.user, args.searches)
        server = Server.start(data, work)
        rounds: list[dict[str, Any]] = []
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx2.Client(base_url=server.base_url, headers=headers, timeout=120.0) as client:
                run_searches(client, ({"plate": p} for p in plates[:WARMUP]))
                with py_spy(server.process.pid, args.py_spy):
                    for _ in range(args.rounds):
                        rounds.append(run_searches(client, ({"plate": p} for p in plates)).summary())
        finally:
            server.stop()
    sys.stdout.write(orjson.dumps({"searches": len(plates), "rounds": rounds}, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
