"""Where a batch's time goes (1,000 reads, or ``--reads``), statement by statement, in the reads store's ingest path.

A fresh reads store in a temporary directory gets a hot-list mirror of ``--entries`` active entries (``--patterns``
of them wildcards, half of each on lists that match confusables), then ingests ``--batches`` batches of 1,000
fresh reads (one exact hit each, the rest random plates of which some share a confusable key with an entry) through
``ReadsStore.ingest_block``, as HTTP ingest does. Every chDB statement the store and its mirror run is timed; prints
JSON: the pass's p50 (one batch per pass) and per statement (its first 70 characters), calls and p50 ms, largest
total first.

    .venv/bin/python benchmarks/ingest_statements.py --entries 1e6 --patterns 1000 --batches 30
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from plateledger.store.cameras import CameraInfo
from plateledger.store.matching import MirrorEntry
from plateledger.store.reads import ReadsStore

CAMERAS = [CameraInfo("cam", "cam", False, 1.0, 2.0)]
PLATE_SPACE = 7


def plate(n: int) -> str:
    return f"P{n:07d}"


def timed(action: Callable[..., Any], spent: dict[str, list[float]]) -> Callable[..., Any]:
    def run(statement: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return action(statement, *args, **kwargs)
        finally:
            # A statement's files (staging, intent journal) have names of their own: one entry for all of them.
            text = re.sub(r"file\('[^']*'", "file(..", " ".join(statement.split()))
            spent.setdefault(text[:70], []).append((time.perf_counter() - started) * 1000)

    return run


def measure(entries: int, patterns: int, batches: int, size: int = 1000) -> dict[str, Any]:
    now_ms = time.time_ns() // 1_000_000
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = ReadsStore(Path(tmp) / "reads")
        try:
            expires = now_ms + 10**9
            mirror = [
                MirrorEntry(n, 1, True, plate(n * PLATE_SPACE), False, None, n % 2 == 0, expires)
                for n in range(entries - patterns)
            ]
            mirror += [
                MirrorEntry(entries + n, 1, True, f"Q{n:03d}*", True, None, n % 2 == 0, expires)
                for n in range(patterns)
            ]
            store.load_hot_entries(mirror)
            spent: dict[str, list[float]] = {}
            passes: list[float] = []
            # Every statement goes through ``_query`` (``_rows`` calls it): an instance attribute shadows the method
            # for the store, and the mirror gets the same timed callable.
            store._query = timed(store._query, spent)  # type: ignore[method-assign]
            store._mirror._query = store._query
            store.journal._query = store._query
            for batch in range(batches):
                lines: list[bytes] = []
                for i in range(size):
                    text = (
                        plate(PLATE_SPACE * rng.randrange(entries - patterns))
                        if i == 0
                        else plate(rng.randrange(10**7))
                    )
                    ts = now_ms - 3_600_000 + batch * 1000 + i
                    # orjson's own encoding, as HTTP ingest re-encodes reads: the small-batch fast path applies.
                    lines.append(orjson.dumps({"plate": text, "ts": ts, "camera": "cam", "read_id": f"b{batch}i{i}"}))
                started = time.perf_counter()
                store.ingest_block(
                    b"\n".join(lines),
                    owner=1,
                    cameras=CAMERAS,
                    country="US",
                    now_ms=now_ms,
                    future_tolerance_ms=0,
                    max_read_bytes=16384,
                    source="benchmark",
                )
                passes.append((time.perf_counter() - started) * 1000)
        finally:
            store.close()
    ranked = sorted(spent.items(), key=lambda item: -sum(item[1]))
    return {
        "entries": entries,
        "patterns": patterns,
        "batches": batches,
        "reads_per_batch": size,
        "pass_ms_p50": round(statistics.median(passes), 2),
        "statements": [
            {"statement": text, "calls": len(times), "p50_ms": round(statistics.median(times), 2)}
            for text, times in ranked
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=float, default=1_000_000)
    parser.add_argument("--patterns", type=int, default=1_000)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--reads", type=int, default=1000, help="reads per batch (one batch per pass)")
    args = parser.parse_args()
    print(json.dumps(measure(int(args.entries), args.patterns, args.batches, args.reads), indent=2))


if __name__ == "__main__":
    main()
