"""The vendor storing layer against real stores: reads of known cameras stored (validated, de-duplicated,
audited, matched), unknown vendor cameras quarantined and released on mapping or approval, camera health and
images recorded."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from plateledger.adapters.base import Adapted, CameraStatus, Image, SourceRead
from plateledger.audit.log import SYSTEM
from plateledger.cameras.health import HealthFlush
from plateledger.core.clock import FixedClock
from plateledger.core.errors import Conflict, NotFound, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.store.models import AuditEntry, Camera, CameraHealth, QuarantinedRead
from tests.support import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    NOW_MS,
    governance_transactions,
    ingest,
    opened,
    read,
    search,
    seed_agency,
    writing,
)


def _read(plate: str, camera: str, ts_ms: int = NOW_MS - HOUR_MS, **extra: object) -> SourceRead:
    return SourceRead(plate=plate, ts_ms=ts_ms, camera=camera, source_ts=str(ts_ms), **extra)  # type: ignore[arg-type]


def _actions(platform: Platform) -> list[str]:
    with platform.governance.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_known_cameras_stored_unknown_quarantined_then_released_on_mapping(gov_platform: Platform) -> None:
    platform = gov_platform
    kit = seed_agency(platform, "city")
    adapted = Adapted(
        reads=[
            _read("ABC123", "city-fixed"),
            _read("XYZ789", "lane-3", ts_ms=NOW_MS - 3 * HOUR_MS, read_id="g-1"),
            _read("", "city-fixed"),
            _read("XYZ790", "lane-3", ts_ms=NOW_MS - 2 * HOUR_MS),
        ],
        ignored=["a test ping"],
    )
    result = platform.vendor.store(kit.device.actor, kit.agency, adapted, channel="http", source="genetec")
    assert (result.stored, result.duplicates, result.quarantined) == (1, 0, 2)
    assert [i for i, _ in result.rejected] == [2]
    assert result.rejected[0][1].startswith("plate: ")
    assert result.ignored == ["a test ping"]
    assert _actions(platform)[-2:] == ["ingest.batch", "ingest.quarantined"]
    assert [r.plate for r in search(platform, kit.investigator, "XYZ789").reads] == []

    pending = platform.quarantine.pending(kit.admin.actor, "city")
    assert [(p.vendor_camera, p.reads, p.sources) for p in pending] == [("lane-3", 2, ("genetec",))]
    with pytest.raises(PermissionDenied):
        platform.quarantine.map(kit.investigator.actor, "city", "lane-3", "city-fixed")
    with pytest.raises(NotFound):
        platform.quarantine.map(kit.admin.actor, "city", "lane-3", "no-such-camera")

    release = platform.quarantine.map(kit.admin.actor, "city", "lane-3", "city-fixed")
    assert (release.released, release.result.stored, release.camera) == (2, 2, "city-fixed")
    found = search(platform, kit.investigator, "XYZ789").reads
    assert [(r.read_id, r.ts_ms, r.camera) for r in found] == [("g-1", NOW_MS - 3 * HOUR_MS, "city-fixed")]
    assert platform.quarantine.pending(kit.admin.actor, "city") == []
    with pytest.raises(Conflict):
        platform.quarantine.map(kit.admin.actor, "city", "lane-3", "city-fixed")

    # Later reads from the mapped vendor id go straight to the store.
    again = platform.vendor.store(
        kit.device.actor, kit.agency, Adapted(reads=[_read("QRS111", "lane-3")]), channel="http", source="genetec"
    )
    assert (again.stored, again.quarantined) == (1, 0)
    assert [r.camera for r in search(platform, kit.investigator, "QRS111").reads] == ["city-fixed"]


def test_approving_a_vendor_camera_registers_it_and_releases_with_original_times(gov_platform: Platform) -> None:
    platform = gov_platform
    kit = seed_agency(platform, "city")
    platform.vendor.store(
        kit.device.actor,
        kit.agency,
        Adapted(reads=[_read("NEW123", "SN-0042", ts_ms=NOW_MS - 5 * HOUR_MS)]),
        channel="http",
        source="survision",
    )
    release = platform.quarantine.approve(kit.admin.actor, "city", "SN-0042", lat=37.7, lon=-122.4)
    assert (release.released, release.result.stored) == (1, 1)
    reads = search(platform, kit.investigator, "NEW123").reads
    assert [(r.camera, r.ts_ms, r.lat) for r in reads] == [("SN-0042", NOW_MS - 5 * HOUR_MS, 37.7)]
    assert "camera.quarantine_released" in _actions(platform)


def test_a_full_quarantine_refuses_with_a_reason(platform_factory: object) -> None:
    platform = platform_factory(quarantine_max_reads=2)  # type: ignore[operator]
    kit = seed_agency(platform, "city")
    reads = [_read(f"AAA{i}", "unknown-cam", ts_ms=NOW_MS - HOUR_MS + i) for i in range(3)]
    result = platform.vendor.store(kit.device.actor, kit.agency, Adapted(reads=reads), channel="http", source="x")
    assert result.quarantined == 2
    assert [i for i, _ in result.rejected] == [2]
    assert "quarantine is full (2 reads)" in result.rejected[0][1]
    with platform.governance.session() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedRead)) == 2


def test_camera_health_from_reads_and_heartbeats(gov_platform: Platform, clock: FixedClock) -> None:
    platform = gov_platform
    kit = seed_agency(platform, "city")  # registered at NOW_MS: not silent yet
    states = {s.external_id: s for s in platform.health.states(kit.agency.id)}
    assert not states["city-fixed"].silent
    clock.advance(2 * HOUR_MS)
    adapted = Adapted(
        reads=[_read("ABC123", "city-fixed", ts_ms=NOW_MS + HOUR_MS + 50 * MINUTE_MS)],
        statuses=[
            CameraStatus("city-mobile", NOW_MS + 2 * HOUR_MS - MINUTE_MS, healthy=False, detail="lens dirty"),
            CameraStatus("elsewhere", NOW_MS),
        ],
    )
    result = platform.vendor.store(kit.device.actor, kit.agency, adapted, channel="http", source="x")
    assert result.heartbeats == 1
    assert result.ignored == ["heartbeat: camera 'elsewhere' is not registered to this agency"]
    states = {s.external_id: s for s in platform.health.states(kit.agency.id)}
    assert states["city-fixed"].last_read_ms == NOW_MS + HOUR_MS + 50 * MINUTE_MS
    assert not states["city-fixed"].silent
    assert (states["city-mobile"].healthy, states["city-mobile"].detail) == (False, "lens dirty")
    clock.advance(HOUR_MS)
    assert [s.external_id for s in platform.health.states(kit.agency.id) if s.silent] == ["city-fixed", "city-mobile"]
    platform.health.configure(kit.admin.actor, kit.agency, "city-fixed", 6 * 3600)
    assert [s.external_id for s in platform.health.states(kit.agency.id) if s.silent] == ["city-mobile"]


def test_images_of_accepted_reads_are_stored_once_by_content(gov_platform: Platform, clock: FixedClock) -> None:
    platform = gov_platform
    kit = seed_agency(platform, "city")
    crop = Image("plate", "image/jpeg", b"\xff\xd8jpeg-bytes")
    adapted = Adapted(
        reads=[
            _read("ABC123", "city-fixed", images=(crop, Image("overview", "text/html", b"<script>"))),
            _read("ABC124", "city-fixed", ts_ms=NOW_MS - 200 * DAY_MS, images=(crop,)),
        ]
    )
    result = platform.vendor.store(kit.device.actor, kit.agency, adapted, channel="http", source="genetec")
    assert (result.stored, result.images) == (2, 2)
    assert "overview image: content type 'text/html'" in result.ignored[0]
    files = [p for p in (platform.settings.images_dir).rglob("*") if p.is_file()]
    assert len(files) == 1
    assert files[0].read_bytes() == crop.data
    stored = search(platform, kit.investigator, "ABC123").reads[0]
    link = platform.images.find(kit.agency.id, stored.read_id, "plate")
    assert platform.images.data(link) == crop.data
    older = search(platform, kit.investigator, "ABC124", since=NOW_MS - 300 * DAY_MS).reads[0]

    # Retention (default: 365 days) deletes the older read and its image link; the file stays for the newer read.
    clock.advance(166 * DAY_MS)
    platform.retention.run(SYSTEM, settle_s=5)  # retention runs for every owner: the console or the scheduler
    with pytest.raises(NotFound):
        platform.images.find(kit.agency.id, older.read_id, "plate")
    assert platform.images.data(platform.images.find(kit.agency.id, stored.read_id, "plate")) == crop.data
    clock.advance(200 * DAY_MS)
    platform.retention.run(SYSTEM, settle_s=5)  # retention runs for every owner: the console or the scheduler
    assert [p for p in platform.settings.images_dir.rglob("*") if p.is_file()] == []


def _stored_read_times(platform: Platform) -> dict[str, int | None]:
    """Each camera's last read time as the governance store holds it (not through ``Health``, which flushes)."""
    with platform.governance.session() as session:
        rows = session.execute(select(Camera.external_id, CameraHealth.last_read_ms).join(CameraHealth))
        return {str(camera): last for camera, last in rows}


