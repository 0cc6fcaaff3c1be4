"""Partial plates (issue 20): the contains search and the grouping of wildcard, contains and fuzzy answers by
plate, through the library, the HTTP API and the web UI, on real stores. A contains search is a plate search
like any other: decided per owner by the gate (withheld owners named, none of their reads returned), refused
when shorter than a wildcard pattern may be, and audited with its match kind. An exact search that finds nothing
offers the contains search and never runs it.

One store for the module (the web network of ``web_kit`` plus plates that contain ``WEB12``); tests look at the
audit entries appended after their own start."""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.core.errors import FieldInvalid
from plateledger.oversight.records import from_audit
from plateledger.platform import Platform
from plateledger.search.results import result_json
from plateledger.store.models import AuditEntry
from plateledger.subjects.letter import covers
from tests.integration.web_kit import PASSWORD, WebNetwork, web_network
from tests.support import HOUR_MS, NOW_MS, ingest, module_platform, read, search

BASE = "https://testserver"
FAR_ONLY = "9WEB129"  # a plate only Far State Patrol (no agreement with Palm) has read


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, WebNetwork]]:
    with module_platform(tmp_path_factory, "partial") as platform:
        network = web_network(platform)  # 7WEB123: three reads of Palm's, one of Far's
        ingest(platform, network.palm, [read("7WEB124", camera="palm-1", ts=NOW_MS - 2 * HOUR_MS, read_id="p-124")])
        ingest(platform, network.far, [read(FAR_ONLY, camera="far-1", ts=NOW_MS - 3 * HOUR_MS, read_id="f-129")])
        yield platform, network


@pytest.fixture
def platform(world: tuple[Platform, WebNetwork]) -> Platform:
    return world[0]


@pytest.fixture
def network(world: tuple[Platform, WebNetwork]) -> WebNetwork:
    return world[1]


@pytest.fixture
def audit_mark(platform: Platform) -> int:
    return platform.audit.verify().entries


def entries(platform: Platform, mark: int, action: str) -> list[AuditEntry]:
    return platform.audit.entries(after_seq=mark, action=action)


# -- the library ------------------------------------------------------------------------------------------------
def test_contains_finds_plates_containing_the_part_grouped(
    platform: Platform, network: WebNetwork, audit_mark: int
) -> None:
    result = search(platform, network.palm.investigator, "web-12", match="contains")
    body = result_json(result)

    assert sorted(r["plate"] for r in body["reads"]) == ["7WEB123", "7WEB123", "7WEB123", "7WEB124"]
    assert (body["match"], body["fuzzy"], body["groups_complete"], body["hint"]) == ("contains", False, True, None)
    assert [(g["plate"], g["count"]) for g in body["groups"]] == [("7WEB123", 3), ("7WEB124", 1)]
    first = body["groups"][0]
    assert (first["first_seen"], first["last_seen"]) == (
        min(r["ts"] for r in body["reads"] if r["plate"] == "7WEB123"),
        max(r["ts"] for r in body["reads"] if r["plate"] == "7WEB123"),
    )
    (entry,) = entries(platform, audit_mark, "search.plate")
    assert entry.seq == result.audit_seq
    query = orjson.loads(entry.params)["query"]
    assert (query["plate"], query["match"]) == ("web-12", "contains")


def test_contains_goes_through_the_gate(platform: Platform, network: WebNetwork, audit_mark: int) -> None:
    """Far State Patrol has no agreement with Palm: its reads of 7WEB123 and 9WEB129 both contain WEB12, and
    neither is returned; Far is named as withheld, with the rule, in the answer and in the audit entry."""
    result = search(platform, network.palm.investigator, "WEB12", match="contains")

    assert {r.owner for r in result.reads} == {network.palm.agency.id}
    assert FAR_ONLY not in {r.plate for r in result.reads}
    assert "f-129" not in {r.read_id for r in result.reads}
    withheld = {w.owner: w.rule for w in result.withheld}
    assert withheld["Far State Patrol"] == "no sharing agreement with this owner (default deny)"
    assert FAR_ONLY not in str(result_json(result)["groups"])
    (entry,) = entries(platform, audit_mark, "search.plate")
    params = orjson.loads(entry.params)
    assert "far-patrol" not in orjson.loads(entry.counts)["per_owner"]
    assert params["withheld_others"] == "no sharing agreement with this owner (default deny)"

    # Far sees its own reads only, and Palm withheld.
    theirs = search(platform, network.far.investigator, "WEB12", match="contains")
    assert {r.plate for r in theirs.reads} == {"7WEB123", FAR_ONLY}
    assert {r.owner for r in theirs.reads} == {network.far.agency.id}
    assert "Palm Police" in {w.owner for w in theirs.withheld}


