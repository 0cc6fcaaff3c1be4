"""POST /api/v1/ingest/{source} against real stores: header and URL tokens, content types, size limits,
quarantine and release over HTTP, camera health, and refusals as problem+json (audited, never a 500)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plateledger.api.redact import RedactTokens
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.clock import FixedClock
from plateledger.core.errors import NotFound
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store.models import AuditEntry
from tests.support import METRICS_AUTH, METRICS_TOKEN, AgencyKit, CameraSpec, seed_agency
from tests.unit.adapters_support import sample, sample_json
from tests.unit.openalpr_payloads import results_v2

GENETEC = "parkpow_snapshot-middleware_Genetec.json"
SURVISION = "parkpow_snapshot-middleware_Survision.json"
SHARP = "G637821011231200521C"
#: The samples were taken in October 2024; the suite's clock is later.
CLOCK_MS = 1_729_900_000_000


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = load_settings(
        data=tmp_path / "data", max_body_bytes=512 * 1024, quarantine_max_reads=5, metrics_token=METRICS_TOKEN
    )
    opened = Platform.open(settings, clock=FixedClock(CLOCK_MS))
    yield opened
    opened.close()


@pytest.fixture
def city(platform: Platform) -> AgencyKit:
    return seed_agency(platform, "city", cameras=(CameraSpec(SHARP), CameraSpec("SN-7", 48.85, 2.35)))


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def last_audit(platform: Platform) -> AuditEntry:
    with platform.governance.session() as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()


def plate_search(client: TestClient, kit: AgencyKit, plate: str) -> list[dict[str, object]]:
    response = client.get(
        "/api/v1/search/plate",
        params={"plate": plate, "purpose": "stolen_vehicle", "case_number": "C-1"},
        headers=bearer(kit.tokens["investigator"]),
    )
    assert response.status_code == 200, response.text
    reads: list[dict[str, object]] = response.json()["reads"]
    return reads


def test_genetec_with_header_token_is_stored_with_its_raw_values(
    client: TestClient, platform: Platform, city: AgencyKit
) -> None:
    response = client.post("/api/v1/ingest/genetec", content=sample(GENETEC), headers=bearer(city.tokens["device"]))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "stored": 1,
        "duplicates": 0,
        "rejected_count": 0,
        "rejected": [],
        "quarantined": 0,
        "heartbeats": 0,
        "images": 2,
        "ignored": [],
        "warnings": [],
    }
    (read,) = plate_search(client, city, "9HKA742")
    assert read["ts"] == "2024-10-24T20:29:26.000Z"
    assert (read["region"], read["confidence"], read["camera"]) == ("US-CA", 0.99, SHARP)
    assert (read["source_ts"], read["source_confidence"]) == ("10/24/2024 20:29:26", "99")
    again = client.post("/api/v1/ingest/genetec", content=sample(GENETEC), headers=bearer(city.tokens["device"]))
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    health = client.get("/api/v1/cameras/health", headers=bearer(city.tokens["admin"])).json()
    assert {h["external_id"]: h["last_read"] for h in health}[SHARP] == "2024-10-24T20:29:26.000Z"


def test_url_token_works_is_revocable_and_never_written_anywhere(
    client: TestClient, platform: Platform, city: AgencyKit, caplog: pytest.LogCaptureFixture
) -> None:
    secret = city.tokens["device"]
    headers = {"survision-serial-number": "SN-7", "Content-Type": "application/json"}
    response = client.post(f"/api/v1/ingest/survision/{secret}", content=sample(SURVISION), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    assert [r["camera"] for r in plate_search(client, city, "MW818WM")] == ["SN-7"]

    platform.tokens.revoke(city.admin.actor, city.device.token_id or 0)
    refused = client.post(f"/api/v1/ingest/survision/{secret}", content=sample(SURVISION), headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert secret not in refused.text
    assert refused.json()["instance"] == "/api/v1/ingest/survision/<token>"
    entry = last_audit(platform)
    assert entry.action == "auth.refused"
    assert secret not in entry.params
    assert "<token>" in entry.params

    # uvicorn's access log line goes through the filter create_app installs.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "POST", f"/api/v1/ingest/survision/{secret}?camera=x", "1.1", 200),
        None,
    )
    assert all(f.filter(record) for f in logging.getLogger("uvicorn.access").filters)
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("uvicorn.access").filters)
    assert secret not in record.getMessage()
    assert "/api/v1/ingest/survision/<token>?camera=x" in record.getMessage()


def test_unknown_vendor_camera_is_quarantined_then_released_over_http(
    client: TestClient, platform: Platform, city: AgencyKit
) -> None:
    device = bearer(city.tokens["device"])
    response = client.post("/api/v1/ingest/survision?camera=SN-999", content=sample(SURVISION), headers=device)
    assert (response.json()["stored"], response.json()["quarantined"]) == (0, 1)
    assert plate_search(client, city, "MW818WM") == []
    admin = bearer(city.tokens["admin"])
    assert client.get("/api/v1/cameras/quarantine", headers=device).status_code == 403
    pending = client.get("/api/v1/cameras/quarantine", headers=admin).json()
    assert [(p["vendor_camera"], p["reads"], p["sources"]) for p in pending] == [("SN-999", 1, ["survision"])]
    released = client.post("/api/v1/cameras/quarantine/SN-999/map", json={"camera": "SN-7"}, headers=admin)
    assert released.status_code == 200, released.text
    assert (released.json()["released"], released.json()["stored"]) == (1, 1)
    (read,) = plate_search(client, city, "MW818WM")
    assert (read["camera"], read["ts"]) == ("SN-7", "2024-10-17T23:04:50.098Z")
    missing = client.post("/api/v1/cameras/quarantine/SN-1000/approve", json={"lat": 91}, headers=admin)
    assert missing.status_code == 422
    assert missing.json()["field"] == "lat"


def test_a_vendor_camera_id_with_a_slash_is_approved_and_configured_over_http(
    client: TestClient, platform: Platform, city: AgencyKit
) -> None:
    """Hikvision camera ids are ``mac/channel``: the id is one path parameter of the camera routes."""
    vendor_id = "d4:e8:53:bc:4c:02/1"
    device = bearer(city.tokens["device"])
    held = client.post(f"/api/v1/ingest/survision?camera={vendor_id}", content=sample(SURVISION), headers=device)
    assert held.json()["quarantined"] == 1
    admin = bearer(city.tokens["admin"])
    approved = client.post(
        f"/api/v1/cameras/quarantine/{vendor_id}/approve", json={"lat": 37.5, "lon": -122.2}, headers=admin
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["stored"] == 1
    (read,) = plate_search(client, city, "MW818WM")
    assert read["camera"] == vendor_id
    configured = client.patch(f"/api/v1/cameras/{vendor_id}", json={"silent_after_s": 600}, headers=admin)
    assert configured.status_code == 204, configured.text


def test_openalpr_frames_are_reads_only_on_the_frames_endpoint(client: TestClient, city: AgencyKit) -> None:
    body = orjson.dumps(results_v2())
    device = {**bearer(city.tokens["device"]), "Content-Type": "application/json"}
    grouped = client.post("/api/v1/ingest/openalpr", content=body, headers=device).json()
    assert (grouped["stored"], grouped["quarantined"]) == (0, 0)
    assert grouped["ignored"]
    frames = client.post("/api/v1/ingest/openalpr_frames", content=body, headers=device).json()
    assert frames["quarantined"] == 2  # two plates in the frame, from a camera the agency has not registered


def test_survision_without_a_camera_is_rejected_with_the_fix(client: TestClient, city: AgencyKit) -> None:
    response = client.post("/api/v1/ingest/survision", content=sample(SURVISION), headers=bearer(city.tokens["device"]))
    assert response.status_code == 200
    (rejection,) = response.json()["rejected"]
    assert rejection["index"] == 0
    assert rejection["reason"].startswith("camera: required")
    assert "?camera=ID" in rejection["reason"]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "detail"),
    [
        ("/api/v1/ingest/genetec", b'{"Plate": ', "application/json", 400, "body is not JSON"),
        ("/api/v1/ingest/genetec", sample(GENETEC), "image/png", 415, "content-type"),
        ("/api/v1/ingest/genetec", b"x" * (600 * 1024), "application/json", 413, "larger than"),
        ("/api/v1/ingest/nosuch", b"{}", "application/json", 404, "no adapter for source"),
        ("/api/v1/ingest/genetec?camera=a%09b", sample(GENETEC), "application/json", 422, "camera:"),
        ("/api/v1/ingest/survision", b'{"anpr": {"@date": "soon"}}', "application/json", 422, "anpr.@date"),
        ("/api/v1/ingest/genetec", b"\xff\xfe", "application/json", 400, "not UTF-8"),
    ],
)
def test_bad_payloads_are_problems_naming_what_is_wrong(
    client: TestClient,
    platform: Platform,
    city: AgencyKit,
    path: str,
    body: bytes,
    content_type: str,
    status: int,
    detail: str,
) -> None:
    headers = {"Authorization": f"Bearer {city.tokens['device']}", "Content-Type": content_type}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    entry = last_audit(platform)
    assert (entry.action, entry.outcome) == ("ingest.refused", "refused")


def test_only_device_tokens_ingest(client: TestClient, platform: Platform, city: AgencyKit) -> None:
    response = client.post("/api/v1/ingest/genetec", content=sample(GENETEC), headers=bearer(city.tokens["admin"]))
    assert response.status_code == 403
    assert last_audit(platform).action == "ingest.refused"
    anonymous = client.post("/api/v1/ingest/genetec", content=sample(GENETEC))
    assert anonymous.status_code == 401


def test_a_full_quarantine_is_a_clear_refusal(client: TestClient, platform: Platform, city: AgencyKit) -> None:
    payload = {k: v for k, v in sample_json(GENETEC).items() if not k.endswith("Image")}
    reads = []
    for i in range(7):
        reads.append({**payload, "SharpName": "UNKNOWN-1", "VehicleID": f"v-{i}", "Plate": f"ABC{i}"})
    response = client.post("/api/v1/ingest/genetec", content=orjson.dumps(reads), headers=bearer(city.tokens["device"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quarantined"] == 5
    assert [r["index"] for r in body["rejected"]] == [5, 6]
    assert "quarantine is full (5 reads)" in body["rejected"][0]["reason"]


def image_url(read: dict[str, object], kind: str = "plate") -> str:
    return f"/api/v1/images/city/{read['read_id']}/{kind}"


CASE = {"purpose": "stolen_vehicle", "case_number": "C-9"}


def test_images_only_through_the_gate_audited_and_gone_with_the_read(
    client: TestClient, platform: Platform, city: AgencyKit
) -> None:
    other = seed_agency(platform, "county", cameras=())
    client.post("/api/v1/ingest/genetec", content=sample(GENETEC), headers=bearer(city.tokens["device"]))
    (read,) = plate_search(client, city, "9HKA742")
    investigator = bearer(city.tokens["investigator"])

    no_case = client.get(image_url(read), params={"purpose": "stolen_vehicle"}, headers=investigator)
    assert no_case.status_code == 422
    assert no_case.json()["field"] == "case_number"
    assert (last_audit(platform).action, last_audit(platform).outcome) == ("search.refused", "refused")

    shown = client.get(image_url(read), params=CASE, headers=investigator)
    assert shown.status_code == 200, shown.text
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.content[:3] == b"\xff\xd8\xff"
    entry = last_audit(platform)
    assert (entry.action, entry.purpose, entry.case_number) == ("image.viewed", "stolen_vehicle", "C-9")
    assert shown.headers["x-audit-seq"] == str(entry.seq)
    overview = client.get(image_url(read, "overview"), params=CASE, headers=investigator)
    assert overview.status_code == 200
    assert len(overview.content) > len(shown.content)

    # Another agency without a sharing agreement gets the same 404 as for an image that does not exist.
    withheld = client.get(image_url(read), params=CASE, headers=bearer(other.tokens["investigator"]))
    missing = client.get(
        "/api/v1/images/city/no-such-read/plate", params=CASE, headers=bearer(other.tokens["investigator"])
    )
    assert (withheld.status_code, missing.status_code) == (404, 404)
    assert withheld.json()["detail"] == missing.json()["detail"]
    assert last_audit(platform).action == "search.refused"
    assert client.get(image_url(read), params=CASE, headers=bearer(city.tokens["device"])).status_code == 403
    assert client.get(image_url(read, "thumbnail"), params=CASE, headers=investigator).status_code == 422

    # Retention deletes the read, then its images' links and the files no other read uses.
    files = [p for p in platform.settings.images_dir.rglob("*") if p.is_file()]
    assert len(files) == 2
    clock = platform.clock
    assert isinstance(clock, FixedClock)
    clock.advance(366 * 86_400_000)
    platform.retention.run(SYSTEM, settle_s=5)  # retention runs for every owner: the console or the scheduler
    assert [p for p in platform.settings.images_dir.rglob("*") if p.is_file()] == []
    with pytest.raises(NotFound):
        platform.images.find(city.agency.id, str(read["read_id"]), "plate")


def test_silent_cameras_in_metrics(client: TestClient, platform: Platform, city: AgencyKit) -> None:
    client.post("/api/v1/ingest/genetec", content=sample(GENETEC), headers=bearer(city.tokens["device"]))
    clock = platform.clock
    assert isinstance(clock, FixedClock)
    metrics = client.get("/metrics", headers=METRICS_AUTH).text
    # Both cameras were registered at the clock's now: silent only after the default hour without anything.
    assert 'plateledger_cameras_silent{agency="city"} 0.0' in metrics
    clock.advance(2 * 3_600_000)
    admin = bearer(city.tokens["admin"])
    health = {h["external_id"]: h for h in client.get("/api/v1/cameras/health", headers=admin).json()}
    assert (health[SHARP]["silent"], health[SHARP]["last_read"]) == (True, "2024-10-24T20:29:26.000Z")
    assert (health["SN-7"]["silent"], health["SN-7"]["last_read"]) == (True, None)
    assert 'plateledger_cameras_silent{agency="city"} 2.0' in client.get("/metrics", headers=METRICS_AUTH).text
    configured = client.patch(
        "/api/v1/cameras/SN-7", json={"silent_after_s": 3 * 3600}, headers=bearer(city.tokens["admin"])
    )
    assert configured.status_code == 204
    assert last_audit(platform).action == "camera.configured"
    assert 'plateledger_cameras_silent{agency="city"} 1.0' in client.get("/metrics", headers=METRICS_AUTH).text
    bad = client.patch("/api/v1/cameras/SN-7", json={"silent_after_s": 5}, headers=bearer(city.tokens["admin"]))
    assert bad.status_code == 422
    assert bad.json()["field"] == "silent_after_s"
