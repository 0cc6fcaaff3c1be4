"""`plateledger serve` as an operator runs it: JSON log lines on stderr, and SIGTERM ends it within a bound, even
while a request waits on a governance database that another process holds locked."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx2
import orjson
import pytest

from plateledger.store.lock import read_holder
from tests.support import spawned_server

pytestmark = pytest.mark.slow


def test_sigterm_stops_the_server_cleanly_with_json_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with spawned_server(data, log_format="json", shutdown_timeout_s="5") as (proc, url):
        answered = httpx2.get(f"{url}/healthz", headers={"X-Request-ID": "probe-1"})
        assert answered.headers["X-Request-ID"] == "probe-1"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    assert time.monotonic() - started < 10
    assert read_holder(data) is None  # the stores were closed and the lock released, not left to a crash
    records = [orjson.loads(line) for line in stderr.splitlines()]  # every line one JSON record
    messages = {(r["logger"], r["message"]) for r in records}
    assert ("uvicorn.error", "Shutting down") in messages
    assert any(logger == "plateledger.serve" and m.startswith("serving http://") for logger, m in messages)
    access = [r for r in records if r["logger"] == "plateledger.access"]
    assert ("/healthz", 200, "probe-1") in [(r["path"], r["status"], r["request_id"]) for r in access]


def test_sigterm_is_obeyed_while_the_governance_database_is_stuck(tmp_path: Path) -> None:
    """A request waits on the governance database's write lock, which this test holds (SQLite would make it wait
    10 s): the server exits within 2 × shutdown_timeout_s of SIGTERM anyway, with status 1 and a log line."""
    data = tmp_path / "data"
    with spawned_server(data, log_format="json", shutdown_timeout_s="1") as (proc, url):
        holder = sqlite3.connect(data / "governance.db", timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock: the failed sign-in's audit entry must wait for it

        def sign_in() -> None:
            with contextlib.suppress(httpx2.TransportError):  # the server goes away under it: that is the point
                httpx2.post(f"{url}/api/v1/auth/login", json={"username": "nobody", "password": "x"}, timeout=30)

        stuck = threading.Thread(target=sign_in)
        stuck.start()
        time.sleep(1)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
        holder.rollback()
        holder.close()
        stuck.join()
    assert elapsed < 6, f"{elapsed:.1f} s"  # bound 2 s; the request alone would hold it 10 s
    assert proc.returncode == 1, stderr[-2000:]
    records = [orjson.loads(line) for line in stderr.splitlines()]
    assert any(r["level"] == "error" and r["message"].startswith("shutdown not finished") for r in records)
