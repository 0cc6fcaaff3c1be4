"""Tokens of the instance's operator (settings such as ``operator_token`` and ``metrics_token``), not of any agency.

One constant-time check of ``Authorization: Bearer <token>`` against such a setting, shared by ``/metrics`` (whose
refusals are deliberately not audited: an anonymous scraper must not grow the log) and the operator's backup
(:meth:`plateledger.backup.service.Backups.authenticate_operator`, whose refusals are audited as ``auth.refused``).
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from plateledger.core.errors import AuthenticationFailed


def require_instance_token(token: SecretStr | None, authorization: str | None, *, closed: str, wrong: str) -> None:
    """Return when ``authorization`` is ``Bearer <token>`` (an instance operator's token setting); raise
    :class:`AuthenticationFailed` with ``closed`` when the setting is unset, ``wrong`` for any other header."""
    if token is None:
        raise AuthenticationFailed(closed)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    ):
        raise AuthenticationFailed(wrong)
