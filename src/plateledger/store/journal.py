"""Ingest intents on disk, and a full disk named as such.

Before a write pass inserts anything, the read keys (owner, key) each of its batches is about to insert are
written to one file under ``DATA/reads/intents/`` (``<name>.keys``, TSV: batch, owner, key), and each batch's
intent entry in the audit log names the file and its batch (``<name>/<batch>``). The file is removed once every
batch of the pass has its outcome entry. A file still there at start-up belongs to a pass that did not finish
(a crash, or an outcome that could not be written): ``ingest/reconcile.py`` counts, per batch, how many of its
keys the store holds and appends the outcome the pass never wrote. Keys a batch is about to insert are fresh (not
in the store before it, and in no other batch of the pass), so the count is exactly what that batch stored.
"""

from __future__ import annotations

import errno
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plateledger.core.errors import StorageFull
from plateledger.store.sql import READ_KEY

_log = logging.getLogger("plateledger.store.reads")
_STRUCTURE = "batch UInt32, owner UInt32, key UInt64"
#: How ClickHouse and the OS word a full disk (ENOSPC, or a reservation ClickHouse refused).
_DISK_FULL = re.compile(
    r"No space left on device|errno: 28|NOT_ENOUGH_SPACE|Not enough space|Cannot reserve|database or disk is full|"
    r"could not extend file",
    re.I,
)


def is_disk_full(error: BaseException | str) -> bool:
    """Whether ``error`` (an OSError, an engine's error or its text) says the disk is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return _DISK_FULL.search(str(error)) is not None


def storage_full(where: Path, error: BaseException | str) -> StorageFull:
    """The error a full disk under ``where`` raises. The client reads that the disk is full; the path and the
    engine's or the OS's words go to the operator's log (and stay as a note on the error)."""
    text = str(error) or error.__class__.__name__
    _log.error("disk full: the reads store at %s could not write: %s", where, text[:2000])
    full = StorageFull("disk full: the reads store could not write; the write is not acknowledged")
    full.add_note(f"{where}: {text}")
    return full


@dataclass(frozen=True)
class JournalBatch:
    """One batch of an unfinished pass: ``fresh`` keys it was about to insert, ``stored`` of them in the store."""

    batch: int
    owner: int
    fresh: int
    stored: int


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Journal:
    """The intent files of one reads store; ``query`` and ``rows`` run its SQL (the caller holds the write lock)."""

    def __init__(
        self,
        directory: Path,
        query: Callable[[str, dict[str, Any] | None], Any],
        rows: Callable[[str, dict[str, Any] | None], list[list[Any]]],
    ) -> None:
        directory.mkdir(exist_ok=True)
        self.directory = directory
        self._query = query
        self._rows = rows

    def write(self, fresh_table: str) -> str:
        """Write the keys of ``fresh_table`` (batch, owner, key) to a new intent file; return its name."""
        name = uuid.uuid4().hex
        partial = self.directory / f"{name}.partial"
        self._query(
            f"INSERT INTO FUNCTION file({_quoted(partial)}, 'TSV', '{_STRUCTURE}') "
            f"SELECT batch, owner, key FROM {fresh_table}",
            None,
        )
        partial.rename(self.directory / f"{name}.keys")  # whole or absent
        return name

    def names(self) -> list[str]:
        """Intent files left by passes that did not finish, oldest first; partial ones (a crash while one was
        written, before anything was inserted) are removed."""
        for partial in self.directory.glob("*.partial"):
            partial.unlink(missing_ok=True)
        found = sorted(self.directory.glob("*.keys"), key=lambda p: p.stat().st_mtime_ns)
        return [p.stem for p in found]

    def batches(self, name: str) -> list[JournalBatch]:
        """Per batch of intent file ``name``: the keys it was to insert and how many of them ``reads`` holds. The
        keys are the reads' 64-bit hashes (``sql.READ_KEY``), compared with the hashes of the owners' stored reads
        (a scan, after a crash only): ``read_keys`` holds narrower keys, which another read may share."""
        source = f"file({_quoted(self.directory / f'{name}.keys')}, 'TSV', '{_STRUCTURE}')"
        rows = self._rows(
            f"SELECT batch, any(owner), count(), countIf((owner, key) IN (SELECT owner, {READ_KEY} FROM reads "
            f"WHERE owner IN (SELECT DISTINCT owner FROM {source}))) FROM {source} GROUP BY batch ORDER BY batch",
            None,
        )
        return [JournalBatch(int(b), int(o), int(f), int(s)) for b, o, f, s in rows]

    def drop(self, name: str) -> None:
        (self.directory / f"{name}.keys").unlink(missing_ok=True)
