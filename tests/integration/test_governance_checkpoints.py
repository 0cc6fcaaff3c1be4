"""A server's SQLite governance store copies its write-ahead log back into the database file in the background,
never inside a commit (``Governance.checkpoint_apart``): SQLite's automatic checkpoint ran in whichever commit
grew the log past 1,000 pages, a search's audit entry among them (45-121 ms). Real SQLite files; the database
file grows only when a checkpoint copies pages into it, which is what these tests watch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from plateledger.store.governance import Governance
from tests.support import scratch_governance

#: Commits of one 4 KiB row each: well past the 1,000 pages at which SQLite checkpoints by itself.
COMMITS = 1_500


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[tuple[Governance, Path]]:
    path = tmp_path / "governance.db"
    governance = scratch_governance(path, "CREATE TABLE filler (body BLOB)")
    governance.checkpoint()  # the schema in the file: from here on, only a checkpoint grows it
    yield governance, path
    governance.close()


def fill(governance: Governance) -> None:
    for _ in range(COMMITS):
        with governance.engine.begin() as connection:
            connection.execute(text("INSERT INTO filler VALUES (randomblob(4000))"))


def test_by_default_commits_checkpoint_themselves(opened: tuple[Governance, Path]) -> None:
    """The control (and what a CLI process keeps): commits past 1,000 pages copied the log into the file."""
    governance, path = opened
    before = path.stat().st_size
    fill(governance)
    assert path.stat().st_size > before + 1_000 * 4096


def test_a_server_never_checkpoints_in_a_commit_and_its_background_thread_does(
    opened: tuple[Governance, Path],
) -> None:
    governance, path = opened
    governance.checkpoint_apart(every_s=3600)  # the thread waits an hour: only commits could checkpoint
    before = path.stat().st_size
    fill(governance)
    assert path.stat().st_size == before, "a commit copied the log into the database file"
    busy, log, done = governance.checkpoint()
    assert (busy, done) == (0, log)
    assert log > COMMITS
    assert path.stat().st_size > before + COMMITS * 4096
    with governance.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM filler")).scalar() == COMMITS
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: each commit is durable


def test_the_background_thread_checkpoints_on_its_own(opened: tuple[Governance, Path]) -> None:
    governance, path = opened
    governance.checkpoint_apart(every_s=0.05)
    before = path.stat().st_size
    fill(governance)
    deadline = time.monotonic() + 30
    while path.stat().st_size <= before + COMMITS * 4096:
        assert time.monotonic() < deadline, "no background checkpoint within 30 s"
        time.sleep(0.05)
    governance.close()
    assert governance._checkpointer is None  # closed: the thread was stopped and joined
