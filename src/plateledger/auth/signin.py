"""Password sign-in with lockout and the optional one-time-code (TOTP) second factor, shared by the API's
``/auth/login`` and the web UI's sign-in.

Every attempt is audited: ``auth.login`` or ``auth.login_failed``; the failure that reaches
``login_max_failures`` consecutive failures also appends ``auth.locked`` and locks the user for
``login_lockout_minutes``, during which even the right password is refused (and audited). A user who turned on
TOTP must give a valid code with the password; a wrong or missing code counts as a failure.
"""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from plateledger.audit.events import LoginFailed, LoginLocked, LoginSucceeded
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
                user.failed_logins = 0
                user.locked_until_ms = None
                reason = ""
        actor = Actor(username=username, agency_id=agency.id if agency else None)
        if not reason and user is not None and agency is not None:
            self._audit.append(Actor(username, agency.id, user.id, user.role), LoginSucceeded(username=username))
            return user, agency
        self._audit.append(actor, LoginFailed(username=username, reason=reason))
        if user is not None and not reason.startswith("too many"):
            self._count_failure(actor, user.id, now)
        raise AuthenticationFailed(reason)

    def _count_failure(self, actor: Actor, user_id: int, now: int) -> None:
        with self._gov.session() as session:
            user = session.get_one(User, user_id)
            user.failed_logins += 1
            if user.failed_logins < self._max_failures:
                return
            failures, user.failed_logins = user.failed_logins, 0
            user.locked_until_ms = now + self._lockout_ms
            until = user.locked_until_ms
        self._audit.append(actor, LoginLocked(username=actor.username, failures=failures, until_ms=until))
