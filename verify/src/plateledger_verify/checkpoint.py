"""C2SP tlog-checkpoint (a log's signed tree head) and tlog-cosignature/v1 (a witness's countersignature).

Checkpoint note text::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 root hash>
    [extension lines, each non-empty]

Extension lines are opaque and not auditable; :func:`parse_checkpoint` and :func:`open_checkpoint` refuse them
unless the caller passes ``allow_extensions=True``, so a line smuggled into a checkpoint body cannot reach a
verifier that did not ask for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from plateledger_verify import merkle
from plateledger_verify.errors import ForkError, MalformedError, ProofError, RollbackError, SignatureError
from plateledger_verify.note import (
    SIG_COSIGNATURE_V1,
    Note,
    OpenedNote,
    Signature,
    Signer,
    VerifierKey,
    b64,
    b64decode_strict,
    open_note,
    parse_note,
)

_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, the tree size and its root hash (plus extension lines, rarely)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size < merkle.MAX_TREE_SIZE:
            raise MalformedError(f"checkpoint tree size {self.size} out of range")
        if len(self.root) != merkle.HASH_SIZE:
            raise MalformedError(f"checkpoint root is {len(self.root)} bytes, not {merkle.HASH_SIZE}")
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedError("checkpoint extension lines must be non-empty single lines")
        if self.size == 0 and self.root != merkle.EMPTY_ROOT:
            raise MalformedError("a checkpoint of size 0 must carry the empty tree's root")

    def text(self) -> str:
        """The note text (what the log signs)."""
        lines = [self.origin, str(self.size), b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str, *, allow_extensions: bool = False) -> Checkpoint:
    """Parse checkpoint note text (not a signed note: see :func:`open_checkpoint`)."""
    if not text.endswith("\n"):
        raise MalformedError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError(f"checkpoint has {len(lines)} lines, needs origin, size and root")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise MalformedError("checkpoint origin is empty")
    if not _SIZE.fullmatch(size_text):
        raise MalformedError(f"checkpoint tree size {size_text[:30]!r} is not a decimal without leading zeros")
    root = b64decode_strict(root_text, "checkpoint root hash")
    if extensions and not allow_extensions:
        raise MalformedError(f"checkpoint carries {len(extensions)} extension line(s), refused")
    if any(not line for line in extensions):
        raise MalformedError("checkpoint has an empty line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, log: Signer) -> bytes:
    """The signed note of ``checkpoint`` by the log's key (type 0x01)."""
    if log.verifier.type == SIG_COSIGNATURE_V1:
        raise ValueError("a log signs with an Ed25519 (0x01) key, not a cosignature key")
    return Note(checkpoint.text(), (log.sign(checkpoint.text()),)).encode()


def cosign(checkpoint: Checkpoint | str, witness: Signer, timestamp: int) -> Signature:
    """A witness's tlog-cosignature/v1 line for a checkpoint it has verified, at ``timestamp`` (Unix seconds)."""
    if witness.verifier.type != SIG_COSIGNATURE_V1:
        raise ValueError("a cosignature needs a key of type 0x04")
    text = checkpoint.text() if isinstance(checkpoint, Checkpoint) else checkpoint
    return witness.sign(text, timestamp=timestamp)


def add_signatures(signed: bytes, *signatures: Signature) -> bytes:
    """``signed`` with more signature lines appended (e.g. the cosignatures witnesses returned)."""
    note = parse_note(signed)
    return note.with_signatures(*signatures).encode()


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint the log's key verified, with the witnesses whose cosignatures verified and their times."""

    checkpoint: Checkpoint
    note: OpenedNote
    log_key: VerifierKey
    cosignatures: Mapping[VerifierKey, int] = field(default_factory=dict)

    @property
    def signed(self) -> bytes:
        return self.note.note.encode()


def open_checkpoint(
    data: bytes | str,
    log_keys: Iterable[VerifierKey],
    witness_keys: Iterable[VerifierKey] = (),
    *,
    origin: str | None = None,
    allow_extensions: bool = False,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint: signed by one of ``log_keys``, whose name is the origin (or ``origin``).

    Witness cosignatures that verify are returned with their timestamps; quorum is the caller's (or
    :mod:`.policy`'s) business. Raises :class:`SignatureError` when no log key signed (including a note signed
    only by witnesses or unknown keys) and :class:`MalformedError` for bad syntax or refused extension lines.
    """
    logs = list(log_keys)
    witnesses = list(witness_keys)
    opened = open_note(data, [*logs, *witnesses])
    checkpoint = parse_checkpoint(opened.text, allow_extensions=allow_extensions)
    by_log = [k for k, _ in opened.verified if k in logs]
    if not by_log:
        raise SignatureError("the checkpoint is not signed by the log's key")
    log_key = by_log[0]
    expected = origin if origin is not None else log_key.name
    if checkpoint.origin != expected:
        raise SignatureError(f"checkpoint origin {checkpoint.origin!r} is not the log's {expected!r}")
    cosigs = {k: sig.timestamp for k, sig in opened.verified if k in witnesses and k.type == SIG_COSIGNATURE_V1}
    return VerifiedCheckpoint(checkpoint, opened, log_key, cosigs)


def check_consistent(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise unless ``new`` extends ``old`` (two verified checkpoints of one log), by ``proof``.

    What a witness checks before cosigning and what a verifier checks against the checkpoint it stored:
    :class:`RollbackError` when the tree shrank, :class:`ForkError` when the same size has another root or no
    consistency proof joins the two (either the log rewrote history or it shows different trees to different
    people), :class:`MalformedError` for a proof where none belongs or checkpoints of different logs.
    """
    if old.origin != new.origin:
        raise MalformedError(f"checkpoints of two logs: {old.origin!r} and {new.origin!r}")
    if new.size < old.size:
        raise RollbackError(f"{new.origin}: tree size went back from {old.size} to {new.size}")
    if new.size == old.size:
        if proof:
            raise MalformedError("equal tree sizes need an empty consistency proof")
        if new.root != old.root:
            raise ForkError(f"{new.origin}: two different roots for tree size {new.size}")
        return
    if old.size == 0:
        if proof:
            raise MalformedError("a consistency proof from the empty tree must be empty")
        return
    try:
        merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ProofError as exc:
        raise ForkError(f"{new.origin}: tree {new.size} is not shown to extend tree {old.size}: {exc}") from exc