@pytest.mark.parametrize("part", ["WE", "w-e", "7", "W E"])
def test_contains_needs_as_many_letters_as_a_wildcard(
    platform: Platform, network: WebNetwork, audit_mark: int, part: str
) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.palm.investigator, part, match="contains")
    assert caught.value.field == "plate"
    assert "contains search needs at least 3 letters or digits" in caught.value.rule
    assert entries(platform, audit_mark, "search.plate") == []
    (refusal,) = entries(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["query"]["match"] == "contains"


@pytest.mark.parametrize(
    ("plate", "match", "field", "words"),
    [
        ("WEB*", "contains", "plate", "letters and digits only"),
        ("WEB12", "sideways", "match", "one of exact, wildcard, contains"),
        ("WEB*", "exact", "match", "without * or ?"),
        ("WEB12", "wildcard", "match", "needs * or ?"),
    ],
)
def test_match_is_checked_and_refusals_audited(
    platform: Platform, network: WebNetwork, audit_mark: int, plate: str, match: str, field: str, words: str
) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.palm.investigator, plate, match=match)
    assert (caught.value.field, words in caught.value.rule) == (field, True)
    (refusal,) = entries(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["query"]["match"] == match


def test_an_empty_exact_search_offers_contains_and_does_not_run_it(
    platform: Platform, network: WebNetwork, audit_mark: int
) -> None:
    result = search(platform, network.palm.investigator, "web12")
    body = result_json(result)

    assert body["reads"] == []
    assert body["groups"] is None
    assert body["hint"]["match"] == "contains"
    assert (body["hint"]["plate"], body["hint"]["fuzzy"]) == ("WEB12", False)
    assert "match=contains" in body["hint"]["detail"]
    (entry,) = entries(platform, audit_mark, "search.plate")  # the exact search, and nothing else
    assert orjson.loads(entry.params)["query"]["match"] == "exact"
    assert entries(platform, audit_mark, "search.refused") == []


@pytest.mark.parametrize(
    ("plate", "options"),
    [
        ("7WEB123", {}),  # found: no hint
        ("WE", {}),  # too short for a contains search
        ("WEB123456X", {}),  # ten characters, the longest plate: part of none
        ("WEB*", {}),  # a wildcard search
        ("WEB12", {"match": "contains"}),
    ],
)
def test_no_hint_otherwise(platform: Platform, network: WebNetwork, plate: str, options: dict[str, str]) -> None:
    assert result_json(search(platform, network.palm.investigator, plate, **options))["hint"] is None


def test_exact_answers_are_not_grouped_fuzzy_and_wildcard_are(platform: Platform, network: WebNetwork) -> None:
    investigator = network.palm.investigator
    assert result_json(search(platform, investigator, "7WEB123"))["groups"] is None
    fuzzy = result_json(search(platform, investigator, "7WE8I23", fuzzy=True))
    assert (fuzzy["match"], fuzzy["fuzzy"]) == ("exact", True)
    assert [(g["plate"], g["count"]) for g in fuzzy["groups"]] == [("7WEB123", 3)]
    wildcard = result_json(search(platform, investigator, "7WEB12?"))
    assert wildcard["match"] == "wildcard"
    assert [(g["plate"], g["count"]) for g in wildcard["groups"]] == [("7WEB123", 3), ("7WEB124", 1)]


def test_truncated_groups_cover_the_reads_returned(platform: Platform, network: WebNetwork) -> None:
    body = result_json(search(platform, network.palm.investigator, "WEB12", match="contains", limit=2))
    assert body["truncated"] is True
    assert body["groups_complete"] is False
    assert sum(g["count"] for g in body["groups"]) == len(body["reads"]) == 2


def test_subject_letters_and_oversight_read_the_match_kind() -> None:
    assert covers("WEB12", False, None, "7WEB123", "US-CA", "contains")
    assert not covers("WEB12", False, None, "7WEB123", "US-CA")
    assert covers("WE8I2", "true", None, "7WEB123", "US-CA", "contains")
    assert not covers("WE8I2", False, None, "7WEB123", "US-CA", "contains")
    entry = {"seq": 1, "ts_ms": NOW_MS, "action": "search.plate", "params": {"query": {"plate": "web12"}}}
    assert (record := from_audit(entry)) is not None
    assert record.plate == "WEB12"
    entry["params"] = {"query": {"plate": "web12", "match": "contains"}}
    assert (record := from_audit(entry)) is not None
    assert record.plate == "*WEB12*"


# -- the HTTP API -----------------------------------------------------------------------------------------------
@pytest.fixture
def api(platform: Platform, network: WebNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), base_url=BASE) as client:
        client.headers["Authorization"] = f"Bearer {network.palm.tokens['investigator']}"
        yield client


PURPOSE = {"purpose": "stolen_vehicle", "case_number": "2025-000123"}


