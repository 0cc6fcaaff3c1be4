"""Killing the audit writer: while the governance database refuses writes, a change and its audit entry fail
together. Token creation, user creation, sign-out and sign-in make their change in the audit entry's
transaction (``AuditLog.record``), so the operation fails with AuditUnavailable (503 through the API) and leaves
nothing unaudited behind; a refusal whose entry cannot be written fails closed the same way."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.app import create_app
from plateledger.auth.passwords import hash_password
from plateledger.cameras.quarantine import Release
from plateledger.core.errors import AuditUnavailable, AuthenticationFailed
from plateledger.platform import Platform
from plateledger.store.models import ApiToken, SigninFailures, User, WebSession
from tests.support import HOUR_MS, NOW_MS, AgencyKit, search, seed_agency

PASSWORD = "correct horse battery"


def _short_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=50")
    cursor.close()


@contextmanager
def database_locked(platform: Platform) -> Iterator[None]:
    """Another connection holds the governance database's write lock (reads still work, in WAL mode): every
    write fails once the platform's busy wait (made short here) runs out."""
    engine = platform.governance.engine
    event.listen(engine, "connect", _short_busy_wait)  # after the platform's own pragmas
    engine.dispose()
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        event.remove(engine, "connect", _short_busy_wait)
        engine.dispose()


@contextmanager
def inserts_refused(platform: Platform, table: str, when: str = "1") -> Iterator[None]:
    """``table`` alone refuses inserts (of rows where the SQL condition ``when`` holds, on ``NEW``): a trigger."""
    database = str(platform.governance.engine.url.database)
    with sqlite3.connect(database) as db:
        db.execute(
            f"CREATE TRIGGER writer_down BEFORE INSERT ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, 'down'); END"
        )
    try:
        yield
    finally:
        with sqlite3.connect(database) as db:
            db.execute("DROP TRIGGER writer_down")


def audit_table_refusing(platform: Platform) -> AbstractContextManager[None]:
    """The audit table alone refuses inserts: the change's own writes would succeed, so a change committed before
    its entry would stay, unaudited."""
    return inserts_refused(platform, "audit_log")


Down = Callable[[Platform], AbstractContextManager[None]]
WRITER_DOWN = {"database-locked": database_locked, "audit-table-refusing": audit_table_refusing}


@pytest.fixture(params=sorted(WRITER_DOWN))
def audit_writer_down(request: pytest.FixtureRequest) -> Callable[[Platform], AbstractContextManager[None]]:
    """Each way of killing the audit writer."""
    down: Callable[[Platform], AbstractContextManager[None]] = WRITER_DOWN[request.param]
    return down


@pytest.fixture
def city(platform: Platform) -> AgencyKit:
    kit = seed_agency(platform, "city")
    platform.registry.create_user(kit.admin.actor, agency_slug="city", username="ann", role="investigator")
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    return kit


def _count(platform: Platform, query: Any) -> int:
    with platform.governance.session() as session:
        return int(session.scalar(query) or 0)


def _tokens_of(platform: Platform, username: str) -> int:
    return _count(platform, select(func.count()).select_from(ApiToken).join(User).where(User.username == username))


def _entries(platform: Platform) -> int:
    return len(platform.audit.entries(after_seq=0, limit=1_000_000))


