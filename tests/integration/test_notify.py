"""E-mail and push notifications of alerts, against a real SMTP server (aiosmtpd) and a real HTTP receiver for an
Apprise ``json://`` target: per-user subscriptions by list or purpose, covert lists only for their viewers, nothing
for a user who lost access, failures logged and retried, Apprise URLs never shown back, logged or audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from typer.testing import CliRunner

from plateledger.alerts.notifier import Notifier
from plateledger.app import create_app
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import SystemClock
from plateledger.core.errors import FieldInvalid, NotFound, PermissionDenied
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.retention.sweep import sweep_alerts
from plateledger.store.models import HotListViewer, User
from tests.integration.alert_kit import VEHICLE, Receiver, hot_list, new_list, raise_alert
from tests.integration.mail_kit import Mailbox, smtp_server
from tests.integration.test_web import BASE, csrf_of, sign_in
from tests.integration.web_kit import web_network
from tests.support import AgencyKit, seed_agency

TOKEN = "tk_Secret0123456789"


@pytest.fixture
def opened(platform_factory: Callable[..., Platform]) -> Iterator[tuple[Platform, Notifier, Mailbox, AgencyKit]]:
    with smtp_server() as mailbox:
        platform = platform_factory(
            notify_retry_base_s=0.05,
            notify_max_attempts=3,
            webhook_allow_loopback=True,
            public_url="https://plates.example.org",
            **mailbox.settings(),
        )
        kit = seed_agency(platform, "notify-pd", roles=("admin", "investigator", "supervisor", "auditor"))
        notifier = Notifier(platform.alerts, platform.notify, platform.settings, platform.clock)
        notifier.start()
        yield platform, notifier, mailbox, kit
        notifier.stop()


def actions(platform: Platform) -> list[str]:
    return [e.action for e in platform.audit.entries(after_seq=0, limit=100_000)]


def test_email_by_list_and_push_by_purpose(opened: tuple[Platform, Notifier, Mailbox, AgencyKit]) -> None:
    platform, notifier, mailbox, kit = opened
    list_id, entry = new_list(platform, kit, "stolen", "7ABC123")
    email = platform.notify.subscribe(kit.investigator, "email", list_id=list_id, address="inv@pd.test")
    assert email["target"] == "inv@pd.test"
    with Receiver().running() as receiver:
        url = receiver.url.replace("http://", "json://") + f"?token={TOKEN}"
        push = platform.notify.subscribe(kit.investigator, "push", purpose="stolen_vehicle", push_urls=[url])
        assert TOKEN not in orjson.dumps(push).decode()
        alert_id = raise_alert(platform, kit, entry, "r1", **VEHICLE)
        assert notifier.wait_idle(10)
        ((rcpt, mail),) = mailbox.wait_for(1)
    assert rcpt == ["inv@pd.test"]
    assert mail["Subject"] == "Plateledger alert: 7ABC123 on stolen"
    text = mail.get_payload(decode=True).decode()
    assert f"https://plates.example.org/ui/alerts#alert-{alert_id}" in text
    assert f"Camera: {kit.cameras[0]}" in text
    assert "\nVehicle: red Toyota Corolla (sedan)\r\n" in text
    assert not mail.is_multipart()  # no image
    ((_, body, _),) = receiver.requests
    pushed = orjson.loads(body)
    assert pushed["title"] == "Plateledger alert: 7ABC123 on stolen"
    assert "Plate: 7ABC123 (US-CA)\nVehicle: red Toyota Corolla (sedan)\n" in pushed["message"]
    for sub in (email, push):
        log = platform.notify.deliveries(kit.investigator, sub["id"])
        assert [(d["alert_id"], d["attempt"], d["status"]) for d in log] == [(alert_id, 1, "delivered")]
    assert actions(platform).count("notify.subscribed") == 2
    audit_text = orjson.dumps([e.params for e in platform.audit.entries(after_seq=0, limit=100_000)]).decode()
    assert TOKEN not in audit_text
    assert TOKEN not in orjson.dumps(platform.notify.listing(kit.investigator)).decode()


def test_covert_list_only_for_its_viewers(opened: tuple[Platform, Notifier, Mailbox, AgencyKit]) -> None:
    platform, notifier, mailbox, kit = opened
    supervisor = kit.principals["supervisor"]
    covert_id, covert = new_list(platform, kit, "covert", "7ABC123", covert=True)
    with pytest.raises(NotFound):  # the supervisor is no viewer: the list is not acknowledged
        platform.notify.subscribe(supervisor, "email", list_id=covert_id, address="sup@pd.test")
    assert "action.refused" in actions(platform)
    platform.notify.subscribe(supervisor, "email", purpose="stolen_vehicle", address="sup@pd.test")
    platform.notify.subscribe(kit.investigator, "email", list_id=covert_id, address="inv@pd.test")
    raise_alert(platform, kit, covert, "r1")
    assert notifier.wait_idle(10)
    received = mailbox.wait_for(1)
    assert [rcpt for rcpt, _ in received] == [["inv@pd.test"]]  # the creator only; the supervisor gets nothing
    assert "Vehicle" not in received[0][1].get_payload(decode=True).decode()  # a read without one: no line
    admin_view = platform.notify.listing(kit.admin, agency_wide=True)
    assert {s["user"] for s in admin_view} == {supervisor.username, kit.investigator.username}
    assert all(s["list"] is None or s["list"]["name"] is None for s in admin_view)  # a covert list stays unnamed


def test_user_who_lost_access_gets_nothing(opened: tuple[Platform, Notifier, Mailbox, AgencyKit]) -> None:
    platform, notifier, mailbox, kit = opened
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    supervisor = kit.principals["supervisor"]
    platform.notify.subscribe(kit.investigator, "email", purpose="stolen_vehicle", address="inv@pd.test")
    platform.notify.subscribe(supervisor, "email", purpose="stolen_vehicle", address="sup@pd.test")
    with platform.governance.session() as session:  # the investigator disabled, the supervisor made an auditor
        session.get_one(User, kit.investigator.user_id).disabled = True
        session.get_one(User, supervisor.user_id).role = "auditor"
    raise_alert(platform, kit, entry, "r1")
    assert notifier.wait_idle(10)
    assert mailbox.wait_for(1, timeout_s=0.5) == []


def test_failures_logged_retried_and_secrets_redacted(
    opened: tuple[Platform, Notifier, Mailbox, AgencyKit], caplog: pytest.LogCaptureFixture
) -> None:
    platform, notifier, _, kit = opened
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    with Receiver(fail_first=-1).running() as receiver:
        url = receiver.url.replace("http://", "json://user:" + TOKEN + "@") + f"/{TOKEN}x"
        sub = platform.notify.subscribe(kit.investigator, "push", purpose="stolen_vehicle", push_urls=[url])
        assert TOKEN not in sub["target"]
        alert_id = raise_alert(platform, kit, entry, "r1")
        assert notifier.wait_idle(10)
    assert len(receiver.requests) == 3
    log = platform.notify.deliveries(kit.investigator, sub["id"])
    assert [(d["attempt"], d["status"]) for d in log] == [(3, "failed"), (2, "retrying"), (1, "retrying")]
    assert log[1]["next_attempt"] is not None
    assert all(d["error"] and d["alert_id"] == alert_id for d in log)
    admin_log = platform.notify.deliveries(kit.admin, sub["id"])  # their admin sees it too
    assert admin_log == log
    everything = orjson.dumps([log, platform.notify.listing(kit.investigator)]).decode() + caplog.text
    everything += orjson.dumps([e.params for e in platform.audit.entries(after_seq=0, limit=100_000)]).decode()
    assert TOKEN not in everything
    with pytest.raises(NotFound):  # another user's subscription is not acknowledged
        platform.notify.deliveries(kit.principals["supervisor"], sub["id"])
    platform.notify.unsubscribe(kit.investigator, sub["id"])
    assert platform.notify.listing(kit.investigator) == []
    assert "notify.unsubscribed" in actions(platform)


@pytest.mark.parametrize(
    ("channel", "options", "field"),
    [
        ("email", {"address": "not an address"}, "address"),
        ("push", {"push_urls": ["mailto://u:p@example.org"]}, "push_urls"),
        ("push", {"push_urls": ["json://"]}, "push_urls"),
        ("push", {"push_urls": []}, "push_urls"),
        ("fax", {"address": "a@b.org"}, "channel"),
    ],
)
def test_bad_subscriptions_name_the_problem(
    opened: tuple[Platform, Notifier, Mailbox, AgencyKit], channel: str, options: dict[str, object], field: str
) -> None:
    platform, _, _, kit = opened
    with pytest.raises(FieldInvalid) as refused:
        platform.notify.subscribe(kit.investigator, channel, purpose="stolen_vehicle", **options)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_push_to_private_hosts_refused_and_auditors_cannot_subscribe(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory()
    kit = seed_agency(platform, "strict-pd")
    with pytest.raises(FieldInvalid, match="public addresses only"):
        platform.notify.subscribe(
            kit.investigator, "push", purpose="stolen_vehicle", push_urls=["json://127.0.0.1:9/hook"]
        )
    with pytest.raises(PermissionDenied):
        platform.notify.subscribe(kit.auditor, "email", purpose="stolen_vehicle", address="a@pd.test")


def test_the_api(opened: tuple[Platform, Notifier, Mailbox, AgencyKit]) -> None:
    platform, _, _, kit = opened
    client = TestClient(create_app(platform=platform))
    inv = {"Authorization": f"Bearer {kit.tokens['investigator']}"}
    admin = {"Authorization": f"Bearer {kit.tokens['admin']}"}
    path = "/api/v1/notifications/subscriptions"
    bad = client.post(path, json={"channel": "email", "purpose": "stolen_vehicle", "address": "nope"}, headers=inv)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "address"
    url = f"ntfys://{TOKEN}@ntfy.example.org/topic"
    created = client.post(path, json={"channel": "push", "purpose": "stolen_vehicle", "push_urls": [url]}, headers=inv)
    assert created.status_code == 201, created.text
    assert TOKEN not in created.text
    assert created.json()["target"] == "ntfys://… (ntfy)"
    sub_id = created.json()["id"]
    assert [s["id"] for s in client.get(path, headers=inv).json()] == [sub_id]
    assert client.get(path, headers=admin).json() == []  # the admin's own
    assert [s["user"] for s in client.get(path, params={"agency": "true"}, headers=admin).json()] == [
        kit.investigator.username
    ]
    assert client.get(path, params={"agency": "true"}, headers=inv).status_code == 403
    assert client.get(f"{path}/{sub_id}/deliveries", headers=admin).json() == []
    assert client.delete(f"{path}/{sub_id}", headers=admin).status_code == 204
    assert client.get(path, headers=inv).json() == []
    assert client.delete(f"{path}/{sub_id}", headers=inv).status_code == 404


def test_the_cli(settings: Settings) -> None:
    platform = Platform.open(settings, clock=SystemClock())
    try:
        kit = seed_agency(platform, "cli-pd")
    finally:
        platform.close()
    token = kit.tokens["investigator"]

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli_app, [*args, "--token", token, "--data", str(settings.data)])
        assert result.exit_code == 0, result.output
        return result.stdout

    created = orjson.loads(run("notify", "subscribe", "--purpose", "stolen_vehicle", "--email", "i@pd.test", "--json"))
    assert created["target"] == "i@pd.test"
    assert "i@pd.test" in run("notify", "list")
    assert orjson.loads(run("notify", "deliveries", str(created["id"]), "--json")) == []
    run("notify", "remove", str(created["id"]))
    assert orjson.loads(run("notify", "list", "--json")) == []
    refused = CliRunner().invoke(
        cli_app, ["notify", "subscribe", "--purpose", "stolen_vehicle", "--push", "mailto://x@y.org", "--token", token,
                  "--data", str(settings.data)],
    )  # fmt: skip
    assert isinstance(refused.exception, FieldInvalid)  # main() prints it as a problem naming the field
    assert refused.exception.field == "push_urls"


def test_account_page_names_bad_input_and_shows_the_admin_every_subscription(platform: Platform) -> None:
    net = web_network(platform)
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        sign_in(client, net.user(net.palm, "investigator"))
        csrf = csrf_of(client.get("/ui/account").text)
        form = {"csrf": csrf, "follows": "purpose:stolen_vehicle", "channel": "push", "push_urls": "mailto://a@b.org"}
        refused = client.post("/ui/account/notifications", data=form)
        assert refused.status_code == 422
        assert "push_urls: &#39;mailto&#39; is not a push service accepted here" in refused.text
        form = {**form, "channel": "email", "address": "inv@palm.test"}
        assert client.post("/ui/account/notifications", data=form).status_code == 303
        assert "inv@palm.test" in client.get("/ui/account").text
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as admin:
        sign_in(admin, net.user(net.palm, "admin"))
        page = admin.get("/ui/account").text
        assert "Your agency's users' e-mail and push subscriptions" in page
        assert f"<td>{net.user(net.palm, 'investigator')}</td>" in page
        assert "inv@palm.test" in page


def test_viewer_removed_from_a_covert_list_gets_nothing_more(
    opened: tuple[Platform, Notifier, Mailbox, AgencyKit],
) -> None:
    platform, notifier, mailbox, kit = opened
    supervisor = kit.principals["supervisor"]
    covert_id, covert = new_list(platform, kit, "covert", "7ABC123", covert=True, viewers=[supervisor.username])
    platform.notify.subscribe(supervisor, "email", list_id=covert_id, address="sup@pd.test")
    raise_alert(platform, kit, covert, "r1")
    assert notifier.wait_idle(10)
    assert [rcpt for rcpt, _ in mailbox.wait_for(1)] == [["sup@pd.test"]]
    with platform.governance.session() as session:
        session.execute(delete(HotListViewer).where(HotListViewer.hot_list_id == covert_id))
    raise_alert(platform, kit, covert, "r2")
    assert notifier.wait_idle(10)
    assert len(mailbox.wait_for(2, timeout_s=0.5)) == 1


def test_email_failures_are_logged_and_retried(platform_factory: Callable[..., Platform]) -> None:
    with smtp_server() as mailbox:
        # STARTTLS asked of a server that offers none: every attempt fails.
        smtp = {**mailbox.settings(), "smtp_tls": "starttls"}
        platform = platform_factory(notify_retry_base_s=0.05, notify_max_attempts=2, **smtp)
        kit = seed_agency(platform, "tls-pd")
        notifier = Notifier(platform.alerts, platform.notify, platform.settings, platform.clock)
        notifier.start()
        try:
            sub = platform.notify.subscribe(kit.investigator, "email", purpose="stolen_vehicle", address="i@pd.test")
            raise_alert(platform, kit, hot_list(platform, kit, "stolen", "7ABC123"), "r1")
            assert notifier.wait_idle(10)
        finally:
            notifier.stop()
    log = platform.notify.deliveries(kit.investigator, sub["id"])
    assert [(d["attempt"], d["status"]) for d in log] == [(2, "failed"), (1, "retrying")]
    assert all("STARTTLS" in d["error"] for d in log), log
    assert mailbox.received == []


def test_retention_deletes_an_alerts_deliveries_with_it(opened: tuple[Platform, Notifier, Mailbox, AgencyKit]) -> None:
    platform, notifier, _, kit = opened
    sub = platform.notify.subscribe(kit.investigator, "email", purpose="stolen_vehicle", address="inv@pd.test")
    raise_alert(platform, kit, hot_list(platform, kit, "stolen", "7ABC123"), "r1")
    assert notifier.wait_idle(10)
    assert len(platform.notify.deliveries(kit.investigator, sub["id"])) == 1
    later = platform.clock.now_ms() + 1
    with platform.governance.session() as session:  # the read is past its owner's limit
        assert sweep_alerts(session, {kit.agency.id: (later, later)}, held=set()) == 1
    assert platform.notify.deliveries(kit.investigator, sub["id"]) == []
