"""A small network for the web UI tests: three agencies (two in California, one in Nevada) with a password for
every user, cameras with positions, and reads of one plate at cameras of two owners."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import update

from plateledger.adapters import genetec
from plateledger.adapters.base import Image
from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.core.clock import parse_iso_ms
from plateledger.core.errors import ApprovalRequired
from plateledger.platform import Platform
from plateledger.policy.rules import ApprovalRules, DescriptionLimits, Policy
from plateledger.review.register import make_case
from plateledger.search.area import AreaSearch
from plateledger.sharing.service import Terms
from plateledger.store.models import User
from plateledger.subjects.requests import SubjectAsk
from plateledger.vocab import Purpose, QueryKind
from plateledger.web import routes as web_routes
from tests.integration.alert_kit import hot_list
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, CameraSpec, ingest, read, search, seed_agency
from tests.unit.adapters_support import sample, sample_json

PASSWORD = "correct horse battery"
PLATE = "7WEB123"


@dataclass
class WebNetwork:
    palm: AgencyKit
    harbor: AgencyKit
    far: AgencyKit

    @staticmethod
    def user(kit: AgencyKit, role: str) -> str:
        return f"{kit.slug}-{role}"


def _cameras(slug: str, lat: float, lon: float) -> tuple[CameraSpec, ...]:
    return tuple(CameraSpec(f"{slug}-{n}", lat=lat + n * 0.004, lon=lon + n * 0.006) for n in range(3))


def web_network(platform: Platform) -> WebNetwork:
    palm = seed_agency(platform, "palm-pd", name="Palm Police", cameras=_cameras("palm", 37.77, -122.42))
    harbor = seed_agency(platform, "harbor-pd", name="Harbor Police", cameras=_cameras("harbor", 37.80, -122.27))
    far = seed_agency(
        platform, "far-patrol", name="Far State Patrol", kind="state", state="NV", cameras=_cameras("far", 39.5, -119.8)
    )
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    ingest(platform, palm, [read(PLATE, camera=f"palm-{n}", ts=NOW_MS - (5 - n) * HOUR_MS) for n in range(3)])
    ingest(platform, far, [read(PLATE, camera="far-1", ts=NOW_MS - 30 * HOUR_MS)])
    return WebNetwork(palm, harbor, far)


GENETEC = "parkpow_snapshot-middleware_Genetec.json"


def plate_crop() -> Image:
    """A real plate crop (a JPEG): the one in the Genetec vendor sample."""
    return sample_image("plate")


def sample_image(kind: str) -> Image:
    """The Genetec vendor sample's plate crop (``plate``, 79 x 110) or overview image (``overview``, 1920 x 1088)."""
    adapted = genetec.adapt(sample(GENETEC), "application/json")
    return next(image for image in adapted.reads[0].images if image.kind == kind)


def crop_alert_read(platform: Platform, kit: AgencyKit, alert: dict[str, Any]) -> str:
    """Store the plate crop with the read of ``alert`` (as the vendor ingest stores the images sent with a read);
    returns the read id."""
    read_id: str = alert["read"]["read_id"]
    ts_ms = parse_iso_ms(alert["read"]["ts"])
    platform.images.put(kit.agency.id, read_id, alert["read"]["plate"], ts_ms, plate_crop())
    return read_id


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, code: str = "") -> TestClient:
    """Sign ``client`` in through the sign-in form (a 303 on success)."""
    form = client.get("/ui/sign-in")
    response = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(form.text), "username": username, "password": password, "code": code},
    )
    assert response.status_code == 303, response.text
    return client


# -- every page of the UI, for the checks that run over all of them (test_a11y_browser.py, test_web_layout.py) ----
#: The sizes every page is checked at: a laptop and a phone.
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
#: A plate with an entry on Palm's hot list, read by a Palm camera: an alert on the alerts page.
HOT_PLATE = "7HOT999"


@dataclass(frozen=True)
class UiPage:
    """One page of the UI as a person reaches it: open ``path``; then, if given, follow the first link matching
    ``follow`` (one hot list, one request: ids the seed chose) and take the ``steps`` (a form's answer); then the
    page shows ``shows`` (a selector of its real content). ``roles``: who of Palm opens it signed in
    ("investigator", "admin", "auditor"), or nobody (the public, signed out). ``route``: the route pattern it
    shows, so that the tests know every GET route of the UI is visited."""

    name: str
    route: str
    roles: tuple[str, ...]
    path: str
    shows: str
    follow: str | None = None
    steps: Callable[[Any], None] | None = None
    status: int = 200


