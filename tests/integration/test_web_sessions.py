"""Web sessions and sign-in lockout in the governance store, on SQLite and PostgreSQL: the library side of the
web UI's sign-in (``auth/sessions.py``, ``auth/signin.py``)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from plateledger.core.clock import FixedClock
from plateledger.core.errors import AuthenticationFailed
from plateledger.platform import Platform
from plateledger.store.models import WebSession
from tests.integration.web_kit import PASSWORD, web_network


def test_sessions_resolve_expire_and_end_everywhere(gov_platform: Platform) -> None:
    platform = gov_platform
    net = web_network(platform)
    user = net.user(net.palm, "investigator")
    first_secret, first = platform.sessions.sign_in(user, PASSWORD)
    second_secret, _ = platform.sessions.sign_in(user, PASSWORD)
    resolved = platform.sessions.resolve(first_secret)
    assert resolved.principal.username == user
    assert resolved.csrf == first.csrf
    with platform.governance.session() as session:
        stored = session.scalars(select(WebSession.secret_hash)).all()
    assert first_secret not in stored  # only hashes are kept
    assert platform.sessions.sign_out(resolved, everywhere=True) == 2
    for secret in (first_secret, second_secret):
        with pytest.raises(AuthenticationFailed, match="session has ended"):
            platform.sessions.resolve(secret)
    _, _ = platform.sessions.sign_in(user, PASSWORD)
    late, _ = platform.sessions.sign_in(user, PASSWORD)
    clock = platform.clock
    assert isinstance(clock, FixedClock)
    clock.advance(platform.settings.web_session_hours * 3_600_000)
    with pytest.raises(AuthenticationFailed):
        platform.sessions.resolve(late)


def test_lockout_counts_consecutive_failures_and_is_audited(gov_platform: Platform) -> None:
    platform = gov_platform
    net = web_network(platform)
    user = net.user(net.harbor, "admin")
    for _ in range(platform.settings.login_max_failures - 1):
        with pytest.raises(AuthenticationFailed, match="bad username or password"):
            platform.sessions.sign_in(user, "wrong")
    platform.sessions.sign_in(user, PASSWORD)  # a success resets the count
    for _ in range(platform.settings.login_max_failures):
        with pytest.raises(AuthenticationFailed):
            platform.sessions.sign_in(user, "wrong")
    with pytest.raises(AuthenticationFailed, match="bad username or password"):
        platform.sessions.sign_in(user, PASSWORD)
    assert "locked until" in orjson.loads(platform.audit.entries(limit=10_000)[-1].params)["reason"]
    locked = [e for e in platform.audit.entries(limit=10_000) if e.action == "auth.locked"]
    assert len(locked) == 1
    assert locked[0].actor_username == user
    with pytest.raises(AuthenticationFailed, match="bad username or password"):
        platform.sessions.sign_in("nobody", PASSWORD)
