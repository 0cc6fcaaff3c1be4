"""Hot-list matching benchmark: bulk ingest with 1M active entries, matching on and off.

Reproducible on fresh data directories::

    .venv/bin/python benchmarks/hotlists.py [--reads 1000000] [--entries 1000000] [--patterns 1000]
                                            [--hit-rate 0.005] [--workdir DIR]

Prints one JSON object on stdout and a short table on stderr. Both runs ingest the same JSONL file through the
product's bulk path (``Platform.ingest.ingest_file``: parse, validate, de-duplicate, store, match, alert) into a
fresh data directory: "off" with no active entries (the matcher then skips the probe entirely), "on" with
``--entries`` active entries on one shared list of the ingesting agency: ``--patterns`` wildcard entries (one
character of a plate replaced by ``?``), the rest exact plates, of which enough are drawn from the read pool
for about ``--hit-rate`` of the reads to match. Every match becomes an alert through ``Alerts.process`` (gate and
audit), inline, as in production; the time spent there is reported separately.

Entries are written to the governance store with bulk inserts (the same rows ``HotLists.apply`` writes, 1M ORM
objects would take minutes), then the hot-list generation is bumped like any change.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import insert, select

from core import (
    AGENCY,
    BENCH_ACTOR,
    DEFAULT_CAMERAS,
    SEED,
    ReadSource,
    load_cameras,
    log,
    machine_info,
    make_plates,
    setup_data_dir,
    write_reads_file,
)
from plateledger.core.settings import load_settings
from plateledger.hotlists.service import EntryIn
from plateledger.platform import Platform
from plateledger.store.governance import bump_hotlist_generation
from plateledger.store.matching import Match
from plateledger.store.models import Agency, HotList, HotListEntry

ENTRY_CHUNK = 50_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=1_000_000, help="reads to bulk-ingest per run (default 1M)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="active hot-list entries (default 1M)")
    parser.add_argument("--patterns", type=int, default=1_000, help="of which wildcard entries (default 1,000)")
    parser.add_argument("--hit-rate", type=float, default=0.005, help="share of reads that match (default 0.5%%)")
    parser.add_argument("--cameras", type=Path, default=DEFAULT_CAMERAS, help="OSM ALPR cameras CSV (.gz)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="parent of the temp dir")
    return parser.parse_args(argv)


def pick_entries(source: ReadSource, rng: np.random.Generator, args: argparse.Namespace) -> tuple[list[str], float]:
    """Exact plates: pool plates (random ranks) until their expected read share reaches the hit rate, then plates
    outside the pool. Returns the plates and the expected share of reads that match them."""
    order = rng.permutation(len(source.weights))
    share = np.cumsum(source.weights[order])
    count = int(np.searchsorted(share, args.hit_rate)) + 1
    hot = [source.plate_text(int(i)) for i in order[:count]]
    wanted = args.entries - args.patterns - len(hot)
    pool = {source.plate_text(i) for i in range(len(source.weights))}
    others = [row.tobytes().decode() for row in make_plates(np.random.default_rng(SEED + 9), wanted + wanted // 20)]
    cold = [p for p in others if p not in pool][:wanted]
    return hot + cold, float(share[count - 1])


def patterns(rng: np.random.Generator, count: int) -> list[str]:
    """Plates outside the pool's likely plates with one character replaced by ``?`` (6 literals each)."""
    plates = make_plates(np.random.default_rng(SEED + 10), count)
    holes = rng.integers(0, 7, size=count)
    return [
        row.tobytes().decode()[:h] + "?" + row.tobytes().decode()[h + 1 :] for row, h in zip(plates, holes, strict=True)
    ]


def add_entries(platform: Platform, exact: list[str], wild: list[str], agency: str = AGENCY) -> float:
    """One shared list of ``agency`` with the entries; returns the seconds it took."""
    started = time.perf_counter()
    now = platform.clock.now_ms()
    with platform.governance.session() as session:
        agency_id = session.scalars(select(Agency.id).where(Agency.slug == agency)).one()
        hot_list = HotList(
            agency_id=agency_id,
            name="bench",
            default_purpose="stolen_vehicle",
            alert_level="medium",
            visibility="shared",
            covert=False,
            created_ms=now,
            created_by="bench",
            match_confusable=False,
        )
        session.add(hot_list)
        session.flush()
        list_id = hot_list.id
    rows = [(p, False) for p in exact] + [(p, True) for p in wild]
    for start in range(0, len(rows), ENTRY_CHUNK):
        with platform.governance.session() as session:
            session.execute(
                insert(HotListEntry),
                [
                    {
                        "hot_list_id": list_id,
                        "plate": plate,
                        "pattern": pattern,
                        "region": None,
                        "purpose": "stolen_vehicle",
                        "reference": "BENCH-1",
                        "reason": "benchmark",
                        "expires_ms": now + 30 * 86_400_000,
                        "added_ms": now - 86_400_000,  # added yesterday: later refreshes are incremental
                        "added_by": "bench",
                    }
                    for plate, pattern in rows[start : start + ENTRY_CHUNK]
                ],
            )
    with platform.governance.session() as session:
        bump_hotlist_generation(session)
    return time.perf_counter() - started


