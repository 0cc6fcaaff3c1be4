"""Camera health: when each camera last sent a read and a heartbeat, and which have gone silent.

The ingest layer records the newest read time per camera of every stored batch and each heartbeat a source
sends (OpenALPR ``heartbeat``, Genetec and Survision status messages ...). A camera is *silent* when neither has
arrived for longer than its ``silent_after_s`` (else the ``camera_silent_after_s`` setting), counted from its
registration when it never sent anything; a heartbeat that reports a fault marks it unhealthy.

Read times are kept in memory per camera (the newest of each) and written in one transaction by :meth:`Health.flush`:
every second by ``plateledger serve``'s :class:`HealthFlush` job, at close (``Platform.close``: the end of a server
and of every CLI command, a one-shot ingest among them), and before camera health is read here, so the API, the web
page and ``/metrics`` of the process that took the reads never lag. A write per ingest request was 8% of an HTTP
ingest server's CPU (docs/benchmarks.md, "Performance II, fourth pass"). A crash loses at most the last second's
read times (the reads themselves are stored and audited before their request is answered); nothing else depends on
them durably: silence counts in minutes (``silent_after_s`` >= 60 s), and heartbeats are written when they arrive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from plateledger.audit.events import CameraConfigured
from plateledger.audit.log import Actor, AuditLog
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.core.jobs import PeriodicJob
from plateledger.policy.actions import Action, HasActor, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, Camera, CameraHealth

#: A camera's newest read time: its health row made where missing (a camera of another agency, or unknown, gets
#: none), and never moved backwards, also when concurrent batches of one camera commit at once.
_SAW_READ = text(
    "INSERT INTO camera_health (camera_id, last_read_ms, healthy, detail) "
    "SELECT id, :ts, TRUE, '' FROM cameras WHERE agency_id = :agency AND external_id = :camera "
    "ON CONFLICT (camera_id) DO UPDATE SET last_read_ms = excluded.last_read_ms "
    "WHERE camera_health.last_read_ms IS NULL OR camera_health.last_read_ms < excluded.last_read_ms"
)
MIN_SILENT_S = 60
#: How often ``plateledger serve`` writes the read times kept in memory (:class:`HealthFlush`).
FLUSH_INTERVAL_S = 1.0
log = logging.getLogger(__name__)
MAX_SILENT_S = 30 * 86_400


@dataclass(frozen=True)
class CameraState:
    """One camera's health as the API and metrics show it."""

    external_id: str
    name: str
    mobile: bool
    last_read_ms: int | None
    last_heartbeat_ms: int | None
    healthy: bool
    detail: str
    silent_after_s: int
    silent: bool