def test_camera_read_times_are_written_by_a_flush_not_by_each_batch(platform: Platform) -> None:
    """Three stored batches write no camera health; one flush writes every camera's newest read time, in one
    transaction, and a reader of camera health sees them at once (it flushes first)."""
    kit = seed_agency(platform, "city")
    with governance_transactions(platform) as transactions:
        for minutes in (30, 10, 20):  # the newest batch is not the last: the time never moves backwards
            ingest(platform, kit, [read(f"ABC{minutes}", camera="city-fixed", ts=NOW_MS - minutes * MINUTE_MS)])
        assert writing(transactions, "camera_health") == []
        assert len(writing(transactions, "audit_log")) == 6  # each batch's intent and outcome
        assert platform.health.flush() == 1
        assert len(writing(transactions, "camera_health")) == 1
    assert _stored_read_times(platform)["city-fixed"] == NOW_MS - 10 * MINUTE_MS
    ingest(platform, kit, [read("ABC5", camera="city-mobile", ts=NOW_MS - 5 * MINUTE_MS)])
    states = {s.external_id: s.last_read_ms for s in platform.health.states(kit.agency.id)}
    assert states == {"city-fixed": NOW_MS - 10 * MINUTE_MS, "city-mobile": NOW_MS - 5 * MINUTE_MS}
    assert platform.health.flush() == 0


