"""One audit entry's inclusion proof in the verifiable log, as a case packet prints it.

Entry ``seq`` is leaf ``seq - 1`` of the Merkle tree (:mod:`plateledger.audit.tree`). When the latest published
checkpoint covers the entry, the proof is against that checkpoint (signed by the log key, cosigned by witnesses)
and is also given as a C2SP tlog-proof (:class:`plateledger_verify.proof.TlogProof`), which ``plateledger-verify
proof-check`` verifies offline. Before a checkpoint covers it, the proof is against the tree as it is now (size and
root unsigned): it shows where the entry sits, and ``plateledger-verify proof SEQ`` gives the signed proof once
the next checkpoint is published.
"""

from __future__ import annotations

from dataclasses import dataclass

from plateledger.audit.checkpoints import Checkpointer, StoredCheckpoint
from plateledger.audit.tree import LogTree
from plateledger.core.errors import AuditUnavailable
from plateledger_verify import merkle
from plateledger_verify.errors import ProofError
from plateledger_verify.proof import TlogProof


@dataclass(frozen=True)
class EntryProof:
    seq: int
    leaf_hash: bytes
    tree_size: int
    root: bytes
    hashes: tuple[bytes, ...]
    #: The published checkpoint the proof is against (None: none covers the entry yet).
    checkpoint: StoredCheckpoint | None
    #: The log's verifier key (``name+id+key``), for ``plateledger-verify proof-check --log-key``.
    log_key: str

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    def tlog_proof(self) -> str | None:
        """The C2SP tlog-proof text, when a published checkpoint covers the entry."""
        if self.checkpoint is None:
            return None
        return TlogProof(self.leaf_index, self.hashes, self.checkpoint.note).encode().decode()


def entry_proof(tree: LogTree, checkpoints: Checkpointer, seq: int) -> EntryProof:
    """The inclusion proof of entry ``seq`` (committed), against the latest published checkpoint if it covers the
    entry, else against the current tree."""
    leaf = tree.leaves([seq]).get(seq)
    if leaf is None:
        raise AuditUnavailable(f"audit entry #{seq} has no leaf in the verifiable log")
    published = checkpoints.latest_published()
    checkpoint = published if published is not None and published.size >= seq else None
    if checkpoint is not None:
        size, root = checkpoint.size, checkpoint.root
    else:
        size, root = tree.head()
    hashes = tuple(tree.inclusion_proof(seq - 1, size))
    leaf_hash = merkle.leaf_hash(leaf[0])
    try:  # never hand out a proof that does not hold
        merkle.verify_inclusion(seq - 1, size, leaf_hash, hashes, root)
    except ProofError as exc:
        raise AuditUnavailable(f"audit entry #{seq}: its inclusion proof does not verify ({exc})") from None
    return EntryProof(
        seq=seq,
        leaf_hash=leaf_hash,
        tree_size=size,
        root=root,
        hashes=hashes,
        checkpoint=checkpoint,
        log_key=str(checkpoints.identity.signer.verifier),
    )
