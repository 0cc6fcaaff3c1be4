"""The witness's SQLite state: the check and the write are one transaction, across connections too."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint
from plateledger_verify.witness_store import Stored, WitnessStore

ORIGIN = "audit.example.org/log"


def _cp(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, merkle.leaf_hash(size.to_bytes(8, "big")))


def test_advance_stores_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    store = WitnessStore(tmp_path / "w.db")
    assert store.get(ORIGIN) is None
    stored = store.advance(ORIGIN, lambda held: (_cp(5), b"note 5"))
    assert stored.checkpoint == _cp(5)

    def refuse(held: Stored | None) -> tuple[Checkpoint, bytes]:
        raise LookupError("refused")

    with pytest.raises(LookupError):
        store.advance(ORIGIN, refuse)
    with pytest.raises(ValueError, match="decided a checkpoint"):
        store.advance("another.example/log", lambda held: (_cp(6), b"x"))
    store.close()
    reopened = WitnessStore(tmp_path / "w.db")
    held = reopened.get(ORIGIN)
    assert held is not None
    assert (held.checkpoint, held.note) == (_cp(5), b"note 5")
    assert reopened.sizes() == {ORIGIN: 5}
    reopened.close()


def test_two_stores_on_one_file_cannot_both_advance_from_one_size(tmp_path: Path) -> None:
    """Two witness processes (here: two connections) on one file: BEGIN IMMEDIATE serialises them."""
    stores = [WitnessStore(tmp_path / "w.db") for _ in range(2)]
    barrier = threading.Barrier(8)
    won: list[int] = []

    def attempt(i: int) -> None:
        def decide(held: Stored | None) -> tuple[Checkpoint, bytes]:
            if held is not None:
                raise LookupError(f"holds {held.checkpoint.size}")
            return _cp(10 + i), b"n"

        barrier.wait()
        try:
            stores[i % 2].advance(ORIGIN, decide)
            won.append(10 + i)
        except LookupError:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert stores[0].sizes() == stores[1].sizes() == {ORIGIN: won[0]}
    for store in stores:
        store.close()
