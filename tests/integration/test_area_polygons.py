"""Polygons the reads store's engine would refuse (issue 15, defect 4): a spike (a repeated non-adjacent vertex)
gave HTTP 500 with the engine's text, a CLI traceback and no audit entry. Every such polygon is refused before the
engine sees it, with the problem named, through the library, the API, the CLI and the web UI, and audited like
any refused search; an engine error that still happens is a clear problem, audited, never the engine's text."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from plateledger.app import create_app
from plateledger.audit.events import AreaSearched
from plateledger.cli.main import app as cli_app
from plateledger.cli.main import main as cli_main
from plateledger.core.clock import FixedClock
from plateledger.core.errors import FieldInvalid, StoreUnavailable
from plateledger.core.settings import Settings
from plateledger.platform import Platform
from plateledger.search.area import AreaSearch
from plateledger.store.queries import AreaQuery
from plateledger.vocab import Purpose, QueryKind
from tests.integration.test_web import csrf_of, sign_in
from tests.integration.web_kit import WebNetwork, web_network
from tests.support import HOUR_MS, NOW_MS, AgencyKit, ingest, opened, read, seed_agency

LAT, LON = 37.7749, -122.4194
D = 0.002
#: The issue's polygon: a square whose third corner comes back as the fifth vertex.
SPIKE = f"{LAT},{LON};{LAT + D},{LON};{LAT + D},{LON + D};{LAT},{LON + D};{LAT + D},{LON + D}"
BAD = [  # (polygon, what the refusal says)
    (SPIKE, "vertex 5 repeats vertex 3"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT + D},{LON + D};{LAT + D},{LON + D / 2}", "vertex 3 is a spike"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT},{LON + D};{LAT + D},{LON + D}", "edges 2 and 4 cross or touch"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT + D / 2},{LON};{LAT + D},{LON + D}", "spike"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT},{LON + D};{LAT + D / 2},{LON}", "vertex 1 is a spike"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT + D},{LON + D};{LAT + D / 2},{LON};{LAT},{LON + D}", "edges 1 and 3 cross"),
    (f"{LAT},{LON};{LAT + D},{LON}", "3-100"),
    (f"{LAT},{LON};{LAT + D},{LON};{LAT},{LON}", "repeats vertex 1"),
    (f"91,{LON};{LAT + D},{LON};{LAT},{LON + D}", "outside latitude"),
    (";".join(f"{LAT + i / 1e5},{LON + (i % 2) / 1e5}" for i in range(101)), "needs 3-100"),
]
SINCE, UNTIL = NOW_MS - 3 * HOUR_MS, NOW_MS - HOUR_MS


@pytest.fixture
def city(platform: Platform) -> AgencyKit:
    kit = seed_agency(platform, "city", name="City PD")
    # Reads inside the polygons: the engine checks a polygon only when a read reaches it.
    reads = [
        read(f"AAA{n}11", camera=kit.cameras[0], ts=NOW_MS - 2 * HOUR_MS, lat=LAT + D * n / 4, lon=LON + D * n / 4)
        for n in range(1, 4)
    ]
    ingest(platform, kit, reads)
    return kit


def assert_refusal_audited(platform: Platform, mark: int, rule: str) -> None:
    (entry,) = platform.audit.entries(after_seq=mark)
    assert entry.action == "search.refused"
    params = orjson.loads(entry.params)
    assert (params["kind"], entry.case_number) == ("area", "C-4")
    assert params["reason"].startswith("polygon: ")
    assert rule in params["reason"]


@pytest.mark.parametrize(("polygon", "rule"), BAD, ids=range(len(BAD)))
def test_a_polygon_the_engine_would_refuse_is_refused_and_audited_in_the_library_and_api(
    platform: Platform, city: AgencyKit, polygon: str, rule: str
) -> None:
    ask = AreaSearch(purpose="stolen_vehicle", case_number="C-4", polygon=polygon, since=SINCE, until=UNTIL)
    mark = platform.audit.verify().entries
    with pytest.raises(FieldInvalid) as refused:
        platform.areas.search(city.investigator, ask)
    assert refused.value.field == "polygon"
    assert rule in refused.value.detail
    assert_refusal_audited(platform, mark, rule)

    client = TestClient(create_app(platform=platform))
    query = {"purpose": "stolen_vehicle", "case_number": "C-4", "polygon": polygon, "since": SINCE, "until": UNTIL}
    mark = platform.audit.verify().entries
    response = client.get(
        "/api/v1/search/area", params=query, headers={"Authorization": f"Bearer {city.tokens['investigator']}"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "polygon"
    assert rule in response.json()["detail"]
    assert_refusal_audited(platform, mark, rule)


COORD = st.one_of(
    st.sampled_from([0.0, D / 2, D, D / 3, 2 * D / 3]),
    st.floats(-D, 2 * D, allow_nan=False),
    st.integers(-3, 3).map(lambda n: D + n * 1e-7),
)
VERTEX = st.tuples(COORD, COORD).map(lambda v: f"{LAT + v[0]!r},{LON + v[1]!r}")


@st.composite
def polygons(draw: st.DrawFn) -> str:
    """Rings of 0-12 vertices near the camera, often repeating an earlier vertex or with stray separators."""
    vertices = draw(st.lists(VERTEX, max_size=12))
    if vertices and draw(st.booleans()):
        vertices.insert(draw(st.integers(0, len(vertices))), draw(st.sampled_from(vertices)))
    return draw(st.sampled_from([";", ";", "; ", ";;"])).join(vertices) + draw(st.sampled_from(["", ";", ",", " "]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(polygon=polygons())
def test_random_polygons_over_http_never_give_a_server_error_and_are_always_audited(
    platform: Platform, city: AgencyKit, polygon: str
) -> None:
    client = TestClient(create_app(platform=platform))
    query = {"purpose": "stolen_vehicle", "case_number": "C-4", "polygon": polygon, "since": SINCE, "until": UNTIL}
    mark = platform.audit.verify().entries
    response = client.get(
        "/api/v1/search/area", params=query, headers={"Authorization": f"Bearer {city.tokens['investigator']}"}
    )
    assert response.status_code in (200, 422), response.text
    (entry,) = platform.audit.entries(after_seq=mark)
    assert entry.action == ("search.area" if response.status_code == 200 else "search.refused")


def test_an_engine_error_is_a_clear_problem_and_audited(platform: Platform, city: AgencyKit) -> None:
    """The backstop: a query the engine refuses (here a spike handed to the store unchecked) is refused with the
    reads store's problem, audited, and never carries the engine's text."""
    unchecked = AreaQuery(
        since_ms=SINCE,
        until_ms=UNTIL,
        polygon=((LAT, LON), (LAT + D, LON), (LAT + D, LON + D), (LAT, LON + D), (LAT + D, LON + D)),
        limit=10,
    )
    mark = platform.audit.verify().entries
    with pytest.raises(StoreUnavailable) as failed:
        platform.engine.run(
            city.investigator,
            event=AreaSearched,
            kind=QueryKind.AREA,
            purpose=Purpose.STOLEN_VEHICLE,
            case_number="C-4",
            query={"polygon": "unchecked"},
            since_ms=SINCE,
            limit=9,
            fetch=lambda permit: platform.reads.area_reads(permit, unchecked),
            radius_m=200.0,
            window_ms=UNTIL - SINCE,
        )
    assert "Geometry" not in failed.value.detail
    assert "DB::Exception" not in failed.value.detail
    assert any("spikes" in note for note in getattr(failed.value, "__notes__", []))
    (entry,) = platform.audit.entries(after_seq=mark)
    assert entry.action == "search.refused"
    assert orjson.loads(entry.params)["reason"] == failed.value.detail


def test_cli_refuses_a_spike_in_one_line_and_audits_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time_ns() // 1_000_000
    with opened(settings, FixedClock(now)) as platform:
        token = seed_agency(platform, "city", name="City PD").tokens["investigator"]
        mark = platform.audit.verify().entries
    args = ["search", "area", "--polygon", SPIKE, "--since", str(now - 2 * HOUR_MS), "--until", str(now - HOUR_MS)]
    args += ["--purpose", "stolen_vehicle", "--case", "C-4", "--token", token, "--data", str(settings.data)]
    result = CliRunner().invoke(cli_app, args)
    assert isinstance(result.exception, FieldInvalid)
    assert result.exception.field == "polygon"
    monkeypatch.setattr(sys, "argv", ["plateledger", *args])
    with pytest.raises(SystemExit) as exited:
        cli_main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: polygon: vertex 5 repeats vertex 3; give each corner once\n"
    with opened(settings, FixedClock(now)) as platform:
        (first, second) = platform.audit.entries(after_seq=mark)
        assert [first.action, second.action] == ["search.refused", "search.refused"]
        assert_refusal_audited(platform, second.seq - 1, "vertex 5 repeats vertex 3")


@pytest.fixture
def web(platform: Platform) -> Iterator[tuple[TestClient, WebNetwork]]:
    network = web_network(platform)
    with TestClient(create_app(platform=platform), base_url="https://testserver", follow_redirects=False) as client:
        yield client, network


def test_web_area_search_with_a_spike_shows_the_problem_and_is_audited(
    platform: Platform, web: tuple[TestClient, WebNetwork]
) -> None:
    client, network = web
    sign_in(client, network.user(network.palm, "investigator"))
    values: dict[str, Any] = {
        "csrf": csrf_of(client.get("/ui/search").text),
        "mode": "area",
        "polygon": SPIKE,
        "purpose": "stolen_vehicle",
        "case_number": "C-4",
        "since": "2025-06-01T08:00",
        "until": "2025-06-01T10:00",
    }
    mark = platform.audit.verify().entries
    response = client.post("/ui/search", data=values)
    assert response.status_code == 422
    assert "vertex 5 repeats vertex 3" in response.text
    assert_refusal_audited(platform, mark, "vertex 5 repeats vertex 3")
