"""Vehicle description search (issue 20, item 2) through the real stores, the HTTP API and the CLI: vehicle filters
on plate and description searches applied in the engine's SQL, the ``description`` query kind that owners opt into
and agreements grant by name, its limits, purpose and case, approval, the audit entry, and the refusal of unknown
query parameters on every search route."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from plateledger.api.routes import images as image_routes
from plateledger.api.routes import search as search_routes
from plateledger.api.schemas import SearchOut
from plateledger.app import create_app
from plateledger.audit.log import SYSTEM
from plateledger.core.errors import ApprovalRequired, FieldInvalid
from plateledger.oversight.records import from_audit
from plateledger.platform import Platform
from plateledger.policy.gate import DEFAULT_DENY
from plateledger.policy.rules import ApprovalRules, DescriptionLimits, Policy, Terms, describe
from plateledger.search.description import DescriptionSearch
from plateledger.search.engine import SearchResult
from plateledger.store.models import AuditEntry
from plateledger.vocab import Purpose, QueryKind
from tests.support import (
    DAY_MS,
    HOUR_MS,
    NOW_MS,
    AgencyKit,
    ingest,
    module_platform,
    read,
    search,
    seed_agency,
)

#: The default camera position of tests.support, and a point ~1.5 km north of it.
LAT, LON = 37.7749, -122.4194
FAR = LAT + 0.0135
SINCE, UNTIL = NOW_MS - 24 * HOUR_MS, NOW_MS
T = NOW_MS - 2 * HOUR_MS
RED_TOYOTA = {"make": "Toyota", "model": "Corolla", "color": "Red", "type": "sedan"}
OPTED_IN = Policy(description=DescriptionLimits(allowed=True))

#: Owners other than the requester, and the rule that must withhold each from a 500 m, 24-hour search.
REFUSED = {
    "optout": "owner's policy does not allow vehicle description searches",
    "nokind": "does not grant vehicle searches",
    "small": "owner's policy limits vehicle description searches to 100 m",
    "stranger": DEFAULT_DENY,
}
#: The red Toyotas of permitted owners inside the area and window.
RED_TOYOTAS = ["c-red", "c-red-upper", "s-red"]


@dataclass
class Network:
    platform: Platform
    city: AgencyKit
    owners: dict[str, AgencyKit]


def share(platform: Platform, requester: AgencyKit, owner: AgencyKit, kinds: set[QueryKind]) -> None:
    terms = Terms(
        query_kinds=frozenset(kinds),
        purposes=frozenset({Purpose.STOLEN_VEHICLE}),
        max_lookback_days=90,
        expires_ms=NOW_MS + 365 * DAY_MS,
    )
    view = platform.agreements.request(requester.admin, owner=owner.slug, terms=terms)
    platform.agreements.accept(owner.admin, view.id)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """The city searches its own reads and ``shared``'s (which opted in and granted ``description``); each owner
    of REFUSED holds a red Toyota at its camera too, withheld by the rule named there."""
    with module_platform(tmp_path_factory, "description") as platform:
        city = seed_agency(platform, "city", name="City PD")
        fixed = city.cameras[0]
        blue = {**RED_TOYOTA, "color": "blue"}
        city_reads = [
            read("RED001", camera=fixed, ts=T, read_id="c-red", vehicle=RED_TOYOTA),
            read("RED002", camera=fixed, ts=T + 1, read_id="c-red-upper", vehicle={"make": "TOYOTA", "color": "RED"}),
            read("BLU001", camera=fixed, ts=T + 2, read_id="c-blue", vehicle=blue),
            read("HON001", camera=fixed, ts=T + 3, read_id="c-honda", vehicle={"make": "Honda", "color": "red"}),
            read("CIT001", camera=fixed, ts=T + 4, read_id="c-citroen", vehicle={"make": "Citroën", "color": "grün"}),
            read("NOV001", camera=fixed, ts=T + 5, read_id="c-none"),
            read("RED003", camera=fixed, ts=T, lat=FAR, lon=LON, read_id="c-red-far", vehicle=RED_TOYOTA),
            read("RED004", camera=fixed, ts=SINCE - 1, read_id="c-red-before", vehicle=RED_TOYOTA),
        ]
        assert ingest(platform, city, city_reads).stored == len(city_reads)
        owners = {slug: seed_agency(platform, slug) for slug in ("shared", *REFUSED)}
        assert ingest(
            platform,
            owners["shared"],
            [read("RED001", camera="shared-fixed", ts=T, read_id="s-red", vehicle=RED_TOYOTA)],
        ).stored
        for slug in REFUSED:
            one = [read("OTH009", camera=f"{slug}-fixed", ts=T, read_id=f"{slug}-red", vehicle=RED_TOYOTA)]
            assert ingest(platform, owners[slug], one).stored
        for slug in ("city", "shared", "nokind", "stranger"):
            platform.policies.set(SYSTEM, slug, OPTED_IN)
        platform.policies.set(SYSTEM, "small", Policy(description=DescriptionLimits(allowed=True, max_radius_m=100)))
        every = {QueryKind.PLATE, QueryKind.AREA, QueryKind.DESCRIPTION}
        for slug in ("shared", "optout", "small"):
            share(platform, city, owners[slug], every)
        share(platform, city, owners["nokind"], {QueryKind.PLATE, QueryKind.AREA})
        yield Network(platform, city, owners)


@pytest.fixture
def platform(network: Network) -> Platform:
    return network.platform


@pytest.fixture
def audit_mark(network: Network) -> int:
    return network.platform.audit.verify().entries


def entries_since(platform: Platform, mark: int, action: str) -> list[AuditEntry]:
    return platform.audit.entries(after_seq=mark, action=action)


def described(
    platform: Platform,
    principal: Any,
    *,
    purpose: str | None = "stolen_vehicle",
    case_number: str | None = "2025-000900",
    **fields: Any,
) -> SearchResult:
    fields.setdefault("since", SINCE)
    fields.setdefault("until", UNTIL)
    if "polygon" not in fields and "cameras" not in fields:
        fields.setdefault("lat", LAT)
        fields.setdefault("lon", LON)
        fields.setdefault("radius_m", 500)
    if not {"make", "model", "color", "vehicle_type"} & set(fields):
        fields.update(make="Toyota", color="red")
    ask = DescriptionSearch(purpose=purpose, case_number=case_number, **fields)
    return platform.descriptions.search(principal, ask)


def ids(result: SearchResult) -> list[str]:
    return [r.read_id for r in result.reads]


# -- description search: what matches, who is withheld, what is audited ----------------------------------------
def test_red_toyota_in_the_area_from_permitted_owners_only(
    platform: Platform, network: Network, audit_mark: int
) -> None:
    result = described(platform, network.city.investigator)

    assert sorted(ids(result)) == sorted(RED_TOYOTAS)
    assert result.kind is QueryKind.DESCRIPTION
    withheld = {w.owner: w.rule for w in result.withheld}
    for slug, rule in REFUSED.items():
        assert rule in withheld[f"{slug} police"], slug
    (entry,) = entries_since(platform, audit_mark, "search.description")
    params = orjson.loads(entry.params)
    assert params["query"]["vehicle"] == {"make": "Toyota", "color": "red"}
    assert params["query"]["radius_m"] == 500
    assert orjson.loads(entry.counts) == {"per_owner": {"city": 2, "shared": 1}}
    assert entry.seq == result.audit_seq


def test_filters_are_case_insensitive_trimmed_and_combined(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert sorted(ids(described(platform, investigator, make="  tOyOtA ", color=" RED"))) == sorted(RED_TOYOTAS)
    assert ids(described(platform, investigator, make="toyota", model="corolla")) == ["c-red", "s-red", "c-blue"]
    assert ids(described(platform, investigator, vehicle_type="SEDAN", color="blue")) == ["c-blue"]
    assert ids(described(platform, investigator, color="red", make="", model="  ")) == [
        "c-red",
        "s-red",
        "c-red-upper",
        "c-honda",
    ]


def test_non_ascii_and_sql_like_filters_are_values(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    assert ids(described(platform, investigator, make="CITROËN", color="GRÜN")) == ["c-citroen"]
    for hostile in ("' OR 1=1 --", "Toyota' OR '1'='1", "%", "_", "\\", "Toyota\\'", "toyota%"):
        assert ids(described(platform, investigator, make=hostile)) == [], hostile


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"make": "x" * 65}, "make", "at most 64 characters"),
        ({"color": "red\x00"}, "color", "control characters"),
        ({"make": "", "color": "  "}, "make", "describe the vehicle"),
        ({"radius_m": 60_000}, "radius_m", "at most 50000 metres"),
        ({"case_number": None}, "case_number", "required"),
        ({"purpose": None}, "purpose", "required"),
        ({"cameras": "city-fixed", "lat": LAT}, "cameras", "either an area"),
        ({"since": UNTIL}, "since", "before until"),
    ],
)
def test_refusals_before_the_engine_are_named_and_audited(
    platform: Platform, network: Network, audit_mark: int, fields: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(FieldInvalid) as refused:
        described(platform, network.city.investigator, **{"make": "Toyota", **fields})
    assert (refused.value.field, rule in refused.value.rule) == (field, True)
    (entry,) = entries_since(platform, audit_mark, "search.refused")
    params = orjson.loads(entry.params)
    assert params["kind"] == "vehicle"
    assert all(len(v) <= 64 for v in params["query"].get("vehicle", {}).values())
    assert not entries_since(platform, audit_mark, "search.description")


def test_owner_limits_window_and_lookback(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    narrow = described(platform, investigator, radius_m=50)
    assert "small police" not in {w.owner for w in narrow.withheld}
    assert "small-red" in ids(narrow)
    long = described(platform, investigator, since=UNTIL - 25 * HOUR_MS)
    assert long.reads == []
    assert {w.owner: w.rule for w in long.withheld}["City PD"] == (
        "owner's policy limits vehicle description searches to 24 hours"
    )
    old = described(platform, investigator, since=NOW_MS - 40 * DAY_MS, until=NOW_MS - 39 * DAY_MS)
    assert any("limited to the last 30 days" in w.rule for w in old.limited)


def test_camera_set_instead_of_an_area(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    result = described(platform, investigator, cameras="city-fixed, shared-fixed,city-fixed")
    assert sorted(ids(result)) == sorted([*RED_TOYOTAS, "c-red-far"])
    many = ",".join(f"cam-{n}" for n in range(11))
    over = described(platform, investigator, cameras=many)
    assert {w.owner: w.rule for w in over.withheld}["City PD"] == (
        "owner's policy limits vehicle description searches to 10 cameras"
    )


def test_no_opt_in_is_withheld_and_in_the_owners_access_log(platform: Platform, network: Network) -> None:
    result = described(platform, network.city.investigator)
    kit = network.owners["optout"]
    (entry,) = platform.access_log.view(kit.auditor, "optout", after_seq=result.audit_seq - 1, limit=1).entries
    assert (entry.action, entry.outcome, entry.requester) == ("search.description", "withheld", "city")
    assert entry.rule == REFUSED["optout"]


def test_own_agency_without_opt_in_is_refused(platform: Platform, network: Network) -> None:
    """Owners opt in: the requester's own data is no exception (the default policy allows no description
    search)."""
    optout = network.owners["optout"]
    result = described(platform, optout.investigator)
    assert result.reads == []
    assert {w.owner: w.rule for w in result.withheld}["optout police"] == REFUSED["optout"]


def test_approval_rule_holds_the_search(platform: Platform, network: Network, audit_mark: int) -> None:
    held = Policy(description=DescriptionLimits(allowed=True), approval=ApprovalRules(description=True))
    platform.policies.set(SYSTEM, "shared", held)
    try:
        with pytest.raises(ApprovalRequired) as caught:
            described(platform, network.city.investigator)
    finally:
        platform.policies.set(SYSTEM, "shared", OPTED_IN)
    assert "vehicle description searches need a supervisor's approval" in caught.value.detail
    (entry,) = entries_since(platform, audit_mark, "search.refused")
    params = orjson.loads(entry.params)
    assert params["kind"] == "vehicle"
    assert params["approval_request"] == caught.value.request_id
    assert not entries_since(platform, audit_mark, "search.description")


def test_policy_text_names_the_kind() -> None:
    closed = " ".join(describe(Policy(), country="US", state="CA"))
    assert "Searches by vehicle description (make, model, colour, type) without a plate are not allowed." in closed
    opened = " ".join(describe(OPTED_IN, country="US", state="CA"))
    assert "within 1000 m around a point or at most 10 cameras, over at most 24 hours" in opened
    rules = " ".join(describe(Policy(approval=ApprovalRules(description=True)), country="US", state="CA"))
    assert "Vehicle description searches are not run until a supervisor" in rules


def test_oversight_and_access_log_count_the_kind(platform: Platform, network: Network) -> None:
    """Oversight reads a description search as a search of its own kind, with its area (the sensitive-places
    rule checks it); the owner's access log lists it with its action."""
    result = described(platform, network.city.investigator)
    (entry,) = platform.audit.entries(after_seq=result.audit_seq - 1, limit=1)
    record = from_audit(
        {"seq": entry.seq, "ts_ms": NOW_MS, "action": entry.action, "params": orjson.loads(entry.params)}
    )
    assert record is not None
    assert (record.kind, record.plate, record.refused) == ("vehicle", None, False)
    assert record.area is not None
    assert (record.area.lat, record.area.lon, record.area.radius_m) == (LAT, LON, 500)
    view = platform.access_log.view(network.owners["shared"].admin, "shared", after_seq=result.audit_seq - 1, limit=1)
    (seen,) = view.entries
    assert (seen.action, seen.outcome, seen.rows) == ("search.description", "permitted", 1)


