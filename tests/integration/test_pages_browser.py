"""Issue 20's page fixes in a real browser (headless Chromium, as in test_web_browser.py): area search feedback
before submitting (the owners' radius limits, the limit drawn on the map, a warning for a larger area, a map that
opens where the allowed radius is visible) and the searched area on the result map; times written by the page's
scripts (a live alert's card) in the user's zone."""

from __future__ import annotations

from pathlib import Path

from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list, serving
from tests.integration.test_web_browser import Session, browser, pytestmark, shots
from tests.integration.web_kit import WebNetwork, submit, web_network
from tests.support import NOW_MS, ingest, read

__all__ = ["browser", "pytestmark", "shots"]  # the fixtures and markers of the browser tests


def inside(inner: dict[str, float] | None, outer: dict[str, float] | None) -> bool:
    assert inner is not None
    assert outer is not None
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def test_area_search_shows_its_limit_before_submitting_and_the_searched_area_after(
    platform: Platform, browser: object, shots: Path
) -> None:
    net: WebNetwork = web_network(platform)
    hot_list(platform, net.palm, "Stolen", "7HOT999")
    platform.registry.set_time_zone(net.palm.investigator, "palm-pd-investigator", "America/Chicago")
    with serving(platform) as base:
        me = Session(browser, base)
        me.sign_in(net.user(net.palm, "investigator"))
        page = me.page
        me.go("/ui/search")
        page.get_by_role("radio", name="Area").check()
        pick = page.locator("#pick-map")
        pick.locator("path.camera").first.wait_for()
        limits = page.locator("#area-limits").inner_text()
        assert "Palm Police up to 1,000 m and 24 h" in limits  # the default policy's limits, the only owner
        # A centre clicked on the map: the circle and the owner's limit around it, all of it in view.
        pick.click()
        assert page.locator("#lat").input_value() != ""
        limit = pick.locator("path.limit")
        limit.wait_for()
        assert inside(limit.bounding_box(), pick.bounding_box())
        assert "within every owner's limit" in page.locator("#area-warning").inner_text()
        pick.scroll_into_view_if_needed()
        page.screenshot(path=shots / "search-area-limit.png")
        # Typed larger than the limit: a warning before anything is sent.
        page.fill("#radius_m", "1500")
        warning = page.locator("#area-warning")
        assert "1,500 m from its centre: more than any owner allows (at most 1,000 m)" in warning.inner_text()
        assert "over" in (warning.get_attribute("class") or "")
        # The gate still decides: sent anyway, the owner withholds its reads with its rule.
        page.fill("#since", "2025-06-01T01:00")  # Chicago: 06:00 UTC
        page.fill("#until", "2025-06-01T07:00")
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", "C-2025-0050")
        submit(page)
        assert "limits area searches to 1000 m" in page.locator("#withheld").inner_text()
        # Within the limit: answered, and the result map draws the area searched.
        page.get_by_role("radio", name="Area").check()
        page.fill("#radius_m", "900")
        assert "within every owner's limit" in page.locator("#area-warning").inner_text()
        submit(page)
        page.locator("#obtained-under").wait_for()
        searched = page.locator("#results-map path.searched")
        searched.wait_for()
        assert inside(searched.bounding_box(), page.locator("#results-map").bounding_box())
        page.locator("#results-map").scroll_into_view_if_needed()
        page.screenshot(path=shots / "search-area-searched.png")
        table_times = page.locator("#reads-table tbody td:nth-child(2)").all_inner_texts()  # after the image column
        assert table_times
        assert all(t.endswith(" CDT") for t in table_times)
        # A live alert's card, written by the page's script, shows its times in the user's zone too.
        me.go("/ui/alerts")
        page.locator("#live-status[data-state=open]").wait_for()
        ingest(platform, net.palm, [read("7HOT999", camera="palm-1", ts=NOW_MS - 60_000)])
        card = page.locator("article.alert-card", has_text="7HOT999")
        card.wait_for()
        read_time = card.locator('[data-f="read.ts"]').inner_text()
        assert read_time == "2025-06-01 06:59:00 CDT"
        assert card.locator('[data-f="created"]').inner_text().endswith(" CDT")
        assert me.close() == []
