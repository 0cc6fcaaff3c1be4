"""The subject-request pages in a real browser (headless Chromium, as in test_web_browser.py): a member of the
public asks about a plate from the public pages, without signing in, and gets the same page whatever is held; an
admin of an agency that holds the plate records the keeper's verification, and another admin opens the letter (two
people)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.platform import Platform
from plateledger.store.models import User
from tests.integration.alert_kit import serving
from tests.integration.test_web_browser import Session, browser, pytestmark, shots
from tests.integration.web_kit import PASSWORD, PLATE, WebNetwork, web_network

__all__ = ["browser", "pytestmark", "shots"]  # the fixtures and markers of the browser tests


def _ask(session: Session, plate: str) -> str:
    """Fill and send the form from the public reports page; the reference shown."""
    session.go("/ui/public")
    session.page.get_by_role("link", name="Is my plate held?").first.click()
    session.page.wait_for_url("**/ui/subject-request")
    session.page.fill("#plate", plate)
    session.page.fill("#country", "US")
    session.page.fill("#state", "CA")
    session.page.fill("#name", "Ann Keeper")
    session.page.fill("#email", "ann@example.org")
    session.page.fill("#postal_address", "1 Main St\nPalm City")
    session.page.get_by_role("button", name="Send my request").click()
    session.page.wait_for_selector("#subject-received")
    reference: str = session.page.inner_text("#subject-reference")
    return reference


def test_public_asks_and_an_admin_writes_the_letter(platform: Platform, browser: object, shots: Path) -> None:
    net: WebNetwork = web_network(platform)
    platform.registry.create_user(SYSTEM, agency_slug=net.palm.slug, username="palm-clerk", role="admin")
    with platform.governance.session() as session:
        session.execute(update(User).where(User.username == "palm-clerk").values(password_hash=hash_password(PASSWORD)))
    with serving(platform) as base:
        public = Session(browser, base)
        held = _ask(public, PLATE)
        held_page = public.page.inner_text("main").replace(held, "REF")
        public.page.screenshot(path=shots / "subject-request.png", full_page=True)
        not_held = _ask(public, "7NONE00")
        assert public.page.inner_text("main").replace(not_held, "REF") == held_page
        assert "Nothing is answered online" in held_page
        assert public.close() == []

        clerk = Session(browser, base)
        clerk.sign_in("palm-clerk")
        clerk.page.get_by_role("link", name="Subject requests").click()
        clerk.page.wait_for_url("**/ui/admin/subject-requests")
        clerk.page.get_by_role("link", name=held).click()
        clerk.page.wait_for_selector("#verify-form")
        assert "not verified yet" in clerk.page.inner_text("#subject-verification")
        clerk.page.select_option("#method", "registry_lookup")
        clerk.page.fill("#verified_on", "2025-05-31")
        clerk.page.get_by_role("button", name="Record verification").click()
        clerk.page.wait_for_selector("#letter-second-admin")  # who verified does not write the letter
        assert clerk.close() == []

        admin = Session(browser, base)
        admin.sign_in(net.user(net.palm, "admin"))
        admin.page.get_by_role("link", name="Subject requests").click()
        admin.page.wait_for_url("**/ui/admin/subject-requests")
        admin.page.get_by_role("link", name=held).click()
        admin.page.wait_for_selector("#letter-html")
        assert "registry lookup" in admin.page.inner_text("#subject-verification")
        admin.page.click("#letter-html")
        admin.page.wait_for_selector("#letter")
        letter = admin.page.inner_text("#letter")
        assert "Ann Keeper" in letter
        assert "Plate reads we hold" in letter
        assert "palm-0" not in letter  # no camera, place or time beyond the month
        admin.page.screenshot(path=shots / "subject-letter.png", full_page=True)
        assert admin.close() == []
    entries = [e.action for e in platform.audit.entries(after_seq=0, limit=100_000)]
    assert entries.count("subject_access.requested") == 2
    assert entries.count("subject_access.verified") == 1
    assert entries.count("subject_access.answered") == 1