def submit(page: Any, button: Any = "Search") -> None:
    """Press a button that submits a form (a button's name, or a locator) and wait until the answer has loaded.

    A bare click returns once the navigation has started, so a check that does not wait for its element
    (`count()`, `is_visible()`) could still read the page being left.
    """
    if isinstance(button, str):
        button = page.get_by_role("button", name=button, exact=True)
    with page.expect_navigation():
        button.click()


def _search_for(page: Any, plate: str) -> None:
    page.fill("#plate", plate)
    page.select_option("#purpose", "stolen_vehicle")
    page.fill("#case_number", "C-2025-0042")
    submit(page)


def _plate_answer(page: Any) -> None:
    """A plate search with purpose and case: the answer with its table, map and timeline."""
    _search_for(page, PLATE)
    page.locator("#results-map path.read").first.wait_for()


def _contains_offer(page: Any) -> None:
    """A partial plate without ``*``: no reads, and the offer of a "contains" search."""
    _search_for(page, "WEB1")


def _grouped_answer(page: Any) -> None:
    """A wildcard search: the answer grouped by distinct plate, one group opened to its reads."""
    _search_for(page, "*WEB1*")
    page.locator("#groups-table > tbody.group details summary").first.click()


def _refused(page: Any) -> None:
    """A plate search without a case number: refused, the message on the page and the field marked."""
    page.fill("#plate", PLATE)
    page.select_option("#purpose", "stolen_vehicle")
    submit(page)


def _area_form(page: Any) -> None:
    """The search form in area mode: its map to pick a circle or draw a polygon on."""
    page.get_by_role("radio", name="Area").check()
    page.locator("#pick-map path.camera").first.wait_for()


def _description_form(page: Any) -> None:
    """The search form in vehicle description mode: make, model, colour, type, and the map for its area."""
    page.get_by_role("radio", name="Vehicle description").check()
    page.locator("#pick-map path.camera").first.wait_for()


def _subject_sent(page: Any) -> None:
    """The public's subject request, sent: the page with its reference."""
    for name, value in (("plate", "7NONE00"), ("country", "US"), ("state", "CA"), ("name", "Ann Keeper")):
        page.fill(f"#{name}", value)
    page.fill("#email", "ann@example.org")
    page.fill("#postal_address", "1 Main St")
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_selector("#subject-received")


def _letter(page: Any) -> None:
    """The letter answering a verified subject request (HTML), from the request's page."""
    page.click("#letter-html")
    page.wait_for_selector("#letter")


#: GET routes under the UI that are not pages, or that these tests do not reach, and why.
NOT_PAGES = {
    "/": "a redirect to /ui/",
    "/ui/": "a redirect to the first page of the menu",
    "/ui/alerts/stream": "the alerts' event stream",
    "/ui/alerts/{alert_id}/crop": "an image",
    "/ui/images/{owner}/{read_id}/{kind}": "an image (test_images_browser.py)",
    "/ui/admin/subject-requests/letter.css": "the letter's stylesheet",
}


def ui_routes() -> set[str]:
    """Every GET route of the UI's route modules, with the public transparency report (served by the API)."""
    paths = {"/transparency/{agency}"}
    for info in pkgutil.iter_modules(web_routes.__path__):
        router = importlib.import_module(f"{web_routes.__name__}.{info.name}").router
        paths |= {r.path for r in router.routes if isinstance(r, APIRoute) and "GET" in r.methods}
    return paths


