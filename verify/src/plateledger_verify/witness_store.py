"""A witness's memory: the latest checkpoint it cosigned for each log, in SQLite.

c2sp.org/tlog-witness requires the check of a request's ``old`` size against the stored checkpoint and the
recording of the new one to be *one* atomic step, persisted before the witness answers: otherwise two requests
from the same old size could both pass, and the later write could roll the witness back. :meth:`WitnessStore.advance`
is that step: it reads the stored checkpoint, lets the caller decide, and writes the result inside one
``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so a second process on the same file is serialised too),
under a lock shared by this process's threads. The database runs in WAL mode with ``synchronous=FULL``: a
committed answer survives a crash or power loss.

Only the standard library's :mod:`sqlite3`: an oversight body runs this without a database server.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from plateledger_verify.checkpoint import Checkpoint

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0),
    root       BLOB NOT NULL CHECK (length(root) = 32),
    note       BLOB NOT NULL,      -- the signed checkpoint as the log sent it: evidence of what was cosigned
    updated_ms INTEGER NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """The latest checkpoint cosigned for one origin, with the signed note it came in."""

    checkpoint: Checkpoint
    note: bytes
    updated_ms: int


Decide = Callable[[Stored | None], tuple[Checkpoint, bytes]]
"""Given the stored state of an origin (None: never cosigned), return the checkpoint and note to store, or raise."""


class WitnessStore:
    """The SQLite file of one witness. Thread-safe; one instance per process and file."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            self._db.close()
            raise ValueError(f"{self.path}: witness state schema {version}, this version reads {SCHEMA_VERSION}")
        self._db.execute(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, origin: str) -> Stored | None:
        with self._lock:
            return self._read(origin)

    def sizes(self) -> dict[str, int]:
        """Every stored origin's cosigned tree size."""
        with self._lock:
            return dict(self._db.execute("SELECT origin, size FROM checkpoints ORDER BY origin").fetchall())

    def advance(self, origin: str, decide: Decide) -> Stored:
        """Atomically: read ``origin``'s state, call ``decide`` on it, store what it returns, commit.

        Whatever ``decide`` raises rolls back and propagates; nothing is written. Returns what was stored, once
        committed (durably: WAL with ``synchronous=FULL``).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stored = self._read(origin)
                checkpoint, note = decide(stored)
                if checkpoint.origin != origin:
                    raise ValueError(f"decided a checkpoint of {checkpoint.origin!r} for {origin!r}")
                now = time.time_ns() // 1_000_000
                self._db.execute(
                    "INSERT INTO checkpoints (origin, size, root, note, updated_ms) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                    "note = excluded.note, updated_ms = excluded.updated_ms",
                    (origin, checkpoint.size, checkpoint.root, note, now),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return Stored(checkpoint, note, now)

    def _read(self, origin: str) -> Stored | None:
        row = self._db.execute(
            "SELECT size, root, note, updated_ms FROM checkpoints WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return None
        size, root, note, updated_ms = row
        return Stored(Checkpoint(origin, size, root), note, updated_ms)
