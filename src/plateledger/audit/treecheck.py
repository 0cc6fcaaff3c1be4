"""What ``audit verify`` checks of the Merkle tree, beside the hash chain (:meth:`AuditLog.verify`).

Walking the entries in order, for each entry: it has its leaf; the leaf is the entry's public part
(:func:`plateledger.audit.public.split`) with a commitment that, while the salt is kept, is the commitment to the
entry's private part under that salt; each leaf hash extends a tree rebuilt from the leaves, and every hash that
completes a tile position agrees with the stored tile. At the end: the rebuilt tree has the size and compact
range (so the root) stored in ``audit_tree``, and no leaf or tile lies beyond the tree.

Each problem is reported as ``(seq, problem)``: the first entry concerned (for a tile hash, the first entry under
it).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.audit.public import leaf_of, split
from plateledger.audit.tree import HASH, edge_tiles, split_hashes
from plateledger.store.governance import Governance
from plateledger.store.models import AuditEntry, AuditHead, AuditLeaf, AuditTile, AuditTree
from plateledger_verify import leaf, merkle, tiles
from plateledger_verify.errors import MalformedError
from plateledger_verify.tiles import TILE_HEIGHT, TILE_WIDTH

Problem = tuple[int, str]


@dataclass(frozen=True)
class StoredTree:
    """``audit_tree`` as read with the head (None when its row is missing)."""

    size: int
    compact: bytes


def fields_of(entry: AuditEntry) -> dict[str, object]:
    """The columns :func:`plateledger.audit.public.split` reads, of a stored entry."""
    return {
        "seq": entry.seq,
        "ts_ms": entry.ts_ms,
        "action": entry.action,
        "outcome": entry.outcome,
        "actor_user_id": entry.actor_user_id,
        "actor_username": entry.actor_username,
        "actor_agency_id": entry.actor_agency_id,
        "purpose": entry.purpose,
        "case_number": entry.case_number,
        "client": entry.client,
        "params": entry.params,
        "counts": entry.counts,
    }


def leaf_problem(data: bytes, salt: bytes | None, entry: AuditEntry, agency: str | None) -> str | None:
    """Why ``data`` (with ``salt``, None once deleted) is not the leaf of ``entry``; None when it is."""
    parts = split(fields_of(entry), agency)
    if salt is not None and leaf_of(parts, salt) == data:
        return None
    try:
        stored = leaf.parse_leaf(data)
    except MalformedError as exc:
        return f"leaf malformed: {exc}"
    if leaf.leaf_data(parts.public, stored.commitment) != data:
        return "leaf's public part does not match the entry"
    if salt is None:
        return None  # the salt was deleted (audit detail retention): the public part is all there is to check
    return "leaf commitment does not match the entry's private part and salt"


class TreeCheck:
    """The tree checks of one verification, fed the entries in order (each after its chain checks passed)."""

    def __init__(self, governance: Governance, stored: StoredTree | None, agencies: Mapping[int, str]) -> None:
        self._gov = governance
        self._stored = stored
        self._agencies = agencies
        self._compact = merkle.CompactRange()
        #: The stored tile each level was last compared with: (tile index, its hashes).
        self._tiles: dict[int, tuple[int, bytes | None]] = {}

    def leaves(self, session: Session, first: int, last: int) -> dict[int, tuple[bytes, bytes | None]]:
        query = select(AuditLeaf.seq, AuditLeaf.data, AuditLeaf.salt).where(
            AuditLeaf.seq >= first, AuditLeaf.seq <= last
        )
        return {int(s): (bytes(d), bytes(t) if t is not None else None) for s, d, t in session.execute(query)}

    def entries(
        self, entries: Iterable[AuditEntry], leaves: Mapping[int, tuple[bytes, bytes | None]]
    ) -> Problem | None:
        """Check the leaves of ``entries`` (consecutive, from the first entry on) and the tree they extend."""
        for entry in entries:
            found = leaves.get(entry.seq)
            if found is None:
                return entry.seq, "leaf missing"
            data, salt = found
            agency = self._agencies.get(entry.actor_agency_id) if entry.actor_agency_id is not None else None
            problem = leaf_problem(data, salt, entry, agency)
            if problem:
                return entry.seq, problem
            for node in self._compact.append(merkle.leaf_hash(data)):
                if node.level % TILE_HEIGHT == 0 and not self._tile_agrees(node):
                    first = (node.index << node.level) + 1
                    last = (node.index + 1) << node.level
                    where = f"entries {first}-{last}" if last > first else f"entry {first}"
                    tile = f"{node.level // TILE_HEIGHT}/{node.index // TILE_WIDTH}"
                    return first, f"stored tile {tile} disagrees with the leaves (the hash of {where})"
        return None

    def _tile_agrees(self, node: merkle.StoredNode) -> bool:
        level = node.level // TILE_HEIGHT
        index, position = divmod(node.index, TILE_WIDTH)
        cached = self._tiles.get(level)
        if cached is None or cached[0] != index or (cached[1] is not None and len(cached[1]) <= position * HASH):
            with self._gov.session() as session:
                data = session.scalar(select(AuditTile.hashes).where(AuditTile.level == level, AuditTile.idx == index))
            cached = (index, bytes(data) if data is not None else None)
            self._tiles[level] = cached
        stored = cached[1]
        if stored is None or len(stored) < (position + 1) * HASH:
            return False
        return hmac.compare_digest(stored[position * HASH : (position + 1) * HASH], node.hash)

    def finish(self, head_seq: int) -> Problem | None:
        """After the last entry (``head_seq`` of them): the stored tree, and nothing beyond it."""
        stored = self._stored
        if stored is None:
            return 1, "audit tree missing"
        if stored.size != head_seq:
            return min(stored.size, head_seq) + 1, f"audit tree holds {stored.size} leaves, the chain {head_seq}"
        hashes = split_hashes(stored.compact)
        subtrees = merkle.perfect_subtrees(0, stored.size)
        if len(stored.compact) != HASH * len(subtrees):
            return max(stored.size, 1), "audit tree's compact range is malformed"
        for (level, index), mine, theirs in zip(subtrees, self._compact.hashes, hashes, strict=True):
            if not hmac.compare_digest(mine, theirs):
                return (index << level) + 1, "audit tree's stored root does not match the leaves"
        return self._beyond()

    def _beyond(self) -> Problem | None:
        """Leaves and tiles beyond the tree as it is now (an append meanwhile only grows it)."""
        current_head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
        with self._gov.session() as session:
            beyond = session.scalar(select(func.min(AuditLeaf.seq)).where(AuditLeaf.seq > current_head))
            if beyond is not None:
                return int(beyond), "leaf beyond the chain head"
            rows = list(session.execute(select(AuditTile.level, AuditTile.idx, func.length(AuditTile.hashes))))
        with self._gov.session() as session:
            size = int(session.scalar(select(AuditTree.size).where(AuditTree.id == 1)) or 0)
        edges = edge_tiles(size)
        for level, index, length in rows:
            hashes = size >> (TILE_HEIGHT * level)
            full = hashes // TILE_WIDTH
            width = TILE_WIDTH if index < full else edges.get(level, (full, 0))[1] if index == full else 0
            if length > width * HASH or length % HASH:
                first = (index * TILE_WIDTH << (TILE_HEIGHT * level)) + 1
                return first, f"stored tile {tiles.TileRef(level, index).path} lies beyond the tree"
        return None
