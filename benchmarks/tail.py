"""The exact search's latency tail in ``run.py``: what the server and the store were doing during each search.

``run.py`` runs its API searches right after its ingest phases. To tell its slow searches apart, each exact search
gets a record: its index in the phase, the client's time, the server's stages (``Server-Timing``, with the
``server_timing`` setting: ``store``, ``store_wait`` (the wait for the engine's turn), ``audit``, ``gc``, ...), the
seconds since the ingest phase ended, and the parts of ``reads`` and ``read_keys`` and the merges running.

Parts and merges come from the tables' directories, watched by a thread of this process (:class:`PartWatch`), not
from ``system.parts``/``system.merges``: chDB is one session per process and the server holds it, and the store
has no door for them (nor should the benchmark add one). A MergeTree table's directory holds one directory per
part, named ``<partition>_<min block>_<max block>_<level>[_<mutation>]``; a merge writes ``tmp_merge_<new part>``
until it is done; a part is *active* unless another part of its partition covers its block range (the
superseded ones leave the disk within about a second, ``sql.PART_SETTINGS``). ``run.py`` prints the slowest five
with their attribution (:func:`slowest_table`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import numpy as np

from core import summarise_ms
from search_path import server_stages

#: Tables watched, under the reads store's directory (``data/<database>/<table>`` links to the table's data).
TABLES = ("reads", "read_keys")
#: Seconds between two looks at the directories.
INTERVAL_S = 0.02
#: Stages of ``Server-Timing`` kept per search (milliseconds).
STAGES = ("total", "store", "store_wait", "gate", "audit", "audit_wait", "audit_commit", "answer", "gc")


def table_parts(directory: Path) -> tuple[int, int]:
    """(active parts, merges running) of the MergeTree table stored in ``directory``."""
    ranges: list[tuple[str, int, int, int, int]] = []
    merging = 0
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return 0, 0
    for name in names:
        if name.startswith("tmp_merge_"):
            merging += 1
            continue
        fields = name.split("_")
        if len(fields) < 4 or not all(f.isdigit() for f in fields[1:]):
            continue  # detached/, tmp_insert_*, tmp_mut_*, delete_tmp_*, ...
        low, high, level = int(fields[1]), int(fields[2]), int(fields[3])
        ranges.append((fields[0], low, high, level, int(fields[4]) if len(fields) > 4 else 0))
    active = 0
    for part in ranges:
        partition, low, high, level, mutation = part
        covered = any(
            other != part
            and other[0] == partition
            and other[1] <= low
            and other[2] >= high
            and (other[3], other[4], other[2] - other[1]) >= (level, mutation, high - low)
            for other in ranges
        )
        active += not covered
    return active, merging


@dataclass
class PartWatch:
    """A thread that looks at the tables' directories every ``INTERVAL_S``: (perf_counter time, active parts of
    ``reads``, merges of ``reads``, active parts of ``read_keys``, merges of ``read_keys``) per look."""

    reads_dir: Path
    samples: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PartWatch:
        self._thread = threading.Thread(target=self._run, name="part-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), *self.now()))
            self._stop.wait(INTERVAL_S)

    def now(self) -> tuple[int, int, int, int]:
        reads = table_parts(self.reads_dir / "data" / "default" / "reads")
        keys = table_parts(self.reads_dir / "data" / "default" / "read_keys")
        return (*reads, *keys)

    def during(self, start: float, end: float) -> dict[str, int]:
        """Parts at the start of [start, end] (perf_counter) and the most merges running at any look within it."""
        before = [s for s in self.samples if s[0] <= start] or self.samples[:1]
        inside = [s for s in self.samples if start <= s[0] <= end] + before[-1:]
        if not inside:
            return {}
        first = before[-1]
        return {
            "reads_parts": first[1],
            "reads_merges": max(s[2] for s in inside),
            "keys_parts": first[3],
            "keys_merges": max(s[4] for s in inside),
        }

    def idle(self, quiet_s: float, limit_s: float) -> float:
        """Wait until no merge has run for ``quiet_s`` seconds (at most ``limit_s``); the seconds waited."""
        started = time.perf_counter()
        quiet_since = started
        while time.perf_counter() - started < limit_s:
            if self.now()[1] or self.now()[3]:
                quiet_since = time.perf_counter()
            elif time.perf_counter() - quiet_since >= quiet_s:
                break
            time.sleep(INTERVAL_S)
        return round(time.perf_counter() - started, 2)


def scheduled_ms(pid: int) -> dict[int, tuple[str, float, float]]:
    """Per thread of process ``pid``: (name, ms on a CPU, ms waiting on a run queue for one) so far
    (``/proc/PID/task/*/schedstat`` and ``comm``). chDB names its threads (``MergeMutate``, ``BgSchPool``, ...);
    Python's threads carry the process's name."""
    threads: dict[int, tuple[str, float, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        threads[int(task.name)] = (name, int(fields[0]) / 1e6, int(fields[1]) / 1e6)
    return threads


def scheduled_between(
    before: dict[int, tuple[str, float, float]], after: dict[int, tuple[str, float, float]]
) -> tuple[float, float, dict[str, float]]:
    """(CPU ms, run-queue ms, CPU ms by thread name) of the threads alive at ``after`` since ``before`` (a thread
    started in between counts from its start; one that ended in between is not counted)."""
    running = waiting = 0.0
    by_name: dict[str, float] = {}
    for tid, (name, run, wait) in after.items():
        _, run_before, wait_before = before.get(tid, (name, 0.0, 0.0))
        running, waiting = running + run - run_before, waiting + wait - wait_before
        by_name[name] = by_name.get(name, 0.0) + run - run_before
    return running, waiting, by_name


def recorder(
    watch: PartWatch, ingest_ended: float, records: list[dict[str, Any]], pid: int
) -> Callable[[int, float, float, httpx2.Response], None]:
    """The per-search hook of ``core.run_searches``: appends each answered search's record to ``records``. The
    server's CPU time and run-queue wait are counted from the previous answer to this one (the gap between two
    searches, client work only, is in them)."""
    last = [scheduled_ms(pid)]

    def record(index: int, start: float, elapsed: float, response: httpx2.Response) -> None:
        stages = {k: v * 1000 for k, v in server_stages(response.headers.get("server-timing", "")).items()}
        now = scheduled_ms(pid)
        cpu, queue, by_name = scheduled_between(last[0], now)
        last[0] = now
        inner = sum(stages.get(k, 0.0) for k in ("auth", "gate", "budget", "store", "audit", "answer"))
        records.append(
            {
                "index": index,
                "client_ms": round(elapsed * 1000, 2),
                **{f"{name}_ms": round(stages.get(name, 0.0), 2) for name in STAGES},
                "other_ms": round(max(0.0, stages.get("total", 0.0) - inner), 2),
                "http_ms": round(max(0.0, elapsed * 1000 - stages.get("total", 0.0)), 2),
                "server_cpu_ms": round(cpu, 2),
                "server_runqueue_ms": round(queue, 2),
                "server_cpu_ms_by_thread": {
                    name: round(ms, 1) for name, ms in sorted(by_name.items(), key=lambda i: -i[1])[:4] if ms >= 1.0
                },
                "since_ingest_s": round(start - ingest_ended, 2),
                "reads_returned": int(response.json()["count"]),
                **watch.during(start, start + elapsed),
            }
        )

    return record


def attribution(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The slowest five searches, and the client's percentiles with and without a merge running."""
    merging = [r["client_ms"] / 1000 for r in records if r.get("reads_merges", 0) or r.get("keys_merges", 0)]
    quiet = [r["client_ms"] / 1000 for r in records if not (r.get("reads_merges", 0) or r.get("keys_merges", 0))]
    ranked = sorted(records, key=lambda r: r["client_ms"], reverse=True)
    return {
        "slowest": ranked[:5],
        "while_merging": {"searches": len(merging), **summarise_ms(merging)},
        "no_merge_running": {"searches": len(quiet), **summarise_ms(quiet)},
        "parts_at_start": {k: records[0].get(k) for k in ("reads_parts", "keys_parts")} if records else {},
        "parts_at_end": {k: records[-1].get(k) for k in ("reads_parts", "keys_parts")} if records else {},
        "store_wait_ms_total": round(float(np.sum([r["store_wait_ms"] for r in records])), 2),
        # The first 100 searches (closest to the ingest phase) against the rest.
        "first_100": summarise_ms([r["client_ms"] / 1000 for r in records[:100]]),
        "after_100": summarise_ms([r["client_ms"] / 1000 for r in records[100:]]),
        # Per search: the server's CPU and run-queue time, p50 / p99 over all the searches.
        "server_cpu_ms_p50_p99": percentiles([r.get("server_cpu_ms", 0.0) for r in records]),
        "server_runqueue_ms_p50_p99": percentiles([r.get("server_runqueue_ms", 0.0) for r in records]),
        # Of the slowest 1%: the share of their client time the server's threads spent waiting for a CPU.
        "slowest_1pct_runqueue_share": runqueue_share(ranked[: max(1, len(ranked) // 100)]),
    }


def percentiles(values: list[float]) -> list[float]:
    return [round(float(v), 2) for v in np.percentile(values, [50, 99])] if values else []


def runqueue_share(records: list[dict[str, Any]]) -> float | None:
    client = sum(r["client_ms"] for r in records)
    waiting = sum(r.get("server_runqueue_ms", 0.0) for r in records)
    return round(waiting / client, 3) if client else None


def slowest_table(tail: dict[str, Any]) -> str:
    """The slowest five exact searches with their attribution, and the percentiles with and without merges."""
    head = (
        f"{'#':>4} {'client':>7} {'server':>7} {'store':>6} {'wait':>5} {'audit':>6} {'other':>6} {'gc':>5} "
        f"{'http':>6} {'cpu':>6} {'runq':>6} {'t-ingest':>8} {'parts r/k':>9} {'merges r/k':>10}"
    )
    lines = [
        "slowest exact searches (ms; wait: for the engine's turn; other: server time outside the stages; cpu/runq: "
        "the server's threads on a CPU / waiting for one; t-ingest: s since the ingest phase ended)",
        head,
    ]
    for r in tail["slowest"]:
        parts = f"{r.get('reads_parts', '?')}/{r.get('keys_parts', '?')}"
        merges = f"{r.get('reads_merges', '?')}/{r.get('keys_merges', '?')}"
        lines.append(
            f"{r['index']:>4} {r['client_ms']:>7.1f} {r['total_ms']:>7.1f} {r['store_ms']:>6.1f} "
            f"{r['store_wait_ms']:>5.1f} {r['audit_ms']:>6.1f} {r.get('other_ms', 0):>6.1f} {r['gc_ms']:>5.1f} "
            f"{r['http_ms']:>6.1f} {r.get('server_cpu_ms', 0):>6.1f} {r.get('server_runqueue_ms', 0):>6.1f} "
            f"{r['since_ingest_s']:>8.1f} {parts:>9} {merges:>10}"
        )
    for name in ("while_merging", "no_merge_running"):
        figures = tail[name]
        if figures.get("searches"):
            lines.append(
                f"{name.replace('_', ' ')}: {figures['searches']} searches, p50/p95/p99 "
                f"{figures['p50_ms']}/{figures['p95_ms']}/{figures['p99_ms']} ms"
            )
    for r in tail["slowest"]:
        if r.get("server_cpu_ms_by_thread"):
            lines.append(f"  #{r['index']} server CPU by thread (ms): {r['server_cpu_ms_by_thread']}")
    if tail.get("first_100") and tail.get("after_100"):
        lines.append(
            f"first 100 p50/p99 {tail['first_100']['p50_ms']}/{tail['first_100']['p99_ms']} ms, the rest "
            f"{tail['after_100']['p50_ms']}/{tail['after_100']['p99_ms']}; per search, the server's CPU p50/p99 "
            f"{tail['server_cpu_ms_p50_p99']} ms, run-queue wait {tail['server_runqueue_ms_p50_p99']} ms"
        )
    lines.append(f"slowest 1%: the server's threads waited for a CPU {tail['slowest_1pct_runqueue_share']} of the time")
    return "\n".join(lines)
