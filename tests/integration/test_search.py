"""Plate history search through the real stores: matching, filters, own-agency-only, roles, purpose and case,
and the audit entry every search (and every refusal) leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from plateledger.core.errors import FieldInvalid, PermissionDenied
from plateledger.platform import Platform
from plateledger.policy.gate import Gate, Request
from plateledger.search.plate import SearchResult, Withheld
from plateledger.store.models import AuditEntry
from plateledger.store.queries import PlateQuery
from plateledger.vocab import QueryKind, Role
from tests.support import (
    HOUR_MS,
    NOW_MS,
    AgencyKit,
    ingest,
    module_platform,
    read,
    search,
    seed_agency,
)

T3, T2, T1 = NOW_MS - 3 * HOUR_MS, NOW_MS - 2 * HOUR_MS, NOW_MS - HOUR_MS


@dataclass
class Network:
    platform: Platform
    city: AgencyKit
    county: AgencyKit


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """Two agencies that both read ABC123; the county has no agreement with the city (nor the reverse).

    One store for the whole module (searches only append audit entries): tests look at the audit entries
    appended after their own start, see ``audit_mark``.
    """
    with module_platform(tmp_path_factory, "search") as platform:
        city = seed_agency(platform, "city", name="City PD")
        county = seed_agency(platform, "county", name="County SO", roles=("investigator", "device"))
        fixed, mobile = city.cameras
        result = ingest(
            platform,
            city,
            [
                read("ABC123", camera=fixed, ts=T1, region="CA", read_id="c-1"),
                read("abc 123", camera=fixed, ts=T3, region="US-CA", read_id="c-3"),
                read("ABC-123", camera=mobile, ts=T2, lat=36.1, lon=-115.2, region="NV", read_id="c-2"),
                read("ABC124", camera=fixed, ts=T1),
                read("A8C123", camera=fixed, ts=T1),
                read("ABC1O3", camera=fixed, ts=T1),
                read("XYZ999", camera=fixed, ts=T1),
            ],
        )
        assert result.stored == 7
        theirs = [read("ABC123", camera=county.cameras[0], ts=T2, read_id="k-1")]
        assert ingest(platform, county, theirs).stored == 1
        yield Network(platform, city, county)


@pytest.fixture
def platform(network: Network) -> Platform:
    """The module's platform (overrides the conftest fixture of the same name in this module)."""
    return network.platform


@pytest.fixture
def audit_mark(network: Network) -> int:
    """Sequence number of the newest audit entry when the test starts."""
    return network.platform.audit.verify().entries


def entries_since(platform: Platform, mark: int, action: str) -> list[AuditEntry]:
    return platform.audit.entries(after_seq=mark, action=action)


def plates_and_times(result: SearchResult) -> list[tuple[str, int]]:
    return [(r.plate, r.ts_ms) for r in result.reads]


def test_exact_search_returns_own_reads_sorted_by_time(platform: Platform, network: Network) -> None:
    result = search(platform, network.city.investigator, "abc-123")

    assert [r.read_id for r in result.reads] == ["c-3", "c-2", "c-1"]
    assert plates_and_times(result) == [("ABC123", T3), ("ABC123", T2), ("ABC123", T1)]
    assert {r.owner for r in result.reads} == {network.city.agency.id}
    mobile = result.reads[1]
    assert (mobile.camera, mobile.region, mobile.lat, mobile.lon) == ("city-mobile", "US-NV", 36.1, -115.2)
    assert mobile.plate_raw == "ABC-123"
    assert not result.truncated


def test_another_agencys_reads_are_withheld_with_the_rule(platform: Platform, network: Network) -> None:
    city_view = search(platform, network.city.investigator, "ABC123")
    assert "k-1" not in {r.read_id for r in city_view.reads}
    assert city_view.withheld == [Withheld("County SO", "no sharing agreement with this owner (default deny)")]

    county_view = search(platform, network.county.investigator, "ABC123")
    assert [r.read_id for r in county_view.reads] == ["k-1"]
    assert [w.owner for w in county_view.withheld] == ["City PD"]

    # Not even fuzzy or wildcard searches reach across.
    for ask in ({"plate": "*123"}, {"plate": "ABC123", "fuzzy": True}):
        assert {r.owner for r in search(platform, network.county.investigator, **ask).reads} == {
            network.county.agency.id
        }


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ABC12*", ["ABC123", "ABC123", "ABC123", "ABC124"]),
        ("ABC12?", ["ABC123", "ABC123", "ABC123", "ABC124"]),
        ("A?C123", ["A8C123", "ABC123", "ABC123", "ABC123"]),
        ("*C1?3", ["A8C123", "ABC123", "ABC123", "ABC123", "ABC1O3"]),
        ("XYZ*9", ["XYZ999"]),
        ("ABC*1", []),
        ("abc-12*", ["ABC123", "ABC123", "ABC123", "ABC124"]),
    ],
)
def test_wildcards(platform: Platform, network: Network, pattern: str, expected: list[str]) -> None:
    result = search(platform, network.city.investigator, pattern)
    assert sorted(r.plate for r in result.reads) == expected


