"""C2SP tlog-witness wire formats, and the consistency checks a witness or verifier makes between checkpoints."""

from __future__ import annotations

import pytest

from plateledger_verify import merkle
from plateledger_verify.checkpoint import (
    Checkpoint,
    add_signatures,
    check_consistent,
    cosign,
    open_checkpoint,
    sign_checkpoint,
)
from plateledger_verify.errors import ForkError, MalformedError, RollbackError
from plateledger_verify.note import EM_DASH, SIG_COSIGNATURE_V1, Signer
from plateledger_verify.witness import (
    AddCheckpoint,
    encode_cosignatures,
    encode_size,
    parse_add_checkpoint,
    parse_cosignatures,
    parse_size,
)

# c2sp.org/tlog-witness example request body.
SPEC_BODY = f"""old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

{EM_DASH} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
{EM_DASH} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
""".encode()  # noqa: E501 - the specification's lines

LOG = Signer.generate("audit.example.org/log")
WITNESS = Signer.generate("oversight.example/w1", SIG_COSIGNATURE_V1)


def test_specification_request_parses_and_round_trips() -> None:
    req = parse_add_checkpoint(SPEC_BODY)
    assert req.old_size == 20852014
    assert len(req.proof) == 4
    assert req.checkpoint.startswith(b"example.com/behind-the-sofa\n20852163\n")
    assert req.encode() == SPEC_BODY


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\ncp\n",
        b"old\n\ncp\n",
        b"new 1\n\ncp\n",
        b"old 1\nAAAA\n\ncp\n",
        b"old 1\n\n",
        b"old 0\n" + b"A" * 43 + b"=\n\ncp\n",
        b"old 5\n" + b"".join([b"A" * 43 + b"=\n"] * 64) + b"\ncp\n",
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_add_checkpoint(body)


def test_answers_round_trip() -> None:
    assert parse_size(encode_size(12345)) == 12345
    for bad in (b"12", b"012\n", b"-1\n", b"x\n"):
        with pytest.raises(MalformedError):
            parse_size(bad)
    cp = Checkpoint(LOG.name, 3, merkle.leaf_hash(b"r"))
    sig = cosign(cp, WITNESS, 1_800_000_000)
    assert parse_cosignatures(encode_cosignatures([sig])) == [sig]
    with pytest.raises(MalformedError):
        parse_cosignatures(b"not a signature\n")


class Log:
    def __init__(self) -> None:
        self.compact = merkle.CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}

    def append(self, n: int) -> Checkpoint:
        for _ in range(n):
            for node in self.compact.append(merkle.leaf_hash(self.compact.size.to_bytes(8, "big"))):
                self.nodes[node.level, node.index] = node.hash
        return Checkpoint(LOG.name, self.compact.size, self.compact.root())

    def proof(self, old: int, new: int) -> list[bytes]:
        return [] if old == 0 else merkle.consistency_proof(old, new, lambda lv, ix: self.nodes[lv, ix])


def test_a_witness_round_trip() -> None:
    """The log pushes checkpoints with proofs; the witness checks, keeps the newest and cosigns."""
    log = Log()
    stored = Checkpoint(LOG.name, 0, merkle.EMPTY_ROOT)
    for step in (1, 5, 0, 250, 1000):
        cp = log.append(step)
        body = AddCheckpoint(stored.size, tuple(log.proof(stored.size, cp.size)), sign_checkpoint(cp, LOG)).encode()
        req = parse_add_checkpoint(body)  # --- the witness's side
        verified = open_checkpoint(req.checkpoint, [LOG.verifier])
        assert req.old_size == stored.size
        check_consistent(stored, verified.checkpoint, req.proof)
        stored = verified.checkpoint
        answer = encode_cosignatures([cosign(stored, WITNESS, 1_800_000_000 + step)])
        cosigned = add_signatures(req.checkpoint, *parse_cosignatures(answer))  # --- the log's side
        assert open_checkpoint(cosigned, [LOG.verifier], [WITNESS.verifier]).cosignatures


def test_rollback_fork_and_rewritten_history_are_caught() -> None:
    log = Log()
    old = log.append(100)
    new = log.append(50)
    check_consistent(old, new, log.proof(100, 150))
    check_consistent(old, old, [])
    with pytest.raises(RollbackError):
        check_consistent(new, old, [])
    # Same size, another root: a fork (or a full re-hash after an edit).
    other = Log()
    other.append(99)
    for node in other.compact.append(merkle.leaf_hash(b"edited")):
        other.nodes[node.level, node.index] = node.hash
    forked = Checkpoint(LOG.name, 100, other.compact.root())
    with pytest.raises(ForkError, match="two different roots"):
        check_consistent(old, forked, [])
    # History rewritten then extended: no proof from the old tree reaches it.
    rewritten = Checkpoint(LOG.name, 150, merkle.leaf_hash(b"rewritten root"))
    with pytest.raises(ForkError, match="not shown to extend"):
        check_consistent(old, rewritten, log.proof(100, 150))
    with pytest.raises(ForkError):
        check_consistent(old, new, log.proof(99, 150))
    with pytest.raises(MalformedError):
        check_consistent(old, Checkpoint("another.example/log", 150, new.root), [])
    with pytest.raises(MalformedError):
        check_consistent(old, old, log.proof(50, 100))
    with pytest.raises(MalformedError, match="size 0"):
        Checkpoint(LOG.name, 0, new.root)
