"""Audit appends while another connection of the process makes short write transactions: how long an append's
first write waits, and how long after the other writer's commit it gets going.

A scratch SQLite governance store under ``--workdir`` (deleted at the end) with background checkpoints, as a
server has; a background thread commits a transaction every ``--gap-ms`` (it bumps the hot-list generation and
keeps the write lock ``--hold-ms`` more, as the oversight job or a camera's health write would); the main thread
makes ``--appends`` audit appends, ``--pause-ms`` apart. For each append whose first write statement (the entry's
``INSERT``) waited and was released by a commit of the other writer, the *lag* is the time from that commit to
the end of the statement: with SQLite's busy handler the waiter sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between
tries, whenever the holder commits; with the process's write turn (``Governance.turn``) it is woken by the
commit. Run it once per source tree (``PYTHONPATH``) and alternate them, on the same machine:

    for v in /tmp/old/src src src /tmp/old/src; do PYTHONPATH=$v .venv/bin/python benchmarks/write_turn.py; done

Prints one JSON object (ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event

from plateledger.audit.events import SearchRefused
from plateledger.audit.log import SYSTEM, AuditLog
from plateledger.core.clock import SystemClock
from plateledger.store.governance import Governance, bump_hotlist_generation

FIRST_WRITE = "INSERT INTO audit_log"


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values) or [0.0]

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)

    return {"n": len(values), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(ordered[-1], 2)}


def measure(directory: Path, appends: int, hold_s: float, gap_s: float, pause_s: float) -> dict[str, Any]:
    governance = Governance(f"sqlite:///{directory / 'governance.db'}")
    governance.checkpoint_apart()
    audit = AuditLog(governance, SystemClock())
    audit.warm_up()
    main = threading.get_ident()
    started: list[float] = []
    firsts: list[float] = []
    lags: list[float] = []
    commits: list[float] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == main and statement.startswith(FIRST_WRITE):
            started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() != main or not statement.startswith(FIRST_WRITE):
            return
        end = time.perf_counter()
        begun = started[-1]
        firsts.append((end - begun) * 1000)
        released = [t for t in commits[-50:] if begun < t < end]
        if end - begun > 0.0005 and released:  # it waited, and the other writer committed meanwhile
            lags.append((end - released[-1]) * 1000)

    event.listen(governance.engine, "before_cursor_execute", before)
    event.listen(governance.engine, "after_cursor_execute", after)
    stop = threading.Event()

    def other_writer() -> None:
        while not stop.is_set():
            with governance.session() as session:
                bump_hotlist_generation(session)
                session.flush()
                until = time.perf_counter() + hold_s
                while time.perf_counter() < until:
                    pass
            commits.append(time.perf_counter())
            stop.wait(gap_s)

    writer = threading.Thread(target=other_writer, name="other-writer")
    writer.start()
    durations: list[float] = []
    try:
        for n in range(appends):
            start = time.perf_counter()
            audit.append(SYSTEM, SearchRefused(reason=f"write turn benchmark {n}"))
            durations.append((time.perf_counter() - start) * 1000)
            time.sleep(pause_s)
    finally:
        stop.set()
        writer.join()
        governance.close()
    turn = getattr(governance, "turn", None)
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "write_turn": turn is not None,
        "other_writer_commits": len(commits),
        "append_ms": quantiles(durations),
        "first_write_ms": quantiles(firsts),
        "waited_and_released_by_a_commit": len(lags),
        "lag_after_the_commit_ms": quantiles(lags),
        "lags_over_2_ms": sum(lag > 2 for lag in lags),
        "turns": {"taken": turn.taken, "waited": turn.waited} if turn is not None else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=400)
    parser.add_argument("--hold-ms", type=float, default=1.0, help="the other writer's work in its transaction")
    parser.add_argument("--gap-ms", type=float, default=4.0, help="between the other writer's transactions")
    parser.add_argument("--pause-ms", type=float, default=2.0, help="between appends")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the scratch store")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="plateledger-write-turn-", dir=args.workdir))
    try:
        result = measure(directory, args.appends, args.hold_ms / 1000, args.gap_ms / 1000, args.pause_ms / 1000)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
