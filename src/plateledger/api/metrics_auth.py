"""Who may read ``/metrics``: the holder of the instance's metrics token, nobody else.

The metrics hold figures of every agency of the instance (silent cameras per agency, requests per route), which no
agency's user may see as a whole: an admin manages one agency, an auditor reads one agency's log. So they are not
behind a user's API token but behind a token of the instance's operator, the ``metrics_token`` setting, which a
Prometheus scrape job presents as ``Authorization: Bearer ...`` (its ``authorization.credentials_file``). Without
the setting, ``/metrics`` refuses every request. A refusal is 401 problem+json; it is not on the audit log (no
user and no data is involved, and an unauthenticated scraper must not be able to grow the log).
"""

from __future__ import annotations

from plateledger.auth.instance import require_instance_token
from plateledger.core.settings import Settings


def require_metrics_token(settings: Settings, authorization: str | None) -> None:
    """Return when ``authorization`` is ``Bearer <metrics_token>``; raise :class:`AuthenticationFailed` otherwise."""
    require_instance_token(
        settings.metrics_token,
        authorization,
        closed="/metrics is closed: set metrics_token and scrape with it as a bearer token",
        wrong="/metrics needs the metrics token (setting metrics_token) as a bearer token",
    )
