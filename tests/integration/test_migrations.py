"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plateledger.core.crashpoints import POINT_ENV
from plateledger.store.governance import Governance
from plateledger.store.models import Base

#: The newest migration.
HEAD = "0016"


def test_migrations_match_models(tmp_path: Path) -> None:
    governance = Governance(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with governance.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        governance.close()


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    Governance(url).close()
    governance = Governance(url)
    try:
        with governance.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
    finally:
        governance.close()


def test_a_first_start_killed_between_migrations_leaves_a_store_the_next_start_migrates(tmp_path: Path) -> None:
    """Issue 17: a process killed during the first start's migrations left a SQLite governance database that no
    later start could open (the DDL of the migrations already run had committed; their version row had not)."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    killed = subprocess.run(
        [sys.executable, "-c", f"from plateledger.store.governance import Governance; Governance({url!r})"],
        env={**os.environ, POINT_ENV: "governance.migration_applied"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with sqlite3.connect(tmp_path / "g.db") as raw:  # nothing of the interrupted upgrade is left
        assert raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    governance = Governance(url)
    try:
        with governance.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        governance.close()
