"""The web search form's vehicle description mode without a browser (issue 20, item 2): the form runs the
library's description search, a bad filter is refused with a message on the page naming the field (and audited),
cameras replace the area, and plate searches carry the filters. The browser flow is
test_description_browser.py."""

from __future__ import annotations

from fastapi.testclient import TestClient

from plateledger.audit.log import SYSTEM
from plateledger.platform import Platform
from plateledger.policy.rules import ApprovalRules, DescriptionLimits, Policy
from tests.integration.test_web import actions, client, csrf_of, network, sign_in  # noqa: F401 (fixtures)
from tests.integration.web_kit import DESCRIPTION_AREA, WebNetwork, description_network

LAT, LON, RADIUS = DESCRIPTION_AREA
ASK = {
    "mode": "description",
    "make": "Toyota",
    "color": "red",
    "lat": str(LAT),
    "lon": str(LON),
    "radius_m": str(RADIUS),
    "since": "2025-05-31T12:00",
    "until": "2025-06-01T12:00",
    "purpose": "stolen_vehicle",
    "case_number": "C-88",
}


def post(client: TestClient, network: WebNetwork, platform: Platform, **values: str) -> str:  # noqa: F811
    description_network(platform, network)
    sign_in(client, network.user(network.palm, "investigator"))
    page = client.get("/ui/search")
    assert 'value="description"' in page.text
    response = client.post("/ui/search", data={"csrf": csrf_of(page.text), **{**ASK, **values}})
    return f"{response.status_code}\n{response.text}"


def test_description_mode_answers_with_vehicle_columns(
    client: TestClient,  # noqa: F811
    platform: Platform,
    network: WebNetwork,  # noqa: F811
) -> None:
    mark = len(actions(platform))
    answer = post(client, network, platform)
    assert answer.startswith("200")
    assert answer.count("<td>Corolla</td>") == 2
    assert "Far State Patrol" in answer
    assert 'value="description" checked' in answer
    assert "Export CSV" in answer  # exported like the other kinds (test_exports.py)
    assert actions(platform, mark)[-1] == "search.description"


def test_bad_filter_is_refused_on_the_page_and_audited(
    client: TestClient,  # noqa: F811
    platform: Platform,
    network: WebNetwork,  # noqa: F811
) -> None:
    mark = len(actions(platform))
    answer = post(client, network, platform, make="T" * 65)
    assert answer.startswith("422")
    assert "make: at most 64 characters" in answer
    assert (
        'id="make" name="make" maxlength="64" value="' + "T" * 65 + '" autocomplete="off" aria-invalid="true"' in answer
    )
    assert actions(platform, mark)[-1] == "search.refused"


def test_cameras_instead_of_the_area(
    client: TestClient,  # noqa: F811
    platform: Platform,
    network: WebNetwork,  # noqa: F811
) -> None:
    answer = post(client, network, platform, lat="", lon="", cameras="palm-0, harbor-0")
    assert answer.startswith("200"), answer[:2000]
    assert answer.count("<td>Corolla</td>") == 2  # the radius field's default is not part of a camera search
    assert "7RED001" in answer
    assert "8RED003" in answer


def test_plate_search_with_vehicle_filters(
    client: TestClient,  # noqa: F811
    platform: Platform,
    network: WebNetwork,  # noqa: F811
) -> None:
    answer = post(client, network, platform, mode="plate", plate="7???001", make="honda", since="", until="")
    assert answer.startswith("200"), answer[:2000]
    assert "7HON001" in answer
    assert "7RED001" not in answer


def test_held_description_search_is_listed_for_approval(
    client: TestClient,  # noqa: F811
    platform: Platform,
    network: WebNetwork,  # noqa: F811
) -> None:
    description_network(platform, network)
    held = Policy(description=DescriptionLimits(allowed=True), approval=ApprovalRules(description=True))
    platform.policies.set(SYSTEM, network.palm.slug, held)
    sign_in(client, network.user(network.palm, "investigator"))
    page = client.get("/ui/search")
    answer = client.post("/ui/search", data={"csrf": csrf_of(page.text), **ASK})
    assert answer.status_code == 403
    assert "vehicle description searches need a supervisor&#39;s approval" in answer.text
    client.cookies.clear()
    sign_in(client, network.user(network.palm, "admin"))
    listing = client.get("/ui/approvals")
    assert listing.status_code == 200, listing.text
    assert f"vehicle red Toyota {LAT},{LON} within {float(RADIUS)} m" in listing.text
