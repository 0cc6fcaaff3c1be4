"""Group commit in the reads store: batches that arrive while a pass runs are written together in the next one,
each acknowledged with its own counts; a batch whose audit entry cannot be written fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import orjson
import pytest

from plateledger.core.errors import AuditUnavailable
from plateledger.platform import Platform
from plateledger.store.reads import BatchResult, ReadsStore
from tests.integration.test_audit_fail_closed import inserts_refused
from tests.support import (
    HOUR_MS,
    NOW_MS,
    AgencyKit,
    governance_transactions,
    seed_agency,
    store_block,
    writing,
)

Audit = Callable[[BatchResult], None] | None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadsStore]:
    reads = ReadsStore(tmp_path / "reads")
    yield reads
    reads.close()


def lines(owner_tag: str, ids: range, *, invalid: int = 0) -> bytes:
    """JSON lines of reads ``{owner_tag}{i}`` (read id and plate), then ``invalid`` lines without a plate."""
    good = [
        b'{"plate": "%s%d", "ts": %d, "camera": "cam", "read_id": "%s%d"}'
        % (owner_tag.encode(), i, NOW_MS - HOUR_MS + i, owner_tag.encode(), i)
        for i in ids
    ]
    return b"\n".join(good + [b'{"ts": %d, "camera": "cam"}' % NOW_MS] * invalid)


def grouped(store: ReadsStore, batches: list[tuple[bytes, int, Audit]]) -> list[Future[BatchResult]]:
    """Submit every batch while the store is busy (its write lock held here), so that all of them queue and the first
    to get the lock writes them together in one pass; returns each batch's future."""
    return grouped_calls(
        store, [partial(store_block, store, block, owner=owner, before_commit=audit) for block, owner, audit in batches]
    )


def grouped_calls(store: ReadsStore, calls: list[Callable[[], BatchResult]]) -> list[Future[BatchResult]]:
    """:func:`grouped` for any calls that each store one batch in ``store`` (the library's ``store_block``)."""
    pool = ThreadPoolExecutor(max_workers=len(calls))
    with store.writing():
        futures = [pool.submit(call) for call in calls]
        deadline = time.monotonic() + 30
        while len(store._queue) < len(calls):
            assert time.monotonic() < deadline, "the batches did not queue"
            time.sleep(0.01)
    pool.shutdown(wait=True)
    return futures


def counts(result: BatchResult) -> tuple[int, int, int]:
    return result.stored, result.duplicates, len(result.rejected)


def test_concurrent_batches_are_written_in_one_pass_each_with_its_own_counts(store: ReadsStore) -> None:
    audited: list[tuple[int, int]] = []
    lock = threading.Lock()

    def audit(result: BatchResult) -> None:
        with lock:
            audited.append((result.stored, result.duplicates))

    first = lines("A", range(5))
    # The second repeats two of the first's reads (same owner and read id) and has one invalid line.
    second = b"\n".join([lines("A", range(3, 5)), lines("B", range(3), invalid=1)])
    other_owner = lines("A", range(4))  # the same read ids, another owner: not duplicates
    futures = grouped(store, [(first, 1, audit), (second, 1, audit), (other_owner, 2, audit)])
    results = [f.result() for f in futures]
    assert [counts(r) for r in results] == [(5, 0, 0), (3, 2, 1), (4, 0, 0)]
    assert results[1].rejected[0][0] == 5  # indexed from the batch's own first line
    # Per batch, the newest time of each camera and the oldest of its valid reads (duplicates included): read
    # from the same statement as the counts.
    first_ts = NOW_MS - HOUR_MS
    assert [(r.oldest_ms, r.newest) for r in results] == [
        (first_ts, {"cam": first_ts + 4}),
        (first_ts, {"cam": first_ts + 4}),
        (first_ts, {"cam": first_ts + 3}),
    ]
    assert sorted(audited) == sorted([(5, 0), (3, 2), (4, 0)])
    assert store.counts_by_owner() == {1: 8, 2: 4}


def test_a_batch_whose_audit_fails_fails_alone(store: ReadsStore) -> None:
    def refuse(_result: BatchResult) -> None:
        raise AuditUnavailable("audit log append failed, request refused: test")

    first = lines("A", range(3))
    failing = lines("F", range(4))
    # The third repeats two reads of the failing batch: stored after all, since that batch stored nothing.
    third = b"\n".join([lines("F", range(2)), lines("C", range(2))])
    futures = grouped(store, [(first, 1, None), (failing, 1, refuse), (third, 1, None)])
    assert counts(futures[0].result()) == (3, 0, 0)
    with pytest.raises(AuditUnavailable):
        futures[1].result()
    assert counts(futures[2].result()) == (4, 0, 0)
    stored = {row[0] for row in store._rows("SELECT read_id FROM reads")}
    assert stored == {"A0", "A1", "A2", "F0", "F1", "C0", "C1"}
    assert store.key_count() == 7


