"""Agencies, users and cameras: creation (audited) and look-ups."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plateledger.audit.events import AgencyCreated, AuditEvent, CameraAdded, UserCreated, UserTimeZoneSet
from plateledger.audit.log import Actor, AuditLog
from plateledger.auth.passwords import check_password, hash_password
from plateledger.core.clock import Clock
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.core.text import camera_id_problem, check_camera_id
from plateledger.core.zones import check_zone
from plateledger.policy.actions import Action, HasActor, actor_of, refuse_unseen, require
from plateledger.store.cameras import CameraInfo
from plateledger.store.governance import Governance, bump_policy_generation
from plateledger.store.models import Agency, Base, Camera, User
from plateledger.vocab import AgencyKind, Role

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: How long a camera list read for ingest is reused (another process sharing a PostgreSQL governance store
#: may register cameras; they are seen within this time).
CAMERA_CACHE_MS = 10_000


def _check_position(lat: float | None, lon: float | None, mobile: bool) -> None:
    if mobile:
        return
    if lat is None or lon is None:
        raise FieldInvalid("lat", "a fixed camera needs lat and lon (or register it as mobile)")
    if not -90 <= lat <= 90:
        raise FieldInvalid("lat", "must be between -90 and 90")
    if not -180 <= lon <= 180:
        raise FieldInvalid("lon", "must be between -180 and 180")


def _insert(session: Session, rows: list[Base], conflict: str) -> None:
    """Add ``rows`` in the audit transaction; a duplicate is Conflict (and nothing, entry included, commits)."""
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None


class Registry:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._camera_cache: dict[int, tuple[int, tuple[CameraInfo, ...]]] = {}

    def create_agency(self, actor: Actor, *, slug: str, name: str, kind: str, country: str, state: str) -> Agency:
        if not _SLUG.match(slug):
            raise FieldInvalid("slug", "lower-case letters, digits and dashes, at most 64")
        if kind not in {k.value for k in AgencyKind}:
            raise FieldInvalid("kind", f"must be one of {', '.join(k.value for k in AgencyKind)}")
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise FieldInvalid("country", "ISO 3166-1 alpha-2, e.g. US")
        if not re.fullmatch(r"[A-Z0-9]{1,3}", state):
            raise FieldInvalid("state", "ISO 3166-2 subdivision code, e.g. CA")
        agency = Agency(
            slug=slug,
            name=name[:200],
            kind=kind,
            country=country,
            state=state,
            created_ms=self._clock.now_ms(),
        )
        require(actor, Action.AGENCY_CREATE, None, audit=self._audit)

        def change(session: Session) -> tuple[AuditEvent, Agency]:
            _insert(session, [agency], f"agency {slug!r} already exists")
            bump_policy_generation(session)
            return AgencyCreated(slug=slug, kind=kind), agency

        return self._audit.record(actor, change)[1]

    def create_user(
        self,
        actor: Actor,
        *,
        agency_slug: str,
        username: str,
        role: str,
        password: str | None = None,
    ) -> User:
        agency = self.agency(agency_slug)
        require(actor, Action.USER_CREATE, agency.id, audit=self._audit)  # refused whatever the form holds
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", username):
            raise FieldInvalid("username", "1-64 letters, digits or _.@-")
        if role not in {r.value for r in Role}:
            raise FieldInvalid("role", f"must be one of {', '.join(r.value for r in Role)}")
        if password is not None:  # None: a token-only user; any password given follows the one policy
            check_password(password)
        user = User(
            agency_id=agency.id,
            username=username,
            role=role,
            password_hash=hash_password(password) if password is not None else None,
            created_ms=self._clock.now_ms(),
        )

        def change(session: Session) -> tuple[AuditEvent, User]:
            _insert(session, [user], f"user {username!r} already exists")
            return UserCreated(username=username, role=role, agency=agency_slug), user

        return self._audit.record(actor, change)[1]

    def add_camera(
        self,
        actor: Actor,
        *,
        agency_slug: str,
        external_id: str,
        name: str = "",
        mobile: bool = False,
        lat: float | None = None,
        lon: float | None = None,
        direction: float | None = None,
    ) -> Camera:
        check_camera_id(external_id, "external_id")
        _check_position(lat, lon, mobile)
        agency = self.agency(agency_slug)
        require(actor, Action.CAMERA_ADD, agency.id, audit=self._audit)
        camera = Camera(
            agency_id=agency.id,
            external_id=external_id,
            name=(name or external_id)[:200],
            mobile=mobile,
            lat=None if mobile else lat,
            lon=None if mobile else lon,
            direction=direction,
            created_ms=self._clock.now_ms(),
        )

        def change(session: Session) -> tuple[AuditEvent, Camera]:
            _insert(session, [camera], f"camera {external_id!r} already exists for {agency_slug}")
            bump_policy_generation(session)
            return CameraAdded(agency=agency_slug, external_id=external_id, mobile=mobile), camera

        self._audit.record(actor, change)
        self._camera_cache.pop(agency.id, None)
        return camera

    def add_cameras_bulk(self, actor: Actor, agency_slug: str, cameras: list[CameraInfo]) -> int:
        """Register many cameras in one transaction (demo, migrations from another system); one audit entry each."""
        agency = self.agency(agency_slug)
        require(actor, Action.CAMERA_ADD, agency.id, audit=self._audit)
        now = self._clock.now_ms()
        for cam in cameras:
            if (problem := camera_id_problem(cam.external_id)) is not None:
                raise FieldInvalid("external_id", f"{cam.external_id!r}: {problem}")
            _check_position(cam.lat, cam.lon, cam.mobile)

        def change(session: Session) -> tuple[list[AuditEvent], None]:
            rows: list[Base] = [
                Camera(
                    agency_id=agency.id,
                    external_id=c.external_id,
                    name=c.name,
                    mobile=c.mobile,
                    lat=c.lat,
                    lon=c.lon,
                    created_ms=now,
                )
                for c in cameras
            ]
            _insert(session, rows, f"a camera of the batch is already registered to {agency_slug}")
            bump_policy_generation(session)
            return [CameraAdded(agency=agency_slug, external_id=c.external_id, mobile=c.mobile) for c in cameras], None

        self._audit.record_all(actor, change)
        self._camera_cache.pop(agency.id, None)
        return len(cameras)

    def agency(self, slug: str) -> Agency:
        return self._gov.agency(slug)

    def agency_by_id(self, agency_id: int) -> Agency:
        with self._gov.session() as session:
            agency = session.get(Agency, agency_id)
        if agency is None:
            raise NotFound(f"no agency with id {agency_id}")
        return agency

    def set_time_zone(self, who: Actor | HasActor, username: str, time_zone: str | None) -> str | None:
        """Set (or clear, with None or blank: UTC) the IANA zone ``username`` reads and types times in on the web
        pages; returns the zone stored. A user sets its own; an admin of the user's agency, or the console, anyone's
        (``user.create``). Another agency's users stay unseen. Audited (``user.time_zone_set``)."""
        actor = actor_of(who)
        new = check_zone(time_zone)
        with self._gov.session() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
        foreign = user is not None and actor.agency_id is not None and actor.agency_id != user.agency_id
        if user is None or foreign:
            refuse_unseen(actor, Action.USER_CREATE, audit=self._audit, message=f"no user named {username!r}")
        if user.id != actor.user_id:
            require(actor, Action.USER_CREATE, user.agency_id, audit=self._audit)
        user_id = user.id

        def change(session: Session) -> tuple[AuditEvent, str | None]:
            row = session.get(User, user_id)
            if row is None:
                raise NotFound(f"no user named {username!r}")
            old, row.time_zone = row.time_zone, new
            return UserTimeZoneSet(username=username, old=old, new=new), new

        return self._audit.record(actor, change)[1]

    def agencies(self) -> list[Agency]:
        with self._gov.session() as session:
            return list(session.scalars(select(Agency).order_by(Agency.id)))

    def users(self, agency_id: int | None = None) -> list[User]:
        with self._gov.session() as session:
            query = select(User).order_by(User.id)
            if agency_id is not None:
                query = query.where(User.agency_id == agency_id)
            return list(session.scalars(query))

    def camera_list(self, who: Actor | HasActor, agency_id: int) -> list[CameraInfo]:
        """An agency's cameras, for one of its users (``camera.list``; refusals audited)."""
        require(who, Action.CAMERA_LIST, agency_id, audit=self._audit)
        return self.cameras_unguarded(agency_id)

    def users_of(self, who: Actor | HasActor, agency_id: int) -> list[User]:
        """An agency's users, for one of its admins or the console (``user.list``; refusals audited)."""
        require(who, Action.USER_LIST, agency_id, audit=self._audit)
        return self.users(agency_id)

    def cameras_unguarded(self, agency_id: int) -> list[CameraInfo]:
        """An agency's cameras, for the library's own use (ingest, reports): no authorisation, so never called by
        an entry point (tests/test_entry_points.py): a user's door asks :meth:`camera_list`. Ingest asks on every
        batch, so answers are cached for CAMERA_CACHE_MS; a camera
        registered through this registry is visible at once (its agency's entry is dropped)."""
        now = self._clock.now_ms()
        cached = self._camera_cache.get(agency_id)
        if cached is not None and now - cached[0] < CAMERA_CACHE_MS:
            return list(cached[1])
        with self._gov.session() as session:
            rows = session.scalars(select(Camera).where(Camera.agency_id == agency_id).order_by(Camera.id))
            found = tuple(CameraInfo(c.external_id, c.name, c.mobile, c.lat, c.lon) for c in rows)
        self._camera_cache[agency_id] = (now, found)
        return list(found)
