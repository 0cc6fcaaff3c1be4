"""Case exports in a real browser (headless Chromium, Playwright's download API): from an answer on the search
page, the Export group's GeoJSON, KML and PDF case packet buttons each download the file of that answer (the
search run again, then the download audited). Reuses the browser, session and network of the web UI tests."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
from pypdf import PdfReader

from plateledger.platform import Platform
from tests.integration.alert_kit import serving
from tests.integration.test_web_browser import Session, browser, last_action, pytestmark, shots
from tests.integration.web_kit import PLATE, WebNetwork, submit, web_network

__all__ = ["browser", "pytestmark", "shots"]
CASE = "C-2026-0777"


def test_case_packet_geojson_and_kml_download_from_the_search_page(
    platform: Platform, browser: object, shots: Path
) -> None:
    net: WebNetwork = web_network(platform)
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.sign_in(net.user(net.palm, "investigator"))
        page.fill("#plate", PLATE)
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", CASE)
        submit(page)
        assert page.locator("#reads-table tbody tr").count() == 3
        group = page.get_by_role("group", name="Export")
        group.scroll_into_view_if_needed()
        page.screenshot(path=shots / "search-export.png")

        with page.expect_download() as geo_download:
            group.get_by_role("button", name="GeoJSON").click()
        assert geo_download.value.suggested_filename.endswith(".geojson")
        geo = orjson.loads(Path(geo_download.value.path()).read_bytes())
        assert geo["type"] == "FeatureCollection"
        assert len(geo["features"]) == 3
        assert geo["plateledger"]["case_number"] == CASE
        assert last_action(platform) == "search.exported"

        with page.expect_download() as kml_download:
            group.get_by_role("button", name="KML").click()
        kml = ET.fromstring(Path(kml_download.value.path()).read_bytes())
        assert (
            len(kml.findall("{http://www.opengis.net/kml/2.2}Document/{http://www.opengis.net/kml/2.2}Placemark")) == 3
        )

        with page.expect_download() as pdf_download:
            group.get_by_role("button", name="Case packet (PDF)").click()
        assert pdf_download.value.suggested_filename.endswith(".pdf")
        packet = PdfReader(io.BytesIO(Path(pdf_download.value.path()).read_bytes()))
        text = "\n".join(p.extract_text() for p in packet.pages)
        assert f"Case packet: case {CASE}" in text
        assert "Purpose: stolen_vehicle" in text
        assert "Far State Patrol" in text  # withheld, named; its read is not in the packet
        assert "far-1" not in text
        assert last_action(platform) == "search.exported"
        assert page.locator("#reads-table tbody tr").count() == 3  # a download: the answer stays on the page
        assert me.close() == []
