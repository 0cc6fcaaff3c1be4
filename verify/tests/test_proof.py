"""C2SP tlog-proof files: format round trips, the specification's example, offline verification."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint, add_signatures, cosign, sign_checkpoint
from plateledger_verify.errors import MalformedError, ProofError, QuorumError, SignatureError, VerifyError
from plateledger_verify.note import EM_DASH, SIG_COSIGNATURE_V1, Signer
from plateledger_verify.policy import parse_policy
from plateledger_verify.proof import HEADER, TlogProof, parse_proof, verify_proof

# c2sp.org/tlog-proof example (its signatures are elided there, so only the proof lines are used).
SPEC_HEAD = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

"""
SPEC_CHECKPOINT = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"

LOG = Signer.generate("audit.example.org/log")
WITNESS = Signer.generate("oversight.example/w1", SIG_COSIGNATURE_V1)
POLICY = parse_policy(f"log {LOG.verifier}\nwitness W {WITNESS.verifier}\nquorum W\n")


def test_specification_example_parses() -> None:
    signed = SPEC_CHECKPOINT + f"{EM_DASH} example.com/fancylog AAAAAAAAAAAAAAAA\n"
    proof = parse_proof((SPEC_HEAD + signed).encode())
    assert proof.index == 73894
    assert len(proof.hashes) == 5
    assert proof.extra == base64.b64decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
    assert proof.checkpoint == signed.encode()
    assert proof.encode() == (SPEC_HEAD + signed).encode()


def _log(n: int) -> tuple[list[bytes], dict[tuple[int, int], bytes], merkle.CompactRange]:
    entries = [f"audit entry {i}".encode() for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for e in entries:
        for node in compact.append(merkle.leaf_hash(e)):
            nodes[node.level, node.index] = node.hash
    return entries, nodes, compact


def _proof_for(index: int, n: int = 1000, cosigned: bool = True) -> tuple[TlogProof, bytes]:
    entries, nodes, compact = _log(n)
    cp = Checkpoint(LOG.name, n, compact.root())
    signed = sign_checkpoint(cp, LOG)
    if cosigned:
        signed = add_signatures(signed, cosign(cp, WITNESS, 1_800_000_000))
    hashes = merkle.inclusion_proof(index, n, lambda lv, ix: nodes[lv, ix])
    return TlogProof(index, tuple(hashes), signed), merkle.leaf_hash(entries[index])


def test_proof_verifies_offline_and_round_trips() -> None:
    proof, leaf = _proof_for(417)
    again = parse_proof(proof.encode())
    assert again == proof
    assert verify_proof(again, leaf, POLICY).checkpoint.size == 1000


def test_each_failure_has_its_class() -> None:
    proof, leaf = _proof_for(417)
    with pytest.raises(ProofError):
        verify_proof(proof, merkle.leaf_hash(b"another entry"), POLICY)
    with pytest.raises(ProofError):
        verify_proof(TlogProof(418, proof.hashes, proof.checkpoint), leaf, POLICY)
    with pytest.raises(ProofError):
        verify_proof(TlogProof(1000, proof.hashes, proof.checkpoint), leaf, POLICY)
    with pytest.raises(QuorumError):
        verify_proof(_proof_for(417, cosigned=False)[0], leaf, POLICY)
    stranger = parse_policy(f"log {Signer.generate(LOG.name).verifier}\nquorum none\n")
    with pytest.raises(SignatureError):
        verify_proof(proof, leaf, stranger)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"c2sp.org/tlog-proof@v2\nindex 0\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex 01\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex -1\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\n",
        b"c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\nextra AAAA\n\ncheckpoint\n",
        b"c2sp.org/tlog-proof@v1\nindex 0\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\ncp\n",
        "c2sp.org/tlog-proof@v1\nindex 0 é\n\ncheckpoint\n".encode(),
    ],
)
def test_malformed_proofs_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_proof(data)


@settings(deadline=None)
@given(
    index=st.integers(min_value=0, max_value=2**63 - 1),
    hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=63),
    extra=st.none() | st.binary(min_size=1, max_size=100),
    checkpoint=st.binary(min_size=1, max_size=200),
)
def test_proof_format_round_trips(index: int, hashes: list[bytes], extra: bytes | None, checkpoint: bytes) -> None:
    proof = TlogProof(index, tuple(hashes), checkpoint, extra)
    data = proof.encode()
    assert data.startswith(HEADER.encode() + b"\n")
    assert parse_proof(data) == proof


PROOF, LEAF = _proof_for(417)
PROOF_BYTES = PROOF.encode()


@settings(max_examples=300, deadline=None)
@given(bit=st.integers(min_value=0, max_value=len(PROOF_BYTES) * 8 - 1))
def test_any_single_bit_flip_of_a_proof_file_is_refused(bit: int) -> None:
    flipped = bytearray(PROOF_BYTES)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(VerifyError):
        verify_proof(parse_proof(bytes(flipped)), LEAF, POLICY)
