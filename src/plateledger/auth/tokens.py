"""API tokens: random secrets shown once; only their SHA-256 is stored. Scoped to a user, expiring, revocable."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from plateledger.audit.events import (
    AuthRefused,
    TokenCreated,
    TokenRevoked,
)
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.signin import Credentials
from plateledger.core.clock import Clock
from plateledger.core.errors import AuthenticationFailed, FieldInvalid, NotFound
from plateledger.policy.actions import Action, refuse_unseen, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, ApiToken, User
from plateledger.vocab import Role

TOKEN_PREFIX = "plt_"  # noqa: S105 - a prefix, not a secret
DAY_MS = 86_400_000
MAX_TTL_DAYS = 3650


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the user, its role and its agency (with the agency's jurisdiction)."""

    user_id: int
    username: str
    role: Role
    agency_id: int
    agency_slug: str
    agency_name: str
    agency_kind: str
    country: str
    state: str
    token_id: int | None = None
    #: The client address of the HTTP request this principal acts in (None at the command line).
    client: str | None = None
    #: The IANA zone the user reads and types times in on the web pages (None: UTC); core/zones.py.
    time_zone: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(
            username=self.username, agency_id=self.agency_id, user_id=self.user_id, role=self.role, client=self.client
        )


#: A token's principal by the token's hash. Columns, not ORM objects, and built once: every API request runs
#: it, and loading three mapped objects (and building the statement) cost most of the check.
_BY_HASH = (
    select(
        ApiToken.id,
        ApiToken.revoked_ms,
        ApiToken.expires_ms,
        User.id.label("user_id"),
        User.username,
        User.role,
        User.disabled,
        User.time_zone,
        Agency.id.label("agency_id"),
        Agency.slug,
        Agency.name,
        Agency.kind,
        Agency.country,
        Agency.state,
    )
    .join(User, User.id == ApiToken.user_id)
    .join(Agency, Agency.id == User.agency_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def principal_of(user: User, agency: Agency, token_id: int | None, client: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        agency_id=agency.id,
        agency_slug=agency.slug,
        agency_name=agency.name,
        agency_kind=agency.kind,
        country=agency.country,
        state=agency.state,
        token_id=token_id,
        client=client,
        time_zone=user.time_zone,
    )


@dataclass(frozen=True)
class IssuedToken:
    token_id: int
    secret: str
    expires_ms: int


@dataclass(frozen=True)
class LiveToken:
    """A token not revoked (its secret is never kept): for an agency's list of tokens."""

    id: int
    username: str
    label: str
    expires_ms: int
    expired: bool


class Tokens:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, ttl_days: int, credentials: Credentials
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._ttl_days = ttl_days
        self._credentials = credentials

    def issue(self, actor: Actor, username: str, *, label: str = "", ttl_days: int | None = None) -> IssuedToken:
        """Create a token for ``username``. The creation is audited before the secret is returned.

        Users acting through the API must be admins of the user's agency, and cannot ask for a lifetime beyond
        ``token_ttl_days`` (a token cannot extend itself); an operator at the console may ask for up to 10 years.
        """
        longest = self._ttl_days if actor.role is not None else MAX_TTL_DAYS
        ttl = self._ttl_days if ttl_days is None else ttl_days
        if not 1 <= ttl <= longest:
            raise FieldInvalid("ttl_days", f"must be between 1 and {longest} days")
        with self._gov.session() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
        # Another agency's users stay unseen: refused and audited exactly as a name no one has.
        foreign = user is not None and actor.agency_id is not None and actor.agency_id != user.agency_id
        if user is None or foreign:
            refuse_unseen(actor, Action.TOKEN_CREATE, audit=self._audit, message=f"no user named {username!r}")
        require(actor, Action.TOKEN_CREATE, user.agency_id, audit=self._audit)
        return self._create(actor, username, label, ttl)

    def _create(self, actor: Actor, username: str, label: str, ttl: int) -> IssuedToken:
        """The token row and its ``token.created`` entry, in one transaction (both or neither)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now_ms()
        expires = now + ttl * DAY_MS

        def change(session: Session) -> tuple[TokenCreated, int]:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            if user is None:
                raise NotFound(f"no user named {username!r}")
            token = ApiToken(
                user_id=user.id, token_hash=token_hash(secret), label=label, created_ms=now, expires_ms=expires
            )
            session.add(token)
            session.flush()
            return TokenCreated(token_id=token.id, for_user=username, expires_ms=expires), token.id

        token_id = self._audit.record(actor, change)[1]
        return IssuedToken(token_id=token_id, secret=secret, expires_ms=expires)

    def revoke(self, actor: Actor, token_id: int) -> None:
        """Revoke a token: one's own (any role), or, for an admin, any token of its agency's users."""
        with self._gov.session() as session:
            token = session.get(ApiToken, token_id)
            user = session.get(User, token.user_id) if token else None
        own = user is not None and actor.user_id is not None and actor.user_id == user.id
        action = Action.TOKEN_REVOKE_OWN if own else Action.TOKEN_REVOKE
        # Another agency's tokens stay unseen: refused and audited exactly as an id never issued.
        foreign = user is not None and actor.agency_id is not None and actor.agency_id != user.agency_id
        if token is None or user is None or foreign:
            refuse_unseen(actor, action, audit=self._audit, message=f"no token with id {token_id}")
        require(actor, action, user.agency_id, audit=self._audit)

        def change(session: Session) -> tuple[TokenRevoked, None]:
            row = session.get_one(ApiToken, token_id)
            if row.revoked_ms is None:
                row.revoked_ms = self._clock.now_ms()
            return TokenRevoked(token_id=token_id), None

        self._audit.record(actor, change)

    def authenticate(self, secret: str | None, *, where: str = "", client: str | None = None) -> Principal:
        """Resolve a bearer secret to its principal (acting for ``client``, the request's address). A refusal is
        audited (``auth.refused``, with ``where`` the request came in) before AuthenticationFailed is raised."""
        try:
            return dataclasses.replace(self._resolve(secret), client=client)
        except AuthenticationFailed as refusal:
            self._audit.append(
                Actor(username="anonymous", agency_id=None, client=client),
                AuthRefused(reason=refusal.detail, path=where[:200]),
            )
            raise

    def _resolve(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationFailed("a bearer token is required")
        now = self._clock.now_ms()
        with self._gov.session() as session:
            row = session.execute(_BY_HASH, {"token_hash": token_hash(secret)}).one_or_none()
        if row is None:
            raise AuthenticationFailed("unknown token")
        if row.revoked_ms is not None:
            raise AuthenticationFailed("token revoked")
        if row.expires_ms <= now:
            raise AuthenticationFailed("token expired")
        if row.disabled:
            raise AuthenticationFailed("token's user is disabled")
        return Principal(
            user_id=row.user_id,
            username=row.username,
            role=Role(row.role),
            agency_id=row.agency_id,
            agency_slug=row.slug,
            agency_name=row.name,
            agency_kind=row.kind,
            country=row.country,
            state=row.state,
            token_id=row.id,
            time_zone=row.time_zone,
        )

    def login(
        self, username: str, password: str, *, client: str | None = None, label: str = "login"
    ) -> tuple[Principal, IssuedToken]:
        """Check a password from ``client`` (with lockout, audited: :class:`~plateledger.auth.signin.Credentials`);
        on success issue a token for the user."""
        user, agency = self._credentials.check(username, password, client=client)
        principal = principal_of(user, agency, None, client)
        # The password was the credential: a signed-in user gets a token of the default lifetime for itself.
        return principal, self._create(principal.actor, username, label, self._ttl_days)

    def live(self, who: Actor | Principal, agency_id: int) -> list[LiveToken]:
        """The tokens of ``agency_id``'s users that are not revoked (expired ones included, marked), oldest first:
        for its admins and the console (``user.list``; refusals audited)."""
        require(who, Action.USER_LIST, agency_id, audit=self._audit)
        now = self._clock.now_ms()
        with self._gov.session() as session:
            rows = session.execute(
                select(ApiToken.id, User.username, ApiToken.label, ApiToken.expires_ms)
                .join(User, User.id == ApiToken.user_id)
                .where(User.agency_id == agency_id, ApiToken.revoked_ms.is_(None))
                .order_by(ApiToken.id)
            ).all()
        return [LiveToken(tid, name, label, expires, expires <= now) for tid, name, label, expires in rows]