def typed_lines(tag: str, ids: range) -> bytes:
    """Reads ``{tag}{i}`` in orjson's own encoding, which the Python fast path types (``lines`` goes to SQL)."""
    return b"\n".join(
        orjson.dumps({"plate": f"{tag}{i}", "ts": NOW_MS - HOUR_MS + i, "camera": "cam", "read_id": f"{tag}{i}"})
        for i in ids
    )


def test_passes_of_both_kinds_in_turn_reuse_emptied_staging_tables(store: ReadsStore) -> None:
    """The staging tables outlive a pass, emptied: no pass sees another's rows, whichever kind ran before it."""

    def ingest(block: bytes, audit: Audit = None) -> BatchResult:
        return store_block(store, block, before_commit=audit)

    def refuse(_result: BatchResult) -> None:
        raise AuditUnavailable("audit log append failed, request refused: test")

    assert counts(ingest(typed_lines("T", range(5)))) == (5, 0, 0)
    assert counts(ingest(typed_lines("T", range(3, 8)))) == (3, 2, 0)
    assert counts(ingest(lines("S", range(4), invalid=1))) == (4, 0, 1)
    assert counts(ingest(lines("S", range(2, 6)))) == (2, 2, 0)
    assert counts(ingest(typed_lines("T", range(10)))) == (2, 8, 0)
    with pytest.raises(AuditUnavailable):
        ingest(typed_lines("U", range(3)), refuse)
    assert counts(ingest(typed_lines("U", range(3)))) == (3, 0, 0)
    assert store.count() == store.key_count() == 19
    for table in ("parsed", "fresh"):  # emptied after the last pass, not left holding its rows
        assert store._scalar(f"SELECT count() FROM staging.{table}") == 0


def _platform_batches(platform: Platform) -> tuple[list[AgencyKit], list[Callable[[], BatchResult]]]:
    """Three batches of two agencies' devices, each through the library's ``Ingestor.store_block``."""
    kits = [seed_agency(platform, "city"), seed_agency(platform, "county")]
    platform.matcher.sync(NOW_MS)  # the first loads the hot-list mirror under the store's write lock: not queued
    batches = [(kits[0], "A", range(3)), (kits[1], "B", range(2)), (kits[0], "C", range(4))]
    calls: list[Callable[[], BatchResult]] = [
        partial(
            platform.ingest.store_block,
            kit.device.actor,
            kit.agency,
            typed_lines(tag, ids).replace(b'"cam"', f'"{kit.agency.slug}-fixed"'.encode()),
            channel="test",
            source="test",
        )
        for kit, tag, ids in batches
    ]
    return kits, calls


def test_a_pass_audits_its_batches_intents_in_one_transaction_and_their_outcomes_in_another(
    platform: Platform,
) -> None:
    kits, calls = _platform_batches(platform)
    with governance_transactions(platform) as transactions:
        results = [f.result() for f in grouped_calls(platform.reads, calls)]
    assert [r.stored for r in results] == [3, 2, 4]
    audited = writing(transactions, "audit_log")
    assert len(audited) == 2  # one per entry before: 6
    entries = platform.audit.entries(action=None, after_seq=platform.audit.entries()[-1].seq - 6)
    assert [e.action for e in entries] == ["ingest.intent"] * 3 + ["ingest.batch"] * 3
    # Each entry with its batch's own device (the batches queued in any order), each outcome naming its intent.
    agencies = sorted([kits[0].agency.id, kits[1].agency.id, kits[0].agency.id])
    assert sorted(e.actor_agency_id for e in entries[:3]) == agencies
    intents = {e.seq: e for e in entries[:3]}
    for outcome in entries[3:]:
        assert intents.pop(orjson.loads(outcome.params)["intent"]).actor_agency_id == outcome.actor_agency_id
    assert platform.audit.verify().intact


def test_a_pass_whose_intents_cannot_be_committed_stores_nothing(platform: Platform) -> None:
    _, calls = _platform_batches(platform)
    with inserts_refused(platform, "audit_log", "NEW.action = 'ingest.intent'"):
        futures = grouped_calls(platform.reads, calls)
        for future in futures:
            with pytest.raises(AuditUnavailable):
                future.result()
    assert platform.reads.count() == 0
    assert "ingest.intent" not in {e.action for e in platform.audit.entries()}
    assert platform.audit.verify().intact
    # The log goes on after the failed transaction (the tree state it had is reloaded).
    assert [f.result().stored for f in grouped_calls(platform.reads, calls)] == [3, 2, 4]
    assert platform.audit.verify().intact
