"""Following a log: ``update`` (the new checkpoint extends the stored one), ``compare`` (another verifier's
checkpoint and ours describe one tree), ``proof`` (a tlog-proof for one entry).

``update`` verifies the served checkpoint against the pinned policy (log signature, origin, witness quorum),
then, against the latest checkpoint it stored: a smaller tree is a **rollback**; the same size with another root,
or a larger tree that no consistency proof joins to the stored one, is a **fork** (the log rewrote history, or
shows different trees to different people). The consistency proof is computed from the served tiles, after the
tiles are checked against the new root. Only then is the new checkpoint stored; a contradicting one is kept
as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plateledger_verify.checkpoint import Checkpoint, check_consistent, open_checkpoint
from plateledger_verify.client import LogClient
from plateledger_verify.errors import ForkError, ProofError, RollbackError, VerifyError
from plateledger_verify.logview import VerifiedLog
from plateledger_verify.policy import open_checkpoint_with_policy, witnesses_who_cosigned
from plateledger_verify.proof import TlogProof
from plateledger_verify.state import State
from plateledger_verify.tiles import TILE_WIDTH


def verified_log(state: State, client: LogClient, checkpoint: Checkpoint) -> VerifiedLog:
    return VerifiedLog(checkpoint, client.tile, client.bundle, cache=state.bundle_cache)


@dataclass(frozen=True)
class Update:
    old: Checkpoint | None
    new: Checkpoint
    witnesses: list[str]


def update(state: State, client: LogClient) -> Update:
    """Fetch, verify and store the log's latest checkpoint (see the module doc); raises on any failure, storing
    nothing but evidence."""
    signed = client.checkpoint()
    verified = open_checkpoint_with_policy(signed, state.policy)
    new = verified.checkpoint
    previous = state.latest()
    old = previous.checkpoint if previous is not None else None
    if old is None:
        verified_log(state, client, new).check_root()  # the first checkpoint: trusted on first use, tiles checked
    else:
        try:
            if new.size < old.size:
                raise RollbackError(f"{new.origin}: the log now shows tree size {new.size}, smaller than {old.size}")
            proof: list[bytes] = []
            if new.size > old.size:
                log = verified_log(state, client, new)
                log.check_root()
                if old.size:
                    proof = log.consistency_proof(old.size)
            check_consistent(old, new, proof)
        except (RollbackError, ForkError):
            state.keep_evidence(new, signed)
            raise
    state.store(new, signed)
    return Update(old, new, witnesses_who_cosigned(state.policy, verified))


def compare(state: State, client: LogClient | None, other_signed: bytes) -> tuple[Checkpoint, Checkpoint]:
    """Check another verifier's checkpoint against ours: the log signed both, so both must describe one tree.

    Same size: the roots must be equal (checked against every checkpoint we kept, offline). Different sizes: a
    consistency proof from the smaller to the larger, computed from the log's tiles (``client``), must join
    them. Raises :class:`ForkError` (keeping the other checkpoint as evidence) when they cannot both be true.
    Only the log's signature on the other checkpoint is required: a log that signed two inconsistent trees has
    forked, whoever cosigned them.
    """
    mine = state.require_latest().checkpoint
    other = open_checkpoint(other_signed, state.policy.log_keys, state.policy.witness_keys, origin=state.origin)
    theirs = other.checkpoint
    try:
        for kept in state.history():
            if kept.checkpoint.size == theirs.size:
                check_consistent(kept.checkpoint, theirs, [])
        if theirs.size == mine.size:
            check_consistent(mine, theirs, [])
        elif client is None:
            raise VerifyError("checkpoints of different sizes are compared through the log's tiles: give a URL")
        else:
            small, large = (mine, theirs) if mine.size < theirs.size else (theirs, mine)
            if small.size:
                log = verified_log(state, client, large)
                try:
                    log.check_root()
                    proof = log.consistency_proof(small.size)
                except ProofError as exc:
                    raise ForkError(
                        f"the log's tiles do not reproduce tree {large.size} (its root differs): {exc}"
                    ) from exc
                check_consistent(small, large, proof)
    except (ForkError, RollbackError) as exc:
        state.keep_evidence(theirs, other_signed)
        raise ForkError(str(exc)) from exc
    return mine, theirs


def make_proof(state: State, client: LogClient, seq: int) -> tuple[TlogProof, bytes]:
    """A tlog-proof of entry ``seq`` (leaf ``seq - 1``) against the stored checkpoint, verified before it is
    returned, with the entry's leaf data."""
    stored = state.require_latest()
    log = verified_log(state, client, stored.checkpoint)
    index = seq - 1
    if not 0 <= index < log.size:
        raise ProofError(f"entry {seq} is not in the stored checkpoint's tree of {log.size} entries (run update?)")
    hashes = log.inclusion_proof(index)
    leaf = log.leaves(index // TILE_WIDTH)[index % TILE_WIDTH]
    return TlogProof(index, tuple(hashes), stored.signed), leaf


def state_file(state: State) -> Path:
    """The file another verifier passes to ``compare``."""
    return state.path / "checkpoint"
