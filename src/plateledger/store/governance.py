"""Governance store: engine set-up (SQLite WAL or PostgreSQL), migrations, and sessions.

SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed audit entry survives a crash; the
brief measured an audit append at 0.1 ms p50 / 0.25 ms p99 in this mode.

A server takes SQLite's checkpoints apart from its commits (:meth:`Governance.checkpoint_apart`). By default the
commit that grows the write-ahead log past 1,000 pages copies the log into the database file and syncs it before
it returns: 45-121 ms, inside whichever search's audit entry was being committed (the exact search's p99 tail on
a quiet machine; docs/benchmarks.md, "Performance II, third pass"). The server's connections turn the automatic
checkpoint off and a background thread runs a passive checkpoint each second, which never blocks a reader or a
writer. Commits stay ``synchronous=FULL``: durability does not change, only who copies the log back.

Writers of one process take turns (:class:`WriteTurn`). SQLite lets one connection write at a time, and a
connection that finds the write lock held waits in its busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 ... ms
between tries, so a search's audit entry could wait up to 25 ms behind a background job's transaction of 1 ms
(``benchmarks/write_turn.py``: from the holder's commit to the waiter's write, p50 1.9 ms; with turns 0.15). A
connection of this process takes the process's turn, a Python lock woken as soon as the holder commits or rolls
back, before its first write statement, and gives it back when its transaction ends; other processes (the CLI)
still meet the busy timeout, and a writer that gets no turn within it fails as a busy database does.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, select, update
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from plateledger.core.errors import ConfigurationError, NotFound
from plateledger.store.models import Agency, HotListGeneration, PolicyGeneration


def redact(url: str) -> str:
    """A database URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


_log = logging.getLogger("plateledger.store.governance")

#: Seconds between the background checkpoints of a server's SQLite governance store.
CHECKPOINT_EVERY_S = 1.0
#: SQLite's busy timeout (ms): how long a connection waits for another process's write lock, and for its turn.
BUSY_TIMEOUT_MS = 10_000


