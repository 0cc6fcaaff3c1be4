"""Issue 20, item 1, in a real browser (headless Chromium, as in test_web_browser.py): a live alert of a read sent
with its image over HTTP shows the plate crop (a thumbnail, linking to the full crop) as it arrives, with no reload
and no refused fetch (the latency is printed; the target, BRIEF.md's alert p99 <= 250 ms from HTTP ingest to the
live stream, is checked by benchmarks/alert_latency.py, not by a timed test), and the thumbnails of a search's
results open the full image in the read detail, both views decided by the owner's policy and listed in the owner's
access log."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list, serving
from tests.integration.test_web_browser import Session, browser, last_action, pytestmark, shots
from tests.integration.web_kit import (
    PLATE,
    WebNetwork,
    genetec_read,
    plate_crop,
    sample_image,
    share_plates,
    submit,
    web_network,
)
from tests.support import HOUR_MS, NOW_MS, ingest, read

__all__ = ["browser", "pytestmark", "shots"]  # the fixtures and markers of the browser tests

#: BRIEF.md's performance target: alert from HTTP ingest to the live stream, p99.
#: The bound held here: the crop arrives with its alert (a page that fetched before the image was stored would
#: never show it without a reload). Not a performance target: timed tests would fail on a busy machine.
CROP_WITHIN_MS = 5_000
#: In the page: the time (Date.now(), the same system clock as the test's) a plate crop image was first shown
#: decoded in an alert card.
WATCH_CROP = """() => {
  window.cropShownAt = undefined;
  const seen = (img) => img.decode().then(() => { window.cropShownAt ??= Date.now(); }, () => {});
  const watch = new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((node) => {
    if (node.nodeType !== 1) return;
    const found = node.matches("figure.crop img") ? [node] : Array.from(node.querySelectorAll("figure.crop img"));
    if (found.length) { watch.disconnect(); found.forEach(seen); }
  })));
  watch.observe(document.getElementById("alerts"), { childList: true, subtree: true });
}"""
#: Palm's reads of PLATE with a plate crop in the results test: more than a table page (25 rows).
CROPPED = 30
#: In the page: the read detail shows two images, both loaded (the plate crop and the overview).
BOTH_SHOWN = (
    "() => Array.from(document.querySelectorAll('#read-detail figure img')).filter(i => i.naturalWidth).length == 2"
)
#: Alerts sent one after another.
ALERTS = 5


def test_a_live_alert_shows_its_crop_within_the_alert_latency_target(platform: Platform, browser: object) -> None:
    net: WebNetwork = web_network(platform)
    plates = [f"7LAT00{n}" for n in range(ALERTS)]
    for plate in plates:
        hot_list(platform, net.palm, f"Stolen {plate}", plate)
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.sign_in(net.user(net.palm, "investigator"))
        me.go("/ui/alerts")
        page.locator("#live-status[data-state=open]").wait_for()
        latencies = []
        for n, plate in enumerate(plates):
            page.evaluate(WATCH_CROP)
            body = genetec_read(plate, "palm-1", NOW_MS - 60_000 + n, f"lat-{n}")
            sent = urllib.request.Request(
                f"{base}/api/v1/ingest/genetec",
                data=body,
                headers={"Authorization": f"Bearer {net.palm.tokens['device']}", "Content-Type": "application/json"},
            )
            started_ms = time.time() * 1000
            with urllib.request.urlopen(sent, timeout=10) as answer:
                assert answer.status == 200
            answered_ms = time.time() * 1000
            card = page.locator("article.alert-card", has_text=plate)
            page.wait_for_function("() => window.cropShownAt !== undefined")
            shown_ms = page.evaluate("() => window.cropShownAt")
            latencies.append((shown_ms - started_ms, answered_ms - started_ms))
            crop = card.locator("figure.crop img")
            assert crop.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 240")
            link = card.locator("figure.crop a").get_attribute("href")
            assert link == f"/ui/alerts/{card.get_attribute('data-alert-id')}/crop"  # the full crop
            assert last_action(platform) == "image.viewed"
        # Printed: from the start of the POST, as benchmarks/alert_latency.py measures, and from the ingest's answer
        # (the read and its images stored, the alert raised and published) to the crop shown.
        print("POST start -> crop shown / -> POST answered, ms:", [(round(a), round(b)) for a, b in latencies])
        assert max(a - b for a, b in latencies) <= CROP_WITHIN_MS
        assert me.close() == []


def test_result_thumbnails_open_the_full_image_and_both_views_are_in_the_owners_access_log(
    platform: Platform, browser: object, shots: Path
) -> None:
    net: WebNetwork = web_network(platform)  # Palm holds three reads of PLATE without images
    share_plates(platform, net.palm, net.harbor)
    times = [NOW_MS - HOUR_MS // 2 - n * 60_000 for n in range(CROPPED)]
    ingest(platform, net.palm, [read(PLATE, camera="palm-2", ts=t, read_id=f"img-{n}") for n, t in enumerate(times)])
    for n, t in enumerate(times):
        platform.images.put(net.palm.agency.id, f"img-{n}", PLATE, t, plate_crop())
        platform.images.put(net.palm.agency.id, f"img-{n}", PLATE, t, sample_image("overview"))
    with serving(platform) as base:
        harbor = Session(browser, base)
        page = harbor.page
        harbor.sign_in(net.user(net.harbor, "investigator"))
        page.fill("#plate", PLATE)
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", "HB-THUMB")
        mark = platform.audit.verify().entries
        submit(page)
        assert page.locator("#reads-table tbody tr").count() == CROPPED + 3
        assert page.locator("#reads-table td.thumb img[loading=lazy]").count() == CROPPED  # only reads with a crop
        assert page.locator("#reads-table td.thumb button", has_text="Details").count() == 3  # the others
        thumb = page.locator("#reads-table tbody tr:not([hidden]) td.thumb img").first
        thumb.scroll_into_view_if_needed()
        page.wait_for_function(
            "() => document.querySelector('#reads-table tbody tr:not([hidden]) td.thumb img').naturalWidth > 0"
        )
        page.screenshot(path=shots / "search-thumbnails.png", full_page=True)
        # Lazy: thumbnails are fetched (and audited, one entry each) as they come into view, never those of the
        # table's other pages.
        thumbs_seen = [e for e in platform.audit.entries(after_seq=mark, limit=1000) if '"size":"thumb"' in e.params]
        print(f"{len(thumbs_seen)} of {CROPPED} thumbnails fetched (and audited) once the first was in view")
        assert 1 <= len(thumbs_seen) <= 25
        assert {e.action for e in thumbs_seen} == {"image.viewed"}

        thumb.click()
        detail = page.locator("#read-detail[open]")
        detail.wait_for()
        page.wait_for_function(BOTH_SHOWN)
        crop, scene = detail.locator("figure.plate img"), detail.locator("figure.overview img")
        assert crop.evaluate("img => img.naturalWidth") >= thumb.evaluate("img => img.naturalWidth")
        assert scene.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1920, 1088]  # the full image
        assert scene.get_attribute("alt").startswith(f"Overview image of {PLATE} at palm-2, ")
        facts = detail.locator("#read-detail-fields").inner_text()
        assert "palm-2" in facts
        assert PLATE in facts
        assert "Palm Police" in facts
        assert "case HB-THUMB" in detail.locator("figure.plate figcaption").inner_text()
        page.screenshot(path=shots / "read-detail.png")
        detail.get_by_role("button", name="Close").click()
        assert page.locator("#read-detail[open]").count() == 0
        assert last_action(platform) == "image.viewed"
        harbor.settle()  # the full-page screenshot set lazy thumbnails loading: count them all, not some
        harbor_errors = harbor.close()

        # Every view (the thumbnails and the full image) is in Palm's access log, as Harbor's, under the case.
        viewed = [e for e in platform.audit.entries(after_seq=mark, limit=1000) if e.action == "image.viewed"]
        assert ['"size":"thumb"' in e.params for e in viewed].count(False) == 2  # the full crop and overview
        palm = Session(browser, base)
        palm.sign_in(net.user(net.palm, "auditor"))
        palm.go("/ui/access-log")
        rows = palm.page.locator("#access-table tbody tr", has_text="HB-THUMB")
        kinds = sorted(rows.nth(i).locator("td").nth(6).inner_text() for i in range(rows.count()))
        assert kinds.count("image") == len(viewed)
        assert all("Harbor Police" in rows.nth(i).inner_text() for i in range(rows.count()))
        assert harbor_errors == []
        assert palm.close() == []
