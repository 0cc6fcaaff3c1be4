"""Real equipment ids and real payload text through the CLI and HTTP (issue 17, item 5): camera ids with spaces
and non-ASCII characters, JSON and CSV with a UTF-8 byte-order mark, and Plate Recognizer's Snapshot response
with ``camera_id: null``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.auth.passwords import hash_password
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.settings import Settings
from plateledger.core.text import MAX_CAMERA_ID, UTF8_BOM, camera_id_problem
from plateledger.platform import Platform
from plateledger.store.models import User
from plateledger.store.reads import BatchResult
from tests.integration.test_cameras_cli import cli
from tests.integration.test_ingest_endpoints import bearer
from tests.integration.test_web import BASE, sign_in
from tests.integration.web_kit import PASSWORD
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, CameraSpec, opened, read, search, seed_agency
from tests.unit.adapters_support import sample, sample_json
from tests.unit.openalpr_payloads import group_v2

#: A real mobile unit's id, as its reads carry it.
MOBILE = "BXH9904 SPD2020627MDC"
#: Printable Unicode with markup-like and URL-reserved characters.
ODD = "Kamera Süd [b]/Tor 2 <&> ?#%"
SNAPSHOT = "platerecognizer_snapshot_response_from_docs.json"


def snapshot() -> bytes:
    """Plate Recognizer's documented Snapshot response (camera_id null), taken an hour before the suite's clock
    (the sample's own 2020 time is past the default retention)."""
    payload = sample_json(SNAPSHOT)
    assert payload["camera_id"] is None
    payload["timestamp"] = datetime.fromtimestamp((NOW_MS - HOUR_MS) / 1000, UTC).isoformat()
    return orjson.dumps(payload)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "must not be empty"),
        (" cam", "must not begin or end with whitespace"),
        ("cam ", "must not begin or end with whitespace"),
        ("cam\t1", "U+0009"),
        ("cam\x001", "U+0000"),
        ("cam\u200b1", "U+200B"),  # zero width space: looks like "cam1"
        ("cam\u00a01", "U+00A0"),  # no-break space: looks like "cam 1"
        ("x" * (MAX_CAMERA_ID + 1), f"longer than {MAX_CAMERA_ID} characters"),
    ],
)
def test_camera_id_rules(text: str, rule: str) -> None:
    assert rule in (camera_id_problem(text) or "")


@pytest.mark.parametrize("text", [MOBILE, ODD, "東京-001", "x" * MAX_CAMERA_ID, "7"])
def test_camera_ids_as_equipment_names_them(text: str) -> None:
    assert camera_id_problem(text) is None


