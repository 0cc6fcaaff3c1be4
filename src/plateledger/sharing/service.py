"""Owner policies (versioned) and sharing agreements between agencies, and the gate's snapshot of both.

Every change is made by an agency's admin, audited (both agencies named), and bumps the policy generation in
the same transaction, so the next search decides from the new state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plateledger.audit.events import (
    PolicyChanged,
    SharingAccepted,
    SharingDeclined,
    SharingEvent,
    SharingRequested,
    SharingRevoked,
    SharingWithdrawn,
)
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms, parse_iso_ms
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.policy.actions import Action, HasActor, actor_of, refuse_unseen, require
from plateledger.policy.gate import Agreement, Book, Owner
from plateledger.policy.rules import (
    DEFAULT,
    MAX_AGREEMENT_DAYS,
    PRESETS,
    AgreementState,
    Policy,
    Preset,
    Terms,
    describe,
)
from plateledger.store.governance import Governance, agency_named, bump_policy_generation
from plateledger.store.models import Agency, AgencyPolicy, Camera, PolicyGeneration, SharingAgreement

MAX_NOTE = 500
GENERATION = select(PolicyGeneration.value).where(PolicyGeneration.id == 1)


def _json(model: Policy | Terms) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(orjson.dumps(model.model_dump(mode="json")))
    # Sets have no order; sort them so versions and audit entries compare and read cleanly.
    for key, item in value.items():
        if isinstance(item, list):
            value[key] = sorted(item)
    return value


def _model(cls: type[Policy] | type[Terms], raw: Any, field: str) -> Any:
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or field
        raise FieldInvalid(f"{field}.{where}" if where != field else field, first["msg"]) from None


def parse_policy(raw: Any) -> Policy:
    result: Policy = _model(Policy, raw, "policy")
    return result


def policy_input(preset: str | None, policy: Any) -> Policy:
    """The one rule for a policy given as "a preset, a policy, or both": ``policy`` (a JSON object, or its JSON text)
    wins and is recorded as based on ``preset``; without it, the preset's policy; neither is FieldInvalid."""
    if isinstance(policy, str | bytes):
        if not policy.strip():
            policy = None
        else:
            try:
                policy = orjson.loads(policy)
            except orjson.JSONDecodeError as exc:
                raise FieldInvalid("policy", f"not valid JSON: {exc}") from None
    if policy is not None:
        chosen = parse_policy(policy)
        if preset is not None:
            preset_policy(preset)  # a named preset must exist, even when the policy overrides it
        return chosen
    if preset is not None:
        return preset_policy(preset)
    raise FieldInvalid("policy", "give a preset, a policy, or both")


def parse_terms(raw: Any) -> Terms:
    result: Terms = _model(Terms, raw, "terms")
    return result


