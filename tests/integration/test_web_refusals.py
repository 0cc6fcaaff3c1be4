"""Issue 15 through the web UI's door: a blank warrant is refused (defect 3), and an expired sharing agreement no
longer blocks a new request (defect 14)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.platform import Platform
from plateledger.policy.rules import Terms
from plateledger.vocab import Purpose, QueryKind
from tests.integration.test_web import actions, csrf_of, sign_in
from tests.integration.web_kit import PLATE, WebNetwork, web_network
from tests.support import DAY_MS


@pytest.fixture
def network(platform: Platform) -> WebNetwork:
    return web_network(platform)


@pytest.fixture
def client(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as test:
        yield test


def test_an_empty_warrant_field_is_no_warrant_and_a_blank_or_malformed_one_is_refused(
    client: TestClient, platform: Platform, network: WebNetwork
) -> None:
    """An empty warrant field means no warrant (the lookback stays limited); one of only spaces or with control
    characters is refused and audited, as the API and the CLI refuse it."""
    sign_in(client, network.user(network.palm, "investigator"))
    form = {"csrf": csrf_of(client.get("/ui/search").text), "mode": "plate", "plate": PLATE}
    form.update(purpose="stolen_vehicle", case_number="C-3", since="", until="")
    assert client.post("/ui/search", data={**form, "warrant": ""}).status_code == 200
    (last,) = platform.audit.entries(after_seq=platform.audit.verify().entries - 1)
    assert (last.action, orjson.loads(last.params)["warrant"]) == ("search.plate", None)
    for refused in (" ", "\t ", "W-1\x1b[2J"):
        response = client.post("/ui/search", data={**form, "warrant": refused})
        assert response.status_code == 422, refused
        assert "warrant" in response.text
        assert actions(platform)[-1] == "search.refused"


def test_a_new_sharing_request_after_an_expired_agreement_from_the_web(
    client: TestClient, platform: Platform, network: WebNetwork, clock: FixedClock
) -> None:
    terms = Terms(
        query_kinds=frozenset({QueryKind.PLATE}),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=30,
        expires_ms=clock.now_ms() + 5 * DAY_MS,
    )
    old = platform.agreements.request(network.palm.admin, owner="harbor-pd", terms=terms)
    platform.agreements.accept(network.harbor.admin, old.id)
    clock.advance(6 * DAY_MS)
    sign_in(client, network.user(network.palm, "admin"))
    form = {"owner": "harbor-pd", "query_kinds": "plate", "purposes": "stolen_vehicle", "max_lookback_days": "30"}
    form.update(expires="2025-12-31", csrf=csrf_of(client.get("/ui/admin/sharing").text))
    response = client.post("/ui/admin/sharing/request", data=form)
    assert response.status_code == 303, response.text
    states = [(a.id == old.id, a.state, a.expired) for a in platform.agreements.listing(network.palm.admin)]
    assert states == [(True, "accepted", True), (False, "pending", False)]
