"""The public files of the audit log's Merkle tree, as ``/log/tile/...`` serves them (C2SP tlog-tiles).

``tile/<L>/<N>[.p/<W>]`` is a hash tile, ``tile/entries/<N>[.p/<W>]`` an entry bundle (the leaf data of 256
entries, or of the first W, each prefixed by its length as a big-endian uint16). A leaf holds only the entry's
public part and the commitment to its private part (:mod:`plateledger.audit.public`): no plate, user, client
address, case number or note is ever served. A full tile never changes, so it may be cached for good; a partial
one is replaced by a wider one as the log grows (each partial tile's content never changes either, but clients
should ask again soon for the wider one). Anything the tree does not hold (yet) is :class:`NotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass

from plateledger.audit.tree import LogTree
from plateledger.core.errors import NotFound
from plateledger_verify import tiles
from plateledger_verify.errors import MalformedError

#: Cache-Control of a full tile or bundle: it never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Cache-Control of a partial tile or bundle: a wider one follows as the log grows.
PARTIAL = "public, max-age=10"
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class LogFile:
    body: bytes
    cache_control: str
    content_type: str = CONTENT_TYPE


class LogFiles:
    """Tiles and entry bundles of the audit tree, by their tlog-tiles path."""

    def __init__(self, tree: LogTree) -> None:
        self._tree = tree

    def file(self, path: str) -> LogFile:
        """The file at ``path`` (below the log's prefix, e.g. ``tile/0/x001/234.p/17``)."""
        try:
            ref = tiles.parse_path(path)
        except MalformedError as exc:
            raise NotFound(f"no log file {path[:200]!r}: {exc}") from exc
        if ref.level is None:
            body = self._tree.bundle(ref.index, ref.width)
        else:
            body = self._tree.tile(ref.level, ref.index, ref.width)
        if body is None:
            raise NotFound(f"{ref.path} is beyond the audit tree (it holds {self._tree.size()} entries)")
        return LogFile(body, PARTIAL if ref.is_partial else IMMUTABLE)
