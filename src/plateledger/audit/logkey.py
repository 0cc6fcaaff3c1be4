"""The audit log's signing key and the witness policy: made once, loaded at start-up, checked against the settings.

The key is a C2SP signed-note signer key (``PRIVATE+KEY+<origin>+<key ID>+<base64>``, Ed25519, type 0x01) whose
name is the log's origin, so a checkpoint's first line and its signature name agree. ``plateledger log init-key``
writes it (mode 0600, never over an existing file). In development without ``log_key_file``, one is generated in
the data directory under a name that says what it is (:data:`~plateledger.core.settings.DEV_LOG_KEY_NAME`);
production refuses to start without a key file outside the data directory (the settings' validation).

The witness policy (``witness_policy_file``) is a C2SP tlog-policy: ``witness <name> <vkey> <url>`` lines (the URL
is the witness's submission prefix: Plateledger POSTs ``<url>/add-checkpoint``), optional ``group`` lines and one
``quorum`` line. A ``log`` line is optional; when present it must be this log's key.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from plateledger.core.errors import ConfigurationError, Conflict
from plateledger.core.settings import Settings
from plateledger_verify.errors import MalformedError
from plateledger_verify.note import Signer, VerifierKey
from plateledger_verify.policy import NONE, Policy, PolicyLog, parse_policy

log = logging.getLogger("plateledger.audit.checkpoints")

NO_WITNESSES = Policy(logs=(), witnesses=(), groups=(), quorum=NONE)


def write_key(signer: Signer, path: Path) -> None:
    """Write ``signer``'s key to a new file readable by its owner only; refuses to overwrite anything."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"{path} exists: a log key is never overwritten (move the old one away first)") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.private_key_text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def new_key(origin: str, path: Path) -> Signer:
    """``plateledger log init-key``: a new Ed25519 log key named ``origin``, written to ``path`` (0600)."""
    try:
        signer = Signer.generate(origin)
    except MalformedError as exc:
        raise ConfigurationError(f"origin {origin!r}: {exc}") from None
    write_key(signer, path)
    return signer


def policy_skeleton(verifier: VerifierKey, url: str | None = None) -> str:
    """A tlog-policy a verifier pins for this log, before any witness is named (what ``init-key`` prints)."""
    where = url or f"https://{verifier.name.split('/')[0]}/log"
    return (
        f"log {verifier} {where}\n"
        "# witness <name> <witness vkey> <witness URL>   (one line per witness)\n"
        "# group <name> <k|any|all> <witness names...>\n"
        "quorum none\n"
    )


def read_key(path: Path, origin: str) -> Signer:
    """The signer key in ``path``, refused unless it is an Ed25519 log key named ``origin``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"log_key_file: cannot read {path} ({exc.strerror})") from None
    try:
        signer = Signer.parse(text)
    except MalformedError as exc:
        raise ConfigurationError(f"log_key_file: {path} is not a log signing key: {exc}") from None
    if signer.verifier.type != 0x01:
        raise ConfigurationError(f"log_key_file: {path} holds a witness (cosignature) key, not a log key")
    if signer.name != origin:
        raise ConfigurationError(
            f"log_key_file: {path} is the key of origin {signer.name!r}, not of log_origin {origin!r}"
        )
    return signer


def load_signer(settings: Settings) -> Signer:
    """The log's signer: ``log_key_file``, or in development a generated key in the data directory."""
    if settings.log_key_file is not None:
        return read_key(settings.log_key_file.expanduser(), settings.log_origin)
    if settings.environment == "production":  # the settings refuse this already; never generate one here
        raise ConfigurationError("log_key_file: required in production")
    path = settings.dev_log_key_file
    if path.exists():
        return read_key(path, settings.log_origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = new_key(settings.log_origin, path)
    log.warning(
        "development: generated a log signing key at %s (origin %s); production needs `plateledger log init-key` "
        "and log_key_file outside the data directory",
        path,
        settings.log_origin,
    )
    return signer


def load_policy(settings: Settings, log_key: VerifierKey) -> Policy:
    """The witness policy of ``witness_policy_file`` (none: no witnesses, quorum none). Every witness needs a URL
    (where its checkpoints are pushed); a ``log`` line, if any, must be this log's key."""
    path = settings.witness_policy_file
    if path is None:
        return NO_WITNESSES
    try:
        policy = parse_policy(path.expanduser().read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"witness_policy_file: cannot read {path} ({exc.strerror})") from None
    except MalformedError as exc:
        raise ConfigurationError(f"witness_policy_file: {path}: {exc}") from None
    for witness in policy.witnesses:
        if not witness.url or not witness.url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"witness_policy_file: witness {witness.name} needs an http(s) URL (its add-checkpoint prefix)"
            )
    if any(entry.key != log_key for entry in policy.logs):
        raise ConfigurationError(f"witness_policy_file: {path} names a log key other than this log's ({log_key})")
    return policy


def served_policy(policy: Policy, log_key: VerifierKey, log_url: str | None) -> str:
    """The tlog-policy a verifier pins: this log's key and URL, the witnesses, their groups and the quorum."""
    pinned = Policy(logs=(PolicyLog(log_key, log_url),), witnesses=policy.witnesses, groups=policy.groups,
                    quorum=policy.quorum)  # fmt: skip
    return pinned.encode()


@dataclass(frozen=True)
class LogIdentity:
    """What the checkpointer signs with and pushes by: the log key and the witness policy."""

    signer: Signer
    policy: Policy

    @property
    def origin(self) -> str:
        return self.signer.name

    @classmethod
    def configured(cls, settings: Settings) -> LogIdentity:
        signer = load_signer(settings)
        return cls(signer, load_policy(settings, signer.verifier))
