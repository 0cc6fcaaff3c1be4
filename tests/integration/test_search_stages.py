"""Where a search's time goes, and what keeps its tail short: stage timings per request (``Server-Timing`` with the
``server_timing`` setting, and ``/metrics``), the warm-up a server runs before taking traffic, and retention's
sweeps, which run under the audit log's append lock that every search waits for."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.platform import Platform
from tests.integration.alert_kit import hot_list
from tests.support import METRICS_AUTH, METRICS_TOKEN, ingest, read, search, seed_agency

SEARCH = {"plate": "7ABC123", "purpose": "stolen_vehicle", "case_number": "2025-000123"}
STAGES = {"auth", "gate", "budget", "store", "store_wait", "audit", "audit_wait", "audit_commit", "answer", "total"}


def timings(header: str) -> dict[str, float]:
    """Milliseconds by stage from a Server-Timing header."""
    pairs = (item.strip().split(";dur=") for item in header.split(","))
    return {name: float(ms) for name, ms in pairs}


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the garbage collector back the objects a warm-up froze (the test process goes on)."""
    yield
    gc.unfreeze()


def test_a_search_answer_says_where_its_time_went(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(server_timing=True, metrics_token=METRICS_TOKEN)
    kit = seed_agency(platform, "city")
    ingest(platform, kit, [read("7ABC123", camera="city-fixed")])
    client = TestClient(create_app(platform=platform))
    answer = client.get(
        "/api/v1/search/plate", params=SEARCH, headers={"Authorization": f"Bearer {kit.tokens['investigator']}"}
    )
    assert answer.status_code == 200
    assert answer.json()["count"] == 1
    stages = timings(answer.headers["server-timing"])
    assert set(stages) >= STAGES
    named = sum(stages[name] for name in ("auth", "gate", "budget", "store", "audit", "answer"))
    assert 0 < named <= stages["total"]
    assert stages["audit_commit"] <= stages["audit"]
    assert stages["store_wait"] <= stages["store"]
    scraped = client.get("/metrics", headers=METRICS_AUTH).text
    assert 'plateledger_request_stage_seconds_count{route="/api/v1/search/plate",stage="store"} 1.0' in scraped
    assert 'plateledger_request_stage_seconds_count{route="/api/v1/search/plate",stage="other"} 1.0' in scraped


def test_a_search_behind_another_statement_says_how_long_it_waited_for_the_engine(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory(server_timing=True)
    kit = seed_agency(platform, "city")
    ingest(platform, kit, [read("7ABC123", camera="city-fixed")])
    client = TestClient(create_app(platform=platform))
    holding, release = threading.Event(), threading.Event()

    def statement() -> None:  # another statement (a job's, an ingest pass's) holds the engine's turn
        with platform.reads._engine_turn.held():
            holding.set()
            release.wait(10)

    other = threading.Thread(target=statement)
    other.start()
    holding.wait(10)
    threading.Timer(0.2, release.set).start()
    answer = client.get(
        "/api/v1/search/plate", params=SEARCH, headers={"Authorization": f"Bearer {kit.tokens['investigator']}"}
    )
    other.join(10)
    assert answer.status_code == 200
    stages = timings(answer.headers["server-timing"])
    assert 150 <= stages["store_wait"] <= stages["store"]
    # Unhindered, the same search waits for nobody.
    again = client.get(
        "/api/v1/search/plate", params=SEARCH, headers={"Authorization": f"Bearer {kit.tokens['investigator']}"}
    )
    assert timings(again.headers["server-timing"])["store_wait"] < 50


def test_stage_timings_stay_in_the_server_by_default(platform: Platform) -> None:
    kit = seed_agency(platform, "city")
    client = TestClient(create_app(platform=platform))
    answer = client.get(
        "/api/v1/search/plate", params=SEARCH, headers={"Authorization": f"Bearer {kit.tokens['investigator']}"}
    )
    assert answer.status_code == 200
    assert "server-timing" not in answer.headers
    # A refusal before any stage (no token) is timed as a whole only.
    assert client.get("/api/v1/search/plate", params=SEARCH).status_code == 401


def test_warm_up_loads_before_traffic_and_freezes_the_start_up_objects(platform: Platform, unfrozen: None) -> None:
    kit = seed_agency(platform, "city")
    ingest(platform, kit, [read("7ABC123", camera="city-fixed")])
    search(platform, kit.investigator, "7ABC123")  # a search in the log: its agency's oversight monitor warms up
    platform.warm_up()
    assert gc.get_freeze_count() > 0
    assert platform.oversight.cursor is not None
    # Searches and their audit entries go on as before: the tree loaded early is the one the chain continues.
    assert len(search(platform, kit.investigator, "7ABC123").reads) == 1
    assert len(search(platform, kit.investigator, "7ABC123").reads) == 1
    assert platform.oversight.step() > 0  # the rules go on from the stored cursor, which the warm-up kept
    assert platform.oversight.step() == 0
    assert platform.audit.verify().intact


def test_warm_up_builds_the_monitor_of_an_agency_holding_hot_lists_before_its_first_search(
    platform: Platform, unfrozen: None
) -> None:
    """Building an agency's oversight monitor reads every entry of its hot lists (1M in the benchmark: seconds of
    the interpreter). An agency whose users had not searched before the start paid it in the background job while
    its first searches waited; the warm-up builds it before traffic, and the job's first step reads no entry."""
    kit = seed_agency(platform, "city")
    hot_list(platform, kit, "stolen", "7ABC123")
    platform.warm_up()
    search(platform, kit.investigator, "7ABC123")
    statements: list[str] = []
    listen = lambda *args: statements.append(str(args[2]))  # noqa: E731
    event.listen(platform.governance.engine, "before_cursor_execute", listen)
    try:
        assert platform.oversight.step() > 0
    finally:
        event.remove(platform.governance.engine, "before_cursor_execute", listen)
    assert not [s for s in statements if "FROM hot_list_entries" in s]


def test_retention_sweeps_ask_only_about_owners_holding_rows(platform: Platform) -> None:
    """A network of many agencies of which one holds alerts, quarantined reads or images: the run's statements do
    not grow with the agencies (they ran under the audit append lock, three per agency)."""
    for number in range(30):
        seed_agency(platform, f"town-{number}", roles=(), cameras=())
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(platform.governance.engine, "before_cursor_execute", count)
    try:
        report = platform.retention.run(SYSTEM, settle_s=0)
    finally:
        event.remove(platform.governance.engine, "before_cursor_execute", count)
    assert report.completed.alerts == 0
    assert report.completed.quarantined == 0
    per_owner = [
        s for s in statements if "FROM alerts" in s or "FROM quarantined_reads" in s or "FROM read_images" in s
    ]
    assert len(per_owner) <= 3
    assert platform.audit.verify().intact
