"""Request stage timings (core/timing.py): a collection can be read while it still grows."""

from __future__ import annotations

import gc

from plateledger.core import timing


def test_a_snapshot_can_be_read_while_the_collection_grows() -> None:
    with timing.collect() as stages:
        timing.add("store", 0.002)
        timing.add("audit", 0.001)
        read = []
        for name, seconds in timing.snapshot(stages).items():
            timing.add(f"later-{name}", seconds)  # what a worker thread or the gc callback does meanwhile
            read.append(name)
    assert read == ["store", "audit"]
    assert set(stages) == {"store", "audit", "later-store", "later-audit"}


def test_the_gc_callback_adds_its_pause_to_the_current_collection_only() -> None:
    timing.watch_gc()
    with timing.collect() as stages:
        gc.collect()
        snapshot = timing.snapshot(stages, start=0.0)
    gc.collect()  # outside a collection: added nowhere
    assert stages["gc"] > 0
    assert set(snapshot) == {"gc", "total"}
    assert set(stages) == {"gc"}
