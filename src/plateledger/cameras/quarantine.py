"""Quarantine: reads from vendor camera ids their owner has not registered, held until an admin decides.

A vendor's camera id (a Genetec unit name, a Survision serial, an OpenALPR agent uid ...) that is not one of the
owner's cameras, nor mapped onto one, is not dropped: the read's canonical JSON line is kept with the time it
arrived, up to ``quarantine_max_reads`` per agency (further reads are refused, with a reason naming the limit).
An admin then maps the vendor id onto a registered camera or approves it as a new camera; either way the held
reads are released into the store through the ordinary ingest path (validation, de-duplication, audit, hot-list
matching) with their original times, and later reads from that vendor id go straight to the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plateledger.agencies.registry import Registry
from plateledger.audit.events import QuarantineReleased, ReadsQuarantined
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock
from plateledger.core.errors import Conflict, FieldInvalid, NotFound
from plateledger.core.text import camera_id_problem, check_camera_id
from plateledger.ingest.service import Ingestor
from plateledger.policy.actions import Action, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, Camera, CameraAlias, QuarantinedRead
from plateledger.store.reads import BatchResult

#: Quarantined reads handed to the store per batch on release.
RELEASE_BATCH = 5_000


def _object(line: bytes) -> dict[str, object] | None:
    """A canonical line's JSON object, or None for a blank line or one that is not a JSON object."""
    if not line.strip():
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Held:
    """One read to hold: its index in the caller's batch, the vendor camera id and its canonical JSON line."""

    index: int
    vendor_camera: str
    line: bytes


@dataclass(frozen=True)
class PendingCamera:
    """A vendor camera id with reads in quarantine."""

    vendor_camera: str
    reads: int
    first_received_ms: int
    last_received_ms: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Release:
    """What releasing one vendor camera id did: the camera it now maps to and what the store made of its reads."""

    vendor_camera: str
    camera: str
    how: str
    released: int
    result: BatchResult


