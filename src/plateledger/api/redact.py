"""Keeping URL tokens out of logs and error bodies.

Equipment that cannot set an ``Authorization`` header sends its device token in the path
(``/api/v1/ingest/{source}/{token}``). That path must never be written anywhere: uvicorn's access log, the error
log, problem bodies' ``instance`` and the audit log all see :func:`redact_path`'s form instead.
"""

from __future__ import annotations

import logging
import re

#: ``/api/v1/ingest/<source>/<token>``: everything after the source is the secret.
_URL_TOKEN = re.compile(r"^(/api/v1/ingest/[^/?#]+)/[^?#]*")
REDACTED = "<token>"


def redact_path(path: str) -> str:
    """``path`` with a URL token replaced by ``<token>`` (other paths unchanged)."""
    return _URL_TOKEN.sub(rf"\1/{REDACTED}", path)


class RedactTokens(logging.Filter):
    """A filter for uvicorn's access logger: its third argument is the request path with the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_log_filter() -> None:
    """Add :class:`RedactTokens` to uvicorn's access logger once (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
