"""The tree of one verified checkpoint, read from untrusted tiles: every hash and leaf handed out is proven.

:class:`VerifiedLog` reads hash tiles and entry bundles through a fetcher (:class:`~.client.LogClient`) and
proves them against the checkpoint's root before use:

* a **level-0 tile** (the leaf hashes of entries ``256N ...``) is proven by the inclusion proof of its first
  leaf, computed from that same tile and the tiles above it: the proof's first eight hashes fold every other hash
  of the tile, so if it leads to the root, no hash of the tile can differ (SHA-256 collision resistance);
* an **entry bundle** is then checked leaf by leaf against its proven tile (:func:`.tiles.check_bundle`);
* an **inclusion proof** or **consistency proof** is computed from the tiles and verified before it is returned.

A tile that is proven is kept, so reading all leaves costs one proof per 256 entries. Full bundles may be kept in
a local cache directory: they are re-checked against the proven tile every time, so the cache needs no trust.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint
from plateledger_verify.errors import MalformedError, ProofError
from plateledger_verify.tiles import (
    TILE_WIDTH,
    TileFetcher,
    TileHashReader,
    TileRef,
    check_bundle,
    decode_bundle,
    encode_bundle,
    tile_for_hash,
)

BundleFetcher = Callable[[TileRef], list[bytes]]


class VerifiedLog:
    """The tree of ``checkpoint`` (already verified: signature and quorum), proven hash by hash from tiles."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        tiles: TileFetcher,
        bundles: BundleFetcher,
        *,
        cache: Path | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.size = checkpoint.size
        self.reader = TileHashReader(checkpoint.size, tiles)
        self._bundles = bundles
        self._cache = cache
        self._proven: dict[int, list[bytes]] = {}

    def check_root(self) -> None:
        """Raise :class:`ProofError` unless the served tiles hash to the checkpoint's root."""
        if self.size and merkle.root_hash(self.size, self.reader) != self.checkpoint.root:
            raise ProofError(f"the served tiles of tree size {self.size} do not hash to the checkpoint's root")

    def leaf_hashes(self, tile: int) -> list[bytes]:
        """The proven leaf hashes of level-0 tile ``tile`` (entries ``256 * tile ...``)."""
        hashes = self._proven.get(tile)
        if hashes is not None:
            return hashes
        first = tile * TILE_WIDTH
        if not 0 <= first < self.size:
            raise ValueError(f"tree of size {self.size} has no level-0 tile {tile}")
        hashes = self.reader.tile(tile_for_hash(0, first, self.size))
        proof = merkle.inclusion_proof(first, self.size, self.reader)
        try:
            merkle.verify_inclusion(first, self.size, hashes[0], proof, self.checkpoint.root)
        except ProofError as exc:
            raise ProofError(f"level-0 tile {tile} of the served log is not in the checkpointed tree: {exc}") from exc
        self._proven[tile] = hashes
        return hashes

    def served_leaf_hashes(self, tile: int) -> list[bytes]:
        """Level-0 tile ``tile`` as served, NOT proven: only to say which leaf differs once a proof has failed."""
        return self.reader.tile(tile_for_hash(0, tile * TILE_WIDTH, self.size))

    def leaf_hash(self, index: int) -> bytes:
        """The proven hash of leaf ``index`` (entry ``index + 1``)."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {self.size}")
        return self.leaf_hashes(index // TILE_WIDTH)[index % TILE_WIDTH]

    def leaves(self, tile: int) -> list[bytes]:
        """The leaf data of level-0 tile ``tile``, each checked against its proven leaf hash."""
        hashes = self.leaf_hashes(tile)
        ref = TileRef(None, tile, len(hashes))
        entries = self._cached(ref)
        if entries is None:
            entries = self._bundles(ref)
            try:
                check_bundle(entries, hashes)
            except ProofError as exc:
                raise ProofError(f"entry bundle {tile} does not match the checkpointed tree: {exc}") from exc
            self._store(ref, entries)
        return entries

    def iter_leaves(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """``(index, leaf data)`` of every leaf from ``start`` to the end of the tree, proven."""
        for tile in range(start // TILE_WIDTH, (self.size + TILE_WIDTH - 1) // TILE_WIDTH):
            for offset, data in enumerate(self.leaves(tile)):
                index = tile * TILE_WIDTH + offset
                if index >= start:
                    yield index, data

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The inclusion proof of leaf ``index``, verified against the checkpoint's root."""
        leaf = self.leaf_hash(index)
        proof = merkle.inclusion_proof(index, self.size, self.reader)
        merkle.verify_inclusion(index, self.size, leaf, proof, self.checkpoint.root)
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """The consistency proof from the tree of ``old_size`` to this one, computed from the tiles (the caller
        verifies it against the old checkpoint: :func:`.checkpoint.check_consistent`)."""
        return merkle.consistency_proof(old_size, self.size, self.reader)

    # --- the untrusted cache of full bundles ---------------------------------------------------------------

    def _cache_path(self, ref: TileRef) -> Path | None:
        if self._cache is None or ref.is_partial:
            return None
        return self._cache / ref.path

    def _cached(self, ref: TileRef) -> list[bytes] | None:
        path = self._cache_path(ref)
        if path is None or not path.is_file():
            return None
        try:
            entries = decode_bundle(path.read_bytes(), ref.width)
            check_bundle(entries, self.leaf_hashes(ref.index))
        except (OSError, MalformedError, ProofError):
            return None  # a damaged or stale cache entry: fetch it again
        return entries

    def _store(self, ref: TileRef, entries: list[bytes]) -> None:
        path = self._cache_path(ref)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, encode_bundle(entries))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a part (fsync + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
