"""Agency webhooks against a real local receiver: signed bodies (verified as a receiver would), retries with
backoff and their delivery log, disabling after consecutive failures and re-enabling, covert lists never sent,
admin-only management, all audited."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.alerts.sender import WebhookSender
from plateledger.app import create_app
from plateledger.platform import Platform
from tests.integration.alert_kit import VEHICLE, Receiver, hot_list, raise_alert
from tests.support import AgencyKit, seed_agency


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (docs/alerts.md)."""
    timestamp = headers["x-plateledger-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-plateledger-signature"])


@pytest.fixture
def opened(platform_factory: Callable[..., Platform]) -> Iterator[tuple[Platform, WebhookSender]]:
    platform = platform_factory(
        webhook_retry_base_s=0.05, webhook_max_attempts=3, webhook_disable_after=4, webhook_allow_loopback=True
    )
    sender = WebhookSender(platform.alerts, platform.webhooks, platform.settings, platform.clock)
    sender.start()
    yield platform, sender
    sender.stop()


def auth(kit: AgencyKit, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.tokens[role]}"}


def actions(platform: Platform) -> list[str]:
    return [e.action for e in platform.audit.entries(after_seq=0, limit=100_000)]


def test_signed_alert_retried_until_delivered_and_logged(opened: tuple[Platform, WebhookSender]) -> None:
    platform, sender = opened
    kit = seed_agency(platform, "lister-pd")
    client = TestClient(create_app(platform=platform))
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    covert = hot_list(platform, kit, "covert", "7ABC123", covert=True)
    with Receiver(fail_first=2).running() as receiver:
        created = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth(kit, "admin"))
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["enabled"]
        assert len(hook["secret"]) >= 32
        assert "secret" not in client.get("/api/v1/webhooks", headers=auth(kit, "admin")).json()[0]

        raise_alert(platform, kit, covert, "r0")  # never sent: the receiver is not a viewer of the covert list
        alert_id = raise_alert(platform, kit, entry, "r1", **VEHICLE)
        assert sender.wait_idle(10)

    assert [code for _, _, code in receiver.requests] == [500, 500, 204]
    vehicle = {"make": "Toyota", "model": "Corolla", "color": "red", "type": "sedan"}
    assert orjson.loads(receiver.requests[0][1])["read"]["vehicle"] == vehicle
    for headers, body, _ in receiver.requests:
        assert verify(hook["secret"], headers, body)
        assert not verify(hook["secret"], headers, body + b" ")
        assert orjson.loads(body)["id"] == alert_id
    assert [h["x-plateledger-attempt"] for h, _, _ in receiver.requests] == ["1", "2", "3"]
    assert orjson.loads(receiver.requests[0][1])["verify_first"]

    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(kit, "admin")).json()
    assert [(d["attempt"], d["status"], d["response_code"]) for d in log] == [
        (3, "delivered", 204),
        (2, "retrying", 500),
        (1, "retrying", 500),
    ]
    assert log[1]["next_attempt"] is not None
    assert log[0]["next_attempt"] is None
    assert client.get("/api/v1/webhooks", headers=auth(kit, "admin")).json()[0]["failures"] == 0
    assert "webhook.created" in actions(platform)


def test_webhook_disabled_after_consecutive_failures_then_reenabled(opened: tuple[Platform, WebhookSender]) -> None:
    platform, sender = opened
    kit = seed_agency(platform, "lister-pd")
    client = TestClient(create_app(platform=platform))
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    with Receiver(fail_first=-1).running() as receiver:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth(kit, "admin")).json()
        for n in range(3):
            raise_alert(platform, kit, entry, f"r{n}")
            assert sender.wait_idle(10)
        # 3 attempts for the first alert, then the 4th consecutive failure disables it: nothing more is sent
        assert len(receiver.requests) == 4
        listed = client.get("/api/v1/webhooks", headers=auth(kit, "admin")).json()[0]
        assert (listed["enabled"], listed["failures"]) == (False, 4)
        assert listed["disabled"]
        assert actions(platform).count("webhook.disabled") == 1
        log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(kit, "admin")).json()
        assert [d["status"] for d in log] == ["retrying", "failed", "retrying", "retrying"]

        enabled = client.post(f"/api/v1/webhooks/{hook['id']}/enable", headers=auth(kit, "admin"))
        assert enabled.status_code == 200
        assert (enabled.json()["enabled"], enabled.json()["failures"]) == (True, 0)
        assert actions(platform)[-1] == "webhook.enabled"
        receiver.fail_first = 0
        receiver.requests.clear()
        raise_alert(platform, kit, entry, "r9")
        assert sender.wait_idle(10)
        assert [code for _, _, code in receiver.requests] == [204]


def test_webhooks_are_managed_by_the_agency_admin_only(opened: tuple[Platform, WebhookSender]) -> None:
    platform, _ = opened
    kit = seed_agency(platform, "lister-pd")
    other = seed_agency(platform, "other-pd")
    client = TestClient(create_app(platform=platform))
    body = {"url": "https://hooks.example.org/plateledger"}
    assert client.post("/api/v1/webhooks", json=body, headers=auth(kit, "investigator")).status_code == 403
    bad = client.post("/api/v1/webhooks", json={"url": "ftp://x"}, headers=auth(kit, "admin"))
    assert (bad.status_code, bad.json()["field"]) == (422, "url")
    hook = client.post("/api/v1/webhooks", json=body, headers=auth(kit, "admin")).json()
    for method, path in (
        ("DELETE", f"/api/v1/webhooks/{hook['id']}"),
        ("POST", f"/api/v1/webhooks/{hook['id']}/enable"),
        ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries"),
    ):
        assert client.request(method, path, headers=auth(other, "admin")).status_code == 404
    assert client.get("/api/v1/webhooks", headers=auth(other, "admin")).json() == []
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(kit, "admin")).status_code == 204
    assert client.get("/api/v1/webhooks", headers=auth(kit, "admin")).json() == []
    assert actions(platform)[-1] == "webhook.deleted"
