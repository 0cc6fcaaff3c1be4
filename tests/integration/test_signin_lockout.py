"""Issue 15, defect 10: the sign-in lockout cannot be turned against a user, refusals do not tell whether a
username exists, and every audit entry made for an HTTP request records the client address (the socket peer, or
``X-Forwarded-For`` only from a configured trusted proxy); CLI entries have none. Through the API's
``/auth/login``, the web sign-in, and the audit listings of the API, the web UI and the CLI."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.auth.signin import REFUSED
from plateledger.cli.main import app as cli_app
from plateledger.core.clock import FixedClock
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.store.models import AuditEntry
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import PASSWORD, WebNetwork, web_network
from tests.support import opened

ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"
PROXY = "10.0.0.5"
BASE = "https://testserver"


def client_at(platform: Platform, address: str) -> TestClient:
    return TestClient(create_app(platform=platform), base_url=BASE, client=(address, 40_000), follow_redirects=False)


def login(client: TestClient, username: str, password: str, **headers: str) -> tuple[int, bytes, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)
    return response.status_code, response.content, response.headers["content-type"]


def entries(platform: Platform, after: int = 0) -> list[AuditEntry]:
    return platform.audit.entries(after_seq=after, limit=100_000)


def last_seq(platform: Platform) -> int:
    found = entries(platform)
    return found[-1].seq if found else 0


def test_an_attacker_cannot_lock_the_admin_out_from_elsewhere(platform: Platform) -> None:
    network = web_network(platform)
    admin = network.user(network.palm, "admin")
    attacker, victim = client_at(platform, ATTACKER), client_at(platform, VICTIM)
    for _ in range(20):
        assert login(attacker, admin, "guess")[0] == 401
    locked = [e for e in entries(platform) if e.action == "auth.locked"]
    assert locked
    assert {e.client for e in locked} == {ATTACKER}
    # The attacker's address is locked out of the name, even with the right password ...
    assert login(attacker, admin, PASSWORD)[0] == 401
    # ... the admin, from its own address, is not: through the API and the web sign-in alike.
    assert login(victim, admin, PASSWORD)[0] == 200
    sign_in(victim, admin)
    assert {e.client for e in entries(platform) if e.action == "auth.login"} == {VICTIM}


def test_locked_unknown_and_wrong_password_get_byte_identical_answers(platform: Platform) -> None:
    network = web_network(platform)
    admin = network.user(network.palm, "admin")
    attacker = client_at(platform, ATTACKER)
    wrong = login(attacker, admin, "guess")
    for _ in range(platform.settings.login_max_failures):
        login(attacker, admin, "guess")
    locked = login(attacker, admin, PASSWORD)
    unknown = login(attacker, "no-such-user", PASSWORD)
    assert locked == unknown == wrong
    assert locked[0] == 401
    assert orjson.loads(locked[1])["detail"] == REFUSED
    reasons = [orjson.loads(e.params)["reason"] for e in entries(platform) if e.action == "auth.login_failed"]
    assert reasons[0] == "bad username or password"
    assert reasons[-1] == "no such user"
    assert reasons[-2].startswith("too many failed sign-ins from this address: locked until")
    # The web sign-in page words them the same too.
    pages = []
    for username, password in ((admin, PASSWORD), ("no-such-user", PASSWORD)):
        form = attacker.get("/ui/sign-in")
        data = {"csrf": csrf_of(form.text), "username": username, "password": password}
        answer = attacker.post("/ui/sign-in", data=data)
        pages.append((answer.status_code, REFUSED in answer.text))
    assert pages == [(401, True), (401, True)]


def test_lockouts_back_off_exponentially_and_end(platform: Platform) -> None:
    network = web_network(platform)
    admin = network.user(network.palm, "admin")
    attacker = client_at(platform, ATTACKER)
    clock = platform.clock
    assert isinstance(clock, FixedClock)
    lockout_ms = platform.settings.login_lockout_minutes * 60_000
    lengths = []
    for _ in range(3):
        for _ in range(platform.settings.login_max_failures):
            login(attacker, admin, "guess")
        last = [e for e in entries(platform) if e.action == "auth.locked"][-1]
        lengths.append(orjson.loads(last.params)["until_ms"] - last.ts_ms)
        clock.advance(lengths[-1] + 1)
    assert lengths == [lockout_ms, 2 * lockout_ms, 4 * lockout_ms]
    assert login(attacker, admin, PASSWORD)[0] == 200  # the lockout has ended


def test_spraying_many_usernames_locks_the_address_for_all(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(login_client_max_failures=6)
    network = web_network(platform)
    attacker, victim = client_at(platform, ATTACKER), client_at(platform, VICTIM)
    for role in ("admin", "investigator", "auditor"):
        for kit in (network.palm, network.harbor):
            login(attacker, network.user(kit, role), "guess")
    sprayed = [orjson.loads(e.params) for e in entries(platform) if e.action == "auth.locked"]
    assert len(sprayed) == 1
    assert sprayed[0]["username"] == "*"
    far = network.user(network.far, "admin")
    assert login(attacker, far, PASSWORD)[0] == 401  # never tried by name, but from the spraying address
    assert login(victim, far, PASSWORD)[0] == 200


def test_forwarded_for_is_ignored_from_an_untrusted_peer(platform: Platform) -> None:
    network = web_network(platform)
    mark = last_seq(platform)
    peer = client_at(platform, ATTACKER)
    login(peer, network.user(network.palm, "admin"), PASSWORD, **{"X-Forwarded-For": "192.0.2.1"})
    assert [e.client for e in entries(platform, mark)] == [ATTACKER, ATTACKER]  # auth.login, token.created


def test_forwarded_for_is_honoured_from_a_trusted_proxy(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(trusted_proxies=["10.0.0.0/8"])
    network = web_network(platform)
    proxy = client_at(platform, PROXY)
    headers = {"X-Forwarded-For": f"192.0.2.1, {VICTIM}, 10.0.0.9"}  # spoofed hop, the client, an inner proxy
    mark = last_seq(platform)
    assert login(proxy, network.user(network.palm, "admin"), PASSWORD, **headers)[0] == 200
    assert {e.client for e in entries(platform, mark)} == {VICTIM}
    # A token's requests are recorded with their client too (here a refused search, then the audit listing).
    token = platform.tokens.issue(SYSTEM, network.user(network.palm, "investigator")).secret
    mark = last_seq(platform)
    proxy.get(
        "/api/v1/search/plate", params={"plate": "7WEB123"}, headers={"Authorization": f"Bearer {token}"} | headers
    )
    assert [(e.action, e.client) for e in entries(platform, mark)] == [("search.refused", VICTIM)]
    # Without the header, the trusted proxy itself is the client.
    mark = last_seq(platform)
    login(proxy, "no-such-user", PASSWORD)
    assert [e.client for e in entries(platform, mark)] == [PROXY]


def test_web_entries_record_the_client_and_the_listings_show_it(platform: Platform) -> None:
    network: WebNetwork = web_network(platform)
    web = client_at(platform, VICTIM)
    sign_in(web, network.user(network.palm, "admin"))
    page = web.get("/ui/audit")
    assert page.status_code == 200
    assert f"<td>{VICTIM}</td>" in page.text
    token = platform.tokens.issue(SYSTEM, network.user(network.palm, "auditor")).secret
    listed = (
        client_at(platform, ATTACKER)
        .get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
        .json()["entries"]
    )
    assert {e["action"]: e["client"] for e in listed}["auth.login"] == VICTIM


def test_cli_entries_have_no_client_and_the_cli_listing_shows_it(settings: Settings, clock: FixedClock) -> None:
    with opened(settings, clock) as platform:
        network = web_network(platform)
        login(client_at(platform, VICTIM), network.user(network.palm, "admin"), PASSWORD)
    data = str(settings.data)
    listed = CliRunner().invoke(cli_app, ["audit", "list", "--data", data, "--json", "--limit", "1000"])
    assert listed.exit_code == 0, listed.output
    rows = orjson.loads(listed.stdout)["entries"]
    assert {r["client"] for r in rows if r["action"] == "auth.login"} == {VICTIM}
    assert {r["client"] for r in rows if r["action"] == "agency.created"} == {None}  # seeded through the library
    text = CliRunner().invoke(cli_app, ["audit", "list", "--data", data, "--action", "auth.login"])
    assert VICTIM in text.stdout
