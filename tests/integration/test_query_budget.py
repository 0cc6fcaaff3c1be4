"""Issue 15, defect 13: a per-user query budget bounds how much one user can pull. Many wildcard searches are
refused after the budget of the agency's policy (library, API with 429 and Retry-After, web page, CLI commands each
in a process of their own), each refusal is audited as ``search.refused``, another user of the same agency keeps
searching, and the window passing restores access. The budget counts on the wall clock (the ``limits`` library), so
the expiry test uses a 1-second window."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.auth.tokens import Principal
from plateledger.core.clock import FixedClock
from plateledger.core.errors import TooManyRequests
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.policy.rules import Policy, QueryBudget, describe
from tests.integration.test_processes import run
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import WebNetwork, web_network
from tests.support import HOUR_MS, NOW_MS, AgencyKit, ingest, opened, read, search, seed_agency

BASE = "https://testserver"
PATTERNS = [f"{c}{d}K*" for c in "ABC" for d in "123"]


@pytest.fixture
def city(platform: Platform) -> AgencyKit:
    kit = seed_agency(platform, "budget-pd")
    reads = [read(f"{p[:3]}X{n}", camera=kit.cameras[0], ts=NOW_MS - HOUR_MS - n) for p in PATTERNS for n in range(3)]
    ingest(platform, kit, reads)
    return kit


def second_investigator(platform: Platform, kit: AgencyKit) -> Principal:
    platform.registry.create_user(SYSTEM, agency_slug=kit.slug, username="budget-pd-second", role="investigator")
    return platform.tokens.authenticate(platform.tokens.issue(SYSTEM, "budget-pd-second").secret)


def budget(platform: Platform, kit: AgencyKit, **limits: int) -> None:
    platform.policies.set(SYSTEM, kit.slug, Policy(query_budget=QueryBudget(**limits)))


def last_refusal(platform: Platform) -> tuple[str, str, int | None, dict[str, object]]:
    entry = platform.audit.entries(limit=100_000)[-1]
    return entry.action, entry.outcome, entry.actor_user_id, orjson.loads(entry.params)


def test_wildcard_searches_beyond_the_budget_are_refused_and_audited(platform: Platform, city: AgencyKit) -> None:
    budget(platform, city, max_queries=5)
    for pattern in PATTERNS[:5]:
        assert len(search(platform, city.investigator, pattern).reads) == 3
    with pytest.raises(TooManyRequests, match=r"query budget exceeded: 5 searches per 3600 s") as refused:
        search(platform, city.investigator, PATTERNS[5])
    assert 1 <= refused.value.retry_after_s <= 3600
    action, outcome, user_id, params = last_refusal(platform)
    assert (action, outcome, user_id) == ("search.refused", "refused", city.investigator.user_id)
    assert str(params["reason"]).startswith("query budget exceeded: 5 searches per 3600 s for each user")
    # Another investigator of the same agency has a budget of its own.
    other = second_investigator(platform, city)
    assert len(search(platform, other, PATTERNS[5]).reads) == 3


def test_reads_are_clipped_to_the_budget_then_refused(platform: Platform, city: AgencyKit) -> None:
    budget(platform, city, max_reads=4)
    assert len(search(platform, city.investigator, PATTERNS[0]).reads) == 3
    clipped = search(platform, city.investigator, PATTERNS[1])
    assert (len(clipped.reads), clipped.truncated) == (1, True)
    with pytest.raises(TooManyRequests, match="query budget exceeded: 4 reads per 3600 s"):
        search(platform, city.investigator, PATTERNS[2])
    assert last_refusal(platform)[0] == "search.refused"


def test_the_window_passing_restores_access(platform: Platform, city: AgencyKit) -> None:
    budget(platform, city, window_seconds=1, max_queries=2)
    # Searches that straddle a bucket boundary weigh less: search until refused (within the same second).
    for attempt in range(20):
        try:
            search(platform, city.investigator, PATTERNS[attempt % len(PATTERNS)])
        except TooManyRequests:
            break
    else:
        pytest.fail("never refused")
    time.sleep(2.1)  # the sliding window weighs the previous 1-second bucket: two buckets later it is empty
    assert len(search(platform, city.investigator, PATTERNS[2]).reads) == 3


def test_the_budget_is_in_the_published_policy_text() -> None:
    text = describe(Policy(query_budget=QueryBudget(window_seconds=600, max_queries=30)), country="US", state="CA")
    assert "at most 30 searches and receive at most 5000 reads in any 10 minutes" in " ".join(text)
    assert "in any hour" in " ".join(describe(Policy(), country="US", state="CA"))


def test_api_answers_429_problem_with_retry_after(platform: Platform, city: AgencyKit) -> None:
    budget(platform, city, max_queries=2)
    client = TestClient(create_app(platform=platform), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {city.tokens['investigator']}"}
    params = {"purpose": "stolen_vehicle", "case_number": "C-13"}
    for pattern in PATTERNS[:2]:
        assert client.get("/api/v1/search/plate", params={"plate": pattern, **params}, headers=headers).is_success
    response = client.get("/api/v1/search/plate", params={"plate": PATTERNS[2], **params}, headers=headers)
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    body = response.json()
    assert body["type"] == "https://plateledger.org/problems/too-many-requests"
    assert body["detail"].startswith("query budget exceeded: 2 searches per 3600 s")
    assert last_refusal(platform)[:2] == ("search.refused", "refused")


@pytest.fixture
def web(platform: Platform) -> Iterator[tuple[TestClient, WebNetwork]]:
    network = web_network(platform)
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        yield client, network


def test_web_search_page_shows_the_refusal(platform: Platform, web: tuple[TestClient, WebNetwork]) -> None:
    client, network = web
    budget(platform, network.palm, max_queries=1)
    sign_in(client, network.user(network.palm, "investigator"))
    values = {"mode": "plate", "plate": "7WEB*", "purpose": "stolen_vehicle", "case_number": "C-13"}
    first = client.post("/ui/search", data={"csrf": csrf_of(client.get("/ui/search").text), **values})
    assert first.status_code == 200
    second = client.post("/ui/search", data={"csrf": csrf_of(first.text), **values})
    assert second.status_code == 429
    assert "query budget exceeded: 1 searches per 3600 s" in second.text
    assert last_refusal(platform)[:2] == ("search.refused", "refused")


@pytest.mark.slow
def test_cli_commands_in_separate_processes_share_the_budget(settings: Settings) -> None:
    """Each CLI command is a process of its own: the window is restored from the audit log."""
    with opened(settings, FixedClock(time.time_ns() // 1_000_000)) as platform:  # the CLI runs on the system clock
        kit = seed_agency(platform, "budget-pd")
        budget(platform, kit, max_queries=2)
    token = kit.tokens["investigator"]
    args = ["search", "plate", "ABC123", "--purpose", "stolen_vehicle", "--case", "C-13", "--token", token]
    args += ["--data", str(settings.data)]
    run(*args)
    run(*args)
    refused = run(*args, check=False)
    assert refused.returncode == 9
    assert refused.stderr.strip().startswith("error: query budget exceeded: 2 searches per 3600 s for each user")
    assert "Traceback" not in refused.stderr
    with opened(settings, FixedClock(time.time_ns() // 1_000_000)) as platform:
        action, outcome, _, params = last_refusal(platform)
    assert (action, outcome) == ("search.refused", "refused")
    assert str(params["reason"]).startswith("query budget exceeded")
