"""Subject requests: submission (public), each candidate agency's queue, and the keeper's verification.

Submission never looks at the reads store, hot lists or holds: it validates, applies the rate limits (per plate and
per client address, counted from the stored requests), stores the request with one row per candidate agency (every
agency with a camera: a plate travels, so its region says nothing about whose cameras read it) and audits it, in
one transaction. So the answer, and the work behind it, is the same whether or not the plate is held anywhere.
Each refusal (an invalid field, a rate limit) is audited as ``subject_access.refused`` before it is raised.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pycountry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.audit.events import (
    SubjectAccessRefused,
    SubjectAccessRequested,
    SubjectAccessVerified,
)
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid, PlateledgerError, TooManyRequests
from plateledger.core.text import REGION
from plateledger.plates import is_pattern, validate_plate
from plateledger.policy.actions import Action, refuse, refuse_unseen, require
from plateledger.store.governance import Governance
from plateledger.store.models import Camera, SubjectRequest, SubjectRequestOwner

#: The actor of a submission: nobody signed in (the entry records the client address).
PUBLIC = "public"
UNSEEN = "no such subject request"
NOT_VERIFIED = "the letter is generated only after the requester is verified as the plate's registered keeper"
#: The two-person rule of the letter: the admin who recorded the keeper's verification does not also write it.
SAME_ADMIN = (
    "two people answer a subject request: the admin who recorded the keeper's verification cannot also generate "
    "the letter; another admin of the agency must"
)
#: How an admin verified that the requester is the registered keeper.
METHODS = ("registration_document", "registry_lookup", "in_person", "other")
MAX_NAME, MAX_EMAIL, MAX_ADDRESS, MAX_NOTE = 200, 254, 1000, 500
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class SubjectAsk:
    """A request as sent (strings as given; :meth:`SubjectRequests.submit` validates every field)."""

    plate: str | None
    country: str | None
    state: str | None
    name: str | None
    email: str | None
    postal_address: str | None


@dataclass(frozen=True)
class Received:
    """What the requester is told: the reference to quote, and nothing else."""

    reference: str


@dataclass(frozen=True)
class QueueItem:
    """A subject request as one candidate agency's admin sees it: the request, its contact details and this
    agency's verification and answer. Nothing says whether this agency (or any) holds the plate."""

    id: int
    reference: str
    created_ms: int
    plate: str
    region: str
    name: str
    email: str
    postal_address: str
    verified_ms: int | None
    verified_by: str | None
    verification_method: str | None
    verified_on: str | None
    verification_note: str
    answered_ms: int | None
    answered_by: str | None


def new_reference() -> str:
    """A random reference such as ``SR-7KQ2M-XD4PA`` (no row id: it says nothing of how many requests exist)."""
    text = base64.b32encode(secrets.token_bytes(10)).decode()[:10]
    return f"SR-{text[:5]}-{text[5:]}"


def _text(value: str | None, field: str, most: int) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldInvalid(field, "required")
    if len(text) > most:
        raise FieldInvalid(field, f"at most {most} characters")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise FieldInvalid(field, "no control characters")
    return text


def validate_region(country: str | None, state: str | None) -> str:
    """``US`` + ``ca`` -> ``US-CA``: an ISO 3166-2 subdivision that pycountry knows."""
    region = f"{(country or '').strip().upper()}-{(state or '').strip().upper()}"
    if not REGION.fullmatch(region) or pycountry.subdivisions.get(code=region) is None:  # type: ignore[no-untyped-call]
        raise FieldInvalid("region", "country (ISO 3166-1, e.g. US) and state or province (e.g. CA) of the plate")
    return region


def validate_day(text: str, now_ms: int) -> str:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise FieldInvalid("verified_on", "a day YYYY-MM-DD") from None
    if day > datetime.fromtimestamp(now_ms / 1000, tz=UTC).date():
        raise FieldInvalid("verified_on", "not in the future")
    return day.isoformat()


def _item(request: SubjectRequest, row: SubjectRequestOwner) -> QueueItem:
    return QueueItem(
        id=request.id,
        reference=request.reference,
        created_ms=request.created_ms,
        plate=request.plate,
        region=request.region,
        name=request.name,
        email=request.email,
        postal_address=request.postal_address,
        verified_ms=row.verified_ms,
        verified_by=row.verified_by,
        verification_method=row.verification_method,
        verified_on=row.verified_on,
        verification_note=row.verification_note,
        answered_ms=row.answered_ms,
        answered_by=row.answered_by,
    )


