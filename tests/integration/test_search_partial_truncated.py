"""A truncated grouped answer on the web page (issue 20): with a page of 2 reads, the groups count those two, and
the page says so (the API's ``groups_complete`` is tested in test_search_partial.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.platform import Platform
from tests.integration.web_kit import PASSWORD, web_network
from tests.support import HOUR_MS, NOW_MS, ingest, read


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_truncated_groups_say_what_they_cover(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(search_page=2)
    network = web_network(platform)  # three reads of 7WEB123 by Palm
    ingest(platform, network.palm, [read("7WEB124", camera="palm-1", ts=NOW_MS - 2 * HOUR_MS)])
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/ui/sign-in")
        username = network.user(network.palm, "investigator")
        signed = client.post(
            "/ui/sign-in", data={"csrf": csrf_of(form.text), "username": username, "password": PASSWORD}
        )
        assert signed.status_code == 303
        csrf = csrf_of(client.get("/ui/search").text)
        page = client.post(
            "/ui/search",
            data={
                "csrf": csrf,
                "mode": "plate",
                "plate": "WEB12",
                "match": "contains",
                "purpose": "stolen_vehicle",
                "case_number": "2025-000123",
            },
        )
    assert page.status_code == 200, page.text[:500]
    cover = page.text[page.text.index('id="groups-cover"') :]
    cover = cover[: cover.index("</p>")]
    assert "counted over the 2 reads shown only: the answer is truncated" in cover
    assert "(first 2; narrow the search for more)" in page.text