class Health:
    def __init__(self, *, governance: Governance, audit: AuditLog, clock: Clock, default_silent_s: int) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        self._default = default_silent_s
        #: The newest read time per (agency id, camera id) not yet written, and the lock guarding it.
        self._seen: dict[tuple[int, str], int] = {}
        self._seen_lock = threading.Lock()
        #: Held across a flush, so that a reader's flush waits for one in progress (its rows then committed).
        self._flush_lock = threading.Lock()

    def _rows(self, session: Session, agency_id: int, cameras: set[str]) -> dict[str, tuple[Camera, CameraHealth]]:
        """The cameras of ``cameras`` the agency has, each with its health row, made where missing. Concurrent
        batches of the same camera make it at once: the row is inserted with ON CONFLICT DO NOTHING, then read, so
        the second transaction finds the first's row instead of failing on the primary key."""
        query = select(Camera).where(Camera.agency_id == agency_id, Camera.external_id.in_(sorted(cameras)))
        known = list(session.scalars(query))
        if not known:
            return {}
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(CameraHealth)
            .values([{"camera_id": camera.id, "healthy": True, "detail": ""} for camera in known])
            .on_conflict_do_nothing(index_elements=["camera_id"])
        )
        ids = [camera.id for camera in known]
        rows = session.scalars(select(CameraHealth).where(CameraHealth.camera_id.in_(ids)))
        health = {row.camera_id: row for row in rows}
        return {camera.external_id: (camera, health[camera.id]) for camera in known}

    def saw_reads(self, agency_id: int, newest: Mapping[str, int]) -> None:
        """Note the newest read time per camera id of a stored batch, in memory (written by :meth:`flush`)."""
        with self._seen_lock:
            self._merge(((agency_id, camera), ts_ms) for camera, ts_ms in newest.items())

    def _merge(self, times: Iterable[tuple[tuple[int, str], int]]) -> None:
        seen = self._seen
        for key, ts_ms in times:
            if ts_ms > seen.get(key, ts_ms - 1):
                seen[key] = ts_ms

    def flush(self) -> int:
        """Write the read times noted since the last flush, in one transaction: each registered camera's newest
        (never moving backwards; unknown cameras are left out). Returns how many were noted. If the write fails,
        they are noted again for the next flush and the error is raised."""
        with self._flush_lock:
            with self._seen_lock:
                seen, self._seen = self._seen, {}
            if not seen:
                return 0
            rows = [{"agency": agency, "camera": camera, "ts": ts_ms} for (agency, camera), ts_ms in seen.items()]
            try:
                with self._gov.session() as session:
                    # One statement per camera, run as one executemany (the ORM's select-insert-select-update of
                    # each took a third of an HTTP ingest request: docs/benchmarks.md, "Performance II").
                    session.connection().execute(_SAW_READ, rows)
            except BaseException:
                with self._seen_lock:
                    self._merge(seen.items())
                raise
            return len(rows)

    def heartbeat(self, agency_id: int, camera: str, ts_ms: int, *, healthy: bool, detail: str) -> bool:
        """Record a heartbeat of a registered camera; False when the agency has no such camera."""
        with self._gov.session() as session:
            rows = self._rows(session, agency_id, {camera})
            if camera not in rows:
                return False
            health = rows[camera][1]
            if health.last_heartbeat_ms is None or ts_ms >= health.last_heartbeat_ms:
                health.last_heartbeat_ms = ts_ms
                health.healthy = healthy
                health.detail = detail[:200]
        return True

    def states_for(self, who: Actor | HasActor, agency_id: int) -> list[CameraState]:
        """:meth:`states` for one of the agency's admins or the console (``camera.health``; refusals audited)."""
        require(who, Action.CAMERA_HEALTH, agency_id, audit=self._audit)
        return self.states(agency_id)

    def states(self, agency_id: int) -> list[CameraState]:
        """Every camera of the agency with its health, by camera id (read times noted in memory written first)."""
        return [state for _, state in self._states(agency_id)]

    def silent_counts(self) -> dict[str, int]:
        """Silent cameras per agency slug, every agency with cameras (for /metrics; one query)."""
        counts: dict[str, int] = {}
        for slug, state in self._states(None):
            counts[slug] = counts.get(slug, 0) + int(state.silent)
        return counts

    def _states(self, agency_id: int | None) -> list[tuple[str, CameraState]]:
        self.flush()
        now = self._clock.now_ms()
        query = (
            select(Agency.slug, Camera, CameraHealth)
            .join(Agency, Agency.id == Camera.agency_id)
            .outerjoin(CameraHealth, CameraHealth.camera_id == Camera.id)
            .order_by(Agency.slug, Camera.external_id)
        )
        if agency_id is not None:
            query = query.where(Camera.agency_id == agency_id)
        with self._gov.session() as session:
            rows = session.execute(query).all()
        states = []
        for slug, camera, health in rows:
            last_read = health.last_read_ms if health else None
            last_beat = health.last_heartbeat_ms if health else None
            interval = camera.silent_after_s or self._default
            last = max(v for v in (last_read, last_beat, camera.created_ms) if v is not None)
            state = CameraState(
                external_id=camera.external_id,
                name=camera.name,
                mobile=camera.mobile,
                last_read_ms=last_read,
                last_heartbeat_ms=last_beat,
                healthy=health.healthy if health else True,
                detail=health.detail if health else "",
                silent_after_s=interval,
                silent=now - last > interval * 1000,
            )
            states.append((slug, state))
        return states

    def configure(self, actor: Actor, agency: Agency, camera: str, silent_after_s: int | None) -> None:
        """Set a camera's silent interval (None: back to the default); audited with the change."""
        require(actor, Action.CAMERA_CONFIGURE, agency.id, audit=self._audit)
        if silent_after_s is not None and not MIN_SILENT_S <= silent_after_s <= MAX_SILENT_S:
            raise FieldInvalid("silent_after_s", f"must be between {MIN_SILENT_S} and {MAX_SILENT_S} seconds")

        def change(session: Session) -> tuple[CameraConfigured, None]:
            row = session.scalars(
                select(Camera).where(Camera.agency_id == agency.id, Camera.external_id == camera)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no camera {camera[:64]!r} registered to {agency.slug}")
            row.silent_after_s = silent_after_s
            return CameraConfigured(agency=agency.slug, external_id=camera, silent_after_s=silent_after_s), None

        self._audit.record(actor, change)


class HealthFlush(PeriodicJob):
    """``plateledger serve``'s writer of camera read times: :meth:`Health.flush` every ``FLUSH_INTERVAL_S``, and
    once more when stopped. A failed write is logged; its read times are written with the next."""

    thread_name = "plateledger-camera-health"

    def __init__(self, health: Health, period_s: float = FLUSH_INTERVAL_S) -> None:
        super().__init__(period_s)
        self._health = health

    def tick(self) -> None:
        try:
            self._health.flush()
        except SQLAlchemyError:
            log.exception("camera health: read times not written; retrying in %s s", self._period_s)

    def stop(self) -> None:
        super().stop()
        self.tick()