def test_token_creation_leaves_no_token_when_the_audit_log_is_down(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    tokens, entries = _tokens_of(platform, "ann"), _entries(platform)
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.tokens.issue(city.admin.actor, "ann")
    assert _tokens_of(platform, "ann") == tokens
    assert _entries(platform) == entries
    assert platform.audit.verify().intact


def test_token_creation_through_the_api_answers_503_and_stores_nothing(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    tokens = _tokens_of(platform, "ann")
    with TestClient(create_app(platform=platform)) as client:
        headers = {"Authorization": f"Bearer {city.tokens['admin']}"}
        with audit_writer_down(platform):
            response = client.post("/api/v1/tokens", json={"username": "ann"}, headers=headers)
        assert response.status_code == 503, response.text
        assert response.json()["type"].endswith("/audit-unavailable")
    assert _tokens_of(platform, "ann") == tokens


def test_user_creation_leaves_no_user_when_the_audit_log_is_down(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.registry.create_user(city.admin.actor, agency_slug="city", username="bob", role="auditor")
    assert _count(platform, select(func.count()).select_from(User).where(User.username == "bob")) == 0
    assert platform.audit.verify().intact


def test_sign_out_keeps_the_session_when_the_audit_log_is_down(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    secret, signed = platform.sessions.sign_in("ann", PASSWORD)
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.sessions.sign_out(signed)
    assert platform.sessions.resolve(secret).session_id == signed.session_id  # still signed in: nothing ended
    assert platform.sessions.sign_out(signed) == 1  # and it ends, audited, once the log is back


def test_sign_in_does_not_clear_failures_unaudited(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    """A correct password clears the failure count only together with its ``auth.login`` entry."""
    with pytest.raises(AuthenticationFailed):
        platform.sessions.sign_in("ann", "wrong password")
    failures = select(func.sum(SigninFailures.failures)).where(SigninFailures.username == "ann")
    assert _count(platform, failures) == 1
    with audit_writer_down(platform):
        with pytest.raises(AuditUnavailable):
            platform.sessions.sign_in("ann", PASSWORD)
        with pytest.raises(AuditUnavailable):
            platform.sessions.sign_in("ann", "wrong password")
    assert _count(platform, failures) == 1  # neither cleared nor counted
    platform.sessions.sign_in("ann", PASSWORD)
    assert _count(platform, failures) == 0


def test_a_refusal_that_cannot_be_audited_fails_closed(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    """An investigator's token request is refused, but the refusal must be on the record first: 503, not 403."""
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.tokens.issue(city.investigator.actor, "ann")
    with TestClient(create_app(platform=platform)) as client:
        headers = {"Authorization": f"Bearer {city.tokens['investigator']}"}
        with audit_writer_down(platform):
            response = client.post("/api/v1/tokens", json={"username": "ann"}, headers=headers)
        assert response.status_code == 503, response.text


def _pending_totp(platform: Platform, username: str) -> str | None:
    with platform.governance.session() as session:
        return session.scalars(select(User.totp_pending).where(User.username == username)).one()


def test_starting_one_time_codes_stores_no_secret_unaudited(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    """The pending TOTP secret is stored in the transaction of its ``auth.totp_started`` entry, or not at all."""
    _, signed = platform.sessions.sign_in("ann", PASSWORD)
    entries = _entries(platform)
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.sessions.start_totp(signed.principal)
    assert _pending_totp(platform, "ann") is None
    assert _entries(platform) == entries
    secret = platform.sessions.start_totp(signed.principal)
    assert _pending_totp(platform, "ann") == secret
    (entry,) = platform.audit.entries(after_seq=entries)
    assert (entry.action, entry.actor_username) == ("auth.totp_started", "ann")
    assert secret not in entry.params + entry.counts  # never the secret


def _web_sessions(platform: Platform) -> int:
    return _count(platform, select(func.count()).select_from(WebSession))


def test_a_sign_in_is_on_the_log_only_with_its_session(platform: Platform, city: AgencyKit) -> None:
    """The ``auth.login`` entry and the web session commit together: a session that cannot be stored leaves no
    entry claiming a sign-in (nor clears the failure count), and a working sign-in leaves both."""
    with pytest.raises(AuthenticationFailed):
        platform.sessions.sign_in("ann", "wrong password")
    entries = _entries(platform)
    with inserts_refused(platform, "web_sessions"), pytest.raises(AuditUnavailable):
        platform.sessions.sign_in("ann", PASSWORD)
    assert _entries(platform) == entries
    assert _web_sessions(platform) == 0
    failures = select(func.sum(SigninFailures.failures)).where(SigninFailures.username == "ann")
    assert _count(platform, failures) == 1
    secret, signed = platform.sessions.sign_in("ann", PASSWORD)
    (entry,) = platform.audit.entries(after_seq=entries)
    assert (entry.action, entry.actor_username) == ("auth.login", "ann")
    assert platform.sessions.resolve(secret).session_id == signed.session_id
    assert _web_sessions(platform) == 1


def test_a_sign_in_whose_entry_cannot_be_written_opens_no_session(
    platform: Platform, city: AgencyKit, audit_writer_down: Down
) -> None:
    with audit_writer_down(platform), pytest.raises(AuditUnavailable):
        platform.sessions.sign_in("ann", PASSWORD)
    assert _web_sessions(platform) == 0


def _released_entries(platform: Platform) -> list[str]:
    return [e.counts for e in platform.audit.entries(action="camera.quarantine_released")]


@pytest.mark.parametrize("failing", ["ingest.intent", "camera.quarantine_released"])
@pytest.mark.parametrize("how", ["mapped", "approved"])
def test_a_quarantine_release_is_recorded_only_after_its_reads_are_stored(
    platform: Platform, city: AgencyKit, failing: str, how: str
) -> None:
    """The release's entry never claims reads the store did not take: whether the store's own entry
    (``ingest.intent``: nothing stored) or the release's entry (reads stored, release not recorded) cannot be
    written, no ``camera.quarantine_released`` is on the log, the reads wait in quarantine and no mapping is made;
    the retry releases them once, the reads stored before counted as duplicates."""
    held = [
        SourceRead(plate=plate, ts_ms=NOW_MS - HOUR_MS, camera="lane-3", source_ts="", read_id=f"q-{plate}")
        for plate in ("QRL001", "QRL002")
    ]
    platform.vendor.store(city.device.actor, city.agency, Adapted(reads=held), channel="http", source="genetec")

    def release() -> Release:
        if how == "mapped":
            return platform.quarantine.map(city.admin.actor, "city", "lane-3", "city-fixed")
        return platform.quarantine.approve(city.admin.actor, "city", "lane-3", mobile=True)

    with inserts_refused(platform, "audit_log", f"NEW.action = '{failing}'"), pytest.raises(AuditUnavailable):
        release()
    assert _released_entries(platform) == []
    assert [(p.vendor_camera, p.reads) for p in platform.quarantine.pending(city.admin.actor, "city")] == [
        ("lane-3", 2)
    ]
    assert platform.quarantine.aliases(city.agency.id) == {}
    done = release()
    assert platform.quarantine.pending(city.admin.actor, "city") == []
    stored_before = 2 if failing == "camera.quarantine_released" else 0
    assert (done.released, done.result.stored, done.result.duplicates) == (2, 2 - stored_before, stored_before)
    (counts,) = _released_entries(platform)
    assert orjson.loads(counts) == {
        "released": 2,
        "stored": 2 - stored_before,
        "duplicates": stored_before,
        "rejected": 0,
    }
    assert len(search(platform, city.investigator, "QRL001").reads) == 1
    assert platform.audit.verify().intact
