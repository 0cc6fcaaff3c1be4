"""C2SP tlog-tiles: paths, the tiles of a tree, proofs served from tiles, entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger_verify import merkle, tiles
from plateledger_verify.errors import MalformedError, ProofError
from plateledger_verify.tiles import TileRef


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1234067, "x001/x234/067"),
        (10**9, "x001/x000/x000/000"),
    ],
)
def test_index_encoding(n: int, text: str) -> None:
    assert tiles.format_index(n) == text
    assert tiles.parse_index(text) == n


@pytest.mark.parametrize("text", ["7", "0007", "x000/007", "001/234", "x1/234", "x001/x234", "", "x001/234/"])
def test_non_canonical_indexes_are_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        tiles.parse_index(text)


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (TileRef(0, 0), "tile/0/000"),
        (TileRef(1, 1234067), "tile/1/x001/x234/067"),
        (TileRef(2, 3, 17), "tile/2/003.p/17"),
        (TileRef(None, 1000), "tile/entries/x001/000"),
        (TileRef(None, 5, 255), "tile/entries/005.p/255"),
        (TileRef(63, 0, 1), "tile/63/000.p/1"),
    ],
)
def test_paths_round_trip(ref: TileRef, path: str) -> None:
    assert ref.path == path
    assert tiles.parse_path(path) == ref


@pytest.mark.parametrize(
    "path",
    [
        "tile/64/000",
        "tile/01/000",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/010",
        "tile/x/000",
        "tile/0/000/",
        "/tile/0/000",
        "tile/entries/7",
        "tile/0/x000/001",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(MalformedError):
        tiles.parse_path(path)


def test_tiles_of_the_specification_examples() -> None:
    got = list(tiles.tiles_for_size(70_000))
    level0 = [t for t in got if t.level == 0]
    assert len(level0) == 274
    assert sum(not t.is_partial for t in level0) == 273
    assert level0[-1] == TileRef(0, 273, 112)
    assert [t for t in got if t.level == 1] == [TileRef(1, 0), TileRef(1, 1, 17)]
    assert [t for t in got if t.level == 2] == [TileRef(2, 0, 1)]
    assert list(tiles.tiles_for_size(256)) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert list(tiles.tiles_for_size(0)) == []
    assert list(tiles.tiles_for_size(3, entries=True)) == [TileRef(0, 0, 3), TileRef(None, 0, 3)]


@settings(max_examples=200, deadline=None)
@given(old=st.integers(min_value=0, max_value=300_000), grow=st.integers(min_value=0, max_value=70_000))
def test_tiles_added_are_the_difference_of_the_tile_sets(old: int, grow: int) -> None:
    new = old + grow
    before = set(tiles.tiles_for_size(old, entries=True))
    after = set(tiles.tiles_for_size(new, entries=True))
    assert set(tiles.tiles_added(old, new, entries=True)) == after - before


def _tiled_tree(size: int) -> tuple[merkle.CompactRange, dict[tuple[int, int], bytes], list[bytes]]:
    """A tree of ``size`` leaves: its compact range, every stored node, its entries."""
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    entries = [f"entry {i}".encode() for i in range(size)]
    for entry in entries:
        for node in compact.append(merkle.leaf_hash(entry)):
            nodes[node.level, node.index] = node.hash
    return compact, nodes, entries


def _tile_store(size: int, nodes: dict[tuple[int, int], bytes]) -> dict[TileRef, bytes]:
    """The tiles a log serves for a checkpoint of ``size``, built from stored nodes."""
    return {ref: tiles.tile_hashes_from_nodes(ref, lambda lv, ix: nodes[lv, ix]) for ref in tiles.tiles_for_size(size)}


@settings(max_examples=20, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=20_000))
def test_proofs_from_tiles_verify(data: st.DataObject, size: int) -> None:
    compact, nodes, entries = _tiled_tree(size)
    store = _tile_store(size, nodes)
    fetched: list[TileRef] = []

    def fetch(ref: TileRef) -> bytes:
        fetched.append(ref)
        return store[ref]

    reader = tiles.TileHashReader(size, fetch)
    assert merkle.root_hash(size, reader) == compact.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, reader)
    merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]), proof, compact.root())
    assert len(fetched) == len(set(fetched)) <= 6  # each tile once; a few per level
    old = data.draw(st.integers(min_value=1, max_value=size))
    old_store = _tile_store(old, nodes)
    old_root = merkle.root_hash(old, tiles.TileHashReader(old, old_store.__getitem__))
    merkle.verify_consistency(old, size, merkle.consistency_proof(old, size, reader), old_root, compact.root())


def test_node_location() -> None:
    assert tiles.node_location(0, 300) == tiles.NodeLocation(0, 1, 44, 1)
    assert tiles.node_location(3, 40) == tiles.NodeLocation(0, 1, 64, 8)
    assert tiles.node_location(8, 2) == tiles.NodeLocation(1, 0, 2, 1)
    assert tiles.node_location(17, 1) == tiles.NodeLocation(2, 0, 2, 2)


def test_tile_width_is_checked() -> None:
    with pytest.raises(MalformedError):
        tiles.split_hashes(b"\x00" * 33)
    with pytest.raises(MalformedError):
        tiles.split_hashes(b"\x00" * 64, width=3)
    with pytest.raises(MalformedError):
        tiles.split_hashes(b"")
    reader = tiles.TileHashReader(5, lambda ref: b"\x00" * 32 * 4)  # a tile one hash short of width 5
    with pytest.raises(MalformedError):
        reader(0, 0)
    with pytest.raises(ValueError, match="not complete"):
        reader(1, 2)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=256))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    data = tiles.encode_bundle(entries)
    assert tiles.decode_bundle(data) == entries
    assert tiles.decode_bundle(data, width=len(entries)) == entries
    if data:
        with pytest.raises(MalformedError):
            tiles.decode_bundle(data[:-1])


def test_bundle_format_and_limits() -> None:
    assert tiles.encode_bundle([b"a", b"", b"bc"]).hex() == "000161000000026263"
    with pytest.raises(ValueError, match="exceeds"):
        tiles.encode_bundle([b"x" * 65_536])
    with pytest.raises(ValueError, match="1-256"):
        tiles.encode_bundle([])
    with pytest.raises(ValueError, match="1-256"):
        tiles.encode_bundle([b""] * 257)
    with pytest.raises(MalformedError, match="expected 2"):
        tiles.decode_bundle(tiles.encode_bundle([b"a"]), width=2)
    with pytest.raises(MalformedError):
        tiles.decode_bundle(b"\x00")
    with pytest.raises(MalformedError):
        tiles.decode_bundle(b"")


def test_bundle_checked_against_its_tile() -> None:
    entries = [b"one", b"two"]
    tile = [merkle.leaf_hash(e) for e in entries]
    tiles.check_bundle(entries, tile)
    with pytest.raises(ProofError, match="entry 1"):
        tiles.check_bundle([b"one", b"tw0"], tile)
    with pytest.raises(ProofError):
        tiles.check_bundle(entries[:1], tile)


def test_a_partial_tile_may_be_answered_by_its_full_tile() -> None:
    _, nodes, _ = _tiled_tree(600)
    full = _tile_store(600, nodes)
    small = _tile_store(290, nodes)

    def fetch(ref: TileRef) -> bytes:
        return full[ref.full()] if ref.level == 0 and ref.index == 1 else small[ref]

    reader = tiles.TileHashReader(290, fetch)
    assert merkle.root_hash(290, reader) == merkle.root_hash(290, lambda lv, ix: nodes[lv, ix])
