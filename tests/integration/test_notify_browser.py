"""Issue 20, item 5 in a real browser: an investigator adds an e-mail subscription on the account page, an alert
fires, and the e-mail arrives at a real SMTP server (aiosmtpd); the delivery log shows it delivered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from plateledger.alerts.notifier import Notifier
from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list, serving
from tests.integration.mail_kit import smtp_server
from tests.integration.test_web_browser import Session, browser, pytestmark, shots
from tests.integration.web_kit import WebNetwork, web_network
from tests.support import NOW_MS, ingest, read

__all__ = ["browser", "pytestmark", "shots"]  # the fixtures and markers of the browser tests
PLATE = "7MAIL01"


def test_email_subscription_from_the_account_page(
    platform_factory: Callable[..., Platform], browser: object, shots: Path
) -> None:
    with smtp_server() as mailbox:
        platform = platform_factory(public_url="https://plates.example.org", **mailbox.settings())
        net: WebNetwork = web_network(platform)
        hot_list(platform, net.palm, "Stolen cars", PLATE)
        notifier = Notifier(platform.alerts, platform.notify, platform.settings, platform.clock)
        notifier.start()
        try:
            with serving(platform) as base:
                person = Session(browser, base)
                page = person.page
                person.sign_in(net.user(net.palm, "investigator"))
                person.go("/ui/account")
                section = page.locator("#notifications")
                section.get_by_label("Alerts of").select_option(label="list Stolen cars")
                section.get_by_label("By").select_option("email")
                section.get_by_label("E-mail address").fill("investigator@palm.test")
                section.get_by_role("button", name="Subscribe").click()
                page.wait_for_url("**/ui/account#notifications")
                row = section.locator("tbody tr", has_text="investigator@palm.test")
                assert "list Stolen cars" in row.inner_text()

                ingest(platform, net.palm, [read(PLATE, camera="palm-1", ts=NOW_MS - 60_000)])
                ((rcpt, mail),) = mailbox.wait_for(1)
                assert rcpt == ["investigator@palm.test"]
                assert mail["Subject"] == f"Plateledger alert: {PLATE} on Stolen cars"
                (alert,) = platform.alerts.listing(net.palm.investigator)
                assert f"https://plates.example.org/ui/alerts#alert-{alert['id']}" in mail.get_payload()

                assert notifier.wait_idle(10)
                row.get_by_role("link", name="Delivery log").click()
                assert "delivered" in page.locator("tbody").inner_text()
                page.screenshot(path=str(shots / "notification-deliveries.png"))
                assert person.close() == []
        finally:
            notifier.stop()
