"""Two-person approval through the CLI and the web UI (server-rendered, and in a real Chromium): the held area
search answers "approval required" with the request id and no reads, another agency's supervisor cannot approve,
the right supervisor approves, the identical search runs once and not twice, and a changed one is refused."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.cli.main import app
from plateledger.core.clock import SystemClock
from plateledger.core.errors import ApprovalRequired, NotFound, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import ApprovalRules, Policy
from plateledger.store.models import User
from tests.integration.test_web import BASE, csrf_of, sign_in
from tests.integration.web_kit import submit
from tests.support import HOUR_MS, AgencyKit, ingest, read, seed_agency

ROLES = ("admin", "investigator", "supervisor", "auditor", "device")
PASSWORD = "correct horse battery"
LAT, LON = "37.7749", "-122.4194"


def seed(platform: Platform, now_ms: int) -> tuple[AgencyKit, AgencyKit]:
    city = seed_agency(platform, "city", roles=ROLES)
    county = seed_agency(platform, "county", roles=ROLES)
    ingest(platform, city, [read("ABC123", camera="city-fixed", ts=now_ms - 2 * HOUR_MS)])
    platform.policies.set(SYSTEM, "city", Policy(approval=ApprovalRules(area=True)))
    with platform.governance.session() as session:
        session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    return city, county


# -- CLI ---------------------------------------------------------------------------------------------------------
def cli(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--data", str(settings.data), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_cli_approval_flow(settings: Settings) -> None:
    now = int(time.time() * 1000)
    platform = Platform.open(settings, clock=SystemClock())
    try:
        city, county = seed(platform, now)
    finally:
        platform.close()
    ask = [
        "search", "area", "--purpose", "violent_crime", "--case", "C-1", "--lat", LAT, "--lon", LON,
        "--radius-m", "500", "--since", str(now - 3 * HOUR_MS), "--until", str(now - HOUR_MS),
    ]  # fmt: skip
    token = ["--token", city.tokens["investigator"]]
    with pytest.raises(ApprovalRequired) as held:
        cli(settings, *ask, *token)
    assert held.value.exit_code == 12
    request_id = held.value.request_id

    listed = cli(settings, "approvals", "list", "--token", city.tokens["supervisor"])
    assert [r["id"] for r in listed["requests"]] == [request_id]
    with pytest.raises(NotFound):
        cli(settings, "approvals", "approve", str(request_id), "--note", "ok", "--token", county.tokens["supervisor"])
    with pytest.raises(PermissionDenied):
        cli(settings, "approvals", "approve", str(request_id), "--note", "ok", "--token", city.tokens["investigator"])
    approved = cli(
        settings, "approvals", "approve", str(request_id), "--note", "ok", "--token", city.tokens["supervisor"]
    )
    assert approved["state"] == "approved"

    changed = [*ask[:-1], str(now - HOUR_MS + 1)]
    with pytest.raises(PermissionDenied, match="differs"):
        cli(settings, *changed, *token, "--approval", str(request_id))
    ran = cli(settings, *ask, *token, "--approval", str(request_id))
    assert (ran["count"], ran["approval_request"]) == (1, request_id)
    with pytest.raises(PermissionDenied, match="already used"):
        cli(settings, *ask, *token, "--approval", str(request_id))

    glass = cli(settings, *ask, *token, "--break-glass", "--note", "child missing")
    assert glass["break_glass"] is True
    items = cli(settings, "approvals", "break-glass", "--token", city.tokens["supervisor"])["items"]
    assert [i["id"] for i in items] == [glass["approval_request"]]
    cli(
        settings,
        "approvals",
        "review",
        str(glass["approval_request"]),
        "--note",
        "fine",
        "--token",
        city.tokens["supervisor"],
    )
    assert cli(settings, "approvals", "break-glass", "--token", city.tokens["supervisor"])["items"] == []


# -- web (server-rendered) ---------------------------------------------------------------------------------------
def form(now_ms: int, **extra: str) -> dict[str, str]:
    return {
        "mode": "area",
        "lat": LAT,
        "lon": LON,
        "radius_m": "500",
        "since": str(now_ms - 3 * HOUR_MS),
        "until": str(now_ms - HOUR_MS),
        "purpose": "violent_crime",
        "case_number": "C-1",
        **extra,
    }


def test_web_approval_flow(platform: Platform) -> None:
    now = platform.clock.now_ms()
    seed(platform, now)
    web = create_app(platform=platform)
    me, boss, other = (
        sign_in(TestClient(web, base_url=BASE, follow_redirects=False), user)
        for user in ("city-investigator", "city-supervisor", "county-supervisor")
    )

    page = me.post("/ui/search", data={"csrf": csrf_of(me.get("/ui/search").text), **form(now)})
    assert page.status_code == 403
    assert "Approval required." in page.text
    found = re.search(r'id="approval-request">([0-9]+)<', page.text)
    assert found
    request_id = found.group(1)
    assert "reads-table" not in page.text

    listing = boss.get("/ui/approvals")
    assert f"Request #{request_id}" in listing.text
    assert f"Request #{request_id}" not in other.get("/ui/approvals").text
    denied = other.post(
        f"/ui/approvals/{request_id}/decide",
        data={"csrf": csrf_of(other.get("/ui/approvals").text), "decision": "approve", "note": "ok"},
    )
    assert denied.status_code == 404
    done = boss.post(
        f"/ui/approvals/{request_id}/decide",
        data={"csrf": csrf_of(listing.text), "decision": "approve", "note": "case checked"},
    )
    assert done.status_code == 303

    csrf = csrf_of(me.get("/ui/search").text)
    ran = me.post("/ui/search", data={"csrf": csrf, **form(now, approval=request_id)})
    assert ran.status_code == 200, ran.text
    assert f"approval request #{request_id}" in ran.text
    again = me.post("/ui/search", data={"csrf": csrf, **form(now, approval=request_id)})
    assert again.status_code == 403
    assert "already used" in again.text


# -- browser -----------------------------------------------------------------------------------------------------
CHROMIUM = Path(os.environ.get("PLATELEDGER_TEST_CHROMIUM", "/usr/bin/chromium"))


@pytest.mark.browser
@pytest.mark.slow
def test_browser_approval_flow(platform: Platform, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.integration.alert_kit import serving

    now = platform.clock.now_ms()
    seed(platform, now)
    with serving(platform) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:

            def person(username: str) -> Any:
                page = browser.new_context().new_page()
                page.set_default_timeout(15_000)
                page.goto(base + "/ui/sign-in")
                page.fill("#username", username)
                page.fill("#password", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(lambda url: "/ui/sign-in" not in url)
                return page

            def search(page: Any, approval: str = "") -> None:
                page.goto(base + "/ui/search")
                page.check("input[name=mode][value=area]")
                page.fill("#lat", LAT)
                page.fill("#lon", LON)
                page.fill("#radius_m", "500")
                page.fill("#since", time.strftime("%Y-%m-%dT%H:%M", time.gmtime((now - 3 * HOUR_MS) / 1000)))
                page.fill("#until", time.strftime("%Y-%m-%dT%H:%M", time.gmtime((now - HOUR_MS) / 1000)))
                page.select_option("#purpose", "violent_crime")
                page.fill("#case_number", "C-1")
                page.fill("#approval", approval)
                submit(page)

            me = person("city-investigator")
            search(me)
            assert "Approval required." in me.locator("#search-error").inner_text()
            request_id = me.locator("#approval-request").inner_text()
            me.screenshot(path=tmp_path / "approval-required.png")

            boss = person("city-supervisor")
            boss.goto(base + "/ui/approvals")
            card = boss.locator(f"#request-{request_id}")
            card.locator("input[name=note]").fill("case file checked")
            card.get_by_role("button", name="Approve").click()
            boss.wait_for_url(f"**/ui/approvals#request-{request_id}")
            assert "No searches are waiting for approval." in boss.locator("#pending").inner_text()
            assert "approved" in boss.locator("#decided").inner_text()

            search(me, request_id)
            assert f"approval request #{request_id}" in me.locator("#obtained-under").inner_text()
            search(me, request_id)
            assert "already used" in me.locator("#search-error").inner_text()
        finally:
            browser.close()
