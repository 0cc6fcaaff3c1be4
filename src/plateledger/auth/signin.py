"""Password sign-in with lockout and the optional one-time-code (TOTP) second factor, shared by the API's
``/auth/login`` and the web UI's sign-in.

Every attempt is audited: ``auth.login`` or ``auth.login_failed``; the failure that reaches
``login_max_failures`` consecutive failures also appends ``auth.locked`` and locks the user for
``login_lockout_minutes``, during which even the right password is refused (and audited). A user who turned on
TOTP must give a valid code with the password; a wrong or missing code counts as a failure.
"""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from plateledger.audit.events import AuditEvent, LoginFailed, LoginLocked, LoginSucceeded
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.passwords import verify_password
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import AuthenticationFailed
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, User

BAD_CREDENTIALS = "bad username or password"


def totp_ok(secret: str, code: str | None, now_ms: int) -> bool:
    """A 6-digit code valid at ``now_ms`` or one 30-second step either side (clock drift)."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    return pyotp.TOTP(secret).verify(code, for_time=now_ms // 1000, valid_window=1)


class Credentials:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, *, max_failures: int, lockout_minutes: int
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._max_failures = max_failures
        self._lockout_ms = lockout_minutes * 60_000

    def check(self, username: str, password: str, code: str | None = None) -> tuple[User, Agency]:
        """The user and agency for a correct username, password (and code, where TOTP is on); otherwise the
        failure is counted and audited and AuthenticationFailed raised."""
        username = username[:64]
        now = self._clock.now_ms()
        with self._gov.session() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            agency = session.get(Agency, user.agency_id) if user else None
            if user is None or agency is None:
                reason = BAD_CREDENTIALS
            elif user.locked_until_ms is not None and user.locked_until_ms > now:
                reason = f"too many failed sign-ins: locked until {iso_ms(user.locked_until_ms)}"
            elif user.disabled or not verify_password(user.password_hash, password):
                reason = BAD_CREDENTIALS
            elif user.totp_secret and not totp_ok(user.totp_secret, code, now):
                reason = "a valid one-time code is required" if code else "this user signs in with a one-time code"
            else:
                reason = ""
        if not reason and user is not None and agency is not None:
            self._audit.record(Actor(username, agency.id, user.id, user.role), self._succeeded(user.id, username))
            return user, agency
        actor = Actor(username=username, agency_id=agency.id if agency else None)
        counted = user is not None and not reason.startswith("too many")
        self._audit.record_all(actor, self._failed(user.id if user and counted else None, username, reason, now))
        raise AuthenticationFailed(reason)

    @staticmethod
    def _succeeded(user_id: int, username: str) -> Callable[[Session], tuple[AuditEvent, None]]:
        """Clear the user's failure count, in the transaction of its ``auth.login`` entry."""

        def change(session: Session) -> tuple[AuditEvent, None]:
            user = session.get_one(User, user_id)
            user.failed_logins = 0
            user.locked_until_ms = None
            return LoginSucceeded(username=username), None

        return change

    def _failed(
        self, user_id: int | None, username: str, reason: str, now: int
    ) -> Callable[[Session], tuple[list[AuditEvent], None]]:
        """``auth.login_failed``, and for a known user the failure counted (and, at ``login_max_failures``, the
        lockout with its ``auth.locked`` entry), in one transaction."""

        def change(session: Session) -> tuple[list[AuditEvent], None]:
            events: list[AuditEvent] = [LoginFailed(username=username, reason=reason)]
            if user_id is None:
                return events, None
            user = session.get_one(User, user_id)
            user.failed_logins += 1
            if user.failed_logins >= self._max_failures:
                failures, user.failed_logins = user.failed_logins, 0
                user.locked_until_ms = now + self._lockout_ms
                events.append(LoginLocked(username=username, failures=failures, until_ms=user.locked_until_ms))
            return events, None

        return change
