"""The UI's layout in a real browser (headless Chromium, as in test_web_browser.py): every page fits a 390 px
phone without sideways scrolling of the document (a wide table scrolls inside its own box), and the access log
is readable on a 1366 px laptop."""

from __future__ import annotations

import math
import re

from plateledger.platform import Platform
from plateledger.search.area import AreaSearch
from tests.integration.alert_kit import serving
from tests.integration.test_a11y_browser import tour
from tests.integration.test_web_browser import Session, browser, pytestmark
from tests.integration.web_kit import DESKTOP, PHONE, PLATE, UiPage, every_page_network, web_network
from tests.support import HOUR_MS, NOW_MS, search

__all__ = ["browser", "pytestmark"]  # the fixture and markers of the browser tests

#: The tallest row the access log may have at 1366 px: a few lines of text, its query folded away.
MAX_ACCESS_ROW_PX = 120
#: A polygon of 40 corners around Palm's cameras: a query as long as a real area search's.
POLYGON = ";".join(
    f"{37.774 + 0.02 * math.sin(i * math.pi / 20):.5f},{-122.414 + 0.02 * math.cos(i * math.pi / 20):.5f}"
    for i in range(40)
)


def overflow(session: Session) -> int:
    """How many pixels the document is wider than the viewport (0: no sideways scrolling)."""
    width: int = session.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def test_no_page_overflows_a_phone(platform: Platform, browser: object) -> None:
    """Every page of ``web_kit.UI_PAGES`` (the accessibility test's list), as each of its visitors."""
    net = every_page_network(platform)
    wide: dict[str, int] = {}

    def check(ui: UiPage, session: Session) -> None:
        if extra := overflow(session):
            wide[f"{ui.name} ({session.page.url})"] = extra

    with serving(platform) as base:
        tour(browser, base, net, PHONE, check)
    assert wide == {}, f"pages wider than a 390 px phone (px too wide): {wide}"


def test_access_log_is_readable_on_a_laptop(platform: Platform, browser: object) -> None:
    net = web_network(platform)
    search(platform, net.palm.investigator, PLATE, case_number="C-2025-0042")
    platform.areas.search(
        net.palm.investigator,
        AreaSearch(
            purpose="stolen_vehicle",
            case_number="C-2025-0043",
            polygon=POLYGON,
            since=NOW_MS - 48 * HOUR_MS,
            until=NOW_MS,
            note="a long note " * 10,
        ),
    )
    with serving(platform) as base:
        palm = Session(browser, base, **DESKTOP)
        palm.sign_in(net.user(net.palm, "admin"))
        palm.go("/ui/access-log")
        page = palm.page
        assert overflow(palm) == 0
        rows = page.locator("#access-table tbody tr")
        assert rows.count() >= 2
        for row in rows.all():
            box = row.bounding_box()
            assert box is not None
            assert box["height"] <= MAX_ACCESS_ROW_PX, (row.inner_text(), box)
            outcome = row.locator("td.outcome").bounding_box()
            assert outcome is not None
            assert outcome["x"] + outcome["width"] <= DESKTOP["width"], outcome  # visible without scrolling
        # The query's parameters are folded away, one click from view.
        area = page.locator("#access-table tbody tr", has_text="C-2025-0043")
        details = area.locator("details.query")
        assert not details.evaluate("d => d.open")
        details.locator("summary").click()
        assert re.search(r"polygon=37\.7\d+,-122\.", details.inner_text())
        assert palm.close() == []
