"""C2SP tlog-witness wire formats: the ``add-checkpoint`` request and the witness's answers.

::

    POST <submission prefix>/add-checkpoint

    old <size of the checkpoint the witness last cosigned, 0 if none>
    <base64 consistency proof hash>        (0 to 63 lines; none when old is 0)
    <blank line>
    <the signed checkpoint>

The witness answers 200 with one or more cosignature lines, 409 with ``text/x.tlog.size`` (its stored size and
a newline) when ``old`` is not that size, 404 for an unknown origin, 403 for a bad or missing log signature, 400
when ``old`` exceeds the checkpoint's size, 422 for a bad proof. The checks themselves are
:func:`.checkpoint.open_checkpoint` and :func:`.checkpoint.check_consistent`; HTTP is the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from plateledger_verify import merkle
from plateledger_verify.errors import MalformedError
from plateledger_verify.note import Signature, b64, b64decode_strict, parse_signature_line

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})")
_SIZE = re.compile(r"(0|[1-9][0-9]{0,18})\n")


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request body."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(b64(h) for h in self.proof)]
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    head, sep, checkpoint = body.partition(b"\n\n")
    if not sep or not checkpoint:
        raise MalformedError("add-checkpoint body has no blank line followed by a checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as exc:
        raise MalformedError("add-checkpoint header is not ASCII") from exc
    m = _OLD.fullmatch(lines[0])
    if not m:
        raise MalformedError("add-checkpoint body does not start with 'old <size>'")
    old_size = int(m[1])
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedError(f"add-checkpoint carries more than {MAX_PROOF_LINES} proof lines")
    proof = []
    for i, line in enumerate(lines[1:]):
        h = b64decode_strict(line, f"consistency proof hash {i}")
        if len(h) != merkle.HASH_SIZE:
            raise MalformedError(f"consistency proof hash {i} is {len(h)} bytes")
        proof.append(h)
    if old_size == 0 and proof:
        raise MalformedError("a consistency proof from size 0 must be empty")
    return AddCheckpoint(old_size, tuple(proof), checkpoint)


def encode_size(size: int) -> bytes:
    """The body of a 409 answer (``text/x.tlog.size``)."""
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    m = _SIZE.fullmatch(body.decode("ascii", "replace"))
    if not m:
        raise MalformedError("tree size answer is not a decimal followed by a newline")
    return int(m[1])


def encode_cosignatures(signatures: Iterable[Signature]) -> bytes:
    """The body of a 200 answer: the witness's signature lines."""
    body = "".join(sig.line() for sig in signatures)
    if not body:
        raise ValueError("a witness answers with at least one cosignature")
    return body.encode()


def parse_cosignatures(body: bytes) -> list[Signature]:
    """The signature lines of a 200 answer, to append to the checkpoint (then verified like any note)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError("witness answer is not UTF-8") from exc
    if not text.endswith("\n"):
        raise MalformedError("witness answer must end with a newline")
    lines = text[:-1].split("\n")
    return [parse_signature_line(line) for line in lines]
