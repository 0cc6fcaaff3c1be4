"""The web UI in a real browser: headless Chromium (Debian's package, /usr/bin/chromium) driven by Playwright
against the app served by uvicorn, through every flow an investigator, an admin and the public use.

Few tests, each a whole flow (a browser is slow on a small machine). They take the screenshots of the main
pages: into a temporary directory, or into ``PLATELEDGER_TEST_SCREENSHOTS`` (``make screenshots`` sets it to
docs/screenshots; there each PNG a test wrote is then reduced to 256 colours, to keep the repository small).
Console errors, Content-Security-Policy violations included, fail the test.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from plateledger.adapters.base import Adapted, SourceRead
from plateledger.cameras.quarantine import Held
from plateledger.platform import Platform
from plateledger.sharing.service import Terms
from plateledger.vocab import Purpose, QueryKind
from tests.integration.alert_kit import hot_list, serving
from tests.integration.web_kit import PASSWORD, PLATE, WebNetwork, crop_alert_read, plate_crop, submit, web_network
from tests.support import DAY_MS, HOUR_MS, NOW_MS, ingest, line, read

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path(os.environ.get("PLATELEDGER_TEST_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but {CHROMIUM} is missing: `make setup` installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
HOT_PLATE = "7HOT999"
#: Chromium logs a page answered with an error status; these flows cause 422 (a refused search) and 403 (the
#: refused forged post) on purpose.
EXPECTED_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of (403|422)\b")


#: Where the screenshots are kept (``make screenshots``: docs/screenshots); unset, they go to a temporary directory.
KEPT_SHOTS = os.environ.get("PLATELEDGER_TEST_SCREENSHOTS")


def compact_shots(target: Path, since: float) -> None:
    """Rewrite each PNG in ``target`` written since ``since`` (a time.time()) with a 256-colour palette and
    Pillow's optimiser: a UI screenshot keeps its look at about a third of its size."""
    for png in target.glob("*.png"):
        if png.stat().st_mtime >= since:
            with Image.open(png) as shot:
                reduced = shot.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            reduced.save(png, optimize=True)


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    target = Path(KEPT_SHOTS or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    since = time.time() - 1
    yield target
    if KEPT_SHOTS:
        compact_shots(target, since)


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


class Session:
    """One person's browser context (own cookies), its page, and every console error it logged."""

    def __init__(self, browser: object, base: str, *, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.in_flight: set[object] = set()
        self.last_request = time.monotonic()
        self.page.on("request", self._started)
        self.page.on("requestfinished", lambda r: self.in_flight.discard(r))
        self.page.on("requestfailed", lambda r: self.in_flight.discard(r))

    def _started(self, request: object) -> None:
        self.in_flight.add(request)
        self.last_request = time.monotonic()

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in(self, username: str) -> None:
        self.go("/ui/sign-in")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(lambda url: "/ui/sign-in" not in url)

    def submit(self, button: Any = "Search") -> None:
        submit(self.page, button)

    def settle(self, quiet_s: float = 0.5) -> None:
        """Wait until the page has had every answer it asked for and asked for nothing new for quiet_s.

        The server commits an audit entry before it answers, so afterwards the log holds every request the page made
        (lazy images included), and a count of them cannot race one still on its way.
        """
        deadline = time.monotonic() + 15
        while self.in_flight or time.monotonic() - self.last_request < quiet_s:
            assert time.monotonic() < deadline, f"{len(self.in_flight)} requests still in flight"
            self.page.wait_for_timeout(50)

    def close(self) -> list[str]:
        self.context.close()
        return [e for e in self.errors if not EXPECTED_STATUS.search(e)]


@contextmanager
def attacker_site(target: str) -> Iterator[str]:
    """Another origin (same host, another port) serving a form that posts to the UI without a CSRF token."""
    html = f"""<!doctype html><title>win a prize</title>
<form method="post" action="{target}/ui/admin/sharing/request">
<input type="hidden" name="owner" value="far-patrol"><input type="hidden" name="query_kinds" value="plate">
<input type="hidden" name="purposes" value="immigration_enforcement">
<input type="hidden" name="max_lookback_days" value="365"><input type="hidden" name="expires" value="2026-01-01">
<button>Claim your prize</button></form>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def box_centre(box: dict[str, float] | None, *, corner: bool = False) -> tuple[float, float]:
    """The centre of an element's box (or its top-left corner), in viewport pixels."""
    assert box is not None
    if corner:
        return box["x"], box["y"]
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def around(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Four corners (page pixels) of a slim diamond around points on a line: a quarter beyond each end, and a
    third of the half-length to either side (small enough for the owners' largest area radius)."""
    (x0, y0), (x1, y1) = min(points), max(points)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = (x1 - mx) * 1.25, (y1 - my) * 1.25
    px, py = -dy / 3, dx / 3
    return [(mx + dx, my + dy), (mx + px, my + py), (mx - dx, my - dy), (mx - px, my - py)]


def last_action(platform: Platform) -> str:
    return platform.audit.entries(after_seq=0, limit=100_000)[-1].action


def test_investigator_searches_and_confirms_a_live_alert(platform: Platform, browser: object, shots: Path) -> None:
    net: WebNetwork = web_network(platform)
    hot_list(platform, net.palm, "Stolen vehicles", HOT_PLATE)
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.go("/")
        page.wait_for_url("**/ui/sign-in")
        page.screenshot(path=shots / "sign-in.png")
        me.sign_in(net.user(net.palm, "investigator"))
        assert page.url.endswith("/ui/search")

        # A search without a case number is refused by the server, audited, and explained.
        page.fill("#plate", PLATE)
        page.select_option("#purpose", "stolen_vehicle")
        submit(page)
        assert "case_number: required" in page.locator("#search-error").inner_text()
        assert page.locator("#case_number").get_attribute("aria-invalid") == "true"
        assert last_action(platform) == "search.refused"
        page.screenshot(path=shots / "search-refused.png")

        # With purpose and case: table, map with the path, timeline, and the owner that withheld its reads.
        page.fill("#case_number", "C-2025-0042")
        submit(page)
        assert "purpose stolen_vehicle, case C-2025-0042" in page.locator("#obtained-under").inner_text()
        assert page.locator("#reads-table tbody tr").count() == 3
        withheld = page.locator("#withheld").inner_text()
        assert "Far State Patrol" in withheld
        assert "agreement" in withheld
        page.locator("#results-map .leaflet-interactive").first.wait_for()
        assert page.locator("#results-map path.read").count() == 3
        assert page.locator("#results-map path.route").count() == 1  # the path between them in time order
        assert page.locator("#results-map path.camera").count() == 3  # the agency's cameras
        assert "OpenStreetMap" in page.locator("#results-map .leaflet-control-attribution").inner_text()
        assert page.locator("#results-map .leaflet-control-scale").count() == 1
        assert page.locator("svg.timeline circle").count() == 3
        camera = page.locator("#reads-table th button", has_text="Camera")
        camera.click()
        camera.click()
        assert page.locator("#reads-table th[aria-sort=descending]").count() == 1
        assert page.locator("#reads-table tbody tr").first.locator("td").nth(5).inner_text() == "palm-2"
        assert last_action(platform) == "search.plate"
        page.screenshot(path=shots / "search-results.png", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        csv = Path(download.value.path()).read_text().splitlines()
        assert len(csv) == 4
        assert csv[1].endswith(",stolen_vehicle,C-2025-0042,")
        assert last_action(platform) == "search.exported"

        # An area search by a polygon drawn on the map around the agency's cameras: closing it fills the same
        # polygon field a typed one uses, and the search goes the usual way.
        me.go("/ui/search")
        page.get_by_role("radio", name="Area").check()
        page.locator("#pick-map path.camera").first.wait_for()
        page.get_by_role("button", name="Draw a polygon").click()
        pick = page.locator("#pick-map")
        for corner in range(4):  # positions taken afresh before each click: the page or the map may move
            origin = box_centre(pick.bounding_box(), corner=True)
            cameras = [box_centre(m.bounding_box()) for m in pick.locator("path.camera").all()]
            x, y = around(cameras)[corner]
            pick.click(position={"x": x - origin[0], "y": y - origin[1]})
        assert "4 corners" in page.locator("#draw-status").inner_text()
        page.get_by_role("button", name="Close the polygon").click()
        assert len(page.locator("#polygon").input_value().split(";")) == 4
        assert page.locator("#radius_m").input_value() == ""
        assert page.locator("#pick-map path.drawn").count() == 1
        page.fill("#since", "2025-05-31T18:00")
        page.fill("#until", "2025-06-01T12:00")
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", "C-2025-0043")
        page.screenshot(path=shots / "search-polygon.png")
        submit(page)
        assert "case C-2025-0043" in page.locator("#obtained-under").inner_text()
        assert page.locator("#reads-table tbody tr").count() == 3
        assert last_action(platform) == "search.area"

        # A live alert arrives while the alerts page is open, and is confirmed with a note.
        me.go("/ui/alerts")
        assert "verify the plate characters" in page.locator("#verify-first").inner_text()
        page.locator("#live-status[data-state=open]").wait_for()
        ingest(platform, net.palm, [read(HOT_PLATE, camera="palm-1", ts=NOW_MS - 60_000)])
        card = page.locator("article.alert-card", has_text=HOT_PLATE)
        card.wait_for()
        assert "Stolen vehicles" in card.inner_text()
        assert page.title().startswith("(1)")
        page.screenshot(path=shots / "alerts-live.png")
        (alert,) = platform.alerts.listing(net.palm.investigator)
        crop_alert_read(platform, net.palm, alert)  # the crop arrives after the card asked: shown on request
        card.locator("input[name=note]").fill("plate and state checked against the image")
        card.get_by_role("button", name="Confirm").click()
        page.wait_for_url("**/ui/alerts**")
        decided = page.locator("article.alert-card", has_text=HOT_PLATE)
        assert "confirmed by palm-pd-investigator" in decided.inner_text()
        decided.get_by_role("button", name="Show the plate crop").click()
        decided.locator("figure.crop img").wait_for()
        assert decided.locator("figure.crop img").evaluate("img => img.complete && img.naturalWidth > 0")
        assert "case CASE-1" in decided.locator("figure.crop figcaption").inner_text()
        assert last_action(platform) == "image.viewed"
        page.screenshot(path=shots / "alerts-crop.png")
        assert [a["state"] for a in platform.alerts.listing(net.palm.investigator)] == ["confirmed"]

        # Responsive: the search page on a patrol-car tablet.
        tablet = Session(browser, base, width=800, height=1100)
        tablet.sign_in(net.user(net.palm, "investigator"))
        tablet.page.screenshot(path=shots / "search-tablet.png")
        assert tablet.close() == []
        assert me.close() == []


def test_live_alert_shows_its_plate_crop(platform: Platform, browser: object) -> None:
    """Issue 20, item 1: a live alert of a read sent with its plate crop (the vendor door) shows the crop at once:
    the alert is published only after the read's images are stored, and says so (``image``: ``stored``)."""
    net: WebNetwork = web_network(platform)
    hot_list(platform, net.palm, "Stolen vehicles", "7LIVE01")
    with serving(platform) as base:
        me = Session(browser, base)
        page = me.page
        me.sign_in(net.user(net.palm, "investigator"))
        me.go("/ui/alerts")
        page.locator("#live-status[data-state=open]").wait_for()
        sent = SourceRead(
            plate="7LIVE01", ts_ms=NOW_MS - 60_000, camera="palm-1", source_ts="t", read_id="live-1",
            images=(plate_crop(),), make=EVIL_NAME, model="Corolla", color="red", vehicle_type="sedan",
        )  # fmt: skip
        platform.vendor.store(net.palm.device.actor, net.palm.agency, Adapted(reads=[sent]), channel="http", source="t")
        card = page.locator("article.alert-card", has_text="7LIVE01")
        card.locator("figure.crop img").wait_for()
        assert card.locator("figure.crop img").evaluate("img => img.complete && img.naturalWidth > 0")
        assert "case CASE-1" in card.locator("figure.crop figcaption").inner_text()
        assert last_action(platform) == "image.viewed"
        # The read's vehicle in one line, its markup shown as text: live, then on the listed card after a reload.
        vehicle = f"red {EVIL_NAME} Corolla (sedan)"
        assert card.locator(".vehicle").inner_text() == vehicle
        assert card.locator("img[src='x'], .vehicle b").count() == 0
        me.go("/ui/alerts")
        assert page.locator("article.alert-card", has_text="7LIVE01").locator(".vehicle").inner_text() == vehicle
        assert page.locator("img[src='x'], .vehicle b").count() == 0
        assert me.close() == []


def test_sharing_access_log_transparency_and_csrf(platform: Platform, browser: object, shots: Path) -> None:
    net = web_network(platform)
    with serving(platform) as base:
        # Harbor's admin asks Palm for plate searches for stolen vehicles.
        harbor = Session(browser, base)
        harbor.sign_in(net.user(net.harbor, "admin"))
        harbor.go("/ui/admin/sharing")
        form = harbor.page.locator("#request-form")
        form.locator("#owner").select_option("palm-pd")
        form.get_by_label("stolen vehicle").check()
        harbor.submit(form.get_by_role("button", name="Send request"))
        assert "pending" in harbor.page.locator(".panel", has_text="Palm Police").first.inner_text()

        # Palm's admin accepts it, narrowed to a shorter lookback.
        palm = Session(browser, base)
        palm.sign_in(net.user(net.palm, "admin"))
        palm.go("/ui/admin/sharing")
        request = palm.page.locator(".panel", has_text="Harbor Police").first
        request.get_by_label("Accept on narrower terms").check()
        request.get_by_label("Longest lookback (days)").fill("14")
        palm.submit(request.get_by_role("button", name="Accept"))
        accepted = palm.page.locator(".panel", has_text="Harbor Police").first.inner_text()
        assert "accepted" in accepted
        assert "up to 14 days back" in accepted
        palm.page.screenshot(path=shots / "sharing.png", full_page=True)
        [agreement] = [a for a in platform.agreements.listing(net.palm.admin) if a.requester == "harbor-pd"]
        assert agreement.state == "accepted"
        assert agreement.granted_terms is not None
        assert agreement.granted_terms["max_lookback_days"] == 14

        # Harbor's investigator can now search Palm's reads; Palm's access log shows it.
        investigator = Session(browser, base)
        investigator.sign_in(net.user(net.harbor, "investigator"))
        investigator.page.fill("#plate", PLATE)
        investigator.page.select_option("#purpose", "stolen_vehicle")
        investigator.page.fill("#case_number", "HB-7")
        investigator.submit()
        assert investigator.page.locator("#reads-table tbody tr").count() == 3
        palm.go("/ui/access-log")
        row = palm.page.locator("#access-table tbody tr", has_text="HB-7")
        assert "Harbor Police" in row.inner_text()
        assert "3 reads" in row.inner_text()
        palm.page.screenshot(path=shots / "access-log.png", full_page=True)
        palm.go("/ui/audit")
        assert "chain intact" in palm.page.locator("#chain-status").inner_text()
        palm.page.screenshot(path=shots / "audit.png")
        palm.go("/ui/admin/policy")
        palm.page.screenshot(path=shots / "policy.png")

        # Reads from a vendor camera id Palm never registered wait in quarantine; its admin maps the id onto a
        # camera from the cameras page, which shows each camera's health and what the release stored.
        held = [
            Held(i, "GEN-UNIT-4", line(plate=f"7QRT00{i}", ts=NOW_MS - 2 * HOUR_MS, camera="GEN-UNIT-4"))
            for i in range(2)
        ]
        platform.quarantine.hold(net.palm.device.actor, net.palm.agency, held, channel="test", source="genetec")
        palm.go("/ui/admin/cameras")
        assert palm.page.locator("#health-table tbody tr").count() == 3
        waiting = palm.page.locator("section.quarantine", has_text="GEN-UNIT-4")
        assert "2 reads waiting" in waiting.inner_text()
        palm.page.screenshot(path=shots / "cameras.png", full_page=True)
        waiting.get_by_label("Camera").select_option("palm-2")
        waiting.get_by_role("button", name="Map and release").click()
        assert "2 stored" in palm.page.locator("#release-report").inner_text()
        assert palm.page.locator("#quarantine-empty").count() == 1
        assert last_action(platform) == "camera.quarantine_released"  # recorded after its reads were stored

        # A form on another site posting into Palm's admin session is refused: no token.
        before = len(platform.agreements.listing(net.palm.admin))
        with attacker_site(base) as evil:
            palm.page.goto(evil)
            palm.page.get_by_role("button", name="Claim your prize").click()
            palm.page.wait_for_url(base + "/ui/admin/sharing/request")
            assert "CSRF token is missing or wrong" in palm.page.locator("main").inner_text()
        assert len(platform.agreements.listing(net.palm.admin)) == before
        assert last_action(platform) == "auth.refused"

        # The public transparency page, without signing in.
        public = Session(browser, base)
        public.go("/ui/public")
        public.page.get_by_role("link", name="Palm Police").click()
        public.page.wait_for_url("**/transparency/palm-pd")
        assert "Palm Police" in public.page.locator("h1").inner_text()
        assert "Harbor Police" in public.page.locator("body").inner_text()  # its sharing partner
        public.page.screenshot(path=shots / "transparency.png", full_page=True)
        for session in (harbor, palm, investigator, public):
            assert session.close() == []


#: Markup in a camera's name and id (an id may hold no space): shown as text, never as elements.
EVIL_NAME = "<img src=x onerror=alert(1)><b>x</b>"
EVIL_ID = "<img/src=x/onerror=alert(2)>"


def tooltips(page: object, markers: str) -> list[str]:
    """Point at each marker matching ``markers`` (a mouseover event: the path between reads lies over them) and
    return the text of the tooltip it opens."""
    texts = []
    for marker in page.locator(markers).all():  # type: ignore[attr-defined]
        marker.dispatch_event("mouseover")
        tip = page.locator(".leaflet-tooltip").last  # type: ignore[attr-defined]
        tip.wait_for()
        texts.append(tip.inner_text())
    return texts


def test_camera_names_and_ids_from_another_agency_stay_text(platform: Platform, browser: object) -> None:
    net = web_network(platform)
    palm, harbor = net.palm, net.harbor
    platform.registry.add_camera(
        palm.admin.actor, agency_slug="palm-pd", external_id=EVIL_ID, name=EVIL_NAME, lat=37.79, lon=-122.40
    )
    ingest(platform, palm, [read(PLATE, camera=EVIL_ID, ts=NOW_MS - HOUR_MS // 2)])
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=30,
        expires_ms=NOW_MS + 100 * DAY_MS,
    )
    platform.agreements.accept(palm.admin, platform.agreements.request(harbor.admin, owner="palm-pd", terms=terms).id)
    with serving(platform) as base:
        dialogs: list[str] = []
        owner = Session(browser, base)
        owner.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        owner.sign_in(net.user(palm, "admin"))
        owner.go("/ui/admin/cameras")
        assert owner.page.locator("#health-table td", has_text=EVIL_NAME).count() == 1
        owner.page.locator("#results-map path.camera").first.wait_for()
        assert f"camera {EVIL_ID}: {EVIL_NAME}" in tooltips(owner.page, "#results-map path.camera")

        requester = Session(browser, base)
        requester.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        requester.sign_in(net.user(harbor, "investigator"))
        page = requester.page
        page.fill("#plate", PLATE)
        page.select_option("#purpose", "stolen_vehicle")
        page.fill("#case_number", "HB-8")
        submit(page)
        page.locator("#results-map path.read").first.wait_for()
        assert any(f"at {EVIL_ID} (Palm Police)" in text for text in tooltips(page, "#results-map path.read"))
        for session in (owner, requester):
            assert session.page.locator("img[src='x'], .leaflet-tooltip b, .leaflet-tooltip img").count() == 0
        assert dialogs == []
        assert owner.close() == []
        assert requester.close() == []


def test_api_reference_renders_offline_under_its_csp(platform: Platform, browser: object) -> None:
    with serving(platform) as base:
        reader = Session(browser, base)
        requests: list[str] = []
        reader.page.on("request", lambda request: requests.append(request.url))
        reader.go("/docs")
        reader.page.locator(".swagger-ui .opblock").first.wait_for()
        assert "Plateledger" in reader.page.locator(".swagger-ui .info .title").inner_text()
        assert requests
        assert all(url.startswith(base) for url in requests), requests  # nothing from another origin
        assert reader.close() == []  # a CSP violation would be a console error


def test_auditor_reviews_an_oversight_flag(platform: Platform, browser: object, shots: Path) -> None:
    """Searches seeded with abuse patterns, read by the live rules; an auditor opens the queue, a flag's evidence,
    confirms one and dismisses another with notes; both decisions are audited and counted in the public report."""
    from sqlalchemy import update

    from plateledger.auth.passwords import hash_password
    from plateledger.core.clock import FixedClock
    from plateledger.store.models import User
    from tests.integration.review_kit import configure, seed
    from tests.support import seed_agency

    clock = platform.clock
    assert isinstance(clock, FixedClock)
    kit = seed_agency(platform, "city", name="City Police")
    configure(platform, kit)
    seed(platform, clock, kit)
    platform.oversight.catch_up()
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    with serving(platform) as base:
        auditor = Session(browser, base)
        auditor.sign_in("city-auditor")
        auditor.page.get_by_role("link", name="Oversight").click()
        auditor.page.wait_for_url("**/ui/oversight")
        body = auditor.page.locator("main").inner_text()
        assert "city/city-ice" in body
        assert "text.prohibited" in body
        assert "city/city-officer0" not in body
        auditor.page.screenshot(path=shots / "oversight-queue.png", full_page=True)
        for group, decision, note in (
            ("city/city-ice — Free text", "confirmed", "ICE lookups under stolen_vehicle: referred to IA"),
            ("city/city-vague — Content-free", "dismissed", "case number supplied by the sergeant"),
        ):
            section = auditor.page.locator("section", has_text=group)
            section.locator("a").first.click()
            auditor.page.wait_for_url("**/ui/oversight/flags/*")
            evidence = auditor.page.locator("table").inner_text()
            assert "city-" in evidence
            assert "search." in evidence
            if decision == "confirmed":
                assert "ICE ERO request" in evidence
                auditor.page.screenshot(path=shots / "oversight-flag.png", full_page=True)
            auditor.page.select_option("#decision", decision)
            auditor.page.fill("#note", note)
            auditor.page.get_by_role("button", name="Record decision").click()
            auditor.page.wait_for_selector("#flag-note")
            assert auditor.page.locator("#flag-status").inner_text() == decision
            assert note in auditor.page.locator("#flag-note").inner_text()
            auditor.go("/ui/oversight")
        decided = platform.audit.entries(after_seq=0, limit=100_000, action="oversight.flag_decided")
        assert len(decided) == 2
        assert {e.actor_username for e in decided} == {"city-auditor"}
        public = Session(browser, base)
        public.go("/ui/public")
        public.page.get_by_role("link", name="City Police").click()
        table = public.page.locator("#oversight-flags").inner_text()
        assert "text.prohibited" in table
        assert "reason.content_free" in table
        rows = {line.split("\t")[0]: line.split("\t")[1:] for line in table.splitlines() if "\t" in line}
        prohibited = next(v for k, v in rows.items() if "text.prohibited" in k)
        assert prohibited[:2] == ["2", "1"]  # raised, confirmed
        for session in (auditor, public):
            assert session.close() == []