def run(data: Path, reads_file: Path, reads: int, entries: tuple[list[str], list[str]] | None) -> dict[str, Any]:
    """Set up ``data``, optionally add entries and load the mirror, then bulk-ingest ``reads_file``."""
    cameras = load_cameras(DEFAULT_CAMERAS, 500, "bench-cam")
    other = load_cameras(DEFAULT_CAMERAS, 3, "county-cam", skip=500)
    tokens = setup_data_dir(data, cameras, other)
    platform = Platform.open(load_settings(data=data))
    result: dict[str, Any] = {}
    try:
        if entries is not None:
            result["add_entries_s"] = round(add_entries(platform, *entries), 2)
            platform.matcher.sync(platform.clock.now_ms())
            result["mirror_load_s"] = round(platform.matcher.last_load_s, 2)
            result["mirror_entries"] = platform.matcher.last_load_entries
        agency = platform.registry.agency(AGENCY)
        result.update(timed_ingest(platform, [(agency, reads_file)], reads))
        if entries is not None:  # changes of the list through the service: how long until the mirror follows
            result["mirror_refresh_s"] = refreshes(platform, tokens.investigator)
    finally:
        platform.close()
    return result


def timed_ingest(platform: Platform, jobs: list[tuple[Agency, Path]], reads: int) -> dict[str, Any]:
    """Bulk-ingest each (owner, JSONL file) through ``Platform.ingest.ingest_file`` (parse, validate, store,
    hot-list match, alert); wall time, reads/s, and the store's matching step and alert processing timed apart."""
    spent = {"alerts_s": 0.0, "match_s": 0.0, "matches": 0, "raised": 0, "withheld": 0}
    process = platform.matcher.process

    def timed_process(matches: list[Match]) -> Any:
        started = time.perf_counter()
        outcome = process(matches)
        spent["alerts_s"] += time.perf_counter() - started
        spent["matches"] += len(matches)
        spent["raised"] += len(outcome.raised)
        spent["withheld"] += outcome.withheld
        return outcome

    platform.matcher.process = timed_process  # type: ignore[method-assign]
    mirror = platform.reads._mirror  # the store's matching step alone, timed from outside
    match = mirror.match

    def timed_match(committed: int, now_ms: int) -> list[Match]:
        started = time.perf_counter()
        found = match(committed, now_ms)
        spent["match_s"] += time.perf_counter() - started
        return found

    mirror.match = timed_match  # type: ignore[method-assign]
    stored = rejected = 0
    started = time.perf_counter()
    try:
        for owner, path in jobs:
            total = platform.ingest.ingest_file(BENCH_ACTOR, owner, path, fmt="jsonl")
            stored += total.stored
            rejected += len(total.rejected)
    finally:
        wall = time.perf_counter() - started
        platform.matcher.process = process  # type: ignore[method-assign]
        mirror.match = match  # type: ignore[method-assign]
    return {
        "stored": stored,
        "rejected": rejected,
        "wall_s": round(wall, 3),
        "reads_per_s": round(reads / wall),
        "match_s": round(float(spent["match_s"]), 3),
        "match_share_pct": round(100 * float(spent["match_s"]) / wall, 1),
        "alerts_s": round(float(spent["alerts_s"]), 3),
        "reads_per_s_excluding_alerts": round(reads / (wall - float(spent["alerts_s"]))),
        "matches": spent["matches"],
        "alerts_raised": spent["raised"],
        "alerts_withheld": spent["withheld"],
    }


def refreshes(platform: Platform, secret: str) -> dict[str, float]:
    """Seconds the mirror takes to follow one added exact entry, one added pattern, and one removal."""
    investigator = platform.tokens.authenticate(secret)
    view = platform.hotlists.create(investigator, name="bench-changes", default_purpose="stolen_vehicle")
    platform.matcher.sync(platform.clock.now_ms())
    expires = platform.clock.now_ms() + 86_400_000
    timings = {}
    for label, plate, remove in (
        ("add_exact", "1ZZZ999", ()),
        ("add_pattern", "1ZZ?998", ()),
        ("remove", "", ("1ZZZ999",)),
    ):
        add = (
            []
            if not plate
            else platform.hotlists.validate(
                view, [EntryIn(plate=plate, reference="BENCH-2", reason="benchmark", expires_ms=expires)]
            )[0]
        )
        platform.hotlists.apply(investigator, view.id, add=add, remove_plates=remove)
        platform.matcher.sync(platform.clock.now_ms())
        timings[label] = round(platform.matcher.last_load_s, 3)
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="plateledger-hotlists-", dir=args.workdir))
    try:
        rng = np.random.default_rng(SEED)
        cameras = load_cameras(args.cameras, 500, "bench-cam")
        source = ReadSource.build(rng, max(1_000, args.reads // 20), cameras)
        reads_file = workdir / "reads.jsonl"
        now_ms = time.time_ns() // 1_000_000
        log(f"generate {args.reads:,} reads")
        write_reads_file(reads_file, source, rng, args.reads, now_ms)
        exact, expected = pick_entries(source, rng, args)
        wild = patterns(rng, args.patterns)
        log("run with matching off (no active entries)")
        off = run(workdir / "off", reads_file, args.reads, None)
        log(f"run with matching on ({len(exact) + len(wild):,} entries)")
        on = run(workdir / "on", reads_file, args.reads, (exact, wild))
        report = {
            "benchmark": "plateledger hot-list matching",
            "machine": machine_info(),
            "config": {**{k: str(v) for k, v in vars(args).items()}, "expected_hit_rate": round(expected, 5)},
            "off": off,
            "on": on,
            "matching_overhead_pct": round(100 * (on["wall_s"] / off["wall_s"] - 1), 1),
            "matching_overhead_excluding_alerts_pct": round(
                100 * ((on["wall_s"] - on["alerts_s"]) / off["wall_s"] - 1), 1
            ),
        }
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stderr.write(
            f"off: {off['reads_per_s']:,} reads/s | on: {on['reads_per_s']:,} reads/s "
            f"({on['reads_per_s_excluding_alerts']:,} without alert processing) | "
            f"matches {on['matches']:,} | mirror load {on['mirror_load_s']} s, refresh {on['mirror_refresh_s']}\n"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
