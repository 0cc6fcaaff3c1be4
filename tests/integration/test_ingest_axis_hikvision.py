"""Axis and Hikvision payloads through POST /api/v1/ingest/{source} against real stores: the real samples stored
and searchable with their raw values, Hikvision's multipart pictures stored, its heartbeat recorded, and an XML
bomb refused as problem+json (audited, never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from plateledger.store.models import AuditEntry
from tests.support import AgencyKit, CameraSpec, seed_agency
from tests.unit.adapters_support import multipart, sample

#: The Axis sample (2021), re-timed a minute before the suite's clock so that a search's lookback reaches it.
AXIS = sample("parkpow_axis-lpr_event.json").replace(b'"1623405938252"', b'"1705999940000"')
HIKVISION = sample("parkpow_hikvision_lpr_anpr.xml")
HIK_CAMERA = "d4:e8:53:bc:4c:02/1"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
#: Later than both samples (2021 and 2024), so neither is in the future.
CLOCK_MS = 1_706_000_000_000


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    opened = Platform.open(load_settings(data=tmp_path / "data"), clock=FixedClock(CLOCK_MS))
    yield opened
    opened.close()


@pytest.fixture
def kit(platform: Platform) -> AgencyKit:
    cameras = (CameraSpec("ACCC8ED3290D", 50.418, 30.476), CameraSpec(HIK_CAMERA, 0.37, 111.0))
    return seed_agency(platform, "city", cameras=cameras)


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def found(client: TestClient, kit: AgencyKit, plate: str) -> list[dict[str, object]]:
    response = client.get(
        "/api/v1/search/plate",
        params={"plate": plate, "purpose": "stolen_vehicle", "case_number": "C-7"},
        headers={"Authorization": f"Bearer {kit.tokens['investigator']}"},
    )
    assert response.status_code == 200, response.text
    reads: list[dict[str, object]] = response.json()["reads"]
    return reads


def test_axis_event_with_header_token(client: TestClient, kit: AgencyKit) -> None:
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "Content-Type": "application/json"}
    response = client.post("/api/v1/ingest/axis", content=AXIS, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["quarantined"]) == (1, 0)
    (read,) = found(client, kit, "RLE11684")
    assert (read["ts"], read["camera"], read["confidence"], read["source_ts"], read["lat"], read["lon"]) == (
        "2024-01-23T08:52:20.000Z",
        "ACCC8ED3290D",
        0.719034,
        "1705999940000",
        50.418114,
        30.476213,
    )


def test_hikvision_multipart_with_url_token(client: TestClient, platform: Platform, kit: AgencyKit) -> None:
    body = multipart(
        [
            ("anpr.xml", "anpr.xml", "application/xml", HIKVISION),
            ("licensePlatePicture.jpg", "licensePlatePicture.jpg", "image/jpeg", JPEG),
            ("detectionPicture.jpg", "detectionPicture.jpg", "image/jpeg", JPEG + b"scene"),
        ]
    )
    response = client.post(
        f"/api/v1/ingest/hikvision/{kit.tokens['device']}",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=plateledger-test"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["images"]) == (1, 2)
    (read,) = found(client, kit, "PECT600")
    assert (read["ts"], read["camera"], read["confidence"], read["source_ts"], read["vehicle"]) == (
        "2024-01-19T03:17:19.000Z",
        HIK_CAMERA,
        0.97,
        "2024-01-19T11:17:19+08:00",
        {"color": "white"},
    )
    # re-sent (Hikvision retransmits with isDataRetransmission): its UUID read id stores it once
    again = client.post(
        f"/api/v1/ingest/hikvision/{kit.tokens['device']}",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=plateledger-test"},
    )
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)


def test_hikvision_heartbeat_and_xml_bomb(client: TestClient, platform: Platform, kit: AgencyKit) -> None:
    headers = {"Authorization": f"Bearer {kit.tokens['device']}", "Content-Type": "application/xml"}
    heartbeat = HIKVISION.replace(b"<eventType>ANPR</eventType>", b"<eventType>videoloss</eventType>").replace(
        b"<eventState>active</eventState>", b"<eventState>inactive</eventState>"
    )
    response = client.post("/api/v1/ingest/hikvision", content=heartbeat, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["heartbeats"]) == (0, 1)

    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><EventNotificationAlert>&c;</EventNotificationAlert>'
    )
    response = client.post("/api/v1/ingest/hikvision", content=bomb, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "DTDs and entities are not accepted" in response.json()["detail"]
    with platform.governance.session() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert last.action == "ingest.refused"