#: Who of Palm opens a page: the roles that search, that oversee (read the logs), everyone signed in; or the
#: public, signed out.
SEARCHERS = ("investigator", "admin")
OVERSEERS = ("admin", "auditor")
SIGNED_IN = ("investigator", "admin", "auditor")
PUBLIC: tuple[str, ...] = ()
#: The route of the UI's error page (any address under /ui/ without a page).
ERROR = "(an unknown address)"
#: A case in Palm's register.
CASE = "C-2025-0042"
#: Every page of the UI, with the content ``every_page_network`` seeds. A new page (or a new state of one, such
#: as a new kind of answer) is one more entry here: the accessibility and layout tests then check it.
UI_PAGES: tuple[UiPage, ...] = (
    UiPage("sign-in", "/ui/sign-in", PUBLIC, "/ui/sign-in", "#username"),
    UiPage("public reports", "/ui/public", PUBLIC, "/ui/public", "a[href='/transparency/palm-pd']"),
    UiPage("transparency report", "/transparency/{agency}", PUBLIC, "/transparency/palm-pd", "#oversight-flags"),
    UiPage("subject request form", "/ui/subject-request", PUBLIC, "/ui/subject-request", "#postal_address"),
    UiPage(
        "subject request sent",
        "/ui/subject-request",
        PUBLIC,
        "/ui/subject-request",
        "#subject-reference",
        steps=_subject_sent,
    ),
    UiPage("error page (public)", ERROR, PUBLIC, "/ui/no-such-page", "main h1", status=404),
    UiPage("search form", "/ui/search", SEARCHERS, "/ui/search", "#plate"),
    UiPage("search refused", "/ui/search", ("investigator",), "/ui/search", "#search-error", steps=_refused),
    UiPage("search form, area", "/ui/search", SEARCHERS, "/ui/search", "#pick-map path.camera", steps=_area_form),
    UiPage("search form, description", "/ui/search", SEARCHERS, "/ui/search", "#make", steps=_description_form),
    UiPage("search answer", "/ui/search", SEARCHERS, "/ui/search", "#reads-table tbody tr", steps=_plate_answer),
    UiPage(
        "search, contains offered",
        "/ui/search",
        ("investigator",),
        "/ui/search",
        "#contains-hint button",
        steps=_contains_offer,
    ),
    UiPage(
        "search answer, grouped",
        "/ui/search",
        ("investigator",),
        "/ui/search",
        "table.group-reads tbody tr",
        steps=_grouped_answer,
    ),
    UiPage(
        "alerts", "/ui/alerts", SEARCHERS, "/ui/alerts", f"article.alert-card:has-text('{HOT_PLATE}') figure.crop img"
    ),
    UiPage("hot lists", "/ui/hotlists", SEARCHERS, "/ui/hotlists", "a[href^='/ui/hotlists/']"),
    UiPage(
        "hot list",
        "/ui/hotlists/{list_id}",
        SEARCHERS,
        "/ui/hotlists",
        f"td:has-text('{HOT_PLATE}')",
        follow="a[href^='/ui/hotlists/']",
    ),
    UiPage("cases", "/ui/oversight/cases", SIGNED_IN, "/ui/oversight/cases", f"td:has-text('{CASE}')"),
    UiPage("account", "/ui/account", SIGNED_IN, "/ui/account", "#session-count"),
    UiPage(
        "notification deliveries",
        "/ui/account/notifications/{subscription_id}",
        SEARCHERS,
        "/ui/account",
        "main table tbody tr",
        follow="a[href^='/ui/account/notifications/']",
    ),
    UiPage("public reports (signed in)", "/ui/public", SIGNED_IN, "/ui/public", "a[href='/transparency/palm-pd']"),
    UiPage("error page", ERROR, SIGNED_IN, "/ui/no-such-page", "main h1", status=404),
    UiPage("approvals", "/ui/approvals", OVERSEERS, "/ui/approvals", "#pending article"),
    UiPage("sharing", "/ui/admin/sharing", ("admin",), "/ui/admin/sharing", ".panel:has-text('Harbor Police')"),
    UiPage("policy", "/ui/admin/policy", ("admin",), "/ui/admin/policy", "#policy-text li"),
    UiPage("users", "/ui/admin/users", ("admin",), "/ui/admin/users", "td:has-text('palm-pd-investigator')"),
    UiPage("cameras", "/ui/admin/cameras", ("admin",), "/ui/admin/cameras", "#health-table tbody tr"),
    UiPage("access log", "/ui/access-log", OVERSEERS, "/ui/access-log", "#access-table tbody tr"),
    UiPage("audit", "/ui/audit", OVERSEERS, "/ui/audit", "#chain-status"),
    UiPage("oversight queue", "/ui/oversight", OVERSEERS, "/ui/oversight", "a[href^='/ui/oversight/flags/']"),
    UiPage(
        "oversight flag",
        "/ui/oversight/flags/{flag_id}",
        OVERSEERS,
        "/ui/oversight",
        "#flag-status",
        follow="a[href^='/ui/oversight/flags/']",
    ),
    UiPage(
        "subject requests",
        "/ui/admin/subject-requests",
        ("admin",),
        "/ui/admin/subject-requests",
        "#subject-requests tbody tr",
    ),
    UiPage(
        "subject request",
        "/ui/admin/subject-requests/{request_id}",
        ("admin",),
        "/ui/admin/subject-requests",
        "#verify-form",
        follow=f"#subject-requests tr:has-text('{HOT_PLATE}') a",
    ),
    UiPage(
        "subject request, verified",
        "/ui/admin/subject-requests/{request_id}",
        ("admin",),
        "/ui/admin/subject-requests",
        "#letter-html",
        follow=f"#subject-requests tr:has-text('{PLATE}') a",
    ),
    UiPage(
        "subject letter",
        "/ui/admin/subject-requests/{request_id}/letter",
        ("admin",),
        "/ui/admin/subject-requests",
        "#letter",
        follow=f"#subject-requests tr:has-text('{PLATE}') a",
        steps=_letter,
    ),
)


