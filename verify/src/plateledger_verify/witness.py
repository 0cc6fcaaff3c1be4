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
:func:`.checkpoint.open_checkpoint` and :func:`.checkpoint.check_consistent`; the witness that serves them is
:mod:`.witness_server`, and :func:`submit` is the log's side of the call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx2

from plateledger_verify import merkle
from plateledger_verify.errors import (
    ForkError,
    MalformedError,
    SignatureError,
    WitnessRefusedError,
    WitnessUnavailableError,
)
from plateledger_verify.note import (
    SIG_COSIGNATURE_V1,
    Signature,
    VerifierKey,
    b64,
    b64decode_strict,
    parse_note,
    parse_signature_line,
)

SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: Largest answer body read from a witness (a few cosignature lines are expected).
MAX_ANSWER_BYTES = 16 * 1024
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


def add_checkpoint_url(url: str) -> str:
    """The ``add-checkpoint`` endpoint under a witness's submission prefix (as a policy's witness URL gives it)."""
    return url.rstrip("/") + "/add-checkpoint"


def submit(
    client: httpx2.Client, url: str, request: AddCheckpoint, *, key: VerifierKey | None = None
) -> list[Signature] | int:
    """POST ``request`` to the witness at ``url`` (its submission prefix); the log's side of tlog-witness.

    Returns the cosignature lines on 200 — all of them, or with ``key`` only that witness's, each verified over
    the request's checkpoint (:class:`SignatureError` if none does) — and on 409 the size the witness holds (resend
    with ``old`` that size and a proof from it). Raises :class:`ForkError` on a 409 without a size (the witness
    holds another root for this size), :class:`WitnessRefusedError` on another 4xx,
    :class:`WitnessUnavailableError` when unreachable, timed out or 5xx, :class:`MalformedError` for an answer
    that breaks the format. Timeouts are the client's (``httpx2.Client(timeout=...)``).
    """
    target = add_checkpoint_url(url)
    try:
        response = client.post(target, content=request.encode(), headers={"Content-Type": "text/plain"})
    except httpx2.HTTPError as exc:
        raise WitnessUnavailableError(f"witness {target}: {type(exc).__name__}: {exc}") from exc
    status, body = response.status_code, response.content
    if len(body) > MAX_ANSWER_BYTES:
        raise MalformedError(f"witness {target} answered {len(body)} bytes, more than {MAX_ANSWER_BYTES}")
    reason = body[:200].decode("utf-8", "replace").strip()
    if status == 200:
        signatures = parse_cosignatures(body)
        return signatures if key is None else [_verified_cosignature(request.checkpoint, signatures, key)]
    if status == 409:
        if response.headers.get("content-type", "").split(";")[0].strip() == SIZE_CONTENT_TYPE:
            return parse_size(body)
        raise ForkError(f"witness {target} holds another tree of this size: {reason}")
    if 400 <= status < 500:
        raise WitnessRefusedError(f"witness {target} refused the checkpoint ({status}): {reason}", status=status)
    raise WitnessUnavailableError(f"witness {target} answered {status}: {reason}", status=status)


def _verified_cosignature(checkpoint: bytes, signatures: Iterable[Signature], key: VerifierKey) -> Signature:
    if key.type != SIG_COSIGNATURE_V1:
        raise ValueError(f"witness key {key.name} is not a cosignature (0x04) key")
    text = parse_note(checkpoint).text
    for sig in signatures:
        if (sig.name, sig.key_id) == (key.name, key.key_id):
            if not key.verify(text, sig.signature):
                raise SignatureError(f"witness {key.name}'s cosignature does not verify")
            return sig
    raise SignatureError(f"the witness's answer holds no cosignature by {key.name}")
