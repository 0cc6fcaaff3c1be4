"""The exceptions of ``plateledger_verify``, one class per failure a verifier must tell apart.

Each class carries the exit code ``plateledger-verify`` ends with, so a script (or an oversight body's cron job)
can tell a forged signature from a missing entry without parsing messages::

    VerifyError                  1  base of everything raised on purpose
    ├── MalformedError           2  bytes that are not a valid note, checkpoint, policy, proof, tile or bundle
    ├── SignatureError           3  no trusted key signed it, or a trusted key's signature is wrong
    ├── QuorumError              4  signed by the log, but too few witnesses cosigned for the policy
    ├── ForkError                5  two checkpoints of one log that no consistency proof can join
    ├── RollbackError            6  a checkpoint smaller than one already seen
    ├── ProofError               7  an inclusion proof that does not lead to the root: entry missing or altered
    ├── CountMismatchError       8  recounted public leaves differ from the published figures
    └── WitnessError             1  a witness did not cosign (``.status``: its HTTP status, None if unreached)
        ├── WitnessUnavailableError  unreachable, timed out or a 5xx answer: try again later
        └── WitnessRefusedError      a 4xx answer (unknown log, bad signature, bad proof, malformed request)

The main package (``plateledger``) maps these to its own hierarchy where it serves them over HTTP.
"""

from __future__ import annotations

from typing import ClassVar


class VerifyError(Exception):
    """Base of every error ``plateledger_verify`` raises on purpose."""

    exit_code: ClassVar[int] = 1


class MalformedError(VerifyError, ValueError):
    """Input that breaks its format's rules; the message names the rule."""

    exit_code = 2


class SignatureError(VerifyError):
    """No trusted key verified the note, or a trusted key's signature failed."""

    exit_code = 3


class QuorumError(VerifyError):
    """The log signed, but the witnesses that cosigned do not satisfy the policy's quorum."""

    exit_code = 4


class ForkError(VerifyError):
    """Two views of one log that cannot both be true (same size, different roots, or no consistency)."""

    exit_code = 5


class RollbackError(VerifyError):
    """A checkpoint smaller than one already verified for the same log."""

    exit_code = 6


class ProofError(VerifyError):
    """A Merkle proof that does not verify: the entry is not in the tree, or the proof or tree was altered."""

    exit_code = 7


class CountMismatchError(VerifyError):
    """Figures recounted from public leaves differ from what the agency published."""

    exit_code = 8


class WitnessError(VerifyError):
    """A witness did not cosign; ``status`` is its HTTP status (None when it could not be reached).

    A witness's 409 is not an error: :func:`.witness.submit` returns the size the witness holds (a fork, 409 for
    the same size with another root, raises :class:`ForkError`).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WitnessUnavailableError(WitnessError):
    """The witness could not be reached, timed out, or answered 5xx: worth trying again later."""


class WitnessRefusedError(WitnessError):
    """The witness refused the request (404 unknown log, 403 bad signature, 422 bad proof, 400 malformed)."""
