"""C2SP tlog-checkpoint and tlog-cosignature/v1."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger_verify import merkle
from plateledger_verify.checkpoint import (
    Checkpoint,
    add_signatures,
    cosign,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from plateledger_verify.errors import MalformedError, SignatureError, VerifyError
from plateledger_verify.note import EM_DASH, SIG_COSIGNATURE_V1, Signer, cosignature_message, parse_note
from plateledger_verify.policy import open_checkpoint_with_policy, parse_policy

# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature example (keys not published: parsed, not verified).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    f"{EM_DASH} example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    f"{EM_DASH} witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)

LOG = Signer.generate("audit.example.org/log")
W1 = Signer.generate("oversight.example/w1", SIG_COSIGNATURE_V1)
W2 = Signer.generate("aclu.example/w2", SIG_COSIGNATURE_V1)
ROOT = merkle.leaf_hash(b"root")


def test_specification_example_parses() -> None:
    note = parse_note(SPEC_CHECKPOINT.encode())
    cp = parse_checkpoint(note.text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert base64.b64encode(cp.root).decode() == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert cp.text() == note.text
    log_sig, witness_sig = note.signatures
    assert len(log_sig.signature) == 64
    # The cosignature's timestamp is the one of the specification's signed-message example.
    assert witness_sig.timestamp == 1679315147
    assert cosignature_message(cp.text(), 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_signed_and_cosigned_checkpoint_opens() -> None:
    cp = Checkpoint(LOG.name, 12, ROOT)
    signed = add_signatures(sign_checkpoint(cp, LOG), cosign(cp, W1, 1_800_000_000))
    verified = open_checkpoint(signed, [LOG.verifier], [W1.verifier, W2.verifier])
    assert verified.checkpoint == cp
    assert verified.log_key == LOG.verifier
    assert dict(verified.cosignatures) == {W1.verifier: 1_800_000_000}
    assert verified.signed == signed


def test_checkpoint_signed_by_an_unknown_key_is_refused() -> None:
    cp = Checkpoint(LOG.name, 12, ROOT)
    rogue = Signer.generate(LOG.name)  # same name, another key
    with pytest.raises(SignatureError):
        open_checkpoint(sign_checkpoint(cp, rogue), [LOG.verifier])
    # Cosigned by a trusted witness but not signed by the log: still refused.
    only_witness = add_signatures(sign_checkpoint(cp, rogue), cosign(cp, W1, 1))
    with pytest.raises(SignatureError, match="not signed by the log"):
        open_checkpoint(only_witness, [LOG.verifier], [W1.verifier])


def test_origin_must_be_the_log_key_name() -> None:
    cp = Checkpoint("other.example/log", 1, ROOT)
    with pytest.raises(SignatureError, match="origin"):
        open_checkpoint(sign_checkpoint(cp, LOG), [LOG.verifier])
    assert open_checkpoint(sign_checkpoint(cp, LOG), [LOG.verifier], origin="other.example/log").checkpoint == cp


def test_extension_lines_are_refused_unless_asked_for() -> None:
    cp = Checkpoint(LOG.name, 3, ROOT, ("timestamp 1700000000",))
    signed = sign_checkpoint(cp, LOG)
    with pytest.raises(MalformedError, match="extension"):
        open_checkpoint(signed, [LOG.verifier])
    assert open_checkpoint(signed, [LOG.verifier], allow_extensions=True).checkpoint.extensions == cp.extensions
    # A line smuggled into a checkpoint the log signed without it breaks the log's signature.
    plain = sign_checkpoint(Checkpoint(LOG.name, 3, ROOT), LOG)
    smuggled = plain.replace(b"=\n\n", b"=\nsmuggled\n\n", 1)
    with pytest.raises(SignatureError):
        open_checkpoint(smuggled, [LOG.verifier], allow_extensions=True)


def test_a_bad_cosignature_by_a_known_witness_rejects_the_checkpoint() -> None:
    cp = Checkpoint(LOG.name, 5, ROOT)
    other = Checkpoint(LOG.name, 5, merkle.leaf_hash(b"fork"))
    signed = add_signatures(sign_checkpoint(cp, LOG), cosign(other, W1, 7))
    with pytest.raises(SignatureError, match="does not verify"):
        open_checkpoint(signed, [LOG.verifier], [W1.verifier])
    # The cosignature commits to its timestamp.
    sig = cosign(cp, W1, 7)
    moved = type(sig)(sig.name, sig.key_id, (8).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureError):
        open_checkpoint(add_signatures(sign_checkpoint(cp, LOG), moved), [LOG.verifier], [W1.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",
        "origin\n012\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAA\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint(text, allow_extensions=True)


def test_empty_extension_line_is_refused() -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nx\n", allow_extensions=True)


@settings(deadline=None)
@given(
    origin=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=40),
    size=st.integers(min_value=0, max_value=2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1), max_size=3),
)
def test_checkpoint_text_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root if size else merkle.EMPTY_ROOT, tuple(extensions))
    assert parse_checkpoint(cp.text(), allow_extensions=True) == cp


def test_every_single_bit_flip_of_a_cosigned_checkpoint_is_refused() -> None:
    policy = parse_policy(f"log {LOG.verifier}\nwitness W1 {W1.verifier}\nquorum W1\n")
    cp = Checkpoint(LOG.name, 4242, ROOT)
    signed = add_signatures(sign_checkpoint(cp, LOG), cosign(cp, W1, 1_800_000_000))
    assert open_checkpoint_with_policy(signed, policy).checkpoint == cp
    for bit in range(len(signed) * 8):
        flipped = bytearray(signed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(VerifyError):
            open_checkpoint_with_policy(bytes(flipped), policy)
