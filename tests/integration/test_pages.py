"""Issue 20's page fixes over HTTP (the app in-process): the user's time zone (set on the account page, the API
and the CLI; times shown in it with the zone named and typed in it), and the other fixes of the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.cli.main import app as cli_app
from plateledger.core import zones
from plateledger.core.errors import FieldInvalid, NotFound, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.hotlists.importer import add_entries
from plateledger.platform import Platform
from plateledger.policy.rules import Policy, Terms
from plateledger.vocab import Purpose, QueryKind
from plateledger.web.paging import MAX_PAGE_SIZE
from plateledger.web.routes.alerts import SHOWN
from tests.integration.alert_kit import hot_list, raise_alert
from tests.integration.web_kit import PLATE, WebNetwork, csrf_of, sign_in, web_network
from tests.support import HOUR_MS, NOW_MS

BASE = "https://testserver"
CHICAGO = "America/Chicago"


@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    return web_network(platform)


@pytest.fixture
def client(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def entries(platform: Platform, action: str) -> list[dict[str, Any]]:
    """The params of the audit entries of ``action``, oldest first."""
    return [orjson.loads(e.params) for e in platform.audit.entries(limit=10_000, action=action)]


def set_zone(client: TestClient, zone: str) -> str:
    account = client.get("/ui/account")
    response = client.post("/ui/account/time-zone", data={"csrf": csrf_of(account.text), "time_zone": zone})
    return response.text if response.status_code != 303 else ""


# -- the time zone ------------------------------------------------------------------------------------------------


def test_account_page_sets_the_zone_and_every_page_shows_times_in_it(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "admin"))
    page = client.get("/ui/admin/cameras").text
    assert zones.shown(NOW_MS - 5 * HOUR_MS, None) in page  # no zone chosen: UTC, named
    assert zones.shown(NOW_MS - 5 * HOUR_MS, None).endswith(" UTC")
    assert set_zone(client, CHICAGO) == ""
    assert entries(platform, "user.time_zone_set")[-1] == {"username": "palm-pd-admin", "old": None, "new": CHICAGO}
    account = client.get("/ui/account").text
    assert f'value="{CHICAGO}"' in account
    assert f'data-time-zone="{CHICAGO}"' in account
    page = client.get("/ui/admin/cameras").text
    local = zones.shown(NOW_MS - 5 * HOUR_MS, CHICAGO)
    assert local == "2025-06-01 02:00:00 CDT"
    assert local in page
    assert zones.shown(NOW_MS - 5 * HOUR_MS, None) not in page
    # Cleared: UTC again.
    assert set_zone(client, "") == ""
    assert zones.shown(NOW_MS - 5 * HOUR_MS, None) in client.get("/ui/admin/cameras").text


def test_an_unknown_zone_is_named_on_the_page_and_nothing_changes(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "investigator"))
    text = set_zone(client, "Mars/Olympus_Mons")
    assert "unknown time zone &#39;Mars/Olympus_Mons&#39;" in text
    assert 'value="Mars/Olympus_Mons"' in text  # the form keeps what was typed
    assert 'aria-invalid="true"' in text
    assert entries(platform, "user.time_zone_set") == []
    assert 'data-time-zone="UTC"' in client.get("/ui/account").text


def test_search_times_are_typed_and_shown_in_the_users_zone(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    """Reads of palm at 07:00, 08:00 and 09:00 UTC (02:00-04:00 CDT): "from 02:30" in Chicago keeps the last two
    (read as UTC it would keep all three), and the table shows them in CDT."""
    sign_in(client, network.user(network.palm, "investigator"))
    set_zone(client, CHICAGO)
    page = client.get("/ui/search").text
    assert f"From ({CHICAGO})" in page
    form = {
        "csrf": csrf_of(page),
        "mode": "plate",
        "plate": PLATE,
        "purpose": "stolen_vehicle",
        "case_number": "C-1",
        "since": "2025-06-01T02:30",
        "until": "",
    }
    answer = client.post("/ui/search", data=form)
    assert answer.status_code == 200, answer.text[:2000]
    assert re.search(r'<h2 id="results-title">2 reads', answer.text)
    query = entries(platform, "search.plate")[-1]["query"]
    assert query["since"] == "2025-06-01T02:30:00-05:00"  # 07:30 UTC
    assert "2025-06-01 04:00:00 CDT" in answer.text
    assert "09:00:00 UTC" not in answer.text


def test_hot_list_expiry_is_typed_in_the_users_zone(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "investigator"))
    set_zone(client, CHICAGO)
    page = client.get("/ui/hotlists")
    created = client.post(
        "/ui/hotlists", data={"csrf": csrf_of(page.text), "name": "Stolen", "default_purpose": "stolen_vehicle"}
    )
    assert created.status_code == 303
    where = created.headers["location"]
    listing = client.get(where).text
    assert f"Expires ({CHICAGO})" in listing
    added = client.post(
        f"{where}/entries",
        data={
            "csrf": csrf_of(listing),
            "plate": "8ZONE88",
            "purpose": "stolen_vehicle",
            "reference": "R-1",
            "reason": "stolen",
            "expires": "2025-06-10T17:00",
        },
    )
    assert added.status_code == 303, added.text[:2000]
    listing = client.get(where).text
    assert "2025-06-10 17:00:00 CDT" in listing
    list_id = int(where.rsplit("/", 1)[1])
    [entry] = platform.hotlists.entries(network.palm.investigator, list_id)
    assert entry["expires"] == "2025-06-10T22:00:00.000Z"


def test_agreement_last_day_is_a_date_in_the_users_zone(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "admin"))
    set_zone(client, CHICAGO)
    page = client.get("/ui/admin/sharing").text
    assert f"Last day in force ({CHICAGO})" in page
    form = {
        "csrf": csrf_of(page),
        "owner": network.harbor.slug,
        "query_kinds": "plate",
        "purposes": "stolen_vehicle",
        "max_lookback_days": "30",
        "expires": "2025-12-31",
        "attestation": "",
    }
    assert client.post("/ui/admin/sharing/request", data=form).status_code == 303
    [view] = platform.agreements.listing(network.palm.admin, manage=True)
    # In force to the end of 31 December in Chicago (06:00 UTC on 1 January, CST).
    assert view.requested_terms["expires_ms"] == 1_767_247_200_000
    assert "until 2026-01-01 00:00:00 CST" in client.get("/ui/admin/sharing").text


def test_api_me_and_its_time_zone(client: TestClient, platform: Platform, network: WebNetwork) -> None:
    auth = {"Authorization": f"Bearer {network.palm.tokens['investigator']}"}
    me = client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json() == {
        "username": "palm-pd-investigator",
        "role": "investigator",
        "agency": "palm-pd",
        "time_zone": None,
    }
    put = client.put("/api/v1/me/time-zone", headers=auth, json={"time_zone": "Europe/Berlin"})
    assert put.status_code == 200, put.text
    assert put.json()["time_zone"] == "Europe/Berlin"
    assert client.get("/api/v1/me", headers=auth).json()["time_zone"] == "Europe/Berlin"
    bad = client.put("/api/v1/me/time-zone", headers=auth, json={"time_zone": "Europe/Atlantis"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["field"] == "time_zone"
    assert "Europe/Atlantis" in bad.json()["detail"]
    # The API's own times stay UTC whatever the zone.
    assert entries(platform, "user.time_zone_set") == [
        {"username": "palm-pd-investigator", "old": None, "new": "Europe/Berlin"}
    ]


def test_a_user_sets_only_its_own_zone_an_admin_its_agencys(platform: Platform, network: WebNetwork) -> None:
    investigator, admin = network.palm.investigator, network.palm.admin
    with pytest.raises(PermissionDenied, match="only admins"):
        platform.registry.set_time_zone(investigator, "palm-pd-auditor", CHICAGO)
    assert platform.registry.set_time_zone(admin, "palm-pd-auditor", CHICAGO) == CHICAGO
    with pytest.raises(NotFound, match="no user named 'harbor-pd-auditor'"):  # another agency's: unseen
        platform.registry.set_time_zone(admin, "harbor-pd-auditor", CHICAGO)
    assert [e["operation"] for e in entries(platform, "action.refused")] == ["user.create", "user.create"]


def test_cli_sets_a_users_zone(settings: Settings, platform: Platform, network: WebNetwork) -> None:
    platform.close()
    runner = CliRunner()
    args = ["users", "time-zone", "palm-pd-investigator", "Asia/Kolkata", "--data", str(settings.data)]
    done = runner.invoke(cli_app, args)
    assert done.exit_code == 0, done.output
    assert "Asia/Kolkata" in done.stdout
    bad = runner.invoke(cli_app, [*args[:3], "Asia/Nowhere", "--data", str(settings.data)])
    assert bad.exit_code != 0  # main() prints the detail as one line: "error: time_zone: unknown time zone ..."
    assert isinstance(bad.exception, FieldInvalid)
    assert "unknown time zone 'Asia/Nowhere'" in bad.exception.detail
    reopened = Platform.open(settings, clock=platform.clock)
    try:
        principal = reopened.tokens.authenticate(network.palm.tokens["investigator"])
        assert principal.time_zone == "Asia/Kolkata"
        assert zones.shown(NOW_MS, principal.time_zone) == "2025-06-01 17:30:00 IST"
    finally:
        reopened.close()


# -- compressed static assets and pages ---------------------------------------------------------------------------


def test_static_assets_and_pages_are_gzipped_with_caching_headers(client: TestClient, network: WebNetwork) -> None:
    gzip = {"Accept-Encoding": "gzip"}
    asset = client.get("/ui/static/app.css", headers=gzip)
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in asset.headers["vary"]
    assert asset.headers["cache-control"] == "no-cache"
    assert asset.headers["etag"].startswith('W/"')
    assert "body" in asset.text  # the client decoded it: real CSS
    assert int(asset.headers["content-length"]) < len(asset.content)
    again = client.get("/ui/static/app.css", headers={**gzip, "If-None-Match": asset.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/ui/static/app.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] == asset.headers["etag"].removeprefix("W/")
    sign_in(client, network.user(network.palm, "investigator"))
    page = client.get("/ui/search", headers=gzip)
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-store"  # pages are never kept
    small = client.get("/ui/", headers=gzip)  # a redirect, well under the threshold
    assert "content-encoding" not in small.headers
    api = client.get("/api/v1/me", headers={**gzip, "Authorization": f"Bearer {network.palm.tokens['admin']}"})
    assert "content-encoding" not in api.headers  # the API is left as it is
    public = client.get("/ui/subject-request", headers=gzip)
    assert public.status_code == 200
    assert "content-encoding" not in public.headers  # one length whatever the plate: never compressed


# -- adding a camera without a position ---------------------------------------------------------------------------


def test_adding_a_fixed_camera_without_a_latitude_stays_on_the_cameras_page(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    sign_in(client, network.user(network.palm, "admin"))
    page = client.get("/ui/admin/cameras")
    typed = {"csrf": csrf_of(page.text), "external_id": "dock-1", "name": "Dock gate", "lon": "-122.4"}
    unplaced = client.post("/ui/admin/cameras", data=typed)
    assert unplaced.status_code == 422
    assert 'id="add-error"' in unplaced.text
    assert "a fixed camera needs lat and lon (or register it as mobile)" in unplaced.text
    assert 'id="cam-lat" name="lat" inputmode="decimal" maxlength="32" value="" aria-invalid="true"' in unplaced.text
    assert 'value="dock-1"' in unplaced.text
    assert 'value="Dock gate"' in unplaced.text
    assert 'value="-122.4"' in unplaced.text
    assert 'id="quarantine-title"' in unplaced.text  # the whole cameras page, not an error page
    taken = client.post("/ui/admin/cameras", data={**typed, "external_id": "palm-0", "lat": "37.7"})
    assert taken.status_code == 422
    assert "already exists" in taken.text
    assert (
        'id="external_id" name="external_id" maxlength="64" required value="palm-0" aria-invalid="true"' in taken.text
    )
    added = client.post("/ui/admin/cameras", data={**typed, "lat": "37.79"})
    assert added.status_code == 303
    assert "dock-1" in {
        c.external_id for c in platform.registry.camera_list(network.palm.admin, network.palm.agency.id)
    }


# -- server-side paging -------------------------------------------------------------------------------------------


def test_hot_list_entries_page_on_the_server_with_links_that_keep_the_page_size(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    investigator = network.palm.investigator
    view = platform.hotlists.create(investigator, name="Big", default_purpose="stolen_vehicle")
    bodies = [
        {
            "plate": f"9PG{n:04d}",
            "purpose": "stolen_vehicle",
            "reference": "R",
            "reason": "r",
            "expires": "2025-07-01T00:00:00Z",
        }
        for n in range(130)
    ]
    add_entries(platform.hotlists, investigator, view.id, bodies)
    sign_in(client, network.user(network.palm, "investigator"))
    first = client.get(f"/ui/hotlists/{view.id}?size=50").text
    assert "1–50 of 130" in first
    assert "9PG0049" in first
    assert "9PG0050" not in first
    assert 'rel="prev"' not in first
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following is not None
    assert following.group(1).replace("&amp;", "&") == f"/ui/hotlists/{view.id}?size=50&offset=50"
    last = client.get(f"/ui/hotlists/{view.id}?size=50&offset=100").text
    assert "101–130 of 130" in last
    assert "9PG0129" in last
    assert 'rel="next"' not in last
    assert f'href="/ui/hotlists/{view.id}?size=50&amp;offset=50" rel="prev"' in last
    too_many = client.get(f"/ui/hotlists/{view.id}?size={MAX_PAGE_SIZE + 1}")
    assert too_many.status_code == 422
    assert "text/html" in too_many.headers["content-type"]


def test_alerts_page_shows_the_newest_and_pages_older_ones_by_cursor(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    entry = hot_list(platform, network.palm, "Stolen", "7ALRT01")
    ids = [raise_alert(platform, network.palm, entry, f"read-{n}", plate="7ALRT01") for n in range(SHOWN + 5)]
    sign_in(client, network.user(network.palm, "investigator"))
    newest = client.get("/ui/alerts").text
    assert f'id="alert-{ids[-1]}"' in newest
    assert f'id="alert-{ids[4]}"' not in newest  # the oldest five are on the next page
    assert 'id="alert-template"' in newest  # the live feed
    older = re.search(r'<a href="([^"]+)" rel="next">Older alerts', newest)
    assert older is not None
    assert older.group(1) == f"/ui/alerts?before={ids[5]}"
    page = client.get(older.group(1)).text
    assert [int(i) for i in re.findall(r'id="alert-(\d+)"', page)] == sorted(ids[:5], reverse=True)
    assert 'id="alert-template"' not in page  # an older page has no live feed
    assert 'rel="next"' not in page


# -- area limits for the search form ------------------------------------------------------------------------------


def test_area_limits_name_the_owners_that_may_answer_with_their_policies_limits(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    """Palm's own policy (default: 1,000 m, 24 h); Harbor shares area searches under its policy (wider); Far shares
    plate searches only, so its limits are not Palm's to expect."""
    wide = Policy.model_validate({"area": {"allowed": True, "max_radius_m": 4000, "max_window_hours": 48}})
    platform.policies.set(network.harbor.admin, "harbor-pd", wide)
    for owner, kinds in ((network.harbor, {QueryKind.AREA, QueryKind.PLATE}), (network.far, {QueryKind.PLATE})):
        terms = Terms(
            query_kinds=frozenset(kinds),
            purposes=frozenset({Purpose.STOLEN_VEHICLE}),
            max_lookback_days=30,
            expires_ms=NOW_MS + 30 * 86_400_000,
        )
        asked = platform.agreements.request(network.palm.admin, owner=owner.slug, terms=terms)
        platform.agreements.accept(owner.admin, asked.id)
    limits = platform.areas.limits(network.palm.investigator)
    assert [(a.owner.slug, a.max_radius_m, a.max_window_hours) for a in limits] == [
        ("harbor-pd", 4000, 48),
        ("palm-pd", 1000, 24),
    ]
    with pytest.raises(PermissionDenied):  # auditors never search
        platform.areas.limits(network.palm.auditor)
    sign_in(client, network.user(network.palm, "investigator"))
    page = client.get("/ui/search").text
    assert "<strong>Harbor Police</strong> up to 4,000 m and 48 h; <strong>Palm Police</strong> up to 1,000 m" in page
