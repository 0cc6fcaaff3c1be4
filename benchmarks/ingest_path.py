"""HTTP ingest on a kept store, one code version against another in the same run.

Copies ``--data`` (a data directory kept by ``core.py --keep`` or ``run.py --keep``; never used in place) once per
round and variant, issues a device token for ``--device`` through the library, starts ``plateledger serve`` on the
copy with that variant's ``PYTHONPATH`` and POSTs ``--batches`` fresh batches of 1,000 reads (``core.fresh_batches``)
from each client count of ``--clients``, through ``core.http_ingest``. Variants alternate round by round, so a
busy machine slows both alike. ``--py-spy FILE`` samples the last variant's server (raw collapsed stacks).

    .venv/bin/python benchmarks/ingest_path.py --data RUN/data --variant before=/tmp/old/src --variant after=src \
        --clients 1,4 --batches 100 --rounds 2

Prints JSON: per variant and client count, every round's reads/s and request p50/p99.
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

import numpy as np
import orjson

from core import AGENCY, DEVICE, SEED, ReadSource, Server, fresh_batches, http_ingest, py_spy
from plateledger.audit.log import Actor
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

ACTOR = Actor(username="cli:benchmark", agency_id=None)


def prepare(data: Path, device: str) -> tuple[str, ReadSource]:
    """A device token and a read source over the agency's cameras, through the library."""
    platform = Platform.open(load_settings(data=data))
    try:
        secret = platform.tokens.issue(ACTOR, device, label="ingest-path benchmark").secret
        cameras = platform.registry.cameras_unguarded(platform.registry.agency(AGENCY).id)
        return secret, ReadSource.build(np.random.default_rng(SEED), 10_000, cameras)
    finally:
        platform.close()


def run_variant(
    data: Path, pythonpath: str, clients: list[int], batches: int, seed: int, spy: Path | None
) -> dict[int, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="plateledger-ingest-path-") as tmp:
        work = Path(tmp)
        copy = work / "data"
        shutil.copytree(data, copy, symlinks=True)  # ClickHouse metadata links stay links
        token, source = prepare(copy, DEVICE)
        rng = np.random.default_rng(seed)
        now_ms = time.time_ns() // 1_000_000
        bodies = {n: fresh_batches(source, rng, batches, now_ms) for n in clients}
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = pythonpath
        try:
            server = Server.start(copy, work)
        finally:
            if before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = before
        try:
            with py_spy(server.process.pid, spy):
                return {n: http_ingest(server.base_url, token, bodies[n], n) for n in clients}
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a kept data directory (copied, never written)")
    parser.add_argument("--device", default=DEVICE, help="the device user to ingest as")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=PYTHONPATH of the server (repeatable; default: this process's PYTHONPATH as 'current')",
    )
    parser.add_argument("--clients", default="1,4", help="client counts, comma-separated")
    parser.add_argument("--batches", type=int, default=100, help="POSTs of 1,000 reads per client count")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--py-spy", type=Path, default=None, help="py-spy raw stacks of the last variant's server")
    args = parser.parse_args(argv)
    variants = dict(v.split("=", 1) for v in args.variant) or {"current": os.environ.get("PYTHONPATH", "")}
    clients = [int(n) for n in args.clients.split(",")]
    report: dict[str, Any] = {"batches": args.batches, "clients": clients, "variants": variants, "results": {}}
    for round_ in range(args.rounds):
        for index, (name, path) in enumerate(variants.items()):
            last = round_ == args.rounds - 1 and index == len(variants) - 1
            runs = run_variant(args.data, path, clients, args.batches, SEED + round_, args.py_spy if last else None)
            for n, run in runs.items():
                entry = report["results"].setdefault(name, {}).setdefault(f"{n}_clients", [])
                entry.append(
                    {
                        "reads_per_s": run["reads_per_s"],
                        "p50_ms": run["request"].get("p50_ms"),
                        "p99_ms": run["request"].get("p99_ms"),
                        "errors": run["errors"],
                        "error_samples": run["error_samples"],
                    }
                )
                print(f"round {round_} {name} {n} clients: {run['reads_per_s']:,} reads/s", file=sys.stderr)
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
