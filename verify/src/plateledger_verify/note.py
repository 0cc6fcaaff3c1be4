"""C2SP signed notes: text signed by one or more keys, and the keys' text encodings.

A note is UTF-8 text ending in a newline, a blank line, then signature lines ``— <key name> base64(key ID ‖
signature)``. A key is named and identified by ``key ID = SHA-256(name ‖ "\\n" ‖ type ‖ public key)[:4]``.

Key encodings (as Go's ``golang.org/x/mod/sumdb/note`` writes them):

* verifier key (*vkey*): ``<name>+<hex key ID>+base64(type ‖ public key)``
* signer key: ``PRIVATE+KEY+<name>+<hex key ID>+base64(type ‖ Ed25519 seed)``

Two signature types are supported: ``0x01`` Ed25519 over the note text (logs), and ``0x04`` timestamped Ed25519
cosignatures (witnesses, c2sp.org/tlog-cosignature: Ed25519 over ``cosignature/v1\\ntime <T>\\n`` ‖ text, the
signature prefixed by ``T`` as a big-endian uint64).

Opening a note (:func:`open_note`) follows the specification: signatures by unknown keys are ignored (kept as
unverified), a known key's bad signature rejects the whole note, a note no known key verifies is rejected, and
up to :data:`MAX_SIGNATURES` signatures are accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from plateledger_verify.errors import MalformedError, SignatureError

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
SUPPORTED_TYPES = frozenset({SIG_ED25519, SIG_COSIGNATURE_V1})
#: Signatures accepted on one note; the specification requires at least 16.
MAX_SIGNATURES = 100
EM_DASH = "\u2014"
COSIGNATURE_HEADER = "cosignature/v1"
_MAX_TIMESTAMP = (1 << 63) - 1


def valid_name(name: str) -> bool:
    """Key names are non-empty, without Unicode spaces or ``+``."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, key_type: int, public_key: bytes) -> int:
    """``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`` as a big-endian integer."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 with padding, refusing any other spelling of the same bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedError(f"{what} is not base64: {text[:40]!r}") from exc
    if base64.b64encode(raw).decode() != text:
        raise MalformedError(f"{what} is not canonical base64")
    return raw


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 signs: header, time line, then the checkpoint body."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError(f"timestamp {timestamp} out of range")
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the signer's name and key ID, and the signature bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"

    @property
    def timestamp(self) -> int:
        """The time a cosignature (type 0x04) states; meaningless for other types."""
        if len(self.signature) != 8 + 64:
            raise MalformedError(f"signature by {self.name} is not a timestamped Ed25519 cosignature")
        return int.from_bytes(self.signature[:8], "big")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key with its name and type; ``str()`` gives the vkey encoding."""

    name: str
    key_id: int
    type: int
    public_key: bytes

    @classmethod
    def for_ed25519(cls, name: str, public_key: bytes, key_type: int = SIG_ED25519) -> VerifierKey:
        if not valid_name(name):
            raise MalformedError(f"key name {name!r} is empty or holds a space or '+'")
        if key_type not in SUPPORTED_TYPES or len(public_key) != 32:
            raise MalformedError(f"not an Ed25519 key of type {key_type:#04x}")
        return cls(name, key_id(name, key_type, public_key), key_type, public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<hex key ID>+base64(type ‖ key)``; refuses a key ID that does not match the key."""
        parts = text.split("+", 2)
        if len(parts) != 3 or not valid_name(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise MalformedError(f"verifier key {text[:60]!r} is not <name>+<8 hex digits>+<base64>")
        raw = b64decode_strict(parts[2], "verifier key")
        if len(raw) != 33 or raw[0] not in SUPPORTED_TYPES:
            raise MalformedError(f"verifier key {parts[0]} is not an Ed25519 key of type 0x01 or 0x04")
        key = cls.for_ed25519(parts[0], raw[1:], raw[0])
        if key.key_id != int(parts[1], 16):
            raise MalformedError(f"verifier key {parts[0]}: key ID {parts[1]} does not match the key")
        return key

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{b64(bytes([self.type]) + self.public_key)}"

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key ID) is this key's signature of note ``text``."""
        if self.type == SIG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > _MAX_TIMESTAMP:
                return False
            message, signature = cosignature_message(text, timestamp), signature[8:]
        else:
            message = text.encode()
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 private key with its name and signature type (0x01 for a log, 0x04 for a witness)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, key_type: int = SIG_ED25519) -> None:
        self.private_key = private_key
        self.verifier = VerifierKey.for_ed25519(name, private_key.public_key().public_bytes_raw(), key_type)

    @property
    def name(self) -> str:
        return self.verifier.name

    @classmethod
    def generate(cls, name: str, key_type: int = SIG_ED25519) -> Signer:
        return cls(name, Ed25519PrivateKey.generate(), key_type)

    @classmethod
    def parse(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+base64(type ‖ seed)``; the key ID must match the key."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not re.fullmatch(r"[0-9a-f]{8}", parts[3]):
            raise MalformedError("signer key is not PRIVATE+KEY+<name>+<8 hex digits>+<base64>")
        raw = b64decode_strict(parts[4], "signer key")
        if len(raw) != 33 or raw[0] not in SUPPORTED_TYPES:
            raise MalformedError("signer key is not an Ed25519 key of type 0x01 or 0x04")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]), raw[0])
        if signer.verifier.key_id != int(parts[3], 16):
            raise MalformedError(f"signer key {parts[2]}: key ID {parts[3]} does not match the key")
        return signer

    def private_key_text(self) -> str:
        """The signer key encoding. Secret: write it to a file only its owner can read."""
        seed = self.private_key.private_bytes_raw()
        v = self.verifier
        return f"PRIVATE+KEY+{v.name}+{v.key_id:08x}+{b64(bytes([v.type]) + seed)}"

    def sign(self, text: str, *, timestamp: int | None = None) -> Signature:
        """Sign note ``text``: Ed25519 over the text, or for a cosigner over the cosignature/v1 message."""
        if self.verifier.type == SIG_COSIGNATURE_V1:
            if timestamp is None:
                raise ValueError("a cosignature needs a timestamp")
            raw = timestamp.to_bytes(8, "big") + self.private_key.sign(cosignature_message(text, timestamp))
        else:
            if timestamp is not None:
                raise ValueError("only cosignatures carry a timestamp")
            raw = self.private_key.sign(text.encode())
        return Signature(self.verifier.name, self.verifier.key_id, raw)