def every_page_network(platform: Platform) -> WebNetwork:
    """The web network with real content on every page of ``UI_PAGES``: a hot list whose plate a Palm camera read
    (an alert, with the read's plate crop), a second plate containing WEB1 (a grouped answer), a search with a
    content-free reason (in the access log and the audit log, flagged by the oversight rules), a case in the
    register, Harbor's agreement to search Palm's reads, an area search held for a supervisor's approval, and two
    subject requests (one verified by a second admin, so that Palm's admin may write its letter), and an e-mail
    subscription of Palm's investigator to stolen-vehicle alerts (its delivery log)."""
    net = web_network(platform)
    platform.notify.subscribe(net.palm.investigator, "email", purpose="stolen_vehicle", address="inv@palm.example")
    hot_list(platform, net.palm, "Stolen vehicles with a long name for a narrow screen", HOT_PLATE)
    ingest(platform, net.palm, [read(HOT_PLATE, camera="palm-1", ts=NOW_MS - 60_000)])
    ingest(platform, net.palm, [read("8WEB100", camera="palm-2", ts=NOW_MS - 2 * HOUR_MS)])  # a second *WEB1*
    (alert,) = platform.alerts.listing(net.palm.investigator)
    crop_alert_read(platform, net.palm, alert)
    search(platform, net.palm.investigator, PLATE, case_number="n/a", note="bolo")
    platform.oversight.catch_up()
    platform.cases.put(net.palm.admin, net.palm.slug, [make_case(CASE, "2025-05-01", unit="Patrol")])
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=30,
        expires_ms=NOW_MS + 100 * DAY_MS,
    )
    platform.agreements.accept(
        net.palm.admin, platform.agreements.request(net.harbor.admin, owner="palm-pd", terms=terms).id
    )
    platform.policies.set(SYSTEM, net.palm.slug, Policy(approval=ApprovalRules(area=True)))
    held = AreaSearch(
        purpose="stolen_vehicle", case_number="C-2025-0043", lat=37.774, lon=-122.414, radius_m=500,
        since=NOW_MS - 3 * HOUR_MS, until=NOW_MS,
    )  # fmt: skip
    with pytest.raises(ApprovalRequired):
        platform.areas.search(net.palm.investigator, held)
    for plate in (PLATE, HOT_PLATE):
        ask = SubjectAsk(plate, "US", "CA", "Ann Keeper", "ann@example.org", "1 Main St")
        platform.subjects.submit(ask, client="127.0.0.1")
    # The request about PLATE is verified by a second admin, so that Palm's admin may write its letter.
    platform.registry.create_user(SYSTEM, agency_slug=net.palm.slug, username="palm-clerk", role="admin")
    clerk = platform.tokens.authenticate(platform.tokens.issue(SYSTEM, "palm-clerk").secret)
    (verified,) = [item for item in platform.subjects.queue(clerk) if item.plate == PLATE]
    platform.subjects.verify(clerk, verified.id, method="registry_lookup", verified_on="2025-05-31")
    return net


