"""Listing the oversight review queue is audited like opening one flag (``oversight.queue_viewed``: the status and
the flag ids, before the answer; an empty list writes nothing), and the after-removal rule never shows a covert
hot list's entries (plate, list name) to the agency's auditors and admins, who are not its viewers."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.clock import FixedClock
from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list
from tests.support import DAY_MS, HOUR_MS, NOW_MS, AgencyKit, search, seed_agency

PLAIN, COVERT = "7RMV001", "7RMV002"
RULE = "plate.after_hotlist_removal"


def last_seq(platform: Platform) -> int:
    return platform.audit.entries(after_seq=0, limit=1_000_000)[-1].seq


@pytest.fixture
def city(platform: Platform, clock: FixedClock) -> AgencyKit:
    """City's investigator keeps a plain and a covert list, each with one plate; both entries are removed, and
    the investigator searches both plates an hour later; the rules are run over the day."""
    kit = seed_agency(platform, "city")
    hot_list(platform, kit, "Stolen vehicles", PLAIN)
    hot_list(platform, kit, "Operation Nightjar", COVERT, covert=True)
    for view in platform.hotlists.listing(kit.investigator):
        plate = COVERT if view.covert else PLAIN
        platform.hotlists.apply(kit.investigator, view.id, add=[], remove_plates=[plate])
    clock.advance(HOUR_MS)
    search(platform, kit.investigator, PLAIN)
    search(platform, kit.investigator, COVERT)
    platform.review.run(kit.auditor, "city", since_ms=NOW_MS - DAY_MS, until_ms=NOW_MS + DAY_MS)
    return kit


def test_listing_the_queue_is_audited_before_the_answer(platform: Platform, city: AgencyKit) -> None:
    before = last_seq(platform)
    queue = platform.review.queue(city.auditor, "city")
    shown = sorted(f["id"] for g in queue["groups"] for f in g["flags"])
    assert shown
    (viewed,) = platform.audit.entries(after_seq=before, limit=10)
    assert (viewed.action, viewed.actor_username) == ("oversight.queue_viewed", "city-auditor")
    params = orjson.loads(viewed.params)
    assert (params["agency"], params["status"], sorted(params["flags"])) == ("city", "queue", shown)
    assert orjson.loads(viewed.counts) == {"flags": len(shown)}
    # A status with no flag: nothing shown, nothing written.
    before = last_seq(platform)
    assert platform.review.queue(city.admin, "city", status="dismissed")["groups"] == []
    assert platform.audit.entries(after_seq=before, limit=10) == []
    # Through the API too (the web page and the CLI call the same method).
    client = TestClient(create_app(platform=platform))
    answer = client.get(
        "/api/v1/agencies/city/oversight/flags", headers={"Authorization": f"Bearer {city.tokens['admin']}"}
    )
    assert answer.status_code == 200
    (viewed,) = platform.audit.entries(after_seq=before, limit=10)
    assert (viewed.action, viewed.actor_username) == ("oversight.queue_viewed", "city-admin")


def test_the_after_removal_rule_never_shows_a_covert_list(platform: Platform, city: AgencyKit) -> None:
    for who in (city.auditor, city.admin):
        queue = platform.review.queue(who, "city")
        removal = [f for g in queue["groups"] if g["rule"] == RULE for f in g["flags"]]
        assert [f["plates"] for f in removal] == [[PLAIN]]
        text = orjson.dumps(queue).decode()
        assert "Nightjar" not in text
        assert "Stolen vehicles" in text
        for flag in (f for g in queue["groups"] for f in g["flags"]):
            opened = orjson.dumps(platform.review.flag(who, "city", flag["id"])).decode()
            assert "Nightjar" not in opened
