"""`plateledger backup` beside a running server (forwarded to it with the operator token) and `plateledger
restore` after the source directory is lost, end to end through real processes."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.integration.test_processes import data, post, run, server, tokens  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

OPERATOR_TOKEN = "operator-token-of-the-test-suite-0123456789"


@pytest.fixture(autouse=True)
def _operator_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server and the CLI share the instance's operator token (set before the server starts)."""
    monkeypatch.setenv("PLATELEDGER_OPERATOR_TOKEN", OPERATOR_TOKEN)


def test_backup_while_serving_then_restore_after_the_source_is_lost(
    data: Path,  # noqa: F811
    tokens: dict[str, str],  # noqa: F811
    server: tuple[subprocess.Popen[bytes], str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proc, url = server
    now = int(time.time() * 1000)
    reads = [{"plate": f"7BK{i:04d}", "ts": now - i * 1000, "camera": "cam-1"} for i in range(100)]
    assert post(url, tokens["dev"], reads)["stored"] == 100
    dest = tmp_path / "backup"
    made = orjson.loads(run("backup", str(dest), "--data", str(data), "--json").stdout)
    assert made["manifest"]["per_owner"] == {"bayview-pd": 100}
    assert (dest / "manifest.json").exists()

    monkeypatch.delenv("PLATELEDGER_OPERATOR_TOKEN")
    refused = run("backup", str(tmp_path / "other"), "--data", str(data), check=False)
    assert refused.returncode == 3
    assert "operator_token" in refused.stderr
    proc.terminate()
    proc.wait(timeout=30)

    shutil.rmtree(data)  # the source directory is lost
    restored = tmp_path / "restored"
    report = orjson.loads(run("restore", str(dest), "--data", str(restored), "--json").stdout)
    assert (report["reads"], report["retention_removed"]) == (100, 0)
    assert "audit log intact" in run("audit", "verify", "--data", str(restored)).stdout
    listed = orjson.loads(run("audit", "list", "--data", str(restored), "--limit", "1000", "--json").stdout)
    actions = [e["action"] for e in listed["entries"]]
    at = actions.index("backup.restored")
    assert actions[at : at + 3] == ["backup.restored", "retention.run", "retention.completed"]
    assert "ingest.batch" in actions

    (dest / "manifest.json").write_text("{}")
    broken = run("restore", str(dest), "--data", str(tmp_path / "again"), check=False)
    assert broken.returncode == 10
    assert broken.stderr.startswith("error: ")
    assert not (tmp_path / "again").exists()
