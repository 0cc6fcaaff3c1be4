"""An audit log that cannot be read (a dropped table, no governance database) is reported in one line with its own
exit code (7, as when it cannot be written), never a traceback and never "intact"; through the CLI and the API."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.clock import SystemClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from tests.integration.test_processes import run
from tests.support import seed_agency

pytestmark = pytest.mark.slow


def tamper(settings: Settings, statement: str) -> None:
    with closing(sqlite3.connect(settings.data / "governance.db")) as db, db:
        db.execute(statement)


@pytest.fixture
def seeded(settings: Settings) -> str:
    """A data directory with a few audit entries; the auditor's token (real clock: it must be valid)."""
    platform = Platform.open(settings, clock=SystemClock())
    try:
        return seed_agency(platform, "alpha", roles=("auditor",)).tokens["auditor"]
    finally:
        platform.close()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("DROP TABLE audit_log", "error: audit log cannot be read, so it cannot be verified: OperationalError: "),
        ("DROP TABLE audit_head", "error: audit log cannot be read, so it cannot be verified: OperationalError: "),
        ("missing database", "error: no governance database at "),
    ],
)
def test_verify_an_unreadable_log_in_one_line(settings: Settings, seeded: str, damage: str, message: str) -> None:
    if damage == "missing database":
        for path in settings.data.glob("governance.db*"):
            path.unlink()
    else:
        tamper(settings, damage)
    result = run("audit", "verify", "--data", str(settings.data), check=False)
    assert result.returncode == 7
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    if damage == "missing database":
        assert not (settings.data / "governance.db").exists()  # no empty store created, to verify as intact


def test_verify_a_missing_data_directory_creates_nothing(tmp_path: Path) -> None:
    result = run("audit", "verify", "--data", str(tmp_path / "nowhere"), check=False)
    assert (result.returncode, result.stderr.count("\n")) == (7, 1)
    assert not (tmp_path / "nowhere").exists()


def test_verify_a_missing_head_row_names_the_break(settings: Settings, seeded: str) -> None:
    tamper(settings, "DELETE FROM audit_head")
    result = run("audit", "verify", "--data", str(settings.data), check=False)
    assert (result.returncode, result.stdout) == (1, "audit log BROKEN at sequence 1: chain head missing\n")


def test_list_an_unreadable_log_in_one_line(settings: Settings, seeded: str) -> None:
    tamper(settings, "DROP TABLE audit_log")
    result = run("audit", "list", "--data", str(settings.data), check=False)
    assert result.returncode == 7
    assert result.stderr.startswith("error: audit log cannot be read, so it cannot be listed")


def test_api_verify_of_an_unreadable_log_is_a_problem(settings: Settings, seeded: str) -> None:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        tamper(settings, "DROP TABLE audit_log")
        client = TestClient(create_app(platform=platform))
        response = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {seeded}"})
    finally:
        platform.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("audit log cannot be read, so it cannot be verified")
