"""The witness as an oversight body runs it: ``plateledger-verify witness serve`` as a real process, a real log
(a compact range signed by the log's key) pushing checkpoints to it over HTTP, and the log's client
(:func:`plateledger_verify.witness.submit`)."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint, add_signatures, open_checkpoint, sign_checkpoint
from plateledger_verify.cli import main
from plateledger_verify.errors import ForkError, SignatureError, WitnessRefusedError, WitnessUnavailableError
from plateledger_verify.note import EM_DASH, SIG_COSIGNATURE_V1, Signer, VerifierKey, sign_note
from plateledger_verify.witness import SIZE_CONTENT_TYPE, AddCheckpoint, parse_cosignatures, submit

pytestmark = pytest.mark.slow

LOG = Signer.generate("audit.example.org/log")
OTHER_LOG = Signer.generate("other.example.org/log")


class Log:
    """A log: leaves in a compact range, every perfect subtree kept for proofs, checkpoints signed by ``signer``."""

    def __init__(self, signer: Signer = LOG, tag: bytes = b"") -> None:
        self.signer, self.tag = signer, tag
        self.compact = merkle.CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}

    def grow(self, n: int) -> Checkpoint:
        for _ in range(n):
            leaf = merkle.leaf_hash(self.tag + self.compact.size.to_bytes(8, "big"))
            for node in self.compact.append(leaf):
                self.nodes[node.level, node.index] = node.hash
            self.roots[self.compact.size] = self.compact.root()
        return self.checkpoint(self.compact.size)

    def checkpoint(self, size: int) -> Checkpoint:
        return Checkpoint(self.signer.name, size, self.roots[size])

    def proof(self, old: int, new: int) -> tuple[bytes, ...]:
        if old == 0 or old == new:
            return ()
        return tuple(merkle.consistency_proof(old, new, lambda lv, ix: self.nodes[lv, ix]))

    def request(self, old: int, size: int, *, proof: tuple[bytes, ...] | None = None) -> AddCheckpoint:
        cp = self.checkpoint(size)
        return AddCheckpoint(old, self.proof(old, size) if proof is None else proof, sign_checkpoint(cp, self.signer))


class RunningWitness:
    """``python -m plateledger_verify witness serve`` on a free port, its log lines in a file."""

    def __init__(self, tmp: Path, key: Path, logs: list[Signer]) -> None:
        self.tmp, self.key, self.logs = tmp, key, logs
        self.state = tmp / "witness.db"
        self.stderr = tmp / "witness.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        args = [sys.executable, "-m", "plateledger_verify", "witness", "serve", "--key", str(self.key)]
        args += ["--state", str(self.state), "--listen", "127.0.0.1:0"]
        for signer in self.logs:
            args += ["--log", f"{signer.name}={signer.verifier}"]
        offset = self.stderr.stat().st_size if self.stderr.exists() else 0
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.stderr.read_text()[offset:])
            if m:
                self.url = m[1]
                return
            assert self.proc.poll() is None, self.stderr.read_text()
            time.sleep(0.05)
        raise AssertionError(f"witness did not start: {self.stderr.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def post(self, body: bytes) -> httpx2.Response:
        return httpx2.post(f"{self.url}/add-checkpoint", content=body, timeout=10)

    def add(self, request: AddCheckpoint) -> httpx2.Response:
        return self.post(request.encode())


@pytest.fixture(scope="module")
def witness_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VerifierKey]:
    path = tmp_path_factory.mktemp("key") / "witness.key"
    assert main(["witness", "init-key", "--name", "auditor.example/witness", "--out", str(path)]) == 0
    return path, Signer.parse(path.read_text()).verifier


@pytest.fixture
def witness(tmp_path: Path, witness_key: tuple[Path, VerifierKey]) -> Iterator[RunningWitness]:
    running = RunningWitness(tmp_path, witness_key[0], [LOG, OTHER_LOG])
    running.start()
    yield running
    if running.proc is not None:
        running.stop(signal.SIGKILL)


def _cosigned(response: httpx2.Response, request: AddCheckpoint, key: VerifierKey) -> int:
    """Check a 200 answer: one cosignature line by ``key``, verifying over the checkpoint; its timestamp."""
    assert response.status_code == 200, response.text
    assert response.text.startswith(EM_DASH)
    assert response.text.endswith("\n")
    cosigned = add_signatures(request.checkpoint, *parse_cosignatures(response.content))
    verified = open_checkpoint(cosigned, [LOG.verifier, OTHER_LOG.verifier], [key])
    return verified.cosignatures[key]


def test_init_key_writes_a_private_file_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.key"
    assert main(["witness", "init-key", "--name", "city-auditor.example/w1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    vkey = VerifierKey.parse(printed)
    assert vkey.type == SIG_COSIGNATURE_V1
    assert vkey.name == "city-auditor.example/w1"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    signer = Signer.parse(out.read_text())
    assert signer.verifier == vkey
    before = out.read_bytes()
    assert main(["witness", "init-key", "--name", "city-auditor.example/w1", "--out", str(out)]) == 2
    assert out.read_bytes() == before
    assert "File exists" in capsys.readouterr().err
    assert main(["witness", "init-key", "--name", "has space", "--out", str(tmp_path / "x")]) == 2


def test_serve_refuses_a_key_others_can_read_or_a_log_key(
    tmp_path: Path, witness_key: tuple[Path, VerifierKey]
) -> None:
    key = tmp_path / "k"
    key.write_text(witness_key[0].read_text())
    key.chmod(0o644)
    base = ["witness", "serve", "--state", str(tmp_path / "db"), "--log", f"{LOG.name}={LOG.verifier}"]
    assert main([*base, "--key", str(key)]) == 2
    key.write_text(LOG.private_key_text())
    key.chmod(0o600)
    assert main([*base, "--key", str(key)]) == 2
    bad_log = ["witness", "serve", "--key", str(witness_key[0]), "--state", str(tmp_path / "db")]
    assert main([*bad_log, "--log", f"{LOG.name}={witness_key[1]}"]) == 2
    assert main([*bad_log, "--log", "no-key-here"]) == 2


def test_first_checkpoint_then_growth_are_cosigned(
    witness: RunningWitness, witness_key: tuple[Path, VerifierKey]
) -> None:
    key = witness_key[1]
    log = Log()
    log.grow(5)
    first = log.request(0, 5)
    before = int(time.time())
    ts = _cosigned(witness.add(first), first, key)
    assert before <= ts <= int(time.time()) + 1
    for old, n in ((5, 1), (6, 250), (256, 1000)):
        log.grow(n)
        request = log.request(old, log.compact.size)
        _cosigned(witness.add(request), request, key)
    # The cosignature is tlog-cosignature/v1: Ed25519 over "cosignature/v1\ntime T\n" + the checkpoint body,
    # checked here with the bare primitive rather than note.py.
    response = witness.add(log.request(1256, 1256))
    (sig,) = parse_cosignatures(response.content)
    assert (sig.name, sig.key_id) == (key.name, key.key_id)
    t = int.from_bytes(sig.signature[:8], "big")
    body = log.checkpoint(1256).text()
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(
        sig.signature[8:], f"cosignature/v1\ntime {t}\n{body}".encode()
    )
    health = httpx2.get(f"{witness.url}/healthz", timeout=10).json()
    assert health["witness"] == {"name": key.name, "vkey": str(key)}
    sizes = {entry["origin"]: entry["size"] for entry in health["logs"]}
    assert sizes == {LOG.name: 1256, OTHER_LOG.name: None}
    assert httpx2.get(f"{witness.url}/", timeout=10).json() == health
    lines = witness.stderr.read_text()
    assert re.search(r"POST /add-checkpoint 200 audit\.example\.org/log cosigned size 1256", lines)


def _size_conflict(response: httpx2.Response) -> int:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == SIZE_CONTENT_TYPE
    assert re.fullmatch(r"(0|[1-9][0-9]*)\n", response.text)
    return int(response.text)


def test_wrong_old_size_bad_proof_fork_and_rollback_are_refused(witness: RunningWitness) -> None:
    log = Log()
    log.grow(100)
    assert witness.add(log.request(0, 100)).status_code == 200
    log.grow(50)
    # old is not the size the witness holds: 409 with that size.
    assert _size_conflict(witness.add(log.request(0, 150))) == 100
    assert _size_conflict(witness.add(log.request(99, 150))) == 100
    # A proof that does not join 100 to 150: 422.
    bad = list(log.proof(100, 150))
    bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
    assert witness.add(log.request(100, 150, proof=tuple(bad))).status_code == 422
    assert witness.add(log.request(100, 150, proof=log.proof(99, 150))).status_code == 422
    assert witness.add(log.request(100, 150, proof=())).status_code == 422
    # History rewritten: a tree of 150 whose first 100 leaves differ; no proof joins it to what was cosigned.
    forked = Log(tag=b"edited")
    forked.grow(150)
    assert witness.add(forked.request(100, 150, proof=log.proof(100, 150))).status_code == 422
    # A fork: the same size with another root.
    other = Log(tag=b"edited")
    other.grow(100)
    fork = witness.add(other.request(100, 100))
    assert fork.status_code == 409
    assert fork.headers["content-type"] != SIZE_CONTENT_TYPE
    assert "fork" in fork.text
    # Rollback: a smaller tree, whatever old size it claims.
    assert witness.add(log.request(100, 60, proof=())).status_code == 400
    assert _size_conflict(witness.add(log.request(60, 60))) == 100
    # Nothing refused moved the witness: the genuine growth is still accepted from 100.
    assert witness.add(log.request(100, 150)).status_code == 200
    assert "refused checkpoint of audit.example.org/log" in witness.stderr.read_text()


def test_unknown_origin_foreign_signature_and_malformed_bodies(witness: RunningWitness) -> None:
    stranger = Signer.generate("stranger.example/log")
    assert witness.add(Log(stranger).request(0, 0)).status_code == 404
    log = Log()
    log.grow(3)
    # The log's name, another key: 403.
    impostor = Signer.generate(LOG.name)
    assert witness.add(Log(impostor).request(0, 0)).status_code == 403
    cp = log.checkpoint(3)
    forged = AddCheckpoint(0, (), sign_checkpoint(cp, impostor))
    assert witness.add(forged).status_code == 403
    # Signed by the other log's key (known, but not for this origin): 403.
    assert witness.add(AddCheckpoint(0, (), sign_checkpoint(cp, OTHER_LOG))).status_code == 403
    # The log's genuine signature over different text: 403.
    genuine = sign_checkpoint(cp, LOG).decode()
    tampered = genuine.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n", 1).encode()
    assert witness.post(b"old 0\n\n" + tampered).status_code == 403
    # Malformed: 400.
    extended = Checkpoint(LOG.name, 3, cp.root, ("smuggled extension",))
    with_extension = sign_note(extended.text(), LOG)
    assert witness.post(b"old 0\n\n" + with_extension).status_code == 400
    for body in (
        b"",
        b"garbage",
        b"old 0\n",
        b"old 00\n\n" + genuine.encode(),
        b"old -1\n\n" + genuine.encode(),
        b"old 0\nnot base64\n\n" + genuine.encode(),
        b"old 1\nAAAA\n\n" + genuine.encode(),
        b"old 0\n\n" + cp.text().encode(),  # unsigned
        b"old 0\n\n\xff\xfe\n\n",
        b"old 4\n\n" + genuine.encode(),  # old beyond the checkpoint's size
    ):
        response = witness.post(body)
        assert response.status_code == 400, (body, response.text)
    assert witness.post(b"old 0\n" + b"A" * 70_000).status_code == 413
    assert httpx2.get(f"{witness.url}/nothing", timeout=10).status_code == 404
    assert httpx2.post(f"{witness.url}/other", content=b"x", timeout=10).status_code == 404
    # After all that, the genuine first checkpoint is still cosigned from size 0.
    assert witness.add(log.request(0, 3)).status_code == 200


def test_state_survives_a_kill_and_sigterm_stops_cleanly(
    witness: RunningWitness, witness_key: tuple[Path, VerifierKey]
) -> None:
    log = Log()
    log.grow(10)
    assert witness.add(log.request(0, 10)).status_code == 200
    witness.stop(signal.SIGKILL)  # no chance to flush anything after the answer
    witness.start()
    assert _size_conflict(witness.add(log.request(0, 10))) == 10
    log.grow(5)
    request = log.request(10, 15)
    _cosigned(witness.add(request), request, witness_key[1])
    assert witness.stop(signal.SIGTERM) == 0
    assert "stopped" in witness.stderr.read_text().splitlines()[-1]
    witness.start()
    assert _size_conflict(witness.add(log.request(0, 15))) == 15


def test_concurrent_requests_from_one_old_size_only_one_wins(witness: RunningWitness) -> None:
    log = Log()
    log.grow(10)
    assert witness.add(log.request(0, 10)).status_code == 200
    log.grow(30)
    sizes = list(range(11, 41, 3))  # ten different successors of 10, each with a valid proof from 10
    requests = [log.request(10, size).encode() for size in sizes]
    barrier = threading.Barrier(len(requests))
    results: dict[int, httpx2.Response] = {}

    def push(size: int, body: bytes) -> None:
        with httpx2.Client(timeout=20) as client:
            barrier.wait()
            results[size] = client.post(f"{witness.url}/add-checkpoint", content=body)

    threads = [threading.Thread(target=push, args=pair) for pair in zip(sizes, requests, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [size for size, r in results.items() if r.status_code == 200]
    assert len(winners) == 1, {s: r.status_code for s, r in results.items()}
    losers = [r for size, r in results.items() if size != winners[0]]
    assert all(_size_conflict(r) == winners[0] for r in losers)
    assert _size_conflict(witness.add(log.request(0, 40))) == winners[0]


def test_submit_is_the_logs_side(witness: RunningWitness, witness_key: tuple[Path, VerifierKey]) -> None:
    key = witness_key[1]
    log = Log(OTHER_LOG)
    log.grow(7)
    with httpx2.Client(timeout=10) as client:
        first = log.request(0, 7)
        signatures = submit(client, witness.url, first)
        assert isinstance(signatures, list)
        assert [(s.name, s.key_id) for s in signatures] == [(key.name, key.key_id)]
        again = submit(client, witness.url + "/", log.request(7, 7), key=key)  # the same checkpoint again
        assert isinstance(again, list)
        assert len(again) == 1
        log.grow(9)
        # The log does not know what the witness holds: 409 tells it, then it sends the right proof.
        assert submit(client, witness.url, log.request(0, 16)) == 7
        grown = submit(client, witness.url, log.request(7, 16), key=key)
        assert isinstance(grown, list)
        (sig,) = grown
        assert key.verify(log.checkpoint(16).text(), sig.signature)
        with pytest.raises(SignatureError):
            submit(client, witness.url, log.request(16, 16), key=Signer.generate(key.name, SIG_COSIGNATURE_V1).verifier)
        other = Log(OTHER_LOG, tag=b"fork")
        other.grow(16)
        with pytest.raises(ForkError):
            submit(client, witness.url, other.request(16, 16))
        bad = log.request(7, 16)
        with pytest.raises(WitnessRefusedError) as refused:
            submit(
                client,
                witness.url,
                AddCheckpoint(0, (), Log(Signer.generate("x.example/log")).request(0, 0).checkpoint),
            )
        assert refused.value.status == 404
        with pytest.raises(WitnessRefusedError) as refused:
            submit(
                client,
                witness.url,
                AddCheckpoint(16, (), sign_checkpoint(log.checkpoint(16), Signer.generate(OTHER_LOG.name))),
            )
        assert refused.value.status == 403
        log.grow(1)
        with pytest.raises(WitnessRefusedError) as refused:
            submit(client, witness.url, log.request(16, 17, proof=bad.proof))
        assert refused.value.status == 422
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with httpx2.Client(timeout=2) as client, pytest.raises(WitnessUnavailableError) as unavailable:
        submit(client, f"http://127.0.0.1:{closed}", first)
    assert unavailable.value.status is None


def test_runs_from_the_console_script_module_path_too() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "plateledger_verify", "witness", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert run.returncode == 0
    assert "--listen HOST:PORT" in run.stdout
