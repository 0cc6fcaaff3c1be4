"""Signed checkpoints of the audit log: the log key and its refusals, checkpoints a verifier checks with
``plateledger_verify``, witnesses as real processes, publication only when the quorum is met, and what /healthz and
the metrics say when it is not."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from plateledger.app import create_app
from plateledger.core.errors import ConfigurationError
from plateledger.core.settings import DEV_LOG_KEY_NAME, DEV_LOG_ORIGIN, load_settings
from plateledger.platform import Platform
from plateledger.store.models import AuditWitnessState
from plateledger_verify.checkpoint import check_consistent, open_checkpoint
from plateledger_verify.errors import QuorumError
from plateledger_verify.note import b64
from plateledger_verify.policy import open_checkpoint_with_policy, parse_policy
from tests.integration import witness_kit
from tests.integration.witness_kit import ORIGIN, log_key, start, stop, write_policy
from tests.support import METRICS_AUTH, METRICS_TOKEN, seed_agency, spawned_server

CLI = [sys.executable, "-m", "plateledger"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


# -- the key ------------------------------------------------------------------------------------------------------
def test_init_key_writes_a_private_key_once_and_prints_the_verifier_key(tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    made = cli("log", "init-key", "--origin", "city.example/audit", "--out", str(key))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("PRIVATE+KEY+city.example/audit+")
    vkey = made.stdout.split("verifier key: ")[1].split()[0]
    policy = parse_policy(made.stdout.split("/log/policy):\n")[1])
    assert str(policy.logs[0].key) == vkey
    assert policy.quorum == "none"
    again = cli("log", "init-key", "--origin", "city.example/audit", "--out", str(key))
    assert again.returncode != 0
    assert "never overwritten" in again.stderr
    assert "Traceback" not in again.stderr
    assert cli("log", "init-key", "--origin", "bad origin", "--out", str(tmp_path / "b")).returncode != 0


def test_production_refuses_a_missing_misplaced_or_open_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    production = {"environment": "production", "data": data, "log_origin": ORIGIN}
    with pytest.raises(ConfigurationError, match="log_key_file: required in production"):
        load_settings(**production)
    with pytest.raises(ConfigurationError, match="development origin"):
        load_settings(environment="production", data=data, log_key_file=tmp_path / "k")
    data.mkdir()
    inside, _ = log_key(data)
    with pytest.raises(ConfigurationError, match="inside the data directory"):
        load_settings(**production, log_key_file=inside)
    outside, _ = log_key(tmp_path)
    os.chmod(outside, 0o640)
    with pytest.raises(ConfigurationError, match="mode 0640"):
        load_settings(**production, log_key_file=outside)
    os.chmod(outside, 0o600)
    assert load_settings(**production, log_key_file=outside).log_key_file == outside
    # A key of another origin is refused when the platform opens.
    other = load_settings(data=data, log_key_file=outside, log_origin="another.example/audit")
    with pytest.raises(ConfigurationError, match="not of log_origin"):
        Platform.open(other)


def test_development_generates_a_named_key_in_the_data_directory(platform: Platform) -> None:
    key = platform.settings.data / DEV_LOG_KEY_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert platform.checkpoints.identity.origin == DEV_LOG_ORIGIN


# -- checkpoints without witnesses ----------------------------------------------------------------------------------
def test_a_checkpoint_is_signed_served_and_verifies(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    missing = client.get("/log/checkpoint")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    seed_agency(platform, "city")
    first = platform.checkpoints.checkpoint()
    assert first.signed
    assert first.published
    served = client.get("/log/checkpoint")
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["cache-control"] == "no-cache"
    policy_text = client.get("/log/policy").text
    assert policy_text.startswith(f"log {platform.checkpoints.identity.signer.verifier} http://testserver/log\n")
    policy = parse_policy(policy_text)
    verified = open_checkpoint_with_policy(served.content, policy)
    size, root = platform.checkpoints.status().tree_size, first.checkpoint.root  # type: ignore[union-attr]
    assert (verified.checkpoint.size, verified.checkpoint.root) == (size, root)
    assert verified.checkpoint.origin == DEV_LOG_ORIGIN

    assert platform.checkpoints.checkpoint().signed is False  # nothing new
    seed_agency(platform, "county")
    second = platform.checkpoints.checkpoint()
    assert second.signed
    assert second.published
    newer = open_checkpoint_with_policy(client.get("/log/checkpoint").content, policy)
    proof = platform.audit.tree.consistency_proof(size, newer.checkpoint.size)
    check_consistent(verified.checkpoint, newer.checkpoint, proof)
    health = client.get("/healthz").json()["log"]
    assert health["published_size"] == health["signed_size"] == health["tree_size"] == newer.checkpoint.size
    report = client.get("/transparency/city.json").json()["checkpoint"]
    assert (report["origin"], report["size"], report["witnesses"]) == (DEV_LOG_ORIGIN, newer.checkpoint.size, [])
    page = client.get("/transparency/city").text
    assert b64(newer.checkpoint.root) in page
    assert "plateledger-verify init --policy log.policy &amp;&amp; plateledger-verify update" in page
    assert health["quorum"] == "none"
    assert health["quorum_met"] is True


# -- witnesses as separate processes --------------------------------------------------------------------------------
@pytest.mark.slow
def test_cosigned_by_a_witness_process_then_unmet_quorum_publishes_nothing_new(
    tmp_path: Path, platform_factory: Callable[..., Platform]
) -> None:
    key_file, signer = log_key(tmp_path)
    vkey = str(signer.verifier)
    with witness_kit.witnesses(tmp_path, vkey, ["alpha", "beta"], running=False) as (alpha, beta):
        start(alpha, vkey)
        policy_file = write_policy(tmp_path / "witnesses.policy", [alpha, beta], "both", "group both all alpha beta")
        one_of_two = write_policy(tmp_path / "one.policy", [alpha], "alpha")
        platform = platform_factory(
            log_key_file=key_file, log_origin=ORIGIN, witness_policy_file=one_of_two, metrics_token=METRICS_TOKEN
        )
        seed_agency(platform, "city")
        run = platform.checkpoints.checkpoint()
        assert run.published, run.reason
        client = TestClient(create_app(platform=platform))
        policy = parse_policy(client.get("/log/policy").text)
        first = open_checkpoint_with_policy(client.get("/log/checkpoint").content, policy)
        assert [k.name for k in first.cosignatures] == ["alpha.test/witness"]

        # More entries: the witness is sent a consistency proof from the size it holds, and cosigns again.
        seed_agency(platform, "county")
        assert platform.checkpoints.checkpoint().published
        second = open_checkpoint_with_policy(client.get("/log/checkpoint").content, policy)
        assert second.checkpoint.size > first.checkpoint.size
        # Our record of the witness's size lost: its 409 names the size and the push is retried from there.
        with platform.governance.session() as session:
            session.execute(delete(AuditWitnessState))
        seed_agency(platform, "port")
        retried = platform.checkpoints.checkpoint()
        assert retried.published, retried.reason
        published_size = retried.checkpoint.size  # type: ignore[union-attr]
        platform.close()

        # A 2-of-2 policy with beta down: signed, not published; /healthz and the metrics say why.
        platform = platform_factory(
            log_key_file=key_file, log_origin=ORIGIN, witness_policy_file=policy_file, metrics_token=METRICS_TOKEN
        )
        client = TestClient(create_app(platform=platform))
        seed_agency(platform, "harbor")
        unmet = platform.checkpoints.checkpoint()
        assert unmet.signed
        assert not unmet.published
        assert "quorum both not met: cosigned by alpha; failed: beta" in unmet.reason
        served = open_checkpoint(client.get("/log/checkpoint").content, policy.log_keys, policy.witness_keys)
        assert served.checkpoint.size == published_size  # the older, quorum-met checkpoint stays the published one
        with pytest.raises(QuorumError):  # what a verifier pinning the 2-of-2 policy would say of the new one
            open_checkpoint_with_policy(unmet.checkpoint.note, parse_policy(client.get("/log/policy").text))  # type: ignore[union-attr]
        health = client.get("/healthz").json()["log"]
        assert health["quorum_met"] is False
        assert health["published_size"] == published_size < health["signed_size"]
        assert "beta" in health["reason"]
        assert health["witnesses"]["beta"]["cosigned"] is False
        metrics = client.get("/metrics", headers=METRICS_AUTH).text
        assert "plateledger_log_quorum_met 0.0" in metrics
        assert 'plateledger_log_witness_cosigned{witness="beta"} 0.0' in metrics
        assert f'plateledger_log_size{{of="published"}} {float(published_size)}' in metrics

        # Beta comes up: the next run pushes only to it, and the checkpoint is published cosigned by both.
        start(beta, vkey)
        done = platform.checkpoints.checkpoint()
        assert not done.signed
        assert done.published, done.reason
        assert [w.name for w in done.witnesses] == ["beta"]
        both = open_checkpoint_with_policy(
            client.get("/log/checkpoint").content, parse_policy(client.get("/log/policy").text)
        )
        assert sorted(k.name for k in both.cosignatures) == ["alpha.test/witness", "beta.test/witness"]
        assert client.get("/healthz").json()["log"]["quorum_met"] is True
        assert "plateledger_log_quorum_met 1.0" in client.get("/metrics", headers=METRICS_AUTH).text
        stop(beta)


# -- the server: its checkpoint job, the operator route and the CLI beside it ----------------------------------------
OPERATOR_TOKEN = "operator-token-of-the-checkpoint-tests-0123456789"


def _log_health(url: str) -> dict[str, Any]:
    health: dict[str, Any] = httpx2.get(f"{url}/healthz", timeout=10).json()["log"]
    return health


@pytest.mark.slow
def test_on_demand_through_the_server_and_the_job_of_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    added = cli(
        "agencies", "add", "city", "--name", "City", "--kind", "municipal", "--state", "CA", "--data", str(data)
    )
    assert added.returncode == 0, added.stderr
    quiet = {"operator_token": OPERATOR_TOKEN, "checkpoint_interval_s": "0", "checkpoint_every_entries": "1000000"}
    with spawned_server(data, **quiet) as (_proc, url):
        assert httpx2.get(f"{url}/log/checkpoint").status_code == 404  # the job is not due: nothing signed yet
        refused = httpx2.post(f"{url}/api/v1/operator/checkpoint", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        monkeypatch.delenv("PLATELEDGER_OPERATOR_TOKEN", raising=False)
        closed = cli("log", "checkpoint", "--data", str(data))
        assert closed.returncode == 3
        assert "operator_token" in closed.stderr
        monkeypatch.setenv("PLATELEDGER_OPERATOR_TOKEN", OPERATOR_TOKEN)
        made = cli("log", "checkpoint", "--data", str(data), "--json")
        assert made.returncode == 0, made.stderr
        answer = orjson.loads(made.stdout)
        assert answer["signed"]
        assert answer["published"]
        served = httpx2.get(f"{url}/log/checkpoint")
        assert served.content.decode() == answer["checkpoint"]["note"]
        policy = parse_policy(httpx2.get(f"{url}/log/policy").text)
        assert open_checkpoint_with_policy(served.content, policy).checkpoint.size == answer["checkpoint"]["size"]
        httpx2.post(f"{url}/api/v1/operator/checkpoint")  # refused and audited: the tree grows
        direct = httpx2.post(f"{url}/api/v1/operator/checkpoint", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert direct.status_code == 200
        assert direct.json()["signed"]
    monkeypatch.delenv("PLATELEDGER_OPERATOR_TOKEN")
    # The job of `plateledger serve`: a checkpoint after every entry here, without anyone asking.
    with spawned_server(data, checkpoint_every_entries="1") as (_proc, url):
        httpx2.post(f"{url}/api/v1/operator/checkpoint")  # refused (no operator token set) and audited
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = _log_health(url)
            if health["published_size"] == health["tree_size"] and health["tree_size"] > answer["checkpoint"]["size"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the job did not publish the new entries: {health}")
