"""C2SP signed notes and key encodings: the published examples, the opening rules, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plateledger_verify.errors import MalformedError, SignatureError
from plateledger_verify.note import (
    EM_DASH,
    MAX_SIGNATURES,
    SIG_COSIGNATURE_V1,
    Note,
    Signature,
    Signer,
    VerifierKey,
    open_note,
    parse_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note documentation (the reference implementation's example).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = (
    f"{EM_DASH} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = (
    f"{EM_DASH} EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note examples.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{EM_DASH} example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
QUASIMODO = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    f"{EM_DASH} quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def test_go_reference_example_is_reproduced_byte_for_byte() -> None:
    signer = Signer.parse(GO_SKEY)
    assert str(signer.verifier) == GO_VKEY
    assert signer.private_key_text() == GO_SKEY
    assert sign_note(GO_TEXT, signer) == (GO_TEXT + "\n" + GO_SIG).encode()
    opened = open_note((GO_TEXT + "\n" + GO_SIG).encode(), [VerifierKey.parse(GO_VKEY)])
    assert opened.text == GO_TEXT
    assert [k.name for k, _ in opened.verified] == ["PeterNeumann"]


def test_doubly_signed_go_example() -> None:
    note = (GO_TEXT + "\n" + GO_SIG + ENOCH_SIG).encode()
    both = open_note(note, [VerifierKey.parse(GO_VKEY), VerifierKey.parse(ENOCH_VKEY)])
    assert [k.name for k, _ in both.verified] == ["PeterNeumann", "EnochRoot"]
    only_enoch = open_note(note, [VerifierKey.parse(ENOCH_VKEY)])
    assert [s.name for s in only_enoch.unverified] == ["PeterNeumann"]


def test_c2sp_signed_note_example_verifies() -> None:
    key = VerifierKey.parse(SPEC_VKEY)
    assert (key.name, key.key_id, key.type) == ("example.com/foo", 0x530D903A, 0x01)
    assert open_note(SPEC_NOTE.encode(), [key]).text == "This is an example message.\n"


def test_text_ends_at_the_last_blank_line() -> None:
    note = parse_note(QUASIMODO.encode())
    assert note.text.endswith("\n\ned è subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert note.encode() == QUASIMODO.encode()


def test_unknown_keys_are_ignored_but_some_known_key_must_sign() -> None:
    with pytest.raises(SignatureError, match="no trusted key"):
        open_note(QUASIMODO.encode(), [VerifierKey.parse(SPEC_VKEY)])
    with pytest.raises(SignatureError, match="no trusted key"):
        open_note(SPEC_NOTE.encode(), [])
    # Same name, other key: unknown (ignored), so the note is still unverified.
    impostor = Signer.generate("example.com/foo")
    with pytest.raises(SignatureError):
        open_note(SPEC_NOTE.encode(), [impostor.verifier])


def test_a_known_keys_bad_signature_rejects_the_note() -> None:
    signer, other = Signer.generate("log.example/a"), Signer.generate("log.example/b")
    good = sign_note("hello\n", signer, other)
    forged = good.replace(b"hello", b"hellO")
    with pytest.raises(SignatureError, match="does not verify"):
        open_note(forged, [signer.verifier])
    # One good, one bad known signature: rejected whole.
    bad_line = Signature(other.name, other.verifier.key_id, b"\x00" * 64).line()
    mixed = sign_note("hello\n", signer) + bad_line.encode()
    with pytest.raises(SignatureError):
        open_note(mixed, [signer.verifier, other.verifier])
    with pytest.raises(MalformedError, match="two signatures"):
        open_note(sign_note("hello\n", signer, signer), [signer.verifier])


def test_at_least_sixteen_signatures_are_accepted() -> None:
    signers = [Signer.generate(f"w{i}.example") for i in range(MAX_SIGNATURES)]
    data = sign_note("many\n", *signers)
    assert len(open_note(data, [signers[-1].verifier]).unverified) == MAX_SIGNATURES - 1
    with pytest.raises(MalformedError, match="more than"):
        parse_note(data + Signature("x", 1, b"y" * 64).line().encode())


@pytest.mark.parametrize(
    "data",
    [
        b"no blank line\n" + GO_SIG.encode(),
        (GO_TEXT + "\n").encode(),
        (GO_TEXT + "\n" + GO_SIG).encode()[:-1],
        (GO_TEXT + "\n" + GO_SIG + "\n").encode(),
        (GO_TEXT + "\n" + GO_SIG.replace(EM_DASH, "-")).encode(),
        (GO_TEXT + "\n" + GO_SIG.replace(" x08", "  x08")).encode(),
        (GO_TEXT + "\n" + GO_SIG.replace("AM=", "AM")).encode(),
        (GO_TEXT + "\n" + GO_SIG.replace("x08go/", "x08go_")).encode(),
        (GO_TEXT + "\n" + f"{EM_DASH} a+b AAAAAAA=\n").encode(),
        (GO_TEXT + "\n" + f"{EM_DASH} short AAAA\n").encode(),
        ("tab\there\n\n" + GO_SIG).encode(),
        ("cr\r\n\n" + GO_SIG).encode(),
        b"\xff\xfe\n\n" + GO_SIG.encode(),
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedError):
        open_note(data, [VerifierKey.parse(GO_VKEY)])


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY[:-1],
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("c74f20a3", "C74F20A3"),
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length (Go's test)
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown type (Go's test)
        "PeterNeumann+c74f20a3",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(MalformedError):
        VerifierKey.parse(vkey)


@pytest.mark.parametrize(
    "skey",
    [
        GO_SKEY.replace("PRIVATE+KEY", "PRIVATE+KEX"),
        GO_SKEY.replace("c74f20a3", "c74f20a4"),
        GO_SKEY[:-1],
        GO_SKEY.replace("+AYEK", "+AoEK"),
        GO_VKEY,
    ],
)
def test_bad_signer_keys_are_refused(skey: str) -> None:
    with pytest.raises(MalformedError):
        Signer.parse(skey)


def test_cosignature_keys_sign_with_a_timestamp() -> None:
    witness = Signer.generate("witness.example/w1", SIG_COSIGNATURE_V1)
    again = Signer.parse(witness.private_key_text())
    assert again.verifier == witness.verifier
    assert str(witness.verifier).startswith("witness.example/w1+")
    sig = witness.sign("text\n", timestamp=1_700_000_000)
    assert sig.timestamp == 1_700_000_000
    assert witness.verifier.verify("text\n", sig.signature)
    assert not witness.verifier.verify("text!\n", sig.signature)
    with pytest.raises(ValueError, match="timestamp"):
        witness.sign("text\n")
    with pytest.raises(ValueError, match="timestamp"):
        Signer.generate("log").sign("text\n", timestamp=1)


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.just("\n"), max_size=200).map(
        lambda t: t + "\n"
    ),
    name=st.text(st.characters(whitelist_categories=["L", "N"]) | st.sampled_from("./-_:"), min_size=1, max_size=30),
)
def test_signed_notes_round_trip(text: str, name: str) -> None:
    signer = Signer.generate(name)
    data = sign_note(text, signer)
    note = parse_note(data)
    assert note == Note(text, note.signatures)
    assert note.encode() == data
    assert open_note(data, [VerifierKey.parse(str(signer.verifier))]).text == text
