"""How many records an input file holds, counted before it is ingested, for the CLI's progress total and ETA.

A quick pass over the bytes (about 0.1 s per 100 MB here; a gzip file is decompressed for it) counting line ends.
JSONL: lines, blank ones included, as the ingest numbers them. CSV: lines less the header (a quoted field with a
line break makes it an estimate). A file that cannot be read gives ``None``: the ingest itself then refuses it,
on the audit log.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Literal

from plateledger.core.errors import InvalidInput
from plateledger.ingest.canonical import open_input

_BLOCK = 1024 * 1024


def count_records(path: Path, fmt: Literal["jsonl", "csv"]) -> int | None:
    """The number of records in ``path`` (see the module's doc), or None when it cannot be read to its end."""
    lines = 0
    last = b"\n"
    try:
        with open_input(path) as handle:
            while block := handle.read(_BLOCK):
                lines += block.count(b"\n")
                last = block[-1:]
    except (InvalidInput, OSError, EOFError, zlib.error):
        return None
    if last != b"\n":
        lines += 1  # a last line without its line end
    return max(lines - 1, 0) if fmt == "csv" else lines
