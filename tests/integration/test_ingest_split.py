"""An ingest pass holds the reads store's write lock, and the engine only one statement at a time: a search (gate and
audit included) answers while a pass is held mid-way, and what needs a view that no pass changes half-way (expiry,
a backup's freeze, per-owner counts, hot-list mirror updates) waits for the pass and then sees all of it."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from plateledger.platform import Platform
from plateledger.store.reads import BatchResult, Expiry, ReadsStore
from plateledger.store.snapshot import copy_frozen, freeze
from tests.support import NOW_MS, AgencyKit, ingest, line, read, search, seed_agency

OLD = [f"OLD{i}" for i in range(3)]
NEW = [f"NEW{i}" for i in range(5)]


@contextmanager
def pass_held(platform: Platform, kit: AgencyKit, *, at: str) -> Iterator[Future[BatchResult]]:
    """An ingest pass of ``NEW`` (on a thread of its own) stopped at its ``before_commit`` stage (validated and
    de-duplicated, its intents' audit transaction committed, nothing stored) or its ``after_commit`` stage (reads
    and keys stored, the outcomes' audit transaction not yet begun). It is held outside the pass's audit
    transactions (``ReadsStore.audit_group``), as a pass is between them."""
    inside, release = threading.Event(), threading.Event()
    grouped = platform.reads.audit_group
    groups = iter(range(2))

    def hold() -> None:
        inside.set()
        release.wait(120)

    @contextmanager
    def held_group() -> Iterator[None]:
        number = next(groups, 2)  # 0: the intents' transaction, 1: the outcomes'
        if at == "after_commit" and number == 1:
            hold()
        with grouped():
            yield
        if at == "before_commit" and number == 0:
            hold()

    block = b"\n".join(line(**read(plate, camera=kit.cameras[0], read_id=plate)) for plate in NEW)
    pool = ThreadPoolExecutor(max_workers=1)
    platform.reads.audit_group = held_group
    future = pool.submit(
        platform.reads.ingest_block,
        block,
        owner=kit.agency.id,
        cameras=platform.registry.cameras_unguarded(kit.agency.id),
        country=kit.agency.country,
        now_ms=NOW_MS,
        future_tolerance_ms=0,
        max_read_bytes=16384,
        source="test",
    )
    try:
        assert inside.wait(60), "the pass did not reach its hook"
        yield future
    finally:
        release.set()
        pool.shutdown(wait=True)
        platform.reads.audit_group = grouped


def plates_found(platform: Platform, kit: AgencyKit) -> list[str]:
    """Every plate the investigator's searches find (through the gate, audited)."""
    return sorted(r.plate for prefix in ("OLD*", "NEW*") for r in search(platform, kit.investigator, prefix).reads)


@pytest.fixture
def kit(platform: Platform) -> AgencyKit:
    kit = seed_agency(platform, "city", roles=("investigator", "device"))
    assert ingest(platform, kit, [read(p, camera=kit.cameras[0], read_id=p) for p in OLD]).stored == len(OLD)
    return kit


@pytest.mark.parametrize(("at", "found"), [("before_commit", OLD), ("after_commit", OLD + NEW)])
def test_a_search_answers_while_an_ingest_pass_is_held_mid_way(
    platform: Platform, kit: AgencyKit, at: str, found: list[str]
) -> None:
    with pass_held(platform, kit, at=at) as ingesting, ThreadPoolExecutor(max_workers=1) as pool:
        # On another thread only so that a search that waited for the pass fails the test instead of hanging it.
        assert pool.submit(plates_found, platform, kit).result(timeout=60) == sorted(found)
        assert not ingesting.done()
    assert ingesting.result().stored == len(NEW)
    assert plates_found(platform, kit) == sorted(OLD + NEW)


def waits_for_the_write_lock(thread: threading.Thread) -> bool:
    """Whether ``thread`` is blocked entering :meth:`ReadsStore.writing` (its innermost frame is that generator's)."""
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and frame.f_code is ReadsStore.writing.__wrapped__.__code__  # type: ignore[attr-defined]


def _expire(platform: Platform, owner: int, _tmp: Path) -> int:
    seen: list[int] = []
    platform.reads.expire(
        {owner: Expiry(cutoff_ms=0, hit_cutoff_ms=0)},
        before_delete=lambda counts: seen.append(counts[owner].stored),
        settle_s=0,
    )
    return seen[0]


def _freeze(platform: Platform, owner: int, tmp: Path) -> int:
    counts = freeze(platform.reads, "split_test", lambda counts: counts)
    copy_frozen(platform.reads, "split_test", tmp / "copy")
    return counts[owner]


def _counts(platform: Platform, owner: int, _tmp: Path) -> int:
    return platform.reads.counts_by_owner()[owner]


def _mirror(platform: Platform, owner: int, _tmp: Path) -> int:
    platform.reads.update_hot_entries(add=(), remove={1})
    return platform.reads.counts_by_owner()[owner]


@pytest.mark.parametrize("operation", [_expire, _freeze, _counts, _mirror], ids=lambda f: f.__name__.strip("_"))
def test_what_needs_a_whole_view_waits_for_the_held_pass_and_sees_all_of_it(
    platform: Platform, kit: AgencyKit, tmp_path: Path, operation: Callable[[Platform, int, Path], int]
) -> None:
    seen: list[Any] = []
    with pass_held(platform, kit, at="after_commit") as ingesting:
        waiter = threading.Thread(target=lambda: seen.append(operation(platform, kit.agency.id, tmp_path)))
        waiter.start()
        deadline = time.monotonic() + 60
        while not waits_for_the_write_lock(waiter):
            assert waiter.is_alive(), f"it ran during the pass and saw {seen}"
            assert time.monotonic() < deadline, "it did not reach the write lock"
            time.sleep(0.01)
    waiter.join(60)
    assert ingesting.result().stored == len(NEW)
    assert seen == [len(OLD) + len(NEW)]