def test_cli_cameras_add_ingest_and_search_with_a_spaced_id(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data", str(settings.data)]
    assert runner.invoke(cli_app, ["agencies", "add", "city", "--name", "City PD", "--kind", "municipal",
                                   "--country", "US", "--state", "CA", *data]).exit_code == 0  # fmt: skip
    added = runner.invoke(cli_app, ["cameras", "add", MOBILE, "--agency", "city", "--mobile", *data])
    assert added.exit_code == 0, added.output
    assert MOBILE in added.stdout
    odd = runner.invoke(cli_app, ["cameras", "add", ODD, "--agency", "city", "--lat", "1", "--lon", "2", *data])
    assert odd.exit_code == 0, odd.output
    assert ODD in odd.stdout  # printed as it is, not as rich markup
    refused = runner.invoke(cli_app, ["cameras", "add", "cam\t1", "--agency", "city", "--mobile", *data])
    assert refused.exit_code != 0
    assert "external_id: must be printable: U+0009" in str(refused.exception)  # main() prints it as one line
    listed = cli(settings, "cameras", "list", "--agency", "city")
    assert {c["external_id"] for c in listed} == {MOBILE, ODD}

    reads = tmp_path / "reads.jsonl"
    lines = [read("7ABC123", camera=MOBILE, ts=NOW_MS), read("7ABC124", camera=ODD, ts=NOW_MS)]
    reads.write_bytes(b"\n".join(orjson.dumps(r) for r in lines) + b"\n")
    assert cli(settings, "ingest", str(reads), "--agency", "city")["stored"] == 2


def camera_search(client: TestClient, kit: AgencyKit, plate: str, camera: str) -> list[dict[str, object]]:
    response = client.get(
        "/api/v1/search/plate",
        params={"plate": plate, "purpose": "stolen_vehicle", "case_number": "C-1", "camera": camera},
        headers=bearer(kit.tokens["investigator"]),
    )
    assert response.status_code == 200, response.text
    reads: list[dict[str, object]] = response.json()["reads"]
    return reads


def test_http_snapshot_without_camera_takes_the_url_camera_with_spaces(platform: Platform) -> None:
    kit = seed_agency(platform, "city", cameras=(CameraSpec(MOBILE, None, None, True), CameraSpec(ODD)))
    client = TestClient(create_app(platform=platform))
    device = bearer(kit.tokens["device"])
    # The documented Snapshot response, camera_id null: the camera comes from ?camera= (percent-encoded).
    stored = client.post("/api/v1/ingest/platerecognizer?camera=" + quote(MOBILE), content=snapshot(), headers=device)
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored"] == 1
    assert [r["camera"] for r in camera_search(client, kit, "NHK552", MOBILE)] == [MOBILE]
    assert camera_search(client, kit, "NHK552", ODD) == []
    # Without ?camera= the read names no camera: refused with what to do, never a 422 for the whole body.
    alone = client.post("/api/v1/ingest/platerecognizer", content=snapshot(), headers=device)
    assert alone.status_code == 200, alone.text
    assert alone.json()["rejected"][0]["reason"].startswith("camera: required")
    refused = client.post("/api/v1/ingest/platerecognizer?camera=" + quote(" cam"), content=b"{}", headers=device)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "camera: must not begin or end with whitespace"


def test_http_quarantine_and_camera_routes_take_unicode_ids_in_the_path(platform: Platform) -> None:
    kit = seed_agency(platform, "city", cameras=(CameraSpec(ODD),))
    client = TestClient(create_app(platform=platform))
    vendor = "Einfahrt Süd 1"  # not registered yet: held, then mapped through its percent-encoded URL
    held = client.post(
        "/api/v1/ingest/platerecognizer?camera=" + quote(vendor),
        content=snapshot(),
        headers=bearer(kit.tokens["device"]),
    )
    assert held.json()["quarantined"] == 1, held.text
    admin = bearer(kit.tokens["admin"])
    assert [p["vendor_camera"] for p in client.get("/api/v1/cameras/quarantine", headers=admin).json()] == [vendor]
    mapped = client.post(f"/api/v1/cameras/quarantine/{quote(vendor)}/map", json={"camera": ODD}, headers=admin)
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["stored"] == 1
    silent = client.patch(f"/api/v1/cameras/{quote(ODD, safe='')}", json={"silent_after_s": 600}, headers=admin)
    assert silent.status_code == 204, silent.text
    added = client.post("/api/v1/cameras", json={"external_id": MOBILE, "mobile": True}, headers=admin)
    assert added.status_code == 201, added.text
    bad = client.post("/api/v1/cameras", json={"external_id": "a\nb", "mobile": True}, headers=admin)
    assert (bad.status_code, bad.json()["field"]) == (422, "external_id")


def test_web_cameras_page_escapes_ids(platform: Platform) -> None:
    hostile = "<script>alert(1)</script> cam"
    kit = seed_agency(platform, "city", cameras=(CameraSpec(hostile), CameraSpec(MOBILE)))
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        page = sign_in(client, f"{kit.slug}-admin").get("/ui/admin/cameras").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; cam" in page
    assert "<script>alert(1)" not in page
    assert MOBILE in page


def test_bom_json_accepted_on_every_ingest_path(platform: Platform, settings: Settings, tmp_path: Path) -> None:
    kit = seed_agency(platform, "city", cameras=(CameraSpec("106232737"), CameraSpec(MOBILE, None, None, True)))
    client = TestClient(create_app(platform=platform))
    device = bearer(kit.tokens["device"])
    # OpenALPR agent 2.8 starts its body with a byte-order mark.
    vendor = client.post("/api/v1/ingest/openalpr", content=UTF8_BOM + orjson.dumps(group_v2()), headers=device)
    assert vendor.status_code == 200, vendor.text
    assert (vendor.json()["stored"], vendor.json()["rejected"]) == (1, []), vendor.text
    canonical = client.post(
        "/api/v1/reads", content=UTF8_BOM + orjson.dumps([read("BOM1", camera=MOBILE)]), headers=device
    )
    assert canonical.status_code == 200, canonical.text
    assert canonical.json()["stored"] == 1

    jsonl = tmp_path / "reads.jsonl"
    jsonl.write_bytes(UTF8_BOM + orjson.dumps(read("BOM2", camera=MOBILE)) + b"\n")
    assert platform.ingest.ingest_file(kit.device.actor, kit.agency, jsonl, fmt="jsonl").stored == 1
    csv = tmp_path / "reads.csv"
    csv.write_bytes(UTF8_BOM + f"plate,ts,camera\nBOM3,{NOW_MS - HOUR_MS},{MOBILE}\n".encode())
    result: BatchResult = platform.ingest.ingest_file(kit.device.actor, kit.agency, csv, fmt="csv")
    assert (result.stored, result.rejected) == (1, [])
    assert [r.plate for r in search(platform, kit.investigator, "BOM?").reads] == ["BOM1", "BOM2", "BOM3"]


def test_plates_keep_their_characters_through_cli_and_http(settings: Settings, tmp_path: Path) -> None:
    platform = Platform.open(settings, clock=FixedClock(NOW_MS))
    try:
        kit = seed_agency(platform, "city", cameras=(CameraSpec(MOBILE, None, None, True),))
        client = TestClient(create_app(platform=platform))
        posted = client.post(
            "/api/v1/reads",
            content=orjson.dumps([read("MÜ-AB 12", camera=MOBILE), read("Ж123", camera=MOBILE)]),
            headers=bearer(kit.tokens["device"]),
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["stored"] == 1
        assert [r["reason"] for r in posted.json()["rejected"]] == [
            'plate: "Ж" (U+0416) is not a plate character: plates hold A-Z, 0-9 and Ä Ö Ü (docs/ingest.md)'
        ]
        # The Plate Recognizer sample with a French accent in the plate, as OCR engines send it.
        payload = orjson.loads(snapshot())
        payload["results"][0]["plate"] = "1946éSH"
        vendor = client.post(
            "/api/v1/ingest/platerecognizer?camera=" + quote(MOBILE),
            content=orjson.dumps(payload),
            headers=bearer(kit.tokens["device"]),
        )
        assert vendor.status_code == 200, vendor.text
        assert [r["plate"] for r in camera_search(client, kit, "1946 ésh", MOBILE)] == ["1946ESH"]
        assert [r["plate"] for r in camera_search(client, kit, "mü-a*", MOBILE)] == ["MÜAB12"]
        assert [r["plate"] for r in camera_search(client, kit, "MU-AB 12", MOBILE)] == []  # Ü is not U ...
        fuzzy = search(platform, kit.investigator, "MUAB12", fuzzy=True).reads
        assert [r.plate for r in fuzzy] == ["MÜAB12"]  # ... but a fuzzy match of it
    finally:
        platform.close()

    jsonl = tmp_path / "plates.jsonl"
    lines = [read("1946éSH", camera=MOBILE, read_id="a"), read("STRAßE1", camera=MOBILE, read_id="b")]
    jsonl.write_bytes(b"\n".join(orjson.dumps(r) for r in lines))
    result = CliRunner().invoke(cli_app, ["ingest", str(jsonl), "--agency", "city", "--data", str(settings.data)])
    assert result.exit_code == 1, result.output
    assert 'line 2 rejected: plate: "ß" (U+00DF) is not a plate character' in result.stdout
    assert "stored 1, duplicates 0, rejected 1" in result.stdout


def test_cli_quarantine_unknown_holds_then_map_releases(settings: Settings, tmp_path: Path) -> None:
    with opened(settings, FixedClock(NOW_MS)) as platform:
        seed_agency(platform, "city", cameras=(CameraSpec("gate-1"),))
    reads = tmp_path / "export.jsonl"
    lines = [
        read("7ABC001", camera="gate-1", read_id="r1"),
        read("7ABC002", camera=MOBILE, read_id="r2"),  # not registered yet: held
        read("7ABC003", camera="cam\t9", read_id="r3"),  # not a camera id at all: refused, named
        read("7ABC004", camera=MOBILE, read_id="r4"),
    ]
    reads.write_bytes(b"\n".join(orjson.dumps(r) for r in lines))
    runner = CliRunner()
    plain = runner.invoke(cli_app, ["ingest", str(reads), "--agency", "city", "--data", str(settings.data)])
    assert "line 2 rejected: camera: not a camera registered to this agency" in plain.stdout  # the default
    held = runner.invoke(
        cli_app,
        ["ingest", str(reads), "--agency", "city", "--quarantine-unknown", "--json", "--data", str(settings.data)],
    )
    assert held.exit_code == 1, held.output  # one read refused
    summary = orjson.loads(held.stdout)
    assert (summary["stored"], summary["duplicates"], summary["quarantined"]) == (0, 1, 2)
    reason = "camera: must be printable: U+0009 is a control, format or separator character"
    assert summary["files"][0]["rejected"] == [{"index": 2, "reason": reason}]
    pending = cli(settings, "cameras", "quarantine", "--agency", "city")
    assert [(p["vendor_camera"], p["reads"]) for p in pending] == [(MOBILE, 2)]
    released = cli(settings, "cameras", "approve", MOBILE, "--agency", "city", "--mobile")
    assert released["stored"] == 2


def test_http_quarantine_unknown_and_retention_warning(platform: Platform) -> None:
    kit = seed_agency(platform, "city", cameras=(CameraSpec("gate-1"),))
    client = TestClient(create_app(platform=platform))
    device = bearer(kit.tokens["device"])
    old = NOW_MS - 400 * DAY_MS  # past the default retention of 365 days
    body = orjson.dumps([read("7ABC001", camera="gate-1", ts=old), read("7ABC002", camera=MOBILE)])
    rejected = client.post("/api/v1/reads", content=body, headers=device).json()
    assert (rejected["stored"], rejected["quarantined"], rejected["rejected_count"]) == (1, 0, 1)
    assert rejected["warnings"] == [
        {
            "code": "older_than_retention",
            "count": 1,
            "detail": "1 read(s) are older than the owner's retention of 365 days: the next retention run "
            "deletes them (unless an alert or case holds them)",
        }
    ]
    # A vendor endpoint warns alike: the Plate Recognizer sample as documented was read in 2020.
    vendor = client.post("/api/v1/ingest/platerecognizer?camera=gate-1", content=sample(SNAPSHOT), headers=device)
    assert (vendor.json()["stored"], len(vendor.json()["warnings"])) == (1, 1), vendor.text
    assert vendor.json()["warnings"][0].startswith("1 read(s) are older than the owner's retention of 365 days")
    held = client.post("/api/v1/reads?quarantine_unknown=true", content=body, headers=device).json()
    assert (held["stored"], held["duplicates"], held["quarantined"], held["rejected"]) == (0, 1, 1, [])
    pending = platform.quarantine.pending(kit.admin.actor, "city")
    assert [(p.vendor_camera, p.reads) for p in pending] == [(MOBILE, 1)]
    mapped = client.post(
        f"/api/v1/cameras/quarantine/{quote(MOBILE)}/map",
        json={"camera": "gate-1"},
        headers=bearer(kit.tokens["admin"]),
    )
    assert mapped.json()["stored"] == 1, mapped.text


def test_cli_warns_of_reads_older_than_retention(settings: Settings, tmp_path: Path) -> None:
    with opened(settings, FixedClock(NOW_MS)) as platform:
        seed_agency(platform, "city", cameras=(CameraSpec("gate-1"),))
    reads = tmp_path / "history.csv"
    now = int(time.time() * 1000)  # the CLI runs on the system clock
    reads.write_text(f"plate,ts,camera\n7OLD001,{now - 400 * DAY_MS},gate-1\n7NEW001,{now - HOUR_MS},gate-1\n")
    args = ["ingest", str(reads), "--agency", "city", "--format", "csv", "--data", str(settings.data)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "stored 2, duplicates 0, rejected 0" in result.stdout
    assert "warning: 1 read(s) are older than the owner's retention of 365 days" in result.stderr
    summary = cli(settings, *args[:-2])
    assert [(w["code"], w["count"]) for w in summary["warnings"]] == []  # duplicates now: nothing stored anew
