"""Which ClickHouse feature probes a batch of reads against 1M hot-list entries fastest (docs/architecture.md).

    .venv/bin/python benchmarks/matching_engines.py [--reads 1000000] [--entries 1000000] [--patterns 1000]

Builds, in a throwaway chDB directory, a Memory table of ``--reads`` random California-style plates (the
stand-in for a batch's ``staging.fresh``) and ``--entries`` random entry plates, then times each way of finding
the reads that match (three runs each, seconds): ``IN`` a prebuilt ``Set`` table, ``IN`` a subquery over the
entries table (the set is built per query), a hash ``JOIN`` against the entries table, Hyperscan
(``multiMatchAllIndices``) over ``--patterns`` wildcard patterns (the first run includes compiling them), and
the same patterns as an ``OR`` of ``LIKE`` terms (100 of them), and a Python ``set`` probed with the batch's plates
fetched from chDB. Prints JSON.
"""

from __future__ import annotations

import argparse
import random
import shutil
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import orjson
from chdb import session as chdb_session

PLATE = (
    "concat(toString(1 + rand({s}) % 9), char(65 + rand({s} + 1) % 26), char(65 + rand({s} + 2) % 26), "
    "char(65 + rand({s} + 3) % 26), leftPad(toString(rand({s} + 4) % 1000), 3, '0'))"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--patterns", type=int, default=1_000)
    args = parser.parse_args(argv)
    path = tempfile.mkdtemp(prefix="plateledger-engines-")
    sess: Any = chdb_session.Session(path)

    def timed(statement: str) -> tuple[float, str]:
        started = time.perf_counter()
        result = sess.query(statement, "CSV")
        return round(time.perf_counter() - started, 3), str(result).strip()

    try:
        sess.query("CREATE TABLE fresh (plate String) ENGINE = Memory")
        sess.query(f"INSERT INTO fresh SELECT {PLATE.format(s=0)} FROM numbers({args.reads})")
        sess.query("CREATE TABLE entries (plate String) ENGINE = Memory")
        sess.query(f"INSERT INTO entries SELECT {PLATE.format(s=10)} FROM numbers({args.entries})")
        sess.query("CREATE TABLE plates (plate String) ENGINE = Set SETTINGS persistent = 0")
        report: dict[str, Any] = {"config": vars(args)}
        report["set_load_s"] = timed("INSERT INTO plates SELECT plate FROM entries")[0]
        rng = random.Random(1)
        plates = [
            str(rng.randint(1, 9)) + "".join(rng.choices(string.ascii_uppercase, k=3)) + f"{rng.randint(0, 999):03d}"
            for _ in range(args.patterns)
        ]
        patterns = [f"^{p[:3]}.{p[4:]}$" for p in plates]
        array = "[" + ",".join(f"'{p}'" for p in patterns) + "]"
        likes = " OR ".join(f"plate LIKE '{p[:3]}_{p[4:]}'" for p in plates[:100])
        probes = {
            "in_set_table": "SELECT count() FROM fresh WHERE plate IN plates",
            "in_subquery": "SELECT count() FROM fresh WHERE plate IN (SELECT plate FROM entries)",
            "hash_join": "SELECT count() FROM fresh INNER JOIN entries USING plate",
            "hyperscan_patterns": f"SELECT count() FROM fresh WHERE notEmpty(multiMatchAllIndices(plate, {array}))",
            "like_or_100_patterns": f"SELECT count() FROM fresh WHERE {likes}",
        }
        for name, statement in probes.items():
            runs = [timed(statement) for _ in range(3)]
            report[name] = {"seconds": [s for s, _ in runs], "matches": runs[0][1]}
        # A Python set of the entry plates, probed with the batch's plates fetched from chDB.
        entry_set = set(bytes(sess.query("SELECT plate FROM entries", "TabSeparated").bytes()).split())
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            batch = bytes(sess.query("SELECT plate FROM fresh", "TabSeparated").bytes()).split()
            found = sum(1 for plate in batch if plate in entry_set)
            runs.append(round(time.perf_counter() - started, 3))
        report["python_set_probe"] = {"seconds": runs, "matches": str(found)}
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    finally:
        sess.close()
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