# -- plate searches with vehicle filters -------------------------------------------------------------------------
def test_plate_search_filters_by_vehicle_in_the_engine(platform: Platform, network: Network) -> None:
    investigator = network.city.investigator
    every = ["c-red", "c-red-before", "c-red-far", "c-red-upper", "s-red"]
    assert sorted(ids(search(platform, investigator, "RED00*"))) == every
    assert sorted(ids(search(platform, investigator, "RED00*", model="COROLLA"))) == [*every[:3], "s-red"]
    assert ids(search(platform, investigator, "RED002", make="toyota", color="red")) == ["c-red-upper"]
    assert ids(search(platform, investigator, "RED002", make="honda")) == []
    assert ids(search(platform, investigator, "ED00", match="contains", vehicle_type="sedan", fuzzy=True))
    with pytest.raises(FieldInvalid) as refused:
        search(platform, investigator, "RED002", model="m" * 200)
    assert refused.value.field == "model"


# -- HTTP ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


def headers(network: Network) -> dict[str, str]:
    return {"Authorization": f"Bearer {network.city.tokens['investigator']}"}


HTTP_ASK = {
    "purpose": "stolen_vehicle",
    "case_number": "C-9",
    "make": "toyota",
    "color": "red",
    "lat": str(LAT),
    "lon": str(LON),
    "radius_m": "500",
    "since": "2025-05-31T12:00:00Z",
    "until": str(UNTIL),
}


