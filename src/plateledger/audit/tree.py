"""The audit log's Merkle tree (RFC 6962 hashing), stored as C2SP tlog-tiles in the governance store.

Each audit entry has one leaf (``audit_leaves``, leaf index ``seq - 1``): its public part with a salted commitment
to its private part (:mod:`plateledger.audit.public`, format :mod:`plateledger_verify.leaf`). The tree's hashes
are kept as hash tiles (``audit_tiles``: tile level ``L`` holds Merkle level ``8L``, 256 hashes a tile, the
rightmost tile of each level partial), and ``audit_tree`` holds the size and the compact range, so an append
costs O(log n) work and usually writes one tile row; proofs cost O(log n) tile reads.

Appends happen only in :meth:`plateledger.audit.log.AuditLog.record_all`, in the transaction of the entries and
under the same lock (:meth:`LogTree.append`), so the tree always has exactly the entries of the chain.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from plateledger.audit.public import leaf_of, split
from plateledger.core.errors import AuditUnavailable
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, AuditLeaf, AuditTile, AuditTree
from plateledger_verify import merkle, tiles
from plateledger_verify.tiles import TILE_HEIGHT, TILE_WIDTH

HASH = merkle.HASH_SIZE
_LEAVES = cast(Table, AuditLeaf.__table__)
_TILES = cast(Table, AuditTile.__table__)
_TREE = cast(Table, AuditTree.__table__)
_INSERT_LEAVES = insert(_LEAVES)
_INSERT_TILE = insert(_TILES)
_UPDATE_TILE = (
    update(_TILES)
    .where(_TILES.c.level == bindparam("t_level"), _TILES.c.idx == bindparam("t_idx"))
    .values(hashes=bindparam("t_hashes"))
)
_READ_TREE = select(AuditTree.size, AuditTree.compact).where(AuditTree.id == 1)
_MOVE_TREE = update(_TREE).where(_TREE.c.id == 1).values(size=bindparam("t_size"), compact=bindparam("t_compact"))
_INSERT_TREE = insert(_TREE).values(id=1, size=bindparam("t_size"), compact=bindparam("t_compact"))


def split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + HASH] for i in range(0, len(data), HASH)]


@dataclass(frozen=True)
class TileWrite:
    """A tile row an append changed: ``existed`` tells an UPDATE of the partial row from an INSERT of a new one."""

    level: int
    index: int
    hashes: bytes
    existed: bool


@dataclass(frozen=True)
class TreeState:
    """The tree as an append needs it: the compact range, and the hashes of the partial (rightmost) tile of each
    tile level, ``edges[level] = (tile index, hashes)`` (a level whose hash count is a multiple of 256 has none)."""

    size: int
    compact: tuple[bytes, ...]
    edges: Mapping[int, tuple[int, bytes]]

    @classmethod
    def empty(cls) -> TreeState:
        return cls(0, (), {})

    def root(self) -> bytes:
        return merkle.CompactRange(self.size, self.compact).root()

    def grow(self, leaf_hashes: Iterable[bytes]) -> tuple[TreeState, list[TileWrite]]:
        """The state after appending ``leaf_hashes``, and the tile rows that changed (each once, final bytes)."""
        compact = merkle.CompactRange(self.size, self.compact)
        edges = dict(self.edges)
        existed = {(level, index) for level, (index, _) in edges.items()}
        touched: dict[tuple[int, int], bytes] = {}
        for leaf_hash in leaf_hashes:
            for node in compact.append(leaf_hash):
                if node.level % TILE_HEIGHT:
                    continue
                level = node.level // TILE_HEIGHT
                index, position = divmod(node.index, TILE_WIDTH)
                edge_index, hashes = edges.get(level, (index, b""))
                if edge_index != index or len(hashes) != position * HASH:
                    raise ValueError(f"tile level {level}: tile {edge_index} holds {len(hashes) // HASH} hashes, "
                                     f"hash {node.index} does not follow")  # fmt: skip
                hashes += node.hash
                touched[(level, index)] = hashes
                if len(hashes) == tiles.FULL_TILE_BYTES:
                    edges.pop(level, None)
                else:
                    edges[level] = (index, hashes)
        writes = [TileWrite(lv, ix, data, (lv, ix) in existed) for (lv, ix), data in touched.items()]
        return TreeState(compact.size, compact.hashes, edges), writes


def edge_tiles(size: int) -> dict[int, tuple[int, int]]:
    """``level -> (tile index, width)`` of the partial tiles of the tree of ``size``."""
    found: dict[int, tuple[int, int]] = {}
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)
        if hashes % TILE_WIDTH:
            found[level] = (hashes // TILE_WIDTH, hashes % TILE_WIDTH)
        level += 1
    return found


def load_state(session: Session | Connection) -> TreeState | None:
    """The committed tree (None when its row is missing); raises ValueError when its rows do not fit together."""
    row = session.execute(_READ_TREE).one_or_none()
    if row is None:
        return None
    size, compact = int(row.size), bytes(row.compact)
    hashes = tuple(split_hashes(compact))
    if len(compact) % HASH or len(hashes) != size.bit_count():
        raise ValueError(f"audit tree of size {size} has a compact range of {len(compact)} bytes")
    wanted = edge_tiles(size)
    edges: dict[int, tuple[int, bytes]] = {}
    if wanted:
        query = select(AuditTile.level, AuditTile.idx, AuditTile.hashes).where(
            or_(*(and_(AuditTile.level == lv, AuditTile.idx == ix) for lv, (ix, _) in wanted.items()))
        )
        for level, index, data in session.execute(query):
            edges[int(level)] = (int(index), bytes(data))
    for level, (index, width) in wanted.items():
        got = edges.get(level)
        if got is None or len(got[1]) != width * HASH:
            have = "missing" if got is None else f"{len(got[1])} bytes"
            raise ValueError(f"audit tile {level}/{index} should hold {width} hashes for tree size {size}: {have}")
    return TreeState(size, hashes, edges)


def write(
    session: Session | Connection, state: TreeState, writes: Sequence[TileWrite], *, tree_row: bool = True
) -> None:
    """Store the tile rows an append changed and the tree's new size and compact range."""
    updates = [{"t_level": w.level, "t_idx": w.index, "t_hashes": w.hashes} for w in writes if w.existed]
    inserts = [{"level": w.level, "idx": w.index, "hashes": w.hashes} for w in writes if not w.existed]
    if updates:
        session.execute(_UPDATE_TILE, updates)
    if inserts:
        session.execute(_INSERT_TILE, inserts)
    values = {"t_size": state.size, "t_compact": b"".join(state.compact)}
    session.execute(_MOVE_TREE if tree_row else _INSERT_TREE, values)


