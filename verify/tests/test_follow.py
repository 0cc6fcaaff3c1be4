"""plateledger-verify init / update / compare / proof against a real log served over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plateledger_verify.cli import main
from plateledger_verify.note import Signer
from tlog_server import LOG, NOV_MS, W1, W2, TestLog, policy_text, serving


@pytest.fixture
def log(tmp_path: Path) -> TestLog:
    built = TestLog(tmp_path / "served")
    for i in range(300):  # a full level-0 tile and a partial one
        built.add(ts_ms=NOV_MS + i * 60_000)
    built.publish()
    return built


@pytest.fixture
def url(log: TestLog) -> Iterator[str]:
    with serving(log.root) as base:
        yield base


def _init(tmp_path: Path, url: str, name: str = "state", quorum: str = "any") -> Path:
    policy = tmp_path / f"{name}.policy"
    policy.write_text(policy_text(quorum))
    state = tmp_path / name
    assert main(["init", "--policy", str(policy), "--url", url, "--state", str(state)]) == 0
    return state


def _update(state: Path) -> int:
    return main(["update", "--state", str(state), "--timeout", "10"])


def test_init_pins_the_policy_and_update_follows_growth(
    tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _init(tmp_path, url)
    assert (state / "policy").read_text().startswith(f"log {LOG.verifier}")
    assert _update(state) == 0
    assert "at tree size 300, cosigned by W1 (first checkpoint, stored)" in capsys.readouterr().out
    first = (state / "checkpoint").read_bytes()
    assert _update(state) == 0
    assert "unchanged at tree size 300" in capsys.readouterr().out
    for i in range(300, 600):
        log.add(ts_ms=NOV_MS + i * 60_000)
    log.publish(witnesses=(W1, W2))
    assert _update(state) == 0
    assert "grew from 300 to 600 consistently, cosigned by W1, W2" in capsys.readouterr().out
    # Every checkpoint seen is kept, by size; the latest is the one to hand to another verifier.
    assert (state / "checkpoints" / "300").read_bytes() == first
    assert (state / "checkpoints" / "600").read_bytes() == (state / "checkpoint").read_bytes()


def test_a_full_tile_where_a_partial_was_asked(tmp_path: Path, log: TestLog, url: str) -> None:
    state = _init(tmp_path, url)
    assert _update(state) == 0  # tree size 300: level-0 tile 1 is partial, 44 wide
    for i in range(300, 520):
        log.add(ts_ms=NOV_MS + i * 60_000)
    log.publish()  # tile 1 is full now
    served = log.root / "log" / "tile"
    assert not (served / "0" / "001.p").exists()  # the partial hash tile is gone (404): fetched full instead
    (served / "entries" / "001.p").mkdir()
    (served / "entries" / "001.p" / "44").write_bytes((served / "entries" / "001").read_bytes())  # answered full
    out, entry = tmp_path / "p", tmp_path / "e"
    assert main(["proof", "290", "--out", str(out), "--entry-out", str(entry), "--state", str(state)]) == 0
    assert entry.read_bytes() == log.entries[289].leaf(290)
    assert main(["proof-check", str(out), "--policy", str(tmp_path / "state.policy"), "--entry", str(entry)]) == 0
    assert _update(state) == 0


def test_rollback_exits_6(tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    state = _init(tmp_path, url)
    assert _update(state) == 0
    log.publish(leaves=log.leaves()[:250])  # tail truncated, head moved back, re-signed by the log
    assert _update(state) == 6
    assert "smaller than 300" in capsys.readouterr().err
    assert len(list((state / "evidence").iterdir())) == 1
    assert b"\n300\n" in (state / "checkpoint").read_bytes()  # nothing stored


def test_same_size_other_root_is_a_fork(
    tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _init(tmp_path, url)
    assert _update(state) == 0
    log.entries[10].purpose = "immigration_enforcement"  # an entry edited, everything re-hashed and re-signed
    log.publish()
    assert _update(state) == 5
    assert "two different roots for tree size 300" in capsys.readouterr().err


def test_rewritten_history_fails_consistency(
    tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _init(tmp_path, url)
    assert _update(state) == 0
    del log.entries[42]  # an entry deleted, later ones renumbered, the tree grown past the old size
    for i in range(300, 400):
        log.add(ts_ms=NOV_MS + i * 60_000)
    log.publish()
    assert _update(state) == 5
    assert "is not shown to extend tree 300" in capsys.readouterr().err
    assert b"\n300\n" in (state / "checkpoint").read_bytes()


def test_unknown_key_quorum_and_extension_lines(
    tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _init(tmp_path, url)
    # Signed by a key the policy does not hold (even under the log's name): 3.
    log.publish(log=Signer.generate(LOG.name))
    assert _update(state) == 3
    # Signed by the log but cosigned by no witness, or by one where the policy needs both: 4.
    log.publish(witnesses=())
    assert _update(state) == 4
    strict = _init(tmp_path, url, "strict", quorum="all")
    log.publish(witnesses=(W1,))
    assert main(["update", "--state", str(strict)]) == 4
    # An extension line smuggled into a signed checkpoint's body: the log's signature no longer verifies, 3.
    cp_text = f"{LOG.name}\n300\n"
    signed = log.publish()
    body = signed.decode().split("\n\n")[0] + "\n"
    assert body.startswith(cp_text)
    log.publish(signed_text=body + "smuggled extension\n")
    assert _update(state) == 3
    # An extension line the log itself signed: the signature is good, the checkpoint is refused as malformed, 2.
    log.publish(extensions=("smuggled extension",))
    assert _update(state) == 2
    err = capsys.readouterr().err
    assert "SignatureError" in err
    assert "QuorumError" in err
    assert "extension line" in err
    assert "Traceback" not in err
    assert not (state / "checkpoint").exists()


def test_two_verifiers_compare_and_catch_a_fork(
    tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = _init(tmp_path, url, "alice")
    assert _update(alice) == 0
    bob = _init(tmp_path, url, "bob")
    assert _update(bob) == 0
    assert main(["compare", str(bob / "checkpoint"), "--state", str(alice)]) == 0
    # The log grows; Bob follows, Alice does not: different sizes, joined by a consistency proof from the tiles.
    for i in range(300, 350):
        log.add(ts_ms=NOV_MS + i * 60_000)
    log.publish()
    assert _update(bob) == 0
    assert main(["compare", str(bob / "checkpoint"), "--state", str(alice)]) == 0
    assert main(["compare", str(alice / "checkpoint"), "--state", str(bob)]) == 0
    capsys.readouterr()
    # Then the log shows Carol another tree of the same size as Bob's (a fork): comparing catches it, both ways.
    log.entries[5].agency = "beta"
    log.publish()
    carol = _init(tmp_path, url, "carol")
    assert _update(carol) == 0
    assert main(["compare", str(carol / "checkpoint"), "--state", str(bob)]) == 5
    assert main(["compare", str(bob / "checkpoint"), "--state", str(carol)]) == 5
    # Alice's smaller tree is not a prefix of the tree the log now serves: no consistency, a fork.
    assert main(["compare", str(carol / "checkpoint"), "--state", str(alice)]) == 5
    assert "two different roots for tree size 350" in capsys.readouterr().err
    assert list((bob / "evidence").iterdir())
    # A file the log never signed proves nothing: 3.
    forged = tmp_path / "forged"
    forged.write_bytes((carol / "checkpoint").read_bytes().replace(b"350", b"351", 1))
    assert main(["compare", str(forged), "--state", str(bob)]) == 3


def test_proof_then_proof_check(tmp_path: Path, log: TestLog, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    state = _init(tmp_path, url)
    assert _update(state) == 0
    out, entry = tmp_path / "e42.tlog-proof", tmp_path / "e42.leaf"
    assert main(["proof", "42", "--out", str(out), "--entry-out", str(entry), "--state", str(state)]) == 0
    assert entry.read_bytes() == log.entries[41].leaf(42)
    assert out.read_bytes().startswith(b"c2sp.org/tlog-proof@v1\nindex 41\n")
    policy = tmp_path / "state.policy"
    assert main(["proof-check", str(out), "--policy", str(policy), "--entry", str(entry)]) == 0
    assert "entry 41 is in audit.example.org/log at tree size 300, cosigned by w1.oversight.example" in (
        capsys.readouterr().out
    )
    other = tmp_path / "e43.leaf"
    other.write_bytes(log.entries[42].leaf(43))
    assert main(["proof-check", str(out), "--policy", str(policy), "--entry", str(other)]) == 7
    assert main(["proof", "301", "--state", str(state)]) == 7  # beyond the stored checkpoint


def test_nothing_to_verify_yet_and_an_unreachable_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", "--state", str(tmp_path / "absent")]) == 1
    state = _init(tmp_path, "http://127.0.0.1:9")  # discard port: nothing listens
    assert main(["update", "--state", str(state), "--timeout", "2"]) == 9
    assert main(["proof", "1", "--state", str(state)]) == 1
    err = capsys.readouterr().err
    assert "run plateledger-verify init first" in err
    assert "FetchError" in err
    assert "run plateledger-verify update first" in err


@pytest.mark.slow
def test_runs_as_a_console_module(tmp_path: Path, url: str) -> None:
    state = _init(tmp_path, url)
    run = subprocess.run(
        [sys.executable, "-m", "plateledger_verify.cli", "update", "--state", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "tree size 300" in run.stdout
