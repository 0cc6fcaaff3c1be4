"""Password sign-in with lockout and the optional one-time-code (TOTP) second factor, shared by the API's
``/auth/login`` and the web UI's sign-in.

The lockout is kept per client address and username, so no one can lock a user out from elsewhere: after
``login_max_failures`` failures of one username from one address, that address is locked out for that username for
``login_lockout_minutes``, doubled at each further lockout (up to a day); after ``login_client_max_failures``
failures of one address across every username (password spraying), that address is locked out for all of them.
Failures are forgotten a lockout's length after the last one, and a successful sign-in clears its pair.

Unknown username, wrong password, disabled user and locked-out address all get the same answer
(:data:`REFUSED`, 401), and the password hash is computed in each case, so neither the text, the status nor the
time tells whether a username exists. The audit entry says which it was: ``auth.login_failed`` with the reason;
the failure that starts a lockout also appends ``auth.locked``. A user who turned on TOTP must give a valid code
with the password; a wrong or missing code counts as a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from plateledger.audit.events import AuditEvent, LoginFailed, LoginLocked, LoginSucceeded
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.passwords import hash_password, verify_password
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import AuthenticationFailed
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, SigninFailures, User

#: The one answer to a refused password sign-in, whatever the reason.
REFUSED = "sign-in refused: bad username or password, or too many failed attempts from this address; try later"
BAD_CREDENTIALS = "bad username or password"
#: The key of an address's failures across every username.
ANY_USER = ""
MAX_LOCKOUT_MS = 86_400_000
#: Client recorded when the entry point knows none (an HTTP server always gives one).
UNKNOWN_CLIENT = "unknown"
T = TypeVar("T")


def _nothing(_session: Session, _user: User, _agency: Agency) -> None:
    return None


@functools.cache
def _decoy_hash() -> str:
    """The hash verified against when there is no user's hash to check, so an unknown name costs the same time.
    Made once per process, at its first sign-in (every sign-in takes it first, so only that first one pays, whatever
    the username), not at every Platform.open: hashing takes ~0.1 s and every CLI command opens a Platform."""
    return hash_password("plateledger decoy password")


def totp_ok(secret: str, code: str | None, now_ms: int) -> bool:
    """A 6-digit code valid at ``now_ms`` or one 30-second step either side (clock drift)."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    return pyotp.TOTP(secret).verify(code, for_time=now_ms // 1000, valid_window=1)


class Credentials:
    def __init__(
        self,
        governance: Governance,
        audit: AuditLog,
        clock: Clock,
        *,
        max_failures: int,
        lockout_minutes: int,
        client_max_failures: int = 50,
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._limits = {False: max_failures, True: client_max_failures}
        self._lockout_ms = lockout_minutes * 60_000

    def check(
        self, username: str, password: str, code: str | None = None, *, client: str | None = None
    ) -> tuple[User, Agency]:
        """The user and agency for a correct username, password (and code, where TOTP is on) from ``client``;
        otherwise the failure is counted and audited and AuthenticationFailed raised."""
        user, agency, _ = self.check_then(username, password, code, client=client, then=_nothing)
        return user, agency

    def check_then(
        self,
        username: str,
        password: str,
        code: str | None = None,
        *,
        client: str | None = None,
        then: Callable[[Session, User, Agency], T],
    ) -> tuple[User, Agency, T]:
        """:meth:`check`, and on success ``then`` (what the sign-in opens: a web session) runs in the transaction of
        the ``auth.login`` entry: the entry, the cleared failures and ``then``'s writes commit together or not at
        all, so the log never records a sign-in whose session was not made. Returns ``then``'s value too."""
        username = username[:64]
        where = client or UNKNOWN_CLIENT
        decoy = _decoy_hash()  # before anything tells whether the user exists: the first call hashes it
        now = self._clock.now_ms()
        shown = REFUSED
        with self._gov.session() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            agency = session.get(Agency, user.agency_id) if user else None
            locked = self._locked_until(session, where, username, now)
            hashed = user.password_hash if user is not None and user.password_hash else decoy
            password_ok = verify_password(hashed, password)  # always run: the same time whatever the outcome
            if locked is not None:
                reason = f"too many failed sign-ins from this address: locked until {iso_ms(locked)}"
            elif user is None or agency is None:
                reason = "no such user"
            elif user.disabled or not password_ok:
                reason = "user disabled" if user.disabled else BAD_CREDENTIALS
            elif user.totp_secret and not totp_ok(user.totp_secret, code, now):
                reason = "a valid one-time code is required" if code else "this user signs in with a one-time code"
                # Asked for only after the right password: saying so tells nothing about the username.
                shown = reason
            else:
                reason = ""
        actor = Actor(username=username, agency_id=agency.id if agency else None, client=client)
        if not reason and user is not None and agency is not None:

            def succeeded(session: Session) -> tuple[AuditEvent, T]:
                pair = session.get(SigninFailures, (where, username))
                if pair is not None:
                    session.delete(pair)
                return LoginSucceeded(username=username), then(session, user, agency)

            opened = self._audit.record(Actor(username, agency.id, user.id, user.role, client), succeeded)[1]
            return user, agency, opened
        if locked is not None:
            self._audit.append(actor, LoginFailed(username=username, reason=reason))
        else:
            self._count_failure(actor, where, reason, now)
        raise AuthenticationFailed(shown)

    def _lockout(self, earlier: int) -> int:
        """Length of a lockout after ``earlier`` lockouts: the base, doubled each time, at most a day."""
        return min(self._lockout_ms << min(earlier, 16), MAX_LOCKOUT_MS)

    @staticmethod
    def _locked_until(session: Session, client: str, username: str, now: int) -> int | None:
        rows = session.scalars(
            select(SigninFailures).where(
                SigninFailures.client == client, SigninFailures.username.in_([username, ANY_USER])
            )
        )
        return max((r.locked_until_ms for r in rows if r.locked_until_ms and r.locked_until_ms > now), default=None)

    def _count_failure(self, actor: Actor, client: str, reason: str, now: int) -> None:
        """Audit the failure and count it against the (address, username) pair and the address; the failure that
        reaches a limit locks the pair (or the address) and is audited as ``auth.locked`` too."""

        def count(session: Session) -> tuple[list[AuditEvent], None]:
            events: list[AuditEvent] = [LoginFailed(username=actor.username, reason=reason)]
            for any_user in (False, True):
                key = (client, ANY_USER if any_user else actor.username)
                row = session.get(SigninFailures, key)
                if row is None:
                    row = SigninFailures(client=key[0], username=key[1], failures=0, lockouts=0, last_ms=now)
                    session.add(row)
                elif now - row.last_ms > MAX_LOCKOUT_MS:
                    row.failures = row.lockouts = 0  # a day without failures: a fresh start
                elif now - row.last_ms > self._lockout(row.lockouts):
                    row.failures = 0  # quiet for a lockout's length: earlier failures are forgotten
                row.failures += 1
                row.last_ms = now
                if row.failures >= self._limits[any_user]:
                    length = self._lockout(row.lockouts)
                    row.locked_until_ms = now + length
                    row.lockouts += 1
                    events.append(
                        LoginLocked(
                            username="*" if any_user else actor.username,
                            failures=row.failures,
                            until_ms=row.locked_until_ms,
                        )
                    )
                    row.failures = 0
            return events, None

        self._audit.record_all(actor, count)
