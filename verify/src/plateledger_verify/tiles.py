"""C2SP tlog-tiles: tile paths, which tiles a tree consists of, reading hashes from tiles, entry bundles.

A tile at tile level ``L`` and index ``N`` holds up to 256 consecutive Merkle hashes of tree level ``8 * L``:
hash ``i`` is the perfect subtree ``(8L, 256N + i)`` (see :mod:`.merkle` for the ``(level, index)``
addressing). A full tile is 256 hashes (8,192 bytes); the rightmost tiles of a tree are partial, ``W`` hashes
wide, served at ``tile/<L>/<N>.p/<W>``. Entry bundles (``tile/entries/<N>[.p/<W>]``) hold the entries whose
leaf hashes make level-0 tile ``N``, each prefixed by its length as a big-endian uint16.

Any Merkle node can be computed from one tile: node ``(h, k)`` with ``h = 8L + r`` (``0 <= r < 8``) is the
root of the ``2**r`` hashes ``k * 2**r ...`` of tile level ``L`` — see :func:`node_location`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from plateledger_verify import merkle
from plateledger_verify.errors import MalformedError, ProofError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
FULL_TILE_BYTES = TILE_WIDTH * merkle.HASH_SIZE  # 8,192
MAX_TILE_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF

#: ``kind`` of an entry-bundle :class:`TileRef`.
ENTRIES = "entries"


@dataclass(frozen=True, slots=True)
class TileRef:
    """One tile (``level`` 0..63) or entry bundle (``level`` is ``None``), full when ``width`` is 256."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.level is not None and not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValueError(f"tile level {self.level} not in 0..{MAX_TILE_LEVEL}")
        if self.index < 0:
            raise ValueError(f"tile index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile width {self.width} not in 1..{TILE_WIDTH}")

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log's prefix, e.g. ``tile/1/x001/234`` or ``tile/entries/005.p/17``."""
        head = ENTRIES if self.level is None else str(self.level)
        tail = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{head}/{format_index(self.index)}{tail}"

    @property
    def start(self) -> int:
        """Index of the first leaf the tile spans (its *start index*, for a full tile)."""
        return self.index << (TILE_HEIGHT * ((self.level or 0) + 1))

    def full(self) -> TileRef:
        """The full tile this partial tile grows into."""
        return TileRef(self.level, self.index)


