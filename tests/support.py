"""Helpers shared by the test suite: seeding real stores, canonical read lines, throwaway PostgreSQL databases.

Fixtures live in ``conftest.py``; these are plain functions so that module- and session-scoped fixtures (and
hypothesis tests, which must not use function-scoped fixtures) can call them too.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from plateledger.audit.log import SYSTEM, Actor
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, FixedClock
from plateledger.core.logging import LogFormat, LogLevel, configure_logging
from plateledger.core.settings import ENV_PREFIX, Settings, load_settings
from plateledger.platform import Platform
from plateledger.search.plate import PlateSearch, SearchResult
from plateledger.store.cameras import CameraInfo
from plateledger.store.governance import Governance
from plateledger.store.models import Agency
from plateledger.store.reads import BatchResult, ReadsStore

#: The fixed "now" of the test suite: 2025-06-01T12:00:00Z.
NOW_MS = 1_748_779_200_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

ROLES = ("admin", "investigator", "auditor", "device")
#: The suite's ``metrics_token`` (the settings fixtures set it): ``/metrics`` opens to it only.
METRICS_TOKEN = "metrics-token-of-the-test-suite-0123456789"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass(frozen=True)
class CameraSpec:
    external_id: str
    lat: float | None = 37.7749
    lon: float | None = -122.4194
    mobile: bool = False


@dataclass
class AgencyKit:
    """One seeded agency: its row, one principal and token secret per role, and its camera ids."""

    agency: Agency
    principals: dict[str, Principal] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    cameras: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.agency.slug

    @property
    def admin(self) -> Principal:
        return self.principals["admin"]

    @property
    def investigator(self) -> Principal:
        return self.principals["investigator"]

    @property
    def auditor(self) -> Principal:
        return self.principals["auditor"]

    @property
    def device(self) -> Principal:
        return self.principals["device"]


def seed_agency(
    platform: Platform,
    slug: str,
    *,
    name: str | None = None,
    kind: str = "municipal",
    country: str = "US",
    state: str = "CA",
    roles: tuple[str, ...] = ROLES,
    cameras: tuple[CameraSpec, ...] | None = None,
) -> AgencyKit:
    """Create an agency with one user and token per role in ``roles`` and its cameras (default: a fixed
    camera ``<slug>-fixed`` and a mobile unit ``<slug>-mobile``), all through the registry and token service."""
    agency = platform.registry.create_agency(
        SYSTEM, slug=slug, name=name or f"{slug} police", kind=kind, country=country, state=state
    )
    kit = AgencyKit(agency=agency)
    for spec in cameras if cameras is not None else default_cameras(slug):
        platform.registry.add_camera(
            SYSTEM,
            agency_slug=slug,
            external_id=spec.external_id,
            mobile=spec.mobile,
            lat=spec.lat,
            lon=spec.lon,
        )
        kit.cameras.append(spec.external_id)
    for role in roles:
        username = f"{slug}-{role}"
        platform.registry.create_user(SYSTEM, agency_slug=slug, username=username, role=role)
        secret = platform.tokens.issue(SYSTEM, username).secret
        kit.tokens[role] = secret
        kit.principals[role] = platform.tokens.authenticate(secret)
    return kit


def default_cameras(slug: str) -> tuple[CameraSpec, ...]:
    return (
        CameraSpec(f"{slug}-fixed"),
        CameraSpec(f"{slug}-mobile", lat=None, lon=None, mobile=True),
    )


def line(**fields: Any) -> bytes:
    """One canonical read as a JSON line."""
    return orjson.dumps(fields)


def read(plate: str, *, camera: str, ts: int | str = NOW_MS - HOUR_MS, **extra: Any) -> dict[str, Any]:
    return {"plate": plate, "ts": ts, "camera": camera, **extra}


def ingest(platform: Platform, kit: AgencyKit, reads: list[dict[str, Any]]) -> BatchResult:
    """Store canonical reads for ``kit``'s agency, as its device would."""
    actor: Actor = kit.device.actor if "device" in kit.principals else SYSTEM
    return platform.ingest.store_lines(
        actor, kit.agency, [orjson.dumps(r) for r in reads], channel="test", source="test"
    )


#: The one camera of the reads-store-level tests (``store_block``): owner 1's ``cam``.
STORE_CAMERAS = (CameraInfo("cam", "cam", False, 1.0, 2.0),)


