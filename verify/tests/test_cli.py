"""plateledger-verify proof-check: one exit code per failure class."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint, add_signatures, cosign, sign_checkpoint
from plateledger_verify.cli import main
from plateledger_verify.errors import MalformedError, ProofError, QuorumError, SignatureError
from plateledger_verify.note import SIG_COSIGNATURE_V1, Signer
from plateledger_verify.proof import TlogProof

LOG = Signer.generate("audit.example.org/log")
WITNESS = Signer.generate("oversight.example/w1", SIG_COSIGNATURE_V1)
ENTRIES = [f"audit entry {i}".encode() for i in range(300)]


def _write_proof(tmp_path: Path, index: int = 123, *, cosigned: bool = True, log: Signer = LOG) -> Path:
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for e in ENTRIES:
        for node in compact.append(merkle.leaf_hash(e)):
            nodes[node.level, node.index] = node.hash
    cp = Checkpoint(LOG.name, len(ENTRIES), compact.root())
    signed = sign_checkpoint(cp, log)
    if cosigned:
        signed = add_signatures(signed, cosign(cp, WITNESS, 1_800_000_000))
    hashes = merkle.inclusion_proof(index, len(ENTRIES), lambda lv, ix: nodes[lv, ix])
    path = tmp_path / "entry.tlog-proof"
    path.write_bytes(TlogProof(index, tuple(hashes), signed).encode())
    (tmp_path / "entry").write_bytes(ENTRIES[index])
    (tmp_path / "policy").write_text(f"log {LOG.verifier}\nwitness W {WITNESS.verifier}\nquorum W\n")
    return path


def test_verified_proof_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof = _write_proof(tmp_path)
    assert main(["proof-check", str(proof), "--log-key", str(LOG.verifier), "--entry", str(tmp_path / "entry")]) == 0
    assert "entry 123 is in audit.example.org/log at tree size 300" in capsys.readouterr().out
    leaf = base64.b64encode(merkle.leaf_hash(ENTRIES[123])).decode()
    assert main(["proof-check", str(proof), "--policy", str(tmp_path / "policy"), "--leaf-hash", leaf]) == 0
    assert "cosigned by oversight.example/w1" in capsys.readouterr().out


def test_each_failure_class_has_its_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof = _write_proof(tmp_path)
    entry, policy = str(tmp_path / "entry"), str(tmp_path / "policy")
    other = tmp_path / "other"
    other.write_bytes(b"an entry never logged")
    # Entry missing: the proof does not lead from this entry to the root.
    assert main(["proof-check", str(proof), "--policy", policy, "--entry", str(other)]) == ProofError.exit_code == 7
    # Bad signature: the checkpoint is not signed by the trusted log key.
    stranger = Signer.generate(LOG.name)
    assert main(["proof-check", str(proof), "--log-key", str(stranger.verifier), "--entry", entry]) == 3
    assert SignatureError.exit_code == 3
    # Quorum not met: no witness cosigned.
    uncosigned = _write_proof(tmp_path, cosigned=False)
    assert main(["proof-check", str(uncosigned), "--policy", policy, "--entry", entry]) == QuorumError.exit_code == 4
    # Malformed: a truncated file.
    proof.write_bytes(proof.read_bytes()[:40])
    assert main(["proof-check", str(proof), "--policy", policy, "--entry", entry]) == MalformedError.exit_code == 2
    assert main(["proof-check", str(tmp_path / "absent"), "--policy", policy, "--entry", entry]) == 2
    err = capsys.readouterr().err
    assert "ProofError" in err
    assert "SignatureError" in err
    assert "QuorumError" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["proof-check", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert main(["proof-check", str(tmp_path / "x"), "--log-key", "nonsense", "--leaf-hash", "AAAA"]) == 2


@pytest.mark.slow
def test_runs_as_a_module(tmp_path: Path) -> None:
    proof = _write_proof(tmp_path)
    args = ["proof-check", str(proof), "--log-key", str(LOG.verifier), "--entry", str(tmp_path / "entry")]
    run = subprocess.run([sys.executable, "-m", "plateledger_verify.cli", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    wrong = [*args[:-1], str(tmp_path / "policy")]
    run = subprocess.run([sys.executable, "-m", "plateledger_verify.cli", *wrong], capture_output=True, text=True)
    assert run.returncode == 7
