"""De-duplication with narrow keys: a key found in ``read_keys`` is only a candidate, verified against ``reads``, so
a distinct read is never refused as a duplicate and a re-sent read is never stored twice (real chDB). The store is
opened with keys of a few bits, so that most reads share their key with another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plateledger.store import sql
from plateledger.store.reads import BatchResult, Expiry, ReadsStore
from tests.support import HOUR_MS, NOW_MS, store_block

#: 16 keys per owner: 200 reads share each key with about a dozen others.
TINY = 4


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadsStore]:
    reads = ReadsStore(tmp_path / "reads", key_bits=TINY)
    yield reads
    reads.close()


def line(plate: str, ts_ms: int, read_id: str | None = None) -> bytes:
    rid = b', "read_id": "%s"' % read_id.encode() if read_id is not None else b""
    return b'{"plate": "%s", "ts": %d, "camera": "cam"%s}' % (plate.encode(), ts_ms, rid)


def generated(ids: range) -> list[bytes]:
    """Reads without a read id (their id is generated from camera, time and plate)."""
    return [line(f"GEN{i}", NOW_MS - HOUR_MS + i) for i in ids]


def sent(ids: range, plate: str = "SENT") -> list[bytes]:
    """Reads with a read id ``r<i>``, plate ``<plate><i>``."""
    return [line(f"{plate}{i}", NOW_MS - 2 * HOUR_MS + i, f"r{i}") for i in ids]


def counts(result: BatchResult) -> tuple[int, int, int]:
    return result.stored, result.duplicates, len(result.rejected)


def keys(store: ReadsStore) -> tuple[int, int, int]:
    """(reads, key rows, largest key)."""
    return store.count(), store.key_count(), int(store._scalar("SELECT max(key) FROM read_keys"))


def test_reads_sharing_a_key_are_all_stored_and_a_resent_batch_stores_nothing(store: ReadsStore) -> None:
    batch = b"\n".join(generated(range(100)) + sent(range(100)))
    assert counts(store_block(store, batch)) == (200, 0, 0)
    assert int(store._scalar("SELECT uniqExact(key) FROM read_keys")) <= 2**TINY  # every key a collision
    assert counts(store_block(store, batch)) == (0, 200, 0)
    more = b"\n".join(generated(range(100, 150)) + sent(range(100, 150)))
    assert counts(store_block(store, more)) == (100, 0, 0)
    assert keys(store) == (300, 300, keys(store)[2])
    assert keys(store)[2] <= sql.key_mask(TINY)
    # A pass spanning more than sql.TIME_LOOKUP_MS: its candidates are looked up by plate.
    long_ago = [line(f"AGO{i}", NOW_MS - sql.TIME_LOOKUP_MS - HOUR_MS + i) for i in range(50)]
    spread = b"\n".join(long_ago + generated(range(150, 200)))
    assert counts(store_block(store, spread)) == (100, 0, 0)
    assert counts(store_block(store, spread)) == (0, 100, 0)


def test_a_mixed_batch_stores_exactly_its_new_reads(store: ReadsStore) -> None:
    assert counts(store_block(store, b"\n".join(generated(range(0, 60, 2)) + sent(range(0, 60, 2))))) == (60, 0, 0)
    # Old and new reads interleaved, a read sent twice in the batch, and a line the validator refuses.
    mixed = generated(range(60)) + sent(range(60)) + [line("GEN61", NOW_MS - HOUR_MS + 61)] * 2 + [b'{"ts": 1}']
    assert counts(store_block(store, b"\n".join(mixed))) == (61, 61, 1)
    assert store.count() == store.key_count() == 121


def test_a_read_id_sent_again_with_another_plate_is_a_duplicate(store: ReadsStore) -> None:
    assert counts(store_block(store, b"\n".join(sent(range(40))))) == (40, 0, 0)
    # The same read ids, read as other plates: found by time (the pass spans minutes).
    assert counts(store_block(store, b"\n".join(sent(range(40), plate="OTHER")))) == (0, 40, 0)
    # ... and at other times too: found by neither time nor plate, but by read id, in a pass that spans less than
    # sql.TIME_LOOKUP_MS (looked up by time) and in one that spans more (by plate).
    later = [line(f"LATER{i}", NOW_MS - 3 * HOUR_MS + i, f"r{i}") for i in range(0, 20, 2)]
    assert counts(store_block(store, b"\n".join(later + sent(range(40, 45))))) == (5, 10, 0)
    long_ago = NOW_MS - sql.TIME_LOOKUP_MS - 4 * HOUR_MS
    spread = [line(f"AGO{i}", long_ago + i, f"r{i}") for i in range(20, 40, 2)] + sent(range(45, 50))
    assert counts(store_block(store, b"\n".join(spread))) == (5, 10, 0)
    # A read id that is the generated id of a stored read sent without one: the same effective read id.
    assert counts(store_block(store, line("PLAIN", NOW_MS - HOUR_MS))) == (1, 0, 0)
    (generated_id,) = store._rows(f"SELECT {sql.EFFECTIVE_READ_ID} FROM reads WHERE plate = 'PLAIN'")[0]
    assert counts(store_block(store, line("NOTPLAIN", NOW_MS - HOUR_MS, str(generated_id)))) == (0, 1, 0)
    assert store.count() == store.key_count() == 51


def test_keys_of_an_older_store_are_narrowed_at_open_and_its_duplicates_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "reads"
    batch = b"\n".join(generated(range(100)) + sent(range(100)))
    wide = ReadsStore(path, key_bits=64)  # the keys of a store made before they were narrowed
    try:
        assert counts(store_block(wide, batch)) == (200, 0, 0)
        assert keys(wide)[2] > sql.key_mask(sql.READ_KEY_BITS)
    finally:
        wide.close()
    store = ReadsStore(path)
    try:
        assert keys(store)[:2] == (200, 200)
        assert keys(store)[2] <= sql.key_mask(sql.READ_KEY_BITS)
        assert counts(store_block(store, batch)) == (0, 200, 0)
        assert counts(store_block(store, b"\n".join(generated(range(100, 110))))) == (10, 0, 0)
    finally:
        store.close()
    narrowed = ReadsStore(path, key_bits=TINY)
    try:
        assert keys(narrowed)[:2] == (210, 210)
        assert counts(store_block(narrowed, batch)) == (0, 200, 0)
    finally:
        narrowed.close()


def test_retention_keeps_the_keys_of_kept_reads_that_share_one_with_expired_reads(store: ReadsStore) -> None:
    old = [line(f"OLD{i}", NOW_MS - 30 * HOUR_MS + i, f"old{i}") for i in range(50)]
    new = [line(f"NEW{i}", NOW_MS - HOUR_MS + i, f"new{i}") for i in range(50)]
    assert counts(store_block(store, b"\n".join(old + new))) == (100, 0, 0)
    result = store.expire({1: Expiry(cutoff_ms=NOW_MS - 10 * HOUR_MS, hit_cutoff_ms=NOW_MS - 10 * HOUR_MS)})
    assert result.expired == 50
    assert store.count() == store.key_count() == 50
    assert counts(store_block(store, b"\n".join(new))) == (0, 50, 0)


def test_a_key_rebuild_agrees_with_the_keys_ingest_wrote(store: ReadsStore) -> None:
    assert counts(store_block(store, b"\n".join(generated(range(80)) + sent(range(80))))) == (160, 0, 0)
    written = store._rows("SELECT owner, key FROM read_keys ORDER BY owner, key")
    store._query("TRUNCATE TABLE read_keys")
    store._reconcile_keys()
    assert store._rows("SELECT owner, key FROM read_keys ORDER BY owner, key") == written