class Quarantine:
    def __init__(
        self,
        *,
        governance: Governance,
        registry: Registry,
        ingest: Ingestor,
        audit: AuditLog,
        clock: Clock,
        max_reads: int,
    ) -> None:
        self._gov = governance
        self._registry = registry
        self._ingest = ingest
        self._audit = audit
        self._clock = clock
        self._max = max_reads

    def aliases(self, agency_id: int) -> dict[str, str]:
        """Vendor camera id -> registered camera id, for the agency's mapped vendor ids."""
        with self._gov.session() as session:
            rows = session.execute(
                select(CameraAlias.vendor_camera, Camera.external_id)
                .join(Camera, Camera.id == CameraAlias.camera_id)
                .where(CameraAlias.agency_id == agency_id)
            )
            return {vendor: camera for vendor, camera in rows}

    def hold(
        self, actor: Actor, owner: Agency, held: list[Held], *, channel: str, source: str
    ) -> list[tuple[int, str]]:
        """Hold ``held`` for ``owner``, audited in the same transaction; returns (index, reason) of the reads
        refused: a vendor camera id that is not 1-64 printable characters, or a full quarantine."""
        refused: list[tuple[int, str]] = []
        now = self._clock.now_ms()

        def change(session: Session) -> tuple[ReadsQuarantined, None]:
            stored = session.scalar(
                select(func.count()).select_from(QuarantinedRead).where(QuarantinedRead.agency_id == owner.id)
            )
            room = max(0, self._max - int(stored or 0))
            counts: Counter[str] = Counter()
            for item in held:
                if (problem := camera_id_problem(item.vendor_camera)) is not None:
                    refused.append((item.index, f"camera: {problem}"))
                elif room <= 0:
                    refused.append(
                        (
                            item.index,
                            f"camera: {item.vendor_camera!r} is not registered to this agency and its quarantine "
                            f"is full ({self._max} reads); an admin must map or approve the waiting cameras",
                        )
                    )
                else:
                    room -= 1
                    counts[item.vendor_camera] += 1
                    session.add(
                        QuarantinedRead(
                            agency_id=owner.id,
                            vendor_camera=item.vendor_camera,
                            source=source[:32],
                            line=item.line.decode(),
                            received_ms=now,
                        )
                    )
            event = ReadsQuarantined(
                owner=owner.slug, channel=channel, source=source, held=dict(counts), refused=len(refused)
            )
            return event, None

        self._audit.record(actor, change)
        return refused

    def store_block(self, actor: Actor, owner: Agency, block: bytes, channel: str, source: str) -> BatchResult:
        """Canonical ingest that holds the reads of unknown cameras (``ingest --quarantine-unknown``, ``POST
        /api/v1/reads?quarantine_unknown=true``), as the vendor endpoints do: a line naming a camera that is
        neither registered to ``owner`` nor mapped onto one is held (``ingest.quarantined``); a mapped vendor id
        is replaced by its camera; the rest is stored by ``Ingestor.store_block``. Indexes are the block's lines,
        as without quarantine. A held read is validated when it is released."""
        known = {c.external_id for c in self._registry.cameras_unguarded(owner.id)}
        aliases = self.aliases(owner.id)
        lines = block.split(b"\n")
        held: list[Held] = []
        for index, line in enumerate(lines):
            read = _object(line)
            camera = read.get("camera") if read is not None else None
            if not isinstance(camera, str) or camera in known:
                continue  # stored, or refused by the validator with its rule
            if camera in aliases:
                lines[index] = orjson.dumps({**read, "camera": aliases[camera]})  # type: ignore[dict-item]
            else:
                held.append(Held(index, camera, line))
                lines[index] = b""  # a blank line keeps its index and is not a read
        refused = self.hold(actor, owner, held, channel=channel, source=source) if held else []
        result = self._ingest.store_block(actor, owner, b"\n".join(lines), channel=channel, source=source)
        result.rejected = sorted(result.rejected + refused)
        result.quarantined = len(held) - len(refused)
        return result

    def pending(self, actor: Actor, agency_slug: str) -> list[PendingCamera]:
        """The agency's vendor camera ids with reads waiting, oldest first."""
        agency = self._registry.agency(agency_slug)
        require(actor, Action.QUARANTINE_MANAGE, agency.id, audit=self._audit)
        with self._gov.session() as session:
            rows = session.execute(
                select(
                    QuarantinedRead.vendor_camera,
                    func.count(),
                    func.min(QuarantinedRead.received_ms),
                    func.max(QuarantinedRead.received_ms),
                )
                .where(QuarantinedRead.agency_id == agency.id)
                .group_by(QuarantinedRead.vendor_camera)
                .order_by(func.min(QuarantinedRead.received_ms), QuarantinedRead.vendor_camera)
            ).all()
            sources = session.execute(
                select(QuarantinedRead.vendor_camera, QuarantinedRead.source)
                .where(QuarantinedRead.agency_id == agency.id)
                .distinct()
            ).all()
        by_camera: dict[str, set[str]] = {}
        for vendor, src in sources:
            by_camera.setdefault(vendor, set()).add(src)
        return [
            PendingCamera(vendor, int(n), int(first), int(last), tuple(sorted(by_camera.get(vendor, ()))))
            for vendor, n, first, last in rows
        ]

    def map(self, actor: Actor, agency_slug: str, vendor_camera: str, camera: str) -> Release:
        """Map ``vendor_camera`` onto the registered ``camera`` and release its quarantined reads (the mapping is
        made in the transaction of the release's entry, after the reads are stored: :meth:`_release`)."""
        agency = self._registry.agency(agency_slug)
        require(actor, Action.QUARANTINE_MANAGE, agency.id, audit=self._audit)
        check_camera_id(vendor_camera, "vendor_camera")
        with self._gov.session() as session:
            target = session.scalars(
                select(Camera).where(Camera.agency_id == agency.id, Camera.external_id == camera)
            ).one_or_none()
            mapped = self._alias(session, agency, vendor_camera) is not None
        if target is None:
            raise NotFound(f"no camera {camera[:64]!r} registered to {agency_slug}")
        if vendor_camera == camera:
            raise FieldInvalid("vendor_camera", "already the id of a registered camera: approve it instead")
        if mapped:  # refused before any read is stored under ``camera``
            raise Conflict(f"vendor camera {vendor_camera!r} is already mapped for {agency_slug}")
        created = self._clock.now_ms()

        def add_alias(session: Session) -> None:
            if self._alias(session, agency, vendor_camera) is not None:
                raise Conflict(f"vendor camera {vendor_camera!r} is already mapped for {agency_slug}")
            session.add(
                CameraAlias(
                    agency_id=agency.id,
                    vendor_camera=vendor_camera,
                    camera_id=target.id,
                    created_ms=created,
                    created_by=actor.username[:64],
                )
            )

        return self._release(actor, agency, vendor_camera, camera, "mapped", add_alias)

    def approve(
        self,
        actor: Actor,
        agency_slug: str,
        vendor_camera: str,
        *,
        name: str = "",
        mobile: bool = False,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Release:
        """Register ``vendor_camera`` as a new camera of the agency and release its quarantined reads. An approval
        whose release failed after the camera was registered (``camera.added``) is completed by approving again:
        the camera stays as registered and the reads still waiting are released."""
        agency = self._registry.agency(agency_slug)
        require(actor, Action.QUARANTINE_MANAGE, agency.id, audit=self._audit)
        with self._gov.session() as session:
            registered = session.scalar(
                select(Camera.id).where(Camera.agency_id == agency.id, Camera.external_id == vendor_camera)
            )
            waiting = self._waiting(session, agency, vendor_camera)
        if registered is None or not waiting:
            self._registry.add_camera(
                actor, agency_slug=agency_slug, external_id=vendor_camera, name=name, mobile=mobile, lat=lat, lon=lon
            )
        return self._release(actor, agency, vendor_camera, vendor_camera, "approved", None)

    @staticmethod
    def _alias(session: Session, agency: Agency, vendor_camera: str) -> CameraAlias | None:
        return session.scalars(
            select(CameraAlias).where(CameraAlias.agency_id == agency.id, CameraAlias.vendor_camera == vendor_camera)
        ).one_or_none()

    @staticmethod
    def _waiting(session: Session, agency: Agency, vendor_camera: str, *, after_id: int = 0) -> int:
        """How many of ``vendor_camera``'s reads wait in quarantine (those after row ``after_id``)."""
        return int(
            session.scalar(
                select(func.count())
                .select_from(QuarantinedRead)
                .where(
                    QuarantinedRead.agency_id == agency.id,
                    QuarantinedRead.vendor_camera == vendor_camera,
                    QuarantinedRead.id > after_id,
                )
            )
            or 0
        )

    def _release(
        self,
        actor: Actor,
        agency: Agency,
        vendor_camera: str,
        camera: str,
        how: str,
        then: Callable[[Session], None] | None,
    ) -> Release:
        """Store the held reads, then record the release. The entry records an outcome, never a write that did
        not happen: the reads go to the store first, in batches (each audited by the ingest path, and idempotent:
        a read stored before counts as a duplicate); then one transaction removes them from quarantine, makes
        ``then``'s change (the mapping) and appends ``camera.quarantine_released`` with what the store did. If
        the store or that append fails, the reads stay in quarantine and a later release stores nothing twice.
        Reads held meanwhile (after the last stored row) are stored too before the release is recorded."""
        total = BatchResult()
        released = 0
        last_id = 0
        while True:
            with self._gov.session() as session:
                rows = session.execute(
                    select(QuarantinedRead.id, QuarantinedRead.line, QuarantinedRead.source)
                    .where(
                        QuarantinedRead.agency_id == agency.id,
                        QuarantinedRead.vendor_camera == vendor_camera,
                        QuarantinedRead.id > last_id,
                    )
                    .order_by(QuarantinedRead.id)
                    .limit(RELEASE_BATCH)
                ).all()
            if rows:
                last_id = rows[-1][0]
                by_source: dict[str, list[bytes]] = {}
                for _, line, source in rows:
                    read = orjson.loads(line)
                    read["camera"] = camera
                    by_source.setdefault(source, []).append(orjson.dumps(read))
                for source, lines in by_source.items():
                    result = self._ingest.store_lines(actor, agency, lines, channel="quarantine", source=source)
                    result.rejected = [(released + i, reason) for i, reason in result.rejected]
                    total.add(result)
                    released += len(lines)
                continue
            try:
                self._audit.record(
                    actor, partial(self._released, agency, vendor_camera, camera, how, then, last_id, total)
                )
            except _MoreArrived:
                continue  # rolled back, no entry: store those first
            return Release(vendor_camera=vendor_camera, camera=camera, how=how, released=released, result=total)

    def _released(
        self,
        agency: Agency,
        vendor_camera: str,
        camera: str,
        how: str,
        then: Callable[[Session], None] | None,
        upto: int,
        total: BatchResult,
        session: Session,
    ) -> tuple[QuarantineReleased, None]:
        """The release's change, once its reads up to row ``upto`` are stored (``total``): ``then``'s change, the
        rows removed from quarantine, and the event saying what the store did."""
        if then is not None:
            then(session)
            session.flush()  # the mapping's write first: it takes SQLite's write lock, so no read is held meanwhile
        if self._waiting(session, agency, vendor_camera, after_id=upto):
            raise _MoreArrived
        session.execute(
            delete(QuarantinedRead).where(
                QuarantinedRead.agency_id == agency.id,
                QuarantinedRead.vendor_camera == vendor_camera,
                QuarantinedRead.id <= upto,
            )
        )
        event = QuarantineReleased(
            agency=agency.slug,
            vendor_camera=vendor_camera,
            camera=camera,
            how=how,
            released=total.total,
            stored=total.stored,
            duplicates=total.duplicates,
            rejected=len(total.rejected),
        )
        return event, None


class _MoreArrived(Exception):
    """Rolls back a release's transaction (without an entry) when more reads were held after the last one stored."""