class WriteTurn:
    """The write turn of one SQLite database in this process: a lock that a connection holds from its first write
    statement to the end of that transaction (:class:`_TurnConnection`). A waiter wakes when the holder gives the
    turn back, not at the next step of SQLite's sleeping busy handler. ``taken`` and ``waited`` count the turns
    taken and those that found the turn held (for tests and diagnostics)."""

    def __init__(self, timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self.taken = 0
        self.waited = 0

    def take(self) -> None:
        """Wait for the turn; ``sqlite3.OperationalError`` (as SQLite's own busy timeout) when it does not come."""
        if not self._lock.acquire(blocking=False):
            if not self._lock.acquire(timeout=self.timeout_s):
                raise sqlite3.OperationalError(
                    f"database is locked: no write turn within {self.timeout_s:g} s (another writer of this process)"
                )
            self.waited += 1
        self.taken += 1

    def give(self) -> None:
        self._lock.release()


_TURNS: dict[str, WriteTurn] = {}
_TURNS_LOCK = threading.Lock()


def write_turn(url: str) -> WriteTurn:
    """The process's write turn for the SQLite database of ``url`` (one per file; an in-memory database its own)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return WriteTurn()
    key = str(Path(database).resolve())
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, WriteTurn())


#: Statements that never start a write: reads, and the ends of transactions. Any other statement takes the turn
#: (pysqlite begins its deferred transaction before a DML statement, so the connection holds no read snapshot
#: then: SQLite's upgrade of a read snapshot to a write, SQLITE_BUSY_SNAPSHOT, cannot arise from waiting here).
_READS = frozenset({"SELECT", "PRAGMA", "EXPLAIN", "VALUES", "COMMIT", "END", "ROLLBACK", "RELEASE"})
_FIRST_WORD = re.compile(r"\s*(\w+)")
_DML = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def writes(statement: str) -> bool:
    """Whether ``statement`` may take SQLite's write lock (a ``WITH`` counts when it holds a DML statement)."""
    first = _FIRST_WORD.match(statement)
    word = first.group(1).upper() if first else ""
    if word == "WITH":
        return _DML.search(statement) is not None
    return word not in _READS


class _TurnCursor(sqlite3.Cursor):
    connection: _TurnConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _TurnCursor:
        self.connection.before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.settle()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _TurnCursor:
        self.connection.before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.settle()

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        self.connection.before("BEGIN")  # a script may write anything
        try:
            return super().executescript(sql_script)
        finally:
            self.connection.settle()


class _TurnConnection(sqlite3.Connection):
    """A pysqlite connection that holds its process's :class:`WriteTurn` while its transaction writes."""

    turn: WriteTurn | None = None
    holding = False

    def cursor(self, factory: Any = _TurnCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:
        return self.cursor().executescript(sql_script)

    def before(self, sql: str) -> None:
        if self.turn is not None and not self.holding and writes(sql):
            self.turn.take()
            self.holding = True

    def settle(self) -> None:
        """Give the turn back once no transaction is open (committed, rolled back, or none began)."""
        if self.holding and not self.in_transaction:
            self._give()

    def _give(self) -> None:
        self.holding = False
        assert self.turn is not None
        self.turn.give()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.settle()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.settle()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holding:  # (a closed connection has no in_transaction to ask)
                self._give()


class _SqlitePragmas:
    """Set on each new SQLite connection; ``autocheckpoint`` False once the server checkpoints in the background."""

    def __init__(self, turn: WriteTurn | None = None) -> None:
        self.autocheckpoint = True
        self.turn = turn

    def __call__(self, dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, _TurnConnection):
            dbapi_connection.turn = self.turn
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={1000 if self.autocheckpoint else 0}")
        cursor.close()


def make_engine(url: str, pragmas: _SqlitePragmas | None = None) -> Engine:
    """The engine of ``url``; a SQLite one's connections take the process's write turn of the file to write."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "factory": _TurnConnection})
        event.listen(engine, "connect", pragmas or _SqlitePragmas(write_turn(url)))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (or to ``revision``: tests of upgrades start from an older one)."""
    config = Config()
    config.set_main_option("script_location", str(files("plateledger.store") / "migrations"))
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # pysqlite opens a transaction only before DML, so each CREATE or ALTER of a migration would commit on
            # its own: a process killed mid-upgrade left tables the next start's migrations could not create again
            # (an unusable store). One explicit transaction: the whole upgrade or nothing, as on PostgreSQL.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def missing_sqlite_file(url: str) -> Path | None:
    """The database file of SQLite ``url`` when it does not exist: opening it would create an empty store, which a
    reader such as ``plateledger audit verify`` must not mistake for an intact one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


class Governance:
    """Owns the engine and hands out sessions; repositories take a Session."""

    def __init__(self, url: str) -> None:
        self.url = url
        #: SQLite: this process's write turn of the file (None on PostgreSQL, where writers meet at row locks).
        self.turn: WriteTurn | None = None
        self._pragmas = _SqlitePragmas()
        try:
            if url.startswith("sqlite"):
                self.turn = self._pragmas.turn = write_turn(url)
            self.engine = make_engine(url, self._pragmas)
            migrate(self.engine)
        except (SQLAlchemyError, ValueError) as exc:
            raise ConfigurationError(
                f"governance store {redact(url)} unusable: {exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
            ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    def agency(self, slug: str) -> Agency:
        """The agency of ``slug`` (:func:`agency_named`, in a transaction of its own)."""
        with self.session() as session:
            return agency_named(session, slug)

    def checkpoint_apart(self, every_s: float = CHECKPOINT_EVERY_S) -> None:
        """SQLite: from now on no commit copies the write-ahead log into the database file; a background thread
        does it every ``every_s`` seconds (module docstring). Connections already open are replaced. Nothing to do
        on PostgreSQL, or when already started."""
        if self.dialect != "sqlite" or self._checkpointer is not None:
            return
        self._pragmas.autocheckpoint = False
        self.engine.dispose()  # pooled connections reopen with the pragma; checked-out ones close when returned
        self._checkpointer = threading.Thread(
            target=self._checkpoints, args=(every_s,), name="governance-checkpoints", daemon=True
        )
        self._checkpointer.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, frames in the log, frames checkpointed), as SQLite reports them."""
        with self.engine.connect() as connection:
            busy, log, done = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(busy), int(log), int(done)

    def _checkpoints(self, every_s: float) -> None:
        while not self._stop_checkpoints.wait(every_s):
            try:
                self.checkpoint()
            except OperationalError as exc:  # the disk or the file: the next commit fails loudly, try again later
                _log.warning("governance checkpoint failed: %s", exc)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join()
            self._checkpointer = None
        self.engine.dispose()


def agency_named(session: Session, slug: str) -> Agency:
    """The agency of ``slug`` in ``session``; :class:`NotFound` naming the slug when there is none."""
    agency = session.scalars(select(Agency).where(Agency.slug == slug)).one_or_none()
    if agency is None:
        raise NotFound(f"no agency {slug!r}")
    return agency


def bump_policy_generation(session: Session) -> None:
    """Call in the transaction of any change the policy gate depends on (policies, agreements, agencies,
    cameras): the gate reloads its snapshot when the counter moves."""
    session.execute(update(PolicyGeneration).where(PolicyGeneration.id == 1).values(value=PolicyGeneration.value + 1))


def bump_hotlist_generation(session: Session) -> None:
    """Call in the transaction of any change of hot lists or their entries: the matcher reloads its mirror of
    the active entries when the counter moves (``alerts/matcher.py``)."""
    session.execute(
        update(HotListGeneration).where(HotListGeneration.id == 1).values(value=HotListGeneration.value + 1)
    )


def hotlist_generation(session: Session) -> int:
    return int(session.get_one(HotListGeneration, 1).value)


def owners_holding(session: Session, column: Any, owners: Iterable[int]) -> list[int]:
    """The ids of ``owners`` that ``column`` (a table's owner column) names, in one statement: a sweep then asks
    per owner only about the few that hold rows, not about every agency of a network (retention's sweeps run
    under the audit log's append lock, which every search waits for: docs/benchmarks.md, "Performance II,
    second pass")."""
    present = set(session.scalars(select(column).distinct()))
    return [owner for owner in owners if owner in present]