def test_api_contains_groups_and_withholds(api: TestClient, platform: Platform, audit_mark: int) -> None:
    response = api.get("/api/v1/search/plate", params={"plate": "WEB12", "match": "contains", **PURPOSE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["match"] == "contains"
    assert [(g["plate"], g["count"]) for g in body["groups"]] == [("7WEB123", 3), ("7WEB124", 1)]
    assert len(body["reads"]) == 4
    assert FAR_ONLY not in response.text
    assert "Far State Patrol" in {w["owner"] for w in body["withheld"]}
    (entry,) = entries(platform, audit_mark, "search.plate")
    assert orjson.loads(entry.params)["query"]["match"] == "contains"


def test_api_refuses_a_short_contains_search(api: TestClient, platform: Platform, audit_mark: int) -> None:
    response = api.get("/api/v1/search/plate", params={"plate": "WE", "match": "contains", **PURPOSE})
    assert response.status_code == 422
    problem = response.json()
    assert "plate" in problem["detail"]
    assert "at least 3 letters or digits" in problem["detail"]
    assert len(entries(platform, audit_mark, "search.refused")) == 1


def test_api_hint_on_an_empty_exact_search(api: TestClient, platform: Platform, audit_mark: int) -> None:
    body = api.get("/api/v1/search/plate", params={"plate": "WEB12", **PURPOSE}).json()
    assert (body["count"], body["match"], body["groups"]) == (0, "exact", None)
    assert body["hint"]["match"] == "contains"
    assert body["hint"]["plate"] == "WEB12"
    assert len(entries(platform, audit_mark, "search.plate")) == 1


# -- the web UI -------------------------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
def web(platform: Platform, network: WebNetwork) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        form = client.get("/ui/sign-in")
        username = network.user(network.palm, "investigator")
        signed = client.post(
            "/ui/sign-in", data={"csrf": csrf_of(form.text), "username": username, "password": PASSWORD}
        )
        assert signed.status_code == 303
        yield client, csrf_of(client.get("/ui/search").text)


def form(csrf: str, plate: str, **extra: str) -> dict[str, str]:
    return {"csrf": csrf, "mode": "plate", "plate": plate, **PURPOSE, **extra}


def test_web_offers_contains_after_an_empty_exact_search(
    web: tuple[TestClient, str], platform: Platform, audit_mark: int
) -> None:
    client, csrf = web
    page = client.post("/ui/search", data=form(csrf, "web12"))
    assert page.status_code == 200
    hint = page.text[page.text.index('id="contains-hint"') :]
    hint = hint[: hint.index("</form>")]
    assert '<input type="hidden" name="match" value="contains">' in hint
    assert '<input type="hidden" name="plate" value="WEB12">' in hint
    assert "Search plates containing WEB12" in hint
    assert len(entries(platform, audit_mark, "search.plate")) == 1  # offered, not run
    assert 'id="groups-table"' not in page.text


def test_web_groups_a_contains_search(web: tuple[TestClient, str], platform: Platform, audit_mark: int) -> None:
    client, csrf = web
    page = client.post("/ui/search", data=form(csrf, "WEB12", match="contains"))
    assert page.status_code == 200, page.text[:500]
    groups = page.text[page.text.index('id="groups-table"') :]
    groups = groups[: groups.index("</table>\n  </div>")]
    assert groups.index("7WEB123") < groups.index("7WEB124")
    assert "<summary>3 reads of 7WEB123</summary>" in groups
    assert "<summary>1 read of 7WEB124</summary>" in groups
    assert FAR_ONLY not in page.text
    assert "Far State Patrol" in page.text[page.text.index('id="withheld"') :]
    assert 'id="contains-hint"' not in page.text
    (entry,) = entries(platform, audit_mark, "search.plate")
    assert orjson.loads(entry.params)["query"]["match"] == "contains"


def test_web_states_what_the_groups_cover(web: tuple[TestClient, str]) -> None:
    """Untruncated here (the form asks for the default page): the sentence names the plates and no truncation."""
    client, csrf = web
    page = client.post("/ui/search", data=form(csrf, "WEB12", match="contains"))
    assert 'id="groups-cover">2 distinct plates.<' in page.text
    assert "the answer is truncated" not in page.text


def test_web_refuses_a_short_contains_search(web: tuple[TestClient, str], platform: Platform, audit_mark: int) -> None:
    client, csrf = web
    page = client.post("/ui/search", data=form(csrf, "WE", match="contains"))
    assert page.status_code == 422
    assert "contains search needs at least 3 letters or digits" in page.text
    assert 'aria-invalid="true"' in page.text[page.text.index('id="plate"') :][:300]
    assert len(entries(platform, audit_mark, "search.refused")) == 1


def test_web_export_of_a_contains_search_is_the_same_gated_search(
    web: tuple[TestClient, str], platform: Platform, audit_mark: int
) -> None:
    client, csrf = web
    response = client.post("/ui/search/export.csv", data=form(csrf, "WEB12", match="contains"))
    assert response.status_code == 200
    assert "7WEB124" in response.text
    assert FAR_ONLY not in response.text
    (entry,) = entries(platform, audit_mark, "search.plate")
    assert orjson.loads(entry.params)["query"]["match"] == "contains"
