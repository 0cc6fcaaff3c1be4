"""The writers of one process take turns at the SQLite governance store (``Governance.turn``): a connection waits
for the process's write turn, woken as soon as the holder's transaction ends, instead of meeting SQLite's write lock
and sleeping in its busy handler (1, 2, 5, 10, 15, 20, 25 ... ms between tries, whatever the holder took). Real
SQLite files and threads.

The tests turn the busy handler off (``busy_timeout=0``) in this process's connections: a writer that met another
connection's write lock then fails at once with "database is locked" instead of sleeping, so a run without such a
failure shows that no writer of the process waited in SQLite's handler; every wait was a turn handed over."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from plateledger.audit.events import SearchRefused
from plateledger.audit.log import SYSTEM, AuditLog
from plateledger.core.clock import FixedClock
from plateledger.core.errors import AuditUnavailable
from plateledger.store.governance import Governance, writes
from tests.support import NOW_MS, in_threads, scratch_governance

THREADS = 4
WRITES = 40


def busy_timeout(governance: Governance, ms: int) -> None:
    """From now on this process's connections to ``governance`` wait ``ms`` in SQLite's busy handler."""

    def pragma(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={ms}")

    event.listen(governance.engine, "connect", pragma)
    governance.engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Governance, Path]]:
    path = tmp_path / "turns.db"
    governance = scratch_governance(path, "CREATE TABLE side (writer TEXT, n INTEGER)")
    busy_timeout(governance, 0)
    yield governance, path
    governance.close()


def test_writers_of_one_process_never_wait_in_sqlites_busy_handler(store: tuple[Governance, Path]) -> None:
    """Audit appends (serialised by the log's own lock) and writers on other connections, each holding short
    transactions of several statements, all at once: on the code before the turn, a writer that met another's
    write lock failed here at once ("database is locked"); with it, every write commits and the waits were
    hand-overs of the turn."""
    governance, _ = store
    audit = AuditLog(governance, FixedClock(NOW_MS))
    turn = governance.turn
    assert turn is not None
    taken = turn.taken

    def appender() -> None:
        for n in range(WRITES):
            audit.append(SYSTEM, SearchRefused(reason=f"turn {n}"))

    def writer(name: str) -> Callable[[], None]:
        def write() -> None:
            for n in range(WRITES):
                with governance.engine.begin() as connection:
                    connection.execute(text("INSERT INTO side VALUES (:w, :n)"), {"w": name, "n": n})
                    connection.execute(text("SELECT count(*) FROM side")).scalar()
                    connection.execute(
                        text("UPDATE side SET n = n + 1 WHERE writer = :w AND n = :n"), {"w": name, "n": n}
                    )

        return write

    errors = in_threads(appender, appender, *(writer(f"w{i}") for i in range(THREADS)))
    assert errors == []
    with governance.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM side")).scalar() == THREADS * WRITES
    result = audit.verify()
    assert result.intact
    assert result.entries == 2 * WRITES
    # One turn per write transaction (a transaction's later statements write in the turn it holds), and the
    # writers did wait for each other: for the turn, handed over, not in SQLite's handler (which is off).
    assert turn.taken - taken == (2 + THREADS) * WRITES
    assert turn.waited > 0


def test_a_write_that_gets_no_turn_fails_and_the_audit_entry_is_not_made(store: tuple[Governance, Path]) -> None:
    """Fail closed: an audit append that waits past the turn's timeout raises AuditUnavailable, nothing written."""
    governance, _ = store
    audit = AuditLog(governance, FixedClock(NOW_MS))
    turn = governance.turn
    assert turn is not None
    turn.timeout_s = 0.2
    holding = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with governance.engine.begin() as connection:
            connection.execute(text("INSERT INTO side VALUES ('holder', 0)"))
            holding.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(AuditUnavailable, match="audit log append failed"):
            audit.append(SYSTEM, SearchRefused(reason="no turn"))
    finally:
        done.set()
        holder.join()
    assert audit.verify().entries == 0
    audit.append(SYSTEM, SearchRefused(reason="after the holder"))  # the turn came back with the holder's commit
    assert audit.verify().entries == 1


def test_another_process_still_meets_the_busy_timeout_and_the_turn_is_given_back(
    store: tuple[Governance, Path],
) -> None:
    """A connection outside the process's turn (the CLI) holds SQLite's write lock: this process's writer waits its
    busy timeout and fails as before; its failed transaction gives the turn back, so the next write proceeds."""
    governance, path = store
    busy_timeout(governance, 100)
    turn = governance.turn
    assert turn is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO side VALUES ('cli', 0)")
        with pytest.raises(OperationalError, match="database is locked"), governance.engine.begin() as connection:
            connection.execute(text("INSERT INTO side VALUES ('server', 0)"))
        other.execute("COMMIT")
    finally:
        other.close()
    waited = turn.waited
    with governance.engine.begin() as connection:
        connection.execute(text("INSERT INTO side VALUES ('server', 1)"))
    assert turn.waited == waited  # the turn was free: the failed writer had given it back
    with governance.engine.connect() as connection:
        assert connection.execute(text("SELECT writer FROM side ORDER BY writer")).scalars().all() == ["cli", "server"]


def test_a_failed_statement_gives_the_turn_back_with_its_rollback(store: tuple[Governance, Path]) -> None:
    governance, _ = store
    turn = governance.turn
    assert turn is not None
    turn.timeout_s = 0.05

    def write_then_fail() -> None:
        with governance.engine.begin() as connection:
            connection.execute(text("INSERT INTO side VALUES ('first', 0)"))
            connection.execute(text("INSERT INTO missing VALUES (1)"))

    with pytest.raises(OperationalError, match="no such table"):
        write_then_fail()
    waited = turn.waited
    with governance.engine.begin() as connection:  # this thread again: a turn not given back would fail here
        connection.execute(text("INSERT INTO side VALUES ('second', 0)"))
    assert turn.waited == waited


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT 1", False),
        ("  pragma wal_checkpoint(PASSIVE)", False),
        ("COMMIT", False),
        ("ROLLBACK TO SAVEPOINT sa_1", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("INSERT INTO side VALUES (1, 2)", True),
        ("update side set n = 1", True),
        ("DELETE FROM side", True),
        ("BEGIN IMMEDIATE", True),
        ("SAVEPOINT sa_1", True),
        ("CREATE TABLE t (x)", True),
        ("WITH x AS (SELECT 1) INSERT INTO side SELECT 'a', * FROM x", True),
    ],
)
def test_which_statements_take_the_turn(statement: str, expected: bool) -> None:
    assert writes(statement) is expected
