"""Partial plates in a real browser (headless Chromium, as in test_web_browser.py): a partial plate typed without
``*`` offers the "contains" search, which runs as a new audited search; a wildcard answer is grouped by distinct
plate with counts and first/last seen, each group expandable to its reads."""

from __future__ import annotations

import json

from plateledger.platform import Platform
from tests.integration.alert_kit import serving
from tests.integration.test_web_browser import Session, browser, last_action, pytestmark
from tests.integration.web_kit import WebNetwork, web_network
from tests.support import HOUR_MS, NOW_MS, ingest, read

__all__ = ["browser", "pytestmark"]  # the fixture and markers of the browser tests

#: Two more plates that contain "WEB1" (web_network's plate 7WEB123 is the third), seen at Palm's cameras.
OTHERS = {"8WEB100": 2, "WEB1777": 1}


def _search(me: Session, plate: str) -> None:
    me.go("/ui/search")
    me.page.fill("#plate", plate)
    me.page.select_option("#purpose", "stolen_vehicle")
    me.page.fill("#case_number", "C-2026-0099")
    me.submit()
    me.page.wait_for_selector("#results-title, #search-error")


def test_a_partial_plate_offers_contains_and_wildcards_are_grouped(platform: Platform, browser: object) -> None:
    net: WebNetwork = web_network(platform)
    ingest(
        platform,
        net.palm,
        [
            read(plate, camera=f"palm-{n}", ts=NOW_MS - (n + 1) * HOUR_MS)
            for plate, count in OTHERS.items()
            for n in range(count)
        ],
    )
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.sign_in(net.user(net.palm, "investigator"))

        # "WEB1" as a whole plate finds nothing; the answer offers a contains search instead of a bare "0 reads".
        _search(me, "WEB1")
        assert page.locator("#reads-table tbody tr").count() == 0
        assert last_action(platform) == "search.plate"
        offer = page.locator("#contains-hint")
        assert "Search plates containing WEB1" in offer.inner_text()
        offer.get_by_role("button").click()
        page.wait_for_selector("#groups-table")
        assert last_action(platform) == "search.plate"
        entry = platform.audit.entries(after_seq=0, limit=100_000)[-1]
        assert json.loads(entry.params)["query"]["match"] == "contains"

        # Grouped by distinct plate: counts, and each group expands to its own reads.
        groups = {
            row.locator("td").nth(0).inner_text(): int(row.locator("td").nth(1).inner_text())
            for row in page.locator("#groups-table > tbody.group > tr:first-child").all()
        }
        assert groups == {"7WEB123": 3, **OTHERS}
        assert "3 distinct plates" in page.locator("#groups-cover").inner_text()
        group = page.locator("#groups-table > tbody.group", has_text="8WEB100")
        details = group.locator("details")
        assert not details.get_attribute("open")
        details.locator("summary").click()
        assert group.locator("table.group-reads tbody tr").count() == 2
        assert group.locator("table.group-reads tbody tr").first.is_visible()

        # A wildcard answer is grouped the same way.
        _search(me, "*WEB1*")
        wildcard = {
            row.locator("td").nth(0).inner_text()
            for row in page.locator("#groups-table > tbody.group > tr:first-child").all()
        }
        assert wildcard == {"7WEB123", *OTHERS}
        assert me.close() == []