def test_camera_read_times_are_written_by_the_flush_job_and_at_close(settings: Settings, clock: FixedClock) -> None:
    with opened(settings, clock) as platform:
        kit = seed_agency(platform, "city")
        job = HealthFlush(platform.health, period_s=0.05)
        job.start()
        try:
            with governance_transactions(platform) as transactions:
                ingest(platform, kit, [read("ABC1", camera="city-fixed", ts=NOW_MS - 9 * MINUTE_MS)])
                for _ in range(200):  # (the commit event comes before the commit: wait for the row itself)
                    if _stored_read_times(platform).get("city-fixed") is not None:
                        break
                    time.sleep(0.05)
            assert [t.thread for t in writing(transactions, "camera_health")] == ["plateledger-camera-health"]
            assert _stored_read_times(platform)["city-fixed"] == NOW_MS - 9 * MINUTE_MS
        finally:
            job.stop()
        # A one-shot command (``plateledger ingest``) runs no job: its read times are written when it closes.
        ingest(platform, kit, [read("ABC2", camera="city-mobile", ts=NOW_MS - 8 * MINUTE_MS)])
    with opened(settings, clock) as platform:
        assert _stored_read_times(platform) == {
            "city-fixed": NOW_MS - 9 * MINUTE_MS,
            "city-mobile": NOW_MS - 8 * MINUTE_MS,
        }
