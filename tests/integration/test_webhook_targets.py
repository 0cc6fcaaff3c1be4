"""Webhooks reach public https:// endpoints only: refused at registration (API) and re-checked before each delivery
(DNS may change). No traffic leaves 127.0.0.1: "public" targets are checked at validation only, and names are
resolved by a resolver the test gives (the network edge) where a test needs a name to change its answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from plateledger.alerts.sender import WebhookSender
from plateledger.alerts.targets import TargetGuard, refusal
from plateledger.app import create_app
from plateledger.core.errors import ConfigurationError, FieldInvalid
from plateledger.core.settings import load_settings
from plateledger.platform import Platform
from tests.integration.alert_kit import Receiver, hot_list, raise_alert
from tests.support import AgencyKit, seed_agency

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
]
#: Refused at registration through the API, each for its form or because its host resolves to a non-public
#: address (the system resolver reads the numeric spellings; none of these names needs DNS).
REFUSED_URLS = [
    "http://hooks.example.org/plateledger",
    "ftp://hooks.example.org/",
    "https://user:secret@hooks.example.org/",
    "https://127.0.0.1/hook",
    "https://localhost:8443/hook",
    "https://2130706433/hook",  # 127.0.0.1 as one decimal number
    "https://0177.0.0.1/hook",  # octal
    "https://0x7f.1/hook",
    "https://127.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "https://[fd00::1]/hook",
    "https://224.0.0.1/hook",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.fixture
def admin(platform: Platform) -> tuple[TestClient, dict[str, str]]:
    kit = seed_agency(platform, "lister-pd", roles=("admin",))
    return TestClient(create_app(platform=platform)), {"Authorization": f"Bearer {kit.tokens['admin']}"}


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_registration_refuses_non_public_targets(admin: tuple[TestClient, dict[str, str]], url: str) -> None:
    client, headers = admin
    refused = client.post("/api/v1/webhooks", json={"url": url}, headers=headers)
    assert (refused.status_code, refused.json()["field"]) == (422, "url"), refused.text
    assert client.get("/api/v1/webhooks", headers=headers).json() == []


def test_registration_accepts_a_public_https_name(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = admin
    created = client.post("/api/v1/webhooks", json={"url": "https://hooks.example.org/plateledger"}, headers=headers)
    assert created.status_code == 201, created.text


def test_the_development_setting_allows_http_and_loopback_only() -> None:
    guard = TargetGuard(allow_loopback=True)
    guard.validate("http://127.0.0.1:9/hook")
    guard.validate("http://[::1]:9/hook")
    with pytest.raises(FieldInvalid, match="private"):
        guard.validate("http://10.0.0.1/hook")
    with pytest.raises(ConfigurationError, match="webhook_allow_loopback"):
        load_settings(environment="production", webhook_allow_loopback=True)


def test_a_name_that_resolves_to_several_addresses_is_refused_if_any_is_not_public() -> None:
    guard = TargetGuard(resolve=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(FieldInvalid, match=r"10\.0\.0\.7"):
        guard.validate("https://hooks.example.org/")


class Rebinding:
    """A name whose DNS answer changes after the webhook is registered (DNS rebinding)."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first]
        self.then = then

    def __call__(self, host: str, port: int) -> list[str]:
        return [self.answers.pop()] if self.answers else [self.then]


@pytest.fixture
def sending(platform_factory: Callable[..., Platform]) -> Iterator[tuple[Platform, WebhookSender, AgencyKit]]:
    platform = platform_factory(webhook_retry_base_s=0.01, webhook_max_attempts=1)
    sender = WebhookSender(platform.alerts, platform.webhooks, platform.settings, platform.clock)
    sender.start()
    yield platform, sender, seed_agency(platform, "lister-pd")
    sender.stop()


def test_delivery_checks_the_address_again(sending: tuple[Platform, WebhookSender, AgencyKit]) -> None:
    platform, sender, kit = sending
    platform.webhooks.guard = TargetGuard(resolve=Rebinding("93.184.215.14", "127.0.0.1"))
    hook = platform.webhooks.create(kit.admin, "https://rebind.example.org/hook")
    entry = hot_list(platform, kit, "stolen", "7ABC123")
    with Receiver().running() as receiver:
        raise_alert(platform, kit, entry, "r1")
        assert sender.wait_idle(10)
    assert receiver.requests == []
    (delivery,) = platform.webhooks.deliveries(kit.admin, hook["id"])
    assert delivery["status"] == "failed"
    assert delivery["error"].startswith("target refused: rebind.example.org resolves to 127.0.0.1, a loopback")


def test_delivery_goes_to_the_address_it_checked(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory(webhook_allow_loopback=True)
    kit = seed_agency(platform, "lister-pd")
    sender = WebhookSender(platform.alerts, platform.webhooks, platform.settings, platform.clock)
    sender.start()
    try:
        platform.webhooks.guard = TargetGuard(allow_loopback=True, resolve=lambda host, port: ["127.0.0.1"])
        with Receiver().running() as receiver:
            port = receiver.url.split(":")[2].split("/")[0]
            platform.webhooks.create(kit.admin, f"http://receiver.example.org:{port}/hook")
            raise_alert(platform, kit, hot_list(platform, kit, "stolen", "7ABC123"), "r1")
            assert sender.wait_idle(10)
    finally:
        sender.stop()
    ((headers, _, code),) = receiver.requests
    assert (code, headers["host"]) == (204, f"receiver.example.org:{port}")
