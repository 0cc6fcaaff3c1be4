"""The UI's layout in a real browser (headless Chromium, as in test_web_browser.py): every page fits a 390 px
phone without sideways scrolling of the document (a wide table scrolls inside its own box), and the access log
is readable on a 1366 px laptop."""

from __future__ import annotations

import importlib
import math
import pkgutil
import re

from fastapi.routing import APIRoute

from plateledger.platform import Platform
from plateledger.search.area import AreaSearch
from plateledger.web import routes as web_routes
from tests.integration.alert_kit import hot_list, serving
from tests.integration.test_web_browser import Session, browser, pytestmark
from tests.integration.web_kit import PLATE, WebNetwork, web_network
from tests.support import HOUR_MS, NOW_MS, search

__all__ = ["browser", "pytestmark"]  # the fixture and markers of the browser tests

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
#: GET routes under the UI that are not pages, or that these tests do not reach, and why.
NOT_PAGES = {
    "/": "a redirect to /ui/",
    "/ui/": "a redirect to the first page of the menu",
    "/ui/alerts/stream": "the alerts' event stream",
    "/ui/alerts/{alert_id}/crop": "an image",
    "/ui/images/{owner}/{read_id}/{kind}": "an image (test_images_browser.py)",
    "/ui/admin/subject-requests/letter.css": "the letter's stylesheet",
    "/ui/admin/subject-requests/{request_id}/letter": "needs a verified request (test_subject_browser.py)",
    "/ui/oversight/flags/{flag_id}": "needs oversight flags (the oversight browser test)",
}
#: Each role's pages (a page another role cannot open is visited by the role that can), then the public's.
SIGNED = ("investigator", "admin", "auditor")
#: The tallest row the access log may have at 1366 px: a few lines of text, its query folded away.
MAX_ACCESS_ROW_PX = 120
#: A polygon of 40 corners around Palm's cameras: a query as long as a real area search's.
POLYGON = ";".join(
    f"{37.774 + 0.02 * math.sin(i * math.pi / 20):.5f},{-122.414 + 0.02 * math.cos(i * math.pi / 20):.5f}"
    for i in range(40)
)


def ui_pages() -> set[str]:
    """Every GET route of the UI's route modules, with the public transparency report (served by the API)."""
    paths = {"/transparency/{agency}"}
    for info in pkgutil.iter_modules(web_routes.__path__):
        router = importlib.import_module(f"{web_routes.__name__}.{info.name}").router
        paths |= {r.path for r in router.routes if isinstance(r, APIRoute) and "GET" in r.methods}
    return paths


def overflow(session: Session) -> int:
    """How many pixels the document is wider than the viewport (0: no sideways scrolling)."""
    width: int = session.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def test_no_page_overflows_a_phone(platform: Platform, browser: object) -> None:
    net: WebNetwork = web_network(platform)
    hot_list(platform, net.palm, "Stolen vehicles with a long name for a narrow screen", "7HOT999")
    search(platform, net.palm.investigator, PLATE, case_number="C-2025-0042")
    pages = ui_pages()
    assert set(NOT_PAGES) <= pages, set(NOT_PAGES) - pages  # the exclusions name real routes
    visited: set[str] = set()
    wide: dict[str, int] = {}
    with serving(platform) as base:

        def visit(session: Session, route: str, path: str) -> None:
            response = session.page.goto(base + path)
            assert response is not None
            if response.status == 403:  # not this role's page: another one visits it
                return
            assert response.status == 200, (path, response.status)
            visited.add(route)
            if extra := overflow(session):
                wide[path] = extra

        public = Session(browser, base, **PHONE)
        for route in ("/ui/sign-in", "/ui/public", "/ui/subject-request"):
            visit(public, route, route)
        visit(public, "/transparency/{agency}", "/transparency/palm-pd")
        public.go("/ui/no-such-page")  # the error page
        assert overflow(public) == 0
        public.go("/ui/subject-request")  # a request an admin's queue then holds
        for name, value in (("plate", PLATE), ("country", "US"), ("state", "CA"), ("name", "Ann Keeper")):
            public.page.fill(f"#{name}", value)
        public.page.fill("#email", "ann@example.org")
        public.page.fill("#postal_address", "1 Main St")
        public.page.get_by_role("button", name="Send my request").click()
        public.page.wait_for_selector("#subject-received")
        assert overflow(public) == 0
        for role in SIGNED:
            me = Session(browser, base, **PHONE)
            me.sign_in(net.user(net.palm, role))
            for route in sorted(pages - set(NOT_PAGES)):
                if "{" not in route:
                    visit(me, route, route)
            if role == "investigator":
                me.go("/ui/hotlists")
                href = me.page.locator("a[href^='/ui/hotlists/']").first.get_attribute("href")
                assert href is not None
                visit(me, "/ui/hotlists/{list_id}", href)
            if role == "admin":
                me.go("/ui/admin/subject-requests")
                href = me.page.locator("a[href^='/ui/admin/subject-requests/']").first.get_attribute("href")
                assert href is not None
                visit(me, "/ui/admin/subject-requests/{request_id}", href)
            assert me.close() == []
        assert [e for e in public.close() if "status of 404" not in e] == []  # the error page's own status
    unvisited = pages - set(NOT_PAGES) - visited
    assert unvisited == set(), unvisited
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
        palm = Session(browser, base, **LAPTOP)
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
            assert outcome["x"] + outcome["width"] <= LAPTOP["width"], outcome  # visible without scrolling
        # The query's parameters are folded away, one click from view.
        area = page.locator("#access-table tbody tr", has_text="C-2025-0043")
        details = area.locator("details.query")
        assert not details.evaluate("d => d.open")
        details.locator("summary").click()
        assert re.search(r"polygon=37\.7\d+,-122\.", details.inner_text())
        assert palm.close() == []