def expiry_ms(text: str) -> int:
    """An agreement's expiry: an ISO date (the last day it is in force, UTC) or an ISO 8601 time with a zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return int(datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC).timestamp() * 1000)
        return parse_iso_ms(text)
    except ValueError:
        raise FieldInvalid("terms.expires", "an ISO date like 2027-06-30, or a time with a zone") from None


def make_terms(*, query_kinds: list[str], purposes: list[str], max_lookback_days: int, expires: str) -> Terms:
    return parse_terms(
        {
            "query_kinds": query_kinds,
            "purposes": purposes,
            "max_lookback_days": max_lookback_days,
            "expires_ms": expiry_ms(expires),
        }
    )


def _note(note: str | None) -> str:
    if note is not None and len(note) > MAX_NOTE:
        raise FieldInvalid("note", f"at most {MAX_NOTE} characters")
    return note or ""


def _lapsed(row: SharingAgreement, now_ms: int) -> bool:
    """Whether the terms that govern ``row`` (granted once accepted, else requested) have expired."""
    terms = row.granted_terms or row.requested_terms
    return int(orjson.loads(terms)["expires_ms"]) <= now_ms


def terms_json(terms: dict[str, Any] | None) -> dict[str, Any] | None:
    """Terms as the API shows them: the expiry as ISO 8601 next to its epoch milliseconds."""
    if terms is None:
        return None
    return {**terms, "expires": iso_ms(terms["expires_ms"])}


@dataclass(frozen=True)
class PolicyVersion:
    agency: str
    version: int
    policy: Policy
    preset: str | None
    created_ms: int | None
    created_by: str | None
    country: str = ""
    state: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "version": self.version,
            "preset": self.preset,
            "created": iso_ms(self.created_ms) if self.created_ms is not None else None,
            "created_by": self.created_by,
            "policy": _json(self.policy),
            "text": describe(self.policy, country=self.country, state=self.state),
        }


@dataclass(frozen=True)
class AgreementView:
    id: int
    requester: str
    requester_name: str
    owner: str
    owner_name: str
    state: str
    requested_terms: dict[str, Any]
    granted_terms: dict[str, Any] | None
    attestation: str | None
    note: str
    created_ms: int
    created_by: str
    decided_ms: int | None
    decided_by: str | None
    ended_ms: int | None
    ended_by: str | None
    expired: bool

    @property
    def active(self) -> bool:
        """Accepted and unexpired: the only state in which an agreement grants anything."""
        return self.state == AgreementState.ACCEPTED.value and not self.expired

    def as_json(self) -> dict[str, Any]:
        def when(ms: int | None) -> str | None:
            return iso_ms(ms) if ms is not None else None

        return {
            "id": self.id,
            "requester": self.requester,
            "requester_name": self.requester_name,
            "owner": self.owner,
            "owner_name": self.owner_name,
            "state": self.state,
            "active": self.active,
            "expired": self.expired,
            "requested_terms": terms_json(self.requested_terms),
            "granted_terms": terms_json(self.granted_terms),
            "attestation": self.attestation,
            "note": self.note,
            "created": when(self.created_ms),
            "created_by": self.created_by,
            "decided": when(self.decided_ms),
            "decided_by": self.decided_by,
            "ended": when(self.ended_ms),
            "ended_by": self.ended_by,
        }


class Policies:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock

    def _agency(self, session: Session, slug: str) -> Agency:
        return agency_named(session, slug)

    @staticmethod
    def _latest(session: Session, agency_id: int) -> AgencyPolicy | None:
        return session.scalars(
            select(AgencyPolicy)
            .where(AgencyPolicy.agency_id == agency_id)
            .order_by(AgencyPolicy.version.desc())
            .limit(1)
        ).one_or_none()

    def current(self, slug: str) -> PolicyVersion:
        """The policy in force (version 0, the documented default, until an admin sets one)."""
        with self._gov.session() as session:
            agency = self._agency(session, slug)
            row = self._latest(session, agency.id)
        where = {"country": agency.country, "state": agency.state}
        if row is None:
            return PolicyVersion(slug, 0, DEFAULT, None, None, None, **where)
        return PolicyVersion(
            slug, row.version, Policy.model_validate_json(row.body), row.preset, row.created_ms, row.created_by, **where
        )

    def history(self, slug: str) -> list[PolicyVersion]:
        with self._gov.session() as session:
            agency = self._agency(session, slug)
            rows = session.scalars(
                select(AgencyPolicy).where(AgencyPolicy.agency_id == agency.id).order_by(AgencyPolicy.version)
            ).all()
        where = {"country": agency.country, "state": agency.state}
        return [
            PolicyVersion(
                slug, r.version, Policy.model_validate_json(r.body), r.preset, r.created_ms, r.created_by, **where
            )
            for r in rows
        ]

    def set(self, who: Actor | HasActor, slug: str, policy: Policy, *, preset: str | None = None) -> PolicyVersion:
        """Store ``policy`` as the agency's next version and audit old and new: for the agency's admins and
        operators at the console (``policy.set``; refusals audited)."""
        if preset is not None and preset not in {p.value for p in Preset}:
            raise FieldInvalid("preset", "one of " + ", ".join(p.value for p in Preset))
        self._require_set(who, slug)
        return self._store(who, slug, policy, preset)

    def set_from(
        self, who: Actor | HasActor, slug: str, *, preset: str | None = None, policy: Any = None
    ) -> PolicyVersion:
        """:meth:`set` from raw input as the entry points receive it (``preset`` a name, ``policy`` a JSON object
        or its text; "a preset, a policy, or both", :func:`policy_input`): authorised first (a refusal is audited
        whatever the input), then parsed, then stored."""
        self._require_set(who, slug)
        return self._store(who, slug, policy_input(preset, policy), preset)

    def preview(self, principal: Principal, policy: Any) -> list[str]:
        """What a draft policy (a JSON object or its text) would say in plain language, without saving it: for
        those who may set the caller's agency's policy (refusals audited before the draft is read)."""
        require(principal, Action.POLICY_SET, principal.agency_id, audit=self._audit)
        return describe(policy_input(None, policy), country=principal.country, state=principal.state)

    def _require_set(self, who: Actor | HasActor, slug: str) -> None:
        with self._gov.session() as session:
            agency_id = self._agency(session, slug).id
        require(who, Action.POLICY_SET, agency_id, audit=self._audit)

    def _store(self, who: Actor | HasActor, slug: str, policy: Policy, preset: str | None) -> PolicyVersion:
        actor = actor_of(who)
        now = self._clock.now_ms()

        def change(session: Session) -> tuple[PolicyChanged, int]:
            agency = self._agency(session, slug)
            latest = self._latest(session, agency.id)
            old = Policy.model_validate_json(latest.body) if latest else DEFAULT
            version = (latest.version if latest else 0) + 1
            session.add(
                AgencyPolicy(
                    agency_id=agency.id,
                    version=version,
                    body=orjson.dumps(_json(policy)).decode(),
                    preset=preset,
                    created_ms=now,
                    created_by=actor.username,
                )
            )
            bump_policy_generation(session)
            event = PolicyChanged(
                agency=slug,
                old_version=version - 1,
                new_version=version,
                old=_json(old),
                new=_json(policy),
                preset=preset,
            )
            return event, version

        self._audit.record(actor, change)
        return self.current(slug)

    def editing(self, principal: Principal) -> PolicyVersion:
        """The caller's agency's policy in force, to edit (``policy.set``: its admins; refusals audited)."""
        require(principal, Action.POLICY_SET, principal.agency_id, audit=self._audit)
        return self.current(principal.agency_slug)

    def set_as(self, principal: Principal, slug: str, policy: Policy, *, preset: str | None = None) -> PolicyVersion:
        """:meth:`set` for a signed-in user (kept for the entry points that name it)."""
        return self.set(principal, slug, policy, preset=preset)


def preset_policy(name: str) -> Policy:
    try:
        return PRESETS[Preset(name)][0]
    except ValueError:
        raise FieldInvalid("preset", "one of " + ", ".join(p.value for p in Preset)) from None


class Agreements:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock

    def _view(self, session: Session, row: SharingAgreement) -> AgreementView:
        requester = session.get(Agency, row.requester_id)
        owner = session.get(Agency, row.owner_id)
        if requester is None or owner is None:  # foreign keys make this impossible
            raise NotFound(f"sharing agreement #{row.id} names a missing agency")
        granted = orjson.loads(row.granted_terms) if row.granted_terms else None
        return AgreementView(
            id=row.id,
            requester=requester.slug,
            requester_name=requester.name,
            owner=owner.slug,
            owner_name=owner.name,
            state=row.state,
            requested_terms=orjson.loads(row.requested_terms),
            granted_terms=granted,
            attestation=row.attestation,
            note=row.note,
            created_ms=row.created_ms,
            created_by=row.created_by,
            decided_ms=row.decided_ms,
            decided_by=row.decided_by,
            ended_ms=row.ended_ms,
            ended_by=row.ended_by,
            expired=granted is not None and granted["expires_ms"] <= self._clock.now_ms(),
        )

    def _step(
        self,
        session: Session,
        event: type[SharingEvent],
        row: SharingAgreement,
        terms: dict[str, Any] | None,
        note: str,
    ) -> tuple[SharingEvent, AgreementView]:
        """Bump the generation and describe the step; the caller's ``record`` commits both with the entry."""
        session.flush()
        bump_policy_generation(session)
        view = self._view(session, row)
        step = event(agreement_id=row.id, requester=view.requester, owner=view.owner, terms=terms, note=note)
        return step, view

    def request(
        self,
        principal: Principal,
        *,
        owner: str,
        terms: Terms,
        attestation: str | None = None,
        note: str | None = None,
    ) -> AgreementView:
        """The requester's admin asks the owner for access on ``terms``."""
        require(principal, Action.SHARING_REQUEST, principal.agency_id, audit=self._audit)
        note = _note(note)
        if attestation is not None and not 10 <= len(attestation) <= 500:
            raise FieldInvalid("attestation", "10-500 characters")
        now = self._clock.now_ms()
        if terms.expires_ms <= now:
            raise FieldInvalid("terms.expires_ms", "must be in the future")
        if terms.expires_ms > now + MAX_AGREEMENT_DAYS * 86_400_000:
            raise FieldInvalid("terms.expires_ms", f"at most {MAX_AGREEMENT_DAYS} days ahead")

        def change(session: Session) -> tuple[SharingEvent, AgreementView]:
            target = session.scalars(select(Agency).where(Agency.slug == owner)).one_or_none()
            if target is None:
                raise NotFound(f"no agency {owner!r}")
            if target.id == principal.agency_id:
                raise FieldInvalid("owner", "an agency always sees its own reads; request access to another agency")
            open_states = (AgreementState.PENDING.value, AgreementState.ACCEPTED.value)
            rows = session.scalars(
                select(SharingAgreement).where(
                    SharingAgreement.requester_id == principal.agency_id,
                    SharingAgreement.owner_id == target.id,
                    SharingAgreement.state.in_(open_states),
                )
            )
            # An expired agreement (or a request whose terms expired before it was answered) grants nothing and
            # can never grant again: it stays as history and does not block a new request.
            existing = next((r for r in rows if not _lapsed(r, now)), None)
            if existing is not None:
                raise Conflict(f"agreement #{existing.id} with {owner} is already {existing.state}")
            row = SharingAgreement(
                requester_id=principal.agency_id,
                owner_id=target.id,
                state=AgreementState.PENDING.value,
                requested_terms=orjson.dumps(_json(terms)).decode(),
                attestation=attestation,
                note=note,
                created_ms=now,
                created_by=principal.username,
            )
            session.add(row)
            return self._step(session, SharingRequested, row, _json(terms), note)

        return self._audit.record(principal.actor, change)[1]

    def _row(self, session: Session, agreement_id: int, principal: Principal) -> SharingAgreement:
        """The agreement, for a user of one of its two agencies; to anyone else it does not exist (the same
        NotFound as for an id never used, so a third agency cannot probe which agreements exist)."""
        row = session.get(SharingAgreement, agreement_id)
        if row is None or principal.agency_id not in (row.requester_id, row.owner_id):
            raise NotFound(f"no sharing agreement #{agreement_id}")
        return row

    def _require(self, principal: Principal, action: Action, agreement_id: int, *, by_owner: bool) -> None:
        """The table's check against the agreement's owner (``by_owner``) or requester, before its change (an
        agreement's two agencies never change)."""
        with self._gov.session() as session:
            row = session.get(SharingAgreement, agreement_id)
            parties = (row.requester_id, row.owner_id) if row is not None else ()
            agency_id = (row.owner_id if by_owner else row.requester_id) if row is not None else None
        if agency_id is None or principal.agency_id not in parties:  # a stranger's refusal looks like a made-up id's
            refuse_unseen(principal, action, audit=self._audit, message=f"no sharing agreement #{agreement_id}")
        require(principal, action, agency_id, audit=self._audit)

    def accept(
        self, principal: Principal, agreement_id: int, *, terms: Terms | None = None, note: str | None = None
    ) -> AgreementView:
        """The owner's admin accepts, on the requested terms or narrower ones."""
        note = _note(note)
        self._require(principal, Action.SHARING_DECIDE, agreement_id, by_owner=True)

        def change(session: Session) -> tuple[SharingEvent, AgreementView]:
            row = self._row(session, agreement_id, principal)
            if row.state != AgreementState.PENDING.value:
                raise Conflict(f"agreement #{row.id} is {row.state}; only a pending request can be accepted")
            requested = Terms.model_validate_json(row.requested_terms)
            granted = terms or requested
            if not granted.within(requested):
                raise FieldInvalid("terms", "an owner may narrow the requested terms, never widen them")
            if granted.expires_ms <= self._clock.now_ms():
                raise FieldInvalid("terms.expires_ms", "must be in the future")
            row.state = AgreementState.ACCEPTED.value
            row.granted_terms = orjson.dumps(_json(granted)).decode()
            row.decided_ms = self._clock.now_ms()
            row.decided_by = principal.username
            return self._step(session, SharingAccepted, row, _json(granted), note)

        return self._audit.record(principal.actor, change)[1]

    def _end(
        self,
        principal: Principal,
        agreement_id: int,
        *,
        event: type[SharingEvent],
        state: AgreementState,
        by_owner: bool,
        from_states: tuple[AgreementState, ...],
        note: str | None,
    ) -> AgreementView:
        note = _note(note)
        action = Action.SHARING_DECIDE if by_owner else Action.SHARING_WITHDRAW
        self._require(principal, action, agreement_id, by_owner=by_owner)

        def change(session: Session) -> tuple[SharingEvent, AgreementView]:
            row = self._row(session, agreement_id, principal)
            if row.state not in {s.value for s in from_states}:
                raise Conflict(f"agreement #{row.id} is {row.state}; cannot be {state.value}")
            now = self._clock.now_ms()
            row.state = state.value
            if state is AgreementState.DECLINED:
                row.decided_ms, row.decided_by = now, principal.username
            else:
                row.ended_ms, row.ended_by = now, principal.username
            return self._step(session, event, row, None, note)

        return self._audit.record(principal.actor, change)[1]

    def decline(self, principal: Principal, agreement_id: int, *, note: str | None = None) -> AgreementView:
        return self._end(
            principal,
            agreement_id,
            event=SharingDeclined,
            state=AgreementState.DECLINED,
            by_owner=True,
            from_states=(AgreementState.PENDING,),
            note=note,
        )

    def revoke(self, principal: Principal, agreement_id: int, *, note: str | None = None) -> AgreementView:
        return self._end(
            principal,
            agreement_id,
            event=SharingRevoked,
            state=AgreementState.REVOKED,
            by_owner=True,
            from_states=(AgreementState.ACCEPTED,),
            note=note,
        )

    def withdraw(self, principal: Principal, agreement_id: int, *, note: str | None = None) -> AgreementView:
        """The requester's admin withdraws a pending request or gives up an accepted agreement."""
        return self._end(
            principal,
            agreement_id,
            event=SharingWithdrawn,
            state=AgreementState.WITHDRAWN,
            by_owner=False,
            from_states=(AgreementState.PENDING, AgreementState.ACCEPTED),
            note=note,
        )

    def listing(self, principal: Principal, *, manage: bool = False) -> list[AgreementView]:
        """Agreements in both directions of the caller's agency (its admins, investigators and auditors; with
        ``manage``, for deciding on them: its admins)."""
        action = Action.SHARING_DECIDE if manage else Action.SHARING_VIEW
        require(principal, action, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            rows = session.scalars(
                select(SharingAgreement)
                .where(
                    (SharingAgreement.requester_id == principal.agency_id)
                    | (SharingAgreement.owner_id == principal.agency_id)
                )
                .order_by(SharingAgreement.id)
            ).all()
            return [self._view(session, row) for row in rows]

    def for_agency(self, agency_id: int) -> list[AgreementView]:
        """Both directions of one agency (reports and the operator's console)."""
        with self._gov.session() as session:
            rows = session.scalars(
                select(SharingAgreement)
                .where((SharingAgreement.requester_id == agency_id) | (SharingAgreement.owner_id == agency_id))
                .order_by(SharingAgreement.id)
            ).all()
            return [self._view(session, row) for row in rows]

    def get(self, principal: Principal, agreement_id: int) -> AgreementView:
        require(principal, Action.SHARING_VIEW, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            row = session.get(SharingAgreement, agreement_id)
            view = self._view(session, row) if row and principal.agency_id in (row.requester_id, row.owner_id) else None
        if view is None:  # a stranger's refusal looks like a made-up id's, and is audited as one
            message = f"no sharing agreement #{agreement_id}"
            refuse_unseen(principal, Action.SHARING_VIEW, audit=self._audit, message=message)
        return view


def policies_in_force(session: Session) -> dict[int, tuple[int, str]]:
    """The newest policy version of every agency that has set one: agency id -> (version, policy JSON). Agencies
    not listed are under the default (version 0)."""
    latest = (
        select(AgencyPolicy.agency_id, func.max(AgencyPolicy.version).label("version"))
        .group_by(AgencyPolicy.agency_id)
        .subquery()
    )
    rows = session.execute(
        select(AgencyPolicy.agency_id, AgencyPolicy.version, AgencyPolicy.body).join(
            latest, (AgencyPolicy.agency_id == latest.c.agency_id) & (AgencyPolicy.version == latest.c.version)
        )
    )
    return {agency_id: (version, body) for agency_id, version, body in rows}


class Books:
    """Hands the gate a :class:`Book` for the current policy generation, loading it only when it moved.

    Checking the generation is one primary-key read per search. Owners and policies load with the book; each
    requester's agreements load on its first search of a generation (parsed terms are shared between
    agreements with the same terms)."""

    def __init__(self, governance: Governance) -> None:
        self._gov = governance
        self._book: Book | None = None
        self._lock = threading.Lock()
        self._terms: dict[str, Terms] = {}
        self._policies: dict[str, Policy] = {}

    def current(self) -> Book:
        with self._gov.engine.connect() as connection:
            generation = int(connection.execute(GENERATION).scalar_one())
        book = self._book
        if book is not None and book.generation == generation:
            return book
        with self._lock:
            book = self._book
            if book is None or book.generation != generation:
                book = self._book = self._load(generation)
            return book

    def _policy(self, body: str) -> Policy:
        found = self._policies.get(body)
        if found is None:
            found = self._policies[body] = Policy.model_validate_json(body)
        return found

    def _parsed_terms(self, text: str | None) -> Terms | None:
        if text is None:
            return None
        found = self._terms.get(text)
        if found is None:
            if len(self._terms) > 10_000:
                self._terms.clear()
            found = self._terms[text] = Terms.model_validate_json(text)
        return found

    def _load(self, generation: int) -> Book:
        with self._gov.session() as session:
            owners = [
                Owner(agency_id=row.id, slug=row.slug, name=row.name, country=row.country, state=row.state)
                for row in session.execute(
                    select(Agency.id, Agency.slug, Agency.name, Agency.country, Agency.state)
                    .where(Agency.id.in_(select(Camera.agency_id)))
                    .order_by(Agency.name, Agency.id)
                )
            ]
            policies = {agency_id: self._policy(body) for agency_id, (_, body) in policies_in_force(session).items()}
        return Book(generation, owners, policies, self._agreements_of, DEFAULT)

    def _agreements_of(self, requester: int) -> dict[int, Agreement]:
        """One requester's agreements by owner: the newest of each pair, except that an accepted one wins."""
        found: dict[int, Agreement] = {}
        with self._gov.session() as session:
            rows = session.execute(
                select(
                    SharingAgreement.id,
                    SharingAgreement.owner_id,
                    SharingAgreement.state,
                    SharingAgreement.granted_terms,
                    SharingAgreement.attestation,
                )
                .where(SharingAgreement.requester_id == requester)
                .order_by(SharingAgreement.id)
            )
            for ident, owner_id, state, granted, attestation in rows:
                held = found.get(owner_id)
                if held is not None and held.state is AgreementState.ACCEPTED and state != "accepted":
                    continue
                found[owner_id] = Agreement(
                    id=ident, state=AgreementState(state), terms=self._parsed_terms(granted), attestation=attestation
                )
        return found
