"""What the verifiable audit log costs: audit appends and plate searches through the API with the Merkle tree and
witnessed checkpoints, beside the same without them, in the same run (issue 16).

"Without" is the hash chain alone, as before the tree: this script's ``serve-chain-only`` command starts
``plateledger serve`` with :meth:`LogTree.append` and the checkpoint job replaced by no-ops (in that process only;
nothing in the product can turn the tree off). "With" is the product as shipped: a leaf, its tiles and the tree row
in every audit transaction, and the serve job's checkpoints every ``--checkpoint-every`` entries, each pushed to
``--witnesses`` witnesses (real ``plateledger-verify witness serve`` processes) whose quorum it needs.

1. **Audit append**, in process: ``--appends`` entries per round, rounds alternating between a platform with the
   tree (and a checkpoint job with the witnesses running beside it) and one without, the same data directory kind.
2. **Plate search through the API**: one store of ``--reads`` reads copied twice; a server on each copy in turn
   (with, then without, then with again, ...) runs ``--searches`` exact plate searches per round, each of which
   appends its audit entry.
3. **One checkpoint with the witnesses** is measured by ``checkpoint_witnesses.py``; its figures are quoted in
   docs/benchmarks.md beside these.

Prints JSON (milliseconds). The work directory is a temporary directory under ``--workdir`` (default: the
system's); say which file system it is on when quoting the numbers (SQLite's commits fsync on a disk, not on a
tmpfs).

    .venv/bin/python benchmarks/audit_tree.py --reads 200000 --appends 2000 --searches 300 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import orjson

from checkpoint_witnesses import ORIGIN, start_witness
from core import (
    AGENCY,
    DEFAULT_CAMERAS,
    OTHER_CAMERAS,
    SEED,
    ReadSource,
    Server,
    free_port,
    load_cameras,
    log,
    machine_info,
    run_cli_ingest,
    run_searches,
    setup_data_dir,
    summarise_ms,
    write_reads_file,
)
from plateledger.audit.checkpoint_job import CheckpointJob
from plateledger.audit.events import AuditListed
from plateledger.audit.log import SYSTEM
from plateledger.audit.logkey import new_key
from plateledger.core.settings import load_settings
from plateledger.platform import Platform


def chain_only() -> None:
    """In this process: audit appends write the chain alone, and ``plateledger serve`` starts no checkpoint job."""
    from plateledger.audit.tree import LogTree

    def append_nothing(self: LogTree, session: Any, head_seq: int, rows: Any) -> None:
        return None

    def no_job(self: CheckpointJob) -> None:
        return None

    LogTree.append = append_nothing  # type: ignore[assignment,method-assign]
    CheckpointJob.start = no_job  # type: ignore[method-assign]
    CheckpointJob.stop = no_job  # type: ignore[method-assign]


@contextmanager
def witnesses(tmp: Path, count: int, log_vkey: str) -> Iterator[Path]:
    """``count`` witness processes and a policy file whose quorum needs all of them."""
    procs: list[subprocess.Popen[bytes]] = []
    tmp.mkdir(parents=True)
    try:
        lines = []
        for i in range(count):
            proc, line = start_witness(tmp, f"w{i}", free_port(), log_vkey)
            procs.append(proc)
            lines.append(line)
        policy = tmp / "witnesses.policy"
        names = " ".join(f"w{i}" for i in range(count))
        policy.write_text("\n".join([*lines, f"group every all {names}", "quorum every"]) + "\n")
        yield policy
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def appends(settings: Any, count: int, tree: bool, every: int) -> tuple[list[float], int]:
    """``count`` audit appends on a platform opened with ``settings``; with ``tree``, the checkpoint job runs.
    Returns the times and the size of the last checkpoint published (0 without the tree)."""
    platform = Platform.open(settings)
    job = CheckpointJob(platform.checkpoints, every_entries=every, interval_s=60, poll_s=0.2) if tree else None
    try:
        if not tree:
            platform.audit.tree.append = lambda *args: None  # type: ignore[method-assign,assignment,return-value]
        if job is not None:
            job.start()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            platform.audit.append(SYSTEM, AuditListed(filters={}, entries=0))
            times.append(time.perf_counter() - started)
        if job is None:
            return times, 0
        job.stop()
        last = platform.checkpoints.checkpoint()  # the entries since the job's last run
        if job.failures or not last.published:
            raise RuntimeError(f"{job.failures} checkpoint runs failed; the last: {last.reason}")
        return times, platform.checkpoints.status().tree_size
    finally:
        platform.close()


def plates_of(data: Path, count: int) -> list[str]:
    """Plates of random reads (the read skew), through the library."""
    platform = Platform.open(load_settings(data=data))
    try:
        rows = platform.reads._rows("SELECT plate FROM reads ORDER BY rand() LIMIT {n:UInt32}", {"n": count})
        return [str(row[0]) for row in rows]
    finally:
        platform.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--plates", type=int, default=20_000)
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--appends", type=int, default=2_000, help="audit appends per round")
    parser.add_argument("--searches", type=int, default=300, help="plate searches per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, with and without alternating")
    parser.add_argument("--witnesses", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=64, help="entries between checkpoints")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    config = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    report: dict[str, Any] = {"benchmark": "audit tree", "machine": machine_info(), "config": config}
    with tempfile.TemporaryDirectory(prefix="plateledger-audit-tree-", dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        key_file = tmp / "log.key"
        signer = new_key(ORIGIN, key_file)
        os.environ.update(  # the servers and the in-process platforms read the same settings
            {
                "PLATELEDGER_LOG_KEY_FILE": str(key_file),
                "PLATELEDGER_LOG_ORIGIN": ORIGIN,
                "PLATELEDGER_CHECKPOINT_EVERY_ENTRIES": str(args.checkpoint_every),
            }
        )
        # Each phase's log is a new tree under the same origin and key: it gets witnesses of its own (a witness
        # that cosigned one tree refuses another of the same origin as a fork).
        with witnesses(tmp / "append-witnesses", args.witnesses, str(signer.verifier)) as policy:
            os.environ["PLATELEDGER_WITNESS_POLICY_FILE"] = str(policy)
            log("audit appends, with and without the tree")
            timings: dict[str, list[float]] = {"with": [], "without": []}
            published: list[int] = []
            for _ in range(args.rounds):
                for label in ("with", "without"):
                    settings = load_settings(data=tmp / f"append-{label}")
                    times, size = appends(settings, args.appends, label == "with", args.checkpoint_every)
                    timings[label] += times
                    published += [size] if label == "with" else []
            report["audit_append_ms"] = {label: summarise_ms(times, 3) for label, times in timings.items()}
            report["audit_append_ms"]["with"]["published_tree_sizes"] = published

        log(f"a store of {args.reads:,} reads")
        rng = np.random.default_rng(SEED)
        data = tmp / "data-with"
        cameras = load_cameras(DEFAULT_CAMERAS, args.cameras, "bench-cam")
        others = load_cameras(DEFAULT_CAMERAS, OTHER_CAMERAS, "county-cam", skip=args.cameras)
        tokens = setup_data_dir(data, cameras, others)
        reads_file = tmp / "reads.jsonl"
        source = ReadSource.build(rng, args.plates, cameras)
        write_reads_file(reads_file, source, rng, args.reads, time.time_ns() // 1_000_000)
        run_cli_ingest(reads_file, AGENCY, data)
        plates = plates_of(data, args.searches)
        shutil.copytree(data, tmp / "data-without", symlinks=True)

        with witnesses(tmp / "search-witnesses", args.witnesses, str(signer.verifier)) as policy:
            os.environ["PLATELEDGER_WITNESS_POLICY_FILE"] = str(policy)
            log("plate searches through the API, with and without the tree")
            searches: dict[str, list[dict[str, Any]]] = {"with": [], "without": []}
            latencies: dict[str, list[float]] = {"with": [], "without": []}
            headers = {"Authorization": f"Bearer {tokens.investigator}"}
            for _ in range(args.rounds):
                for label in ("with", "without"):
                    command = None if label == "with" else [sys.executable, __file__, "serve-chain-only"]
                    server = Server.start(tmp / f"data-{label}", tmp / label, command=command)
                    try:
                        with httpx2.Client(base_url=server.base_url, headers=headers, timeout=120.0) as client:
                            run_searches(client, ({"plate": p} for p in plates[:40]))
                            run = run_searches(client, ({"plate": p} for p in plates))
                            time.sleep(1.5)  # the checkpoint job looks every second
                            status = client.get("/healthz").json().get("log", {})
                    finally:
                        server.stop()
                    if run.errors:
                        raise RuntimeError(f"{label}: {run.errors} searches failed: {run.error_samples}")
                    if label == "with" and not status.get("published_size"):
                        raise RuntimeError(f"no checkpoint published while searching: {status}")
                    latencies[label] += run.latencies
                    searches[label].append({**run.summary(), "published_size": status.get("published_size")})
            report["plate_search_ms"] = {
                label: {**summarise_ms(times), "rounds": searches[label]} for label, times in latencies.items()
            }
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve-chain-only"]:
        chain_only()
        from plateledger.cli.main import app

        app(sys.argv[2:])
    else:
        raise SystemExit(main())
