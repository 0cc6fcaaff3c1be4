"""A vehicle description search in a real browser (issue 20, item 2): "red Toyota" in an area over 24 hours
returns only the reads of owners that permit it, with their vehicle columns, and names the owners that withheld
theirs. Uses the browser session of test_web_browser.py (same Chromium, same console-error rule)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from plateledger.platform import Platform
from tests.integration.alert_kit import serving
from tests.integration.test_web_browser import Session, browser, last_action, shots  # noqa: F401 (fixtures)
from tests.integration.web_kit import DESCRIPTION_AREA, description_network, submit, web_network

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_red_toyota_in_an_area_over_a_day(platform: Platform, browser: object, shots: Path) -> None:  # noqa: F811
    net = web_network(platform)
    description_network(platform, net)
    lat, lon, radius = DESCRIPTION_AREA
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.sign_in(net.user(net.palm, "investigator"))
        me.go("/ui/search")
        page.get_by_role("radio", name="Vehicle description").check()
        assert page.locator("#plate").is_hidden()
        assert page.locator("#cameras").is_visible()
        page.fill("#make", "toyota")
        page.fill("#color", "RED")
        page.fill("#lat", str(lat))
        page.fill("#lon", str(lon))
        page.fill("#radius_m", str(radius))
        page.fill("#since", "2025-05-31T12:00")
        page.fill("#until", "2025-06-01T12:00")
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", "C-2025-0077")
        submit(page)

        assert "case C-2025-0077" in page.locator("#obtained-under").inner_text()
        assert last_action(platform) == "search.description"
        rows = page.locator("#reads-table tbody tr")
        assert rows.count() == 2
        plates = sorted(rows.nth(i).locator("td").nth(2).inner_text() for i in range(2))  # after Image and Time
        assert plates == ["7RED001", "8RED003"]
        header = page.locator("#reads-table thead").inner_text()
        for column in ("Make", "Model", "Colour", "Type"):
            assert column in header
        cells = rows.first.locator("td").all_inner_texts()
        assert cells[-4:] == ["Toyota", "Corolla", "Red", "sedan"]
        withheld = page.locator("#withheld").inner_text()
        assert "Far State Patrol" in withheld
        assert "does not grant vehicle searches" in withheld
        assert "Harbor Police" not in withheld
        # Its export is the same answer: the search run again (audited), Far State Patrol's read in no file.
        with page.expect_download() as download:
            page.locator("form.export").get_by_role("button", name="GeoJSON").click()
        geo = orjson.loads(Path(download.value.path()).read_bytes())
        assert sorted(f["properties"]["plate"] for f in geo["features"]) == ["7RED001", "8RED003"]
        assert last_action(platform) == "search.exported"
        page.screenshot(path=shots / "search-description.png", full_page=True)

        # The form keeps the description mode and its filters for the next search.
        assert page.get_by_role("radio", name="Vehicle description").is_checked()
        assert page.locator("#make").input_value() == "toyota"
        assert me.close() == []