@dataclass(frozen=True)
class Appended:
    """An append's result, made current (:meth:`LogTree.committed`) once its transaction has committed."""

    state: TreeState


class LogTree:
    """The audit tree in the governance store: appends (for the audit log), and what verifiers read."""

    def __init__(self, governance: Governance) -> None:
        self._gov = governance
        #: The tree as last committed by this process (an append reloads it when the head moved elsewhere).
        self._state: TreeState | None = None
        #: Agency slugs by id (slugs never change).
        self._slugs: dict[int, str] = {}

    # --- appends (AuditLog.record_all, under its lock, in its transaction) ----------------------------------

    def slug(self, session: Session | Connection, agency_id: int | None) -> str | None:
        if agency_id is None:
            return None
        found = self._slugs.get(agency_id)
        if found is None:
            found = session.scalar(select(Agency.slug).where(Agency.id == agency_id))
            if found is None:
                return None
            self._slugs[agency_id] = found
        return found

    def load(self) -> None:
        """Load the committed tree (an append checks it against the chain head it locks, and reloads it when the
        head moved: loading early is only loading sooner). A damaged tree is left for the append to refuse."""
        with self._gov.session() as session:
            try:
                self._state = load_state(session)
            except ValueError:
                self._state = None

    def append(self, session: Session | Connection, head_seq: int, rows: Sequence[Mapping[str, Any]]) -> Appended:
        """Add the leaves of the entry ``rows`` (the audit_log columns, ``seq`` following ``head_seq``) in
        ``session``: leaf rows with fresh salts, the changed tiles and the tree row."""
        state = self._state
        tree_row = True
        if state is None or state.size != head_seq:
            try:
                state = load_state(session)
            except ValueError as exc:
                raise AuditUnavailable(f"audit tree damaged, append refused: {exc}") from exc
            if state is None:
                if head_seq:
                    raise AuditUnavailable("audit tree missing, append refused")
                state, tree_row = TreeState.empty(), False
            if state.size != head_seq:
                raise AuditUnavailable(f"audit tree holds {state.size} leaves, the chain {head_seq}: append refused")
        leaves: list[dict[str, Any]] = []
        for row in rows:
            salt = os.urandom(32)
            data = leaf_of(split(row, self.slug(session, row["actor_agency_id"])), salt)
            leaves.append({"seq": row["seq"], "data": data, "salt": salt})
        state, writes = state.grow(merkle.leaf_hash(leaf["data"]) for leaf in leaves)
        session.execute(_INSERT_LEAVES, leaves)
        write(session, state, writes, tree_row=tree_row)
        return Appended(state)

    def committed(self, appended: Appended | None) -> None:
        """The transaction of ``appended`` committed (None: it failed, forget what this process knew)."""
        self._state = appended.state if appended is not None else None

    # --- reads -----------------------------------------------------------------------------------------------

    def head(self) -> tuple[int, bytes]:
        """``(size, root)`` of the tree as committed now."""
        with self._gov.session() as session:
            row = session.execute(_READ_TREE).one_or_none()
        if row is None:
            return 0, merkle.EMPTY_ROOT
        size = int(row.size)
        return size, merkle.CompactRange(size, split_hashes(bytes(row.compact))).root()

    def size(self) -> int:
        return self.head()[0]

    def tile(self, level: int, index: int, width: int) -> bytes | None:
        """The first ``width`` hashes of hash tile ``level/index``; None while the tile is not that wide."""
        with self._gov.session() as session:
            data = session.scalar(select(AuditTile.hashes).where(AuditTile.level == level, AuditTile.idx == index))
        if data is None or len(data) < width * HASH:
            return None
        return bytes(data[: width * HASH])

    def bundle(self, index: int, width: int) -> bytes | None:
        """The entry bundle of level-0 tile ``index``, ``width`` entries (their leaf data); None while the tree
        has fewer."""
        first = index * TILE_WIDTH + 1
        with self._gov.session() as session:
            size = session.scalar(select(AuditTree.size).where(AuditTree.id == 1)) or 0
            if first - 1 + width > size:
                return None
            query = (
                select(AuditLeaf.data)
                .where(AuditLeaf.seq >= first, AuditLeaf.seq < first + width)
                .order_by(AuditLeaf.seq)
            )
            data = [bytes(d) for d in session.scalars(query)]
        if len(data) != width:
            return None
        return tiles.encode_bundle(data)

    def leaves(self, seqs: Iterable[int]) -> dict[int, tuple[bytes, bytes | None]]:
        """``seq -> (leaf data, salt)`` of the given entries that have a leaf."""
        wanted = list(seqs)
        found: dict[int, tuple[bytes, bytes | None]] = {}
        with self._gov.session() as session:
            for start in range(0, len(wanted), 500):
                query = select(AuditLeaf.seq, AuditLeaf.data, AuditLeaf.salt).where(
                    AuditLeaf.seq.in_(wanted[start : start + 500])
                )
                for seq, data, salt in session.execute(query):
                    found[int(seq)] = (bytes(data), bytes(salt) if salt is not None else None)
        return found

    def _proof(self, size: int, make: Any) -> list[bytes]:
        with self._gov.session() as session:
            current = session.scalar(select(AuditTree.size).where(AuditTree.id == 1)) or 0
            if size > current:
                raise ValueError(f"the tree holds {current} leaves, not {size}")

            def fetch(ref: tiles.TileRef) -> bytes:
                data = session.scalar(
                    select(AuditTile.hashes).where(AuditTile.level == ref.level, AuditTile.idx == ref.index)
                )
                if data is None or len(data) < ref.width * HASH:
                    raise ValueError(f"audit tile {ref.path} missing")
                return bytes(data[: ref.width * HASH])

            return cast(list[bytes], make(tiles.TileHashReader(size, fetch)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` (entry ``index + 1``) in the tree of ``size``."""
        return self._proof(size, lambda read: merkle.inclusion_proof(index, size, read))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old`` leaves to the tree of ``new``."""
        return self._proof(new, lambda read: merkle.consistency_proof(old, new, read))
