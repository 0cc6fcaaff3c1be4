"""RFC 6962/9162 hashing, proofs and verification: every transparency-dev/merkle vector, and properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger_verify import merkle
from plateledger_verify.errors import ProofError

TESTDATA = Path(__file__).parent / "testdata"


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    data = json.loads((TESTDATA / f"merkle-{kind}.json").read_text())
    return sorted(data["vectors"].items())


def _b(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b(p) for p in value or []]


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big") + b"audit entry") for i in range(n)]


class Tree:
    """A reference tree over leaf hashes, computed by the RFC's recursive definition (not by the code under test)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.reads = 0

    def mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.leaves[lo]
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        return merkle.node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def read(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.mth(index << level, (index + 1) << level)


@pytest.mark.parametrize(("name", "v"), _vectors("inclusion"), ids=[n for n, _ in _vectors("inclusion")])
def test_inclusion_vectors(name: str, v: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_inclusion(v["leafIdx"], v["treeSize"], _b(v["leafHash"]), _proof(v["proof"]), _b(v["root"]))

    if v["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize(("name", "v"), _vectors("consistency"), ids=[n for n, _ in _vectors("consistency")])
def test_consistency_vectors(name: str, v: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_consistency(v["size1"], v["size2"], _proof(v["proof"]), _b(v["root1"]), _b(v["root2"]))

    if v["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_vector_files_hold_both_outcomes() -> None:
    for kind in ("inclusion", "consistency"):
        vectors = [v for _, v in _vectors(kind)]
        assert len(vectors) > 90
        assert {v["wantErr"] for v in vectors} == {True, False}


def test_hashes_match_rfc6962_known_values() -> None:
    # The empty tree and the leaf hash of the empty string, as in the vectors (and RFC 6962 test data).
    assert base64.b64encode(merkle.EMPTY_ROOT).decode() == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    # The vectors' 8-leaf tree: leaves are RFC 6962's test inputs; its root is the happy-path root.
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    root = merkle.root_of_leaf_hashes([merkle.leaf_hash(bytes.fromhex(h)) for h in inputs])
    happy = dict(_vectors("inclusion"))["inclusion/1/happy-path.json"]
    assert root == _b(happy["root"])


def test_root_and_proofs_agree_with_reference_tree() -> None:
    for n in range(1, 40):
        tree = Tree(_leaves(n))
        root = tree.mth(0, n)
        assert merkle.root_of_leaf_hashes(tree.leaves) == root
        assert merkle.root_hash(n, tree.read) == root
        for i in range(n):
            merkle.verify_inclusion(i, n, tree.leaves[i], merkle.inclusion_proof(i, n, tree.read), root)
        for m in range(1, n + 1):
            old = tree.mth(0, m)
            merkle.verify_consistency(m, n, merkle.consistency_proof(m, n, tree.read), old, root)


def test_proofs_cost_logarithmic_reads() -> None:
    n = 100_003
    store: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for i in range(n):
        for node in compact.append(i.to_bytes(32, "big")):
            store[node.level, node.index] = node.hash
    reads = 0

    def read(level: int, index: int) -> bytes:
        nonlocal reads
        reads += 1
        return store[level, index]

    proof = merkle.inclusion_proof(12_345, n, read)
    assert reads <= 2 * n.bit_length()
    merkle.verify_inclusion(12_345, n, (12_345).to_bytes(32, "big"), proof, compact.root())
    reads = 0
    proof = merkle.consistency_proof(77_777, n, read)
    assert reads <= 3 * n.bit_length()
    old_root = merkle.root_hash(77_777, read)
    merkle.verify_consistency(77_777, n, proof, old_root, compact.root())


def test_compact_range_restores_from_stored_nodes() -> None:
    tree = Tree(_leaves(77))
    compact = merkle.CompactRange()
    for leaf in tree.leaves[:50]:
        compact.append(leaf)
    restored = merkle.CompactRange.from_reader(50, tree.read)
    assert restored.hashes == compact.hashes
    for leaf in tree.leaves[50:]:
        restored.append(leaf)
    assert restored.root() == tree.mth(0, 77)
    assert merkle.CompactRange().root() == merkle.EMPTY_ROOT


def test_append_returns_each_completed_node() -> None:
    compact = merkle.CompactRange()
    nodes = [compact.append(leaf) for leaf in _leaves(8)]
    assert [[(n.level, n.index) for n in ns] for ns in nodes] == [
        [(0, 0)],
        [(0, 1), (1, 0)],
        [(0, 2)],
        [(0, 3), (1, 1), (2, 0)],
        [(0, 4)],
        [(0, 5), (1, 2)],
        [(0, 6)],
        [(0, 7), (1, 3), (2, 1), (3, 0)],
    ]
    assert nodes[-1][-1].hash == compact.root()


def test_bad_arguments_are_refused() -> None:
    tree = Tree(_leaves(4))
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(4, 4, tree.read)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(0, 4, tree.read)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(5, 4, tree.read)
    with pytest.raises(ValueError, match="bytes"):
        merkle.CompactRange().append(b"short")
    with pytest.raises(ProofError, match="bytes"):
        merkle.verify_inclusion(0, 2, tree.leaves[0], [b"x" * 31], tree.mth(0, 2))


def _flip(value: bytes, bit: int) -> bytes:
    b = bytearray(value)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=700))
def test_generated_inclusion_proofs_verify_and_any_bit_flip_fails(data: st.DataObject, size: int) -> None:
    leaves = _leaves(size)
    store: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for leaf in leaves:
        for node in compact.append(leaf):
            store[node.level, node.index] = node.hash
    root = compact.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    proof = merkle.inclusion_proof(index, size, lambda lv, ix: store[lv, ix])
    merkle.verify_inclusion(index, size, leaves[index], proof, root)
    # Flip one bit anywhere: in the leaf, a proof hash or the root.
    parts = [leaves[index], *proof, root]
    which = data.draw(st.integers(min_value=0, max_value=len(parts) - 1), label="which")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    parts[which] = _flip(parts[which], bit)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, parts[0], parts[1:-1], parts[-1])
    # The proof of one index does not verify for another.
    if size > 1:
        other = (index + 1) % size
        with pytest.raises(ProofError):
            merkle.verify_inclusion(other, size, leaves[index], proof, root)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=700))
def test_generated_consistency_proofs_verify_and_any_bit_flip_fails(data: st.DataObject, size: int) -> None:
    old = data.draw(st.integers(min_value=1, max_value=size - 1), label="old")
    store: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    old_root = b""
    for i, leaf in enumerate(_leaves(size)):
        for node in compact.append(leaf):
            store[node.level, node.index] = node.hash
        if i + 1 == old:
            old_root = compact.root()
    new_root = compact.root()
    proof = merkle.consistency_proof(old, size, lambda lv, ix: store[lv, ix])
    merkle.verify_consistency(old, size, proof, old_root, new_root)
    parts = [old_root, *proof, new_root]
    which = data.draw(st.integers(min_value=0, max_value=len(parts) - 1), label="which")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    parts[which] = _flip(parts[which], bit)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, size, parts[1:-1], parts[0], parts[-1])
    # Rewritten history: the same new size with one old leaf changed has another root the proof cannot reach.
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, size, proof, old_root, _flip(new_root, 0))