def test_http_description_search(client: TestClient, network: Network) -> None:
    response = client.get("/api/v1/search/description", params=HTTP_ASK, headers=headers(network))
    assert response.status_code == 200, response.text
    body = response.json()
    SearchOut.model_validate(body, strict=True)
    assert sorted(r["read_id"] for r in body["reads"]) == sorted(RED_TOYOTAS)
    assert body["reads"][0]["vehicle"]["make"].lower() == "toyota"
    assert {w["owner"] for w in body["withheld"]} >= {f"{slug} police" for slug in REFUSED}


def test_http_plate_search_takes_vehicle_filters(client: TestClient, network: Network) -> None:
    ask = {"plate": "RED00*", "purpose": "stolen_vehicle", "case_number": "C-9", "type": "Sedan", "model": "corolla"}
    response = client.get("/api/v1/search/plate", params=ask, headers=headers(network))
    assert response.status_code == 200, response.text
    assert sorted(r["read_id"] for r in response.json()["reads"]) == ["c-red", "c-red-before", "c-red-far", "s-red"]


@pytest.mark.parametrize("route", ["plate", "area", "description"])
def test_http_unknown_parameters_are_refused_by_name(
    client: TestClient, platform: Platform, network: Network, audit_mark: int, route: str
) -> None:
    ask = {"purpose": "stolen_vehicle", "case_number": "C-9", "colour": "red"}
    response = client.get(f"/api/v1/search/{route}", params=ask, headers=headers(network))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "colour"
    assert problem["detail"].startswith("colour: unknown parameter")
    assert not entries_since(platform, audit_mark, f"search.{route}")
    anonymous = client.get(f"/api/v1/search/{route}", params=ask)
    assert anonymous.status_code == 401