class SubjectRequests:
    def __init__(
        self,
        governance: Governance,
        audit: AuditLog,
        clock: Clock,
        *,
        plate_limit: int,
        client_limit: int,
        window_hours: int,
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._plate_limit = plate_limit
        self._client_limit = client_limit
        self._window_ms = window_hours * HOUR_MS

    # -- the public side ----------------------------------------------------------------------------------------
    def submit(self, ask: SubjectAsk, *, client: str | None) -> Received:
        """Store and audit a request, or audit its refusal and raise it (FieldInvalid, TooManyRequests). Looks
        nothing up about the plate's reads: the answer is the same whether or not it is held."""
        actor = Actor(username=PUBLIC, agency_id=None, client=client)
        try:
            plate = self._plate(ask.plate)
            region = validate_region(ask.country, ask.state)
            name = _text(ask.name, "name", MAX_NAME)
            email = _text(ask.email, "email", MAX_EMAIL)
            if not _EMAIL.fullmatch(email):
                raise FieldInvalid("email", "an e-mail address like name@example.org")
            address = _text(ask.postal_address, "postal_address", MAX_ADDRESS)
        except PlateledgerError as refusal:
            self._audit.append(actor, SubjectAccessRefused(plate=(ask.plate or "")[:16], reason=refusal.detail[:300]))
            raise
        limited: list[TooManyRequests] = []

        def change(session: Session) -> tuple[SubjectAccessRequested | SubjectAccessRefused, str]:
            now = self._clock.now_ms()
            over = self._over_limit(session, now, plate, client)
            if over is not None:
                limited.append(over)
                return SubjectAccessRefused(plate=plate, reason=over.detail), ""
            request = SubjectRequest(
                reference=new_reference(),
                created_ms=now,
                plate=plate,
                region=region,
                name=name,
                email=email,
                postal_address=address,
                client=client,
            )
            session.add(request)
            session.flush()
            candidates = list(session.scalars(select(Camera.agency_id).distinct().order_by(Camera.agency_id)))
            session.add_all(
                SubjectRequestOwner(request_id=request.id, agency_id=agency_id, created_ms=now, verification_note="")
                for agency_id in candidates
            )
            event = SubjectAccessRequested(
                request_id=request.id, plate=plate, region=region, candidates=len(candidates)
            )
            return event, request.reference

        _seq, reference = self._audit.record(actor, change)
        if limited:
            raise limited[0]
        return Received(reference)

    @staticmethod
    def _plate(raw: str | None) -> str:
        if not raw or not raw.strip():
            raise FieldInvalid("plate", "required")
        if len(raw) > 32:
            raise FieldInvalid("plate", "longer than 32 characters")
        if is_pattern(raw):
            raise FieldInvalid("plate", "one plate, not a pattern")
        return validate_plate(raw)

    def _over_limit(self, session: Session, now: int, plate: str, client: str | None) -> TooManyRequests | None:
        """The first rate limit this request would break (per client address, then per plate), else None. The
        per-plate refusal says to retry after the whole window: a time computed from the oldest request would tell
        one requester when someone else asked about the plate."""
        since = now - self._window_ms
        hours = self._window_ms // HOUR_MS
        by_client = SubjectRequest.client.is_(None) if client is None else SubjectRequest.client == client
        for condition, limit, what, own in (
            (by_client, self._client_limit, "from this address", True),
            (SubjectRequest.plate == plate, self._plate_limit, "for this plate", False),
        ):
            count, oldest = session.execute(
                select(func.count(), func.min(SubjectRequest.created_ms)).where(
                    condition, SubjectRequest.created_ms > since
                )
            ).one()
            if count >= limit:
                left_ms = int(oldest) + self._window_ms - now if own else self._window_ms
                retry_s = max(1, -(-left_ms // 1000))
                return TooManyRequests(
                    f"too many subject requests {what}: at most {limit} in {hours} hours; try again in {retry_s} s",
                    retry_s,
                )
        return None

    # -- each candidate agency's side ----------------------------------------------------------------------------
    def queue(self, principal: Principal) -> list[QueueItem]:
        """The requests sent to the principal's agency, newest first (its admins only)."""
        require(principal, Action.SUBJECT_REQUEST_VIEW, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            rows = session.execute(
                select(SubjectRequest, SubjectRequestOwner)
                .join(SubjectRequestOwner, SubjectRequestOwner.request_id == SubjectRequest.id)
                .where(SubjectRequestOwner.agency_id == principal.agency_id)
                .order_by(SubjectRequest.id.desc())
            ).all()
            return [_item(request, row) for request, row in rows]

    def queue_page(self, principal: Principal, *, offset: int, limit: int) -> tuple[list[QueueItem], int]:
        """A page of :meth:`queue` (``limit`` from ``offset``, newest first) and how many requests there are."""
        require(principal, Action.SUBJECT_REQUEST_VIEW, principal.agency_id, audit=self._audit)
        mine = SubjectRequestOwner.agency_id == principal.agency_id
        with self._gov.session() as session:
            total = session.scalar(select(func.count()).select_from(SubjectRequestOwner).where(mine)) or 0
            rows = session.execute(
                select(SubjectRequest, SubjectRequestOwner)
                .join(SubjectRequestOwner, SubjectRequestOwner.request_id == SubjectRequest.id)
                .where(mine)
                .order_by(SubjectRequest.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            return [_item(request, row) for request, row in rows], total

    def item(self, principal: Principal, request_id: int, action: Action = Action.SUBJECT_REQUEST_VIEW) -> QueueItem:
        """One request sent to the principal's agency; a request sent elsewhere (or none) is refused alike."""
        require(principal, action, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            found = self._row(session, principal.agency_id, request_id)
            item = None if found is None else _item(*found)
        if item is None:
            refuse_unseen(principal, action, audit=self._audit, message=UNSEEN)
        return item

    @staticmethod
    def _row(session: Session, agency_id: int, request_id: int) -> tuple[SubjectRequest, SubjectRequestOwner] | None:
        found = session.execute(
            select(SubjectRequest, SubjectRequestOwner)
            .join(SubjectRequestOwner, SubjectRequestOwner.request_id == SubjectRequest.id)
            .where(SubjectRequest.id == request_id, SubjectRequestOwner.agency_id == agency_id)
        ).one_or_none()
        return None if found is None else (found[0], found[1])

    def verify(self, principal: Principal, request_id: int, *, method: str, verified_on: str, note: str = "") -> None:
        """Record that the requester is the plate's registered keeper (how, which day; the principal is who)."""
        self.item(principal, request_id, Action.SUBJECT_REQUEST_VERIFY)
        if method not in METHODS:
            raise FieldInvalid("method", "one of " + ", ".join(METHODS))
        day = validate_day(verified_on, self._clock.now_ms())
        if len(note) > MAX_NOTE:
            raise FieldInvalid("note", f"at most {MAX_NOTE} characters")

        def change(session: Session) -> tuple[SubjectAccessVerified, None]:
            found = self._row(session, principal.agency_id, request_id)
            assert found is not None  # rows are never deleted
            row = found[1]
            row.verified_ms = self._clock.now_ms()
            row.verified_by = principal.username
            row.verification_method = method
            row.verified_on = day
            row.verification_note = note.strip()
            return SubjectAccessVerified(
                request_id=request_id, agency=principal.agency_slug, method=method, verified_on=day
            ), None

        self._audit.record(principal.actor, change)

    def verified(self, principal: Principal, request_id: int) -> QueueItem:
        """The request, for the letter: refused (audited) until the keeper has been verified, and refused (audited)
        to the admin who recorded that verification (two people: one verifies, another writes)."""
        found = self.item(principal, request_id, Action.SUBJECT_REQUEST_ANSWER)
        reason = None
        if found.verified_ms is None:
            reason = NOT_VERIFIED
        elif found.verified_by is None or found.verified_by == principal.username:
            reason = SAME_ADMIN
        if reason is not None:
            refuse(principal, Action.SUBJECT_REQUEST_ANSWER, principal.agency_id, audit=self._audit, reason=reason)
        return found

    def mark_answered(self, session: Session, agency_id: int, request_id: int, who: str) -> None:
        """In the letter's audit transaction: the first letter's time and author."""
        found = self._row(session, agency_id, request_id)
        if found is not None and found[1].answered_ms is None:
            found[1].answered_ms = self._clock.now_ms()
            found[1].answered_by = who

    # -- transparency ----------------------------------------------------------------------------------------------
    def counts(self, agency_id: int, since_ms: int, until_ms: int) -> dict[str, int]:
        """Requests the agency received, and requests it answered (first letter), in ``[since_ms, until_ms)``."""
        owners = SubjectRequestOwner
        with self._gov.session() as session:
            received = session.scalar(
                select(func.count()).where(
                    owners.agency_id == agency_id, owners.created_ms >= since_ms, owners.created_ms < until_ms
                )
            )
            answered = session.scalar(
                select(func.count()).where(
                    owners.agency_id == agency_id, owners.answered_ms >= since_ms, owners.answered_ms < until_ms
                )
            )
        return {"received": int(received or 0), "answered": int(answered or 0)}
