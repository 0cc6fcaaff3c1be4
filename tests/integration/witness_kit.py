"""Witnesses as real processes (``plateledger-verify witness serve``), and the log key and policy files that name
them, for the checkpoint tests and the checkpoint benchmark."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from plateledger.audit.logkey import new_key
from plateledger_verify.note import Signer
from tests.support import free_port

VERIFY = [sys.executable, "-m", "plateledger_verify"]
ORIGIN = "plateledger.test/audit"


@dataclass
class WitnessProc:
    name: str
    vkey: str
    url: str
    key_file: Path
    state: Path
    port: int
    proc: subprocess.Popen[str] | None = None

    def policy_line(self) -> str:
        return f"witness {self.name} {self.vkey} {self.url}"


def log_key(tmp: Path, origin: str = ORIGIN) -> tuple[Path, Signer]:
    """A log signing key file outside any data directory (``log_key_file``)."""
    path = tmp / "log-signing.key"
    return path, new_key(origin, path)


def make_witness(tmp: Path, name: str) -> WitnessProc:
    """A witness's key (``witness init-key``) and state file; not started."""
    key_file = tmp / f"{name}.key"
    made = subprocess.run(
        [*VERIFY, "witness", "init-key", "--name", f"{name}.test/witness", "--out", str(key_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    port = free_port()
    return WitnessProc(name, made.stdout.strip(), f"http://127.0.0.1:{port}", key_file, tmp / f"{name}.db", port)


def start(witness: WitnessProc, log_vkey: str, origin: str = ORIGIN) -> None:
    """Run the witness, following the log, until it answers /healthz."""
    witness.proc = subprocess.Popen(
        [*VERIFY, "witness", "serve", "--key", str(witness.key_file), "--state", str(witness.state),
         "--log", f"{origin}={log_vkey}", "--listen", f"127.0.0.1:{witness.port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if witness.proc.poll() is not None:
            raise AssertionError(f"witness {witness.name} exited: {witness.proc.communicate()[1]}")
        try:
            if httpx2.get(f"{witness.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"witness {witness.name} did not start")


def stop(witness: WitnessProc) -> None:
    if witness.proc is not None and witness.proc.poll() is None:
        witness.proc.terminate()
        witness.proc.communicate(timeout=30)
    witness.proc = None


def write_policy(path: Path, witnesses: list[WitnessProc], quorum: str, *groups: str) -> Path:
    lines = [w.policy_line() for w in witnesses] + list(groups) + [f"quorum {quorum}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def witnesses(tmp: Path, log_vkey: str, names: list[str], *, running: bool = True) -> Iterator[list[WitnessProc]]:
    made = [make_witness(tmp, name) for name in names]
    try:
        if running:
            for witness in made:
                start(witness, log_vkey)
        yield made
    finally:
        for witness in made:
            stop(witness)