def store_block(
    store: ReadsStore,
    block: bytes,
    *,
    owner: int = 1,
    before_commit: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """``block`` (JSON lines) through the reads store's ingest path, at camera ``cam``, with no future tolerance."""
    return store.ingest_block(
        block,
        owner=owner,
        cameras=STORE_CAMERAS,
        country="US",
        now_ms=NOW_MS,
        future_tolerance_ms=0,
        max_read_bytes=16384,
        source="test",
        before_commit=before_commit,
    )


def search(
    platform: Platform,
    principal: Principal,
    plate: str,
    *,
    purpose: str | None = "stolen_vehicle",
    case_number: str | None = "2025-000123",
    **options: Any,
) -> SearchResult:
    return platform.searches.search(
        principal, PlateSearch(plate=plate, purpose=purpose, case_number=case_number, **options)
    )


@dataclass(frozen=True)
class Transaction:
    """One committed governance transaction: the thread that committed it and its statements."""

    thread: str
    statements: tuple[str, ...]

    def writes(self, table: str) -> bool:
        return any(s.startswith((f"INSERT INTO {table} ", f"UPDATE {table} ")) for s in self.statements)


def writing(transactions: list[Transaction], table: str) -> list[Transaction]:
    """The transactions of ``transactions`` that insert into or update ``table``."""
    return [t for t in transactions if t.writes(table)]


@contextmanager
def governance_transactions(platform: Platform) -> Iterator[list[Transaction]]:
    """Record the governance store's transactions while inside, as each commit is issued (SQLAlchemy's ``commit``
    event on the real engine comes just before the database's commit: wait for rows, not for this list)."""
    committed: list[Transaction] = []
    open_statements: dict[int, list[str]] = {}

    def execute(connection: object, _cursor: object, statement: str, *_: object) -> None:
        open_statements.setdefault(id(connection), []).append(statement.lstrip())

    def commit(connection: object) -> None:
        statements = tuple(open_statements.pop(id(connection), []))
        committed.append(Transaction(threading.current_thread().name, statements))

    def rollback(connection: object) -> None:
        open_statements.pop(id(connection), None)

    engine = platform.governance.engine
    listeners = (("before_cursor_execute", execute), ("commit", commit), ("rollback", rollback))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield committed
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


@contextmanager
def opened(settings: Settings, clock: Clock) -> Iterator[Platform]:
    """A Platform closed on exit (for tests that close and reopen one data directory)."""
    platform = Platform.open(settings, clock=clock)
    try:
        yield platform
    finally:
        platform.close()


@contextmanager
def module_platform(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Platform]:
    """A Platform on a fresh data directory shared by one test module (the developer's PLATELEDGER_* settings
    do not leak in), with the clock fixed at NOW_MS; closed on exit."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_settings_environment(monkeypatch)
        conf = load_settings(data=Path(tmp_path_factory.mktemp(name)) / "data")
    prime_governance(tmp_path_factory, conf.data)
    with opened(conf, FixedClock(NOW_MS)) as platform:
        yield platform


# -- a migrated governance store, copied instead of migrated again --------------------------------------------
TEMPLATE_DATABASE = "governance-template"


def governance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite governance store at the newest migration, made once per test session (per xdist worker:
    each has its own base directory). Migrating a new store takes about 0.3 s; copying this one, a millisecond."""
    folder = tmp_path_factory.getbasetemp() / TEMPLATE_DATABASE
    path = folder / "governance.db"
    if not path.exists():
        folder.mkdir(exist_ok=True)
        building = folder / "building.db"
        Governance(f"sqlite:///{building}").close()  # migrates, checkpoints the WAL and removes it on close
        building.rename(path)
    return path


def prime_governance(tmp_path_factory: pytest.TempPathFactory, data: Path) -> None:
    """Put a copy of the migrated template at ``data``/governance.db, for a test that opens a Platform on ``data``
    right away: the store it opens is the one a migration from nothing makes (``Platform.open`` still runs the
    migrations, finding them applied). Tests of the migrations themselves, and of a data directory opened for the
    first time, use a directory without it."""
    data.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(governance_template(tmp_path_factory), data / "governance.db")


def clear_settings_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove PLATELEDGER_* settings of the developer's shell (test-suite variables, PLATELEDGER_TEST_*, stay)."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) and not name.startswith(ENV_PREFIX + "TEST_"):
            monkeypatch.delenv(name)


@contextmanager
def captured_logs(fmt: LogFormat = "json", level: LogLevel = "debug") -> Iterator[io.StringIO]:
    """Every log record, as :func:`configure_logging` formats it, written to the yielded buffer; the root logger's
    handlers and level are put back on exit."""
    root = logging.getLogger()
    handlers, old_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging(level, fmt, stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(old_level)


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """The records of :func:`captured_logs` in JSON, each of which must be one line."""
    return [orjson.loads(entry) for entry in buffer.getvalue().splitlines()]


# -- a server in a subprocess ------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_health(url: str, timeout_s: float = 60) -> None:
    """Wait until ``url``/healthz answers 200 (a server started in a subprocess)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@contextmanager
def spawned_server(data: Path, **settings: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``plateledger serve`` on ``data`` in a subprocess (``settings`` as PLATELEDGER_* variables; stderr piped,
    as text), once it answers /healthz; killed on exit if still running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) or k.startswith(ENV_PREFIX + "TEST_")}
    env.update({ENV_PREFIX + name.upper(): value for name, value in settings.items()})
    command = [sys.executable, "-m", "plateledger", "serve", "--data", str(data), "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


# -- throwaway PostgreSQL databases ----------------------------------------------------------------------------
def create_database(server_url: str, *, template: str | None = None) -> tuple[str, str]:
    """Create a fresh database on the server (a copy of database ``template`` if given); return (name, SQLAlchemy
    URL of it)."""
    name = f"pl_test_{secrets.token_hex(6)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def in_threads(*jobs: Callable[[], None]) -> list[BaseException]:
    """Run ``jobs`` in threads together (released at once by a barrier); the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # collected for the test's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def scratch_governance(path: Path, table: str) -> Governance:
    """A SQLite governance store at ``path`` (migrated) with one more table, ``table`` (its CREATE statement)."""
    governance = Governance(f"sqlite:///{path}")
    with governance.engine.begin() as connection:
        connection.execute(text(table))
    return governance
