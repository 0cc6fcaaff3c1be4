"""Consistent copies of the stores, for ``plateledger backup`` and ``restore`` (``backup/``).

Reads store: ``ALTER TABLE ... FREEZE`` hard-links the active parts of ``reads`` and ``read_keys`` under
``DATA/reads/shadow/NAME`` in milliseconds, under the store's write lock (no ingest pass lands in between, nor half
of one); the parts are then copied to the backup outside the lock, while the server goes on ingesting and
searching, and the hard links are removed (a leftover ``shadow`` from a killed backup is removed on open). chDB's
``BACKUP TABLE ... TO File()`` works as well (with ``backups.allowed_path`` set at start-up) but runs as one
statement for the whole copy, and chDB serves one statement at a time, so every search and ingest would wait for
it. Restore copies the parts into the new, empty tables' ``detached`` directories and attaches them (ClickHouse
checks each part's checksums).

Governance store (SQLite): a read transaction opened while the reads store's write lock is held fixes the snapshot
(WAL mode: writers go on); SQLite's online backup API then copies exactly that snapshot, page by page.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import make_url

from plateledger.store.reads import ReadsStore

T = TypeVar("T")
TABLES = ("reads", "read_keys")


def copy_file(src: str, dst: str) -> str:
    """Copy one file and sync it to disk (a backup must survive a crash right after it reports success)."""
    shutil.copyfile(src, dst)
    with open(dst, "rb") as handle:
        os.fsync(handle.fileno())
    return dst


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=copy_file)


def _table_dir(store: ReadsStore, table: str) -> Path:
    return Path(
        str(
            store._scalar(
                "SELECT data_paths[1] FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
                {"t": table},
            )
        )
    )


def freeze(store: ReadsStore, name: str, during: Callable[[dict[int, int]], T]) -> T:
    """Hard-link the active parts of both tables under ``shadow/NAME`` and, still under the store's write lock,
    call ``during`` with the reads per owner id that the frozen parts hold (it takes the governance snapshot)."""
    with store.writing():
        for table in TABLES:
            store._query(f"ALTER TABLE {table} FREEZE WITH NAME '{name}'")  # name: [a-z0-9_] only
        return during(owner_counts(store))


def copy_frozen(store: ReadsStore, name: str, dest: Path) -> None:
    """Copy the parts frozen under ``name`` to ``dest/TABLE/PART`` and remove the hard links."""
    shadow = store.path / "shadow" / name
    try:
        for table in TABLES:
            table_dir = _table_dir(store, table)
            frozen = shadow / table_dir.relative_to(store.path.resolve())
            target = dest / table
            if frozen.is_dir():
                copy_tree(frozen, target)
            else:  # an empty table freezes nothing
                target.mkdir(parents=True)
    finally:
        shutil.rmtree(shadow, ignore_errors=True)


def attach(store: ReadsStore, src: Path) -> None:
    """Attach the parts under ``src/TABLE`` (a backup's) to the store's empty tables."""
    with store.writing():
        for table in TABLES:
            parts = sorted(p for p in (src / table).iterdir() if p.is_dir())
            if not parts:
                continue
            detached = _table_dir(store, table) / "detached"
            for part in parts:
                copy_tree(part, detached / part.name)
            store._query(f"ALTER TABLE {table} ATTACH PARTITION ID 'all'")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite governance URL (None for another engine)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


class SqliteSnapshot:
    """A read transaction on the governance database: what it sees is fixed when it opens."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("BEGIN")
        row = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        self.head: tuple[int, str] = (int(row[0]), str(row[1])) if row else (0, "0" * 64)

    def agencies(self) -> dict[int, str]:
        """Agency id -> slug, as the snapshot has them."""
        return {int(i): str(s) for i, s in self._conn.execute("SELECT id, slug FROM agencies")}

    def copy_to(self, dest: Path) -> None:
        with sqlite3.connect(dest) as target:
            self._conn.backup(target)
        target.close()
        with open(dest, "rb") as handle:
            os.fsync(handle.fileno())

    def close(self) -> None:
        self._conn.execute("COMMIT")
        self._conn.close()


@contextmanager
def sqlite_snapshot(path: Path) -> Iterator[SqliteSnapshot]:
    snapshot = SqliteSnapshot(path)
    try:
        yield snapshot
    finally:
        snapshot.close()


def owner_counts(store: ReadsStore) -> dict[int, int]:
    """Reads per owner id (counts only: no read leaves the store)."""
    return {int(o): int(n) for o, n in store._rows("SELECT owner, count() FROM reads GROUP BY owner")}
