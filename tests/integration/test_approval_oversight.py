"""Break-glass searches in the oversight review queue, and approval notices on the alert channels.

An open break-glass search shows in the review queue of the agency whose supervisor must review it (API, CLI, web),
with its evidence, marked overdue past 24 hours and counted so in the transparency report; showing it is audited;
no other agency's queue shows it; an auditor cannot review it; once a supervisor reviewed it (the one decision
path: ``break_glass.review``) it leaves the queue. A held search and a break-glass search notify the approving
agency's webhooks (a real receiver) and MQTT topic (a real broker), with no plate, place or query in the notice.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from plateledger.alerts.mqtt import MqttPublisher
from plateledger.alerts.sender import WebhookSender
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.auth.passwords import hash_password
from plateledger.cli.main import app
from plateledger.core.clock import FixedClock, SystemClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import ApprovalRules, Policy
from plateledger.store.models import User
from tests.integration.alert_kit import Receiver
from tests.integration.mqtt_kit import start_broker
from tests.integration.test_alert_mqtt import Subscriber
from tests.integration.test_alert_webhooks import verify
from tests.integration.test_web import BASE, sign_in
from tests.support import HOUR_MS, AgencyKit, free_port, ingest, read, seed_agency

ROLES = ("admin", "investigator", "supervisor", "auditor", "device")
PASSWORD = "correct horse battery"
LAT, LON = "37.7749", "-122.4194"
NOTE = "child missing, vehicle seen leaving"


def seed(platform: Platform, now_ms: int) -> tuple[AgencyKit, AgencyKit]:
    city = seed_agency(platform, "city", roles=ROLES)
    county = seed_agency(platform, "county", roles=ROLES)
    ingest(platform, city, [read("ABC123", camera="city-fixed", ts=now_ms - 2 * HOUR_MS)])
    platform.policies.set(SYSTEM, "city", Policy(approval=ApprovalRules(area=True)))
    return city, county


def ask(now_ms: int, **extra: str) -> dict[str, str]:
    return {
        "purpose": "violent_crime",
        "case_number": "2025-000999",
        "lat": LAT,
        "lon": LON,
        "radius_m": "500",
        "since": str(now_ms - 3 * HOUR_MS),
        "until": str(now_ms - HOUR_MS),
        **extra,
    }


def auth(kit: AgencyKit, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def viewed(platform: Platform) -> list[dict[str, Any]]:
    return [
        orjson.loads(e.params)
        for e in platform.audit.entries(after_seq=0, limit=100_000)
        if e.action == "oversight.break_glass_viewed"
    ]


def test_break_glass_in_the_review_queue_until_reviewed(gov_platform: Platform, clock: FixedClock) -> None:
    platform = gov_platform
    now = clock.now_ms()
    city, county = seed(platform, now)
    client = TestClient(create_app(platform=platform))
    ran = client.get(
        "/api/v1/search/area", params=ask(now, break_glass="true", note=NOTE), headers=auth(city, "investigator")
    )
    assert ran.status_code == 200, ran.text
    item_id = ran.json()["approval_request"]
    queue_path = "/api/v1/agencies/city/oversight/flags"

    queue = client.get(queue_path, headers=auth(city, "auditor")).json()
    (item,) = queue["break_glass"]
    assert item["id"] == item_id
    assert (item["requested_by"], item["requester"], item["note"], item["overdue"]) == (
        "city-investigator",
        "city",
        NOTE,
        False,
    )
    assert item["query"]["radius_m"] == 500
    assert item["reasons"] == {"city": "approval required: agency's policy: area searches need a supervisor's approval"}
    assert item["review_due"]
    assert item["purpose"] == "violent_crime"
    assert queue["break_glass_counts"] == {"open": 1, "overdue": 0}
    assert viewed(platform) == [{"agency": "city", "requests": [item_id]}]

    # Another agency's queue never shows it; its people cannot open this agency's queue; the table still holds.
    assert (
        client.get("/api/v1/agencies/county/oversight/flags", headers=auth(county, "auditor")).json()["break_glass"]
        == []
    )
    assert client.get(queue_path, headers=auth(county, "auditor")).status_code == 403
    assert client.get(queue_path, headers=auth(county, "supervisor")).status_code == 403
    assert client.get(queue_path, headers=auth(city, "supervisor")).status_code == 403  # oversight.review: not theirs
    assert client.get(queue_path, headers=auth(city, "investigator")).status_code == 403
    assert len(viewed(platform)) == 1

    # Past 24 hours: overdue, in the queue and in the transparency report.
    clock.advance(25 * HOUR_MS)
    queue = client.get(queue_path, headers=auth(city, "admin")).json()
    assert [(i["id"], i["overdue"]) for i in queue["break_glass"]] == [(item_id, True)]
    assert queue["break_glass_counts"] == {"open": 1, "overdue": 1}
    report = client.get("/transparency/city.json").json()
    assert report["approvals"]["break_glass"] == {"total": 1, "open": 1, "overdue": 1, "reviewed": 0}

    # One decision path: the auditor cannot review, nor another agency's supervisor; the city's supervisor does.
    review = f"/api/v1/break-glass/{item_id}/review"
    assert client.post(review, json={"note": "fine"}, headers=auth(city, "auditor")).status_code == 403
    assert client.post(review, json={"note": "fine"}, headers=auth(county, "supervisor")).status_code == 404
    assert client.post(review, json={"note": "fine"}, headers=auth(city, "investigator")).status_code == 403
    done = client.post(review, json={"note": "justified: child found"}, headers=auth(city, "supervisor"))
    assert done.json()["state"] == "reviewed"

    queue = client.get(queue_path, headers=auth(city, "auditor")).json()
    assert queue["break_glass"] == []
    assert queue["break_glass_counts"] == {"open": 0, "overdue": 0}
    assert len(viewed(platform)) == 2  # nothing shown, nothing recorded
    report = client.get("/transparency/city.json").json()
    assert report["approvals"]["break_glass"] == {"total": 1, "open": 0, "overdue": 0, "reviewed": 1}


def cli(settings: Settings, *args: str, json: bool = True) -> Any:
    result = CliRunner().invoke(app, [*args, "--data", str(settings.data), *(["--json"] if json else [])])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout) if json else result.stdout


def test_cli_and_web_show_the_break_glass_item(settings: Settings) -> None:
    now = SystemClock().now_ms()
    platform = Platform.open(settings, clock=SystemClock())
    try:
        city, county = seed(platform, now)
        with platform.governance.session() as session:
            session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
        client = TestClient(create_app(platform=platform))
        ran = client.get(
            "/api/v1/search/area", params=ask(now, break_glass="true", note=NOTE), headers=auth(city, "investigator")
        )
        item_id = ran.json()["approval_request"]
        web = create_app(platform=platform)
        auditor = sign_in(TestClient(web, base_url=BASE, follow_redirects=False), "city-auditor", PASSWORD)
        page = auditor.get("/ui/oversight")
        assert "Break-glass searches awaiting review" in page.text
        assert f"#{item_id} area" in page.text
        assert NOTE in page.text
        other = sign_in(TestClient(web, base_url=BASE, follow_redirects=False), "county-auditor", PASSWORD)
        assert "Break-glass searches awaiting review" not in other.get("/ui/oversight").text
    finally:
        platform.close()
    answer = cli(settings, "oversight", "queue", "--agency", "city", "--token", city.tokens["auditor"])
    assert [i["id"] for i in answer["break_glass"]] == [item_id]
    text = cli(settings, "oversight", "queue", "--agency", "city", "--token", city.tokens["auditor"], json=False)
    assert f"#{item_id} area search by city/city-investigator" in text
    assert NOTE in text
    other = cli(settings, "oversight", "queue", "--agency", "county", "--token", county.tokens["auditor"])
    assert other["break_glass"] == []


# -- notices on the alert channels -------------------------------------------------------------------------------
FORBIDDEN = ("ABC123", LAT, LON, "2025-000999", "violent_crime", NOTE, "radius")


def assert_no_detail(body: bytes) -> None:
    text = body.decode()
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} in a notice"


@pytest.fixture
def opened(platform_factory: Callable[..., Platform]) -> Iterator[tuple[Platform, WebhookSender]]:
    platform = platform_factory(webhook_retry_base_s=0.05, webhook_max_attempts=3, webhook_allow_loopback=True)
    sender = WebhookSender(
        platform.alerts, platform.webhooks, platform.settings, platform.clock, approvals=platform.approvals
    )
    sender.start()
    yield platform, sender
    sender.stop()


def test_held_and_break_glass_searches_notify_the_approvers_webhooks(opened: tuple[Platform, WebhookSender]) -> None:
    platform, sender = opened
    now = platform.clock.now_ms()
    city, county = seed(platform, now)
    client = TestClient(create_app(platform=platform))
    with Receiver(fail_first=1).running() as receiver, Receiver().running() as elsewhere:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth(city, "admin")).json()
        client.post("/api/v1/webhooks", json={"url": elsewhere.url}, headers=auth(county, "admin"))
        held = client.get("/api/v1/search/area", params=ask(now, note=NOTE), headers=auth(city, "investigator"))
        assert held.status_code == 403
        request_id = held.json()["approval_request"]
        glass = client.get(
            "/api/v1/search/area", params=ask(now, break_glass="true", note=NOTE), headers=auth(city, "investigator")
        )
        item_id = glass.json()["approval_request"]
        assert sender.wait_idle(10)

    assert elsewhere.requests == []  # another agency's channels hear nothing
    delivered = [(h, b) for h, b, code in receiver.requests if code == 204]
    assert len(receiver.requests) == 3  # the first attempt failed and was retried
    bodies = {}
    for headers, body in delivered:
        assert verify(hook["secret"], headers, body)
        assert "x-plateledger-alert" not in headers
        assert_no_detail(body)
        notice = orjson.loads(body)
        assert headers["x-plateledger-event"] == notice["event"]
        assert headers["x-plateledger-approval"] == str(notice["request"])
        bodies[notice["event"]] = notice
    requested, ran = bodies["approval.requested"], bodies["break_glass.ran"]
    assert requested == {
        "event": "approval.requested",
        "request": request_id,
        "kind": "area",
        "break_glass": False,
        "requester": "city",
        "requested_by": "city-investigator",
        "reasons": requested["reasons"],
        "created": requested["created"],
        "review_due": None,
        "link": "/api/v1/approvals?state=pending",
        "web": "/ui/approvals",
    }
    assert requested["reasons"] == ["approval required: agency's policy: area searches need a supervisor's approval"]
    assert (ran["request"], ran["break_glass"], ran["link"]) == (item_id, True, "/api/v1/break-glass?state=open")
    assert ran["review_due"] is not None

    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(city, "admin")).json()
    logged = sorted((d["approval_request"], d["status"]) for d in log)
    assert logged.count((request_id, "delivered")) == logged.count((item_id, "delivered")) == 1
    assert len([s for _, s in logged if s == "retrying"]) == 1
    assert all(d["alert_id"] is None for d in log)


def test_notices_are_published_on_mqtt(platform: Platform) -> None:
    port = free_port()
    broker: subprocess.Popen[bytes] = start_broker(port)
    try:
        now = platform.clock.now_ms()
        city, _ = seed(platform, now)
        subscriber = Subscriber(port, "plateledger/+/approvals")
        publisher = MqttPublisher(
            platform.alerts,
            platform.governance,
            f"mqtt://127.0.0.1:{port}",
            "plateledger",
            approvals=platform.approvals,
        )
        publisher.start()
        try:
            client = TestClient(create_app(platform=platform))
            held = client.get("/api/v1/search/area", params=ask(now, note=NOTE), headers=auth(city, "investigator"))
            request_id = held.json()["approval_request"]
            messages = subscriber.wait_for(1)
        finally:
            publisher.stop()
        assert [(topic, body["event"], body["request"]) for topic, body in messages] == [
            ("plateledger/city/approvals", "approval.requested", request_id)
        ]
        assert_no_detail(orjson.dumps(messages[0][1]))
    finally:
        broker.terminate()
        broker.wait(timeout=10)
        time.sleep(0)
