"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs from stored hashes, and proof verification.

Hashing (RFC 9162 §2.1.1): a leaf hash is ``SHA-256(0x00 ‖ data)``, an interior node ``SHA-256(0x01 ‖ left ‖
right)``; the tree over *n* leaves splits at the largest power of two smaller than *n*, and the empty tree's hash
is ``SHA-256("")``.

Addressing: ``(level, index)`` names the *perfect* subtree of ``2**level`` leaves that starts at leaf
``index * 2**level``. Level 0 holds leaf hashes. Only perfect subtrees are ever stored (they never change once
complete); the hash of any other range is computed from the perfect subtrees it splits into. Proof generation
takes a :data:`HashReader` over that addressing, so a proof costs O(log n) hash reads from whatever store holds
the tree (tiles, a table, a dict).

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) and rejects every tampered case
of the transparency-dev/merkle test vectors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from plateledger_verify.errors import ProofError

HASH_SIZE = 32
#: The largest tree size proofs are produced or checked for (a level fits 63 bits, as in tlog-tiles).
MAX_TREE_SIZE = 1 << 63
#: The hash of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()

HashReader = Callable[[int, int], bytes]
"""``read(level, index)`` returns the hash of the perfect subtree ``(level, index)`` of the stored tree."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees, left to right, that the range ``[start, end)`` of a tree splits into.

    Valid for the ranges RFC 6962 recursion produces (``start`` a multiple of the largest power of two not
    above ``end - start``); returns ``(level, index)`` pairs, largest first.
    """
    out: list[tuple[int, int]] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        # The largest aligned perfect subtree that starts at `start` and fits in the range.
        while start & ((1 << level) - 1):
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def range_hash(start: int, end: int, read: HashReader) -> bytes:
    """The Merkle Tree Hash of leaves ``[start, end)`` from stored perfect subtrees (O(log n) reads)."""
    if start >= end:
        raise ValueError(f"empty range [{start}, {end})")
    parts = [read(level, index) for level, index in perfect_subtrees(start, end)]
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = node_hash(part, acc)
    return acc


def root_hash(size: int, read: HashReader) -> bytes:
    """The root of the tree of ``size`` leaves; :data:`EMPTY_ROOT` for size 0."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else range_hash(0, size, read)


def root_of_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root over a list of leaf hashes, O(n) (a :class:`CompactRange` fed one by one)."""
    compact = CompactRange()
    for h in hashes:
        compact.append(h)
    return compact.root()


def _check_size(size: int) -> None:
    if not 0 <= size < MAX_TREE_SIZE:
        raise ValueError(f"tree size {size} out of range 0..2^63-1")


# --- proof generation -----------------------------------------------------------------------------------------


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves, leaf side first."""
    _check_size(size)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} not in a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    # Walk from the root down to the leaf; siblings are collected root side first, then reversed.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(range_hash(lo + k, hi, read))
            hi = lo + k
        else:
            path.append(range_hash(lo, lo + k, read))
            lo += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from the tree of ``old_size`` to the tree of ``new_size``.

    Empty when the sizes are equal; refused for ``old_size == 0`` (every tree extends the empty one, there is
    nothing to prove) and for ``old_size > new_size``.
    """
    _check_size(new_size)
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    path: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                path.append(range_hash(lo, hi, read))
            break
        k = _split(n)
        if m <= k:
            path.append(range_hash(lo + k, hi, read))
            hi = lo + k
        else:
            path.append(range_hash(lo, lo + k, read))
            lo += k
            m -= k
            complete = False
    path.reverse()
    return path


# --- proof verification ---------------------------------------------------------------------------------------


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (a leaf hash) at ``index`` in a tree of ``size``.

    Raises :class:`ProofError` when the proof cannot belong to that position (wrong length, index outside
    the tree, a hash of the wrong size).
    """
    if not 0 <= index < size < MAX_TREE_SIZE:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash("leaf hash", leaf)
    for i, p in enumerate(proof):
        _check_hash(f"proof hash {i}", p)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} hashes, more than the tree needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, fewer than the tree needs")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise :class:`ProofError` unless ``proof`` places ``leaf`` at ``index`` under ``root``."""
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    if not hmac.compare_digest(computed, root):
        raise ProofError(f"inclusion proof for leaf {index} in tree {size} does not lead to the expected root")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless the tree of ``new_size`` extends the one of ``old_size``.

    Equal sizes need an empty proof and equal roots. ``old_size == 0`` is refused, as transparency-dev/merkle
    does: a proof from the empty tree is meaningless, and a verifier that holds no earlier checkpoint has
    nothing to compare (callers treat that case before asking for a proof).
    """
    if new_size >= MAX_TREE_SIZE or old_size < 0:
        raise ProofError(f"tree sizes {old_size} -> {new_size} out of range")
    if old_size > new_size:
        raise ProofError(f"tree size went backwards: {old_size} -> {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise ProofError("equal tree sizes need an empty consistency proof")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError(f"two different roots for tree size {old_size}")
        return
    if not proof:
        raise ProofError("empty consistency proof between different tree sizes")
    for i, p in enumerate(proof):
        _check_hash(f"proof hash {i}", p)
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the trees need")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError(f"consistency proof does not lead to the old root of size {old_size}")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError(f"consistency proof does not lead to the new root of size {new_size}")


# --- incremental appends ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredNode:
    """A perfect-subtree hash an append completed: what a tile store must keep."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The O(log n) state of a growing tree: the roots of the perfect subtrees ``[0, size)`` splits into.

    ``append`` returns every perfect-subtree hash the new leaf completes (the leaf itself first), which is
    exactly what a tile store must write; ``root`` folds the state into the tree hash. Restore it after a
    restart with :meth:`from_reader` (one hash read per set bit of the size).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if len(self._hashes) != size.bit_count():
            raise ValueError(f"a compact range of size {size} holds {size.bit_count()} hashes")

    @classmethod
    def from_reader(cls, size: int, read: HashReader) -> CompactRange:
        _check_size(size)
        return cls(size, (read(level, index) for level, index in perfect_subtrees(0, size)))

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[StoredNode]:
        """Add one leaf hash; return the nodes it completes, from the leaf up."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")
        if self._size + 1 >= MAX_TREE_SIZE:
            raise ValueError("tree is full")
        index, level, h = self._size, 0, leaf
        done = [StoredNode(0, index, h)]
        while (self._size >> level) & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            done.append(StoredNode(level, index >> level, h))
        self._hashes.append(h)
        self._size += 1
        return done

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            acc = node_hash(h, acc)
        return acc