def reach(page: Any, base: str, ui: UiPage) -> None:
    """Open ``ui`` in ``page`` (a Playwright page of a session of one of its roles) and check its status."""
    response = page.goto(base + ui.path)
    if ui.follow is not None:
        href = page.locator(ui.follow).first.get_attribute("href")
        assert href is not None, (ui.name, ui.follow)
        response = page.goto(base + href)
    assert response is not None
    assert response.status == ui.status, (ui.name, response.status)
    if ui.steps is not None:
        ui.steps(page)
    page.locator(ui.shows).first.wait_for()


def genetec_read(plate: str, camera: str, ts_ms: int, read_id: str) -> bytes:
    """The Genetec vendor sample (a read with its plate crop and overview image) as ``camera`` would send a read
    of ``plate`` at ``ts_ms``: the body of ``POST /api/v1/ingest/genetec``."""
    body = sample_json(GENETEC)
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    body.update(Plate=plate, SharpName=camera, CameraName=f"{camera} - Camera", VehicleID=read_id)
    body.update(DateUtc=when.strftime("%m/%d/%Y"), TimeUtc=when.strftime("%H:%M:%S"))
    return orjson.dumps(body)


def share_plates(platform: Platform, owner: AgencyKit, requester: AgencyKit) -> None:
    """An accepted agreement: ``requester`` may search ``owner``'s reads by plate for stolen vehicles (30 days)."""
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=30,
        expires_ms=NOW_MS + 30 * DAY_MS,
    )
    asked = platform.agreements.request(requester.admin, owner=owner.slug, terms=terms)
    platform.agreements.accept(owner.admin, asked.id)


#: The vehicle of the description search "red Toyota" (issue 20, item 2), and where it is searched: around
#: palm-0, 1 km, the 24 hours before NOW_MS.
RED_TOYOTA = {"make": "Toyota", "model": "Corolla", "color": "Red", "type": "sedan"}
DESCRIPTION_AREA = (37.771, -122.418, 1000)


def description_network(platform: Platform, net: WebNetwork) -> None:
    """Red Toyotas (and other vehicles) near palm-0 in the day before NOW_MS, read by every agency: Palm (opted
    in) and Harbor (opted in, agreement granting ``description`` to Palm) answer; Far State Patrol (opted in, but
    its agreement grants Palm plate searches only) is withheld."""
    opted_in = Policy(description=DescriptionLimits(allowed=True))
    for kit in (net.palm, net.harbor, net.far):
        platform.policies.set(SYSTEM, kit.slug, opted_in)
    for owner, kinds in ((net.harbor, {QueryKind.PLATE, QueryKind.DESCRIPTION}), (net.far, {QueryKind.PLATE})):
        terms = Terms(
            query_kinds=frozenset(kinds),
            purposes=frozenset({Purpose.STOLEN_VEHICLE}),
            max_lookback_days=30,
            expires_ms=NOW_MS + 365 * DAY_MS,
        )
        view = platform.agreements.request(net.palm.admin, owner=owner.slug, terms=terms)
        platform.agreements.accept(owner.admin, view.id)
    near = {"lat": 37.7712, "lon": -122.4178}
    blue, honda = {**RED_TOYOTA, "color": "Blue"}, {"make": "Honda", "color": "red"}
    ingest(platform, net.palm, [
        read("7RED001", camera="palm-0", ts=NOW_MS - 2 * HOUR_MS, read_id="palm-red", vehicle=RED_TOYOTA),
        read("7BLU001", camera="palm-0", ts=NOW_MS - 2 * HOUR_MS, read_id="palm-blue", vehicle=blue),
        read("7HON001", camera="palm-0", ts=NOW_MS - 3 * HOUR_MS, read_id="palm-honda", vehicle=honda),
        read("7RED002", camera="palm-0", ts=NOW_MS - 30 * HOUR_MS, read_id="palm-red-old", vehicle=RED_TOYOTA),
    ])  # fmt: skip
    ingest(platform, net.harbor, [
        read("8RED003", camera="harbor-0", ts=NOW_MS - 4 * HOUR_MS, read_id="harbor-red", vehicle=RED_TOYOTA, **near)
    ])  # fmt: skip
    ingest(platform, net.far, [
        read("9RED004", camera="far-0", ts=NOW_MS - 5 * HOUR_MS, read_id="far-red", vehicle=RED_TOYOTA, **near)
    ])  # fmt: skip
