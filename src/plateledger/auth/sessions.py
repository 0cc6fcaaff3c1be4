"""Web sign-in sessions, kept server-side in the governance store.

The browser holds a random secret in a cookie (Secure, HttpOnly, SameSite=Strict); the store holds only its
SHA-256, the user, the session's CSRF token and its expiry. Signing out deletes the row; "sign out everywhere"
deletes every row of the user, so every browser is signed out at its next request. Sign-in goes through
:class:`~plateledger.auth.signin.Credentials` (lockout, TOTP, audit), exactly like the API's ``/auth/login``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plateledger.audit.events import AuthRefused, SignedOut, TotpChanged, TotpStarted
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.signin import Credentials, totp_ok
from plateledger.auth.tokens import Principal, principal_of, token_hash
from plateledger.core.clock import Clock
from plateledger.core.errors import AuthenticationFailed, Conflict, FieldInvalid, PermissionDenied
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, User, WebSession

HOUR_MS = 3_600_000
CSRF_REFUSED = "the form's CSRF token is missing or wrong: reload the page and submit it again"


@dataclass(frozen=True)
class SignedIn:
    """A resolved session: who, and the CSRF token every state-changing form of the session must carry."""

    principal: Principal
    session_id: int
    csrf: str
    totp: bool


class Sessions:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, credentials: Credentials, *, hours: int
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._credentials = credentials
        self._ttl_ms = hours * HOUR_MS

    def sign_in(
        self, username: str, password: str, code: str | None = None, *, client: str | None = None
    ) -> tuple[str, SignedIn]:
        """Check the credentials from ``client`` (audited, with lockout) and open a session; returns the cookie
        secret. The session row is inserted in the transaction of the ``auth.login`` entry: both or neither."""
        secret = secrets.token_urlsafe(32)

        def open_session(session: Session, user: User, _agency: Agency) -> tuple[int, str]:
            now = self._clock.now_ms()
            row = WebSession(
                user_id=user.id,
                secret_hash=token_hash(secret),
                csrf=secrets.token_urlsafe(32),
                created_ms=now,
                seen_ms=now,
                expires_ms=now + self._ttl_ms,
            )
            session.add(row)
            session.flush()
            return row.id, row.csrf

        user, agency, (row_id, csrf) = self._credentials.check_then(
            username, password, code, client=client, then=open_session
        )
        return secret, SignedIn(principal_of(user, agency, None, client), row_id, csrf, bool(user.totp_secret))

    def resolve(self, secret: str | None, *, client: str | None = None) -> SignedIn:
        """The session of a cookie secret, acting for ``client`` (the request's address); AuthenticationFailed when
        absent, unknown, expired or the user disabled."""
        if not secret:
            raise AuthenticationFailed("please sign in")
        now = self._clock.now_ms()
        with self._gov.session() as session:
            row = session.execute(
                select(WebSession, User, Agency)
                .join(User, User.id == WebSession.user_id)
                .join(Agency, Agency.id == User.agency_id)
                .where(WebSession.secret_hash == token_hash(secret))
            ).one_or_none()
            if row is None:
                raise AuthenticationFailed("your session has ended; please sign in again")
            web, user, agency = row
            if web.expires_ms <= now or user.disabled:
                session.delete(web)
                raise AuthenticationFailed("your session has ended; please sign in again")
            web.seen_ms = now
            return SignedIn(principal_of(user, agency, None, client), web.id, web.csrf, bool(user.totp_secret))

    def sign_out(self, signed: SignedIn, *, everywhere: bool = False) -> int:
        """End this session, or every session of its user, in the transaction of its audit entry (if the entry
        cannot be written the sessions stay valid). Returns how many ended."""
        principal = signed.principal

        def change(session: Session) -> tuple[SignedOut, int]:
            query = delete(WebSession).where(WebSession.user_id == principal.user_id)
            if not everywhere:
                query = query.where(WebSession.id == signed.session_id)
            ended = int(session.execute(query).rowcount)  # type: ignore[attr-defined]
            return SignedOut(everywhere=everywhere, sessions=ended), ended

        return self._audit.record(principal.actor, change)[1]

    def count(self, principal: Principal) -> int:
        with self._gov.session() as session:
            return len(session.scalars(select(WebSession.id).where(WebSession.user_id == principal.user_id)).all())

    # -- one-time codes (TOTP) -------------------------------------------------------------------------------
    def start_totp(self, principal: Principal) -> str:
        """A new pending secret for the user's authenticator app (not in force until a code confirms it), stored in
        the transaction of its ``auth.totp_started`` entry."""

        def change(session: Session) -> tuple[TotpStarted, str]:
            user = session.get_one(User, principal.user_id)
            if user.totp_secret:
                raise Conflict("one-time codes are already on; turn them off first")
            user.totp_pending = pyotp.random_base32()
            return TotpStarted(), user.totp_pending

        return self._audit.record(principal.actor, change)[1]

    @staticmethod
    def provisioning_uri(principal: Principal, secret: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=principal.username, issuer_name="Plateledger")

    def set_totp(self, principal: Principal, code: str, *, enabled: bool) -> None:
        """Turn TOTP on (with a code of the pending secret) or off (with a code of the secret in force); audited."""

        def change(session: Session) -> tuple[TotpChanged, None]:
            user = session.get_one(User, principal.user_id)
            secret = user.totp_pending if enabled else user.totp_secret
            if not secret:
                raise FieldInvalid("code", "start setting up one-time codes first" if enabled else "codes are off")
            if not totp_ok(secret, code, self._clock.now_ms()):
                raise FieldInvalid("code", "not a valid code of your authenticator app (6 digits)")
            user.totp_secret = secret if enabled else None
            user.totp_pending = None
            return TotpChanged(enabled=enabled), None

        self._audit.record(principal.actor, change)

    # -- forms (CSRF) ----------------------------------------------------------------------------------------
    def check_form(self, actor: Actor, *, given: object, expected: str | None, same_origin: bool, path: str) -> None:
        """Accept a state-changing form whose CSRF token ``given`` matches ``expected`` (the session's, or the
        sign-in cookie's; compared in constant time) and that came from this site; otherwise the refusal is
        audited (``auth.refused``, with ``path``) and PermissionDenied raised."""
        if same_origin and isinstance(given, str) and expected and secrets.compare_digest(given, expected):
            return
        self._audit.append(actor, AuthRefused(reason="csrf token missing or wrong", path=path[:200]))
        raise PermissionDenied(CSRF_REFUSED)
