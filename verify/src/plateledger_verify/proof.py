"""C2SP tlog-proof: one entry's offline-verifiable proof of logging (``c2sp.org/tlog-proof@v1``).

::

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <N>
    <base64 inclusion proof hash, leaf side first>
    ...
    <blank line>
    <the cosigned checkpoint, verbatim>

What Plateledger hands a court or an auditor for one audit entry: with the entry (to compute its leaf hash) and
a policy of trusted log and witness keys, :func:`verify_proof` needs nothing else and no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plateledger_verify import merkle
from plateledger_verify.checkpoint import VerifiedCheckpoint
from plateledger_verify.errors import MalformedError, ProofError
from plateledger_verify.note import b64, b64decode_strict
from plateledger_verify.policy import Policy, open_checkpoint_with_policy

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 63
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,18})")


@dataclass(frozen=True, slots=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def encode(self) -> bytes:
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [b64(h) for h in self.hashes]
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint


def parse_proof(data: bytes) -> TlogProof:
    """Parse a proof file; the checkpoint stays bytes, to be verified by :func:`verify_proof`."""
    head, sep, checkpoint = data.partition(b"\n\n")
    if not sep or not checkpoint:
        raise MalformedError("tlog-proof has no blank line followed by a checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as exc:
        raise MalformedError("tlog-proof header lines are not ASCII") from exc
    if lines[0] != HEADER:
        raise MalformedError(f"tlog-proof does not start with {HEADER}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = b64decode_strict(lines[pos][len("extra ") :], "tlog-proof extra data")
        pos += 1
    m = _INDEX.fullmatch(lines[pos]) if pos < len(lines) else None
    if not m:
        raise MalformedError("tlog-proof has no valid 'index N' line")
    hash_lines = lines[pos + 1 :]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise MalformedError(f"tlog-proof has {len(hash_lines)} proof hashes, more than {MAX_PROOF_HASHES}")
    hashes = []
    for i, line in enumerate(hash_lines):
        h = b64decode_strict(line, f"proof hash {i}")
        if len(h) != merkle.HASH_SIZE:
            raise MalformedError(f"proof hash {i} is {len(h)} bytes, not {merkle.HASH_SIZE}")
        hashes.append(h)
    return TlogProof(int(m[1]), tuple(hashes), checkpoint, extra)


def verify_proof(proof: TlogProof, leaf_hash: bytes, policy: Policy) -> VerifiedCheckpoint:
    """Check the checkpoint against ``policy`` (log signature, origin, quorum), then the entry's inclusion.

    Raises :class:`SignatureError`, :class:`QuorumError`, :class:`ProofError` (the entry is not at that index
    of the checkpointed tree) or :class:`MalformedError`.
    """
    verified = open_checkpoint_with_policy(proof.checkpoint, policy)
    size = verified.checkpoint.size
    if proof.index >= size:
        raise ProofError(f"entry {proof.index} is beyond the checkpoint's tree of size {size}")
    merkle.verify_inclusion(proof.index, size, leaf_hash, proof.hashes, verified.checkpoint.root)
    return verified