# --- notes -------------------------------------------------------------------------------------------------------

_SIG_LINE = re.compile(f"{EM_DASH} ([^ ]+) ([A-Za-z0-9+/=]+)")


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text (ending in a newline) and its signatures, in order."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def with_signatures(self, *signatures: Signature) -> Note:
        return Note(self.text, self.signatures + signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedError("note text must end with a newline")
    bad = next((c for c in text if c < " " and c != "\n"), None)
    if bad is not None:
        raise MalformedError(f"note holds control character {ord(bad):#04x}")


def parse_note(data: bytes | str) -> Note:
    """Split a signed note into text and signature lines; checks syntax only, not signatures."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("note is not UTF-8") from exc
    _check_text(data)
    split = data.rfind("\n\n")
    if split < 0:
        raise MalformedError("note has no blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise MalformedError("note has no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def parse_signature_line(line: str) -> Signature:
    """One ``— <name> <base64>`` line, without its newline."""
    m = _SIG_LINE.fullmatch(line)
    if not m or not valid_name(m[1]):
        raise MalformedError(f"malformed signature line {line[:60]!r}")
    raw = b64decode_strict(m[2], f"signature by {m[1]}")
    if len(raw) < 5:
        raise MalformedError(f"signature by {m[1]} is too short")
    return Signature(m[1], int.from_bytes(raw[:4], "big"), raw[4:])


def sign_note(text: str, *signers: Signer, timestamp: int | None = None) -> bytes:
    """A signed note of ``text`` (ending in a newline) by each signer; ``timestamp`` for cosigners."""
    _check_text(text)
    if not signers:
        raise ValueError("a note needs at least one signature")
    sigs = tuple(s.sign(text, timestamp=timestamp if s.verifier.type == SIG_COSIGNATURE_V1 else None) for s in signers)
    return Note(text, sigs).encode()


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note at least one known key verified: which keys did, and the signatures nobody here knows."""

    note: Note
    verified: tuple[tuple[VerifierKey, Signature], ...]
    unverified: tuple[Signature, ...]

    @property
    def text(self) -> str:
        return self.note.text

    def signed_by(self, key: VerifierKey) -> Signature | None:
        return next((sig for k, sig in self.verified if k == key), None)


def open_note(data: bytes | str | Note, known: Iterable[VerifierKey]) -> OpenedNote:
    """Parse and verify a note against the known keys.

    Raises :class:`MalformedError` for bad syntax or two signatures by one known key, and
    :class:`SignatureError` when a known key's signature fails or no known key signed.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    index: dict[tuple[str, int], VerifierKey] = {}
    for key in known:
        if index.setdefault((key.name, key.key_id), key) != key:
            raise ValueError(f"two known keys share name {key.name} and key ID {key.key_id:08x}")
    verified: list[tuple[VerifierKey, Signature]] = []
    unverified: list[Signature] = []
    for sig in note.signatures:
        found = index.get((sig.name, sig.key_id))
        if found is None:
            unverified.append(sig)
            continue
        if any(k == found for k, _ in verified):
            raise MalformedError(f"two signatures by key {found.name}+{found.key_id:08x}")
        if not found.verify(note.text, sig.signature):
            raise SignatureError(f"the signature by {found.name}+{found.key_id:08x} does not verify")
        verified.append((found, sig))
    if not verified:
        names = ", ".join(sorted({s.name for s in note.signatures}))
        raise SignatureError(f"no trusted key signed the note (signed by: {names})")
    return OpenedNote(note, tuple(verified), tuple(unverified))


def known_keys(texts: Sequence[str]) -> list[VerifierKey]:
    """Parse several vkeys (e.g. from a command line)."""
    return [VerifierKey.parse(t) for t in texts]