@pytest.mark.parametrize("pattern", ["AB*", "A?B", "**1*", "?*?"])
def test_wildcards_need_three_literals(platform: Platform, network: Network, audit_mark: int, pattern: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.city.investigator, pattern)
    assert caught.value.field == "plate"
    assert "at least 3" in caught.value.rule
    assert entries_since(platform, audit_mark, "search.plate") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert orjson.loads(refusal.params)["query"]["plate"] == pattern


def test_fuzzy_search_folds_confusable_characters(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert search(platform, investigator, "ABC103").reads == []
    assert [r.plate for r in search(platform, investigator, "ABC103", fuzzy=True).reads] == ["ABC1O3"]
    assert sorted(r.plate for r in search(platform, investigator, "ABC123", fuzzy=True).reads) == [
        "A8C123",
        "ABC123",
        "ABC123",
        "ABC123",
    ]
    assert sorted(r.plate for r in search(platform, investigator, "A8C1*", fuzzy=True).reads) == [
        "A8C123",
        "ABC123",
        "ABC123",
        "ABC123",
        "ABC124",
        "ABC1O3",
    ]


def test_time_window_since_inclusive_until_exclusive(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert [r.ts_ms for r in search(platform, investigator, "ABC123", since=T2).reads] == [T2, T1]
    assert [r.ts_ms for r in search(platform, investigator, "ABC123", until=T2).reads] == [T3]
    window = search(platform, investigator, "ABC123", since=T2, until=T1)
    assert [r.ts_ms for r in window.reads] == [T2]
    with pytest.raises(FieldInvalid) as caught:
        search(platform, investigator, "ABC123", since=T1, until=T1)
    assert caught.value.field == "since"


def test_region_and_camera_filters(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert [r.read_id for r in search(platform, investigator, "ABC123", region="us-ca").reads] == ["c-3", "c-1"]
    assert [r.read_id for r in search(platform, investigator, "ABC123", camera="city-mobile").reads] == ["c-2"]
    assert search(platform, investigator, "ABC123", camera="county-fixed").reads == []
    with pytest.raises(FieldInvalid) as caught:
        search(platform, investigator, "ABC123", region="California")
    assert caught.value.field == "region"
    assert search(platform, investigator, "ABC123", camera="has space").reads == []  # a valid id, no reads
    with pytest.raises(FieldInvalid) as caught:
        search(platform, investigator, "ABC123", camera="has\ttab")
    assert caught.value.field == "camera"


def test_reads_in_several_parts_come_by_time_owner_camera_and_truncate_to_the_earliest(
    platform: Platform, network: Network
) -> None:
    """Each ingest batch writes a part of its own; a plate's reads come back by time, then owner and camera, in
    whichever parts they are, and a limit keeps the earliest (the ORDER BY a lookup cannot do without:
    docs/benchmarks.md, "Performance II, third pass")."""
    city = network.city
    fixed, mobile = city.cameras
    batches = [
        [read("QRS777", camera=fixed, ts=T1, read_id="q-1")],
        [read("QRS777", camera=mobile, ts=T3, read_id="q-3m")],
        [read("QRS777", camera=fixed, ts=T3, read_id="q-3f"), read("QRS777", camera=fixed, ts=T2, read_id="q-2")],
    ]
    for batch in batches:
        assert ingest(platform, city, batch).stored == len(batch)
    assert (fixed, mobile) == ("city-fixed", "city-mobile")  # the camera is the last sort key
    everything = search(platform, city.investigator, "QRS777")
    assert ([r.read_id for r in everything.reads], everything.truncated) == (["q-3f", "q-3m", "q-2", "q-1"], False)
    for limit in (1, 2, 3, 4):
        page = search(platform, city.investigator, "QRS777", limit=limit)
        assert ([r.read_id for r in page.reads], page.truncated) == (["q-3f", "q-3m", "q-2", "q-1"][:limit], limit < 4)
    fuzzy = search(platform, city.investigator, "QR5777", fuzzy=True)
    assert [r.read_id for r in fuzzy.reads] == ["q-3f", "q-3m", "q-2", "q-1"]


def test_limit_truncates(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    first_two = search(platform, investigator, "ABC123", limit=2)
    assert ([r.read_id for r in first_two.reads], first_two.truncated) == (["c-3", "c-2"], True)
    assert search(platform, investigator, "ABC123", limit=3).truncated is False
    for bad in (0, platform.settings.search_limit + 1):
        with pytest.raises(FieldInvalid) as caught:
            search(platform, investigator, "ABC123", limit=bad)
        assert caught.value.field == "limit"


@pytest.mark.parametrize("plate", ["", "-- --", "ABCDEFGHIJK", "A" * 65])
def test_plate_is_validated(platform: Platform, network: Network, plate: str) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.city.investigator, plate)
    assert caught.value.field == "plate"


def test_admins_search_too(platform: Platform, network: Network) -> None:
    assert len(search(platform, network.city.admin, "ABC123").reads) == 3


@pytest.mark.parametrize("role", ["device", "auditor"])
def test_roles_that_never_read_are_refused_and_audited(
    platform: Platform, network: Network, audit_mark: int, role: str
) -> None:
    principal = network.city.principals[role]
    with pytest.raises(PermissionDenied, match=role):
        search(platform, principal, "ABC123")

    assert entries_since(platform, audit_mark, "search.plate") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert (refusal.actor_username, refusal.outcome) == (f"city-{role}", "refused")
    assert (refusal.purpose, refusal.case_number) == ("stolen_vehicle", "2025-000123")
    assert role in orjson.loads(refusal.params)["reason"]


@pytest.mark.parametrize(
    ("purpose", "case_number", "field"),
    [
        pytest.param(None, "2025-1", "purpose", id="purpose-missing"),
        pytest.param("", "2025-1", "purpose", id="purpose-empty"),
        pytest.param("fishing", "2025-1", "purpose", id="purpose-unknown"),
        pytest.param("Stolen_Vehicle", "2025-1", "purpose", id="purpose-case-sensitive"),
        pytest.param("stolen_vehicle", None, "case_number", id="case-missing"),
        pytest.param("stolen_vehicle", "   ", "case_number", id="case-blank"),
        pytest.param("stolen_vehicle", "C" * 65, "case_number", id="case-too-long"),
        pytest.param("stolen_vehicle", "Fall-Nr-ü", "case_number", id="case-non-ascii"),
        pytest.param("stolen_vehicle", "2025\n1", "case_number", id="case-control-char"),
    ],
)
def test_purpose_and_case_are_required_and_refusals_audited(
    platform: Platform, network: Network, audit_mark: int, purpose: str | None, case_number: str | None, field: str
) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.city.investigator, "ABC123", purpose=purpose, case_number=case_number)

    assert caught.value.field == field
    assert entries_since(platform, audit_mark, "search.plate") == []
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    assert (refusal.actor_username, refusal.outcome) == ("city-investigator", "refused")
    params = orjson.loads(refusal.params)
    assert params["reason"].startswith(field + ": ")
    assert params["query"]["plate"] == "ABC123"
    assert refusal.counts == "{}"


def test_a_search_is_audited_with_plate_purpose_case_and_counts(
    platform: Platform, network: Network, audit_mark: int
) -> None:
    result = search(
        platform,
        network.city.investigator,
        "abc-123",
        purpose="violent_crime",
        case_number="HOM-2025-17",
        note="suspect vehicle seen leaving",
    )

    (entry,) = entries_since(platform, audit_mark, "search.plate")
    assert entry.seq == result.audit_seq
    assert (entry.actor_username, entry.actor_agency_id) == ("city-investigator", network.city.agency.id)
    assert (entry.purpose, entry.case_number, entry.outcome) == ("violent_crime", "HOM-2025-17", "ok")
    params = orjson.loads(entry.params)
    assert params["query"]["plate"] == "abc-123"
    assert params["query"]["note"] == "suspect vehicle seen leaving"
    assert params["withheld"] == {}
    assert params["withheld_others"] == "no sharing agreement with this owner (default deny)"
    assert orjson.loads(entry.counts) == {"per_owner": {"city": 3}}
    assert platform.audit.verify().intact


def test_an_empty_search_is_audited_too(platform: Platform, network: Network, audit_mark: int) -> None:
    result = search(platform, network.city.investigator, "NOPE42")
    assert result.reads == []
    (entry,) = entries_since(platform, audit_mark, "search.plate")
    # The owner searched is recorded even when none of its reads matched.
    assert orjson.loads(entry.counts) == {"per_owner": {"city": 0}}


def test_note_is_limited(platform: Platform, network: Network) -> None:
    with pytest.raises(FieldInvalid) as caught:
        search(platform, network.city.investigator, "ABC123", note="x" * 501)
    assert caught.value.field == "note"


def test_the_reads_store_answers_nothing_without_an_allowing_permit(platform: Platform, network: Network) -> None:
    auditor = Request(
        agency_id=network.city.agency.id,
        agency_kind="municipal",
        country="US",
        state="CA",
        role=Role.AUDITOR,
        purpose="audit_review",
        case_number="A-1",
        query_kind=QueryKind.PLATE,
        since_ms=None,
        now_ms=NOW_MS,
    )
    query = PlateQuery(plate="ABC123", fuzzy=True)
    assert platform.reads.plate_history(Gate().permit(auditor, platform.books.current()), query) == []