def test_http_image_route_refuses_unknown_parameters(client: TestClient, network: Network) -> None:
    ask = {"purpose": "stolen_vehicle", "case_number": "C-9", "size": "big"}
    response = client.get("/api/v1/images/city/c-red/plate", params=ask, headers=headers(network))
    assert response.status_code == 422
    assert response.json()["field"] == "size"


def test_http_every_search_route_refuses_unknown_parameters() -> None:
    """The class, not three cases: every route of the search and image routers carries the check."""
    routes = [r for m in (search_routes, image_routes) for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 4
    for route in routes:
        names = {d.call.__name__ for d in route.dependant.dependencies if d.call is not None}
        assert "refuse_unknown_query" in names, route.path


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"make": "x" * 5000}, "make"),
        ({"model": "Cor\x01olla"}, "model"),
        ({"make": None, "color": None}, "make"),
        ({"cameras": ",".join(f"c{n}" for n in range(101)), "lat": None, "lon": None, "radius_m": None}, "cameras"),
        ({"radius_m": "50001"}, "radius_m"),
        ({"case_number": None}, "case_number"),
    ],
)
def test_http_refusals_name_the_field_and_are_audited(
    client: TestClient,
    platform: Platform,
    network: Network,
    audit_mark: int,
    params: dict[str, str | None],
    field: str,
) -> None:
    ask = {k: v for k, v in {**HTTP_ASK, **params}.items() if v is not None}
    response = client.get("/api/v1/search/description", params=ask, headers=headers(network))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    (refusal,) = entries_since(platform, audit_mark, "search.refused")
    query = orjson.loads(refusal.params)["query"]
    assert all(len(v) <= 64 for v in query.get("vehicle", {}).values())
    assert not entries_since(platform, audit_mark, "search.description")


def test_http_non_ascii_filters(client: TestClient, network: Network) -> None:
    ask = {**HTTP_ASK, "make": "citroën", "color": "GRÜN"}
    response = client.get("/api/v1/search/description", params=ask, headers=headers(network))
    assert response.status_code == 200, response.text
    assert [r["read_id"] for r in response.json()["reads"]] == ["c-citroen"]
