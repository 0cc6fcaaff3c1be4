"""Fixtures that build real stores in temporary directories: chDB for reads, SQLite or PostgreSQL for governance.

* ``settings`` / ``platform``: a fresh data directory with the default SQLite governance store.
* ``governance_url`` / ``gov_settings`` / ``gov_platform``: the same, run once on SQLite and once on
  PostgreSQL. PostgreSQL needs ``PLATELEDGER_TEST_POSTGRES_URL`` (a server URL such as
  ``postgresql://postgres@127.0.0.1:5433/postgres``; each test gets a database of its own, dropped after).
  Without it the PostgreSQL runs are skipped, except under ``CI=true`` where they fail: CI must test both.
* ``clock``: a :class:`FixedClock` at ``tests.support.NOW_MS``, shared by the platform fixtures.

The platform fixtures (and ``gov_settings`` of a test that also takes ``gov_platform``) start from a copy of a
governance store migrated once per session (``tests.support.prime_governance``, a PostgreSQL template database):
the same store a migration from nothing makes, without paying for the migration in every test.

Seeding helpers (agencies, users, cameras, tokens, reads) are plain functions in ``tests/support.py``.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plateledger.core.clock import FixedClock
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from plateledger.store.governance import Governance
from tests.support import (
    METRICS_TOKEN,
    NOW_MS,
    clear_settings_environment,
    create_database,
    drop_database,
    prime_governance,
)

POSTGRES_ENV = "PLATELEDGER_TEST_POSTGRES_URL"


# -- what the test processes hold at the end ---------------------------------------------------------------------
# chDB leaves about five idle engine threads behind at each start of its embedded server (each Platform opened on a
# new data directory), each holding three /proc files open, and no API of chDB's releases them. A process is limited
# to RLIMIT_NOFILE open files, so the summary line below shows how close each test process came: a suite that grows
# past it must share stores (``module_platform``) or run in more processes (``make test`` runs two parts, each with
# ``pytest -n 2``).
_HELD_BY_WORKER = pytest.StashKey[dict[str, tuple[int, int]]]()


def _held() -> tuple[int, int] | None:
    """Open files and threads (the kernel's count, chDB's included) of this process; None off Linux."""
    try:
        return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its controller prints the summary
        workeroutput["plateledger_held"] = _held()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    held = getattr(node, "workeroutput", {}).get("plateledger_held")
    if held is not None:
        node.config.stash.setdefault(_HELD_BY_WORKER, {})[node.gateway.id] = tuple(held)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    held = config.stash.get(_HELD_BY_WORKER, {}) or ({"pytest": h} if (h := _held()) else {})
    if held:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        each = ", ".join(f"{name}: {fds} files, {threads} threads" for name, (fds, threads) in sorted(held.items()))
        terminalreporter.write_line(f"held at the end (open-file limit {limit}): {each}")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PLATELEDGER_* setting of the developer's shell leaks into a test."""
    clear_settings_environment(monkeypatch)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW_MS)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings(data=data_dir, metrics_token=METRICS_TOKEN)


@pytest.fixture
def platform(settings: Settings, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A Platform on a fresh data directory with the default SQLite governance store."""
    prime_governance(tmp_path_factory, settings.data)
    opened = Platform.open(settings, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def platform_factory(
    data_dir: Path, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Platform]]:
    """Open a Platform with settings overrides (``max_batch_reads=3``...); closed at teardown.

    chDB serves one data directory per process: close one platform before opening another on a different
    directory, and do not combine this fixture with ``platform``.
    """
    opened: list[Platform] = []

    def open_platform(**overrides: Any) -> Platform:
        overrides.setdefault("data", data_dir)
        if not overrides.get("database_url") and not Path(overrides["data"], "governance.db").exists():
            prime_governance(tmp_path_factory, Path(overrides["data"]))
        opened.append(Platform.open(load_settings(**overrides), clock=clock))
        return opened[-1]

    yield open_platform
    for each in reversed(opened):
        each.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the PostgreSQL server the suite may create databases on."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true but {POSTGRES_ENV} is not set: the PostgreSQL governance tests must run in CI "
                "(.ci/run starts a server and sets it)",
                pytrace=False,
            )
        pytest.skip(f"{POSTGRES_ENV} not set (e.g. postgresql://postgres@127.0.0.1:5433/postgres)")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name, url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """Name of a PostgreSQL database at the newest migration, made once per session (per xdist worker), that
    ``governance_url`` copies (``CREATE DATABASE ... TEMPLATE``) for tests that open a Platform on it."""
    name, url = create_database(postgres_server)
    Governance(url).close()
    yield name
    drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def governance_url(
    request: pytest.FixtureRequest, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """SQLAlchemy URL of a fresh governance database: SQLite in the data directory, or PostgreSQL. Empty, unless the
    test takes ``gov_platform`` (which migrates it at once): then a copy of a migrated one."""
    migrated = "gov_platform" in request.fixturenames
    if request.param == "sqlite":
        if migrated:
            prime_governance(tmp_path_factory, data_dir)
        yield f"sqlite:///{data_dir / 'governance.db'}"
    elif not migrated:
        yield request.getfixturevalue("postgres_url")
    else:
        server: str = request.getfixturevalue("postgres_server")
        name, url = create_database(server, template=request.getfixturevalue("postgres_template"))
        yield url
        drop_database(server, name)


@pytest.fixture
def gov_settings(governance_url: str, data_dir: Path) -> Settings:
    # SQLite through the default (no URL given), so the default path is what gets tested.
    database_url = None if governance_url.startswith("sqlite") else governance_url
    return load_settings(data=data_dir, database_url=database_url)


@pytest.fixture
def gov_platform(gov_settings: Settings, governance_url: str, clock: FixedClock) -> Iterator[Platform]:
    """A Platform whose governance store is SQLite, then (second run) PostgreSQL."""
    opened = Platform.open(gov_settings, clock=clock)
    try:
        expected = "sqlite" if governance_url.startswith("sqlite") else "postgresql"
        assert opened.governance.dialect == expected
        yield opened
    finally:
        opened.close()