def format_index(n: int) -> str:
    """``N`` in zero-padded 3-digit path elements, all but the last prefixed ``x``: 1234067 -> x001/x234/067."""
    if n < 0:
        raise ValueError(f"tile index {n} is negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


_INDEX = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_PATH = re.compile(r"tile/(0|[1-9][0-9]?|entries)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


def parse_index(text: str) -> int:
    """Inverse of :func:`format_index`; refuses non-canonical forms (``x000/001``, missing ``x``, ...)."""
    if not _INDEX.fullmatch(text):
        raise MalformedError(f"tile index {text!r} is not in x001/x234/067 form")
    n = int(text.replace("x", "").replace("/", ""))
    if format_index(n) != text:
        raise MalformedError(f"tile index {text!r} is not canonical (leading zero group)")
    return n


def parse_path(path: str) -> TileRef:
    """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (below the prefix) as a :class:`TileRef`."""
    m = _PATH.fullmatch(path)
    if not m:
        raise MalformedError(f"{path!r} is not a tile or entry bundle path")
    level_text, index_text, width_text = m.groups()
    width = int(width_text) if width_text else TILE_WIDTH
    if width_text and width >= TILE_WIDTH:
        raise MalformedError(f"partial tile width {width} must be below {TILE_WIDTH}")
    level = None if level_text == ENTRIES else int(level_text)
    if level is not None and level > MAX_TILE_LEVEL:
        raise MalformedError(f"tile level {level} above {MAX_TILE_LEVEL}")
    return TileRef(level, parse_index(index_text), width)


# --- which tiles make a tree ---------------------------------------------------------------------------------


def tiles_for_size(size: int, *, entries: bool = False) -> Iterator[TileRef]:
    """Every tile (full and partial) of the tree of ``size`` leaves, level by level, left to right.

    With ``entries``, also the entry bundles (alongside level 0). A size of 70,000 gives 273 full level-0 tiles,
    a partial one of width 112, one full level-1 tile, a partial level-1 tile of width 17 and a partial level-2
    tile of width 1.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    level = 0
    while size >> (TILE_HEIGHT * level):
        yield from _level_tiles(level, 0, size)
        if entries and level == 0:
            yield from (TileRef(None, t.index, t.width) for t in _level_tiles(0, 0, size))
        level += 1


def tiles_added(old_size: int, new_size: int, *, entries: bool = False) -> Iterator[TileRef]:
    """The tiles the tree of ``new_size`` has that the tree of ``old_size`` has not (what growing it writes)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"tree cannot shrink from {old_size} to {new_size}")
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        yield from _level_tiles(level, old_size, new_size)
        if entries and level == 0:
            yield from (TileRef(None, t.index, t.width) for t in _level_tiles(0, old_size, new_size))
        level += 1


def _level_tiles(level: int, old_size: int, new_size: int) -> Iterator[TileRef]:
    old_hashes = old_size >> (TILE_HEIGHT * level)
    new_hashes = new_size >> (TILE_HEIGHT * level)
    first = old_hashes // TILE_WIDTH  # the first tile that changed (or the old partial one)
    full = new_hashes // TILE_WIDTH
    for index in range(first, full):
        yield TileRef(level, index)
    width = new_hashes % TILE_WIDTH
    if width and new_hashes != old_hashes:
        yield TileRef(level, full, width)


def tile_for_hash(level: int, index: int, size: int) -> TileRef:
    """The tile holding stored hash ``index`` of tile level ``level`` in the tree of ``size`` (full or partial)."""
    hashes = size >> (TILE_HEIGHT * level)
    if not 0 <= index < hashes:
        raise ValueError(f"tree of size {size} has no hash {index} at tile level {level}")
    tile_index = index // TILE_WIDTH
    if tile_index < hashes // TILE_WIDTH:
        return TileRef(level, tile_index)
    return TileRef(level, tile_index, hashes % TILE_WIDTH)


@dataclass(frozen=True, slots=True)
class NodeLocation:
    """Where Merkle node ``(level, index)`` comes from: ``count`` hashes of one tile from ``offset`` on."""

    tile_level: int
    tile_index: int
    offset: int
    count: int


def node_location(level: int, index: int) -> NodeLocation:
    """The tile hashes whose perfect-subtree root is Merkle node ``(level, index)``."""
    if level < 0 or index < 0:
        raise ValueError(f"no Merkle node ({level}, {index})")
    tile_level, r = divmod(level, TILE_HEIGHT)
    first = index << r
    return NodeLocation(tile_level, first // TILE_WIDTH, first % TILE_WIDTH, 1 << r)


def split_hashes(data: bytes, width: int | None = None) -> list[bytes]:
    """A tile's bytes as its hashes; refuses a length that is not ``width`` (or any 1..256) hashes."""
    count, rest = divmod(len(data), merkle.HASH_SIZE)
    if rest or not 1 <= count <= TILE_WIDTH or (width is not None and count != width):
        want = f"{width} hashes" if width is not None else "1-256 hashes"
        raise MalformedError(f"tile of {len(data)} bytes is not {want} of {merkle.HASH_SIZE} bytes")
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


TileFetcher = Callable[[TileRef], bytes]
"""``fetch(tile)`` returns the bytes of a tile (full or partial) of the tree; raises if it has none."""


class TileHashReader:
    """A :data:`merkle.HashReader` for the tree of ``size`` leaves, served from tiles.

    Each node costs at most one tile fetch; fetched tiles are kept (a proof touches O(log n) of them) and
    checked for the width the tree size implies.
    """

    def __init__(self, size: int, fetch: TileFetcher) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[TileRef, list[bytes]] = {}

    def tile(self, ref: TileRef) -> list[bytes]:
        """The hashes of ``ref``; a partial tile may be answered by its full tile (clients may fall back to it)."""
        hashes = self._tiles.get(ref)
        if hashes is None:
            data = self._fetch(ref)
            if ref.is_partial and len(data) == FULL_TILE_BYTES:
                hashes = split_hashes(data)[: ref.width]
            else:
                hashes = split_hashes(data, ref.width)
            self._tiles[ref] = hashes
        return hashes

    def __call__(self, level: int, index: int) -> bytes:
        if (index + 1) << level > self.size:
            raise ValueError(f"node ({level}, {index}) is not complete in a tree of size {self.size}")
        loc = node_location(level, index)
        ref = tile_for_hash(loc.tile_level, loc.tile_index * TILE_WIDTH + loc.offset + loc.count - 1, self.size)
        hashes = self.tile(ref)[loc.offset : loc.offset + loc.count]
        return merkle.root_of_leaf_hashes(hashes) if len(hashes) > 1 else hashes[0]


def tile_hashes_from_nodes(ref: TileRef, read: merkle.HashReader) -> bytes:
    """The bytes of tile ``ref`` built from stored Merkle nodes (level ``8 * ref.level``)."""
    if ref.level is None:
        raise ValueError("entry bundles hold entries, not hashes")
    level = TILE_HEIGHT * ref.level
    first = ref.index * TILE_WIDTH
    return b"".join(read(level, first + i) for i in range(ref.width))


# --- entry bundles ---------------------------------------------------------------------------------------------


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries as one bundle: each prefixed by its length as a big-endian uint16 (at most 256 entries)."""
    out = bytearray()
    count = 0
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big") + entry
        count += 1
    if not 1 <= count <= TILE_WIDTH:
        raise ValueError(f"a bundle holds 1-{TILE_WIDTH} entries, not {count}")
    return bytes(out)


def decode_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """The entries of a bundle; refuses truncation, trailing bytes and a count other than ``width``."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise MalformedError(f"entry bundle truncated in the length of entry {len(entries)}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise MalformedError(f"entry bundle truncated in entry {len(entries)} ({length} bytes announced)")
        entries.append(data[pos : pos + length])
        pos += length
        if len(entries) > TILE_WIDTH:
            raise MalformedError(f"entry bundle holds more than {TILE_WIDTH} entries")
    if not entries or (width is not None and len(entries) != width):
        raise MalformedError(f"entry bundle holds {len(entries)} entries, expected {width or '1-256'}")
    return entries


def check_bundle(entries: Sequence[bytes], tile: Sequence[bytes]) -> None:
    """Raise unless each entry's leaf hash is the matching hash of the level-0 tile."""
    if len(entries) != len(tile):
        raise ProofError(f"bundle has {len(entries)} entries for a tile of {len(tile)} hashes")
    for i, (entry, h) in enumerate(zip(entries, tile, strict=True)):
        if merkle.leaf_hash(entry) != h:
            raise ProofError(f"entry {i} of the bundle does not hash to its tile hash")
