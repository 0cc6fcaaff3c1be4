"""Accessibility of every page of the UI in a real browser (headless Chromium, as in test_web_browser.py): axe-core
(bundled by the axe-playwright-python package, so it runs offline) checks each page of ``web_kit.UI_PAGES`` at a
laptop's and a phone's size, signed out and signed in as an investigator, an admin and an auditor, with real
content on every page (``web_kit.every_page_network``). A critical or serious violation fails the test, which
prints them all.

Every axe rule runs (axe's default set, WCAG 2.0-2.2 A and AA and best practices); none is excluded.

With ``PLATELEDGER_TEST_SCREENSHOTS`` set (``make screenshots``), the tour also photographs each page: every page
at the phone's size (``phone-<page>.png``, at most ``PHONE_SHOT_HEIGHT`` tall), and at the laptop's size each
page that no flow of the other browser tests photographs (``desktop-<page>.png``). Unset, it takes none.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from plateledger.platform import Platform
from tests.integration.alert_kit import serving
from tests.integration.test_web_browser import KEPT_SHOTS, Session, browser, compact_shots, pytestmark
from tests.integration.web_kit import (
    DESKTOP,
    NOT_PAGES,
    PHONE,
    UI_PAGES,
    UiPage,
    WebNetwork,
    every_page_network,
    reach,
    ui_routes,
)

__all__ = ["browser", "pytestmark"]  # the fixture and markers of the browser tests


#: The impacts that fail the test (axe's others: moderate, minor).
FAILING = ("critical", "serious")
#: Who tours the pages: the public (signed out), then Palm's investigator, admin and auditor.
VISITORS: tuple[str | None, ...] = (None, "investigator", "admin", "auditor")
#: Chromium logs the error page's own status (404) as a console error.
ERROR_PAGE_STATUS = "the server responded with a status of 404"
#: The pages that the flows of the other browser tests photograph at a laptop's size, with their screenshot.
SHOT_ELSEWHERE = {
    "sign-in": "sign-in.png",
    "transparency report": "transparency.png",
    "subject request form": "subject-request.png",
    "search refused": "search-refused.png",
    "search form, area": "search-polygon.png",
    "search form, description": "search-description.png",
    "search answer": "search-results.png",
    "alerts": "alerts-live.png",
    "notification deliveries": "notification-deliveries.png",
    "sharing": "sharing.png",
    "policy": "policy.png",
    "cameras": "cameras.png",
    "access log": "access-log.png",
    "audit": "audit.png",
    "oversight queue": "oversight-queue.png",
    "oversight flag": "oversight-flag.png",
    "subject letter": "subject-letter.png",
}
#: A phone's screenshot shows the page's first three screens at most (a long table goes on below).
PHONE_SHOT_HEIGHT = 3 * PHONE["height"]


def tour(
    browser: object, base: str, net: WebNetwork, viewport: dict[str, int], check: Callable[[UiPage, Session], None]
) -> set[str]:
    """Open every page of ``UI_PAGES`` at ``viewport`` as each of its visitors and ``check`` it; the routes seen."""
    seen: set[str] = set()
    for visitor in VISITORS:
        session = Session(browser, base, **viewport)
        if visitor is not None:
            session.sign_in(net.user(net.palm, visitor))
        for ui in UI_PAGES:
            if (visitor in ui.roles) if visitor else not ui.roles:
                reach(session.page, base, ui)
                check(ui, session)
                seen.add(ui.route)
        assert [e for e in session.close() if ERROR_PAGE_STATUS not in e] == [], visitor
    routes = ui_routes()
    assert set(NOT_PAGES) <= routes, set(NOT_PAGES) - routes  # the exclusions name real routes
    assert routes - set(NOT_PAGES) <= seen, routes - set(NOT_PAGES) - seen  # no page left out
    return seen


def shot_name(ui: UiPage) -> str:
    """A page's name as a file name: "search answer, grouped" is search-answer-grouped."""
    return re.sub(r"[^a-z0-9]+", "-", ui.name.lower()).strip("-")


def photograph(session: Session, ui: UiPage, viewport: dict[str, int], target: Path, taken: set[str]) -> None:
    """Save ``ui`` as shown in ``session`` into ``target`` (once per page, whoever visits it first): at a phone's
    size always, its first screens; at a laptop's size, the whole page, unless another test photographs it."""
    if ui.name in taken or (viewport == DESKTOP and ui.name in SHOT_ELSEWHERE):
        return
    taken.add(ui.name)
    page = session.page
    if viewport == PHONE:
        height = min(page.evaluate("document.documentElement.scrollHeight"), PHONE_SHOT_HEIGHT)
        clip = {"x": 0, "y": 0, "width": PHONE["width"], "height": height}
        page.screenshot(path=target / f"phone-{shot_name(ui)}.png", full_page=True, clip=clip)
    else:
        page.screenshot(path=target / f"desktop-{shot_name(ui)}.png", full_page=True)


def test_the_pages_photographed_elsewhere_are_pages() -> None:
    assert set(SHOT_ELSEWHERE) <= {ui.name for ui in UI_PAGES}
    assert len({shot_name(ui) for ui in UI_PAGES}) == len(UI_PAGES)  # one file name per page


def described(violation: dict[str, Any]) -> str:
    """One violation as lines: rule, impact, help, and each element it found (selector and markup)."""
    lines = [f"  {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}")
        lines += [f"      {line}" for line in node.get("failureSummary", "").splitlines()[1:]]
    return "\n".join(lines)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_page_has_a_serious_accessibility_violation(
    platform: Platform, browser: object, viewport: dict[str, int]
) -> None:
    net = every_page_network(platform)
    axe = Axe()
    found: list[str] = []
    taken: set[str] = set()
    since = time.time() - 1

    def check(ui: UiPage, session: Session) -> None:
        if KEPT_SHOTS:
            photograph(session, ui, viewport, Path(KEPT_SHOTS), taken)
        results = axe.run(session.page).response
        failing = [v for v in results["violations"] if v["impact"] in FAILING]
        if failing:
            found.append(f"{ui.name} ({session.page.url}):\n" + "\n".join(map(described, failing)))

    with serving(platform) as base:
        tour(browser, base, net, viewport, check)
    if KEPT_SHOTS:
        compact_shots(Path(KEPT_SHOTS), since)
    assert not found, "critical or serious accessibility violations:\n" + "\n".join(found)
