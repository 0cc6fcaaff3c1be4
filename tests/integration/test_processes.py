"""Real processes: the CLI end to end, kill -9 durability, and the CLI beside a running server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import orjson
import pytest

from tests.support import free_port, wait_for_health

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "plateledger.cli.main"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with one agency, a camera, a device and an investigator, made through the CLI."""
    d = tmp_path / "data"
    run(
        "agencies",
        "add",
        "bayview-pd",
        "--name",
        "Bayview PD",
        "--kind",
        "municipal",
        "--state",
        "CA",
        "--data",
        str(d),
    )
    run("cameras", "add", "cam-1", "--agency", "bayview-pd", "--lat", "37.8", "--lon", "-122.27", "--data", str(d))
    run("users", "add", "dev", "--agency", "bayview-pd", "--role", "device", "--data", str(d))
    run("users", "add", "inv", "--agency", "bayview-pd", "--role", "investigator", "--data", str(d))
    return d


def token(data: Path, user: str) -> str:
    secret: str = orjson.loads(run("tokens", "create", user, "--data", str(data), "--json").stdout)["token"]
    return secret


@pytest.fixture
def tokens(data: Path) -> dict[str, str]:
    """Tokens are made before a server takes the data directory."""
    return {user: token(data, user) for user in ("dev", "inv")}


@pytest.fixture
def server(data: Path, tokens: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--data", str(data), "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url)
    except AssertionError:
        proc.kill()
        raise
    yield proc, url
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


def post(url: str, secret: str, reads: list[dict[str, object]]) -> dict[str, int]:
    response = httpx2.post(
        f"{url}/api/v1/reads", content=orjson.dumps(reads), headers={"Authorization": f"Bearer {secret}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


def test_jsonl_ingest_mixed_file_twice(data: Path, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    lines = [
        orjson.dumps({"plate": "7ABC123", "ts": now - 60_000, "camera": "cam-1"}),
        b"{broken",
        orjson.dumps({"plate": "7ABC124", "ts": now - 60_000, "camera": "cam-1", "lat": 95, "lon": 0}),
        orjson.dumps({"plate": "7ABC125", "ts": "2026-11-01T08:00:00-08:00", "camera": "cam-1"}),
        orjson.dumps({"plate": "", "ts": now, "camera": "cam-1"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    first = run("ingest", str(path), "--agency", "bayview-pd", "--data", str(data), "--json", check=False)
    assert first.returncode == 1
    summary = orjson.loads(first.stdout)
    assert (summary["stored"], summary["duplicates"], summary["rejected"]) == (2, 0, 3)
    assert [r["index"] for r in summary["files"][0]["rejected"]] == [1, 2, 4]
    second = orjson.loads(
        run("ingest", str(path), "--agency", "bayview-pd", "--data", str(data), "--json", check=False).stdout
    )
    assert (second["stored"], second["duplicates"], second["rejected"]) == (0, 2, 3)
    human = run("ingest", str(path), "--agency", "bayview-pd", "--data", str(data), check=False)
    assert "line 2 rejected: read: not valid JSON" in human.stdout
    assert "stored 0, duplicates 2, rejected 3" in human.stdout


def test_search_refusal_audit_and_tamper_detection(data: Path) -> None:
    inv = token(data, "inv")
    refused = run("search", "plate", "7ABC123", "--case", "C-1", "--token", inv, "--data", str(data), check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("error: purpose: required")
    assert "Traceback" not in refused.stderr
    listed = run("audit", "list", "--action", "search.refused", "--data", str(data), "--json").stdout
    entries = orjson.loads(listed)["entries"]
    assert entries
    assert entries[-1]["outcome"] == "refused"
    assert run("audit", "verify", "--data", str(data)).returncode == 0
    with sqlite3.connect(data / "governance.db") as db:
        db.execute("UPDATE audit_log SET case_number = 'C-2' WHERE action = 'search.refused'")
    broken = run("audit", "verify", "--data", str(data), check=False)
    assert broken.returncode == 1
    assert f"BROKEN at sequence {entries[-1]['seq']}" in broken.stdout


def test_kill_9_after_acknowledged_batches_loses_nothing(
    data: Path, tokens: dict[str, str], server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, url = server
    now = int(time.time() * 1000)
    acknowledged = 0
    for batch in range(5):
        reads = [{"plate": f"K{batch}X{i:04d}", "ts": now - 1000 - i, "camera": "cam-1"} for i in range(1000)]
        acknowledged += post(url, tokens["dev"], reads)["stored"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    from plateledger.core.settings import load_settings
    from plateledger.platform import Platform

    platform = Platform.open(load_settings(data=data))
    try:
        assert platform.reads.count() == acknowledged == 5000
        assert platform.audit.verify().intact
        assert len(platform.audit.entries(action="ingest.batch")) == 5
    finally:
        platform.close()


def test_cli_beside_running_server(
    data: Path, tokens: dict[str, str], server: tuple[subprocess.Popen[bytes], str]
) -> None:
    _, url = server
    now = int(time.time() * 1000)
    post(url, tokens["dev"], [{"plate": "5SRV555", "ts": now - 1000, "camera": "cam-1"}])
    busy = run("ingest", "/dev/null", "--agency", "bayview-pd", "--data", str(data), check=False)
    assert busy.returncode == 5
    assert "in use by another Plateledger process" in busy.stderr
    assert url in busy.stderr
    assert run("audit", "verify", "--data", str(data), check=False).returncode == 5
    # A search goes to the running server: same gate, same audit log.
    found = run(
        "search",
        "plate",
        "5SRV555",
        "--purpose",
        "hit_and_run",
        "--case",
        "C-9",
        "--token",
        tokens["inv"],
        "--data",
        str(data),
        "--json",
    )
    body = orjson.loads(found.stdout)
    assert [r["plate"] for r in body["reads"]] == ["5SRV555"]
    refused = run(
        "search", "plate", "5SRV555", "--case", "C-9", "--token", tokens["inv"], "--data", str(data), check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: purpose:")
    assert body["obtained_under"] == "purpose hit_and_run, case C-9"
