"""A verifier's own memory of one log: the pinned policy, the URL, and every checkpoint it verified.

A verifier detects rewritten history only against what it kept, so the state directory is the point of running
one. Layout (one directory per log)::

    policy                  the tlog-policy pinned by ``init`` (log key, witness keys, quorum)
    config.json             {"url": ..., "origin": ...}
    checkpoint              the latest verified checkpoint, as served (signed note with cosignatures)
    checkpoints/<size>      every checkpoint verified, by tree size: what two verifiers compare
    evidence/<size>-<root>  a checkpoint that contradicted the stored ones (fork, rollback): keep it, show it
    bundles/                full entry bundles already read (a cache, re-proven on every use)

Every file is written atomically (write, fsync, rename), so a crash leaves the old checkpoint or the new one.
The default directory is ``$XDG_STATE_HOME/plateledger-verify/<origin>`` (``~/.local/state/...``), with the
origin percent-encoded; ``PLATELEDGER_VERIFY_STATE`` or ``--state`` names another.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from plateledger_verify.checkpoint import Checkpoint, VerifiedCheckpoint, open_checkpoint
from plateledger_verify.errors import MalformedError, VerifyError
from plateledger_verify.logview import write_atomically
from plateledger_verify.policy import Policy, parse_policy

STATE_ENV = "PLATELEDGER_VERIFY_STATE"
APP = "plateledger-verify"


def base_dir() -> Path:
    """Where state directories live by default: ``$XDG_STATE_HOME/plateledger-verify``."""
    xdg = os.environ.get("XDG_STATE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return root / APP


def default_dir(origin: str) -> Path:
    """The state directory for the log ``origin``: ``$PLATELEDGER_VERIFY_STATE`` or ``<base>/<origin>``."""
    named = os.environ.get(STATE_ENV)
    return Path(named) if named else base_dir() / quote(origin, safe="")


def find_dir(named: Path | None) -> Path:
    """The state directory a command uses: ``--state``, ``$PLATELEDGER_VERIFY_STATE``, or the only one under the
    default base directory."""
    if named is not None:
        return named
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env)
    base = base_dir()
    found = sorted(p for p in base.iterdir() if (p / "policy").is_file()) if base.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise VerifyError(f"no verifier state under {base}: run plateledger-verify init first")
    raise VerifyError(f"several logs under {base} ({', '.join(p.name for p in found)}): name one with --state")


@dataclass(frozen=True)
class Stored:
    """A checkpoint this verifier accepted, with the signed note it came in."""

    checkpoint: Checkpoint
    signed: bytes


class State:
    """An initialised state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not (path / "policy").is_file() or not (path / "config.json").is_file():
            raise VerifyError(f"{path} is not a verifier state directory: run plateledger-verify init first")
        self.policy: Policy = parse_policy((path / "policy").read_bytes())
        try:
            config = json.loads((path / "config.json").read_text())
            self.url: str = str(config["url"])
            self.origin: str = str(config["origin"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedError(f"{path / 'config.json'} is damaged: {exc}") from exc

    @classmethod
    def init(cls, path: Path, policy_text: bytes, url: str, *, force: bool = False) -> State:
        """Pin ``policy_text`` and ``url`` in ``path``. Refuses to re-pin a directory that holds checkpoints
        (a new key would silently drop the history) unless ``force``."""
        policy = parse_policy(policy_text)
        if len(policy.logs) != 1:
            raise MalformedError(f"the policy names {len(policy.logs)} logs; a verifier follows exactly one")
        origin = policy.logs[0].key.name
        if (path / "checkpoint").exists() and not force:
            raise VerifyError(f"{path} already follows a log (it holds checkpoints): use another --state")
        path.mkdir(parents=True, exist_ok=True)
        write_atomically(path / "policy", policy.encode().encode())
        config = {"url": url.rstrip("/"), "origin": origin}
        write_atomically(path / "config.json", (json.dumps(config, indent=2) + "\n").encode())
        return cls(path)

    def _open(self, signed: bytes) -> VerifiedCheckpoint:
        # What this verifier stored was verified against the pinned policy when it was stored; the log's
        # signature is checked again on reading (the file may have been edited), the quorum was checked then.
        return open_checkpoint(signed, self.policy.log_keys, self.policy.witness_keys, origin=self.origin)

    def latest(self) -> Stored | None:
        """The latest checkpoint verified, or None before the first ``update``."""
        path = self.path / "checkpoint"
        if not path.is_file():
            return None
        signed = path.read_bytes()
        return Stored(self._open(signed).checkpoint, signed)

    def require_latest(self) -> Stored:
        stored = self.latest()
        if stored is None:
            raise VerifyError(f"no checkpoint stored in {self.path}: run plateledger-verify update first")
        return stored

    def history(self) -> list[Stored]:
        """Every checkpoint verified, by tree size."""
        folder = self.path / "checkpoints"
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1):
            if path.name.isdigit():
                signed = path.read_bytes()
                out.append(Stored(self._open(signed).checkpoint, signed))
        return out

    def store(self, checkpoint: Checkpoint, signed: bytes) -> None:
        """Keep ``checkpoint`` (verified, consistent with the stored ones) and make it the latest."""
        folder = self.path / "checkpoints"
        folder.mkdir(exist_ok=True)
        kept = folder / str(checkpoint.size)
        if not kept.exists():
            write_atomically(kept, signed)
        write_atomically(self.path / "checkpoint", signed)

    def keep_evidence(self, checkpoint: Checkpoint, signed: bytes) -> Path:
        """Keep a checkpoint that contradicts the stored ones; return where."""
        folder = self.path / "evidence"
        folder.mkdir(exist_ok=True)
        path = folder / f"{checkpoint.size}-{checkpoint.root.hex()[:16]}.checkpoint"
        write_atomically(path, signed)
        return path

    @property
    def bundle_cache(self) -> Path:
        return self.path / "bundles"
