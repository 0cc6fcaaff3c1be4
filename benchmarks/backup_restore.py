"""Backup during ingest, then restore after the source directory is lost (issue 17's 1M-read check).

A thread ingests ``--reads`` canonical reads in batches of ``--batch`` through the library's ingest path while the
main thread, once ``--backup-at`` of them are acknowledged, runs ``Backups.make``. Then the source directory is
deleted and the backup restored into a new one (``Platform.restore``: chain and counts verified, retention
re-applied). Prints JSON: ingest rate, backup time and size, the longest wait of an ingest batch before and during
the backup (what serving traffic feels), restore time, and the checks (every read acknowledged before the backup is
present; restored reads equal the manifest's; the audit log's stored counts up to the backup's head equal them).

    .venv/bin/python benchmarks/backup_restore.py --reads 1e6
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from plateledger.audit.log import SYSTEM
from plateledger.backup.manifest import Manifest
from plateledger.core.settings import load_settings
from plateledger.platform import Platform

DAY_MS = 86_400_000


def count(text: str) -> int:
    return int(float(text.replace("_", "")))


def run(reads: int, batch: int, backup_at: float, workdir: Path) -> dict[str, Any]:
    settings = load_settings(data=workdir / "data")
    platform = Platform.open(settings)
    agency = platform.registry.create_agency(
        SYSTEM, slug="city", name="City", kind="municipal", country="US", state="CA"
    )
    platform.registry.add_camera(SYSTEM, agency_slug="city", external_id="cam-1", lat=37.77, lon=-122.42)
    now = platform.clock.now_ms()
    batches = reads // batch
    acked: list[tuple[float, float]] = []  # (start, end) of each batch, monotonic
    reached = threading.Event()

    def ingest() -> None:
        for b in range(batches):
            lines = [
                orjson.dumps({"plate": f"P{b * batch + i:08d}", "ts": now - (i % 29) * DAY_MS - b, "camera": "cam-1"})
                for i in range(batch)
            ]
            start = time.monotonic()
            result = platform.ingest.store_lines(SYSTEM, agency, lines, channel="bench", source="bench")
            acked.append((start, time.monotonic()))
            assert result.stored == batch, result
            if len(acked) >= backup_at * batches:
                reached.set()

    t0 = time.monotonic()
    writer = threading.Thread(target=ingest)
    writer.start()
    reached.wait()
    acked_before = len(acked)
    dest = workdir / "backup"
    b0 = time.monotonic()
    report = platform.backups.make(SYSTEM, dest)
    b1 = time.monotonic()
    writer.join()
    t1 = time.monotonic()
    platform.close()
    waits_before = [end - start for start, end in acked[:acked_before]]
    waits_during = [end - start for start, end in acked if start < b1 and end > b0]
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())

    shutil.rmtree(settings.data)
    target = load_settings(data=workdir / "restored")
    r0 = time.monotonic()
    restored = Platform.restore(dest, target, SYSTEM)
    r1 = time.monotonic()
    manifest = Manifest.load(dest)
    check = Platform.open(target)
    try:
        present = int(
            check.reads._scalar(  # every read of the batches acknowledged before the backup started
                "SELECT count() FROM reads WHERE plate < {last:String}", {"last": f"P{acked_before * batch:08d}"}
            )
        )
        stored_audited = sum(
            orjson.loads(e.counts)["stored"]
            for e in check.audit.entries(action="ingest.batch", limit=10_000_000)
            if e.seq <= manifest.audit_seq
        )
        verified = check.audit.verify()
        total = check.reads.count()
    finally:
        check.close()
    return {
        "reads": batches * batch,
        "batch": batch,
        "ingest_s": round(t1 - t0, 2),
        "ingest_reads_per_s": round(batches * batch / (t1 - t0)),
        "acknowledged_before_backup": acked_before * batch,
        "backup_s": round(b1 - b0, 3),
        "backup_bytes": size,
        "backup_reads": manifest.reads,
        "batch_wait_max_s_before_backup": round(max(waits_before), 3),
        "batch_wait_max_s_during_backup": round(max(waits_during), 3) if waits_during else None,
        "batches_during_backup": len(waits_during),
        "restore_s": round(r1 - r0, 2),
        "restored_reads": total,
        "retention_removed_on_restore": restored.retention.deleted,
        "checks": {
            "acknowledged_before_backup_present": present == acked_before * batch,
            "restored_equals_manifest": total == manifest.reads,
            "audit_stored_equals_restored": stored_audited == manifest.reads,
            "audit_verify_intact": verified.intact,
            "audit_entries": verified.entries,
        },
        "backup_audit_seq": report.audit_seq,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=count, default=1_000_000)
    parser.add_argument("--batch", type=count, default=10_000)
    parser.add_argument("--backup-at", type=float, default=0.3, help="fraction acknowledged before the backup")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        print(json.dumps(run(args.reads, args.batch, args.backup_at, Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
