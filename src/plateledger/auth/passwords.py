"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile), and the one password
policy every door (CLI, API, web UI, demo) goes through: :func:`check_password`."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from plateledger.core.errors import FieldInvalid

_HASHER = PasswordHasher()

#: Shortest password a user may be given (NIST SP 800-63B asks for at least 8; we ask for 12).
MIN_PASSWORD_CHARS = 12
#: Longest: Argon2 takes any length, but a bound keeps a sign-in from hashing megabytes.
MAX_PASSWORD_CHARS = 1024


def check_password(password: str) -> None:
    """Refuse a password that breaks the policy, naming the rule (``FieldInvalid("password", ...)``)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise FieldInvalid("password", f"at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise FieldInvalid("password", f"at most {MAX_PASSWORD_CHARS} characters")


def hash_password(password: str) -> str:
    """The Argon2id hash of a password that passes :func:`check_password` (FieldInvalid otherwise)."""
    check_password(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
