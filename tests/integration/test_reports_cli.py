"""`plateledger access-log` and `plateledger report transparency` as real processes, alone and beside a server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.sharing.service import preset_policy
from tests.integration.test_processes import CLI, run
from tests.support import free_port, ingest, read, search, seed_agency, wait_for_health

pytestmark = pytest.mark.slow

PLATE = "7ABC123"


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two agencies, a read, an own search and a withheld one; tokens by user. Real clock (tokens must be valid)."""
    data = tmp_path / "data"
    platform = Platform.open(load_settings(data=data))
    try:
        alpha = seed_agency(platform, "alpha")
        beta = seed_agency(platform, "beta")
        platform.policies.set(alpha.admin.actor, "alpha", preset_policy("california"), preset="california")
        now = platform.clock.now_ms()
        ingest(platform, alpha, [read(PLATE, camera="alpha-fixed", ts=now - 60_000)])
        search(platform, alpha.investigator, PLATE, case_number="OWN-1")
        search(platform, beta.investigator, PLATE, case_number="B-7")
        tokens = {f"{kit.slug}-{role}": secret for kit in (alpha, beta) for role, secret in kit.tokens.items()}
    finally:
        platform.close()
    return data, tokens


def access_log(data: Path, token: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("access-log", "--token", token, "--data", str(data), *extra, check=check)


def test_access_log_and_transparency_report_locally_and_through_a_server(
    seeded: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    data, tokens = seeded
    local = orjson.loads(access_log(data, tokens["alpha-auditor"], "--json").stdout)
    assert [(e["requester"], e["case_number"], e["outcome"], e["rows"]) for e in local["entries"]] == [
        ("alpha", "OWN-1", "permitted", 1),
        ("beta", "B-7", "withheld", None),
    ]
    assert local["entries"][1]["query"]["plate"] == PLATE
    text = access_log(data, tokens["alpha-admin"], "--agency", "alpha").stdout
    assert "beta/beta-investigator stolen_vehicle case B-7 plate" in text
    assert "withheld: no sharing agreement with this owner (default deny)" in text
    refused = access_log(data, tokens["alpha-investigator"], check=False)
    assert refused.returncode == 3
    assert refused.stderr.startswith("error: an investigator cannot read the agency's access log")
    assert access_log(data, tokens["beta-admin"], "--agency", "alpha", check=False).returncode == 3

    report = orjson.loads(run("report", "transparency", "alpha", "--format", "json", "--data", str(data)).stdout)
    assert (
        "No one, including this agency, may search its reads for immigration enforcement." in report["policy"]["text"]
    )
    assert report["searches"]["total"] == 2
    page = tmp_path / "alpha.html"
    run("report", "transparency", "alpha", "--output", str(page), "--data", str(data))
    assert "immigration enforcement" in page.read_text()
    assert PLATE not in page.read_text()
    assert run("report", "transparency", "nowhere", "--data", str(data), check=False).returncode == 4

    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "--data", str(data), "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_for_health(f"http://127.0.0.1:{port}")
        forwarded = orjson.loads(access_log(data, tokens["alpha-auditor"], "--json").stdout)
        assert forwarded == local  # viewing it is audited, but views are not searches: the log is unchanged
        named = orjson.loads(access_log(data, tokens["alpha-auditor"], "--agency", "alpha", "--json").stdout)
        assert named == local
        refused = access_log(data, tokens["alpha-investigator"], check=False)
        assert refused.returncode == 3
        assert refused.stderr.startswith("error: an investigator cannot read the agency's access log")  # as locally
        served = orjson.loads(run("report", "transparency", "alpha", "--format", "json", "--data", str(data)).stdout)
        assert served["policy"] == report["policy"]
        assert served["searches"] == report["searches"]
        html = run("report", "transparency", "alpha", "--data", str(data)).stdout
        assert html.startswith("<!DOCTYPE html>")
    finally:
        server.terminate()
        server.wait(timeout=30)
